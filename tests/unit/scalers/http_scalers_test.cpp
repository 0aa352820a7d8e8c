// RabbitMQ depth, Prometheus query, WebHDFS count and runtime CPU, answered by a
// fake HttpClient with the bodies those servers send.
#include <gtest/gtest.h>

#include "fakes/fake_clock.h"
#include "fakes/fake_resource_client.h"
#include "fakes/fake_url_http_client.h"
#include "scalers/cpu_scaler.h"
#include "scalers/object_count_scaler.h"
#include "scalers/prometheus_scaler.h"
#include "scalers/rabbitmq_scaler.h"
#include "scalers/s3_object_counter.h"

namespace sluice::scalers {
namespace {

using namespace std::chrono_literals;

const std::string kQueueUrl = "http://u:p@127.0.0.1:15672/api/queues/%2F/jobs";

TEST(RabbitMQQueueScalerTest, MessagesModeCountsReadyPlusUnacked) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->answer(kQueueUrl, 200, R"({"name":"jobs","messages":42,"messages_ready":30,"messages_unacknowledged":12})");
  RabbitMQQueueOptions options{"http://u:p@127.0.0.1:15672/", "/", "jobs"};
  RabbitMQQueueScaler scaler(options, http);
  Result<ScalerReading> reading = scaler.read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_EQ(reading->value, 42);
  EXPECT_TRUE(reading->active);
  EXPECT_EQ(scaler.target().target, 20);
  EXPECT_EQ(http->asked, (std::vector<std::string>{kQueueUrl, kQueueUrl + ".sluice-probation"}))
      << "the probation queue is asked for too (none here: 404 counts 0)";

  options.mode = RabbitMQQueueOptions::Mode::kMessagesReady;
  RabbitMQQueueScaler ready(options, http);
  EXPECT_EQ(ready.read()->value, 30);
}

// Redelivered messages wait in the queue's probation queue for a replica to
// handle them one at a time: work like the queue's own, so a Function at zero wakes for them.
TEST(RabbitMQQueueScalerTest, TheProbationQueuesMessagesCountWithTheQueues) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->answer(kQueueUrl, 200, R"({"name":"jobs","messages":0,"messages_ready":0})");
  http->answer(kQueueUrl + ".sluice-probation", 200, R"({"name":"jobs.sluice-probation","messages":3})");
  RabbitMQQueueScaler scaler({"http://u:p@127.0.0.1:15672", "/", "jobs"}, http);
  Result<ScalerReading> reading = scaler.read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_EQ(reading->value, 3);
  EXPECT_TRUE(reading->active);
  http->answer(kQueueUrl + ".sluice-probation", 500, "down");
  EXPECT_EQ(scaler.read().status().message().rfind("rabbitmq depth of queue jobs.sluice-probation: HTTP 500", 0), 0u);
}

TEST(RabbitMQQueueScalerTest, NewQueueWithoutCountersIsEmptyAndMissingQueueIsNotFound) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->answer(kQueueUrl, 200, R"({"name":"jobs"})");
  RabbitMQQueueScaler scaler({"http://u:p@127.0.0.1:15672", "/", "jobs"}, http);
  EXPECT_EQ(scaler.read()->value, 0);
  EXPECT_FALSE(scaler.read()->active);

  http->answer(kQueueUrl, 404, R"({"error":"Object Not Found","reason":"Not Found"})");
  Result<ScalerReading> missing = scaler.read();
  ASSERT_FALSE(missing.isOk());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message().rfind("rabbitmq depth of queue jobs: HTTP 404", 0), 0u);
}

const std::string kPromUrl = "http://127.0.0.1:9090/api/v1/query?query=sum%28rate%28x%5B1m%5D%29%29";

TEST(PrometheusScalerTest, ReadsOneSampleAndTreatsEmptyAsZero) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  PrometheusScaler scaler({"http://127.0.0.1:9090", "sum(rate(x[1m]))", 50}, http);
  http->answer(
      kPromUrl, 200,
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1700000000.1,"123.5"]}]}})");
  Result<ScalerReading> reading = scaler.read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_EQ(reading->value, 123.5);
  EXPECT_TRUE(reading->active);

  http->answer(kPromUrl, 200, R"({"status":"success","data":{"resultType":"vector","result":[]}})");
  EXPECT_EQ(scaler.read()->value, 0);

  http->answer(kPromUrl, 200, R"({"status":"success","data":{"resultType":"scalar","result":[1700000000,"7"]}})");
  EXPECT_EQ(scaler.read()->value, 7);

  http->answer(kPromUrl, 200,
               R"({"status":"success","data":{"resultType":"vector","result":[{"value":[1,"1"]},{"value":[1,"2"]}]}})");
  Result<ScalerReading> two = scaler.read();
  ASSERT_FALSE(two.isOk());
  EXPECT_EQ(two.status().message(), "prometheus query sum(rate(x[1m])): returned 2 series; expected one");

  http->answer(kPromUrl, 400, R"({"status":"error","errorType":"bad_data","error":"parse error"})");
  EXPECT_EQ(scaler.read().status().code(), StatusCode::kInvalidArgument);
}

