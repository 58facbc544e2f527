// k6 thresholds: parsing the `thresholds` option, validating it against metric types, and
// evaluating it against the controller's Store. Owned and called by the controller's merge thread
// (Evaluate keeps each threshold's last result, as k6 does).
//
//   auto t = Thresholds::Parse(options["thresholds"]);   // {"http_req_duration{status:200}":
//   if (!t.ok()) ...                                     //   ["p(95)<500", {"threshold": ...}]}
//   if (auto s = t->Validate(registry); !s.ok()) ...     // exit code 104 in k6 terms
//   auto results = t->Evaluate(store, elapsed, /*final=*/false);
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/metrics/aggregator.h"
#include "common/metrics/registry.h"
#include "common/metrics/store.h"

namespace volley::metrics {

enum class ThresholdOp { kLess, kLessEqual, kGreater, kGreaterEqual, kEqual, kNotEqual };

// One expression such as "p(95)<500".
struct ThresholdExpr {
  std::string source;  // as written
  std::string stat;    // "avg", "min", "max", "med", "count", "rate", "value" or "p(N)"
  std::optional<double> percentile;  // N of p(N)
  ThresholdOp op = ThresholdOp::kLess;
  double value = 0;
  bool abort_on_fail = false;
  std::optional<absl::Duration> delay_abort_eval;
};

// The thresholds of one key of the option: a metric, or a sub-metric `metric{tag:value,...}`.
struct MetricThresholds {
  std::string key;     // as written, e.g. "http_req_duration{name:http://x/post}"
  std::string metric;  // e.g. "http_req_duration"
  TagSet filter;       // sorted by key; empty for a whole metric
  std::vector<ThresholdExpr> exprs;
  std::optional<MetricType> type;  // known after Validate()
};

struct ThresholdResult {
  std::string key;
  std::string source;
  bool ok = true;
  // abortOnFail and failed, with delayAbortEval (if any) already elapsed.
  bool abort = false;
};

// Parses a sub-metric key "name{k:v,k2:v2}" (values may contain ':'; quotes around keys and
// values are trimmed as k6 does). InvalidArgument when the braces or a tag are malformed.
absl::Status ParseMetricKey(std::string_view key, std::string* metric, TagSet* filter);
// Parses one expression ("p(99.9)<300", "rate<0.01", ...).
absl::StatusOr<ThresholdExpr> ParseThresholdExpr(std::string_view source);

class Thresholds {
 public:
  // `thresholds`: k6's thresholds object; null or empty means none. Each value is an array of
  // strings or {threshold, abortOnFail, delayAbortEval} objects. Returns InvalidArgument naming
  // the metric key and expression of the first error.
  static absl::StatusOr<Thresholds> Parse(const nlohmann::json& thresholds);

  // Checks every key against the registry (unknown metric, aggregation the metric type does not
  // support: e.g. p(95) only on trends, rate on rates and counters), and remembers each metric's
  // type for Evaluate. Reports every problem at once, one per line, as InvalidArgument.
  absl::Status Validate(const Registry& registry);

  // Evaluates every threshold at `elapsed` into the test. While running (final = false) a metric
  // without samples is skipped (its thresholds keep their last result); at the end (final = true)
  // it is evaluated with k6's zero values. Results come in definition order.
  std::vector<ThresholdResult> Evaluate(const Store& store, absl::Duration elapsed, bool final);

  // Last result of each threshold (true before any evaluation), by key and source.
  bool LastOk(std::string_view key, std::string_view source) const;
  // True when no threshold failed in the last evaluation.
  bool AllOk() const;

  const std::vector<MetricThresholds>& metrics() const { return metrics_; }
  bool empty() const { return metrics_.empty(); }

 private:
  std::vector<MetricThresholds> metrics_;
  std::vector<std::vector<bool>> last_failed_;  // parallel to metrics_[i].exprs
};

}  // namespace volley::metrics
