// RabbitMQ disaster recovery (issue 17) with the sluice-runtime BINARY: a
// built-in pipeline of only `mirror` copies queue `orders` of vhost A to vhost
// B of the real RabbitMQ (tests/env; a vhost stands for the second broker).
// 50,000 messages, each with every AMQP basic property set and varied (a
// headers table of every value kind, nested tables and arrays included),
// arrive on B with identical properties, byte for byte, routed through B's own
// copy of the exchange; the queues, exchanges and bindings that `definitions`
// selects appear on B (with their arguments), a queue made on A later too,
// and the unselected ones do not; a SIGKILL of the mirror mid-stream and a
// restart lose nothing, and duplicate at most the prefetch window. The
// messages are published and read back with rabbitmq-c directly, so the
// comparison does not rest on the code under test.
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "amqp_test_util.h"
#include "common/encoding.h"
#include "http/http_client.h"
#include "kafka_test_util.h"
#include "runtime_process.h"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int kMessages = 50'000;
constexpr int kPrefetch = 100;
constexpr amqp_channel_t kChannel = 1;

void check(amqp_rpc_reply_t reply, const std::string& what) {
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) throw std::runtime_error(what + " failed");
}

// One rabbitmq-c connection with channel 1, for the test's own publishing and reading.
class Connection {
 public:
  explicit Connection(const std::string& url) {
    std::vector<char> buffer(url.begin(), url.end());
    buffer.push_back('\0');
    amqp_connection_info info;
    if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) throw std::runtime_error("bad AMQP URL");
    state_ = amqp_new_connection();
    if (amqp_socket_open(amqp_tcp_socket_new(state_), info.host, info.port) != AMQP_STATUS_OK) {
      throw std::runtime_error("cannot reach RabbitMQ");
    }
    check(amqp_login(state_, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password), "login");
    amqp_channel_open(state_, kChannel);
    check(amqp_get_rpc_reply(state_), "channel.open");
  }
  ~Connection() {
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(state_);
  }
  amqp_connection_state_t get() const { return state_; }

 private:
  amqp_connection_state_t state_ = nullptr;
};

std::string encode(const amqp_table_t& table) {
  std::string buffer(1 << 16, '\0');
  size_t offset = 0;
  if (amqp_encode_table(amqp_bytes_t{buffer.size(), buffer.data()}, const_cast<amqp_table_t*>(&table), &offset) !=
      AMQP_STATUS_OK) {
    throw std::runtime_error("table does not encode");
  }
  buffer.resize(offset);
  return buffer;
}

std::string text(amqp_bytes_t bytes) { return std::string(static_cast<const char*>(bytes.bytes), bytes.len); }

// A message's properties as comparable values: flags, every string, the
// numbers, and the headers table as the wire carries it.
struct Wire {
  uint32_t flags = 0;
  std::vector<std::string> strings;
  int deliveryMode = 0;
  int priority = 0;
  uint64_t timestamp = 0;
  std::string headers;
  std::string body;
  bool operator==(const Wire&) const = default;
};

Wire wireOf(const amqp_basic_properties_t& p, amqp_bytes_t body) {
  Wire w;
  w.flags = p._flags;
  const std::pair<amqp_flags_t, amqp_bytes_t amqp_basic_properties_t::*> fields[] = {
      {AMQP_BASIC_CONTENT_TYPE_FLAG, &amqp_basic_properties_t::content_type},
      {AMQP_BASIC_CONTENT_ENCODING_FLAG, &amqp_basic_properties_t::content_encoding},
      {AMQP_BASIC_CORRELATION_ID_FLAG, &amqp_basic_properties_t::correlation_id},
      {AMQP_BASIC_REPLY_TO_FLAG, &amqp_basic_properties_t::reply_to},
      {AMQP_BASIC_EXPIRATION_FLAG, &amqp_basic_properties_t::expiration},
      {AMQP_BASIC_MESSAGE_ID_FLAG, &amqp_basic_properties_t::message_id},
      {AMQP_BASIC_TYPE_FLAG, &amqp_basic_properties_t::type},
      {AMQP_BASIC_USER_ID_FLAG, &amqp_basic_properties_t::user_id},
      {AMQP_BASIC_APP_ID_FLAG, &amqp_basic_properties_t::app_id},
      {AMQP_BASIC_CLUSTER_ID_FLAG, &amqp_basic_properties_t::cluster_id}};
  for (const auto& [flag, field] : fields) w.strings.push_back((p._flags & flag) != 0 ? text(p.*field) : "");
  if ((p._flags & AMQP_BASIC_DELIVERY_MODE_FLAG) != 0) w.deliveryMode = p.delivery_mode;
  if ((p._flags & AMQP_BASIC_PRIORITY_FLAG) != 0) w.priority = p.priority;
  if ((p._flags & AMQP_BASIC_TIMESTAMP_FLAG) != 0) w.timestamp = p.timestamp;
  if ((p._flags & AMQP_BASIC_HEADERS_FLAG) != 0) w.headers = encode(p.headers);
  w.body = text(body);
  return w;
}

