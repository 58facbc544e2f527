#include "agent/scenario_run.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace volley::agent {
namespace {

loop::Clock::duration ToSteady(absl::Duration d) {
  return std::chrono::duration_cast<loop::Clock::duration>(absl::ToChronoNanoseconds(d));
}

absl::Duration FromSteady(loop::Clock::duration d) {
  return absl::FromChrono(std::chrono::duration_cast<std::chrono::nanoseconds>(d));
}

}  // namespace

VuAction NextVuAction(const ScenarioShare& share, std::int64_t vu_index, std::int64_t vu_iterations,
                      absl::Duration offset) {
  if (offset < absl::ZeroDuration()) return {VuAction::kWait, absl::ZeroDuration()};
  if (offset >= share.regular_duration) return {VuAction::kDone, absl::ZeroDuration()};
  switch (share.executor) {
    case ExecutorType::kPerVuIterations:
      if (vu_iterations >= share.iterations) return {VuAction::kDone, absl::ZeroDuration()};
      return {VuAction::kRun, absl::ZeroDuration()};
    case ExecutorType::kSharedIterations:  // the caller claims a number from the shared count
    case ExecutorType::kConstantVus:
      return {VuAction::kRun, absl::ZeroDuration()};
    case ExecutorType::kRampingVus: {
      // VU number `vu_index` loops while the plan schedules more than `vu_index` VUs; out of it,
      // it waits for the next instant that schedules it again, or is done if none comes.
      const RampingVusPlan& plan = *share.ramping_vus;
      if (vu_index < plan.VusAt(offset)) return {VuAction::kRun, absl::ZeroDuration()};
      for (const VuStep& step : plan.scheduled()) {
        if (step.offset > offset && vu_index < step.vus) return {VuAction::kWait, step.offset};
      }
      return {VuAction::kDone, absl::ZeroDuration()};
    }
    case ExecutorType::kConstantArrivalRate:
    case ExecutorType::kRampingArrivalRate:
      break;  // dispatched (ArrivalDispatch), not looped
  }
  return {VuAction::kDone, absl::ZeroDuration()};
}

absl::Duration InterruptDeadline(const ScenarioShare& share, std::int64_t vu_index,
                                 absl::Duration offset) {
  if (share.ramping_vus) {
    // max_allowed() trails scheduled() by gracefulRampDown and ends with 0 at end +
    // gracefulStop, so the first step at or below the VU's index is its deadline.
    for (const VuStep& step : share.ramping_vus->max_allowed()) {
      if (step.offset > offset && step.vus <= vu_index) return step.offset;
    }
  }
  return share.max_duration;
}

std::vector<VuSpan> VuSpans(const ScenarioShare& share) {
  std::vector<VuSpan> spans;
  if (!share.has_work) return spans;
  const bool arrival_rate = share.executor == ExecutorType::kConstantArrivalRate ||
                            share.executor == ExecutorType::kRampingArrivalRate;
  if (share.ramping_vus) {
    // VU i is needed while max_allowed() (scheduled plus gracefulRampDown) exceeds i.
    const std::vector<VuStep>& steps = share.ramping_vus->max_allowed();
    for (std::int64_t i = 0; i < share.ramping_vus->max_vus(); ++i) {
      std::optional<absl::Duration> first;
      absl::Duration release = share.max_duration;
      bool on = false;
      for (const VuStep& step : steps) {
        if (step.vus > i) {
          if (!first) first = step.offset;
          on = true;
        } else if (on) {
          release = step.offset;
          on = false;
        }
      }
      spans.push_back(
          {share.start_time + first.value_or(absl::ZeroDuration()), share.start_time + release});
    }
    return spans;
  }
  const std::int64_t count = arrival_rate ? share.max_vus : share.vus;
  spans.assign(static_cast<std::size_t>(std::max<std::int64_t>(0, count)),
               VuSpan{share.start_time, share.start_time + share.max_duration});
  return spans;
}

