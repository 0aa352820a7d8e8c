#include "runtime/shapes/event_shapes.h"

#include <gtest/gtest.h>

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
