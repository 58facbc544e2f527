#include "common/metrics/registry.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace volley::metrics {
namespace {

// k6's metric name rule: 1 to 128 ASCII letters, digits or underscores, not starting with a digit.
bool IsValidMetricName(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  auto is_alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); };
  if (!is_alpha(name[0]) && name[0] != '_') return false;
  for (char c : name) {
    if (!is_alpha(c) && !(c >= '0' && c <= '9') && c != '_') return false;
  }
  return true;
}

struct Builtin {
  MetricId id;
  const char* name;
  MetricType type;
  ValueType contains;
};

constexpr Builtin kBuiltins[] = {
    {builtin::kVus, "vus", MetricType::kGauge, ValueType::kDefault},
    {builtin::kVusMax, "vus_max", MetricType::kGauge, ValueType::kDefault},
    {builtin::kIterations, "iterations", MetricType::kCounter, ValueType::kDefault},
    {builtin::kIterationDuration, "iteration_duration", MetricType::kTrend, ValueType::kTime},
    {builtin::kDroppedIterations, "dropped_iterations", MetricType::kCounter, ValueType::kDefault},
    {builtin::kDataSent, "data_sent", MetricType::kCounter, ValueType::kData},
    {builtin::kDataReceived, "data_received", MetricType::kCounter, ValueType::kData},
    {builtin::kChecks, "checks", MetricType::kRate, ValueType::kDefault},
    {builtin::kGroupDuration, "group_duration", MetricType::kTrend, ValueType::kTime},
    {builtin::kHttpReqs, "http_reqs", MetricType::kCounter, ValueType::kDefault},
    {builtin::kHttpReqFailed, "http_req_failed", MetricType::kRate, ValueType::kDefault},
    {builtin::kHttpReqDuration, "http_req_duration", MetricType::kTrend, ValueType::kTime},
    {builtin::kHttpReqBlocked, "http_req_blocked", MetricType::kTrend, ValueType::kTime},
    {builtin::kHttpReqConnecting, "http_req_connecting", MetricType::kTrend, ValueType::kTime},
    {builtin::kHttpReqTlsHandshaking, "http_req_tls_handshaking", MetricType::kTrend,
     ValueType::kTime},
    {builtin::kHttpReqSending, "http_req_sending", MetricType::kTrend, ValueType::kTime},
    {builtin::kHttpReqWaiting, "http_req_waiting", MetricType::kTrend, ValueType::kTime},
    {builtin::kHttpReqReceiving, "http_req_receiving", MetricType::kTrend, ValueType::kTime},
};
static_assert(sizeof(kBuiltins) / sizeof(kBuiltins[0]) == builtin::kCount);

}  // namespace

std::string_view MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kRate:
      return "rate";
    case MetricType::kTrend:
      return "trend";
  }
  return "unknown";
}

std::string_view ValueTypeName(ValueType contains) {
  switch (contains) {
    case ValueType::kDefault:
      return "default";
    case ValueType::kTime:
      return "time";
    case ValueType::kData:
      return "data";
  }
  return "unknown";
}

bool IsValidMetricNameForK6(std::string_view name) { return IsValidMetricName(name); }

Registry::Registry() {
  for (const Builtin& b : kBuiltins) {
    if (defs_.size() != b.id) {
      Log("metrics")->critical("built-in metric table out of order at {}", b.name);
      std::abort();
    }
    defs_.push_back(MetricDef{b.name, b.type, b.contains});
    by_name_.emplace(b.name, b.id);
  }
}

absl::StatusOr<MetricId> Registry::Register(std::string_view name, MetricType type,
                                            ValueType contains) {
  if (!IsValidMetricName(name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid metric name '", std::string(name),
        "': metric names must be 1 to 128 ASCII letters, digits or underscores and start with a "
        "letter or an underscore"));
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = by_name_.find(std::string(name)); it != by_name_.end()) {
    const MetricDef& existing = defs_[it->second];
    if (existing.type != type || existing.contains != contains) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric '", std::string(name), "' is already registered as a ",
          std::string(MetricTypeName(existing.type)), " (",
          std::string(ValueTypeName(existing.contains)), "), not as a ",
          std::string(MetricTypeName(type)), " (", std::string(ValueTypeName(contains)), ")"));
    }
    return it->second;
  }
  auto id = static_cast<MetricId>(defs_.size());
  defs_.push_back(MetricDef{std::string(name), type, contains});
  by_name_.emplace(std::string(name), id);
  return id;
}

const MetricDef* Registry::Find(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &defs_[it->second];
}

MetricId Registry::IdOf(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(std::string(name));
  if (it == by_name_.end()) {
    Log("metrics")->critical("unknown metric name={}", name);
    std::abort();
  }
  return it->second;
}

const MetricDef& Registry::Get(MetricId id) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (id >= defs_.size()) {
    Log("metrics")->critical("unknown metric id={}", id);
    std::abort();
  }
  return defs_[id];
}

std::size_t Registry::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return defs_.size();
}

}  // namespace volley::metrics