std::vector<std::vector<std::int64_t>> AssignSlots(const std::vector<std::vector<VuSpan>>& spans,
                                                   std::int64_t* slot_count) {
  struct Need {
    VuSpan span;
    std::size_t scenario;
    std::size_t index;
  };
  std::vector<Need> needs;
  std::vector<std::vector<std::int64_t>> slots(spans.size());
  for (std::size_t s = 0; s < spans.size(); ++s) {
    slots[s].resize(spans[s].size());
    for (std::size_t i = 0; i < spans[s].size(); ++i) needs.push_back({spans[s][i], s, i});
  }
  std::stable_sort(needs.begin(), needs.end(),
                   [](const Need& a, const Need& b) { return a.span.acquire < b.span.acquire; });
  // Earliest start first, each taking the lowest-numbered slot free by then: the fewest slots
  // for intervals, and the same numbering on every run.
  std::set<std::int64_t> free;
  std::priority_queue<std::pair<absl::Duration, std::int64_t>,
                      std::vector<std::pair<absl::Duration, std::int64_t>>, std::greater<>>
      held;
  std::int64_t count = 0;
  for (const Need& need : needs) {
    while (!held.empty() && held.top().first <= need.span.acquire) {
      free.insert(held.top().second);
      held.pop();
    }
    std::int64_t slot;
    if (free.empty()) {
      slot = count++;
    } else {
      slot = *free.begin();
      free.erase(free.begin());
    }
    slots[need.scenario][need.index] = slot;
    held.push({need.span.release, slot});
  }
  *slot_count = count;
  return slots;
}

ArrivalDispatch::ArrivalDispatch(const ScenarioShare& share, std::int64_t worker_position,
                                 std::int64_t worker_count)
    : schedule_(share.arrivals),
      end_(share.regular_duration),
      position_(worker_position),
      count_(std::max<std::int64_t>(1, worker_count)) {}

std::optional<ArrivalIteration> ArrivalDispatch::Next() {
  while (std::optional<ArrivalIteration> it = schedule_.Next()) {
    if (it->offset >= end_) return std::nullopt;
    if (it->iteration_in_instance % count_ == position_) return it;
  }
  return std::nullopt;
}

void ErrorLog::Report(const js::ScriptError& error) {
  total_.fetch_add(1, std::memory_order_relaxed);
  std::string key =
      error.location.empty() ? error.message : error.message + " at " + error.location;
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [message, count] : seen_) {
    if (message == key) {
      ++count;
      return;
    }
  }
  seen_.push_back({key, 1});
  Log("vu")->error("iteration error: {}", error.ToString());
}

void ErrorLog::LogTotals() {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [message, count] : seen_) {
    if (count > 1)
      Log("vu")->warn("iteration error repeated count={} error=\"{}\"", count, message);
  }
}

ScenarioRun::ScenarioRun(ScenarioConfig config, ExecutionTuple tuple, Shared shared)
    : config_(std::move(config)),
      tuple_(std::move(tuple)),
      shared_(std::move(shared)),
      share_(Plan(config_, tuple_)) {}

void ScenarioRun::AddVu(VuSlot* slot, std::int64_t index) {
  auto v = std::make_unique<ScenarioVu>();
  v->slot = slot;
  v->index = index;
  vus_.push_back(std::move(v));
}

std::vector<Worker*> ScenarioRun::WorkersWithVus() const {
  std::vector<Worker*> workers;
  for (const auto& v : vus_) {
    if (std::find(workers.begin(), workers.end(), v->slot->worker) == workers.end()) {
      workers.push_back(v->slot->worker);
    }
  }
  return workers;
}

std::size_t ScenarioRun::driver_count() const {
  return vus_.size() + (IsArrivalRate() ? WorkersWithVus().size() : 0);
}

