#include "runtime/sources/amqp_headers.h"

#include "clients/amqp_connection.h"

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
