#include "common/metrics/aggregator.h"

#include <algorithm>
#include <atomic>
#include <limits>

#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/logging.h"
#include "common/metrics/histogram.h"

namespace volley::metrics {
namespace {

// One (metric, tag set) series of the current interval.
struct SeriesState {
  MetricId metric;
  TagSetId tags;
  MetricType type;
  std::uint64_t count = 0;  // trends keep theirs in `hist`
  double sum = 0;
  std::uint64_t nonzero = 0;
  double min = 0;
  double max = 0;
  double last = 0;
  std::int64_t last_unix_ns = 0;
  Histogram hist;

  std::uint64_t samples() const { return type == MetricType::kTrend ? hist.count() : count; }
};

// Sorts by key; of duplicate keys the last one given wins.
TagSet Normalize(const TagSet& tags) {
  TagSet out = tags;
  std::stable_sort(out.begin(), out.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  TagSet unique;
  unique.reserve(out.size());
  for (auto& kv : out) {
    if (!unique.empty() && unique.back().first == kv.first) {
      unique.back().second = std::move(kv.second);
    } else {
      unique.push_back(std::move(kv));
    }
  }
  return unique;
}

volley::v1::MetricType ToProto(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return volley::v1::COUNTER;
    case MetricType::kGauge:
      return volley::v1::GAUGE;
    case MetricType::kRate:
      return volley::v1::RATE;
    case MetricType::kTrend:
      return volley::v1::TREND;
  }
  return volley::v1::COUNTER;
}

volley::v1::ValueType ToProto(ValueType t) {
  switch (t) {
    case ValueType::kDefault:
      return volley::v1::DEFAULT;
    case ValueType::kTime:
      return volley::v1::TIME;
    case ValueType::kData:
      return volley::v1::DATA;
  }
  return volley::v1::DEFAULT;
}

// Key of a series within one batch: metric index, then the (sorted) tags.
std::string BatchSeriesKey(std::uint32_t metric_index, const volley::v1::Series& s) {
  std::vector<std::pair<const std::string*, const std::string*>> tags;
  tags.reserve(s.tags_size());
  for (const auto& t : s.tags()) tags.emplace_back(&t.key(), &t.value());
  std::sort(tags.begin(), tags.end(),
            [](const auto& a, const auto& b) { return *a.first < *b.first; });
  std::string key = std::to_string(metric_index);
  for (const auto& [k, v] : tags) {
    key += '\x1f';
    key += *k;
    key += '\x1e';
    key += *v;
  }
  return key;
}

// Warns once per process for each cause.
std::atomic<bool> g_warned_type_conflict{false};
std::atomic<bool> g_warned_bad_histogram{false};

}  // namespace

struct Aggregator::Impl {
  Impl(const Registry* r, std::size_t max) : registry(r), max_series(max) {}

  const Registry* registry;
  std::size_t max_series;

  absl::flat_hash_map<TagSet, TagSetId> tag_ids;
  std::vector<TagSet> tag_sets;

  absl::flat_hash_map<std::uint64_t, std::uint32_t> series_index;
  std::vector<SeriesState> series;

  std::uint64_t dropped = 0;
  bool warned_cardinality = false;
  std::int64_t interval_start_ns = 0;

  void AddToSeries(SeriesState& s, double value, std::int64_t unix_ns);

