#include "agent/log_forwarder.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace volley::agent {
namespace {

// The length of the valid UTF-8 character at the start of `s`, 0 if none starts there.
std::size_t Utf8CharLength(std::string_view s) {
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  unsigned char c = byte(0);
  if (c < 0x80) return 1;
  std::size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (len == 0 || len > s.size()) return 0;
  std::uint32_t cp = c & (0x7F >> len);
  for (std::size_t k = 1; k < len; ++k) {
    if ((byte(k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(k) & 0x3F);
  }
  // Overlong forms, UTF-16 surrogates and code points past Unicode are invalid too.
  static constexpr std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) return 0;
  return len;
}

}  // namespace

std::string ForwardableText(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t len = Utf8CharLength(text.substr(i));
    std::size_t out_len = len == 0 ? 1 : len;
    if (out.size() + out_len > max_bytes) break;
    if (len == 0) {
      out.push_back('?');
      i += 1;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  if (i < text.size()) absl::StrAppend(&out, "... (truncated bytes=", text.size() - i, ")");
  return out;
}

bool LogForwarder::Forwards(std::string_view logger, spdlog::level::level_enum level) {
  if (level == spdlog::level::off) return false;
  return logger == "console" || level >= spdlog::level::warn;
}

void LogForwarder::sink_it_(const spdlog::details::log_msg& msg) {
  std::string_view logger(msg.logger_name.data(), msg.logger_name.size());
  if (!Forwards(logger, msg.level)) return;

  // Records of threads racing for the lock may come slightly out of time order; an earlier one
  // counts in the current window rather than opening a new one.
  if (msg.time >= window_start_ + std::chrono::seconds(1)) {
    window_start_ = msg.time;
    in_window_ = 0;
  }
  if (in_window_ >= limits_.lines_per_second || pending_.size() >= limits_.max_pending) {
    ++dropped_;
    return;
  }
  ++in_window_;

  volley::v1::LogLine& line = pending_.emplace_back();
  auto level_name = spdlog::level::to_string_view(msg.level);
  line.set_level(level_name.data(), level_name.size());
  line.set_logger(std::string(logger));
  line.set_text(ForwardableText(std::string_view(msg.payload.data(), msg.payload.size()),
                                limits_.max_text_bytes));
  line.set_unix_ns(
      std::chrono::duration_cast<std::chrono::nanoseconds>(msg.time.time_since_epoch()).count());
}

std::vector<volley::v1::LogLine> LogForwarder::Take() {
  std::vector<volley::v1::LogLine> lines;
  std::lock_guard<std::mutex> lock(mutex_);
  lines.swap(pending_);
  if (dropped_ > 0) {
    volley::v1::LogLine& line = lines.emplace_back();
    line.set_level("warning");
    line.set_logger("agent");
    line.set_text(absl::StrCat("log lines dropped count=", dropped_,
                               " max_per_s=", limits_.lines_per_second));
    line.set_unix_ns(std::chrono::duration_cast<std::chrono::nanoseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count());
    dropped_ = 0;
  }
  return lines;
}

}  // namespace volley::agent
