// Scalers against the REAL test servers (addresses only from the environment,
// see build/testenv.env): Kafka lag by KEDA's rules after producing N messages
// and committing M, RabbitMQ queue depth, S3 (MinIO) object count under a
// prefix. Each run uses fresh, unique names.
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include <cpprest/http_client.h>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "http/http_client.h"
#include "objectstore/sigv4.h"
#include "scalers/kafka_lag.h"
#include "scalers/rabbitmq_scaler.h"
#include "scalers/rdkafka_offset_source.h"
#include "scalers/s3_object_counter.h"

namespace sluice::scalers {
namespace {

std::string requireEnv(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') {
    ADD_FAILURE() << name << " is not set: source build/testenv.env (make testenv-up) before the integration tests";
    return "";
  }
  return value;
}

std::string uniqueName(const std::string& prefix) {
  std::random_device random;
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(random() % 1000000);
}

// ---- Kafka helpers (librdkafka C API; a test's own setup, not the code under test) ----

rd_kafka_t* kafkaClient(const std::string& bootstrap, rd_kafka_type_t type) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof(err));
  rd_kafka_t* rk = rd_kafka_new(type, conf, err, sizeof(err));
  EXPECT_NE(rk, nullptr) << err;
  return rk;
}

void createTopic(rd_kafka_t* rk, const std::string& topic, int partitions) {
  char err[512];
  rd_kafka_NewTopic_t* newTopic = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, err, sizeof(err));
  ASSERT_NE(newTopic, nullptr) << err;
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_CreateTopics(rk, &newTopic, 1, nullptr, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  ASSERT_NE(event, nullptr) << "CreateTopics timed out";
  size_t count = 0;
  const rd_kafka_topic_result_t** results =
      rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
  ASSERT_EQ(count, 1u);
  EXPECT_EQ(rd_kafka_topic_result_error(results[0]), RD_KAFKA_RESP_ERR_NO_ERROR)
      << rd_kafka_topic_result_error_string(results[0]);
  rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_NewTopic_destroy(newTopic);
}

