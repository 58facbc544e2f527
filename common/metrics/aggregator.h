// Per-worker-thread aggregation of samples into per-(metric, tag set) series. Owned by one
// worker thread and called only from it (fibers of one loop share it without locks). Once per
// interval the worker calls TakeBatch() and hands the batch, not the samples, to the sender.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics/registry.h"
#include "volley.pb.h"

namespace volley::metrics {

// Tags of one sample: (key, value) pairs. Add() accepts them in any order; duplicate keys keep
// the last value.
using TagSet = std::vector<std::pair<std::string, std::string>>;

// A handle to an interned tag set, valid for the Aggregator's lifetime.
using TagSetId = std::uint32_t;

class Aggregator {
 public:
  // `max_series`: cardinality guard; samples that would create a series beyond it are dropped
  // and counted (MetricBatch.dropped_series), with one warning.
  explicit Aggregator(const Registry* registry, std::size_t max_series = 100000);
  ~Aggregator();

  TagSetId Intern(const TagSet& tags);
  void Add(MetricId metric, TagSetId tags, double value);
  void Add(MetricId metric, const TagSet& tags, double value) { Add(metric, Intern(tags), value); }

  // Moves everything aggregated since the last call into `out` (metrics by name, series with
  // sorted tags) and starts a new interval. `now_unix_ns` closes the interval.
  void TakeBatch(std::int64_t now_unix_ns, volley::v1::MetricBatch* out);

 private:
  struct Impl;
  Impl* impl_;
};

// Merges batches (several workers of one agent, or several agents) into one batch with the
// same aggregation: counts add, histograms add per bucket, gauges keep the newest value.
void MergeBatchInto(const volley::v1::MetricBatch& from, volley::v1::MetricBatch* into);

}  // namespace volley::metrics
