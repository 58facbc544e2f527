#include "controller/progress.h"

#include <cmath>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"

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

std::string ProgressDisplay::Render(const ProgressState& s) const {
  std::string out = absl::StrFormat(
      "running (%s), %d/%d VUs, %d complete and %d interrupted iterations\n",
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
    absl::StrAppendFormat(&out, "%-*s [%s] %s\n", static_cast<int>(width), sc.name, bar,
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
