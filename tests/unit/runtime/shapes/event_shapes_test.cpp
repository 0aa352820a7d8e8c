#include "runtime/shapes/event_shapes.h"

#include <gtest/gtest.h>

#include <regex>

namespace sluice::runtime::shapes {
namespace {

using config::EventShape;
using nlohmann::json;

Event kafka() {
  Event e;
  e.id = "t/1/5";
  e.source = "kafka";
  e.type = "kafka.record";
  e.subject = "t";
  e.key = "k";
  e.headers = {{"a", "1"}};
  e.partition = 1;
  e.offset = 5;
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'007));
  e.data = "hi";
  return e;
}

TEST(EventShapesTest, Canonical) {
  json expected = {
      {"id", "t/1/5"},  {"source", "kafka"}, {"type", "kafka.record"},  {"time", "2023-11-14T22:13:20.007Z"},
      {"subject", "t"}, {"key", "k"},        {"headers", {{"a", "1"}}}, {"partition", 1},
      {"offset", 5},    {"data", "hi"}};
  EXPECT_EQ(canonicalEvent(kafka()), expected);
  Event noKey = kafka();
  noKey.key.reset();
  noKey.partition.reset();
  EXPECT_TRUE(canonicalEvent(noKey)["key"].is_null());
  EXPECT_TRUE(canonicalEvent(noKey)["partition"].is_null());
}

TEST(EventShapesTest, ScfCkafkaBatch) {
  Event second = kafka();
  second.offset = 6;
  second.key.reset();
  json shaped = shapeBatch(EventShape::kScf, {kafka(), second}, {});
  json expected = {
      {"Records",
       {{{"Ckafka", {{"topic", "t"}, {"partition", 1}, {"offset", 5}, {"msgKey", "k"}, {"msgBody", "hi"}}}},
        {{"Ckafka", {{"topic", "t"}, {"partition", 1}, {"offset", 6}, {"msgKey", "None"}, {"msgBody", "hi"}}}}}}};
  EXPECT_EQ(shaped, expected);
}

TEST(EventShapesTest, LambdaKafkaGroupsByTopicPartitionAndEncodes) {
  ShapeOptions options;
  options.bootstrapServers = "b:9092";
  json shaped = shapeEvent(EventShape::kLambda, kafka(), options);
  EXPECT_EQ(shaped["eventSource"], "SelfManagedKafka");
  EXPECT_EQ(shaped["bootstrapServers"], "b:9092");
  const json& record = shaped["records"]["t-1"][0];
  EXPECT_EQ(record["key"], "aw==");
  EXPECT_EQ(record["value"], "aGk=");
  EXPECT_EQ(record["timestamp"], 1'700'000'000'007);
  EXPECT_EQ(record["timestampType"], "CREATE_TIME");
  EXPECT_EQ(record["headers"], json::parse(R"([{"a":[49]}])"));
}

TEST(EventShapesTest, RabbitMqFallsBackToCanonicalInCompatModes) {
  Event e = kafka();
  e.source = "rabbitmq";
  EXPECT_EQ(shapeEvent(EventShape::kScf, e, {}), canonicalEvent(e));
  EXPECT_EQ(shapeEvent(EventShape::kLambda, e, {}), canonicalEvent(e));
}

TEST(EventShapesTest, ObjectFallsBackToSubjectForBucketAndKey) {
  Event e;
  e.source = "dir";
  e.subject = "inbox/a b.txt";
  e.data = "12345";
  json s3 = shapeEvent(EventShape::kLambda, e, {})["Records"][0]["s3"];
  EXPECT_EQ(s3["bucket"]["name"], "inbox");
  EXPECT_EQ(s3["object"]["key"], "a+b.txt");
  EXPECT_EQ(s3["object"]["size"], 5);
}

TEST(EventShapesTest, HttpShapes) {
  Event e;
  e.id = "r1";
  e.source = "http";
  e.subject = "/invoke";
  e.headers = {{"sluice.http.method", "PUT"}, {"sluice.http.query", "a=1&b"}, {"Content-Type", "text/plain"}};
  e.data = std::string("\xff", 1);
  json lambda = shapeEvent(EventShape::kLambda, e, {});
  EXPECT_EQ(lambda["httpMethod"], "PUT");
  EXPECT_EQ(lambda["queryStringParameters"], json::parse(R"({"a":"1","b":""})"));
  EXPECT_EQ(lambda["headers"], json::parse(R"({"Content-Type":"text/plain"})"));
  EXPECT_EQ(lambda["isBase64Encoded"], true);
  EXPECT_EQ(lambda["body"], "/w==");
  json scf = shapeEvent(EventShape::kScf, e, {});
  EXPECT_EQ(scf["requestContext"]["httpMethod"], "PUT");
  EXPECT_EQ(scf["queryString"]["a"], "1");
}

TEST(EventShapesTest, LambdaMskFormCarriesTheClusterArn) {
  ShapeOptions options;
  options.triggerName = "orders";
  options.kafkaServers = {{"orders", "b-1:9092,b-2:9092"}};
  options.lambdaKafka = config::LambdaKafkaForm::kMsk;
  options.region = "eu-west-1";
  options.accountId = "123456789012";
  json shaped = shapeEvent(EventShape::kLambda, kafka(), options);
  EXPECT_EQ(shaped["eventSource"], "aws:kafka");
  EXPECT_EQ(shaped["bootstrapServers"], "b-1:9092,b-2:9092");
  const std::string arn = shaped["eventSourceArn"];
  EXPECT_TRUE(
      std::regex_match(arn, std::regex("arn:aws:kafka:eu-west-1:123456789012:cluster/orders/"
                                       "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}-1")))
      << arn;
  EXPECT_EQ(shaped["records"]["t-1"][0]["value"], "aGk=");
  options.mskClusterArn = "arn:aws:kafka:eu-west-1:123456789012:cluster/prod/abc-1";
  EXPECT_EQ(shapeEvent(EventShape::kLambda, kafka(), options)["eventSourceArn"], options.mskClusterArn);
}

Event s3Object() {
  Event e;
  e.id = "s3://logs/in/a b.gz@etag1";
  e.source = "s3";
  e.subject = "s3://logs/in/a b.gz";
  e.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'700'000'000'007));
  e.headers = {{kObjectBucketHeader, "logs"},
               {kObjectKeyHeader, "in/a b.gz"},
               {kObjectSizeHeader, "2048"},
               {kObjectEtagHeader, "etag1"},
               {kObjectUrlHeader, "http://127.0.0.1:9000/logs/in/a%20b.gz"},
               {kObjectVersionIdHeader, "v-123"},
               {kObjectContentTypeHeader, "application/gzip"}};
  e.data = "x";
  return e;
}