TEST(WebHdfsObjectCounterTest, CountsFilesNotDirectoriesUpToTheCap) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  http->answer("http://127.0.0.1:9870/webhdfs/v1/logs/in?op=LISTSTATUS&user.name=etl", 200,
               R"({"FileStatuses":{"FileStatus":[
      {"pathSuffix":"a.gz","type":"FILE","length":10},
      {"pathSuffix":"sub","type":"DIRECTORY","length":0},
      {"pathSuffix":"b.gz","type":"FILE","length":12},
      {"pathSuffix":"c.gz","type":"FILE","length":12}]}})");
  auto counter = std::make_shared<WebHdfsObjectCounter>("http://127.0.0.1:9870", "/logs/in", "etl", http);
  EXPECT_EQ(*counter->count(1000), 3);
  EXPECT_EQ(*counter->count(2), 2);
  ObjectCountScaler scaler({5, 0, 1000}, counter);
  EXPECT_EQ(scaler.read()->value, 3);
  EXPECT_EQ(scaler.name(), "objects/webhdfs:/logs/in");
}

TEST(RuntimeCpuScalerTest, UtilizationFromTwoSamplesOfProcessCpuSeconds) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  testing::FakeClock clock;
  RuntimeCpuOptions options;
  options.targetUtilizationPercent = 50;
  options.requestedCores = 0.5;
  options.metricsUrls = [] { return std::vector<std::string>{"http://r1/metrics", "http://r2/metrics"}; };
  RuntimeCpuScaler scaler(options, http, clock);
  http->answer("http://r1/metrics", 200, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 10\n");
  http->answer("http://r2/metrics", 200, "process_cpu_seconds_total_other 1\nprocess_cpu_seconds_total 4\n");
  Result<ScalerReading> first = scaler.read();
  ASSERT_FALSE(first.isOk());
  EXPECT_EQ(first.status().message(), "cpu: no replica has two samples yet");

  clock.advance(10s);
  http->answer("http://r1/metrics", 200, "process_cpu_seconds_total 14\n");  // 0.4 cores of 0.5 = 80%
  http->answer("http://r2/metrics", 200, "process_cpu_seconds_total 5\n");   // 0.1 cores of 0.5 = 20%
  Result<ScalerReading> second = scaler.read();
  ASSERT_TRUE(second.isOk()) << second.status().toString();
  EXPECT_DOUBLE_EQ(second->value, 50);
  EXPECT_EQ(scaler.target().type, autoscaler::MetricTargetType::kUtilization);
}

// metrics.k8s.io: PodMetrics as metrics-server serves them (usage in nanocores).
kube::Json podMetrics(const std::string& pod, const std::vector<std::string>& containerUsage) {
  kube::Json containers = kube::Json::array();
  for (const std::string& cpu : containerUsage) containers.push_back({{"name", "c"}, {"usage", {{"cpu", cpu}}}});
  return {{"metadata", {{"name", pod}, {"namespace", "etl"}, {"labels", {{"sluice.io/function", "orders"}}}}},
          {"containers", containers}};
}

TEST(MetricsApiCpuScalerTest, UtilizationOfTheReadyReplicasAgainstTheirRequest) {
  testing::FakeClock clock;
  testing::FakeResourceClient client(clock);
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  std::vector<std::string> ready = {"orders-a", "orders-b"};
  MetricsApiCpuOptions options;
  options.ns = "etl";
  options.labelSelector = "sluice.io/function=orders";
  options.targetUtilizationPercent = 50;
  options.requestedCores = 0.5;
  options.readyPods = [&] { return ready; };
  RuntimeCpuOptions own;
  own.metricsUrls = [] { return std::vector<std::string>{}; };
  MetricsApiCpuScaler scaler(options, client, std::make_unique<RuntimeCpuScaler>(own, http, clock), clock);

  client.put(kPodMetrics, podMetrics("orders-a", {"300000000n", "100m"}));  // 0.4 of 0.5 cores: 80%
  client.put(kPodMetrics, podMetrics("orders-b", {"50000u"}));              // 0.05 of 0.5: 10%
  client.put(kPodMetrics, podMetrics("orders-old", {"2"}));                 // no longer a Ready replica
  Result<ScalerReading> reading = scaler.read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_DOUBLE_EQ(reading->value, 45);
  EXPECT_EQ(scaler.target().type, autoscaler::MetricTargetType::kUtilization);

  ready = {"orders-new"};  // not scraped by metrics-server yet
  EXPECT_EQ(scaler.read().status().message(), "cpu: metrics.k8s.io has no PodMetrics for the Ready replicas yet");
  ready.clear();
  EXPECT_EQ(scaler.read()->value, 0) << "no replica reads 0, not an error";
}

