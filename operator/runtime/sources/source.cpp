#include "runtime/sources/source.h"

namespace sluice::runtime {

const char* outcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kAcked: return "acked";
    case Outcome::kRejected: return "rejected";
    case Outcome::kRequeue: return "requeue";
  }
  return "unknown";
}

}  // namespace sluice::runtime
