#include "amqp_test_util.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <tuple>

#include <cpprest/http_client.h>

namespace sluice::testing {

namespace {

constexpr amqp_channel_t kChannel = 1;

std::string str(amqp_bytes_t bytes) {
  return bytes.bytes ? std::string(static_cast<const char*>(bytes.bytes), bytes.len) : std::string();
}

void check(amqp_rpc_reply_t reply, const std::string& what) {
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) return;
  if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
    throw std::runtime_error(what + ": " + amqp_error_string2(reply.library_error));
  }
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    auto* close = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
    throw std::runtime_error(what + ": " + str(close->reply_text));
  }
  throw std::runtime_error(what + ": AMQP error");
}

// One connection with channel 1 open, closed on destruction.
class Connection {
 public:
  explicit Connection(const std::string& url) {
    std::vector<char> buffer(url.begin(), url.end());
    buffer.push_back('\0');
    amqp_connection_info info;
    if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) throw std::runtime_error("bad AMQP URL");
    state_ = amqp_new_connection();
    amqp_socket_t* socket = amqp_tcp_socket_new(state_);
    if (amqp_socket_open(socket, info.host, info.port) != AMQP_STATUS_OK) {
      amqp_destroy_connection(state_);
      throw std::runtime_error(std::string("cannot connect to RabbitMQ at ") + info.host);
    }
    check(amqp_login(state_, info.vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, info.user, info.password), "login");
    amqp_channel_open(state_, kChannel);
    check(amqp_get_rpc_reply(state_), "channel.open");
  }
  ~Connection() {
    amqp_channel_close(state_, kChannel, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(state_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  amqp_connection_state_t state() const { return state_; }

 private:
  amqp_connection_state_t state_;
};

}  // namespace

void declareQueue(const std::string& url, const std::string& queue, const std::string& deadLetterQueue, bool quorum) {
  Connection c(url);
  amqp_table_entry_t entries[3];
  amqp_table_t arguments = amqp_empty_table;
  arguments.entries = entries;
  auto add = [&](const char* key, const char* value) {  // both outlive the declare
    entries[arguments.num_entries].key = amqp_cstring_bytes(key);
    entries[arguments.num_entries].value.kind = AMQP_FIELD_KIND_UTF8;
    entries[arguments.num_entries].value.value.bytes = amqp_cstring_bytes(value);
    ++arguments.num_entries;
  };
  if (!deadLetterQueue.empty()) {
    add("x-dead-letter-exchange", "");
    add("x-dead-letter-routing-key", deadLetterQueue.c_str());
  }
  if (quorum) add("x-queue-type", "quorum");
  amqp_queue_declare(c.state(), kChannel, amqp_cstring_bytes(queue.c_str()), 0, /*durable=*/1, 0,
                     /*auto_delete=*/0, arguments);
  check(amqp_get_rpc_reply(c.state()), "queue.declare " + queue);
}

void deleteQueue(const std::string& url, const std::string& queue) {
  Connection c(url);
  amqp_queue_delete(c.state(), kChannel, amqp_cstring_bytes(queue.c_str()), 0, 0);
  check(amqp_get_rpc_reply(c.state()), "queue.delete " + queue);
}

void publishAll(const std::string& url, const std::string& queue, const std::vector<AmqpMessage>& messages) {
  const size_t returned = publishTo(url, "", queue, messages);
  if (returned > 0) throw std::runtime_error(std::to_string(returned) + " message(s) returned: no queue " + queue);
}

void declareExchange(const std::string& url, const std::string& exchange, const std::string& type) {
  Connection c(url);
  amqp_exchange_declare(c.state(), kChannel, amqp_cstring_bytes(exchange.c_str()), amqp_cstring_bytes(type.c_str()), 0,
                        /*durable=*/0, /*auto_delete=*/0, 0, amqp_empty_table);
  check(amqp_get_rpc_reply(c.state()), "exchange.declare " + exchange);
}

void deleteExchange(const std::string& url, const std::string& exchange) {
  Connection c(url);
  amqp_exchange_delete(c.state(), kChannel, amqp_cstring_bytes(exchange.c_str()), 0);
  check(amqp_get_rpc_reply(c.state()), "exchange.delete " + exchange);
}

size_t publishTo(const std::string& url, const std::string& exchange, const std::string& routingKey,
                 const std::vector<AmqpMessage>& messages) {
  Connection c(url);
  size_t returned = 0;
  amqp_confirm_select(c.state(), kChannel);
  check(amqp_get_rpc_reply(c.state()), "confirm.select");
  uint64_t published = 0;
  uint64_t confirmed = 0;
  auto readConfirm = [&] {
    amqp_frame_t frame;
    timeval timeout{30, 0};
    int rc = amqp_simple_wait_frame_noblock(c.state(), &frame, &timeout);
    if (rc != AMQP_STATUS_OK) throw std::runtime_error(std::string("waiting for confirms: ") + amqp_error_string2(rc));
    if (frame.frame_type != AMQP_FRAME_METHOD) return;
    // Mandatory publishes no queue took come back before their confirm (their
    // header and body frames follow and are skipped above).
    if (frame.payload.method.id == AMQP_BASIC_RETURN_METHOD) ++returned;
    if (frame.payload.method.id == AMQP_BASIC_NACK_METHOD) throw std::runtime_error("the broker nacked a publish");
    if (frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      confirmed = ack->delivery_tag;  // single or multiple: everything up to it
    }
  };
  for (const AmqpMessage& m : messages) {
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
    props.delivery_mode = 2;
    for (auto [value, flag, field] :
         {std::tuple{&m.messageId, AMQP_BASIC_MESSAGE_ID_FLAG, &props.message_id},
          std::tuple{&m.correlationId, AMQP_BASIC_CORRELATION_ID_FLAG, &props.correlation_id},
          std::tuple{&m.contentType, AMQP_BASIC_CONTENT_TYPE_FLAG, &props.content_type},
          std::tuple{&m.expiration, AMQP_BASIC_EXPIRATION_FLAG, &props.expiration}}) {
      if (value->empty()) continue;
      props._flags |= flag;
      *field = amqp_cstring_bytes(value->c_str());
    }
    if (m.priority) {
      props._flags |= AMQP_BASIC_PRIORITY_FLAG;
      props.priority = *m.priority;
    }
    std::vector<amqp_table_entry_t> entries;
    for (const auto& [k, v] : m.headers) {
      amqp_table_entry_t entry{};
      entry.key = amqp_cstring_bytes(k.c_str());
      entry.value.kind = AMQP_FIELD_KIND_UTF8;
      entry.value.value.bytes = amqp_cstring_bytes(v.c_str());
      entries.push_back(entry);
    }
    if (!entries.empty()) {
      props._flags |= AMQP_BASIC_HEADERS_FLAG;
      props.headers.num_entries = static_cast<int>(entries.size());
      props.headers.entries = entries.data();
    }
    int rc = amqp_basic_publish(c.state(), kChannel, amqp_cstring_bytes(exchange.c_str()),
                                amqp_cstring_bytes(routingKey.c_str()), /*mandatory=*/1, 0, &props,
                                amqp_bytes_t{m.body.size(), const_cast<char*>(m.body.data())});
    if (rc != AMQP_STATUS_OK) throw std::runtime_error(std::string("publish: ") + amqp_error_string2(rc));
    ++published;
    // Keep at most 500 unconfirmed so the socket never backs up.
    while (published - confirmed > 500) readConfirm();
  }
  while (confirmed < published) readConfirm();
  return returned;
}

std::vector<AmqpMessage> consumeQueue(const std::string& url, const std::string& queue, size_t expected,
                                      std::chrono::milliseconds settle, std::chrono::milliseconds timeout) {
  Connection c(url);
  amqp_basic_qos(c.state(), kChannel, 0, 500, 0);
  check(amqp_get_rpc_reply(c.state()), "basic.qos");
  amqp_basic_consume(c.state(), kChannel, amqp_cstring_bytes(queue.c_str()), amqp_empty_bytes, 0, 0, 0,
                     amqp_empty_table);
  check(amqp_get_rpc_reply(c.state()), "basic.consume " + queue);
  std::vector<AmqpMessage> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  auto lastArrival = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    if (out.size() >= expected && std::chrono::steady_clock::now() - lastArrival >= settle) break;
    amqp_maybe_release_buffers(c.state());
    amqp_envelope_t envelope;
    timeval wait{0, 200'000};
    amqp_rpc_reply_t reply = amqp_consume_message(c.state(), &envelope, &wait, 0);
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) continue;
    check(reply, "consuming " + queue);
    AmqpMessage m;
    const amqp_basic_properties_t& props = envelope.message.properties;
    if (props._flags & AMQP_BASIC_MESSAGE_ID_FLAG) m.messageId = str(props.message_id);
    if (props._flags & AMQP_BASIC_CORRELATION_ID_FLAG) m.correlationId = str(props.correlation_id);
    if (props._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) m.contentType = str(props.content_type);
    if (props._flags & AMQP_BASIC_EXPIRATION_FLAG) m.expiration = str(props.expiration);
    if (props._flags & AMQP_BASIC_PRIORITY_FLAG) m.priority = props.priority;
    if (props._flags & AMQP_BASIC_TIMESTAMP_FLAG) m.timestamp = props.timestamp;
    if (props._flags & AMQP_BASIC_HEADERS_FLAG) {
      for (int i = 0; i < props.headers.num_entries; ++i) {
        const amqp_table_entry_t& e = props.headers.entries[i];
        if (e.value.kind == AMQP_FIELD_KIND_UTF8 || e.value.kind == AMQP_FIELD_KIND_BYTES) {
          m.headers[str(e.key)] = str(e.value.value.bytes);
        }
      }
    }
    m.body = str(envelope.message.body);
    m.redelivered = envelope.redelivered != 0;
    amqp_basic_ack(c.state(), kChannel, envelope.delivery_tag, 0);
    amqp_destroy_envelope(&envelope);
    out.push_back(std::move(m));
    lastArrival = std::chrono::steady_clock::now();
  }
  return out;
}

