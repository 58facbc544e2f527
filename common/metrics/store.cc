#include "common/metrics/store.h"

#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace volley::metrics {
namespace {

MetricType FromProto(volley::v1::MetricType t) {
  switch (t) {
    case volley::v1::GAUGE:
      return MetricType::kGauge;
    case volley::v1::RATE:
      return MetricType::kRate;
    case volley::v1::TREND:
      return MetricType::kTrend;
    default:
      return MetricType::kCounter;
  }
}

ValueType FromProto(volley::v1::ValueType t) {
  switch (t) {
    case volley::v1::TIME:
      return ValueType::kTime;
    case volley::v1::DATA:
      return ValueType::kData;
    default:
      return ValueType::kDefault;
  }
}

std::string SeriesKey(std::uint32_t metric, const TagSet& sorted_tags) {
  std::string key = std::to_string(metric);
  for (const auto& [k, v] : sorted_tags) {
    key += '\x1f';
    key += k;
    key += '\x1e';
    key += v;
  }
  return key;
}

const std::string* TagValue(const TagSet& sorted_tags, const std::string& key) {
  auto it = std::lower_bound(sorted_tags.begin(), sorted_tags.end(), key,
                             [](const auto& kv, const std::string& k) { return kv.first < k; });
  return it != sorted_tags.end() && it->first == key ? &it->second : nullptr;
}

// "p(95)" -> 95; nullopt when `stat` is not a percentile in [0, 100].
std::optional<double> ParsePercentileStat(std::string_view stat) {
  if (stat.size() < 4 || stat.substr(0, 2) != "p(" || stat.back() != ')') return std::nullopt;
  std::string number(stat.substr(2, stat.size() - 3));
  char* end = nullptr;
  double pct = std::strtod(number.c_str(), &end);
  if (number.empty() || end != number.c_str() + number.size() || !(pct >= 0 && pct <= 100)) {
    return std::nullopt;
  }
  return pct;
}

}  // namespace

double MetricTotals::PerSecond(absl::Duration elapsed) const {
  double seconds = absl::ToDoubleSeconds(elapsed);
  return seconds > 0 ? sum / seconds : 0;
}

double MetricTotals::Rate() const {
  return count ? static_cast<double>(nonzero) / static_cast<double>(count) : 0;
}

std::optional<double> MetricTotals::Value(std::string_view stat, absl::Duration elapsed) const {
  switch (type) {
    case MetricType::kCounter:
      if (stat == "count") return sum;
      if (stat == "rate") return PerSecond(elapsed);
      return std::nullopt;
    case MetricType::kGauge:
      if (stat == "value") return last;
      if (stat == "min") return min;
      if (stat == "max") return max;
      return std::nullopt;
    case MetricType::kRate:
      if (stat == "rate") return count ? std::optional<double>(Rate()) : std::nullopt;
      if (stat == "passes") return static_cast<double>(nonzero);
      if (stat == "fails") return static_cast<double>(count - nonzero);
      return std::nullopt;
    case MetricType::kTrend:
      if (stat == "avg") return hist.Avg();
      if (stat == "min") return hist.min();
      if (stat == "max") return hist.max();
      if (stat == "med") return Percentile(50);
      if (stat == "count") return static_cast<double>(hist.count());
      if (auto pct = ParsePercentileStat(stat)) return Percentile(*pct);
      return std::nullopt;
  }
  return std::nullopt;
}

Store::Store(std::size_t max_series) : max_series_(max_series) {}

const MetricInfo* Store::FindMetric(std::string_view name) const {
  auto it = metric_ids_.find(std::string(name));
  return it == metric_ids_.end() ? nullptr : &metrics_[it->second];
}