void ScenarioRun::Start(loop::Clock::time_point steady_start, absl::Time wall_start) {
  steady_start_ = steady_start + ToSteady(share_.start_time);
  wall_start_ = wall_start + share_.start_time;
  test_wall_start_ = wall_start;
  hard_stop_ = steady_start_ + ToSteady(share_.max_duration);
  drivers_left_ = static_cast<int>(driver_count());
  if (IsArrivalRate()) {
    arrival_workers_ = WorkersWithVus();
    arrival_slots_.assign(arrival_workers_.size(), {});
    for (const auto& v : vus_) {
      auto at = std::find(arrival_workers_.begin(), arrival_workers_.end(), v->slot->worker);
      arrival_slots_[at - arrival_workers_.begin()].push_back(v.get());
    }
    free_vus_ = std::make_unique<std::atomic<std::int64_t>[]>(arrival_workers_.size());
    for (std::size_t i = 0; i < arrival_workers_.size(); ++i) free_vus_[i] = 0;
  }
  started_ = true;
  auto finish = [this] {
    if (--drivers_left_ == 0) {
      // Ended by a stop (Ctrl+C, an abort) rather than by its own schedule: the progress bar
      // keeps where it was, marked as interrupted.
      if (Stopping()) {
        cut_progress_ = ProgressAt(absl::Now() - wall_start_);
        cut_ = true;
      }
      Log("agent")->debug("scenario done name={} completed={} interrupted={} dropped={}",
                          config_.name, completed_.load(), interrupted_.load(), dropped_.load());
    }
    shared_.on_driver_done();
  };
  for (const auto& owned : vus_) {
    ScenarioVu* v = owned.get();
    v->slot->worker->PostFiber([this, v, finish] {
      v->fiber = v->slot->worker->loop()->CurrentFiber();
      if (IsArrivalRate()) {
        DriveArrivals(v);
      } else {
        Drive(v);
      }
      v->fiber = nullptr;
      finish();
    });
  }
  if (IsArrivalRate()) {
    for (std::size_t i = 0; i < arrival_workers_.size(); ++i) {
      Worker* worker = arrival_workers_[i];
      worker->PostFiber([this, worker, i, finish] {
        Dispatch(worker, arrival_slots_[i]);
        finish();
      });
    }
  }
}

void ScenarioRun::HardStop(ScenarioVu* v) {
  VuSlot* slot = v->slot;
  if (slot->user != v || !slot->vu) return;
  slot->vu->Interrupt();
  if (v->fiber != nullptr) slot->worker->loop()->Interrupt(v->fiber);
}

void ScenarioRun::InterruptBusy() {
  for (const auto& owned : vus_) {
    ScenarioVu* v = owned.get();
    v->slot->worker->Post([v] { HardStop(v); });
  }
  // Parked arrival-rate drivers wake up to see the stop.
  for (const auto& owned : vus_) {
    ScenarioVu* v = owned.get();
    v->slot->worker->Post([v] {
      if (v->parked != nullptr) v->slot->worker->loop()->Unpark(v->parked);
    });
  }
}

double ScenarioRun::ProgressAt(absl::Duration elapsed) const {
  double progress = 0;
  if (config_.executor == ExecutorType::kSharedIterations && share_.iterations > 0) {
    progress = static_cast<double>(completed_.load()) / static_cast<double>(share_.iterations);
  } else if (config_.executor == ExecutorType::kPerVuIterations && share_.vus > 0 &&
             share_.iterations > 0) {
    progress = static_cast<double>(completed_.load()) /
               static_cast<double>(share_.vus * share_.iterations);
  } else if (share_.regular_duration > absl::ZeroDuration()) {
    progress = absl::FDivDuration(elapsed, share_.regular_duration);
  }
  return std::clamp(progress, 0.0, 1.0);
}

