#include "clients/amqp_properties.h"

#include <algorithm>

#include "clients/amqp_connection.h"

namespace sluice::clients {

namespace {

// A decoded table whose entries live in its own pool.
class DecodedTable {
 public:
  DecodedTable() { init_amqp_pool(&pool_, 4096); }
  ~DecodedTable() { empty_amqp_pool(&pool_); }
  DecodedTable(const DecodedTable&) = delete;
  DecodedTable& operator=(const DecodedTable&) = delete;

  Status decode(const std::string& encoded) {
    table_ = amqp_empty_table;
    if (encoded.empty()) return Status::ok();
    size_t offset = 0;
    amqp_bytes_t bytes{encoded.size(), const_cast<char*>(encoded.data())};
    int rc = amqp_decode_table(bytes, &pool_, &table_, &offset);
    if (rc != AMQP_STATUS_OK) {
      return invalidArgument(std::string("AMQP headers table does not decode: ") + amqp_error_string2(rc));
    }
    return Status::ok();
  }
  const amqp_table_t& table() const { return table_; }
  amqp_pool_t& pool() { return pool_; }

 private:
  amqp_pool_t pool_{};
  amqp_table_t table_{};
};

// The optional string properties: each flag with its two places.
struct StringProperty {
  amqp_flags_t flag;
  amqp_bytes_t amqp_basic_properties_t::*amqp;
  std::string AmqpProperties::*plain;
};
constexpr StringProperty kStringProperties[] = {
    {AMQP_BASIC_CONTENT_TYPE_FLAG, &amqp_basic_properties_t::content_type, &AmqpProperties::contentType},
    {AMQP_BASIC_CONTENT_ENCODING_FLAG, &amqp_basic_properties_t::content_encoding, &AmqpProperties::contentEncoding},
    {AMQP_BASIC_CORRELATION_ID_FLAG, &amqp_basic_properties_t::correlation_id, &AmqpProperties::correlationId},
    {AMQP_BASIC_REPLY_TO_FLAG, &amqp_basic_properties_t::reply_to, &AmqpProperties::replyTo},
    {AMQP_BASIC_EXPIRATION_FLAG, &amqp_basic_properties_t::expiration, &AmqpProperties::expiration},
    {AMQP_BASIC_MESSAGE_ID_FLAG, &amqp_basic_properties_t::message_id, &AmqpProperties::messageId},
    {AMQP_BASIC_TYPE_FLAG, &amqp_basic_properties_t::type, &AmqpProperties::type},
    {AMQP_BASIC_USER_ID_FLAG, &amqp_basic_properties_t::user_id, &AmqpProperties::userId},
    {AMQP_BASIC_APP_ID_FLAG, &amqp_basic_properties_t::app_id, &AmqpProperties::appId},
    {AMQP_BASIC_CLUSTER_ID_FLAG, &amqp_basic_properties_t::cluster_id, &AmqpProperties::clusterId},
};

}  // namespace

Result<std::string> encodeAmqpTable(const amqp_table_t& table) {
  if (table.num_entries == 0) return std::string();
  // The encoder stops at the buffer's end: grow it until the table fits
  // (a frame, hence a table, is far below the last size tried).
  for (size_t size = 4096; size <= (size_t{1} << 28); size *= 4) {
    std::string buffer(size, '\0');
    size_t offset = 0;
    int rc = amqp_encode_table(amqp_bytes_t{buffer.size(), buffer.data()}, const_cast<amqp_table_t*>(&table), &offset);
    if (rc == AMQP_STATUS_OK) {
      buffer.resize(offset);
      return buffer;
    }
    if (rc != AMQP_STATUS_TABLE_TOO_BIG) {
      return invalidArgument(std::string("AMQP headers table does not encode: ") + amqp_error_string2(rc));
    }
  }
  return invalidArgument("AMQP headers table does not encode: larger than 256 MiB");
}

AmqpProperties propertiesFromAmqp(const amqp_basic_properties_t& props) {
  AmqpProperties out;
  out.flags = props._flags;
  for (const StringProperty& property : kStringProperties) {
    if (out.has(property.flag)) out.*property.plain = bytesToString(props.*property.amqp);
  }
  if (out.has(AMQP_BASIC_DELIVERY_MODE_FLAG)) out.deliveryMode = props.delivery_mode;
  if (out.has(AMQP_BASIC_PRIORITY_FLAG)) out.priority = props.priority;
  if (out.has(AMQP_BASIC_TIMESTAMP_FLAG)) out.timestamp = props.timestamp;
  if (out.has(AMQP_BASIC_HEADERS_FLAG)) {
    // Decoded from the wire a moment ago, so it encodes again (the same bytes).
    auto encoded = encodeAmqpTable(props.headers);
    if (encoded.isOk()) out.headersTable = std::move(encoded).value();
  }
  return out;
}

OutgoingAmqpProperties::OutgoingAmqpProperties() { init_amqp_pool(&pool_, 4096); }
OutgoingAmqpProperties::~OutgoingAmqpProperties() { empty_amqp_pool(&pool_); }

Status OutgoingAmqpProperties::set(const AmqpProperties& properties) {
  recycle_amqp_pool(&pool_);
  props_ = amqp_basic_properties_t{};
  props_._flags = properties.flags;
  for (const StringProperty& property : kStringProperties) {
    if (properties.has(property.flag)) props_.*property.amqp = bytesOf(properties.*property.plain);
  }
  props_.delivery_mode = properties.deliveryMode;
  props_.priority = properties.priority;
  props_.timestamp = properties.timestamp;
  props_.headers = amqp_empty_table;
  if (properties.has(AMQP_BASIC_HEADERS_FLAG) && !properties.headersTable.empty()) {
    size_t offset = 0;
    amqp_bytes_t bytes{properties.headersTable.size(), const_cast<char*>(properties.headersTable.data())};
    int rc = amqp_decode_table(bytes, &pool_, &props_.headers, &offset);
    if (rc != AMQP_STATUS_OK) {
      return invalidArgument(std::string("AMQP headers table does not decode: ") + amqp_error_string2(rc));
    }
  }
  return Status::ok();
}

Result<std::string> editAmqpTable(const std::string& encoded, const std::vector<std::string>& drop,
                                  const std::vector<std::pair<std::string, std::string>>& append) {
  DecodedTable decoded;
  if (Status status = decoded.decode(encoded); !status.isOk()) return status;
  std::vector<amqp_table_entry_t> entries;
  const amqp_table_t& table = decoded.table();
  for (int i = 0; i < table.num_entries; ++i) {
    const amqp_table_entry_t& entry = table.entries[i];
    const bool dropped =
        std::any_of(drop.begin(), drop.end(), [&entry](const std::string& key) { return tableEntryNamed(entry, key); });
    if (!dropped) entries.push_back(entry);
  }
  for (const auto& [key, value] : append) entries.push_back(utf8TableEntry(key, value));
  return encodeAmqpTable(amqp_table_t{static_cast<int>(entries.size()), entries.data()});
}

amqp_table_entry_t utf8TableEntry(const std::string& key, const std::string& value) {
  amqp_table_entry_t entry{};
  entry.key = bytesOf(key);
  entry.value.kind = AMQP_FIELD_KIND_UTF8;
  entry.value.value.bytes = bytesOf(value);
  return entry;
}

bool tableEntryNamed(const amqp_table_entry_t& entry, const std::string& key) {
  return entry.key.len == key.size() && std::equal(key.begin(), key.end(), static_cast<const char*>(entry.key.bytes));
}

std::string amqpTableString(const std::string& encoded, const std::string& key) {
  DecodedTable decoded;
  if (!decoded.decode(encoded).isOk()) return "";
  const amqp_table_t& table = decoded.table();
  for (int i = 0; i < table.num_entries; ++i) {
    const amqp_field_value_t& value = table.entries[i].value;
    if (tableEntryNamed(table.entries[i], key) &&
        (value.kind == AMQP_FIELD_KIND_UTF8 || value.kind == AMQP_FIELD_KIND_BYTES)) {
      return bytesToString(value.value.bytes);
    }
  }
  return "";
}

}  // namespace sluice::clients