void produce(rd_kafka_t* producer, const std::string& topic, int32_t partition, int count) {
  for (int i = 0; i < count; ++i) {
    std::string value = "message-" + std::to_string(i);
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
        RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
    ASSERT_EQ(err, RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_err2str(err);
  }
  ASSERT_EQ(rd_kafka_flush(producer, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

// Commits `offsets` (partition -> next offset to read) for `group` with the admin API.
void commit(rd_kafka_t* rk, const std::string& group, const std::string& topic,
            const std::vector<std::pair<int32_t, int64_t>>& offsets) {
  rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
  for (auto [partition, offset] : offsets)
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = offset;
  rd_kafka_AlterConsumerGroupOffsets_t* alter = rd_kafka_AlterConsumerGroupOffsets_new(group.c_str(), list);
  rd_kafka_topic_partition_list_destroy(list);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(rk);
  rd_kafka_AlterConsumerGroupOffsets(rk, &alter, 1, nullptr, queue);
  rd_kafka_AlterConsumerGroupOffsets_destroy(alter);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 30000);
  ASSERT_NE(event, nullptr) << "AlterConsumerGroupOffsets timed out";
  ASSERT_EQ(rd_kafka_event_error(event), RD_KAFKA_RESP_ERR_NO_ERROR) << rd_kafka_event_error_string(event);
  size_t count = 0;
  const rd_kafka_group_result_t** groups =
      rd_kafka_AlterConsumerGroupOffsets_result_groups(rd_kafka_event_AlterConsumerGroupOffsets_result(event), &count);
  ASSERT_EQ(count, 1u);
  ASSERT_EQ(rd_kafka_group_result_error(groups[0]), nullptr);
  rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
}

TEST(KafkaLagScalerIntegrationTest, LagFollowsProducedMinusCommittedByKedaRules) {
  const std::string bootstrap = requireEnv("KAFKA_BOOTSTRAP");
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = uniqueName("sluice-lag");
  const std::string group = uniqueName("sluice-lag-group");
  rd_kafka_t* admin = kafkaClient(bootstrap, RD_KAFKA_PRODUCER);
  createTopic(admin, topic, 6);
  // N = 60: ten messages into each of the six partitions.
  for (int32_t p = 0; p < 6; ++p) produce(admin, topic, p, 10);

  auto source = RdKafkaOffsetSource::create(bootstrap);
  ASSERT_TRUE(source.isOk()) << source.status().toString();

  // Nothing committed yet: KEDA's rules count 1 per partition (latest) or all 60 (earliest).
  KafkaLagOptions latest;
  latest.consumerGroup = group;
  latest.topics = {topic};
  latest.lagThreshold = 10;
  KafkaLagOptions earliest = latest;
  earliest.offsetResetPolicy = OffsetResetPolicy::kEarliest;
  Result<ScalerReading> none = KafkaLagScaler(latest, *source).read();
  ASSERT_TRUE(none.isOk()) << none.status().toString();
  EXPECT_EQ(none->value, 6);
  EXPECT_TRUE(none->active);
  EXPECT_EQ(KafkaLagScaler(earliest, *source).read()->value, 60);

  // Some partitions committed (M = 10 + 4 + 0 = 14), three without a commit.
  commit(admin, group, topic, {{0, 10}, {1, 4}, {2, 0}});
  EXPECT_EQ(KafkaLagScaler(earliest, *source).read()->value, 60 - 14);
  EXPECT_EQ(KafkaLagScaler(latest, *source).read()->value, 0 + 6 + 10 + 1 + 1 + 1);

  // Every partition committed: M = 33, lag N - M = 27 whatever the reset policy.
  commit(admin, group, topic, {{3, 7}, {4, 2}, {5, 10}});
  EXPECT_EQ(KafkaLagScaler(earliest, *source).read()->value, 27);
  EXPECT_EQ(KafkaLagScaler(latest, *source).read()->value, 27);

  // Capped at the partition count: lagThreshold 1 asks for 27 replicas, 6 partitions allow 6.
  KafkaLagOptions capped = latest;
  capped.lagThreshold = 1;
  EXPECT_EQ(KafkaLagScaler(capped, *source).read()->value, 6);
  // limitToPartitionsWithLag: partitions 0 and 5 are drained, four have lag.
  capped.limitToPartitionsWithLag = true;
  EXPECT_EQ(KafkaLagScaler(capped, *source).read()->value, 4);

  // A topic that does not exist is a clear error.
  KafkaLagOptions missing = latest;
  missing.topics = {topic + "-missing"};
  Result<ScalerReading> error = KafkaLagScaler(missing, *source).read();
  ASSERT_FALSE(error.isOk());
  EXPECT_EQ(error.status().message(), "kafka lag of group " + group + ": topic " + topic + "-missing does not exist");
  rd_kafka_destroy(admin);
}

// The same lag read through the SASL_SSL listener (SCRAM-SHA-512, the test
// CA), with the librdkafka properties the operator builds from a Trigger's
// sasl/tls Secrets; a wrong password fails with an error that says so.
TEST(KafkaLagScalerIntegrationTest, ReadsLagOverSaslSslAndAWrongPasswordIsNamed) {
  const std::string bootstrap = requireEnv("KAFKA_BOOTSTRAP");
  const std::string secure = requireEnv("KAFKA_SASL_SSL_BOOTSTRAP");
  ASSERT_FALSE(bootstrap.empty() || secure.empty());
  const std::string topic = uniqueName("sluice-lag-sasl");
  const std::string group = uniqueName("sluice-lag-sasl-group");
  rd_kafka_t* admin = kafkaClient(bootstrap, RD_KAFKA_PRODUCER);
  createTopic(admin, topic, 3);
  for (int32_t p = 0; p < 3; ++p) produce(admin, topic, p, 5 + p);
  commit(admin, group, topic, {{0, 5}, {1, 1}, {2, 0}});
  rd_kafka_destroy(admin);

  std::string ca;
  {
    std::ifstream in(requireEnv("KAFKA_SSL_CA_FILE"));
    ca.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_NE(ca.find("BEGIN CERTIFICATE"), std::string::npos);
  std::map<std::string, std::string> config = {{"security.protocol", "SASL_SSL"},
                                               {"sasl.mechanisms", requireEnv("KAFKA_SASL_MECHANISM")},
                                               {"sasl.username", requireEnv("KAFKA_SASL_USERNAME")},
                                               {"sasl.password", requireEnv("KAFKA_SASL_PASSWORD")},
                                               {"ssl.ca.pem", ca}};
  auto source = RdKafkaOffsetSource::create(secure, config);
  ASSERT_TRUE(source.isOk()) << source.status().toString();
  KafkaLagOptions options;
  options.consumerGroup = group;
  options.topics = {topic};
  options.lagThreshold = 10;
  Result<ScalerReading> reading = KafkaLagScaler(options, *source).read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_EQ(reading->value, 0 + 5 + 7) << "produced 5+6+7, committed 5+1+0";

  config["sasl.password"] = "not-the-password";
  auto wrong = RdKafkaOffsetSource::create(secure, config, 3000);
  ASSERT_TRUE(wrong.isOk()) << wrong.status().toString();
  Result<ScalerReading> refused = KafkaLagScaler(options, *wrong).read();
  ASSERT_FALSE(refused.isOk());
  EXPECT_NE(refused.status().message().find("SASL authentication error"), std::string::npos)
      << refused.status().toString();
  EXPECT_NE(refused.status().message().find("invalid credentials"), std::string::npos) << refused.status().toString();
}

// Triggers on one cluster read through one client: the pool hands the same source to every
// scaler with the same servers and credentials, and each still reads its own group's lag, also
// when many rounds run at once (the autoscaler's workers). Other settings (credentials, a client
// id) get a client of their own. A client goes with its last user.
TEST(KafkaLagScalerIntegrationTest, TriggersOnOneClusterShareOneClientAndEachReadsItsOwnGroup) {
  const std::string bootstrap = requireEnv("KAFKA_BOOTSTRAP");
  ASSERT_FALSE(bootstrap.empty());
  const std::string topic = uniqueName("sluice-lag-shared");
  rd_kafka_t* admin = kafkaClient(bootstrap, RD_KAFKA_PRODUCER);
  createTopic(admin, topic, 3);
  for (int32_t p = 0; p < 3; ++p) produce(admin, topic, p, 10);
  // Group g commits g records of each partition: lag 30 - 3g.
  std::vector<std::string> groups;
  for (int g = 0; g < 4; ++g) {
    groups.push_back(uniqueName("sluice-lag-shared-group"));
    commit(admin, groups.back(), topic, {{0, g}, {1, g}, {2, g}});
  }
  rd_kafka_destroy(admin);

  RdKafkaClientPool pool;
  std::vector<std::shared_ptr<KafkaOffsetSource>> sources;
  for (int g = 0; g < 4; ++g) {
    auto source = pool.acquire({bootstrap, {}}, 5000);
    ASSERT_TRUE(source.isOk()) << source.status().toString();
    sources.push_back(*source);
  }
  EXPECT_EQ(sources[0], sources[3]);
  EXPECT_EQ(pool.liveClients(), 1u);

  std::vector<std::thread> rounds;
  std::vector<std::vector<int64_t>> lags(4);
  for (int g = 0; g < 4; ++g) {
    rounds.emplace_back([&, g] {
      KafkaLagOptions options;
      options.consumerGroup = groups[g];
      options.topics = {topic};
      options.lagThreshold = 1000;
      KafkaLagScaler scaler(options, sources[g]);
      for (int round = 0; round < 10; ++round) {
        Result<ScalerReading> reading = scaler.read();
        lags[g].push_back(reading.isOk() ? static_cast<int64_t>(reading->value) : -1);
      }
    });
  }
  for (std::thread& round : rounds) round.join();
  for (int g = 0; g < 4; ++g) EXPECT_EQ(lags[g], std::vector<int64_t>(10, 30 - 3 * g)) << "group " << g;

  auto other = pool.acquire({bootstrap, {{"client.id", "another-tenant"}}}, 5000);
  ASSERT_TRUE(other.isOk()) << other.status().toString();
  EXPECT_NE(*other, sources[0]);
  EXPECT_EQ(pool.liveClients(), 2u);
  other->reset();
  sources.clear();
  EXPECT_EQ(pool.liveClients(), 0u);
}

// ---- RabbitMQ ----

TEST(RabbitMQQueueScalerIntegrationTest, DepthIsTheNumberOfPublishedMessages) {
  const std::string amqpUrl = requireEnv("RABBITMQ_AMQP_URL");
  const std::string httpUrl = requireEnv("RABBITMQ_HTTP_URL");
  ASSERT_FALSE(amqpUrl.empty() || httpUrl.empty());
  const std::string queue = uniqueName("sluice-depth");

  std::string urlCopy = amqpUrl;
  amqp_connection_info info;
  ASSERT_EQ(amqp_parse_url(urlCopy.data(), &info), AMQP_STATUS_OK);
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  ASSERT_EQ(amqp_socket_open(socket, info.host, info.port), AMQP_STATUS_OK);
  ASSERT_EQ(amqp_login(conn, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password).reply_type,
            AMQP_RESPONSE_NORMAL);
  amqp_channel_open(conn, 1);
  ASSERT_EQ(amqp_get_rpc_reply(conn).reply_type, AMQP_RESPONSE_NORMAL);
  amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue.c_str()), 0, 0, 0, 1, amqp_empty_table);
  ASSERT_EQ(amqp_get_rpc_reply(conn).reply_type, AMQP_RESPONSE_NORMAL);
  for (int i = 0; i < 25; ++i) {
    std::string body = "job-" + std::to_string(i);
    ASSERT_EQ(amqp_basic_publish(conn, 1, amqp_cstring_bytes(""), amqp_cstring_bytes(queue.c_str()), 0, 0, nullptr,
                                 amqp_cstring_bytes(body.c_str())),
              AMQP_STATUS_OK);
  }

  RabbitMQQueueOptions options;
  options.managementUrl = httpUrl;
  options.vhost = "/";
  options.queue = queue;
  RabbitMQQueueScaler scaler(options, http::makeCppRestHttpClient());
  // The management API refreshes queue counters every few seconds: wait for them (not a timing assertion).
  Result<ScalerReading> reading = scaler.read();
  for (int i = 0; i < 60 && (!reading.isOk() || reading->value != 25); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    reading = scaler.read();
  }
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_EQ(reading->value, 25);
  EXPECT_TRUE(reading->active);

  // The AMQP probe over TLS (amqps://, verified against the test env's CA) counts the same ready messages.
  std::ifstream caFile(requireEnv("RABBITMQ_CA_FILE"));
  const std::string caPem((std::istreambuf_iterator<char>(caFile)), std::istreambuf_iterator<char>());
  AmqpQueueDepth overTls(requireEnv("RABBITMQ_AMQPS_URL"), clients::AmqpTls{caPem, "", ""}, queue);
  Result<int64_t> ready = overTls.readyMessages();
  ASSERT_TRUE(ready.isOk()) << ready.status().toString();
  EXPECT_EQ(*ready, 25);
  // No probation queue: it counts 0, and the read after it works on the same connection.
  ready = overTls.readyMessages();
  ASSERT_TRUE(ready.isOk()) << ready.status().toString();
  EXPECT_EQ(*ready, 25);

  // Messages waiting in the queue's probation queue (redelivered ones, handled one at a time) count too.
  const std::string probation = queue + ".sluice-probation";
  amqp_queue_declare(conn, 1, amqp_cstring_bytes(probation.c_str()), 0, 0, 0, 1, amqp_empty_table);
  ASSERT_EQ(amqp_get_rpc_reply(conn).reply_type, AMQP_RESPONSE_NORMAL);
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(amqp_basic_publish(conn, 1, amqp_cstring_bytes(""), amqp_cstring_bytes(probation.c_str()), 0, 0, nullptr,
                                 amqp_cstring_bytes("suspect")),
              AMQP_STATUS_OK);
  }
  ready = overTls.readyMessages();
  for (int i = 0; i < 20 && ready.isOk() && *ready != 29; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // the publishes are not confirmed
    ready = overTls.readyMessages();
  }
  ASSERT_TRUE(ready.isOk()) << ready.status().toString();
  EXPECT_EQ(*ready, 29);
  reading = scaler.read();
  for (int i = 0; i < 60 && (!reading.isOk() || reading->value != 29); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    reading = scaler.read();
  }
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_EQ(reading->value, 29) << "the management API's count includes the probation queue's";
  amqp_queue_delete(conn, 1, amqp_cstring_bytes(probation.c_str()), 0, 0);

  options.queue = queue + "-missing";
  Result<ScalerReading> missing = RabbitMQQueueScaler(options, http::makeCppRestHttpClient()).read();
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);

  amqp_queue_delete(conn, 1, amqp_cstring_bytes(queue.c_str()), 0, 0);
  amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
  amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  amqp_destroy_connection(conn);
}