bool ScenarioRun::RunOne(ScenarioVu* v, std::int64_t iteration_in_instance,
                         std::int64_t iteration_in_test, loop::Clock::time_point deadline) {
  VuSlot* slot = v->slot;
  loop::Loop* loop = slot->worker->loop();
  js::IterationInfo info;
  info.scenario = config_.name;
  info.exec = share_.exec;
  // __ITER and exec.vu.iterationInInstance count on across the scenarios a VU serves.
  info.iteration_in_scenario = v->iterations;
  info.iteration_in_instance = slot->iterations;
  info.scenario_iteration_in_instance = iteration_in_instance;
  info.scenario_iteration_in_test = iteration_in_test;
  info.scenario_start_unix_ms = absl::ToDoubleMilliseconds(wall_start_ - absl::UnixEpoch());
  info.scenario_progress = ProgressAt(FromSteady(loop->Now() - steady_start_));
  info.scenario_env = config_.env;
  info.scenario_tags = config_.tags;
  info.executor = std::string(ExecutorName(config_.executor));
  info.instance_vus_active = shared_.active_vus->load(std::memory_order_relaxed);
  info.instance_iterations_completed = shared_.completed->load(std::memory_order_relaxed);
  info.instance_iterations_interrupted = shared_.interrupted->load(std::memory_order_relaxed);
  info.test_run_duration_ms = absl::ToDoubleMilliseconds(absl::Now() - test_wall_start_);

  // An iteration may run past the scenario's end by gracefulStop at most (ramping-vus: past
  // its VU's ramp-down by gracefulRampDown).
  std::uint64_t timer = loop->AddTimer(deadline, [v] { HardStop(v); });
  const loop::Clock::time_point began = loop->Now();
  slot->user = v;
  js::ScriptError error;
  absl::StatusOr<bool> finished = slot->vu->RunIteration(info, &error);
  slot->user = nullptr;
  loop->CancelTimer(timer);
  ++slot->iterations;
  ++v->iterations;

  if (!finished.ok()) {
    v->stopped = true;
    interrupted_.fetch_add(1, std::memory_order_relaxed);
    shared_.interrupted->fetch_add(1, std::memory_order_relaxed);
    // k6 keeps an interrupted VU, with its JS state, for its next iteration (this ramping-vus
    // VU scheduled again, or a later scenario taking the slot). Cleared here, on the fiber the
    // interrupt hit, so that this driver's own sleeps are not cut short either. No Interrupt()
    // can come in between: HardStop acts only while slot->user is set.
    absl::Status cleared = slot->vu->ClearInterrupt();
    if (!cleared.ok()) {
      slot->broken = true;
      Log("agent")->debug("interrupted vu stays stopped scenario={} vu={} reason={}", config_.name,
                          slot->id_in_instance, std::string(cleared.message()));
    }
    return false;
  }
  if (!*finished) {
    if (error.aborted) {
      slot->broken = true;
      v->stopped = true;
      return false;
    }
    shared_.errors->Report(error);
  }
  completed_.fetch_add(1, std::memory_order_relaxed);
  shared_.completed->fetch_add(1, std::memory_order_relaxed);
  // minIterationDuration: the VU waits out the rest before its next iteration (not part of
  // iteration_duration, as in k6), cut short at the iteration's deadline.
  if (shared_.min_iteration_duration > absl::ZeroDuration()) {
    SleepUntil(loop, std::min(deadline, began + ToSteady(shared_.min_iteration_duration)));
  }
  return true;
}

// Sleeps in short steps so that a stop request is seen soon.
void ScenarioRun::SleepUntil(loop::Loop* loop, loop::Clock::time_point until) const {
  constexpr auto kStep = std::chrono::milliseconds(100);
  while (!Stopping()) {
    auto now = loop->Now();
    if (now >= until) return;
    loop->SleepUntil(std::min(until, now + kStep));
  }
}

