#include "common/metrics/aggregator.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "common/metrics/histogram.h"

namespace volley::metrics {
namespace {

const volley::v1::Series* FindSeries(const volley::v1::MetricBatch& b, const std::string& metric,
                                     const TagSet& tags) {
  for (const auto& s : b.series()) {
    if (b.metrics(s.metric()).name() != metric) continue;
    if (s.tags_size() != static_cast<int>(tags.size())) continue;
    bool same = true;
    for (int i = 0; i < s.tags_size(); ++i) {
      same = same && s.tags(i).key() == tags[i].first && s.tags(i).value() == tags[i].second;
    }
    if (same) return &s;
  }
  return nullptr;
}

Histogram FromSeries(const volley::v1::Series& s) {
  Histogram h;
  EXPECT_TRUE(h.MergeFrom(s.hist(), s.sum(), s.min(), s.max()).ok());
  return h;
}

TEST(Aggregator, AddToAResolvedSeriesEqualsAddAcrossIntervals) {
  Registry registry;
  Aggregator agg(&registry, 2);
  TagSetId id = agg.Intern({{"status", "200"}});
  Aggregator::SeriesId reqs = agg.Series(builtin::kHttpReqs, id);
  Aggregator::SeriesId duration = agg.Series(builtin::kHttpReqDuration, id);
  EXPECT_EQ(agg.Series(builtin::kHttpReqs, id), reqs);  // the same series, resolved again
  EXPECT_EQ(agg.Series(builtin::kHttpReqFailed, id), Aggregator::kDroppedSeries);  // guard: 2

  for (int interval = 0; interval < 2; ++interval) {
    SCOPED_TRACE(interval);
    agg.AddTo(reqs, 1);
    agg.Add(builtin::kHttpReqs, id, 1);
    agg.AddTo(duration, 5);
    agg.AddTo(Aggregator::kDroppedSeries, 1);
    volley::v1::MetricBatch batch;
    agg.TakeBatch(1000 * (interval + 1), &batch);
    const auto* r = FindSeries(batch, "http_reqs", {{"status", "200"}});
    const auto* d = FindSeries(batch, "http_req_duration", {{"status", "200"}});
    ASSERT_NE(r, nullptr);
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(r->count(), 2u);
    EXPECT_EQ(r->sum(), 2);
    EXPECT_EQ(d->count(), 1u);
    EXPECT_EQ(batch.dropped_series(), 1u);
  }
}

TEST(Aggregator, AggregatesEachMetricTypeIntoOneSeriesPerTagSet) {
  Registry registry;
  Aggregator agg(&registry);
  agg.set_interval_start(1000);
  TagSet tags = {{"status", "200"}, {"method", "GET"}};
  TagSetId id = agg.Intern(tags);

  agg.Add(builtin::kHttpReqs, id, 1);
  agg.Add(builtin::kHttpReqs, id, 2);
  agg.Add(builtin::kHttpReqFailed, id, 0);
  agg.Add(builtin::kHttpReqFailed, id, 1);
  agg.Add(builtin::kHttpReqFailed, id, 0);
  agg.Add(builtin::kVus, id, 5, 10);
  agg.Add(builtin::kVus, id, 2, 20);
  agg.Add(builtin::kVus, id, 3, 30);
  for (double v : {10.0, 20.0, 30.0}) agg.Add(builtin::kHttpReqDuration, id, v);

  volley::v1::MetricBatch batch;
  agg.TakeBatch(2000, &batch);
  EXPECT_EQ(batch.start_unix_ns(), 1000);
  EXPECT_EQ(batch.end_unix_ns(), 2000);
  ASSERT_EQ(batch.metrics_size(), 4);  // only metrics with samples
  ASSERT_EQ(batch.series_size(), 4);
  EXPECT_EQ(batch.metrics(0).name(), "http_reqs");
  EXPECT_EQ(batch.metrics(3).type(), volley::v1::TREND);
  EXPECT_EQ(batch.metrics(3).contains(), volley::v1::TIME);

  TagSet sorted = {{"method", "GET"}, {"status", "200"}};
  const auto* reqs = FindSeries(batch, "http_reqs", sorted);
  ASSERT_NE(reqs, nullptr);
  EXPECT_EQ(reqs->count(), 2u);
  EXPECT_EQ(reqs->sum(), 3);

  const auto* failed = FindSeries(batch, "http_req_failed", sorted);
  ASSERT_NE(failed, nullptr);
  EXPECT_EQ(failed->count(), 3u);
  EXPECT_EQ(failed->nonzero(), 1u);

  const auto* vus = FindSeries(batch, "vus", sorted);
  ASSERT_NE(vus, nullptr);
  EXPECT_EQ(vus->last(), 3);
  EXPECT_EQ(vus->last_unix_ns(), 30);
  EXPECT_EQ(vus->min(), 2);
  EXPECT_EQ(vus->max(), 5);

  const auto* dur = FindSeries(batch, "http_req_duration", sorted);
  ASSERT_NE(dur, nullptr);
  EXPECT_EQ(dur->count(), 3u);
  EXPECT_EQ(dur->sum(), 60);
  EXPECT_EQ(dur->min(), 10);
  EXPECT_EQ(dur->max(), 30);
  EXPECT_NEAR(FromSeries(*dur).Quantile(0.5), 20, 0.2);
}

TEST(Aggregator, InternNormalizesOrderAndDuplicateKeys) {
  Registry registry;
  Aggregator agg(&registry);
  TagSetId a = agg.Intern({{"b", "2"}, {"a", "1"}});
  TagSetId b = agg.Intern({{"a", "1"}, {"b", "2"}});
  TagSetId c = agg.Intern({{"a", "0"}, {"b", "2"}, {"a", "1"}});  // last "a" wins
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  EXPECT_NE(a, agg.Intern({{"a", "1"}}));
  EXPECT_EQ(agg.tag_set_count(), 2u);
}

TEST(Aggregator, TakeBatchResetsAndSkipsIdleSeriesButKeepsTagIds) {
  Registry registry;
  Aggregator agg(&registry);
  TagSetId one = agg.Intern({{"k", "1"}});
  TagSetId two = agg.Intern({{"k", "2"}});
  agg.Add(builtin::kIterations, one, 1);
  agg.Add(builtin::kIterations, two, 1);

  volley::v1::MetricBatch batch;
  agg.TakeBatch(1, &batch);
  EXPECT_EQ(batch.series_size(), 2);

  agg.Add(builtin::kIterations, two, 1);
  agg.TakeBatch(2, &batch);
  ASSERT_EQ(batch.series_size(), 1);
  EXPECT_EQ(batch.series(0).tags(0).value(), "2");
  EXPECT_EQ(batch.series(0).sum(), 1);
  EXPECT_EQ(batch.start_unix_ns(), 1);

  agg.TakeBatch(3, &batch);
  EXPECT_EQ(batch.series_size(), 0);
  EXPECT_EQ(batch.metrics_size(), 0);
  EXPECT_EQ(agg.Intern({{"k", "2"}}), two);
}

TEST(Aggregator, CardinalityGuardDropsAndCountsBeyondMaxSeries) {
  Registry registry;
  Aggregator agg(&registry, /*max_series=*/2);
  agg.Add(builtin::kIterations, TagSet{{"n", "1"}}, 1);
  agg.Add(builtin::kIterations, TagSet{{"n", "2"}}, 1);
  agg.Add(builtin::kIterations, TagSet{{"n", "3"}}, 1);  // third tag set: refused by Intern
  agg.Add(builtin::kHttpReqs, TagSet{{"n", "1"}}, 1);    // third series: refused by Add
  agg.Add(builtin::kIterations, TagSet{{"n", "1"}}, 1);  // existing series: kept

  volley::v1::MetricBatch batch;
  agg.TakeBatch(1, &batch);
  EXPECT_EQ(batch.series_size(), 2);
  EXPECT_EQ(batch.dropped_series(), 2u);
  EXPECT_EQ(agg.series_count(), 2u);

  agg.TakeBatch(2, &batch);
  EXPECT_EQ(batch.dropped_series(), 0u);
}

TEST(MergeBatchInto, EqualsOneAggregatorFedAllSamples) {
  Registry registry;
  Aggregator whole(&registry);
  Aggregator parts[3] = {Aggregator(&registry), Aggregator(&registry), Aggregator(&registry)};
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> pick(0, 2), status(0, 3);
  std::lognormal_distribution<double> latency(4, 0.8);
  for (auto* a : {&whole, &parts[0], &parts[1], &parts[2]}) a->set_interval_start(100);

  for (int i = 0; i < 20000; ++i) {
    TagSet tags = {{"status", std::to_string(200 + status(rng))}, {"name", "u"}};
    double v = latency(rng);
    bool failed = v > 100;
    Aggregator& part = parts[pick(rng)];
    for (Aggregator* a : {&whole, &part}) {
      TagSetId id = a->Intern(tags);
      a->Add(builtin::kHttpReqDuration, id, v);
      a->Add(builtin::kHttpReqs, id, 1);
      a->Add(builtin::kHttpReqFailed, id, failed ? 1 : 0);
      a->Add(builtin::kVus, id, i % 7, 1000 + i);
    }
  }

  volley::v1::MetricBatch expected, merged;
  whole.TakeBatch(200, &expected);
  for (int p : {2, 0, 1}) {
    volley::v1::MetricBatch b;
    parts[p].TakeBatch(200, &b);
    MergeBatchInto(b, &merged);
  }
  EXPECT_EQ(merged.start_unix_ns(), 100);
  EXPECT_EQ(merged.end_unix_ns(), 200);
  ASSERT_EQ(merged.series_size(), expected.series_size());
  for (const auto& e : expected.series()) {
    TagSet tags;
    for (const auto& t : e.tags()) tags.emplace_back(t.key(), t.value());
    const std::string& name = expected.metrics(e.metric()).name();
    SCOPED_TRACE(name + " " + tags[1].second);
    const auto* m = FindSeries(merged, name, tags);
    ASSERT_NE(m, nullptr);
    EXPECT_EQ(m->count(), e.count());
    EXPECT_EQ(m->nonzero(), e.nonzero());
    EXPECT_NEAR(m->sum(), e.sum(), 1e-6 * std::abs(e.sum()));
    EXPECT_EQ(m->min(), e.min());
    EXPECT_EQ(m->max(), e.max());
    EXPECT_EQ(m->last(), e.last());
    EXPECT_EQ(m->last_unix_ns(), e.last_unix_ns());
    EXPECT_EQ(m->hist().SerializeAsString(), e.hist().SerializeAsString());
    if (name == "http_req_duration") {
      Histogram hm = FromSeries(*m), he = FromSeries(e);
      for (double q : {0.5, 0.9, 0.95, 0.99}) EXPECT_EQ(hm.Quantile(q), he.Quantile(q));
    }
  }
}

TEST(MergeBatchInto, SkipsSeriesWhoseMetricTypeConflicts) {
  volley::v1::MetricBatch into, from;
  auto* d = into.add_metrics();
  d->set_name("x");
  d->set_type(volley::v1::COUNTER);
  auto* s = into.add_series();
  s->set_count(1);
  s->set_sum(4);

  auto* fd = from.add_metrics();
  fd->set_name("x");
  fd->set_type(volley::v1::TREND);
  auto* fs = from.add_series();
  fs->set_count(1);
  fs->set_sum(7);
  fs->mutable_hist()->add_pos_index(1);
  fs->mutable_hist()->add_pos_count(1);

  MergeBatchInto(from, &into);
  ASSERT_EQ(into.series_size(), 1);
  EXPECT_EQ(into.series(0).sum(), 4);
}

TEST(MergeBatchInto, SkipsMalformedHistograms) {
  volley::v1::MetricBatch into, from;
  auto* fd = from.add_metrics();
  fd->set_name("t");
  fd->set_type(volley::v1::TREND);
  auto* fs = from.add_series();
  fs->set_count(1);
  fs->mutable_hist()->add_pos_index(1);  // no count
  MergeBatchInto(from, &into);
  EXPECT_EQ(into.series_size(), 0);
}

}  // namespace
}  // namespace volley::metrics
