#include "common/schedule.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

#include "absl/strings/str_cat.h"

namespace volley {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

absl::Duration S(double seconds) { return absl::Milliseconds(seconds * 1000); }

std::vector<ExecutionTuple> Thirds() {
  std::vector<ExecutionTuple> result;
  const ExecutionSegmentSequence seq = ExecutionSegmentSequence::Even(3);
  for (const ExecutionSegment& s : seq.segments())
    result.push_back(*ExecutionTuple::Create(s, seq));
  return result;
}

std::vector<VuStep> Steps(std::initializer_list<std::pair<double, std::int64_t>> steps) {
  std::vector<VuStep> result;
  for (const auto& [seconds, vus] : steps) result.push_back(VuStep{S(seconds), vus});
  return result;
}

// k6's documented ramping-vus example: 4 VUs, up to 6, down to 1, up to 5, down to 1, up to 4,
// hold, jump to 1, hold.
ScenarioConfig WobblyRamp() {
  ScenarioConfig c;
  c.name = "ramp";
  c.executor = ExecutorType::kRampingVus;
  c.start_vus = 4;
  c.stages = {{S(2), 6}, {S(5), 1}, {S(4), 5}, {S(4), 1},
              {S(3), 4}, {S(2), 4}, {S(0), 1}, {S(3), 1}};
  return c;
}

TEST(RampingVusPlan, ScheduledVusFollowK6sExample) {
  const RampingVusPlan plan = RampingVusPlan::Make(WobblyRamp(), ExecutionTuple());
  EXPECT_THAT(
      plan.scheduled(),
      ElementsAreArray(Steps({{0, 4},  {1, 5},  {2, 6},  {3, 5},  {4, 4},  {5, 3},  {6, 2},
                              {7, 1},  {8, 2},  {9, 3},  {10, 4}, {11, 5}, {12, 4}, {13, 3},
                              {14, 2}, {15, 1}, {16, 2}, {17, 3}, {18, 4}, {20, 1}, {23, 0}})));
  EXPECT_EQ(plan.regular_duration(), S(23));
  EXPECT_EQ(plan.max_duration(), S(53));
  EXPECT_EQ(plan.max_vus(), 6);
}

TEST(RampingVusPlan, MaxAllowedTrailsByGracefulRampDown) {
  struct Case {
    const char* name;
    absl::Duration graceful_stop;
    absl::Duration graceful_ramp_down;
    std::vector<VuStep> want;
  } cases[] = {
      {"defaults", S(30), S(30),
       Steps({{0, 4}, {1, 5}, {2, 6}, {33, 5}, {42, 4}, {50, 1}, {53, 0}})},
      {"long gracefulStop", S(80), S(30),
       Steps({{0, 4}, {1, 5}, {2, 6}, {33, 5}, {42, 4}, {50, 1}, {103, 0}})},
      {"short gracefulStop", S(3), S(30), Steps({{0, 4}, {1, 5}, {2, 6}, {26, 0}})},
      {"no gracefulStop", S(0), S(30), Steps({{0, 4}, {1, 5}, {2, 6}, {23, 0}})},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ScenarioConfig config = WobblyRamp();
    config.graceful_stop = c.graceful_stop;
    config.graceful_ramp_down = c.graceful_ramp_down;
    EXPECT_THAT(RampingVusPlan::Make(config, ExecutionTuple()).max_allowed(),
                ElementsAreArray(c.want));
  }

  // Without any grace the hard limit is the schedule itself.
  ScenarioConfig config = WobblyRamp();
  config.graceful_stop = absl::ZeroDuration();
  config.graceful_ramp_down = absl::ZeroDuration();
  const RampingVusPlan plan = RampingVusPlan::Make(config, ExecutionTuple());
  EXPECT_EQ(plan.max_allowed(), plan.scheduled());
}

TEST(RampingVusPlan, OneThirdSegmentOfK6sExample) {
  const ExecutionTuple third = *ExecutionTuple::Parse("0:1/3", "");
  const RampingVusPlan plan = RampingVusPlan::Make(WobblyRamp(), third);
  EXPECT_THAT(
      plan.scheduled(),
      ElementsAreArray(Steps(
          {{0, 1}, {1, 2}, {4, 1}, {7, 0}, {8, 1}, {11, 2}, {12, 1}, {15, 0}, {16, 1}, {20, 0}})));
  EXPECT_THAT(plan.max_allowed(), ElementsAreArray(Steps({{0, 1}, {1, 2}, {42, 1}, {50, 0}})));
}

TEST(RampingVusPlan, VusAtEachInstantOfALinearRamp) {
  ScenarioConfig c;
  c.executor = ExecutorType::kRampingVus;
  c.start_vus = 0;
  c.stages = {{S(10), 10}, {S(5), 10}, {S(10), 0}};
  const RampingVusPlan plan = RampingVusPlan::Make(c, ExecutionTuple());
  struct Case {
    double t;
    std::int64_t vus;
  } cases[] = {{-1, 0},    {0, 0},    {0.999, 0},  {1, 1},   {5.5, 5},
               {9.999, 9}, {10, 10},  {14.9, 10},  {15, 10}, {15.999, 10},
               {16, 9},    {20.5, 5}, {24.999, 1}, {25, 0},  {100, 0}};
  for (const Case& k : cases) {
    SCOPED_TRACE(k.t);
    EXPECT_EQ(plan.VusAt(S(k.t)), k.vus);
  }
  // Ramped-down VUs may finish their iterations for gracefulRampDown (30s), all of them by the
  // end of gracefulStop (30s after the stages).
  EXPECT_EQ(plan.MaxAllowedVusAt(S(20)), 10);
  EXPECT_EQ(plan.MaxAllowedVusAt(S(45.999)), 10);  // the first VU was told to stop at 16s
  EXPECT_EQ(plan.MaxAllowedVusAt(S(46)), 9);
  EXPECT_EQ(plan.MaxAllowedVusAt(S(54.9)), 1);
  EXPECT_EQ(plan.MaxAllowedVusAt(S(55)), 0);
}

TEST(RampingVusPlan, SegmentsAddUpToTheWholeAtEveryInstant) {
  ScenarioConfig c = WobblyRamp();
  c.stages.push_back({S(7), 23});
  c.stages.push_back({S(3), 2});
  const RampingVusPlan whole = RampingVusPlan::Make(c, ExecutionTuple());
  std::vector<RampingVusPlan> parts;
  for (const ExecutionTuple& t : Thirds()) parts.push_back(RampingVusPlan::Make(c, t));
  for (std::int64_t ms = 0; ms <= 70'000; ms += 50) {
    const absl::Duration t = absl::Milliseconds(ms);
    std::int64_t scheduled = 0, allowed = 0;
    for (const RampingVusPlan& p : parts) {
      scheduled += p.VusAt(t);
      allowed += p.MaxAllowedVusAt(t);
    }
    ASSERT_EQ(scheduled, whole.VusAt(t)) << "at " << t;
    ASSERT_GE(allowed, whole.VusAt(t)) << "at " << t;
  }
}

TEST(ArrivalSchedule, ConstantRateStartsOnTheGrid) {
  ArrivalSchedule s =
      ArrivalSchedule::Constant(200, absl::Seconds(1), absl::Seconds(10), ExecutionTuple());
  EXPECT_EQ(s.CountRemaining(), 2000);
  EXPECT_EQ(s.Next(), (ArrivalIteration{absl::ZeroDuration(), 0, 0}));
  EXPECT_EQ(s.Next(), (ArrivalIteration{absl::Milliseconds(5), 1, 1}));
  EXPECT_EQ(s.Next(), (ArrivalIteration{absl::Milliseconds(10), 2, 2}));
  std::optional<ArrivalIteration> last;
  while (std::optional<ArrivalIteration> it = s.Next()) last = it;
  EXPECT_EQ(last->offset, absl::Milliseconds(9995));
  EXPECT_EQ(last->iteration_in_test, 1999);

  // 1 per 3 seconds: the period is truncated to whole nanoseconds, as in k6.
  ArrivalSchedule slow =
      ArrivalSchedule::Constant(1, absl::Seconds(3), absl::Seconds(10), ExecutionTuple());
  slow.Next();
  EXPECT_EQ(slow.Next()->offset, absl::Seconds(3));
  EXPECT_EQ(slow.CountRemaining(), 2);  // at 6s and 9s
  ArrivalSchedule thirds =
      ArrivalSchedule::Constant(3, absl::Seconds(1), absl::Seconds(1), ExecutionTuple());
  thirds.Next();
  EXPECT_EQ(thirds.Next()->offset, absl::Nanoseconds(333'333'333));
}

TEST(ArrivalSchedule, ConstantRateSplitOverThreeSegmentsInterleaves) {
  ScenarioConfig c;
  c.name = "car";
  c.executor = ExecutorType::kConstantArrivalRate;
  c.rate = 200;
  c.duration = absl::Seconds(10);
  c.pre_allocated_vus = 30;
  std::map<std::int64_t, int> owner;  // global iteration -> segment
  std::int64_t total = 0;
  const std::vector<ExecutionTuple> tuples = Thirds();
  for (int i = 0; i < 3; ++i) {
    ScenarioShare share = Plan(c, tuples[i]);
    EXPECT_EQ(share.pre_allocated_vus, 10);
    ArrivalSchedule s = share.arrivals;
    std::int64_t local = 0;
    while (std::optional<ArrivalIteration> it = s.Next()) {
      EXPECT_EQ(it->offset, absl::Milliseconds(5) * it->iteration_in_test);
      EXPECT_EQ(it->iteration_in_instance, local++);
      EXPECT_TRUE(owner.emplace(it->iteration_in_test, i).second);
    }
    EXPECT_EQ(local, 2000 / 3 + (i < 2000 % 3 ? 1 : 0));
    total += local;
  }
  EXPECT_EQ(total, 2000);
  ASSERT_EQ(owner.size(), 2000u);
  EXPECT_EQ(owner.begin()->first, 0);
  EXPECT_EQ(owner.rbegin()->first, 1999);
  for (std::int64_t g = 0; g + 2 < 2000; g += 3) {  // every 3 consecutive: one per segment
    EXPECT_EQ(std::set<int>({owner[g], owner[g + 1], owner[g + 2]}).size(), 3u) << g;
  }
}

TEST(ArrivalSchedule, IterationsFollowTheVusAcrossSegments) {
  // maxVUs 10 over thirds is 4/3/3, so the iterations are split 40%/30%/30% as in k6.
  ScenarioConfig c;
  c.executor = ExecutorType::kConstantArrivalRate;
  c.rate = 100;
  c.duration = absl::Seconds(10);
  c.pre_allocated_vus = 10;
  std::vector<std::int64_t> counts;
  for (const ExecutionTuple& t : Thirds()) counts.push_back(Plan(c, t).arrivals.CountRemaining());
  EXPECT_THAT(counts, ElementsAre(400, 300, 300));

  // With 1 VU only the first segment has work.
  c.pre_allocated_vus = 1;
  std::vector<bool> has_work;
  counts.clear();
  for (const ExecutionTuple& t : Thirds()) {
    ScenarioShare share = Plan(c, t);
    has_work.push_back(share.has_work);
    counts.push_back(share.arrivals.CountRemaining());
  }
  EXPECT_THAT(has_work, ElementsAre(true, false, false));
  EXPECT_THAT(counts, ElementsAre(1000, 0, 0));
}

TEST(ArrivalSchedule, RampingRateSolvesTheIntegral) {
  // 0 -> 10/s over 10s: the integral is t^2/2, so iteration k starts at sqrt(2k) seconds.
  ArrivalSchedule ramp =
      ArrivalSchedule::Ramping(0, absl::Seconds(1), {{S(10), 10}}, ExecutionTuple());
  EXPECT_EQ(ramp.CountRemaining(), 50);
  for (int k = 1; k <= 50; ++k) {
    SCOPED_TRACE(k);
    std::optional<ArrivalIteration> it = ramp.Next();
    ASSERT_TRUE(it.has_value());
    EXPECT_NEAR(absl::ToDoubleSeconds(it->offset), std::sqrt(2.0 * k), 1e-9);
    EXPECT_EQ(it->iteration_in_test, k - 1);
  }
  EXPECT_FALSE(ramp.Next().has_value());

  // A constant stage is exact: 10/s means the k-th iteration at k * 100ms.
  ArrivalSchedule flat =
      ArrivalSchedule::Ramping(10, absl::Seconds(1), {{S(10), 10}}, ExecutionTuple());
  EXPECT_EQ(flat.Next()->offset, absl::Milliseconds(100));
  EXPECT_EQ(flat.Next()->offset, absl::Milliseconds(200));
  EXPECT_EQ(flat.CountRemaining(), 98);

  // Ramping down 10 -> 0 per minute over 1m, then 60/m for 1m: 5 + 60 iterations; the first
  // stage's 5th iteration lands exactly at its end.
  ArrivalSchedule down = ArrivalSchedule::Ramping(
      10, absl::Minutes(1), {{S(60), 0}, {S(0), 60}, {S(60), 60}}, ExecutionTuple());
  EXPECT_EQ(down.CountRemaining(), 65);
  std::vector<absl::Duration> offsets;
  while (std::optional<ArrivalIteration> it = down.Next()) offsets.push_back(it->offset);
  EXPECT_NEAR(absl::ToDoubleSeconds(offsets[4]), 60, 1e-6);
  EXPECT_EQ(offsets[5], absl::Seconds(61));
  EXPECT_EQ(offsets.back(), absl::Seconds(120));
  EXPECT_TRUE(std::is_sorted(offsets.begin(), offsets.end()));
}

TEST(ArrivalSchedule, RampingRateSplitSumsToTheWhole) {
  ScenarioConfig c;
  c.executor = ExecutorType::kRampingArrivalRate;
  c.start_rate = 50;
  c.pre_allocated_vus = 9;
  c.stages = {{S(5), 300}, {S(5), 300}, {S(10), 0}};
  ArrivalSchedule whole = Plan(c, ExecutionTuple()).arrivals;
  std::map<std::int64_t, absl::Duration> want;
  while (std::optional<ArrivalIteration> it = whole.Next())
    want[it->iteration_in_test] = it->offset;
  EXPECT_EQ(want.size(), 875u + 1500u + 1500u);

  std::map<std::int64_t, absl::Duration> got;
  for (const ExecutionTuple& t : Thirds()) {
    ArrivalSchedule part = Plan(c, t).arrivals;
    while (std::optional<ArrivalIteration> it = part.Next()) {
      EXPECT_TRUE(got.emplace(it->iteration_in_test, it->offset).second);
    }
  }
  EXPECT_EQ(got, want);  // same iterations at the same instants, just dealt out
}

TEST(Plan, SharesOfVuBasedExecutors) {
  struct Case {
    const char* name;
    ScenarioConfig config;
    std::vector<std::int64_t> vus;
    std::vector<std::int64_t> iterations;
    absl::Duration max_duration;
  };
  ScenarioConfig shared;
  shared.executor = ExecutorType::kSharedIterations;
  shared.vus = 10;
  shared.iterations = 100;
  ScenarioConfig shared_odd = shared;
  shared_odd.vus = 3;
  shared_odd.iterations = 10;
  ScenarioConfig per_vu;
  per_vu.executor = ExecutorType::kPerVuIterations;
  per_vu.vus = 10;
  per_vu.iterations = 5;
  per_vu.max_duration = absl::Minutes(1);
  per_vu.graceful_stop = absl::Seconds(5);
  ScenarioConfig constant;
  constant.executor = ExecutorType::kConstantVus;
  constant.vus = 10;
  constant.duration = absl::Seconds(30);
  const Case cases[] = {
      {"shared-iterations", shared, {4, 3, 3}, {40, 30, 30}, absl::Minutes(10) + absl::Seconds(30)},
      {"shared-iterations odd", shared_odd, {1, 1, 1}, {4, 3, 3}, absl::Seconds(630)},
      {"per-vu-iterations", per_vu, {4, 3, 3}, {5, 5, 5}, absl::Seconds(65)},
      {"constant-vus", constant, {4, 3, 3}, {0, 0, 0}, absl::Seconds(60)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::vector<std::int64_t> vus, iterations;
    for (const ExecutionTuple& t : Thirds()) {
      const ScenarioShare share = Plan(c.config, t);
      vus.push_back(share.vus);
      iterations.push_back(share.iterations);
      EXPECT_EQ(share.max_duration, c.max_duration);
      EXPECT_TRUE(share.has_work);
      EXPECT_EQ(share.requirements,
                (std::vector<ExecutionStep>{{absl::ZeroDuration(), share.vus, 0},
                                            {c.max_duration, 0, 0}}));
    }
    EXPECT_EQ(vus, c.vus);
    EXPECT_EQ(iterations, c.iterations);
  }
}

TEST(Plan, SharedIterationsNumberIterationsAcrossSegments) {
  ScenarioConfig c;
  c.executor = ExecutorType::kSharedIterations;
  c.vus = 3;
  c.iterations = 10;
  std::set<std::int64_t> seen;
  for (const ExecutionTuple& t : Thirds()) {
    const ScenarioShare share = Plan(c, t);
    SegmentedIndex index(share.iteration_tuple);
    for (std::int64_t i = 0; i < share.iterations; ++i) {
      EXPECT_TRUE(seen.insert(index.Next().unscaled - 1).second);
    }
  }
  EXPECT_EQ(seen, (std::set<std::int64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));
}

TEST(PlanTest, CombinesScenariosOverTime) {
  absl::StatusOr<Options> options = ParseOptionsJson(nlohmann::json::parse(R"j({"scenarios": {
      "b": {"executor": "constant-vus", "vus": 6, "duration": "10s", "gracefulStop": "0s"},
      "a": {"executor": "constant-vus", "vus": 3, "duration": "10s", "startTime": "5s",
            "gracefulStop": "2s"},
      "c": {"executor": "constant-arrival-rate", "rate": 1, "duration": "20s",
            "preAllocatedVUs": 2, "maxVUs": 5, "startTime": "30s"}}})j"));
  ASSERT_TRUE(options.ok()) << options.status();
  absl::StatusOr<TestPlan> plan = PlanTest(*options, ExecutionTuple());
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->scenarios.size(), 3u);
  EXPECT_EQ(plan->scenarios[0].config.name, "b");  // by startTime, then name
  EXPECT_EQ(plan->scenarios[1].config.name, "a");
  EXPECT_EQ(plan->scenarios[2].config.name, "c");
  EXPECT_EQ(plan->max_duration, absl::Seconds(80));  // 30s + 20s + 30s gracefulStop
  EXPECT_EQ(plan->max_planned_vus, 9);               // b and a overlap from 5s to 10s
  EXPECT_EQ(plan->max_possible_vus, 9);
  EXPECT_EQ(plan->requirements, (std::vector<ExecutionStep>{{absl::Seconds(0), 6, 0},
                                                            {absl::Seconds(5), 9, 0},
                                                            {absl::Seconds(10), 3, 0},
                                                            {absl::Seconds(17), 0, 0},
                                                            {absl::Seconds(30), 2, 3},
                                                            {absl::Seconds(80), 0, 0}}));
}

TEST(PlanTest, DerivesTheDefaultScenarioAndRejectsConflicts) {
  Options options;
  options.vus = 5;
  options.duration = absl::Seconds(30);
  absl::StatusOr<TestPlan> plan = PlanTest(options, ExecutionTuple());
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->scenarios.size(), 1u);
  EXPECT_EQ(plan->scenarios[0].executor, ExecutorType::kConstantVus);
  EXPECT_EQ(plan->scenarios[0].exec, "default");
  EXPECT_EQ(plan->max_duration, absl::Seconds(60));

  options.stages = std::vector<Stage>{{absl::Seconds(1), 1}};
  EXPECT_FALSE(PlanTest(options, ExecutionTuple()).ok());
}

}  // namespace
}  // namespace volley
