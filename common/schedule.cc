#include "common/schedule.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <map>
#include <set>

namespace volley {
namespace {

std::int64_t Ns(absl::Duration d) { return absl::ToInt64Nanoseconds(d); }

// Appends a change point, folding steps at the same instant and dropping non-changes.
void AddStep(std::vector<VuStep>* steps, absl::Duration offset, std::int64_t vus) {
  if (!steps->empty() && steps->back().offset == offset) {
    steps->back().vus = vus;
    if (steps->size() > 1 && (*steps)[steps->size() - 2].vus == vus) steps->pop_back();
    return;
  }
  if (!steps->empty() && steps->back().vus == vus) return;
  steps->push_back(VuStep{offset, vus});
}

std::int64_t StepValueAt(const std::vector<VuStep>& steps, absl::Duration t) {
  const auto after =
      std::upper_bound(steps.begin(), steps.end(), t,
                       [](absl::Duration x, const VuStep& s) { return x < s.offset; });
  return after == steps.begin() ? 0 : std::prev(after)->vus;
}

// The VU count of a ramp while VUs are added or removed one by one: global VU number u (1-based)
// of a ramp from `from` to `to` VUs over [end - duration, end] starts (ramping up) at
//   end - duration * (to - u) / (to - from)
// and stops (ramping down) at
//   end - duration * (u - to - 1) / (from - to),
// both rounded down to whole nanoseconds. So the count follows the line, rounded towards the
// count the stage started with, and every segment flips its own VUs at the global instants.
std::vector<VuStep> RawSteps(const ScenarioConfig& config, const ExecutionTuple& tuple,
                             absl::Duration* end) {
  std::vector<VuStep> steps;
  std::int64_t from = config.StartVusOrDefault();
  steps.push_back(VuStep{absl::ZeroDuration(), tuple.ScaleInt64(from)});
  std::int64_t end_ns = 0;
  for (const Stage& stage : config.stages) {
    const std::int64_t duration_ns = Ns(stage.duration.value_or(absl::ZeroDuration()));
    const std::int64_t to = stage.target.value_or(0);
    end_ns += duration_ns;
    const std::int64_t diff = to - from;
    if (diff == 0) continue;
    if (duration_ns == 0) {
      AddStep(&steps, absl::Nanoseconds(end_ns), tuple.ScaleInt64(to));
    } else if (diff > 0) {
      for (std::int64_t local = tuple.ScaleInt64(from); local < tuple.ScaleInt64(to); ++local) {
        const std::int64_t u = tuple.GlobalIndex(local) + 1;
        const __int128 back = static_cast<__int128>(duration_ns) * (to - u) / diff;
        AddStep(&steps, absl::Nanoseconds(end_ns - static_cast<std::int64_t>(back)), local + 1);
      }
    } else {
      for (std::int64_t local = tuple.ScaleInt64(from) - 1; local >= tuple.ScaleInt64(to);
           --local) {
        const std::int64_t u = tuple.GlobalIndex(local) + 1;
        const __int128 back = static_cast<__int128>(duration_ns) * (u - to - 1) / (-diff);
        AddStep(&steps, absl::Nanoseconds(end_ns - static_cast<std::int64_t>(back)), local);
      }
    }
    from = to;
  }
  *end = absl::Nanoseconds(end_ns);
  return steps;
}

// max over the window [t - width, t] of the step function `raw`, as change points, cut to 0 at
// `end`. A VU told to stop at s may still be finishing its iteration until s + width, so this
// is how many VUs may exist at t.
std::vector<VuStep> TrailingMax(const std::vector<VuStep>& raw, absl::Duration width,
                                absl::Duration end) {
  std::set<absl::Duration> instants;
  for (const VuStep& s : raw) {
    instants.insert(s.offset);
    instants.insert(s.offset + width);
  }
  std::vector<VuStep> result;
  std::deque<std::size_t> window;  // indexes into raw, values decreasing front to back
  std::size_t next = 0;            // first raw step not yet pushed
  for (absl::Duration t : instants) {
    if (t >= end) break;
    for (; next < raw.size() && raw[next].offset <= t; ++next) {
      while (!window.empty() && raw[window.back()].vus <= raw[next].vus) window.pop_back();
      window.push_back(next);
    }
    // Drop steps that ended before the window opens: a step lasts until the next one starts.
    while (!window.empty() && window.front() + 1 < next &&
           raw[window.front() + 1].offset <= t - width) {
      window.pop_front();
    }
    AddStep(&result, t, window.empty() ? 0 : raw[window.front()].vus);
  }
  AddStep(&result, end, 0);
  return result;
}

}  // namespace

RampingVusPlan RampingVusPlan::Make(const ScenarioConfig& config, const ExecutionTuple& tuple) {
  RampingVusPlan plan;
  std::vector<VuStep> raw = RawSteps(config, tuple, &plan.regular_duration_);
  plan.max_duration_ = plan.regular_duration_ + config.GracefulStopOrDefault();
  plan.max_allowed_ = TrailingMax(raw, config.GracefulRampDownOrDefault(), plan.max_duration_);
  plan.scheduled_ = std::move(raw);
  AddStep(&plan.scheduled_, plan.regular_duration_, 0);
  return plan;
}

std::int64_t RampingVusPlan::VusAt(absl::Duration t) const { return StepValueAt(scheduled_, t); }

std::int64_t RampingVusPlan::MaxAllowedVusAt(absl::Duration t) const {
  return StepValueAt(max_allowed_, t);
}

std::int64_t RampingVusPlan::max_vus() const {
  std::int64_t result = 0;
  for (const VuStep& s : max_allowed_) result = std::max(result, s.vus);
  return result;
}

ArrivalSchedule ArrivalSchedule::Constant(std::int64_t rate, absl::Duration time_unit,
                                          absl::Duration duration, ExecutionTuple tuple) {
  ArrivalSchedule s;
  if (rate <= 0 || time_unit <= absl::ZeroDuration()) return s;
  s.kind_ = Kind::kConstant;
  s.tuple_ = std::move(tuple);
  s.period_ns_ = std::max<std::int64_t>(1, Ns(time_unit) / rate);
  s.duration_ns_ = Ns(duration);
  return s;
}

ArrivalSchedule ArrivalSchedule::Ramping(std::int64_t start_rate, absl::Duration time_unit,
                                         const std::vector<Stage>& stages, ExecutionTuple tuple) {
  ArrivalSchedule s;
  if (time_unit <= absl::ZeroDuration()) return s;
  s.kind_ = Kind::kRamping;
  s.tuple_ = std::move(tuple);
  s.time_unit_ns_ = Ns(time_unit);
  std::int64_t start_ns = 0;
  std::int64_t from = start_rate;
  __int128 area = 0;
  for (const Stage& stage : stages) {
    RampStage r;
    r.start_ns = start_ns;
    r.duration_ns = Ns(stage.duration.value_or(absl::ZeroDuration()));
    r.from = from;
    r.to = stage.target.value_or(0);
    r.area_before = area;
    // Trapezoid area in units of iterations * 2 * timeUnit_ns, kept exact in integers.
    area += static_cast<__int128>(r.duration_ns) * (r.from + r.to);
    r.area_after = area;
    s.stages_.push_back(r);
    start_ns += r.duration_ns;
    from = r.to;
  }
  return s;
}

std::optional<ArrivalIteration> ArrivalSchedule::Next() {
  if (kind_ == Kind::kEmpty) return std::nullopt;
  const std::int64_t global = tuple_.GlobalIndex(next_local_);
  std::int64_t offset_ns = 0;

  if (kind_ == Kind::kConstant) {
    const __int128 at = static_cast<__int128>(global) * period_ns_;
    if (at >= duration_ns_) return std::nullopt;
    offset_ns = static_cast<std::int64_t>(at);
  } else {
    // Iteration number k = global + 1 starts where the rate's integral reaches k.
    const __int128 target = static_cast<__int128>(global + 1) * 2 * time_unit_ns_;
    while (stage_ < stages_.size() && stages_[stage_].area_after < target) ++stage_;
    if (stage_ == stages_.size()) return std::nullopt;
    const RampStage& r = stages_[stage_];
    const __int128 remaining = target - r.area_before;  // > 0, <= this stage's area
    std::int64_t x_ns = 0;
    if (r.from == r.to) {
      x_ns = static_cast<std::int64_t>(remaining / (2 * static_cast<__int128>(r.to)));
    } else {
      // Solve from*x + (to-from)*x^2/(2*duration) = remaining/2 for x in [0, duration], in the
      // form that stays accurate when to ~ from: x = remaining / (from + sqrt(from^2 +
      // remaining*(to-from)/duration)).
      const long double rem = static_cast<long double>(remaining);
      const long double f = static_cast<long double>(r.from);
      const long double slope =
          static_cast<long double>(r.to - r.from) / static_cast<long double>(r.duration_ns);
      const long double disc = std::max<long double>(0, f * f + rem * slope);
      const long double x = rem / (f + std::sqrt(disc));
      x_ns = static_cast<std::int64_t>(std::floor(x));
    }
    offset_ns = r.start_ns + std::clamp<std::int64_t>(x_ns, 0, r.duration_ns);
  }
  ArrivalIteration it{absl::Nanoseconds(offset_ns), global, next_local_};
  ++next_local_;
  return it;
}

std::int64_t ArrivalSchedule::CountRemaining() const {
  ArrivalSchedule copy = *this;
  std::int64_t n = 0;
  while (copy.Next().has_value()) ++n;
  return n;
}

ScenarioShare Plan(const ScenarioConfig& config, const ExecutionTuple& tuple) {
  ScenarioShare share;
  share.config = config;
  share.executor = config.executor;
  share.exec = config.ExecOrDefault();
  share.start_time = config.StartTimeOrDefault();
  share.graceful_stop = config.GracefulStopOrDefault();
  share.iteration_tuple = tuple;

  const auto simple_requirements = [&share](std::int64_t vus, std::int64_t unplanned) {
    share.requirements = {ExecutionStep{absl::ZeroDuration(), vus, unplanned}};
    if (vus > 0 || unplanned > 0) share.requirements.push_back({share.max_duration, 0, 0});
  };
  // Arrival-rate and shared-iterations work follows the VUs: re-stripe by the VU count, so a
  // segment without VUs gets no iterations (k6's GetNewExecutionTupleFromValue).
  const auto tuple_for = [&tuple](std::int64_t value) -> std::optional<ExecutionTuple> {
    absl::StatusOr<ExecutionTuple> t = tuple.ForValue(value);
    if (!t.ok()) return std::nullopt;
    return *std::move(t);
  };

  switch (config.executor) {
    case ExecutorType::kSharedIterations: {
      share.vus = tuple.ScaleInt64(config.VusOrDefault());
      if (std::optional<ExecutionTuple> t = tuple_for(config.VusOrDefault())) {
        share.iteration_tuple = *t;
        share.iterations = t->ScaleInt64(config.IterationsOrDefault());
      }
      share.regular_duration = config.MaxDurationOrDefault();
      share.max_duration = share.regular_duration + share.graceful_stop;
      share.has_work = share.vus > 0 && share.iterations > 0;
      simple_requirements(share.vus, 0);
      break;
    }
    case ExecutorType::kPerVuIterations:
      // Only the VUs scale; each VU still runs all its iterations.
      share.vus = tuple.ScaleInt64(config.VusOrDefault());
      share.iterations = config.IterationsOrDefault();
      share.regular_duration = config.MaxDurationOrDefault();
      share.max_duration = share.regular_duration + share.graceful_stop;
      share.has_work = share.vus > 0 && share.iterations > 0;
      simple_requirements(share.vus, 0);
      break;
    case ExecutorType::kConstantVus:
      share.vus = tuple.ScaleInt64(config.VusOrDefault());
      share.regular_duration = config.duration.value_or(absl::ZeroDuration());
      share.max_duration = share.regular_duration + share.graceful_stop;
      share.has_work = share.vus > 0;
      simple_requirements(share.vus, 0);
      break;
    case ExecutorType::kRampingVus: {
      RampingVusPlan plan = RampingVusPlan::Make(config, tuple);
      share.regular_duration = plan.regular_duration();
      share.max_duration = plan.max_duration();
      share.vus = plan.max_vus();
      share.has_work = share.vus > 0;
      for (const VuStep& s : plan.max_allowed()) {
        share.requirements.push_back(ExecutionStep{s.offset, s.vus, 0});
      }
      share.ramping_vus = std::move(plan);
      break;
    }
    case ExecutorType::kConstantArrivalRate:
    case ExecutorType::kRampingArrivalRate: {
      share.pre_allocated_vus = tuple.ScaleInt64(config.PreAllocatedVusOrDefault());
      share.max_vus = std::max(share.pre_allocated_vus, tuple.ScaleInt64(config.MaxVusOrDefault()));
      const bool constant = config.executor == ExecutorType::kConstantArrivalRate;
      if (constant) {
        share.regular_duration = config.duration.value_or(absl::ZeroDuration());
      } else {
        share.regular_duration = absl::ZeroDuration();
        for (const Stage& s : config.stages) {
          share.regular_duration += s.duration.value_or(absl::ZeroDuration());
        }
      }
      share.max_duration = share.regular_duration + share.graceful_stop;
      share.has_work = share.max_vus > 0;
      if (std::optional<ExecutionTuple> t = tuple_for(config.MaxVusOrDefault());
          t.has_value() && share.has_work) {
        share.iteration_tuple = *t;
        share.arrivals =
            constant
                ? ArrivalSchedule::Constant(config.rate.value_or(0), config.TimeUnitOrDefault(),
                                            share.regular_duration, *t)
                : ArrivalSchedule::Ramping(config.StartRateOrDefault(), config.TimeUnitOrDefault(),
                                           config.stages, *t);
      }
      simple_requirements(share.pre_allocated_vus, share.max_vus - share.pre_allocated_vus);
      break;
    }
  }
  return share;
}

absl::StatusOr<TestPlan> PlanTest(const Options& options, const ExecutionTuple& tuple) {
  absl::StatusOr<Options> derived = DeriveScenarios(options);
  if (!derived.ok()) return derived.status();

  TestPlan plan;
  for (const auto& [name, config] : *derived->scenarios) {
    plan.scenarios.push_back(Plan(config, tuple));
  }
  std::stable_sort(plan.scenarios.begin(), plan.scenarios.end(),
                   [](const ScenarioShare& a, const ScenarioShare& b) {
                     return a.start_time < b.start_time;  // names already sorted (std::map)
                   });

  // Sum every scenario's requirement at each instant any of them changes.
  std::set<absl::Duration> instants;
  for (const ScenarioShare& s : plan.scenarios) {
    plan.max_duration = std::max(plan.max_duration, s.start_time + s.max_duration);
    for (const ExecutionStep& step : s.requirements) instants.insert(s.start_time + step.offset);
  }
  for (absl::Duration t : instants) {
    ExecutionStep total{t, 0, 0};
    for (const ScenarioShare& s : plan.scenarios) {
      const ExecutionStep* current = nullptr;
      for (const ExecutionStep& step : s.requirements) {
        if (s.start_time + step.offset <= t) current = &step;
      }
      if (current == nullptr) continue;
      total.planned_vus += current->planned_vus;
      total.max_unplanned_vus += current->max_unplanned_vus;
    }
    if (!plan.requirements.empty() && plan.requirements.back().planned_vus == total.planned_vus &&
        plan.requirements.back().max_unplanned_vus == total.max_unplanned_vus) {
      continue;
    }
    plan.requirements.push_back(total);
    plan.max_planned_vus = std::max(plan.max_planned_vus, total.planned_vus);
    plan.max_possible_vus =
        std::max(plan.max_possible_vus, total.planned_vus + total.max_unplanned_vus);
  }
  return plan;
}

}  // namespace volley