TEST(EventShapesTest, LambdaS3RecordInTheDocumentedFormats) {
  ShapeOptions options;
  options.triggerName = "uploads";
  json record = shapeEvent(EventShape::kLambda, s3Object(), options)["Records"][0];
  EXPECT_EQ(record["eventTime"], "2023-11-14T22:13:20.007Z");
  EXPECT_EQ(record["awsRegion"], "us-east-1");
  EXPECT_EQ(record["userIdentity"]["principalId"], "AWS:000000000000");
  EXPECT_TRUE(
      std::regex_match(record["responseElements"]["x-amz-request-id"].get<std::string>(), std::regex("[0-9A-F]{16}")));
  const json& object = record["s3"]["object"];
  EXPECT_EQ(object["key"], "in/a+b.gz");
  EXPECT_EQ(object["size"], 2048);
  EXPECT_EQ(object["eTag"], "etag1");
  EXPECT_EQ(object["versionId"], "v-123");
  EXPECT_TRUE(std::regex_match(object["sequencer"].get<std::string>(), std::regex("[0-9A-F]{18}")));
  EXPECT_EQ(record["s3"]["bucket"]["arn"], "arn:aws:s3:::logs");
  Event unversioned = s3Object();
  unversioned.headers.erase(unversioned.headers.begin() + 5);
  EXPECT_FALSE(
      shapeEvent(EventShape::kLambda, unversioned, options)["Records"][0]["s3"]["object"].contains("versionId"));
}

