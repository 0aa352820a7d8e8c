#include "runtime/sinks/sink.h"

namespace sluice::runtime {

// `listener` is taken by value so that implementations can keep it.
void Sink::writeBatch(const std::vector<Record>& records, const std::vector<uint32_t>& indexes,
                      std::shared_ptr<WriteListener> listener) {  // NOLINT(performance-unnecessary-value-param)
  for (uint32_t index : indexes) {
    write(records[index], [listener, index](const Status& status) { listener->written(index, status); });
  }
}

}  // namespace sluice::runtime
