// The live progress display on stderr, as k6 shows it: one "running (...)" line with VUs and
// iterations, then one bar per scenario. On a terminal it redraws in place several times a
// second; otherwise it prints plain lines every few seconds. Controller thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/options.h"

namespace volley::controller {

struct ScenarioLine {
  std::string name;
  std::uint32_t vus = 0;
  std::uint64_t iterations = 0;
  std::uint64_t interrupted = 0;
  double progress = 0;  // 0..1
  bool cut = false;     // interrupted by a stop of the test (k6 marks it with a cross)
  std::string detail;   // right-hand text, e.g. "10 VUs  05.0s/10s"
};

// k6's right-hand text of one scenario's bar, from the scenario's whole-test config, the VUs
// and iterations merged over agents, and the time since the test started:
//   constant-vus          "10 VUs  05.0s/10s"
//   ramping-vus           "03/10 VUs  12.0s/30s"
//   shared-iterations     "10 VUs  05.0s/10m0s  045/100 shared iters"
//   per-vu-iterations     "10 VUs  05.0s/10m0s  045/100 iters, 10 per VU"
//   *-arrival-rate        "007/100 VUs  05.0s/10s  200.00 iters/s" (the scheduled rate now)
std::string ScenarioDetail(const ScenarioConfig& config, const ScenarioLine& line,
                           absl::Duration test_elapsed);

// One agent's progress in a scenario, as it reports it.
struct AgentScenarioProgress {
  bool has_work = false;
  double progress = 0;  // 0..1, of its own share
  bool cut = false;     // its share was ended by a stop
};

// The scenario's progress over the whole test (0..1): the iterations executors count the
// iterations completed on all agents against the scenario's total; the others take the mean
// of the agents that run part of it (they share one clock). Agents without a share of the
// scenario do not count, and the scenario is complete once every agent with work says so.
double MergedProgress(const ScenarioConfig& config, std::uint64_t iterations_completed,
                      const std::vector<AgentScenarioProgress>& agents);

// Time spent of `total` with the width of `total`'s unit, as k6 writes it: "05.0s" (total under
// a minute), "1m05.0s", "1h01m05.0s".
std::string FormatSpent(absl::Duration spent, absl::Duration total);

struct ProgressState {
  absl::Duration elapsed;
  std::uint32_t vus = 0;
  std::uint32_t vus_max = 0;
  std::uint64_t complete = 0;
  std::uint64_t interrupted = 0;
  std::vector<ScenarioLine> scenarios;
};

class ProgressDisplay {
 public:
  ProgressDisplay(bool enabled, bool terminal);

  // Draws when due (rate-limited); `force` draws now.
  void Update(const ProgressState& state, bool force = false);
  // Draws the final state and leaves the cursor below it.
  void Finish(const ProgressState& state);

  // "0m05.0s" as k6 writes the elapsed time.
  static std::string FormatElapsed(absl::Duration d);

 private:
  std::string Render(const ProgressState& state) const;

  bool enabled_;
  bool terminal_;
  absl::Time last_draw_ = absl::InfinitePast();
  int lines_drawn_ = 0;
};

}  // namespace volley::controller
