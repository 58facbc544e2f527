// The agent-side run of one scenario: its VUs (spread over the workers), its share of the work
// as this agent's execution segment gives it, and the per-VU drivers that decide when each VU
// starts an iteration. Drivers run as fibers on their VU's worker. A ScenarioRun is shared by
// all workers, so what they change in it is atomic; VuSlot fields are touched only on the VU's
// worker thread. Created, started and destroyed by TestRun.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "agent/js/vu.h"
#include "agent/loop/loop.h"
#include "agent/worker.h"
#include "common/metrics/registry.h"
#include "common/options.h"
#include "common/schedule.h"
#include "common/segment.h"
#include "volley.pb.h"

namespace volley::agent {

struct ScenarioVu;

// A VU of the agent: its isolate and ids. Lives on `worker`; fields are touched only there. A
// slot may serve several scenarios one after another (k6 hands a VU from a scenario that has
// ended to one that starts later), never two at once.
struct VuSlot {
  Worker* worker = nullptr;
  std::unique_ptr<js::Vu> vu;
  std::uint64_t id_in_instance = 0;  // __VU, 1-based
  std::uint64_t id_in_test = 0;      // unique across agents, 1-based
  std::int64_t iterations = 0;       // across scenarios (__ITER, exec.vu.iterationInInstance)
  // exec.test.abort() stopped its VU: it runs nothing more. (An interrupted iteration does
  // not end a VU: RunOne makes it ready again at once, as k6 reuses it.)
  bool broken = false;
  ScenarioVu* user = nullptr;  // the scenario VU inside an iteration on it now
};

// One of a scenario's VUs: the slot it runs on and the scenario's own state for it. Touched
// only on the slot's worker thread.
struct ScenarioVu {
  VuSlot* slot = nullptr;
  std::int64_t index = 0;        // 0-based position among the scenario's VUs on this agent
  std::int64_t iterations = 0;   // its iterations in this scenario
  loop::Fiber* fiber = nullptr;  // the driver fiber, while it runs
  bool stopped = false;          // interrupted in this scenario: runs no further iterations
  // Arrival-rate executors: the driver parks here until the dispatcher hands it an iteration.
  loop::Fiber* parked = nullptr;
  std::optional<ArrivalIteration> work;
  bool arrivals_done = false;   // the dispatcher has no more iterations for it
  bool counted_active = false;  // counted in the agent's active VUs by the dispatcher
};

// When a scenario VU needs its slot, as offsets from the test start: from its first scheduled
// instant until everything it may run has been stopped (regular end + gracefulStop; ramping-vus:
// its own ramp-down deadline). Slots are shared by VUs whose spans do not overlap.
struct VuSpan {
  absl::Duration acquire;
  absl::Duration release;
};
std::vector<VuSpan> VuSpans(const ScenarioShare& share);

// Deals slots to scenario VUs: `spans[s][i]` is VU i of scenario s. Returns, in the same shape,
// the slot number of each, reusing a slot once its previous span has ended, so the slot count
// is the most VUs needed at one instant (k6's vus_max). `*slot_count` gets that count.
std::vector<std::vector<std::int64_t>> AssignSlots(const std::vector<std::vector<VuSpan>>& spans,
                                                   std::int64_t* slot_count);

// ---- Scheduling decisions: pure functions of the plan and a time offset, no clock. The drivers
// below call them with the loop's time; scenario_run_test.cc calls them with a fake one. ----

// What a VU-based driver (shared-/per-vu-iterations, constant-vus, ramping-vus) does at
// `offset` from the scenario start, given its VU's 0-based index in the scenario and the
// iterations that VU has run so far.
struct VuAction {
  enum Kind { kRun, kWait, kDone };
  Kind kind = kDone;
  absl::Duration wake;  // kWait: look again at this offset
  friend bool operator==(const VuAction&, const VuAction&) = default;
};
VuAction NextVuAction(const ScenarioShare& share, std::int64_t vu_index, std::int64_t vu_iterations,
                      absl::Duration offset);

// When an iteration that VU `vu_index` starts at `offset` is interrupted if it still runs:
// ramping-vus, the first instant the plan's hard limit (gracefulRampDown, then gracefulStop)
// no longer covers the VU; every other executor, the scenario's end + gracefulStop.
absl::Duration InterruptDeadline(const ScenarioShare& share, std::int64_t vu_index,
                                 absl::Duration offset);

// One worker's part of an arrival-rate schedule: the agent's iterations are dealt round-robin
// over its workers (by iteration_in_instance), and none starts at or after the regular end.
class ArrivalDispatch {
 public:
  ArrivalDispatch(const ScenarioShare& share, std::int64_t worker_position,
                  std::int64_t worker_count);
  std::optional<ArrivalIteration> Next();

 private:
  ArrivalSchedule schedule_;
  absl::Duration end_;
  std::int64_t position_;
  std::int64_t count_;
};

// Stop requests for the whole test on this agent (any thread sets them).
struct StopState {
  std::atomic<bool> graceful{false};   // start no new iterations
  std::atomic<bool> immediate{false};  // interrupt running ones
};

// Script errors of iterations: the first of each distinct message is logged, repeats are only
// counted, and the counts are logged when the test ends. Any thread.
class ErrorLog {
 public:
  void Report(const js::ScriptError& error);
  void LogTotals();
  std::uint64_t total() const { return total_; }

