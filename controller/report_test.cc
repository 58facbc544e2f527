#include "controller/report.h"

#include <gtest/gtest.h>

namespace volley::controller {
namespace {

TEST(DescribeScenario, WritesK6sTextForEachExecutor) {
  auto config = [](ExecutorType executor) {
    ScenarioConfig c;
    c.name = "s";
    c.executor = executor;
    return c;
  };
  struct Case {
    const char* name;
    ScenarioConfig config;
    std::string want;
  };
  std::vector<Case> cases;

  ScenarioConfig shared = config(ExecutorType::kSharedIterations);
  shared.vus = 10;
  shared.iterations = 100;
  cases.push_back({"shared-iterations", shared,
                   "100 iterations shared among 10 VUs (maxDuration: 10m0s, gracefulStop: 30s)"});

  ScenarioConfig per_vu = config(ExecutorType::kPerVuIterations);
  per_vu.exec = "api";
  per_vu.start_time = absl::Seconds(5);
  per_vu.graceful_stop = absl::ZeroDuration();
  cases.push_back({"per-vu-iterations with exec, startTime, no gracefulStop", per_vu,
                   "1 iterations for each of 1 VUs (maxDuration: 10m0s, exec: api, startTime: 5s)"});

  ScenarioConfig constant = config(ExecutorType::kConstantVus);
  constant.vus = 3;
  constant.duration = absl::Seconds(30);
  cases.push_back({"constant-vus", constant, "3 looping VUs for 30s (gracefulStop: 30s)"});

  ScenarioConfig ramping = config(ExecutorType::kRampingVus);
  ramping.start_vus = 0;
  ramping.stages = {{absl::Seconds(10), 20}, {absl::Seconds(50), 5}};
  cases.push_back({"ramping-vus", ramping,
                   "Up to 20 looping VUs for 1m0s over 2 stages (gracefulRampDown: 30s, "
                   "gracefulStop: 30s)"});

  ScenarioConfig rate = config(ExecutorType::kConstantArrivalRate);
  rate.rate = 30;
  rate.time_unit = absl::Minutes(1);
  rate.duration = absl::Seconds(20);
  rate.pre_allocated_vus = 5;
  cases.push_back({"constant-arrival-rate, maxVUs unset", rate,
                   "0.50 iterations/s for 20s (maxVUs: 5, gracefulStop: 30s)"});

  ScenarioConfig ramp_rate = config(ExecutorType::kRampingArrivalRate);
  ramp_rate.start_rate = 2;
  ramp_rate.stages = {{absl::Seconds(10), 10}, {absl::Seconds(10), 4}};
  ramp_rate.pre_allocated_vus = 2;
  ramp_rate.max_vus = 10;
  cases.push_back({"ramping-arrival-rate", ramp_rate,
                   "Up to 10.00 iterations/s for 20s over 2 stages (maxVUs: 2-10, "
                   "gracefulStop: 30s)"});

  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_EQ(DescribeScenario(c.config), c.want);
  }
}

}  // namespace
}  // namespace volley::controller
