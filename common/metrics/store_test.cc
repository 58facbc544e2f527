#include "common/metrics/store.h"

#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "common/metrics/aggregator.h"

namespace volley::metrics {
namespace {

// Feeds samples through an Aggregator, as a worker would, and merges the batch into `store`.
class StoreTest : public ::testing::Test {
 protected:
  void Flush() {
    volley::v1::MetricBatch batch;
    agg_.TakeBatch(++now_, &batch);
    ASSERT_TRUE(store_.Merge(batch).ok());
  }

  Registry registry_;
  Aggregator agg_{&registry_};
  Store store_;
  std::int64_t now_ = 0;
};

TEST_F(StoreTest, AccumulatesTotalsAcrossBatches) {
  TagSet ok = {{"status", "200"}, {"expected_response", "true"}};
  TagSet bad = {{"status", "500"}, {"expected_response", "false"}};
  agg_.Add(builtin::kHttpReqs, ok, 1);
  agg_.Add(builtin::kHttpReqDuration, ok, 100);
  agg_.Add(builtin::kHttpReqFailed, ok, 0);
  Flush();
  agg_.Add(builtin::kHttpReqs, bad, 1);
  agg_.Add(builtin::kHttpReqs, ok, 1);
  agg_.Add(builtin::kHttpReqDuration, bad, 300);
  agg_.Add(builtin::kHttpReqDuration, ok, 200);
  agg_.Add(builtin::kHttpReqFailed, bad, 1);
  Flush();

  auto reqs = store_.Totals("http_reqs");
  ASSERT_TRUE(reqs.has_value());
  EXPECT_EQ(reqs->sum, 3);
  EXPECT_DOUBLE_EQ(reqs->PerSecond(absl::Seconds(2)), 1.5);
  EXPECT_EQ(reqs->Value("count", absl::Seconds(2)), 3);

  auto dur = store_.Totals("http_req_duration");
  EXPECT_EQ(dur->count, 3u);
  EXPECT_EQ(dur->Value("avg", absl::ZeroDuration()), 200);
  EXPECT_EQ(dur->Value("min", absl::ZeroDuration()), 100);
  EXPECT_EQ(dur->Value("max", absl::ZeroDuration()), 300);
  EXPECT_NEAR(*dur->Value("med", absl::ZeroDuration()), 200, 2);
  EXPECT_NEAR(*dur->Value("p(95)", absl::ZeroDuration()), 290, 3);

  auto expected = store_.Totals("http_req_duration", {{"expected_response", "true"}});
  EXPECT_EQ(expected->count, 2u);
  EXPECT_EQ(expected->max, 200);

  auto failed = store_.Totals("http_req_failed");
  EXPECT_DOUBLE_EQ(failed->Rate(), 0.5);
  EXPECT_EQ(failed->Value("passes", absl::ZeroDuration()), 1);
  EXPECT_EQ(failed->Value("fails", absl::ZeroDuration()), 1);
  EXPECT_FALSE(store_.Totals("nope").has_value());
  EXPECT_EQ(store_.Totals("http_reqs", {{"status", "404"}})->count, 0u);
  EXPECT_EQ(store_.series_count(), 6u);
}

TEST_F(StoreTest, ListsMetricsInFirstSeenOrder) {
  agg_.Add(builtin::kIterations, TagSet{}, 1);
  agg_.Add(builtin::kVus, TagSet{}, 1);
  Flush();
  ASSERT_EQ(store_.Metrics().size(), 2u);
  EXPECT_EQ(store_.Metrics()[0].name, "iterations");
  EXPECT_EQ(store_.Metrics()[1].type, MetricType::kGauge);
  EXPECT_NE(store_.FindMetric("vus"), nullptr);
}

TEST_F(StoreTest, GaugeKeepsNewestValueAcrossSeriesAndBatches) {
  agg_.Add(builtin::kVus, agg_.Intern({{"a", "1"}}), 7, 100);
  agg_.Add(builtin::kVus, agg_.Intern({{"a", "2"}}), 3, 200);
  Flush();
  agg_.Add(builtin::kVus, agg_.Intern({{"a", "1"}}), 1, 150);  // older than the other series
  Flush();
  auto vus = store_.Totals("vus");
  EXPECT_EQ(vus->Value("value", absl::ZeroDuration()), 3);
  EXPECT_EQ(vus->min, 1);
  EXPECT_EQ(vus->max, 7);
}

TEST_F(StoreTest, EmptyRateHasNoRateValue) {
  Store store;
  MetricTotals t;
  t.type = MetricType::kRate;
  EXPECT_FALSE(t.Value("rate", absl::Seconds(1)).has_value());
  EXPECT_FALSE(t.Value("avg", absl::Seconds(1)).has_value());
}

TEST_F(StoreTest, ChecksByGroupInFirstSeenOrder) {
  agg_.Add(builtin::kChecks, TagSet{{"check", "b ok"}, {"group", ""}}, 1);
  agg_.Add(builtin::kChecks, TagSet{{"check", "a ok"}, {"group", "::g"}}, 0);
  agg_.Add(builtin::kChecks, TagSet{{"check", "b ok"}, {"group", ""}}, 1);
  agg_.Add(builtin::kChecks, TagSet{{"check", "b ok"}, {"group", ""}, {"scenario", "x"}}, 0);
  agg_.Add(builtin::kGroupDuration, TagSet{{"group", "::g::h"}}, 5);
  Flush();
  auto checks = store_.Checks();
  ASSERT_EQ(checks.size(), 2u);
  EXPECT_EQ(checks[0].name, "b ok");
  EXPECT_EQ(checks[0].group, "");
  EXPECT_EQ(checks[0].passes, 2u);
  EXPECT_EQ(checks[0].fails, 1u);
  EXPECT_EQ(checks[1].group, "::g");
  EXPECT_EQ(checks[1].fails, 1u);
  EXPECT_EQ(store_.GroupPaths(), (std::vector<std::string>{"", "::g", "::g::h"}));
}

TEST_F(StoreTest, RejectsTypeConflictsButMergesTheRest) {
  volley::v1::MetricBatch batch;
  agg_.Add(builtin::kIterations, TagSet{}, 2);
  agg_.TakeBatch(1, &batch);
  ASSERT_TRUE(store_.Merge(batch).ok());

  volley::v1::MetricBatch bad;
  auto* m0 = bad.add_metrics();
  m0->set_name("iterations");
  m0->set_type(volley::v1::TREND);
  auto* m1 = bad.add_metrics();
  m1->set_name("other");
  auto* s0 = bad.add_series();
  s0->set_metric(0);
  s0->set_count(1);
  auto* s1 = bad.add_series();
  s1->set_metric(1);
  s1->set_count(1);
  s1->set_sum(4);
  auto status = store_.Merge(bad);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_.Totals("iterations")->sum, 2);
  EXPECT_EQ(store_.Totals("other")->sum, 4);
}

TEST(Store, CardinalityGuardCountsDroppedSeries) {
  Registry registry;
  Aggregator agg(&registry);
  for (int i = 0; i < 5; ++i) agg.Add(builtin::kIterations, TagSet{{"i", std::to_string(i)}}, 1);
  volley::v1::MetricBatch batch;
  agg.TakeBatch(1, &batch);
  batch.set_dropped_series(10);
  Store store(/*max_series=*/3);
  ASSERT_TRUE(store.Merge(batch).ok());
  EXPECT_EQ(store.series_count(), 3u);
  EXPECT_EQ(store.dropped_series(), 12u);
}

// The controller's path for a distributed run: each agent merges its workers' batches
// (MergeBatchInto), the controller merges the agents' batches (Store::Merge), interval after
// interval. The same recorded latencies on 1 agent or split over 3 must give the same numbers:
// percentiles are read from the merged histogram, so they may not depend on the split.
TEST(StoreMerge, PercentilesDoNotDependOnHowTheTestWasSplit) {
  constexpr int kWorkers = 2, kIntervals = 5, kSamplesPerInterval = 6000;
  std::mt19937 rng(11);
  std::lognormal_distribution<double> latency(4.2, 0.9);
  std::uniform_int_distribution<int> which(0, 3 * kWorkers - 1), status(0, 4);

  struct Sample {
    double ms;
    TagSet tags;
    int slot;  // agent * kWorkers + worker when split over 3 agents
  };
  std::vector<std::vector<Sample>> intervals(kIntervals);
  for (auto& interval : intervals) {
    for (int i = 0; i < kSamplesPerInterval; ++i) {
      interval.push_back({latency(rng), {{"status", status(rng) == 0 ? "500" : "200"}},
                          which(rng)});
    }
  }

  // Runs the recording on `agents` agents of kWorkers workers each and returns the Store.
  Registry registry;
  auto run = [&](int agents) {
    std::vector<std::unique_ptr<Aggregator>> workers;
    for (int i = 0; i < agents * kWorkers; ++i) {
      workers.push_back(std::make_unique<Aggregator>(&registry));
    }
    Store store;
    std::int64_t now = 0;
    for (const auto& interval : intervals) {
      for (const Sample& sample : interval) {
        int slot = agents == 1 ? sample.slot % kWorkers : sample.slot;
        workers[slot]->Add(builtin::kHttpReqDuration, sample.tags, sample.ms);
        workers[slot]->Add(builtin::kHttpReqs, sample.tags, 1);
      }
      ++now;
      // Agents' batches reach the controller in any order; the last agent first here.
      for (int agent = agents - 1; agent >= 0; --agent) {
        volley::v1::MetricBatch agent_batch;
        for (int w = 0; w < kWorkers; ++w) {
          volley::v1::MetricBatch part;
          workers[agent * kWorkers + w]->TakeBatch(now, &part);
          MergeBatchInto(part, &agent_batch);
        }
        EXPECT_TRUE(store.Merge(agent_batch).ok());
      }
    }
    return store;
  };
  Store one = run(1), three = run(3);

  for (const TagSet& filter : {TagSet{}, TagSet{{"status", "500"}}}) {
    SCOPED_TRACE(filter.empty() ? "all series" : "status 500");
    auto a = one.Totals("http_req_duration", filter);
    auto b = three.Totals("http_req_duration", filter);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_EQ(a->count, b->count);
    EXPECT_EQ(a->min, b->min);
    EXPECT_EQ(a->max, b->max);
    EXPECT_NEAR(a->sum, b->sum, 1e-9 * a->sum);
    for (const char* stat : {"med", "p(90)", "p(95)", "p(99)", "p(99.9)"}) {
      SCOPED_TRACE(stat);
      EXPECT_EQ(a->Value(stat, absl::Seconds(kIntervals)),
                b->Value(stat, absl::Seconds(kIntervals)));
    }
    EXPECT_EQ(one.Totals("http_reqs", filter)->sum, three.Totals("http_reqs", filter)->sum);
  }
  EXPECT_EQ(one.Totals("http_reqs")->sum, kIntervals * kSamplesPerInterval);
}

}  // namespace
}  // namespace volley::metrics