 private:
  std::mutex mu_;
  std::vector<std::pair<std::string, std::uint64_t>> seen_;
  std::atomic<std::uint64_t> total_{0};
};

class ScenarioRun {
 public:
  struct Shared {
    StopState* stop = nullptr;
    ErrorLog* errors = nullptr;
    std::atomic<std::int64_t>* active_vus = nullptr;  // across the agent's scenarios
    std::atomic<std::int64_t>* completed = nullptr;   // iterations, across scenarios
    std::atomic<std::int64_t>* interrupted = nullptr;
    std::function<void()> on_driver_done;  // any worker thread
    std::string options_json;
    metrics::MetricId start_delay_metric = 0;  // iteration_start_delay trend
    absl::Duration min_iteration_duration;     // k6 minIterationDuration
  };

  ScenarioRun(ScenarioConfig config, ExecutionTuple tuple, Shared shared);

  const ScenarioConfig& config() const { return config_; }
  const ScenarioShare& share() const { return share_; }
  // Adds the scenario's VU number `index`, running on `slot`.
  void AddVu(VuSlot* slot, std::int64_t index);

  // Spawns one driver fiber per VU on its worker. `steady_start` and `wall_start` are the same
  // instant: the test's start.
  void Start(loop::Clock::time_point steady_start, absl::Time wall_start);
  // Worker thread of `v`'s slot: stops the iteration `v` runs now, including a pending sleep or
  // HTTP request.
  static void HardStop(ScenarioVu* v);
  // Fibers Start() spawns: one per VU, plus one arrival dispatcher per worker with VUs.
  std::size_t driver_count() const;

  // Any thread: interrupts the iterations running now on this scenario's VUs.
  void InterruptBusy();

  volley::v1::ScenarioProgress Progress(absl::Time now) const;

 private:
  void Drive(ScenarioVu* v);
  void DriveArrivals(ScenarioVu* v);
  // Arrival-rate: starts this worker's share of the scheduled iterations on free VUs.
  void Dispatch(Worker* worker, std::vector<ScenarioVu*> vus);
  // Arrival-rate, any thread: reserves one free VU of the worker at `position`, false when it
  // has none. A reservation is later turned into a VU by TakeReserved on that worker.
  bool ReserveFreeVu(std::size_t position);
  // Worker thread of `position`: the reserved VU starts `it`, scheduled at `when`. False (and
  // nothing started) when the VU went away meanwhile: the scenario is ending.
  bool StartOnReserved(std::size_t position, const ArrivalIteration& it,
                       loop::Clock::time_point when);
  // Counts an iteration that found no free VU on any worker (worker thread of `worker`).
  void Drop(Worker* worker);
  bool IsArrivalRate() const {
    return config_.executor == ExecutorType::kConstantArrivalRate ||
           config_.executor == ExecutorType::kRampingArrivalRate;
  }
  std::vector<Worker*> WorkersWithVus() const;
  // Runs one iteration on `slot`, with the hard-stop timer armed. False when it was
  // interrupted (the VU is made ready for its next iteration before this returns) or aborted.
  // `deadline`: the iteration is interrupted if it still runs then.
  bool RunOne(ScenarioVu* v, std::int64_t iteration_in_instance, std::int64_t iteration_in_test,
              loop::Clock::time_point deadline);
  // Makes `v`'s slot ready for an iteration: waits while the scenario that used the slot before
  // still runs one there (its last, being interrupted). False when the test stops or the slot's
  // VU was aborted.
  bool Acquire(ScenarioVu* v);
  // exec.scenario.progress and the progress bar: iterations done for the *-iterations
  // executors, time for the others.
  double ProgressAt(absl::Duration elapsed) const;
  void SleepUntil(loop::Loop* loop, loop::Clock::time_point until) const;
  bool Stopping() const { return shared_.stop->graceful.load(std::memory_order_relaxed); }

  ScenarioConfig config_;
  ExecutionTuple tuple_;
  Shared shared_;
  ScenarioShare share_;
  std::vector<std::unique_ptr<ScenarioVu>> vus_;

  // Arrival-rate: the workers with VUs of this scenario, their VUs, and per worker the VUs
  // parked with no iteration that no dispatcher has reserved yet. A dispatcher whose own VUs
  // are all busy reserves one of another worker's and posts the iteration there, so the
  // scenario's VUs form one pool as in k6; an iteration is dropped only when none is free.
  std::vector<Worker*> arrival_workers_;
  std::vector<std::vector<ScenarioVu*>> arrival_slots_;
  std::unique_ptr<std::atomic<std::int64_t>[]> free_vus_;

  loop::Clock::time_point steady_start_;  // scenario start (test start + startTime)
  absl::Time wall_start_;
  absl::Time test_wall_start_;
  loop::Clock::time_point hard_stop_;  // end + gracefulStop: running iterations interrupted

  std::atomic<std::int64_t> next_iteration_{0};  // shared-iterations / instance numbering
  std::atomic<std::int64_t> completed_{0};
  std::atomic<std::int64_t> interrupted_{0};
  std::atomic<std::int64_t> active_{0};
  std::atomic<std::int64_t> dropped_{0};
  std::atomic<bool> warned_dropped_{false};
  std::atomic<bool> started_{false};
  std::atomic<int> drivers_left_{0};
  std::atomic<bool> cut_{false};             // its drivers ended because the test stopped
  std::atomic<double> cut_progress_{0};      // its progress then
};

}  // namespace volley::agent
