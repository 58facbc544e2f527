// Executor plans: what one execution segment of a test does, for each of k6's six executors,
// computed up front as pure functions (no threads, no clock). The agent turns them into timers:
// every time here is an offset from the scenario's own start (add ScenarioShare::start_time for
// the offset from the test start). Values; any thread. ArrivalSchedule is a cursor: one owner.
//
//   absl::StatusOr<TestPlan> plan = PlanTest(options, tuple);      // all scenarios of the test
//   for (const ScenarioShare& s : plan->scenarios) switch (s.executor) ...
//     ramping-vus:    s.ramping_vus->scheduled() / max_allowed() change points
//     arrival-rate:   ArrivalSchedule a = s.arrivals; while (auto it = a.Next()) ...
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/options.h"
#include "common/segment.h"

namespace volley {

// From `offset` on, `vus` VUs (until the next step).
struct VuStep {
  absl::Duration offset;
  std::int64_t vus = 0;
  friend bool operator==(const VuStep&, const VuStep&) = default;
};

// k6's execution requirement step: from `offset` on, `planned_vus` VUs initialised up front and
// up to `max_unplanned_vus` more that an arrival-rate executor may initialise mid-test.
struct ExecutionStep {
  absl::Duration offset;
  std::int64_t planned_vus = 0;
  std::int64_t max_unplanned_vus = 0;
  friend bool operator==(const ExecutionStep&, const ExecutionStep&) = default;
};

// ramping-vus for one segment. VUs are local slots 0..max_vus()-1; "n VUs" means slots [0, n).
// scheduled(): how many VUs loop iterations. When it goes down, the VUs above it finish their
// current iteration and stop (graceful ramp-down); when it goes up, those slots start.
// max_allowed(): how many VUs may exist at all. VUs above it are interrupted at once; it trails
// scheduled() by gracefulRampDown and drops to 0 at stages' end + gracefulStop.
// Ramps are linear; the segment's VUs are k6's striped share of the global VU numbers, so all
// segments together start and stop VUs at the same instants as one k6 instance would.
class RampingVusPlan {
 public:
  static RampingVusPlan Make(const ScenarioConfig& config, const ExecutionTuple& tuple);

  std::int64_t VusAt(absl::Duration t) const;                              // scheduled, 0 before 0
  std::int64_t MaxAllowedVusAt(absl::Duration t) const;                    // hard limit
  const std::vector<VuStep>& scheduled() const { return scheduled_; }      // ends with 0
  const std::vector<VuStep>& max_allowed() const { return max_allowed_; }  // ends with 0
  std::int64_t max_vus() const;
  absl::Duration regular_duration() const { return regular_duration_; }  // sum of stages
  absl::Duration max_duration() const { return max_duration_; }          // + gracefulStop

 private:
  std::vector<VuStep> scheduled_;
  std::vector<VuStep> max_allowed_;
  absl::Duration regular_duration_;
  absl::Duration max_duration_;
};

// One iteration an arrival-rate executor must start.
struct ArrivalIteration {
  absl::Duration offset;                   // from the scenario start
  std::int64_t iteration_in_test = 0;      // global, across all segments (0-based)
  std::int64_t iteration_in_instance = 0;  // this segment's count (0-based)
  friend bool operator==(const ArrivalIteration&, const ArrivalIteration&) = default;
};

// The start instants of one segment's arrival-rate iterations, in order. The global schedule is
// k6's: constant-arrival-rate starts iteration k at k * (timeUnit / rate) (the period truncated
// to whole nanoseconds) while that is before `duration`; ramping-arrival-rate starts iteration
// k (1-based) when the integral of the linearly ramped rate reaches k. Each segment owns k6's
// striped subset of the global iterations, so segments interleave evenly.
class ArrivalSchedule {
 public:
  ArrivalSchedule() = default;  // no iterations
  static ArrivalSchedule Constant(std::int64_t rate, absl::Duration time_unit,
                                  absl::Duration duration, ExecutionTuple tuple);
  static ArrivalSchedule Ramping(std::int64_t start_rate, absl::Duration time_unit,
                                 const std::vector<Stage>& stages, ExecutionTuple tuple);

  std::optional<ArrivalIteration> Next();
  // How many iterations remain (walks a copy; O(count)).
  std::int64_t CountRemaining() const;

 private:
  struct RampStage {
    std::int64_t start_ns = 0;
    std::int64_t duration_ns = 0;
    std::int64_t from = 0;  // iterations per timeUnit
    std::int64_t to = 0;
    __int128 area_before = 0;  // 2 * timeUnit_ns * iterations before this stage
    __int128 area_after = 0;
  };
  enum class Kind { kEmpty, kConstant, kRamping };

  Kind kind_ = Kind::kEmpty;
  ExecutionTuple tuple_;
  std::int64_t next_local_ = 0;
  std::int64_t period_ns_ = 0;     // constant
  std::int64_t duration_ns_ = 0;   // constant
  std::int64_t time_unit_ns_ = 1;  // ramping
  std::vector<RampStage> stages_;  // ramping
  std::size_t stage_ = 0;          // ramping: current stage
};

// One scenario's share for one segment.
struct ScenarioShare {
  ScenarioConfig config;  // as configured, unscaled: name, exec, env, tags
  ExecutorType executor = ExecutorType::kPerVuIterations;
  std::string exec;           // function to call, "default" if unset
  absl::Duration start_time;  // from the test start
  absl::Duration graceful_stop;
  absl::Duration regular_duration;  // no new iterations after this
  absl::Duration max_duration;      // everything stops by this (regular + gracefulStop)
  bool has_work = false;            // false: this segment runs nothing of this scenario

  std::int64_t vus = 0;         // shared-iterations, per-vu-iterations, constant-vus
  std::int64_t iterations = 0;  // shared-iterations: total for the segment; per-vu: per VU
  std::optional<RampingVusPlan> ramping_vus;  // ramping-vus
  std::int64_t pre_allocated_vus = 0;         // arrival-rate: initialised up front
  std::int64_t max_vus = 0;                   // arrival-rate: hard limit
  ArrivalSchedule arrivals;                   // arrival-rate; copy it, then call Next()

  // Numbers the scenario's iterations like k6 (exec.scenario.iterationInTest):
  // SegmentedIndex(iteration_tuple).Next() per started iteration.
  ExecutionTuple iteration_tuple;
  // VUs needed over time (k6's execution requirements), from the scenario start.
  std::vector<ExecutionStep> requirements;
};

// The share of `config` for `tuple`. Options must have passed Validate().
ScenarioShare Plan(const ScenarioConfig& config, const ExecutionTuple& tuple);

// The whole test for one segment.
struct TestPlan {
  std::vector<ScenarioShare> scenarios;     // ordered by (startTime, name), as k6 runs them
  absl::Duration max_duration;              // when the last scenario has surely ended
  std::int64_t max_planned_vus = 0;         // VUs to initialise before the start
  std::int64_t max_possible_vus = 0;        // with arrival-rate executors' unplanned VUs
  std::vector<ExecutionStep> requirements;  // all scenarios together, from the test start
};

// Derives scenarios from the shortcuts (DeriveScenarios) and plans each. Fails on conflicting
// shortcuts; other invalid options must have been rejected by Validate() before.
absl::StatusOr<TestPlan> PlanTest(const Options& options, const ExecutionTuple& tuple);

}  // namespace volley
