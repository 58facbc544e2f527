// Metric definitions: the built-in k6 metrics (fixed ids) and custom ones registered by scripts.
// One Registry per process side (agent or controller); it is thread-safe, and ids are stable
// for its lifetime. Ids are local: batches carry names, never ids, across processes.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "absl/status/statusor.h"

namespace volley::metrics {

enum class MetricType { kCounter, kGauge, kRate, kTrend };
enum class ValueType { kDefault, kTime, kData };

using MetricId = std::uint32_t;

struct MetricDef {
  std::string name;
  MetricType type;
  ValueType contains;
};

// k6's spelling of types, as used in JSON outputs and the summary: "counter", "gauge", "rate",
// "trend"; "default", "time", "data".
std::string_view MetricTypeName(MetricType type);
std::string_view ValueTypeName(ValueType contains);

// k6's metric name rule: 1 to 128 ASCII letters, digits or underscores, starting with a letter or
// an underscore.
bool IsValidMetricNameForK6(std::string_view name);

// Built-in metrics, registered in this order by every Registry.
namespace builtin {
enum : MetricId {
  kVus,
  kVusMax,
  kIterations,
  kIterationDuration,
  kDroppedIterations,
  kDataSent,
  kDataReceived,
  kChecks,
  kGroupDuration,
  kHttpReqs,
  kHttpReqFailed,
  kHttpReqDuration,
  kHttpReqBlocked,
  kHttpReqConnecting,
  kHttpReqTlsHandshaking,
  kHttpReqSending,
  kHttpReqWaiting,
  kHttpReqReceiving,
  kCount,
};
}  // namespace builtin

class Registry {
 public:
  Registry();  // registers the built-ins

  // Registers a metric, or returns the existing id when `name` is already registered with the
  // same type (and contains). A different type, or a name that is not a valid k6 metric name,
  // is an error (InvalidArgument) naming the metric.
  absl::StatusOr<MetricId> Register(std::string_view name, MetricType type,
                                    ValueType contains = ValueType::kDefault);
  // nullptr when unknown.
  const MetricDef* Find(std::string_view name) const;
  MetricId IdOf(std::string_view name) const;  // crashes on unknown names: for built-ins
  const MetricDef& Get(MetricId id) const;
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::deque<MetricDef> defs_;  // deque: references stay valid as it grows
  std::unordered_map<std::string, MetricId> by_name_;
};

}  // namespace volley::metrics
