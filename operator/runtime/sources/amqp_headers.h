// AMQP message headers as the runtime's event Headers. Pure; any thread.
#pragma once

#include <amqp.h>

#include "runtime/core/event.h"

namespace sluice::runtime {

// String, integer and boolean values; nested tables and arrays are left out.
Headers amqpTableToHeaders(const amqp_table_t& table);

}  // namespace sluice::runtime