// ---- S3 (MinIO) ----

// A signed PUT with cpprestsdk: the test's own setup of bucket and objects.
int s3Put(const std::string& endpoint, const std::string& path, const std::string& body,
          const objectstore::SigV4Credentials& credentials) {
  std::string host = endpoint.substr(endpoint.find("://") + 3);
  objectstore::SigV4Request request;
  request.method = "PUT";
  request.canonicalPath = path;
  request.headers["host"] = host;
  request.payloadSha256Hex = objectstore::sha256Hex(body);
  objectstore::sign(request, credentials, std::chrono::system_clock::now());
  web::http::client::http_client client(endpoint);
  web::http::http_request put(web::http::methods::PUT);
  put.set_request_uri(path);
  for (const auto& [name, value] : request.headers) put.headers().add(name, value);
  put.set_body(body, "application/octet-stream");
  return client.request(put).get().status_code();
}

TEST(S3ObjectCounterIntegrationTest, CountsObjectsUnderAPrefix) {
  const std::string endpoint = requireEnv("S3_ENDPOINT");
  objectstore::SigV4Credentials credentials{requireEnv("S3_ACCESS_KEY"), requireEnv("S3_SECRET_KEY"),
                                            std::getenv("S3_REGION") ? std::getenv("S3_REGION") : "us-east-1", "s3"};
  ASSERT_FALSE(endpoint.empty());
  const std::string bucket = uniqueName("sluice-count");
  ASSERT_EQ(s3Put(endpoint, "/" + bucket, "", credentials), 200);
  for (int i = 0; i < 7; ++i)
    ASSERT_EQ(s3Put(endpoint, "/" + bucket + "/in/log-" + std::to_string(i), "x", credentials), 200);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(s3Put(endpoint, "/" + bucket + "/done/log-" + std::to_string(i), "x", credentials), 200);

  auto http = http::makeCppRestHttpClient();
  auto counter = std::make_shared<S3ObjectCounter>(S3Location{endpoint, bucket, "in/", credentials}, http, realClock());
  Result<int64_t> inbox = counter->count(1000);
  ASSERT_TRUE(inbox.isOk()) << inbox.status().toString();
  EXPECT_EQ(*inbox, 7);
  EXPECT_EQ(*counter->count(5), 5);  // the scan cap
  S3ObjectCounter all(S3Location{endpoint, bucket, "", credentials}, http, realClock());
  EXPECT_EQ(*all.count(1000), 10);

  ObjectCountScaler scaler({5, 0, 1000}, counter);
  Result<ScalerReading> reading = scaler.read();
  ASSERT_TRUE(reading.isOk());
  EXPECT_EQ(reading->value, 7);
  EXPECT_TRUE(reading->active);

  objectstore::SigV4Credentials wrong = credentials;
  wrong.secretKey = "not-the-secret";
  S3ObjectCounter refused(S3Location{endpoint, bucket, "in/", wrong}, http, realClock());
  EXPECT_EQ(refused.count(10).status().code(), StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace sluice::scalers
