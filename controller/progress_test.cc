#include "controller/progress.h"

#include <gtest/gtest.h>

namespace volley::controller {
namespace {

ScenarioConfig Config(ExecutorType executor) {
  ScenarioConfig c;
  c.name = "sc";
  c.executor = executor;
  return c;
}

TEST(MergedProgress, CountsOnlyAgentsWithWorkAndTheWholeTestsIterations) {
  struct Case {
    const char* name;
    ExecutorType executor;
    std::uint64_t completed;
    std::vector<AgentScenarioProgress> agents;
    double want;
  };
  // shared-iterations of 10 below; constant-vus takes the agents' own (time) progress.
  const Case cases[] = {
      {"one VU on three agents: two have no share",
       ExecutorType::kSharedIterations,
       2,
       {{true, 0.2}, {false, 1.0}, {false, 1.0}},
       0.2},
      {"iterations over every agent",
       ExecutorType::kSharedIterations,
       6,
       {{true, 0.5}, {true, 0.7}, {true, 0.6}},
       0.6},
      {"every agent with work is done",
       ExecutorType::kSharedIterations,
       9,
       {{true, 1.0}, {false, 1.0}},
       1.0},
      {"time: the mean of the agents with work",
       ExecutorType::kConstantVus,
       0,
       {{true, 0.5}, {true, 0.3}, {false, 1.0}},
       0.4},
      {"nothing reported yet", ExecutorType::kConstantVus, 0, {}, 0.0},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ScenarioConfig config = Config(c.executor);
    config.vus = 1;
    config.iterations = 10;
    config.duration = absl::Seconds(10);
    EXPECT_DOUBLE_EQ(MergedProgress(config, c.completed, c.agents), c.want);
  }
}

TEST(ScenarioDetail, WritesK6sTextForEachExecutor) {
  struct Case {
    const char* name;
    ScenarioConfig config;
    ScenarioLine line;
    absl::Duration elapsed;
    std::string want;
  };
  ScenarioConfig constant_vus = Config(ExecutorType::kConstantVus);
  constant_vus.vus = 10;
  constant_vus.duration = absl::Seconds(10);
  ScenarioConfig ramping_vus = Config(ExecutorType::kRampingVus);
  ramping_vus.start_vus = 0;
  ramping_vus.stages = {{absl::Seconds(10), 10}, {absl::Seconds(20), 0}};
  ramping_vus.start_time = absl::Seconds(5);
  ScenarioConfig shared = Config(ExecutorType::kSharedIterations);
  shared.vus = 10;
  shared.iterations = 100;
  ScenarioConfig per_vu = Config(ExecutorType::kPerVuIterations);
  per_vu.vus = 10;
  per_vu.iterations = 10;
  ScenarioConfig constant_rate = Config(ExecutorType::kConstantArrivalRate);
  constant_rate.rate = 200;
  constant_rate.time_unit = absl::Seconds(2);
  constant_rate.duration = absl::Minutes(1);
  constant_rate.pre_allocated_vus = 50;
  constant_rate.max_vus = 100;
  ScenarioConfig ramping_rate = Config(ExecutorType::kRampingArrivalRate);
  ramping_rate.start_rate = 0;
  ramping_rate.stages = {{absl::Seconds(10), 100}};
  ramping_rate.pre_allocated_vus = 20;

  const std::vector<Case> cases = {
      {"constant-vus", constant_vus, {.vus = 10}, absl::Seconds(5), "10 VUs  05.0s/10s"},
      // 12 s into the test is 7 s into the scenario (startTime 5 s), of 30 s.
      {"ramping-vus", ramping_vus, {.vus = 3}, absl::Seconds(12), "03/10 VUs  07.0s/30s"},
      {"shared-iterations",
       shared,
       {.iterations = 45},
       absl::Seconds(5),
       "10 VUs  0m05.0s/10m0s  045/100 shared iters"},
      {"per-vu-iterations",
       per_vu,
       {.iterations = 45},
       absl::Seconds(5),
       "10 VUs  0m05.0s/10m0s  045/100 iters, 10 per VU"},
      {"constant-arrival-rate",
       constant_rate,
       {.vus = 7},
       absl::Seconds(65),
       "007/100 VUs  1m00.0s/1m0s  100.00 iters/s"},
      // Half way up a ramp to 100/s: 50/s now.
      {"ramping-arrival-rate",
       ramping_rate,
       {.vus = 2},
       absl::Seconds(5),
       "02/20 VUs  05.0s/10s  50.00 iters/s"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(ScenarioDetail(c.config, c.line, c.elapsed), c.want);
  }
}

TEST(FormatSpent, KeepsTheWidthOfTheTotal) {
  EXPECT_EQ(FormatSpent(absl::Milliseconds(5250), absl::Seconds(10)), "05.2s");
  EXPECT_EQ(FormatSpent(absl::Seconds(65), absl::Minutes(10)), "1m05.0s");
  EXPECT_EQ(FormatSpent(absl::Minutes(61), absl::Hours(2)), "1h01m00.0s");
  EXPECT_EQ(FormatSpent(-absl::Seconds(1), absl::Seconds(10)), "00.0s");
  EXPECT_EQ(FormatSpent(absl::Seconds(20), absl::Seconds(10)), "10.0s");
}

}  // namespace
}  // namespace volley::controller
