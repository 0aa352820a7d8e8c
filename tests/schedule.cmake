# When, and beside what, each test runs: `make test` runs ctest with
# -j CTEST_PARALLEL (default 2, the cores of a CI machine), so two tests at a
# time share the machine and the servers of tests/env. Included by
# CMakeLists.txt (script tests, at configure time) and by CTest when it reads
# the test list (GoogleTest cases, known only once their binary is built), so a
# test gets the same properties whichever way it is registered.
#
# Most integration tests share nothing but the servers themselves: each works
# in its own namespace, topic, queue, bucket, directory, port and consumer
# group (unique_name / uniqueName), so they run side by side. The exceptions:
#  - RESOURCE_LOCK etcd: InformerGoneTest compacts the shared etcd's whole
#    history (a physical compaction up to the current revision).
#    InformerRestartTest kills a private apiserver on that etcd and checks
#    that its informer *resumes* the watch from the old resourceVersion; a
#    compaction in between turns the resume into a 410 relist, and the test
#    would pass without showing what it is for. Both also start an extra
#    apiserver (several CPU-seconds each), which is better not done twice at
#    once on two cores.
#  - RESOURCE_LOCK node: testenv/node_test stops and restarts the real node
#    (components/node.sh) to check that nothing is left behind; a test whose
#    pods run on that node must take the same lock.
#
# No COST yet: ordering the long tests first (by a CI run's times) starts
# kafka_autoscale_test seconds after Kafka comes up, and there its operator
# segfaults before the first lag measurement (reproduced twice, 2026-12-04:
# `make test CTEST_ARGS=-R\ integration/autoscaler/kafka_autoscale_test` on a
# fresh environment); in registration order other Kafka tests run first and
# hide it. Measured on that run's times, two at a time, ordering would save
# little anyway: 693 s in registration order (704 s measured) against 674 s
# longest first, which is the bound (half of the 1,347 s summed).

# The e2e tier shares one Helm release: install/ sets it up before any
# scenario runs, teardown/ removes it after the last one (even when some failed).
function(sluice_schedule_test test)
  if(test MATCHES "^e2e/install/")
    set_tests_properties(${test} PROPERTIES FIXTURES_SETUP sluice_e2e)
  elseif(test MATCHES "^e2e/teardown/")
    set_tests_properties(${test} PROPERTIES FIXTURES_CLEANUP sluice_e2e)
  elseif(test MATCHES "^e2e/")
    set_tests_properties(${test} PROPERTIES FIXTURES_REQUIRED sluice_e2e)
  endif()
  if(test MATCHES "^integration/kube/Informer(Restart|Gone)Test\\.")
    set_tests_properties(${test} PROPERTIES RESOURCE_LOCK etcd)
  endif()
  if(test STREQUAL "integration/testenv/node_test")
    set_tests_properties(${test} PROPERTIES RESOURCE_LOCK node)
  endif()
endfunction()