// Message i's properties, every one set on most messages and varied: the
// owner keeps the storage the amqp structures point into.
struct Message {
  std::string id, correlation, replyTo, type, app, payload, deep;
  std::vector<amqp_table_entry_t> inner, entries;
  std::vector<amqp_field_value_t> array;
  amqp_basic_properties_t props{};
  amqp_field_value_t value(char kind) {
    amqp_field_value_t v{};
    v.kind = static_cast<uint8_t>(kind);
    return v;
  }

  Message(int i, const std::string& user) {
    id = "m-" + std::to_string(i);
    correlation = "corr-" + std::to_string(i * 7);
    replyTo = "reply." + std::to_string(i % 7);
    type = "order.v" + std::to_string(i % 3);
    app = "shop-" + std::to_string(i % 4);
    deep = "d\xc3\xa9j\xc3\xa0-" + std::to_string(i);
    payload = std::string("\x00\xff body ", 8) + std::to_string(i);
    auto b = value(AMQP_FIELD_KIND_BOOLEAN);
    b.value.boolean = i % 2;
    auto l = value(AMQP_FIELD_KIND_I64);
    l.value.i64 = -static_cast<int64_t>(i) * 1'000'003;
    auto s = value(AMQP_FIELD_KIND_UTF8);
    s.value.bytes = amqp_cstring_bytes(deep.c_str());
    inner = {{amqp_cstring_bytes("deep"), s}, {amqp_cstring_bytes("odd"), b}};
    array = {s, l, b};
    auto table = value(AMQP_FIELD_KIND_TABLE);
    table.value.table = {static_cast<int>(inner.size()), inner.data()};
    auto list = value(AMQP_FIELD_KIND_ARRAY);
    list.value.array = {static_cast<int>(array.size()), array.data()};
    auto f = value(AMQP_FIELD_KIND_F64);
    f.value.f64 = i / 8.0;
    auto dec = value(AMQP_FIELD_KIND_DECIMAL);
    dec.value.decimal = {2, static_cast<uint32_t>(i)};
    auto stamp = value(AMQP_FIELD_KIND_TIMESTAMP);
    stamp.value.u64 = 1'600'000'000 + i;
    auto bytes = value(AMQP_FIELD_KIND_BYTES);
    bytes.value.bytes = amqp_bytes_t{payload.size(), payload.data()};
    auto i8 = value(AMQP_FIELD_KIND_I8);
    i8.value.i8 = static_cast<int8_t>(i % 128);
    auto i16 = value(AMQP_FIELD_KIND_I16);
    i16.value.i16 = static_cast<int16_t>(i % 30000);
    auto i32 = value(AMQP_FIELD_KIND_I32);
    i32.value.i32 = i;
    entries = {{amqp_cstring_bytes("nested"), table}, {amqp_cstring_bytes("list"), list},
               {amqp_cstring_bytes("ratio"), f},      {amqp_cstring_bytes("price"), dec},
               {amqp_cstring_bytes("at"), stamp},     {amqp_cstring_bytes("raw"), bytes},
               {amqp_cstring_bytes("i8"), i8},        {amqp_cstring_bytes("i16"), i16},
               {amqp_cstring_bytes("i32"), i32},      {amqp_cstring_bytes("void"), value(AMQP_FIELD_KIND_VOID)}};
    // A varying subset of the headers, so tables differ in size and order too.
    entries.resize(4 + i % 7);
    setProperties(i, user);
  }

