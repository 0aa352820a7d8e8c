// Every AMQP basic property survives AmqpProperties both ways, the headers
// table byte for byte with each value kind, nested tables and arrays: what a
// RabbitMQ mirror relies on to publish a message unchanged. No broker needed.
#include "clients/amqp_properties.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::clients {
namespace {

amqp_field_value_t utf8(const char* text) {
  amqp_field_value_t v{};
  v.kind = AMQP_FIELD_KIND_UTF8;
  v.value.bytes = amqp_cstring_bytes(text);
  return v;
}

amqp_table_entry_t entry(const char* key, amqp_field_value_t value) {
  return amqp_table_entry_t{amqp_cstring_bytes(key), value};
}

// A table with one entry of every kind RabbitMQ accepts, a nested table and an array.
struct EveryKind {
  std::vector<amqp_table_entry_t> inner;
  std::vector<amqp_field_value_t> array;
  std::vector<amqp_table_entry_t> entries;
  amqp_table_t table{};

  EveryKind() {
    inner = {entry("city", utf8("Z\xc3\xbcrich")), entry("zero", utf8(""))};
    amqp_field_value_t i64{};
    i64.kind = AMQP_FIELD_KIND_I64;
    i64.value.i64 = -9'000'000'000;
    array = {utf8("a"), i64};
    amqp_field_value_t v{};
    v.kind = AMQP_FIELD_KIND_BOOLEAN;
    v.value.boolean = 1;
    entries.push_back(entry("bool", v));
    v = {};
    v.kind = AMQP_FIELD_KIND_I8;
    v.value.i8 = -8;
    entries.push_back(entry("i8", v));
    v = {};
    v.kind = AMQP_FIELD_KIND_I16;
    v.value.i16 = -1600;
    entries.push_back(entry("i16", v));
    v = {};
    v.kind = AMQP_FIELD_KIND_I32;
    v.value.i32 = -320000;
    entries.push_back(entry("i32", v));
    entries.push_back(entry("i64", i64));
    v = {};
    v.kind = AMQP_FIELD_KIND_F64;
    v.value.f64 = 2.5;
    entries.push_back(entry("f64", v));
    v = {};
    v.kind = AMQP_FIELD_KIND_F32;
    v.value.f32 = 0.25F;
    entries.push_back(entry("f32", v));
    v = {};
    v.kind = AMQP_FIELD_KIND_DECIMAL;
    v.value.decimal = amqp_decimal_t{2, 12345};
    entries.push_back(entry("decimal", v));
    v = {};
    v.kind = AMQP_FIELD_KIND_TIMESTAMP;
    v.value.u64 = 1'700'000'000;
    entries.push_back(entry("stamp", v));
    v = {};
    v.kind = AMQP_FIELD_KIND_VOID;
    entries.push_back(entry("void", v));
    v = {};
    v.kind = AMQP_FIELD_KIND_BYTES;
    v.value.bytes = amqp_bytes_t{3, const_cast<char*>("\x00\xff\x01")};
    entries.push_back(entry("bytes", v));
    v = {};
    v.kind = AMQP_FIELD_KIND_TABLE;
    v.value.table = amqp_table_t{static_cast<int>(inner.size()), inner.data()};
    entries.push_back(entry("nested", v));
    v = {};
    v.kind = AMQP_FIELD_KIND_ARRAY;
    v.value.array = amqp_array_t{static_cast<int>(array.size()), array.data()};
    entries.push_back(entry("list", v));
    entries.push_back(entry("text", utf8("plain")));
    table = amqp_table_t{static_cast<int>(entries.size()), entries.data()};
  }
};

amqp_basic_properties_t everyProperty(const amqp_table_t& headers) {
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG | AMQP_BASIC_HEADERS_FLAG |
                 AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG |
                 AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                 AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_USER_ID_FLAG | AMQP_BASIC_APP_ID_FLAG |
                 AMQP_BASIC_CLUSTER_ID_FLAG;
  props.content_type = amqp_cstring_bytes("application/json");
  props.content_encoding = amqp_cstring_bytes("gzip");
  props.headers = headers;
  props.delivery_mode = 1;
  props.priority = 7;
  props.correlation_id = amqp_cstring_bytes("corr-1");
  props.reply_to = amqp_cstring_bytes("replies");
  props.expiration = amqp_cstring_bytes("60000");
  props.message_id = amqp_cstring_bytes("m-1");
  props.timestamp = 1'234'567'890;
  props.type = amqp_cstring_bytes("order.created");
  props.user_id = amqp_cstring_bytes("alice");
  props.app_id = amqp_cstring_bytes("shop");
  props.cluster_id = amqp_cstring_bytes("c1");
  return props;
}

TEST(AmqpPropertiesTest, EveryPropertyAndEveryHeaderKindRoundTripsByteForByte) {
  EveryKind headers;
  const AmqpProperties plain = propertiesFromAmqp(everyProperty(headers.table));
  EXPECT_EQ(plain.contentType, "application/json");
  EXPECT_EQ(plain.contentEncoding, "gzip");
  EXPECT_EQ(plain.deliveryMode, 1);
  EXPECT_EQ(plain.priority, 7);
  EXPECT_EQ(plain.correlationId, "corr-1");
  EXPECT_EQ(plain.replyTo, "replies");
  EXPECT_EQ(plain.expiration, "60000");
  EXPECT_EQ(plain.messageId, "m-1");
  EXPECT_EQ(plain.timestamp, 1'234'567'890U);
  EXPECT_EQ(plain.type, "order.created");
  EXPECT_EQ(plain.userId, "alice");
  EXPECT_EQ(plain.appId, "shop");
  EXPECT_EQ(plain.clusterId, "c1");
  const Result<std::string> original = encodeAmqpTable(headers.table);
  ASSERT_TRUE(original.isOk());
  EXPECT_EQ(plain.headersTable, *original);

  OutgoingAmqpProperties outgoing;
  ASSERT_TRUE(outgoing.set(plain).isOk());
  EXPECT_EQ(outgoing.get()._flags, everyProperty(headers.table)._flags);
  // What would go on the wire again: the same properties, the same table bytes.
  EXPECT_EQ(propertiesFromAmqp(outgoing.get()), plain);
  EXPECT_EQ(*encodeAmqpTable(outgoing.get().headers), *original);
}

TEST(AmqpPropertiesTest, APresentButEmptyStringIsNotAnAbsentOne) {
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_CORRELATION_ID_FLAG;
  props.correlation_id = amqp_empty_bytes;
  const AmqpProperties plain = propertiesFromAmqp(props);
  EXPECT_TRUE(plain.has(AMQP_BASIC_CORRELATION_ID_FLAG));
  EXPECT_FALSE(plain.has(AMQP_BASIC_MESSAGE_ID_FLAG));
  OutgoingAmqpProperties outgoing;
  ASSERT_TRUE(outgoing.set(plain).isOk());
  EXPECT_EQ(outgoing.get()._flags, AMQP_BASIC_CORRELATION_ID_FLAG);
}

TEST(AmqpPropertiesTest, EditingATableKeepsTheOtherEntriesKindsAndOrder) {
  EveryKind headers;
  const std::string original = *encodeAmqpTable(headers.table);
  auto edited = editAmqpTable(original, {"i16", "absent"}, {{"x-sluice-crashes", "2"}});
  ASSERT_TRUE(edited.isOk());
  EXPECT_EQ(amqpTableString(*edited, "x-sluice-crashes"), "2");
  EXPECT_EQ(amqpTableString(*edited, "text"), "plain");
  // Dropping what was added gives the table without i16, byte for byte.
  std::vector<amqp_table_entry_t> without;
  for (const auto& e : headers.entries) {
    if (std::string(static_cast<const char*>(e.key.bytes), e.key.len) != "i16") without.push_back(e);
  }
  auto back = editAmqpTable(*edited, {"x-sluice-crashes"}, {});
  ASSERT_TRUE(back.isOk());
  EXPECT_EQ(*back, *encodeAmqpTable(amqp_table_t{static_cast<int>(without.size()), without.data()}));
  EXPECT_EQ(*editAmqpTable("", {}, {}), "");
}

TEST(AmqpPropertiesTest, AHeadersTableThatDoesNotDecodeIsAnError) {
  AmqpProperties plain;
  plain.flags = AMQP_BASIC_HEADERS_FLAG;
  plain.headersTable = std::string("\x00\x00\x00\x09garbage", 11);
  OutgoingAmqpProperties outgoing;
  const Status status = outgoing.set(plain);
  EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("AMQP headers table does not decode"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace sluice::clients
