# Pinned versions of every real component the test environment runs.
# The cache key of each component is its version, so bumping a number here
# rebuilds exactly that component on the next `make testenv-up`.
KUBE_VERSION=v1.33.13
ETCD_VERSION=v3.5.35
KWOK_VERSION=v0.7.0
HELM_VERSION=v3.16.4
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
KAFKA_VERSION=3.9.1
SCALA_VERSION=2.13
HADOOP_VERSION=3.3.6