  void setProperties(int i, const std::string& user) {
    props._flags = AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG |
                   AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
                   AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_APP_ID_FLAG;
    props.headers = {static_cast<int>(entries.size()), entries.data()};
    props.delivery_mode = 1 + i % 2;  // transient and persistent
    props.priority = static_cast<uint8_t>(i % 10);
    props.correlation_id = amqp_cstring_bytes(correlation.c_str());
    props.reply_to = amqp_cstring_bytes(replyTo.c_str());
    props.message_id = amqp_cstring_bytes(id.c_str());
    props.timestamp = 1'700'000'000 + i;
    props.type = amqp_cstring_bytes(type.c_str());
    props.app_id = amqp_cstring_bytes(app.c_str());
    static const char* kContentTypes[] = {"application/json", "text/plain; charset=utf-8", nullptr};
    if (const char* contentType = kContentTypes[i % 3]) {
      props._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
      props.content_type = amqp_cstring_bytes(contentType);
    }
    if (i % 3 == 1) {
      props._flags |= AMQP_BASIC_CONTENT_ENCODING_FLAG;
      props.content_encoding = amqp_cstring_bytes("gzip");
    }
    if (i % 4 == 0) {  // long enough to outlive the test, short enough to be a real TTL
      props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
      props.expiration = amqp_cstring_bytes("3600000");
    }
    if (i % 2 == 0) {  // the broker takes a user-id only from that user
      props._flags |= AMQP_BASIC_USER_ID_FLAG;
      props.user_id = amqp_cstring_bytes(user.c_str());
    }
  }
  Wire wire() const { return wireOf(props, amqp_bytes_t{payload.size(), const_cast<char*>(payload.data())}); }
};

// Reads confirms until `confirmed` reaches `until` or nothing arrives within `timeout`.
void readConfirms(amqp_connection_state_t state, uint64_t& confirmed, uint64_t until, timeval timeout) {
  while (confirmed < until) {
    amqp_frame_t frame;
    timeval wait = timeout;
    const int rc = amqp_simple_wait_frame_noblock(state, &frame, &wait);
    if (rc == AMQP_STATUS_TIMEOUT) return;
    if (rc != AMQP_STATUS_OK) throw std::runtime_error("connection lost while publishing");
    if (frame.frame_type != AMQP_FRAME_METHOD) continue;
    if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD || frame.payload.method.id == AMQP_BASIC_RETURN_METHOD) {
      throw std::runtime_error("a message was refused or unroutable");
    }
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      confirmed = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded)->delivery_tag;
    }
  }
}

// Publishes every message to `exchange` with routing key order.<i % 5>, with confirms.
void publishAll(const std::string& url, const std::string& exchange, const std::string& user) {
  Connection connection(url);
  amqp_confirm_select(connection.get(), kChannel);
  check(amqp_get_rpc_reply(connection.get()), "confirm.select");
  uint64_t confirmed = 0;
  for (int i = 0; i < kMessages; ++i) {
    Message message(i, user);
    const std::string key = "order." + std::to_string(i % 5);
    if (amqp_basic_publish(connection.get(), kChannel, amqp_cstring_bytes(exchange.c_str()),
                           amqp_cstring_bytes(key.c_str()), 1, 0, &message.props,
                           amqp_bytes_t{message.payload.size(), message.payload.data()}) != AMQP_STATUS_OK) {
      throw std::runtime_error("publish failed");
    }
    // Read what confirms arrived now and then, so they never back up into the broker.
    if (i % 1000 == 999) readConfirms(connection.get(), confirmed, i + 1, timeval{0, 0});
  }
  readConfirms(connection.get(), confirmed, kMessages, timeval{30, 0});
  if (confirmed < static_cast<uint64_t>(kMessages)) throw std::runtime_error("not every message was confirmed");
}

// Ready messages of a queue; 0 when it does not exist (yet).
uint32_t readyOrNone(const std::string& url, const std::string& queue) {
  try {
    return readyCount(url, queue);
  } catch (const std::exception&) {
    return 0;
  }
}

// Every message of `queue` (consumed without acks, so at the broker's pace),
// until `expected` arrived and nothing more comes for 2 s, or nothing at all for 20 s.
std::vector<Wire> readAll(const std::string& url, const std::string& queue, size_t expected) {
  Connection connection(url);
  amqp_basic_consume(connection.get(), kChannel, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, 0, 1, 0,
                     amqp_empty_table);
  check(amqp_get_rpc_reply(connection.get()), "basic.consume");
  std::vector<Wire> out;
  while (true) {
    amqp_maybe_release_buffers(connection.get());
    amqp_envelope_t envelope;
    timeval wait{out.size() >= expected ? 2 : 20, 0};
    amqp_rpc_reply_t reply = amqp_consume_message(connection.get(), &envelope, &wait, 0);
    if (reply.reply_type != AMQP_RESPONSE_NORMAL) break;
    out.push_back(wireOf(envelope.message.properties, envelope.message.body));
    amqp_destroy_envelope(&envelope);
  }
  return out;
}

// The management API of the test broker (RABBITMQ_HTTP_URL).
struct Management {
  std::string base = requiredEnv("RABBITMQ_HTTP_URL");
  std::shared_ptr<http::HttpClient> client = http::makeCppRestHttpClient();

