#include "runtime/sinks/sink.h"

namespace sluice::runtime {

void Sink::writeBatch(const std::vector<Record>& records, const std::vector<uint32_t>& indexes,
                      std::shared_ptr<WriteListener> listener) {
  for (uint32_t index : indexes) {
    write(records[index], [listener, index](Status status) { listener->written(index, status); });
  }
}

}  // namespace sluice::runtime