void ScenarioRun::Drive(ScenarioVu* v) {
  loop::Loop* loop = v->slot->worker->loop();
  // k6 counts a VU as active from its first scheduled instant until it is descheduled
  // (ramping-vus) or the scenario ends, not only while inside an iteration.
  bool active = false;
  auto set_active = [&](bool on) {
    if (on == active) return;
    active = on;
    shared_.active_vus->fetch_add(on ? 1 : -1);
    active_.fetch_add(on ? 1 : -1);
  };
  // Only ramping-vus goes on after an interrupted iteration: gracefulRampDown interrupts a VU
  // that may be scheduled again later. Elsewhere an interrupt means the scenario is over.
  const bool reschedulable = config_.executor == ExecutorType::kRampingVus;
  while (!Stopping() && (!v->stopped || reschedulable)) {
    const absl::Duration offset = FromSteady(loop->Now() - steady_start_);
    const VuAction action = NextVuAction(share_, v->index, v->iterations, offset);
    if (action.kind == VuAction::kDone) break;
    if (action.kind == VuAction::kWait) {
      set_active(false);
      SleepUntil(loop, steady_start_ + ToSteady(action.wake));
      continue;
    }
    if (!Acquire(v)) break;
    v->stopped = false;
    const std::int64_t in_instance = next_iteration_.fetch_add(1, std::memory_order_relaxed);
    if (config_.executor == ExecutorType::kSharedIterations && in_instance >= share_.iterations) {
      break;
    }
    set_active(true);
    const auto deadline = steady_start_ + ToSteady(InterruptDeadline(share_, v->index, offset));
    if (!RunOne(v, in_instance, share_.iteration_tuple.GlobalIndex(in_instance), deadline) &&
        !reschedulable) {
      break;
    }
  }
  set_active(false);
}

bool ScenarioRun::Acquire(ScenarioVu* v) {
  VuSlot* slot = v->slot;
  loop::Loop* loop = slot->worker->loop();
  // Spans of scenario VUs sharing a slot do not overlap, so this waits only while the previous
  // user's last iteration is being interrupted at its deadline.
  while (slot->user != nullptr && slot->user != v) {
    if (Stopping()) return false;
    loop->SleepUntil(loop->Now() + std::chrono::milliseconds(1));
  }
  // A stop that came during the wait found no iteration here to interrupt: start none after it.
  return !slot->broken && !Stopping();
}

void ScenarioRun::DriveArrivals(ScenarioVu* v) {
  loop::Loop* loop = v->slot->worker->loop();
  loop::Fiber* self = loop->CurrentFiber();
  const std::size_t position =
      std::find(arrival_workers_.begin(), arrival_workers_.end(), v->slot->worker) -
      arrival_workers_.begin();
  while (true) {
    if (!v->work) {
      // The dispatcher may have finished while this VU was busy: look before parking.
      if (Stopping() || v->stopped || v->arrivals_done) break;
      v->parked = self;
      free_vus_[position].fetch_add(1);
      loop->Park();
      v->parked = nullptr;
      // Woken without an iteration (a stop, the dispatcher's end): no longer free.
      if (!v->work) free_vus_[position].fetch_sub(1);
      continue;
    }
    bool ok = Acquire(v);
    if (ok) {
      // Numbered when started, as k6 does: dropped iterations leave no gaps in
      // exec.scenario.iterationInInstance / iterationInTest.
      const std::int64_t in_instance = next_iteration_.fetch_add(1, std::memory_order_relaxed);
      ok = RunOne(v, in_instance, share_.iteration_tuple.GlobalIndex(in_instance), hard_stop_);
    }
    v->work.reset();
    active_.fetch_sub(1);
    if (!ok) break;
  }
  if (v->counted_active) {
    v->counted_active = false;
    shared_.active_vus->fetch_sub(1);
  }
}

bool ScenarioRun::ReserveFreeVu(std::size_t position) {
  std::atomic<std::int64_t>& free = free_vus_[position];
  std::int64_t n = free.load();
  while (n > 0) {
    if (free.compare_exchange_weak(n, n - 1)) return true;
  }
  return false;
}

bool ScenarioRun::StartOnReserved(std::size_t position, const ArrivalIteration& it,
                                  loop::Clock::time_point when) {
  ScenarioVu* free_vu = nullptr;
  for (ScenarioVu* v : arrival_slots_[position]) {
    if (v->parked != nullptr && !v->work && !v->stopped && !v->arrivals_done) {
      free_vu = v;
      break;
    }
  }
  if (free_vu == nullptr || Stopping()) return false;
  loop::Loop* loop = free_vu->slot->worker->loop();
  metrics::Aggregator* aggregator = free_vu->slot->worker->aggregator();
  double late_ms = absl::ToDoubleMilliseconds(FromSteady(loop->Now() - when));
  aggregator->Add(shared_.start_delay_metric, aggregator->Intern({{"scenario", config_.name}}),
                  std::max(0.0, late_ms));
  free_vu->work = it;
  active_.fetch_add(1);
  loop->Unpark(free_vu->parked);
  return true;
}

