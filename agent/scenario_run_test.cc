// The executors' scheduling decisions (NextVuAction, InterruptDeadline, ArrivalDispatch) driven
// against a fake clock: a small discrete-event simulation plays VUs whose iterations take a
// given time, exactly as ScenarioRun's drivers would on a loop, and the tests check the exact
// schedule that results. No test here sleeps or reads a real clock.
#include "agent/scenario_run.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <nlohmann/json.hpp>
#include <queue>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/options.h"

namespace volley::agent {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

absl::Duration Ms(std::int64_t ms) { return absl::Milliseconds(ms); }

// One iteration as the simulation saw it.
struct Iter {
  std::int64_t vu = 0;
  absl::Duration start;
  absl::Duration end;  // finished, or interrupted at this instant
  bool interrupted = false;
  std::int64_t iteration_in_instance = 0;
  friend bool operator==(const Iter&, const Iter&) = default;
};

std::ostream& operator<<(std::ostream& os, const Iter& r) {
  return os << "{vu " << r.vu << " " << absl::FormatDuration(r.start) << ".."
            << absl::FormatDuration(r.end) << (r.interrupted ? " interrupted" : "") << " #"
            << r.iteration_in_instance << "}";
}

using Duration = std::function<absl::Duration(std::int64_t vu, std::int64_t iteration)>;

// Plays ScenarioRun::Drive for every VU of `share` on a virtual clock. A VU whose iteration is
// still running at its InterruptDeadline is interrupted there; it runs nothing more, except
// under ramping-vus, where it may be scheduled again (the same VU, its interrupt cleared). Events
// at the same instant run in VU order.
std::vector<Iter> SimulateVus(const ScenarioShare& share, std::int64_t vus, const Duration& took) {
  std::vector<Iter> iters;
  std::vector<std::int64_t> iterations(static_cast<std::size_t>(vus), 0);
  std::int64_t next_shared = 0;
  using Event = std::pair<absl::Duration, std::int64_t>;  // (when, vu)
  std::priority_queue<Event, std::vector<Event>, std::greater<>> events;
  for (std::int64_t vu = 0; vu < vus; ++vu) events.push({-absl::Seconds(1), vu});
  for (int guard = 0; !events.empty() && guard < 1'000'000; ++guard) {
    auto [now, vu] = events.top();
    events.pop();
    const VuAction action = NextVuAction(share, vu, iterations[vu], now);
    if (action.kind == VuAction::kDone) continue;
    if (action.kind == VuAction::kWait) {
      EXPECT_GT(action.wake, now);
      events.push({action.wake, vu});
      continue;
    }
    const std::int64_t number = next_shared++;
    if (share.executor == ExecutorType::kSharedIterations && number >= share.iterations) continue;
    const absl::Duration deadline = InterruptDeadline(share, vu, now);
    const absl::Duration end = now + took(vu, iterations[vu]);
    ++iterations[vu];
    if (end > deadline) {
      iters.push_back({vu, now, deadline, true, number});
      if (share.executor == ExecutorType::kRampingVus) events.push({deadline, vu});
      continue;
    }
    iters.push_back({vu, now, end, false, number});
    events.push({end, vu});
  }
  return iters;
}

// VUs inside an iteration at `t`.
std::int64_t BusyAt(const std::vector<Iter>& iters, absl::Duration t) {
  std::int64_t n = 0;
  for (const Iter& r : iters) n += r.start <= t && t < r.end;
  return n;
}

ScenarioConfig Config(ExecutorType executor) {
  ScenarioConfig c;
  c.name = "sc";
  c.executor = executor;
  return c;
}

TEST(ConstantVus, GracefulStopLetsAnIterationFinishOrInterruptsIt) {
  struct Case {
    absl::Duration graceful_stop;
    std::vector<Iter> want_vu0;
  };
  // 2 VUs, 1 s, iterations of 400 ms: both start at 0, 400 ms and 800 ms; the last ends at
  // 1.2 s, within a 300 ms gracefulStop, past a 100 ms one (interrupted at 1.1 s).
  const std::vector<Case> cases = {
      {Ms(300),
       {{0, Ms(0), Ms(400), false, 0},
        {0, Ms(400), Ms(800), false, 2},
        {0, Ms(800), Ms(1200), false, 4}}},
      {Ms(100),
       {{0, Ms(0), Ms(400), false, 0},
        {0, Ms(400), Ms(800), false, 2},
        {0, Ms(800), Ms(1100), true, 4}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat("gracefulStop=", absl::FormatDuration(c.graceful_stop)));
    ScenarioConfig config = Config(ExecutorType::kConstantVus);
    config.vus = 2;
    config.duration = absl::Seconds(1);
    config.graceful_stop = c.graceful_stop;
    const ScenarioShare share = Plan(config, ExecutionTuple());
    const std::vector<Iter> iters =
        SimulateVus(share, share.vus, [](auto, auto) { return Ms(400); });
    std::vector<Iter> vu0;
    for (const Iter& r : iters) {
      if (r.vu == 0) vu0.push_back(r);
    }
    EXPECT_THAT(vu0, ElementsAreArray(c.want_vu0));
    EXPECT_EQ(iters.size(), 6u);
    EXPECT_EQ(BusyAt(iters, Ms(999)), 2);
  }
}

TEST(PerVuIterations, EachVuRunsItsIterationsUntilMaxDuration) {
  ScenarioConfig config = Config(ExecutorType::kPerVuIterations);
  config.vus = 3;
  config.iterations = 4;
  const ScenarioShare share = Plan(config, ExecutionTuple());
  std::vector<Iter> iters = SimulateVus(share, share.vus, [](auto, auto) { return Ms(100); });
  ASSERT_EQ(iters.size(), 12u);
  for (const Iter& r : iters) EXPECT_FALSE(r.interrupted) << r;
  EXPECT_EQ(iters.back().end, Ms(400));

  // maxDuration 250 ms, no gracefulStop: the third iteration of each VU (200..300 ms) is cut at
  // 250 ms; the fourth never starts.
  config.max_duration = Ms(250);
  config.graceful_stop = absl::ZeroDuration();
  iters = SimulateVus(Plan(config, ExecutionTuple()), 3, [](auto, auto) { return Ms(100); });
  ASSERT_EQ(iters.size(), 9u);
  for (const Iter& r : iters) {
    EXPECT_EQ(r.interrupted, r.start == Ms(200)) << r;
    if (r.interrupted) EXPECT_EQ(r.end, Ms(250));
  }
}

TEST(SharedIterations, VusShareExactlyTheIterations) {
  ScenarioConfig config = Config(ExecutorType::kSharedIterations);
  config.vus = 3;
  config.iterations = 10;
  const ScenarioShare share = Plan(config, ExecutionTuple());
  // VU n takes (n+1) * 100 ms per iteration: the fastest runs the most.
  const std::vector<Iter> iters =
      SimulateVus(share, share.vus, [](std::int64_t vu, auto) { return Ms(100 * (vu + 1)); });
  std::vector<int> per_vu(3, 0);
  std::set<std::int64_t> numbers;
  for (const Iter& r : iters) {
    ++per_vu[static_cast<std::size_t>(r.vu)];
    numbers.insert(r.iteration_in_instance);
  }
  EXPECT_EQ(iters.size(), 10u);
  EXPECT_THAT(per_vu, ElementsAre(5, 3, 2));
  EXPECT_EQ(numbers.size(), 10u);
  EXPECT_EQ(*numbers.rbegin(), 9);
}

TEST(SharedIterations, SegmentsSplitTheIterationsAndNumberThemUniquely) {
  ScenarioConfig config = Config(ExecutorType::kSharedIterations);
  config.vus = 5;
  config.iterations = 100;
  const ExecutionSegmentSequence seq = ExecutionSegmentSequence::Even(3);
  std::set<std::int64_t> in_test;
  std::int64_t total = 0;
  for (const ExecutionSegment& segment : seq.segments()) {
    const ScenarioShare share = Plan(config, *ExecutionTuple::Create(segment, seq));
    const std::vector<Iter> iters =
        SimulateVus(share, share.vus, [](auto, auto) { return Ms(10); });
    EXPECT_EQ(static_cast<std::int64_t>(iters.size()), share.iterations);
    total += share.iterations;
    for (const Iter& r : iters) {
      EXPECT_TRUE(in_test.insert(share.iteration_tuple.GlobalIndex(r.iteration_in_instance)).second)
          << r;
    }
  }
  EXPECT_EQ(total, 100);
  EXPECT_EQ(*in_test.rbegin(), 99);
}

TEST(RampingVus, ActiveVusFollowTheRampAtEveryInstant) {
  // 0 -> 10 VUs over 10 s, then 10 -> 0 over 10 s. VU i (0-based) starts at i+1 s and stops
  // at 20-i s; with 100 ms iterations the VUs busy at t+50ms are exactly the plan's count.
  ScenarioConfig config = Config(ExecutorType::kRampingVus);
  config.start_vus = 0;
  config.stages = {{absl::Seconds(10), 10}, {absl::Seconds(10), 0}};
  const ScenarioShare share = Plan(config, ExecutionTuple());
  const std::vector<Iter> iters = SimulateVus(share, share.vus, [](auto, auto) { return Ms(100); });
  for (const Iter& r : iters) ASSERT_FALSE(r.interrupted) << r;
  std::vector<std::int64_t> busy;
  for (int second = 0; second < 21; ++second) {
    busy.push_back(BusyAt(iters, absl::Seconds(second) + Ms(50)));
  }
  EXPECT_THAT(busy, ElementsAre(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0));
  // VU 9 runs from 10 s to 11 s: 10 iterations.
  EXPECT_EQ(std::count_if(iters.begin(), iters.end(), [](const Iter& r) { return r.vu == 9; }), 10);
}

TEST(RampingVus, GracefulRampDownInterruptsOnlyWhatOutlivesIt) {
  // 0 -> 2 VUs over 2 s (VU 0 from 1 s, VU 1 from 2 s), 2 -> 0 over 2 s (VU 1 out at 3 s, VU 0
  // at 4 s, the end). Iterations take 1.6 s; gracefulStop 0.
  struct Case {
    absl::Duration graceful_ramp_down;
    std::vector<Iter> want;
  };
  const std::vector<Case> cases = {
      // VU 1's iteration from 2 s would end at 3.6 s: past 3 s + 0.5 s, so cut at 3.5 s. VU 0's
      // second iteration (2.6..4.2 s) outlives the scenario and is cut at its end, 4 s.
      {Ms(500),
       {{0, Ms(1000), Ms(2600), false, 0},
        {1, Ms(2000), Ms(3500), true, 1},
        {0, Ms(2600), Ms(4000), true, 2}}},
      // With 2 s of grace VU 1 finishes at 3.6 s and, no longer scheduled, stops.
      {Ms(2000),
       {{0, Ms(1000), Ms(2600), false, 0},
        {1, Ms(2000), Ms(3600), false, 1},
        {0, Ms(2600), Ms(4000), true, 2}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat("gracefulRampDown=", absl::FormatDuration(c.graceful_ramp_down)));
    ScenarioConfig config = Config(ExecutorType::kRampingVus);
    config.start_vus = 0;
    config.stages = {{absl::Seconds(2), 2}, {absl::Seconds(2), 0}};
    config.graceful_ramp_down = c.graceful_ramp_down;
    config.graceful_stop = absl::ZeroDuration();
    const ScenarioShare share = Plan(config, ExecutionTuple());
    EXPECT_THAT(SimulateVus(share, share.vus, [](auto, auto) { return Ms(1600); }),
                ElementsAreArray(c.want));
  }
}

TEST(RampingVus, AVuCutByRampDownRunsAgainWhenScheduledAgain) {
  // 2 VUs for 1 s, 1 VU for 1 s, 2 VUs for 1 s; iterations of 700 ms, gracefulRampDown 200 ms,
  // no gracefulStop. VU 1 is cut at 1.2 s, comes back at 2 s, and is cut again at the end.
  ScenarioConfig config = Config(ExecutorType::kRampingVus);
  config.start_vus = 2;
  config.stages = {{absl::Seconds(1), 2},
                   {absl::ZeroDuration(), 1},
                   {absl::Seconds(1), 1},
                   {absl::ZeroDuration(), 2},
                   {absl::Seconds(1), 2}};
  config.graceful_ramp_down = Ms(200);
  config.graceful_stop = absl::ZeroDuration();
  const ScenarioShare share = Plan(config, ExecutionTuple());
  std::vector<Iter> vu1;
  for (const Iter& it : SimulateVus(share, share.vus, [](auto, auto) { return Ms(700); })) {
    if (it.vu == 1) vu1.push_back(it);
  }
  EXPECT_THAT(
      vu1,
      ElementsAre(Iter{1, Ms(0), Ms(700), false, 1}, Iter{1, Ms(700), Ms(1200), true, 3},
                  Iter{1, Ms(2000), Ms(2700), false, 5}, Iter{1, Ms(2700), Ms(3000), true, 7}));
}

TEST(RampingVus, ADescheduledVuWaitsForItsNextTurn) {
  // 2 VUs, down to 1 for 2 s, back to 2: VU 1 waits, then resumes at the instant it is
  // scheduled again; when no later stage schedules it, it is done.
  ScenarioConfig config = Config(ExecutorType::kRampingVus);
  config.start_vus = 2;
  config.stages = {{absl::ZeroDuration(), 1},
                   {absl::Seconds(2), 1},
                   {absl::ZeroDuration(), 2},
                   {absl::Seconds(1), 2}};
  const ScenarioShare share = Plan(config, ExecutionTuple());
  EXPECT_EQ(NextVuAction(share, 1, 0, Ms(500)), (VuAction{VuAction::kWait, absl::Seconds(2)}));
  EXPECT_EQ(NextVuAction(share, 1, 0, absl::Seconds(2)).kind, VuAction::kRun);
  EXPECT_EQ(NextVuAction(share, 0, 0, Ms(500)).kind, VuAction::kRun);
  EXPECT_EQ(NextVuAction(share, 0, 5, absl::Seconds(3)).kind, VuAction::kDone);
  EXPECT_EQ(NextVuAction(share, 0, 0, -Ms(1)), (VuAction{VuAction::kWait, absl::ZeroDuration()}));

  config.stages = {{absl::ZeroDuration(), 1}, {absl::Seconds(2), 1}};
  EXPECT_EQ(NextVuAction(Plan(config, ExecutionTuple()), 1, 0, Ms(500)).kind, VuAction::kDone);
}

// Plays ScenarioRun::Dispatch for `workers` workers, each with `vus_per_worker` VUs: an
// iteration goes to the worker's first free VU, or is dropped when none is free.
struct ArrivalResult {
  std::vector<Iter> iters;  // in start order per worker, workers one after another
  std::vector<absl::Duration> dropped;
};
ArrivalResult SimulateArrivals(const ScenarioShare& share, std::int64_t workers,
                               std::int64_t vus_per_worker, const Duration& took) {
  ArrivalResult result;
  for (std::int64_t w = 0; w < workers; ++w) {
    ArrivalDispatch dispatch(share, w, workers);
    std::vector<absl::Duration> free_at(static_cast<std::size_t>(vus_per_worker));
    std::vector<std::int64_t> done(free_at.size(), 0);
    while (std::optional<ArrivalIteration> it = dispatch.Next()) {
      auto vu = std::find_if(free_at.begin(), free_at.end(),
                             [&](absl::Duration t) { return t <= it->offset; });
      if (vu == free_at.end()) {
        result.dropped.push_back(it->offset);
        continue;
      }
      const std::size_t index = static_cast<std::size_t>(vu - free_at.begin());
      const std::int64_t id = w * vus_per_worker + static_cast<std::int64_t>(index);
      const absl::Duration end = it->offset + took(id, done[index]++);
      const absl::Duration deadline = InterruptDeadline(share, id, it->offset);
      result.iters.push_back(
          {id, it->offset, std::min(end, deadline), end > deadline, it->iteration_in_instance});
      *vu = end > deadline ? absl::InfiniteDuration() : end;
    }
  }
  return result;
}

ScenarioConfig ConstantRate(std::int64_t rate, absl::Duration duration, std::int64_t vus) {
  ScenarioConfig config = Config(ExecutorType::kConstantArrivalRate);
  config.rate = rate;
  config.duration = duration;
  config.pre_allocated_vus = vus;
  return config;
}

std::vector<absl::Duration> Starts(const std::vector<Iter>& iters) {
  std::vector<absl::Duration> starts;
  for (const Iter& r : iters) starts.push_back(r.start);
  std::sort(starts.begin(), starts.end());
  return starts;
}

TEST(ConstantArrivalRate, StartsOnScheduleAndDropsWhenNoVuIsFree) {
  struct Case {
    const char* name;
    absl::Duration took;
    std::vector<absl::Duration> want_started;
    std::vector<absl::Duration> want_dropped;
  };
  // 10/s for 1 s with 2 VUs: one start every 100 ms. Iterations of 150 ms leave a VU free for
  // each; of 250 ms, every third start finds both VUs busy (k6 does not wait: it drops it).
  const std::vector<Case> cases = {
      {"150ms",
       Ms(150),
       {Ms(0), Ms(100), Ms(200), Ms(300), Ms(400), Ms(500), Ms(600), Ms(700), Ms(800), Ms(900)},
       {}},
      {"250ms",
       Ms(250),
       {Ms(0), Ms(100), Ms(300), Ms(400), Ms(600), Ms(700), Ms(900)},
       {Ms(200), Ms(500), Ms(800)}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const ScenarioShare share = Plan(ConstantRate(10, absl::Seconds(1), 2), ExecutionTuple());
    const ArrivalResult r = SimulateArrivals(share, 1, 2, [&](auto, auto) { return c.took; });
    EXPECT_THAT(Starts(r.iters), ElementsAreArray(c.want_started));
    EXPECT_THAT(r.dropped, ElementsAreArray(c.want_dropped));
  }
}

TEST(ConstantArrivalRate, GracefulStopCutsIterationsThatOutliveIt) {
  ScenarioConfig config = ConstantRate(2, absl::Seconds(1), 2);
  config.graceful_stop = Ms(700);
  const ScenarioShare share = Plan(config, ExecutionTuple());
  // Starts at 0 and 500 ms, 1.1 s each: the first ends at 1.1 s (inside 1.7 s), the second
  // would end at 1.6 s (also inside). With 1.5 s iterations the second is cut at 1.7 s.
  ArrivalResult r = SimulateArrivals(share, 1, 2, [](auto, auto) { return Ms(1100); });
  EXPECT_THAT(r.iters, ElementsAre(Iter{0, Ms(0), Ms(1100), false, 0},
                                   Iter{1, Ms(500), Ms(1600), false, 1}));
  r = SimulateArrivals(share, 1, 2, [](auto, auto) { return Ms(1500); });
  EXPECT_THAT(r.iters,
              ElementsAre(Iter{0, Ms(0), Ms(1500), false, 0}, Iter{1, Ms(500), Ms(1700), true, 1}));
}

TEST(ConstantArrivalRate, WorkersAndAgentsTogetherStartEveryIterationOnce) {
  // 200/s for 10 s: 2,000 iterations whether one agent with one worker runs them, or three
  // agents with two workers each; every start instant is k * 5 ms, each exactly once.
  const ScenarioConfig config = ConstantRate(200, absl::Seconds(10), 30);
  std::vector<absl::Duration> want;
  for (int k = 0; k < 2000; ++k) want.push_back(Ms(5 * k));

  const ArrivalResult whole =
      SimulateArrivals(Plan(config, ExecutionTuple()), 1, 30, [](auto, auto) { return Ms(20); });
  EXPECT_THAT(Starts(whole.iters), ElementsAreArray(want));
  EXPECT_TRUE(whole.dropped.empty());

  std::vector<Iter> all;
  std::set<std::int64_t> in_test;
  const ExecutionSegmentSequence seq = ExecutionSegmentSequence::Even(3);
  for (const ExecutionSegment& segment : seq.segments()) {
    const ScenarioShare share = Plan(config, *ExecutionTuple::Create(segment, seq));
    const ArrivalResult part = SimulateArrivals(share, 2, 5, [](auto, auto) { return Ms(20); });
    EXPECT_TRUE(part.dropped.empty());
    all.insert(all.end(), part.iters.begin(), part.iters.end());
    ArrivalSchedule schedule = share.arrivals;
    while (std::optional<ArrivalIteration> it = schedule.Next()) {
      EXPECT_TRUE(in_test.insert(it->iteration_in_test).second);
    }
  }
  EXPECT_THAT(Starts(all), ElementsAreArray(want));
  EXPECT_EQ(in_test.size(), 2000u);
}

TEST(RampingArrivalRate, RampsTheStartsAndStopsAtTheEnd) {
  // 0 -> 10/s over 2 s, then 10/s for 1 s. The k-th iteration starts where the integral
  // 2.5 t^2 reaches k during the ramp (the 10th exactly at 2 s), then every 100 ms; the 20th
  // would start at the scenario's end, 3 s, and is not started.
  ScenarioConfig config = Config(ExecutorType::kRampingArrivalRate);
  config.start_rate = 0;
  config.stages = {{absl::Seconds(2), 10}, {absl::Seconds(1), 10}};
  config.pre_allocated_vus = 5;
  const ScenarioShare share = Plan(config, ExecutionTuple());
  const ArrivalResult r = SimulateArrivals(share, 1, 5, [](auto, auto) { return Ms(10); });
  const std::vector<absl::Duration> starts = Starts(r.iters);
  ASSERT_EQ(starts.size(), 19u);
  for (int k = 1; k <= 10; ++k) {
    SCOPED_TRACE(k);
    EXPECT_NEAR(absl::ToDoubleSeconds(starts[k - 1]), std::sqrt(k / 2.5), 1e-6);
  }
  for (int k = 11; k <= 19; ++k) EXPECT_EQ(starts[k - 1], Ms(2000 + 100 * (k - 10)));
  EXPECT_TRUE(r.dropped.empty());
}

// ---- VU reuse across scenarios ----

std::vector<std::vector<VuSpan>> SpansOf(const TestPlan& plan) {
  std::vector<std::vector<VuSpan>> spans;
  for (const ScenarioShare& share : plan.scenarios) spans.push_back(VuSpans(share));
  return spans;
}

TestPlan MustPlan(const char* scenarios_json, const ExecutionTuple& tuple = ExecutionTuple()) {
  absl::StatusOr<Options> options = ParseOptionsJson(
      nlohmann::json::parse(std::string(R"({"scenarios":)") + scenarios_json + "}"));
  EXPECT_TRUE(options.ok()) << options.status();
  absl::StatusOr<TestPlan> plan = PlanTest(*options, tuple);
  EXPECT_TRUE(plan.ok()) << plan.status();
  return *plan;
}

TEST(AssignSlots, ALaterScenarioReusesTheVusOfOneThatHasEnded) {
  // a: 5 VUs for 10 s, no gracefulStop; b starts at 10 s with 3 VUs; c overlaps both.
  TestPlan plan = MustPlan(R"({
    "a": {"executor": "constant-vus", "vus": 5, "duration": "10s", "gracefulStop": "0s"},
    "b": {"executor": "per-vu-iterations", "vus": 3, "iterations": 1, "startTime": "10s"},
    "c": {"executor": "shared-iterations", "vus": 2, "iterations": 2, "startTime": "5s",
          "maxDuration": "10s", "gracefulStop": "0s"}
  })");
  std::int64_t count = 0;
  std::vector<std::vector<std::int64_t>> slots = AssignSlots(SpansOf(plan), &count);
  ASSERT_EQ(plan.scenarios.size(), 3u);  // ordered by startTime: a, c, b
  EXPECT_EQ(count, 7);
  EXPECT_THAT(slots[0], ElementsAre(0, 1, 2, 3, 4));
  EXPECT_THAT(slots[1], ElementsAre(5, 6));
  EXPECT_THAT(slots[2], ElementsAre(0, 1, 2));  // a's, free at 10 s
}

TEST(AssignSlots, TheSlotCountIsThePlansMostVusAtOnce) {
  struct Case {
    const char* name;
    const char* scenarios;
    std::int64_t want;
  };
  const Case cases[] = {
      {"sequential, gracefulStop keeps them apart",
       R"({"a": {"executor": "constant-vus", "vus": 4, "duration": "10s"},
           "b": {"executor": "constant-vus", "vus": 6, "duration": "10s", "startTime": "20s"}})",
       10},
      {"sequential after gracefulStop",
       R"({"a": {"executor": "constant-vus", "vus": 4, "duration": "10s"},
           "b": {"executor": "constant-vus", "vus": 6, "duration": "10s", "startTime": "40s"}})",
       6},
      {"arrival-rate holds maxVUs",
       R"({"a": {"executor": "constant-arrival-rate", "rate": 5, "duration": "5s",
                 "preAllocatedVUs": 2, "maxVUs": 7, "gracefulStop": "1s"},
           "b": {"executor": "constant-vus", "vus": 3, "duration": "5s", "startTime": "6s"}})",
       7},
      {"ramping-vus frees its VUs as it ramps down",
       R"({"r": {"executor": "ramping-vus", "startVUs": 0, "gracefulRampDown": "0s",
                 "gracefulStop": "0s",
                 "stages": [{"duration": "10s", "target": 10}, {"duration": "10s", "target": 0}]},
           "c": {"executor": "constant-vus", "vus": 4, "duration": "5s", "startTime": "17s"}})",
       0},  // compared with PlanTest below
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    for (const ExecutionTuple& tuple :
         {ExecutionTuple(), *ExecutionTuple::Parse("0:1/3", "0,1/3,2/3,1"),
          *ExecutionTuple::Parse("1/3:1", "0,1/3,1")}) {
      TestPlan plan = MustPlan(c.scenarios, tuple);
      std::int64_t count = 0;
      AssignSlots(SpansOf(plan), &count);
      // PlanTest sums the scenarios' requirements at every instant, as k6 does for vus_max.
      EXPECT_EQ(count, plan.max_possible_vus) << tuple.ToString();
      if (c.want > 0 && tuple.ToString() == ExecutionTuple().ToString()) {
        EXPECT_EQ(count, c.want);
      }
    }
  }
}

TEST(VuSpans, RampingVusHoldsEachVuUntilItsRampDownDeadline) {
  TestPlan plan = MustPlan(R"({"r": {"executor": "ramping-vus", "startVUs": 1,
      "gracefulRampDown": "2s", "gracefulStop": "3s",
      "stages": [{"duration": "4s", "target": 3}, {"duration": "4s", "target": 1}]}})");
  std::vector<VuSpan> spans = VuSpans(plan.scenarios[0]);
  ASSERT_EQ(spans.size(), 3u);
  // VU 0 from the start to the end + gracefulStop; VUs 1 and 2 from when the ramp reaches them
  // until gracefulRampDown after the ramp-down leaves them.
  EXPECT_EQ(spans[0].acquire, absl::ZeroDuration());
  EXPECT_EQ(spans[0].release, absl::Seconds(11));
  for (int i = 1; i < 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_GT(spans[i].acquire, absl::ZeroDuration());
    EXPECT_LE(spans[i].acquire, absl::Seconds(4));
    EXPECT_GT(spans[i].release, absl::Seconds(4) + absl::Seconds(2));
    EXPECT_LE(spans[i].release, absl::Seconds(8) + absl::Seconds(2));
  }
}

}  // namespace
}  // namespace volley::agent