absl::Status Store::Merge(const volley::v1::MetricBatch& batch) {
  absl::Status status;
  auto note = [&status](absl::Status s) {
    if (status.ok()) status = std::move(s);
  };
  dropped_series_ += batch.dropped_series();

  // The batch's metric index -> ours, or -1 when its type conflicts with ours.
  std::vector<std::int64_t> remap(batch.metrics_size(), -1);
  for (int i = 0; i < batch.metrics_size(); ++i) {
    const auto& def = batch.metrics(i);
    MetricInfo info{def.name(), FromProto(def.type()), FromProto(def.contains())};
    auto [it, inserted] =
        metric_ids_.try_emplace(def.name(), static_cast<std::uint32_t>(metrics_.size()));
    if (inserted) {
      metrics_.push_back(info);
      series_of_metric_.emplace_back();
    } else if (metrics_[it->second].type != info.type) {
      note(absl::InvalidArgumentError(absl::StrCat(
          "metric ", def.name(), " arrived as a ", std::string(MetricTypeName(info.type)),
          ", known as a ", std::string(MetricTypeName(metrics_[it->second].type)))));
      continue;
    }
    remap[i] = it->second;
  }

  for (const auto& s : batch.series()) {
    if (s.metric() >= remap.size()) {
      note(absl::InvalidArgumentError(
          absl::StrCat("series refers to metric index ", s.metric(), " of ", remap.size())));
      continue;
    }
    if (remap[s.metric()] < 0) continue;
    auto metric = static_cast<std::uint32_t>(remap[s.metric()]);
    MetricType type = metrics_[metric].type;

    TagSet tags;
    tags.reserve(s.tags_size());
    for (const auto& t : s.tags()) tags.emplace_back(t.key(), t.value());
    std::sort(tags.begin(), tags.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string key = SeriesKey(metric, tags);

    auto it = series_ids_.find(key);
    if (it == series_ids_.end()) {
      if (series_.size() >= max_series_) {
        ++dropped_series_;
        if (!warned_cardinality_) {
          warned_cardinality_ = true;
          Log("metrics")->warn(
              "too many distinct series in the merged view, dropping max_series={}", max_series_);
        }
        continue;
      }
      auto id = static_cast<std::uint32_t>(series_.size());
      it = series_ids_.emplace(std::move(key), id).first;
      SeriesTotals& fresh = series_.emplace_back();
      fresh.metric = metric;
      fresh.tags = tags;
      series_of_metric_[metric].push_back(id);
      if (const std::string* group = TagValue(tags, "group")) {
        if (group_seen_.emplace(*group, true).second) group_paths_.push_back(*group);
      }
    }

    SeriesTotals& d = series_[it->second];
    if (type == MetricType::kTrend) {
      if (auto st = d.hist.MergeFrom(s.hist(), s.sum(), s.min(), s.max()); !st.ok()) {
        note(absl::InvalidArgumentError(
            absl::StrCat("metric ", metrics_[metric].name, ": ", st.message())));
        continue;
      }
      d.count = d.hist.count();
      d.sum = d.hist.sum();
      d.min = d.hist.min();
      d.max = d.hist.max();
      continue;
    }
    if (s.count() == 0) continue;
    if (type == MetricType::kGauge) {
      d.min = d.count == 0 ? s.min() : std::min(d.min, s.min());
      d.max = d.count == 0 ? s.max() : std::max(d.max, s.max());
      if (d.count == 0 || s.last_unix_ns() >= d.last_unix_ns) {
        d.last = s.last();
        d.last_unix_ns = s.last_unix_ns();
      }
    }
    d.count += s.count();
    d.sum += s.sum();
    d.nonzero += s.nonzero();
  }
  return status;
}

std::optional<MetricTotals> Store::Totals(std::string_view metric, const TagSet& filter) const {
  auto mit = metric_ids_.find(std::string(metric));
  if (mit == metric_ids_.end()) return std::nullopt;
  const MetricInfo& info = metrics_[mit->second];

  MetricTotals out;
  out.name = info.name;
  out.type = info.type;
  out.contains = info.contains;
  for (std::uint32_t id : series_of_metric_[mit->second]) {
    const SeriesTotals& s = series_[id];
    bool match = std::all_of(filter.begin(), filter.end(), [&s](const auto& kv) {
      const std::string* v = TagValue(s.tags, kv.first);
      return v != nullptr && *v == kv.second;
    });
    if (!match || s.count == 0) continue;

    if (info.type == MetricType::kTrend) {
      out.hist.Merge(s.hist);
    } else if (info.type == MetricType::kGauge) {
      if (out.count == 0 || s.last_unix_ns >= out.last_unix_ns) {
        out.last = s.last;
        out.last_unix_ns = s.last_unix_ns;
      }
    }
    out.min = out.count == 0 ? s.min : std::min(out.min, s.min);
    out.max = out.count == 0 ? s.max : std::max(out.max, s.max);
    out.count += s.count;
    out.sum += s.sum;
    out.nonzero += s.nonzero;
  }
  return out;
}

std::vector<CheckTotals> Store::Checks() const {
  std::vector<CheckTotals> out;
  auto mit = metric_ids_.find("checks");
  if (mit == metric_ids_.end()) return out;

  absl::flat_hash_map<std::string, std::size_t> index;  // group + '\x1f' + name
  for (std::uint32_t id : series_of_metric_[mit->second]) {
    const SeriesTotals& s = series_[id];
    const std::string* name = TagValue(s.tags, "check");
    if (name == nullptr) continue;
    const std::string* group = TagValue(s.tags, "group");
    std::string g = group ? *group : "";
    auto [it, inserted] = index.try_emplace(g + '\x1f' + *name, out.size());
    if (inserted) out.push_back(CheckTotals{*name, g, 0, 0});
    out[it->second].passes += s.nonzero;
    out[it->second].fails += s.count - s.nonzero;
  }
  return out;
}

std::vector<std::string> Store::GroupPaths() const { return group_paths_; }

}  // namespace volley::metrics
