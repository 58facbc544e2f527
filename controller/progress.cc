#include "controller/progress.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/duration.h"

namespace volley::controller {

ProgressDisplay::ProgressDisplay(bool enabled, bool terminal)
    : enabled_(enabled), terminal_(terminal) {}

std::string ProgressDisplay::FormatElapsed(absl::Duration d) {
  double seconds = absl::ToDoubleSeconds(d);
  if (seconds < 0) seconds = 0;
  int64_t tenths = static_cast<int64_t>(seconds * 10);
  int64_t minutes = tenths / 600;
  double rest = static_cast<double>(tenths % 600) / 10.0;
  if (minutes >= 60) {
    return absl::StrFormat("%dh%02dm%04.1fs", minutes / 60, minutes % 60, rest);
  }
  return absl::StrFormat("%dm%04.1fs", minutes, rest);
}

double MergedProgress(const ScenarioConfig& config, std::uint64_t iterations_completed,
                      const std::vector<AgentScenarioProgress>& agents) {
  double sum = 0;
  int working = 0;
  bool all_done = true;
  for (const AgentScenarioProgress& a : agents) {
    if (!a.has_work) continue;
    ++working;
    sum += a.progress;
    all_done = all_done && a.progress >= 1.0;
  }
  if (agents.empty()) return 0.0;
  if (working == 0 || all_done) return 1.0;

  double total = 0;
  if (config.executor == ExecutorType::kSharedIterations) {
    total = static_cast<double>(config.IterationsOrDefault());
  } else if (config.executor == ExecutorType::kPerVuIterations) {
    total = static_cast<double>(config.VusOrDefault() * config.IterationsOrDefault());
  }
  double progress = total > 0 ? static_cast<double>(iterations_completed) / total : sum / working;
  return std::clamp(progress, 0.0, 1.0);
}

std::string FormatSpent(absl::Duration spent, absl::Duration total) {
  spent = std::clamp(spent, absl::ZeroDuration(), std::max(total, absl::ZeroDuration()));
  const std::int64_t tenths = absl::ToInt64Milliseconds(spent) / 100;
  const double seconds = static_cast<double>(tenths % 600) / 10.0;
  const std::int64_t minutes = tenths / 600;
  if (total >= absl::Hours(1)) {
    return absl::StrFormat("%dh%02dm%04.1fs", minutes / 60, minutes % 60, seconds);
  }
  if (total >= absl::Minutes(1)) return absl::StrFormat("%dm%04.1fs", minutes, seconds);
  return absl::StrFormat("%04.1fs", seconds);
}

namespace {

// The rate the ramping-arrival-rate schedule asks for `t` after the scenario start, per
// timeUnit (linear within a stage, as k6 ramps it).
double RampedRate(const ScenarioConfig& config, absl::Duration t) {
  double from = static_cast<double>(config.StartRateOrDefault());
  absl::Duration stage_start;
  for (const Stage& stage : config.stages) {
    const absl::Duration d = stage.duration.value_or(absl::ZeroDuration());
    const double to = static_cast<double>(stage.target.value_or(0));
    if (t < stage_start + d) {
      return from + (to - from) * absl::FDivDuration(t - stage_start, d);
    }
    stage_start += d;
    from = to;
  }
  return from;
}

int Digits(std::int64_t n) { return static_cast<int>(absl::StrCat(n).size()); }

}  // namespace

std::string ScenarioDetail(const ScenarioConfig& config, const ScenarioLine& line,
                           absl::Duration test_elapsed) {
  const absl::Duration spent = test_elapsed - config.StartTimeOrDefault();
  auto time = [&](absl::Duration total) {
    return absl::StrCat(FormatSpent(spent, total), "/", FormatK6Duration(total));
  };
  auto stages_total = [&] {
    absl::Duration total;
    for (const Stage& s : config.stages) total += s.duration.value_or(absl::ZeroDuration());
    return total;
  };
  switch (config.executor) {
    case ExecutorType::kConstantVus:
      return absl::StrFormat("%d VUs  %s", config.VusOrDefault(),
                             time(config.duration.value_or(absl::ZeroDuration())));
    case ExecutorType::kRampingVus: {
      std::int64_t max_vus = config.StartVusOrDefault();
      for (const Stage& s : config.stages) max_vus = std::max(max_vus, s.target.value_or(0));
      return absl::StrFormat("%0*d/%d VUs  %s", Digits(max_vus), line.vus, max_vus,
                             time(stages_total()));
    }
    case ExecutorType::kSharedIterations: {
      const std::int64_t total = config.IterationsOrDefault();
      return absl::StrFormat("%d VUs  %s  %0*d/%d shared iters", config.VusOrDefault(),
                             time(config.MaxDurationOrDefault()), Digits(total), line.iterations,
                             total);
    }
    case ExecutorType::kPerVuIterations: {
      const std::int64_t total = config.VusOrDefault() * config.IterationsOrDefault();
      return absl::StrFormat("%d VUs  %s  %0*d/%d iters, %d per VU", config.VusOrDefault(),
                             time(config.MaxDurationOrDefault()), Digits(total), line.iterations,
                             total, config.IterationsOrDefault());
    }
    case ExecutorType::kConstantArrivalRate:
    case ExecutorType::kRampingArrivalRate: {
      const bool constant = config.executor == ExecutorType::kConstantArrivalRate;
      const absl::Duration total =
          constant ? config.duration.value_or(absl::ZeroDuration()) : stages_total();
      double per_unit = constant ? static_cast<double>(config.rate.value_or(0))
                                 : RampedRate(config, std::max(spent, absl::ZeroDuration()));
      if (spent >= total && !constant) per_unit = 0;
      const double per_second = per_unit / absl::ToDoubleSeconds(config.TimeUnitOrDefault());
      const std::int64_t max_vus = std::max(config.MaxVusOrDefault(), std::int64_t{1});
      return absl::StrFormat("%0*d/%d VUs  %s  %.2f iters/s", Digits(max_vus), line.vus, max_vus,
                             time(total), per_second);
    }
  }
  return "";
}

std::string ProgressDisplay::Render(const ProgressState& s) const {
  std::string out =
      absl::StrFormat("running (%s), %d/%d VUs, %d complete and %d interrupted iterations\n",
                      FormatElapsed(s.elapsed), s.vus, s.vus_max, s.complete, s.interrupted);
  std::size_t width = 0;
  for (const auto& sc : s.scenarios) width = std::max(width, sc.name.size());
  constexpr int kBar = 40;
  for (const auto& sc : s.scenarios) {
    int filled = static_cast<int>(std::lround(sc.progress * kBar));
    std::string bar(static_cast<std::size_t>(filled), '=');
    if (filled < kBar) bar += '>';
    bar.resize(kBar, '-');
    if (sc.progress >= 1.0) bar = std::string(kBar, '=');
    // k6 marks a finished scenario with a check mark between its name and its bar, and one a
    // stop cut short with a cross.
    const char* mark = sc.cut ? "\u2717" : sc.progress >= 1.0 ? "\u2713" : " ";
    absl::StrAppendFormat(&out, "%-*s %s [%s] %s\n", static_cast<int>(width), sc.name, mark, bar,
                          sc.detail);
  }
  return out;
}

void ProgressDisplay::Update(const ProgressState& state, bool force) {
  if (!enabled_) return;
  absl::Time now = absl::Now();
  absl::Duration every = terminal_ ? absl::Milliseconds(200) : absl::Seconds(2);
  if (!force && now - last_draw_ < every) return;
  last_draw_ = now;
  std::string text = Render(state);
  if (terminal_) {
    // Move up over the previous drawing and clear it.
    std::string prefix;
    for (int i = 0; i < lines_drawn_; ++i) prefix += "\x1b[1A\x1b[2K";
    text = prefix + text;
    lines_drawn_ = 0;
    for (char c : Render(state)) lines_drawn_ += c == '\n';
  }
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
}

void ProgressDisplay::Finish(const ProgressState& state) {
  if (!enabled_) return;
  Update(state, /*force=*/true);
  if (!terminal_) return;
  lines_drawn_ = 0;
}

}  // namespace volley::controller