uint32_t readyCount(const std::string& url, const std::string& queue) {
  Connection c(url);
  amqp_queue_declare_ok_t* ok = amqp_queue_declare(c.state(), kChannel, amqp_cstring_bytes(queue.c_str()),
                                                   /*passive=*/1, 0, 0, 0, amqp_empty_table);
  check(amqp_get_rpc_reply(c.state()), "queue.declare (passive) " + queue);
  return ok->message_count;
}

namespace {

// Local TCP ports of `pid`'s sockets connected to remote port `remotePort`.
std::set<int> localPortsTo(pid_t pid, int remotePort) {
  std::set<std::string> inodes;
  std::string fdDir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* dir = opendir(fdDir.c_str())) {
    while (dirent* entry = readdir(dir)) {
      char target[256] = {0};
      std::string link = fdDir + "/" + entry->d_name;
      ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
      if (n <= 0) continue;
      std::string text(target, static_cast<size_t>(n));
      if (text.starts_with("socket:[")) inodes.insert(text.substr(8, text.size() - 9));
    }
    closedir(dir);
  }
  std::set<int> ports;
  std::ifstream tcp("/proc/" + std::to_string(pid) + "/net/tcp");
  std::string line;
  std::getline(tcp, line);  // header
  while (std::getline(tcp, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
    if (!inodes.contains(inode)) continue;
    int rport = std::stoi(remote.substr(remote.find(':') + 1), nullptr, 16);
    if (rport == remotePort) ports.insert(std::stoi(local.substr(local.find(':') + 1), nullptr, 16));
  }
  return ports;
}

int brokerPort(const std::string& amqpUrl) {
  std::vector<char> buffer(amqpUrl.begin(), amqpUrl.end());
  buffer.push_back('\0');
  amqp_connection_info info;
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) throw std::runtime_error("bad AMQP URL");
  return info.port;
}

}  // namespace

