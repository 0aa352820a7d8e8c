// Conversions between AmqpProperties (common/amqp_properties.h: plain
// values) and rabbitmq-c's amqp_basic_properties_t, and edits of an encoded
// headers table. Used by the RabbitMQ source (reading deliveries, publishing
// probation copies) and sink (a mirror publishing a message unchanged).
// Pure; any thread.
#pragma once

#include <amqp.h>
#include <amqp_framing.h>

#include <string>
#include <utility>
#include <vector>

#include "common/amqp_properties.h"
#include "common/status.h"

namespace sluice::clients {

// Every property of `props`, its headers table encoded as the wire carries it.
AmqpProperties propertiesFromAmqp(const amqp_basic_properties_t& props);

// An AMQP field table encoded as on the wire (length prefix first); "" for
// an empty table.
Result<std::string> encodeAmqpTable(const amqp_table_t& table);

// amqp_basic_properties_t for a publish of `properties`: the strings point
// into `properties`, the decoded headers table into this object's pool, so
// both must outlive the publish. Not copyable.
class OutgoingAmqpProperties {
 public:
  OutgoingAmqpProperties();
  ~OutgoingAmqpProperties();
  OutgoingAmqpProperties(const OutgoingAmqpProperties&) = delete;
  OutgoingAmqpProperties& operator=(const OutgoingAmqpProperties&) = delete;

  // Fails (kInvalidArgument) when the headers table does not decode.
  Status set(const AmqpProperties& properties);
  const amqp_basic_properties_t& get() const { return props_; }

 private:
  amqp_basic_properties_t props_{};
  amqp_pool_t pool_{};
};

// `encoded` (an encoded headers table, "" = empty) without the entries named
// in `drop`, then `append` as UTF-8 string entries, in order; the other
// entries keep their kinds, values and order.
Result<std::string> editAmqpTable(const std::string& encoded, const std::vector<std::string>& drop,
                                  const std::vector<std::pair<std::string, std::string>>& append);

// A UTF-8 string entry of a field table, pointing into `key` and `value`
// (which must outlive it), and whether an entry is named `key`.
amqp_table_entry_t utf8TableEntry(const std::string& key, const std::string& value);
bool tableEntryNamed(const amqp_table_entry_t& entry, const std::string& key);

// The string value of entry `key` of an encoded table; "" when absent or not a string.
std::string amqpTableString(const std::string& encoded, const std::string& key);

}  // namespace sluice::clients
