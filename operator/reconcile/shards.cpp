#include "reconcile/shards.h"

namespace sluice::reconcile {

uint64_t fnv1a64(std::string_view bytes) {
  uint64_t hash = 14695981039346656037ULL;
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

uint64_t fmix64(uint64_t hash) {
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdULL;
  hash ^= hash >> 33;
  hash *= 0xc4ceb9fe1a85ec53ULL;
  hash ^= hash >> 33;
  return hash;
}

int shardBucket(std::string_view key, int shards) {
  if (shards <= 1) return 0;
  return static_cast<int>(fmix64(fnv1a64(key)) % static_cast<uint64_t>(shards));
}

std::string shardLeaseName(const std::string& prefix, int bucket, int shards) {
  return prefix + "-shard-" + std::to_string(bucket) + "-of-" + std::to_string(shards);
}

}  // namespace sluice::reconcile