TEST(MetricsApiCpuScalerTest, AbsentApiFallsBackToTheRuntimesOwnMetricsAndAsksAgainLater) {
  testing::FakeClock clock;
  testing::FakeResourceClient client(clock);
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  MetricsApiCpuOptions options;
  options.ns = "etl";
  options.requestedCores = 1;
  options.readyPods = [] { return std::vector<std::string>{"orders-a"}; };
  RuntimeCpuOptions own;
  own.requestedCores = 1;
  own.metricsUrls = [] { return std::vector<std::string>{"http://127.0.0.9:8090/metrics"}; };
  MetricsApiCpuScaler scaler(options, client, std::make_unique<RuntimeCpuScaler>(own, http, clock), clock);

  http->answer("http://127.0.0.9:8090/metrics", 200, "process_cpu_seconds_total 10\n");
  client.failNext("list", testing::FakeResourceClient::apiStatus(404, "NotFound",
                                                                 "the server could not find the requested resource"));
  EXPECT_FALSE(scaler.read().isOk()) << "the runtime scaler's first sample is not a rate yet";
  clock.advance(10s);
  http->answer("http://127.0.0.9:8090/metrics", 200, "process_cpu_seconds_total 13\n");  // 0.3 cores
  Result<ScalerReading> reading = scaler.read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_DOUBLE_EQ(reading->value, 30);
  EXPECT_EQ(client.callCount("list"), 1) << "an absent API is not asked every round";

  clock.advance(options.absentRecheck);
  client.put(kPodMetrics, podMetrics("orders-a", {"700m"}));  // metrics-server installed since
  reading = scaler.read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_DOUBLE_EQ(reading->value, 70);
  EXPECT_EQ(client.callCount("list"), 2);
}

TEST(RuntimeCpuScalerTest, NoReplicaReadsZeroNotAnError) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  testing::FakeClock clock;
  RuntimeCpuOptions options;
  options.metricsUrls = [] { return std::vector<std::string>{}; };
  RuntimeCpuScaler scaler(options, http, clock);
  Result<ScalerReading> reading = scaler.read();
  ASSERT_TRUE(reading.isOk()) << reading.status().toString();
  EXPECT_EQ(reading->value, 0);
  EXPECT_FALSE(reading->active);
}

}  // namespace
}  // namespace sluice::scalers

namespace sluice::scalers {
namespace {

// AWS's published SigV4 example (GET /test.txt with a Range header on examplebucket).
TEST(SigV4Test, MatchesAwsPublishedExample) {
  objectstore::SigV4Request request;
  request.canonicalPath = "/test.txt";
  request.headers["host"] = "examplebucket.s3.amazonaws.com";
  request.headers["range"] = "bytes=0-9";
  objectstore::SigV4Credentials credentials{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                            "us-east-1", "s3"};
  std::chrono::system_clock::time_point at =
      std::chrono::system_clock::from_time_t(1369353600);  // 2013-05-24T00:00:00Z
  objectstore::sign(request, credentials, at);
  EXPECT_EQ(request.headers["x-amz-date"], "20130524T000000Z");
  EXPECT_EQ(request.headers["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(S3ObjectCounterTest, CountsPagesUpToTheCapAndSkipsFolderMarkers) {
  auto http = std::make_shared<testing::FakeUrlHttpClient>();
  testing::FakeClock clock;
  S3Location location{"http://127.0.0.1:9000", "logs", "in/", {"ak", "sk"}};
  auto counter = std::make_shared<S3ObjectCounter>(location, http, clock);
  http->answer("http://127.0.0.1:9000/logs?list-type=2&max-keys=1000&prefix=in%2F", 200,
               "<ListBucketResult><IsTruncated>true</IsTruncated><Contents><Key>in/</Key></Contents>"
               "<Contents><Key>in/a</Key></Contents><Contents><Key>in/b</Key></Contents>"
               "<NextContinuationToken>tok+1</NextContinuationToken></ListBucketResult>");
  http->answer("http://127.0.0.1:9000/logs?continuation-token=tok%2B1&list-type=2&max-keys=998&prefix=in%2F", 200,
               "<ListBucketResult><IsTruncated>false</IsTruncated><Contents><Key>in/c</Key></Contents>"
               "</ListBucketResult>");
  Result<int64_t> n = counter->count(1000);
  ASSERT_TRUE(n.isOk()) << n.status().toString();
  EXPECT_EQ(*n, 3);
  EXPECT_EQ(http->asked.size(), 2u);
  EXPECT_EQ(counter->describe(), "s3://logs/in/");

  http->answer("http://127.0.0.1:9000/logs?list-type=2&max-keys=1000&prefix=in%2F", 403,
               "<Error><Code>SignatureDoesNotMatch</Code></Error>");
  EXPECT_EQ(counter->count(1000).status().code(), StatusCode::kPermissionDenied);
}

}  // namespace
}  // namespace sluice::scalers