int dropConnectionsOf(pid_t pid, const std::string& amqpUrl) {
  const int broker = brokerPort(amqpUrl);
  int dropped = 0;
  for (int port : localPortsTo(pid, broker)) {
    std::string command = "ss -K -t -n src 127.0.0.1:" + std::to_string(port) +
                          " dst 127.0.0.1:" + std::to_string(broker) + " >/dev/null 2>&1";
    if (std::system(command.c_str()) == 0) ++dropped;
  }
  return dropped;
}

namespace {

// A client of the management API at `httpUrl` (http://user:pass@host:port).
web::http::client::http_client managementClient(const std::string& httpUrl) {
  auto scheme = httpUrl.find("://");
  auto at = httpUrl.find('@', scheme + 3);
  if (scheme == std::string::npos || at == std::string::npos)
    throw std::runtime_error("RABBITMQ_HTTP_URL lacks user:pass@");
  std::string userinfo = httpUrl.substr(scheme + 3, at - scheme - 3);
  std::string base = httpUrl.substr(0, scheme + 3) + httpUrl.substr(at + 1);
  while (!base.empty() && base.back() == '/') base.pop_back();
  web::http::client::http_client_config config;
  config.set_credentials(
      web::credentials(userinfo.substr(0, userinfo.find(':')), userinfo.substr(userinfo.find(':') + 1)));
  config.set_timeout(std::chrono::seconds(30));
  return web::http::client::http_client(base, config);
}

// The connections process `pid` has open to the broker of `amqpUrl`, as the management API lists them.
std::vector<web::json::value> connectionsOf(web::http::client::http_client& client, pid_t pid,
                                            const std::string& amqpUrl) {
  std::set<int> ports = localPortsTo(pid, brokerPort(amqpUrl));
  if (ports.empty()) return {};
  // The management API lists a new connection only after its next stats
  // emission, so ask again for a while until the process's connections show.
  std::vector<web::json::value> mine;
  for (int tries = 0; tries < 30 && mine.empty(); ++tries) {
    if (tries > 0) std::this_thread::sleep_for(std::chrono::milliseconds(500));
    web::json::value all = client.request(web::http::methods::GET, "/api/connections").get().extract_json().get();
    for (const auto& c : all.as_array()) {
      if (c.has_field("peer_port") && ports.contains(c.at("peer_port").as_integer())) mine.push_back(c);
    }
  }
  return mine;
}

}  // namespace

int closeConnectionsOf(pid_t pid, const std::string& amqpUrl, const std::string& httpUrl) {
  web::http::client::http_client client = managementClient(httpUrl);
  int closed = 0;
  for (const auto& connection : connectionsOf(client, pid, amqpUrl)) {
    std::string name = connection.at("name").as_string();
    auto response =
        client.request(web::http::methods::DEL, "/api/connections/" + web::uri::encode_data_string(name)).get();
    if (response.status_code() == 204) ++closed;
  }
  return closed;
}

std::vector<std::string> peerCertificateSubjectsOf(pid_t pid, const std::string& amqpUrl, const std::string& httpUrl) {
  web::http::client::http_client client = managementClient(httpUrl);
  std::vector<std::string> subjects;
  for (const auto& connection : connectionsOf(client, pid, amqpUrl)) {
    bool has = connection.has_field("peer_cert_subject") && connection.at("peer_cert_subject").is_string();
    subjects.push_back(has ? connection.at("peer_cert_subject").as_string() : "");
  }
  return subjects;
}

}  // namespace sluice::testing