  void Drop() {
    ++dropped;
    if (!warned_cardinality) {
      warned_cardinality = true;
      Log("metrics")->warn(
          "too many distinct series, dropping samples max_series={} (dropped samples are counted "
          "in the batch)",
          max_series);
    }
  }
};

Aggregator::Aggregator(const Registry* registry, std::size_t max_series)
    : impl_(new Impl(registry, max_series)) {
  impl_->interval_start_ns = absl::ToUnixNanos(absl::Now());
}

Aggregator::~Aggregator() { delete impl_; }

TagSetId Aggregator::Intern(const TagSet& tags) {
  TagSet normalized = Normalize(tags);
  if (auto it = impl_->tag_ids.find(normalized); it != impl_->tag_ids.end()) return it->second;
  if (impl_->tag_sets.size() >= impl_->max_series) return kDroppedTagSet;
  auto id = static_cast<TagSetId>(impl_->tag_sets.size());
  impl_->tag_ids.emplace(normalized, id);
  impl_->tag_sets.push_back(std::move(normalized));
  return id;
}

void Aggregator::Add(MetricId metric, TagSetId tags, double value) { Add(metric, tags, value, 0); }

Aggregator::SeriesId Aggregator::Series(MetricId metric, TagSetId tags) {
  Impl& m = *impl_;
  if (tags == kDroppedTagSet) return kDroppedSeries;
  std::uint64_t key = (static_cast<std::uint64_t>(metric) << 32) | tags;
  auto [it, inserted] =
      m.series_index.try_emplace(key, static_cast<std::uint32_t>(m.series.size()));
  if (inserted) {
    if (m.series.size() >= m.max_series) {
      m.series_index.erase(it);
      return kDroppedSeries;
    }
    SeriesState& s = m.series.emplace_back();
    s.metric = metric;
    s.tags = tags;
    s.type = m.registry->Get(metric).type;
  }
  return it->second;
}

void Aggregator::AddTo(SeriesId series, double value) {
  if (series == kDroppedSeries) {
    impl_->Drop();
    return;
  }
  impl_->AddToSeries(impl_->series[series], value, 0);
}

void Aggregator::Add(MetricId metric, TagSetId tags, double value, std::int64_t unix_ns) {
  SeriesId series = Series(metric, tags);
  if (series == kDroppedSeries) {
    impl_->Drop();
    return;
  }
  impl_->AddToSeries(impl_->series[series], value, unix_ns);
}

void Aggregator::Impl::AddToSeries(SeriesState& s, double value, std::int64_t unix_ns) {
  switch (s.type) {
    case MetricType::kTrend:
      s.hist.Add(value);
      return;
    case MetricType::kCounter:
      ++s.count;
      s.sum += value;
      return;
    case MetricType::kRate:
      ++s.count;
      if (value != 0) ++s.nonzero;
      return;
    case MetricType::kGauge:
      if (s.count == 0) {
        s.min = s.max = value;
      } else {
        s.min = std::min(s.min, value);
        s.max = std::max(s.max, value);
      }
      ++s.count;
      s.last = value;
      s.last_unix_ns = unix_ns != 0 ? unix_ns : absl::ToUnixNanos(absl::Now());
      return;
  }
}

void Aggregator::TakeBatch(std::int64_t now_unix_ns, volley::v1::MetricBatch* out) {
  Impl& m = *impl_;
  out->Clear();
  out->set_start_unix_ns(m.interval_start_ns);
  out->set_end_unix_ns(now_unix_ns);
  out->set_dropped_series(m.dropped);

  absl::flat_hash_map<MetricId, std::uint32_t> metric_index;
  for (SeriesState& s : m.series) {
    if (s.samples() == 0) continue;

    auto [mit, inserted] =
        metric_index.try_emplace(s.metric, static_cast<std::uint32_t>(out->metrics_size()));
    if (inserted) {
      const MetricDef& def = m.registry->Get(s.metric);
      auto* md = out->add_metrics();
      md->set_name(def.name);
      md->set_type(ToProto(def.type));
      md->set_contains(ToProto(def.contains));
    }

    auto* ps = out->add_series();
    ps->set_metric(mit->second);
    for (const auto& [k, v] : m.tag_sets[s.tags]) {
      auto* t = ps->add_tags();
      t->set_key(k);
      t->set_value(v);
    }
    switch (s.type) {
      case MetricType::kTrend:
        ps->set_count(s.hist.count());
        ps->set_sum(s.hist.sum());
        ps->set_min(s.hist.min());
        ps->set_max(s.hist.max());
        s.hist.ToProto(ps->mutable_hist());
        s.hist.Reset();
        break;
      case MetricType::kCounter:
        ps->set_count(s.count);
        ps->set_sum(s.sum);
        break;
      case MetricType::kRate:
        ps->set_count(s.count);
        ps->set_nonzero(s.nonzero);
        break;
      case MetricType::kGauge:
        ps->set_count(s.count);
        ps->set_min(s.min);
        ps->set_max(s.max);
        ps->set_last(s.last);
        ps->set_last_unix_ns(s.last_unix_ns);
        break;
    }
    s.count = 0;
    s.sum = 0;
    s.nonzero = 0;
  }

  m.dropped = 0;
  m.interval_start_ns = now_unix_ns;
}

void Aggregator::set_interval_start(std::int64_t unix_ns) { impl_->interval_start_ns = unix_ns; }
std::size_t Aggregator::series_count() const { return impl_->series.size(); }
std::size_t Aggregator::tag_set_count() const { return impl_->tag_sets.size(); }

void MergeBatchInto(const volley::v1::MetricBatch& from, volley::v1::MetricBatch* into) {
  if (from.series_size() == 0 && from.dropped_series() == 0) return;

  // Time range: the union of both (an empty `into` takes `from`'s).
  if (into->series_size() == 0 && into->start_unix_ns() == 0 && into->end_unix_ns() == 0) {
    into->set_start_unix_ns(from.start_unix_ns());
    into->set_end_unix_ns(from.end_unix_ns());
  } else {
    if (from.start_unix_ns() != 0) {
      into->set_start_unix_ns(into->start_unix_ns() == 0
                                  ? from.start_unix_ns()
                                  : std::min(into->start_unix_ns(), from.start_unix_ns()));
    }
    into->set_end_unix_ns(std::max(into->end_unix_ns(), from.end_unix_ns()));
  }
  into->set_dropped_series(into->dropped_series() + from.dropped_series());

  absl::flat_hash_map<std::string, std::uint32_t> metric_index;
  for (int i = 0; i < into->metrics_size(); ++i) metric_index.emplace(into->metrics(i).name(), i);
  absl::flat_hash_map<std::string, int> series_index;
  for (int i = 0; i < into->series_size(); ++i) {
    series_index.emplace(BatchSeriesKey(into->series(i).metric(), into->series(i)), i);
  }

  // from's metric index -> into's, or -1 when the types conflict.
  std::vector<std::int64_t> remap(from.metrics_size(), -1);
  for (int i = 0; i < from.metrics_size(); ++i) {
    const auto& def = from.metrics(i);
    auto [it, inserted] =
        metric_index.try_emplace(def.name(), static_cast<std::uint32_t>(into->metrics_size()));
    if (inserted) {
      *into->add_metrics() = def;
    } else if (into->metrics(it->second).type() != def.type()) {
      if (!g_warned_type_conflict.exchange(true)) {
        Log("metrics")->warn("metric type conflict while merging batches, skipping metric={}",
                             def.name());
      }
      continue;
    }
    remap[i] = it->second;
  }

  for (const auto& s : from.series()) {
    if (s.metric() >= remap.size() || remap[s.metric()] < 0) continue;
    auto metric = static_cast<std::uint32_t>(remap[s.metric()]);
    auto type = into->metrics(metric).type();

    auto [it, inserted] = series_index.try_emplace(BatchSeriesKey(metric, s), into->series_size());
    if (inserted) {
      if (type == volley::v1::TREND) {
        // Validate before copying, so a malformed histogram never enters the merged batch.
        volley::v1::Histogram empty;
        if (!MergeHistogramProto(s.hist(), &empty).ok()) {
          series_index.erase(it);
          if (!g_warned_bad_histogram.exchange(true)) {
            Log("metrics")->warn("malformed histogram while merging batches, skipping series");
          }
          continue;
        }
      }
      auto* copy = into->add_series();
      *copy = s;
      copy->set_metric(metric);
      std::sort(copy->mutable_tags()->begin(), copy->mutable_tags()->end(),
                [](const auto& a, const auto& b) { return a.key() < b.key(); });
      continue;
    }

    auto* d = into->mutable_series(it->second);
    if (type == volley::v1::TREND) {
      if (!MergeHistogramProto(s.hist(), d->mutable_hist()).ok()) {
        if (!g_warned_bad_histogram.exchange(true)) {
          Log("metrics")->warn("malformed histogram while merging batches, skipping series");
        }
        continue;
      }
    }
    if (s.count() == 0) continue;
    if (type == volley::v1::TREND || type == volley::v1::GAUGE) {
      if (d->count() == 0) {
        d->set_min(s.min());
        d->set_max(s.max());
      } else {
        d->set_min(std::min(d->min(), s.min()));
        d->set_max(std::max(d->max(), s.max()));
      }
    }
    if (type == volley::v1::GAUGE && (d->count() == 0 || s.last_unix_ns() >= d->last_unix_ns())) {
      d->set_last(s.last());
      d->set_last_unix_ns(s.last_unix_ns());
    }
    d->set_count(d->count() + s.count());
    d->set_sum(d->sum() + s.sum());
    d->set_nonzero(d->nonzero() + s.nonzero());
  }
}

}  // namespace volley::metrics
