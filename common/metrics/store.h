// The controller's merged view of a test's metrics: totals per (metric name, tag set) over the
// whole test, fed batch by batch. Memory grows with the number of series, never with the test's
// length (trend series keep a bounded histogram). Single-threaded: the controller's merge stage
// owns it and runs the queries (thresholds, summary) on the same thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/metrics/aggregator.h"
#include "common/metrics/histogram.h"
#include "common/metrics/registry.h"
#include "volley.pb.h"

namespace volley::metrics {

// A metric's aggregate over a set of its series (all of them, or those matching a tag filter).
struct MetricTotals {
  std::string name;
  MetricType type = MetricType::kCounter;
  ValueType contains = ValueType::kDefault;
  std::uint64_t count = 0;        // samples
  double sum = 0;                 // counter: its value; trend: sum of samples
  std::uint64_t nonzero = 0;      // rate: samples != 0
  double min = 0;                 // gauge, trend
  double max = 0;                 // gauge, trend
  double last = 0;                // gauge: the newest value
  std::int64_t last_unix_ns = 0;  // gauge
  Histogram hist;                 // trend

  bool empty() const { return count == 0; }
  // Counter: value per second of `elapsed` (0 when elapsed is 0).
  double PerSecond(absl::Duration elapsed) const;
  // Rate: nonzero / count (0 when empty).
  double Rate() const;
  // Trend: k6's p(pct), pct in [0, 100]; med is Percentile(50).
  double Percentile(double pct) const { return hist.Quantile(pct / 100.0); }

  // The value of a k6 aggregation as thresholds and the summary see it ("count", "rate",
  // "value", "min", "max", "avg", "med", "p(N)", "passes", "fails"), or nullopt when the metric
  // type has no such value or (rate) there is no sample yet. An empty counter/gauge/trend gives 0s
  // as k6 does. Counter "rate" is PerSecond(elapsed).
  std::optional<double> Value(std::string_view stat, absl::Duration elapsed) const;
};

struct MetricInfo {
  std::string name;
  MetricType type;
  ValueType contains;
};

// Passes and fails of one check (tag `check`) in one group (tag `group`: k6's path, "::"-joined
// group names with a leading "::"; "" is the root group).
struct CheckTotals {
  std::string name;
  std::string group;
  std::uint64_t passes = 0;
  std::uint64_t fails = 0;
};

class Store {
 public:
  // `max_series`: series beyond it are dropped (counted in dropped_series(), warned once).
  explicit Store(std::size_t max_series = 1000000);

  // Adds a batch's series to the totals. Series of a metric whose type conflicts with what the
  // Store already knows, or with a malformed histogram, are skipped; the rest is merged and the
  // first problem is returned (InvalidArgument).
  absl::Status Merge(const volley::v1::MetricBatch& batch);

  // Metrics seen so far, in first-seen order.
  const std::vector<MetricInfo>& Metrics() const { return metrics_; }
  const MetricInfo* FindMetric(std::string_view name) const;

  // The aggregate of `metric` over the series whose tags include every (key, value) of `filter`
  // (a k6 sub-metric such as {status:200}); all series when `filter` is empty. nullopt when the
  // metric was never seen. Gauges: `last` is the newest value of any matching series.
  std::optional<MetricTotals> Totals(std::string_view metric, const TagSet& filter = {}) const;

  // Per (group, check name), in first-seen order, from the `checks` metric.
  std::vector<CheckTotals> Checks() const;
  // Values of the `group` tag seen on any series, in first-seen order.
  std::vector<std::string> GroupPaths() const;

  std::size_t series_count() const { return series_.size(); }
  // Series refused by this Store's guard plus samples the agents reported as dropped.
  std::uint64_t dropped_series() const { return dropped_series_; }

 private:
  struct SeriesTotals {
    std::uint32_t metric;
    TagSet tags;  // sorted by key
    std::uint64_t count = 0;
    double sum = 0;
    std::uint64_t nonzero = 0;
    double min = 0;
    double max = 0;
    double last = 0;
    std::int64_t last_unix_ns = 0;
    Histogram hist;
  };

  std::size_t max_series_;
  std::vector<MetricInfo> metrics_;
  absl::flat_hash_map<std::string, std::uint32_t> metric_ids_;
  std::vector<std::vector<std::uint32_t>> series_of_metric_;
  std::vector<SeriesTotals> series_;
  absl::flat_hash_map<std::string, std::uint32_t> series_ids_;
  std::vector<std::string> group_paths_;
  absl::flat_hash_map<std::string, bool> group_seen_;
  std::uint64_t dropped_series_ = 0;
  bool warned_cardinality_ = false;
};

}  // namespace volley::metrics
