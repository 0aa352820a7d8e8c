// Sharding the operator's work over several replicas (issue 14), as Knative's
// bucketed leader election does: S buckets, each with its own Lease; a
// Function belongs to bucket shardBucket("namespace/name", S), and only the
// replica holding that bucket's Lease reconciles it (and its Triggers, pods
// and autoscaling). Work keyed by namespace (warm pools) belongs to
// shardBucket(namespace, S).
//
// The bucket is fmix64(fnv1a64(key)) mod S: 64-bit FNV-1a over the key's
// UTF-8 bytes (offset basis 14695981039346656037, prime 1099511628211), then
// MurmurHash3's 64-bit finalizer (xor-shift 33, multiply 0xff51afd7ed558ccd,
// xor-shift 33, multiply 0xc4ceb9fe1a85ec53, xor-shift 33), because FNV's
// low bits depend only on the low bits of each byte, which mod S of a power
// of two (or of keys differing in their last characters) shows. It is fixed here,
// not std::hash (which differs between standard libraries and versions):
// every replica, of any version, must put a key in the same bucket, or two
// replicas would reconcile it during a rolling upgrade. Changing it is a
// breaking change; the unit test pins known values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::reconcile {

// 64-bit FNV-1a of `bytes`.
uint64_t fnv1a64(std::string_view bytes);
// MurmurHash3's fmix64.
uint64_t fmix64(uint64_t hash);

// The bucket of `key` among `shards` (>= 1): fmix64(fnv1a64(key)) mod shards.
int shardBucket(std::string_view key, int shards);

// The Lease of bucket `bucket` of `shards`: "<prefix>-shard-<bucket>-of-<shards>". The count is in
// the name so a change of --shards never mixes Leases of two partitions.
std::string shardLeaseName(const std::string& prefix, int bucket, int shards);

}  // namespace sluice::reconcile