  http::Response call(const std::string& method, const std::string& path, const json& body = nullptr) const {
    http::Request request;
    request.method = method;
    request.url = base + path;
    if (!body.is_null()) {
      request.headers = {{"Content-Type", "application/json"}};
      request.body = body.dump();
    }
    auto response = client->send(request);
    if (!response.isOk()) throw std::runtime_error(method + " " + path + ": " + response.status().toString());
    if (response->status / 100 != 2 && response->status != 404) {
      throw std::runtime_error(method + " " + path + ": HTTP " + std::to_string(response->status) + " " +
                               response->body);
    }
    return *response;
  }
  json get(const std::string& path) const {
    http::Response response = call("GET", path);
    return response.status == 404 ? json() : json::parse(response.body);
  }
};

std::string vhostUrl(const std::string& vhost) {
  std::string url = requiredEnv("RABBITMQ_AMQP_URL");
  return url.substr(0, url.rfind('/') + 1) + vhost;
}

class RabbitMqMirrorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const auto& vhost : {a, b}) {
      management.call("PUT", "/api/vhosts/" + vhost);
      management.call("PUT", "/api/permissions/" + vhost + "/" + user,
                      {{"configure", ".*"}, {"write", ".*"}, {"read", ".*"}});
    }
    // The source's definitions: what the mirror selects (shop, orders, audit),
    // and an exchange and a queue it must leave alone.
    const std::string at = "/api/exchanges/" + a + "/";
    management.call("PUT", at + "shop", {{"type", "topic"}, {"durable", true}});
    management.call("PUT", at + "internal-x", {{"type", "fanout"}, {"durable", true}});
    management.call("PUT", "/api/queues/" + a + "/orders",
                    {{"durable", true}, {"arguments", {{"x-max-priority", 10}, {"x-queue-mode", "lazy"}}}});
    management.call("PUT", "/api/queues/" + a + "/audit", {{"durable", true}});
    management.call("PUT", "/api/queues/" + a + "/unselected", {{"durable", true}});
    management.call("POST", "/api/bindings/" + a + "/e/shop/q/orders", {{"routing_key", "order.#"}});
    management.call("POST", "/api/bindings/" + a + "/e/shop/q/audit", {{"routing_key", "order.0"}});
  }
  void TearDown() override {
    for (const auto& vhost : {a, b}) {
      try {
        management.call("DELETE", "/api/vhosts/" + vhost);
      } catch (const std::exception&) {
      }
    }
    std::filesystem::remove_all(dir);
  }

  void startMirror(RuntimeProcess& mirror, const std::string& log) {
    json config = {
        {"name", "rmq-mirror"},
        {"runtime", "builtin"},
        {"pipeline", json::array({{{"mirror",
                                    {{"rename", "identity"},
                                     {"definitions",
                                      {{"sourceManagementUrlEnv", "MGMT_A"},
                                       {"targetManagementUrlEnv", "MGMT_B"},
                                       {"names", {"shop", "^ord.*", "audit"}},
                                       {"interval", "1s"}}}}}}})},
        {"outputs", json::array({{{"name", "b"}, {"rabbitmq", {{"urlEnv", "AMQP_B"}, {"exchange", "shop"}}}}})},
        {"triggers",
         json::array(
             {{{"name", "a"}, {"rabbitmq", {{"urlEnv", "AMQP_A"}, {"queue", "orders"}, {"prefetch", kPrefetch}}}}})}};
    writeFile(dir + "/mirror.json", config.dump(2));
    const std::string http = requiredEnv("RABBITMQ_HTTP_URL");
    mirror.start(freeLoopbackPort(), {"--config", dir + "/mirror.json"}, dir + "/" + log,
                 {{"AMQP_A", vhostUrl(a)}, {"AMQP_B", vhostUrl(b)}, {"MGMT_A", http}, {"MGMT_B", http}});
    ASSERT_TRUE(mirror.waitReady(60s)) << mirror.log();
  }

  // Waits until `queue` on vhost `vhost` holds at least `count` ready messages.
  bool waitForReady(const std::string& vhost, const std::string& queue, uint32_t count, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      if (readyOrNone(vhostUrl(vhost), queue) >= count) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

  std::string user = requiredEnv("RABBITMQ_USER");
  std::string a = uniqueName("drr-a");
  std::string b = uniqueName("drr-b");
  std::string dir = makeTempDir("rmqmirror");
  Management management;
};

