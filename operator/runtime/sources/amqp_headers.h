// AMQP message headers as the runtime's event Headers, and the properties of
// a message's copy on the probation queue. Pure; any thread.
#pragma once

#include <amqp.h>

#include "common/status.h"
#include "runtime/core/event.h"
#include "runtime/sources/amqp_consumer.h"

namespace sluice::runtime {

// String, integer and boolean values; nested tables and arrays are left out.
Headers amqpTableToHeaders(const amqp_table_t& table);

// What a probation copy carries in headers because its properties cannot:
// the user-id (the broker takes one only from that user, and the copy is
// published by the replica's), the delivery mode (the copy is persistent:
// "none" when the message had none) and the exchange (the copy's is the
// default one).
inline constexpr const char* kUserIdHeader = "x-sluice-user-id";
inline constexpr const char* kDeliveryModeHeader = "x-sluice-delivery-mode";
inline constexpr const char* kExchangeHeader = "x-sluice-exchange";

// The properties a copy of `message` is published with to the probation
// queue (or back to its source queue): its own, persistent, without user-id,
// and a headers table of the message's own entries (kinds, nested tables and
// order kept; x-delivery-count and earlier x-sluice-* entries dropped) plus
// the x-sluice-* entries of `message.headers` and the three above. A message
// read from the wire has its properties; one without (a test's) gets its text
// headers only.
Result<AmqpProperties> probationCopyProperties(const AmqpDelivery& message);

// On a message got from the probation queue: its user-id, delivery mode and
// exchange back where they were (the three headers above out of its text
// `headers` too), and every x-sluice-* entry out of its headers table, so a
// mirror publishes the message as first published (the text `headers` keep
// x-sluice-crashes and x-sluice-routing-key for the source).
void restoreProbationProperties(AmqpDelivery& delivery);

}  // namespace sluice::runtime
