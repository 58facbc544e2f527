// The live progress display on stderr, as k6 shows it: one "running (...)" line with VUs and
// iterations, then one bar per scenario. On a terminal it redraws in place several times a
// second; otherwise it prints plain lines every few seconds. Controller thread only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace volley::controller {

struct ScenarioLine {
  std::string name;
  std::uint32_t vus = 0;
  std::uint64_t iterations = 0;
  std::uint64_t interrupted = 0;
  double progress = 0;        // 0..1
  std::string detail;         // right-hand text, e.g. "10 VUs  05.0s/10s"
};

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
