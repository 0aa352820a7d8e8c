// FakeAuthorityStore: a tls::AuthorityStore in memory, counting saves, for
// tests of the control CA and of what issues certificates from it.
// Thread-compatible.
#pragma once

#include <optional>

#include "tls/certificate_authority.h"

namespace sluice::testing {

class FakeAuthorityStore final : public tls::AuthorityStore {
 public:
  Result<std::optional<tls::AuthorityMaterial>> load() override { return stored; }
  Status save(const tls::AuthorityMaterial& material) override {
    ++saves;
    stored = material;
    return Status::ok();
  }

  std::optional<tls::AuthorityMaterial> stored;
  int saves = 0;
};

}  // namespace sluice::testing