TEST(EventShapesTest, ScfCosRecordAsTheDocumentedSample) {
  ShapeOptions options;
  options.triggerName = "uploads";
  options.functionName = "clean";
  options.namespaceName = "default";
  options.region = "ap-chengdu";
  options.appId = "1253970026";
  json record = shapeEvent(EventShape::kScf, s3Object(), options)["Records"][0];
  const json& cos = record["cos"];
  EXPECT_EQ(cos["cosBucket"], json({{"region", "ap-chengdu"}, {"name", "logs"}, {"appid", "1253970026"}}));
  EXPECT_EQ(cos["cosObject"]["key"], "/1253970026/logs/in/a b.gz");
  EXPECT_EQ(cos["cosObject"]["url"], "http://127.0.0.1:9000/logs/in/a%20b.gz");
  EXPECT_EQ(cos["cosObject"]["vid"], "v-123");
  EXPECT_EQ(cos["cosObject"]["size"], 2048);
  EXPECT_EQ(cos["cosObject"]["meta"]["Content-Type"], "application/gzip");
  EXPECT_EQ(cos["cosNotificationId"], "uploads");
  const json& event = record["event"];
  EXPECT_EQ(event["eventTime"], 1'700'000'000);
  EXPECT_EQ(event["requestParameters"]["requestSourceIP"], "127.0.0.1");
  EXPECT_EQ(event["eventQueue"], "qcs:0:scf:ap-chengdu:appid/1253970026:default.clean.$LATEST");
  EXPECT_TRUE(event["reqid"].is_number_integer());
  // A local file: a file URL.
  Event file;
  file.source = "dir";
  file.subject = "/data/in/x.log";
  file.headers = {{kObjectBucketHeader, "in"}, {kObjectKeyHeader, "x.log"}};
  EXPECT_EQ(shapeEvent(EventShape::kScf, file, options)["Records"][0]["cos"]["cosObject"]["url"],
            "file:///data/in/x.log");
}

TEST(EventShapesTest, ScheduledEventIdIsAStableUuid) {
  Event tick;
  tick.id = "nightly-1";
  tick.source = "cron";
  tick.subject = "nightly";
  ShapeOptions options;
  options.accountId = "123456789012";
  json shaped = shapeEvent(EventShape::kLambda, tick, options);
  const std::string id = shaped["id"];
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << id;
  EXPECT_EQ(shapeEvent(EventShape::kLambda, tick, options)["id"], id) << "a retried tick keeps its id";
  EXPECT_EQ(shaped["account"], "123456789012");
  EXPECT_EQ(shaped["resources"][0], "arn:aws:events:us-east-1:123456789012:rule/nightly");
}

TEST(EventShapesTest, LambdaHttpHasTheRestProxyFields) {
  Event e;
  e.id = "r1";
  e.source = "http";
  e.subject = "web";
  e.time = std::chrono::system_clock::time_point(std::chrono::seconds(1'428'582'896));
  e.headers = {{"sluice.http.query", "a=1&a=2"}, {"user-agent", "curl"}, {"x-forwarded-for", "10.0.0.7, 10.0.0.1"}};
  json shaped = shapeEvent(EventShape::kLambda, e, {});
  EXPECT_EQ(shaped["path"], "/web");
  EXPECT_EQ(shaped["multiValueQueryStringParameters"], json::parse(R"({"a":["1","2"]})"));
  EXPECT_EQ(shaped["queryStringParameters"], json::parse(R"({"a":"2"})"));
  EXPECT_EQ(shaped["multiValueHeaders"]["user-agent"], json::array({"curl"}));
  EXPECT_TRUE(shaped["stageVariables"].is_null());
  const json& context = shaped["requestContext"];
  EXPECT_EQ(context["requestTime"], "09/Apr/2015:12:34:56 +0000");
  EXPECT_EQ(context["requestTimeEpoch"], 1'428'582'896'000);
  EXPECT_EQ(context["identity"]["sourceIp"], "10.0.0.7");
  EXPECT_EQ(context["identity"]["userAgent"], "curl");
  EXPECT_EQ(context["protocol"], "HTTP/1.1");
  json scf = shapeEvent(EventShape::kScf, e, {});
  EXPECT_EQ(scf["requestContext"]["sourceIp"], "10.0.0.7");
  EXPECT_EQ(scf["path"], "/web");
}

TEST(EventShapesTest, OptionsForAFunctionTakeTheShapesDefaults) {
  config::FunctionConfig function;
  function.name = "f";
  function.eventShape = EventShape::kScf;
  config::KafkaSourceConfig kafkaSource;
  kafkaSource.bootstrapServers = "k:9092";
  function.triggers = {{"cron", config::CronSourceConfig{}, 0}, {"orders", kafkaSource, 0}};
  ShapeOptions scf = shapeOptionsFor(function);
  EXPECT_EQ(scf.region, "ap-guangzhou");
  EXPECT_EQ(scf.appId, "1250000000");
  EXPECT_EQ(scf.kafkaServers.at("orders"), "k:9092");
  function.eventShape = EventShape::kLambda;
  function.compat.accountId = "123456789012";
  function.compat.lambdaKafka = config::LambdaKafkaForm::kMsk;
  ShapeOptions lambda = shapeOptionsFor(function);
  EXPECT_EQ(lambda.region, "us-east-1");
  EXPECT_EQ(lambda.accountId, "123456789012");
  EXPECT_EQ(lambda.lambdaKafka, config::LambdaKafkaForm::kMsk);
  function.compat.region = "eu-west-1";
  EXPECT_EQ(shapeOptionsFor(function).region, "eu-west-1");
}

TEST(EventShapesTest, Helpers) {
  EXPECT_TRUE(isValidUtf8("h\xc3\xa9llo \xf0\x9f\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\xc3\x28"));
  EXPECT_FALSE(isValidUtf8("\xc3"));          // truncated
  EXPECT_FALSE(isValidUtf8("\xc0\xaf"));      // overlong
  EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));  // surrogate
  EXPECT_FALSE(isValidUtf8("\xf4\x90\x80\x80"));
}

}  // namespace
}  // namespace sluice::runtime::shapes
