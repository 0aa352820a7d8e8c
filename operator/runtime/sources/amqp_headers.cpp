#include "runtime/sources/amqp_headers.h"

#include <amqp_framing.h>

#include "clients/amqp_connection.h"
#include "clients/amqp_properties.h"

namespace sluice::runtime {

using clients::bytesToString;

Headers amqpTableToHeaders(const amqp_table_t& table) {
  Headers headers;
  for (int i = 0; i < table.num_entries; ++i) {
    const amqp_table_entry_t& entry = table.entries[i];
    std::string key = bytesToString(entry.key);
    const amqp_field_value_t& v = entry.value;
    switch (v.kind) {
      case AMQP_FIELD_KIND_UTF8:
      case AMQP_FIELD_KIND_BYTES: headers.emplace_back(key, bytesToString(v.value.bytes)); break;
      case AMQP_FIELD_KIND_BOOLEAN: headers.emplace_back(key, v.value.boolean ? "true" : "false"); break;
      case AMQP_FIELD_KIND_I8: headers.emplace_back(key, std::to_string(v.value.i8)); break;
      case AMQP_FIELD_KIND_U8: headers.emplace_back(key, std::to_string(v.value.u8)); break;
      case AMQP_FIELD_KIND_I16: headers.emplace_back(key, std::to_string(v.value.i16)); break;
      case AMQP_FIELD_KIND_U16: headers.emplace_back(key, std::to_string(v.value.u16)); break;
      case AMQP_FIELD_KIND_I32: headers.emplace_back(key, std::to_string(v.value.i32)); break;
      case AMQP_FIELD_KIND_U32: headers.emplace_back(key, std::to_string(v.value.u32)); break;
      case AMQP_FIELD_KIND_I64: headers.emplace_back(key, std::to_string(v.value.i64)); break;
      case AMQP_FIELD_KIND_U64:
      case AMQP_FIELD_KIND_TIMESTAMP: headers.emplace_back(key, std::to_string(v.value.u64)); break;
      default: break;  // nested tables and arrays (e.g. x-death) are not flattened
    }
  }
  return headers;
}

}  // namespace sluice::runtime

namespace sluice::runtime {

namespace {

bool isSluiceHeader(const std::string& key) { return key.rfind("x-sluice-", 0) == 0; }

// The entries a copy's table is rebuilt without: the broker's count (the
// source queue's, not the copy's) and every x-sluice-* entry Sluice manages.
std::vector<std::string> managedKeys() {
  return {"x-delivery-count", "x-sluice-crashes",  "x-sluice-routing-key", "x-sluice-given-up",
          kUserIdHeader,      kDeliveryModeHeader, kExchangeHeader};
}

}  // namespace

Result<AmqpProperties> probationCopyProperties(const AmqpDelivery& message) {
  AmqpProperties copy = message.properties;
  std::vector<std::pair<std::string, std::string>> added;
  for (const auto& header : message.headers) {
    // The three property headers are made afresh below (a copy of a copy reads them back as text).
    const bool property =
        header.first == kUserIdHeader || header.first == kDeliveryModeHeader || header.first == kExchangeHeader;
    if ((isSluiceHeader(header.first) && !property) || copy.flags == 0) added.push_back(header);
  }
  if (copy.flags != 0) {
    if (copy.has(AMQP_BASIC_USER_ID_FLAG)) added.emplace_back(kUserIdHeader, copy.userId);
    added.emplace_back(kDeliveryModeHeader,
                       copy.has(AMQP_BASIC_DELIVERY_MODE_FLAG) ? std::to_string(copy.deliveryMode) : "none");
    if (!message.exchange.empty()) added.emplace_back(kExchangeHeader, message.exchange);
  }
  auto table = clients::editAmqpTable(copy.headersTable, managedKeys(), added);
  if (!table.isOk()) return table.status();
  copy.headersTable = std::move(table).value();
  copy.flags &= ~static_cast<uint32_t>(AMQP_BASIC_USER_ID_FLAG | AMQP_BASIC_HEADERS_FLAG);
  copy.userId.clear();
  copy.flags |= AMQP_BASIC_DELIVERY_MODE_FLAG;
  copy.deliveryMode = 2;  // persistent: the copy outlives a broker restart
  if (!copy.headersTable.empty()) copy.flags |= AMQP_BASIC_HEADERS_FLAG;
  return copy;
}

void restoreProbationProperties(AmqpDelivery& delivery) {
  AmqpProperties& properties = delivery.properties;
  const std::string userId = clients::amqpTableString(properties.headersTable, kUserIdHeader);
  const std::string mode = clients::amqpTableString(properties.headersTable, kDeliveryModeHeader);
  delivery.exchange = clients::amqpTableString(properties.headersTable, kExchangeHeader);
  if (!userId.empty()) {
    properties.flags |= AMQP_BASIC_USER_ID_FLAG;
    properties.userId = userId;
  }
  if (mode == "none") {
    properties.flags &= ~static_cast<uint32_t>(AMQP_BASIC_DELIVERY_MODE_FLAG);
    properties.deliveryMode = 0;
  } else if (mode == "1" || mode == "2") {
    properties.deliveryMode = static_cast<uint8_t>(mode[0] - '0');
  }
  // Bookkeeping of the copy, not the message's: handlers and dead letters do not see it.
  std::erase_if(delivery.headers, [](const auto& header) {
    return header.first == kUserIdHeader || header.first == kDeliveryModeHeader || header.first == kExchangeHeader;
  });
  auto table = clients::editAmqpTable(properties.headersTable, managedKeys(), {});
  if (!table.isOk()) return;  // it decoded when the copy was read: cannot happen
  properties.headersTable = std::move(table).value();
  if (properties.headersTable.empty()) properties.flags &= ~static_cast<uint32_t>(AMQP_BASIC_HEADERS_FLAG);
}

}  // namespace sluice::runtime