TEST_F(RabbitMqMirrorTest, FiftyThousandMessagesKeepEveryPropertyDefinitionsFollowAndASigkillLosesNothing) {
  const auto started = std::chrono::steady_clock::now();
  auto since = [&started] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(); };
  publishAll(vhostUrl(a), "shop", user);
  const double published = since();
  RuntimeProcess mirror;
  startMirror(mirror, "first.log");
  // Killed mid-stream, with up to a prefetch of deliveries unacknowledged on A.
  ASSERT_TRUE(waitForReady(b, "orders", kMessages / 3, 180s)) << mirror.log();
  mirror.signal(SIGKILL);
  EXPECT_EQ(mirror.wait(), 128 + SIGKILL);
  const uint32_t atKill = readyCount(vhostUrl(b), "orders");
  EXPECT_LT(atKill, static_cast<uint32_t>(kMessages)) << "the kill came after the stream ended";

  RuntimeProcess restarted;
  startMirror(restarted, "second.log");
  // A queue made on A while the mirror runs follows within the sync interval (1 s).
  management.call("PUT", "/api/queues/" + a + "/orders-late", {{"durable", true}});
  management.call("POST", "/api/bindings/" + a + "/e/shop/q/orders-late", {{"routing_key", "late"}});
  ASSERT_TRUE(waitForReady(b, "orders", kMessages, 240s)) << restarted.log();
  // Everything on A is settled: its queue and the probation queue are empty.
  const auto settled = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < settled &&
         (readyOrNone(vhostUrl(a), "orders") > 0 || readyOrNone(vhostUrl(a), "orders.sluice-probation") > 0)) {
    std::this_thread::sleep_for(100ms);
  }
  const auto synced = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < synced &&
         management.get("/api/bindings/" + b + "/e/shop/q/orders-late").empty()) {
    std::this_thread::sleep_for(200ms);
  }
  restarted.signal(SIGTERM);
  EXPECT_EQ(restarted.wait(), 0) << restarted.log();
  const double mirrored = since();

  const std::vector<Wire> got = readAll(vhostUrl(b), "orders", kMessages);
  std::map<std::string, int> seen;
  size_t mismatched = 0;
  for (const Wire& wire : got) {
    const std::string& id = wire.strings[5];
    ++seen[id];
    const int i = std::stoi(id.substr(2));
    if (!(wire == Message(i, user).wire()) && mismatched++ < 3) ADD_FAILURE() << "message " << id << " differs";
  }
  size_t duplicates = got.size() - seen.size();
  EXPECT_EQ(mismatched, 0U);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kMessages)) << "lost " << kMessages - static_cast<int>(seen.size());
  // At most what was delivered and unacknowledged on A when the process died.
  EXPECT_LE(duplicates, static_cast<size_t>(kPrefetch));
  // The audit queue on B got its copies through B's own binding (order.0 only; duplicates too).
  EXPECT_GE(readyCount(vhostUrl(b), "audit"), static_cast<uint32_t>(kMessages / 5));
  EXPECT_LE(readyCount(vhostUrl(b), "audit"), static_cast<uint32_t>(kMessages / 5 + duplicates));

  const json orders = management.get("/api/queues/" + b + "/orders");
  EXPECT_EQ(orders["arguments"], json({{"x-max-priority", 10}, {"x-queue-mode", "lazy"}}));
  EXPECT_EQ(management.get("/api/exchanges/" + b + "/shop")["type"], "topic");
  EXPECT_FALSE(management.get("/api/queues/" + b + "/orders-late").is_null());
  EXPECT_EQ(management.get("/api/bindings/" + b + "/e/shop/q/orders-late").size(), 1U);
  EXPECT_EQ(management.get("/api/bindings/" + b + "/e/shop/q/orders")[0]["routing_key"], "order.#");
  EXPECT_TRUE(management.get("/api/queues/" + b + "/unselected").is_null());
  EXPECT_TRUE(management.get("/api/exchanges/" + b + "/internal-x").is_null());
  EXPECT_TRUE(management.get("/api/queues/" + b + "/orders.sluice-probation").is_null());
  // The kill's redeliveries went through A's probation queue (made on the first one), and came out whole above.
  EXPECT_FALSE(management.get("/api/queues/" + a + "/orders.sluice-probation").is_null());
  std::printf(
      "rabbitmq mirror: %d messages, %zu duplicates after one SIGKILL (%u on B at the kill); published in %.1f s, "
      "mirrored by %.1f s, read back and compared by %.1f s\n",
      kMessages, duplicates, atKill, published, mirrored, since());
}

}  // namespace
}  // namespace sluice::testing
