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
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  // Returned by Intern() once `max_series` distinct tag sets exist: samples added with it are
  // dropped and counted like those refused by the cardinality guard.
  static constexpr TagSetId kDroppedTagSet = 0xffffffffu;

  // Ids stay valid (and equal for equal sets) for the Aggregator's lifetime; intern a request's
  // tags once and add its samples by id. Hashes the whole set: not for every sample.
  TagSetId Intern(const TagSet& tags);
  // Hot path: a hash lookup of (metric, tags) and an update; allocates only for a new series.
  // A gauge sample is stamped with the wall clock; use the overload below to give the time.
  void Add(MetricId metric, TagSetId tags, double value);
  void Add(MetricId metric, const TagSet& tags, double value) { Add(metric, Intern(tags), value); }
  // `unix_ns` is the sample's time; only gauges use it (MergeBatchInto keeps the newest value).
  void Add(MetricId metric, TagSetId tags, double value, std::int64_t unix_ns);

  // A (metric, tag set) series resolved once, for callers that add to the same series again and
  // again (a VU's request metrics): AddTo() then skips the hash lookup. Valid for the
  // Aggregator's lifetime; kDroppedSeries when the cardinality guard refused the series.
  using SeriesId = std::uint32_t;
  static constexpr SeriesId kDroppedSeries = 0xffffffffu;
  SeriesId Series(MetricId metric, TagSetId tags);
  // Same as Add(metric, tags, value) for the series' metric and tags.
  void AddTo(SeriesId series, double value);

  // Moves everything aggregated since the last call into `out` (which is cleared first: metrics
  // by name, series with sorted tags, in first-seen order; dropped_series) and starts a new
  // interval. `now_unix_ns` closes the interval; the first interval starts at construction or at
  // set_interval_start(). Series without samples in the interval are not emitted. The caller
  // fills the execution-state fields (final, vus, vus_max, progress).
  void TakeBatch(std::int64_t now_unix_ns, volley::v1::MetricBatch* out);
  void set_interval_start(std::int64_t unix_ns);

  std::size_t series_count() const;
  std::size_t tag_set_count() const;

 private:
  struct Impl;
  Impl* impl_;
};

// Merges batches (several workers of one agent, or several agents) into one batch with the
// same aggregation: counts add, histograms add per bucket, gauges keep the newest value. Series
// are matched by (metric name, tag set); new ones are appended in `from`'s order. The time range
// widens to cover both and dropped_series adds; execution-state fields are left to the caller.
// A series whose metric conflicts in type, or whose histogram is malformed, is skipped with a
// warning (once per process).
void MergeBatchInto(const volley::v1::MetricBatch& from, volley::v1::MetricBatch* into);

}  // namespace volley::metrics