void ScenarioRun::Drop(Worker* worker) {
  dropped_.fetch_add(1, std::memory_order_relaxed);
  metrics::Aggregator* aggregator = worker->aggregator();
  aggregator->Add(metrics::builtin::kDroppedIterations,
                  aggregator->Intern({{"scenario", config_.name}}), 1);
  if (!warned_dropped_.exchange(true)) {
    Log("agent")->warn(
        "insufficient VUs, iterations dropped scenario={} max_vus={} (count in "
        "dropped_iterations)",
        config_.name, share_.max_vus);
  }
}

void ScenarioRun::Dispatch(Worker* worker, std::vector<ScenarioVu*> vus) {
  loop::Loop* loop = worker->loop();
  const std::size_t stride = arrival_workers_.size();
  const std::size_t mine = std::find(arrival_workers_.begin(), arrival_workers_.end(), worker) -
                           arrival_workers_.begin();

  SleepUntil(loop, steady_start_);
  // k6 activates every arrival-rate VU for the whole scenario (vus, exec.instance.vusActive);
  // the scenario's own count (progress) is the VUs inside an iteration.
  if (!Stopping()) {
    for (ScenarioVu* v : vus) v->counted_active = true;
    shared_.active_vus->fetch_add(static_cast<std::int64_t>(vus.size()));
  }
  // This worker's VUs first; when all are busy, the first other worker with a free one.
  auto start = [&](const ArrivalIteration& it, loop::Clock::time_point when) {
    if (ReserveFreeVu(mine)) return StartOnReserved(mine, it, when);
    for (std::size_t k = 1; k < stride; ++k) {
      const std::size_t other = (mine + k) % stride;
      if (!ReserveFreeVu(other)) continue;
      arrival_workers_[other]->Post([this, other, it, when] {
        if (!StartOnReserved(other, it, when) && !Stopping()) Drop(arrival_workers_[other]);
      });
      return true;
    }
    return false;
  };
  ArrivalDispatch dispatch(share_, static_cast<std::int64_t>(mine),
                           static_cast<std::int64_t>(stride));
  while (!Stopping()) {
    std::optional<ArrivalIteration> it = dispatch.Next();
    if (!it) break;
    auto when = steady_start_ + ToSteady(it->offset);
    SleepUntil(loop, when);
    if (Stopping()) break;
    if (start(*it, when)) continue;
    // Behind schedule this fiber hands out iterations without yielding, so VUs whose iteration
    // has ended may not have parked yet: one loop turn lets them before a drop.
    loop->Yield();
    if (Stopping()) break;
    if (!start(*it, when)) Drop(worker);
  }
  // No more iterations from here: no VU of this worker can be reserved any more, idle drivers
  // leave, busy ones leave after their iteration. An iteration another worker reserved a VU
  // here for just before this finds none and is counted as dropped on this worker.
  free_vus_[mine].store(std::numeric_limits<std::int64_t>::min() / 2);
  for (ScenarioVu* v : vus) {
    v->arrivals_done = true;
    if (v->parked != nullptr && !v->work) loop->Unpark(v->parked);
  }
}

volley::v1::ScenarioProgress ScenarioRun::Progress(absl::Time now) const {
  volley::v1::ScenarioProgress p;
  p.set_name(config_.name);
  p.set_vus(static_cast<std::uint32_t>(std::max<std::int64_t>(0, active_.load())));
  p.set_iterations(static_cast<std::uint64_t>(completed_.load()));
  p.set_interrupted(static_cast<std::uint64_t>(interrupted_.load()));
  double progress = 0;
  if (started_) progress = drivers_left_.load() == 0 ? 1.0 : ProgressAt(now - wall_start_);
  if (cut_.load()) progress = cut_progress_.load();
  p.set_progress(progress);
  p.set_cut(cut_.load());
  p.set_has_work(share_.has_work);
  return p;
}

}  // namespace volley::agent
