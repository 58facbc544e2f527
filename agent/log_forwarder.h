// The log records of a test that its user must see, on their way from an agent to the
// controller: console.* output, iteration errors, and every component's warnings and errors.
// AgentService installs one LogForwarder (an spdlog sink, see AddLogSink) while it serves a
// test. Any thread that logs hands records to it without blocking on the network; the thread
// that writes the test's stream takes them with Take. Bounded in lines per second and in lines
// held, so a script that logs in a tight loop floods neither gRPC nor memory.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "volley.pb.h"

namespace volley::agent {

struct LogForwarderLimits {
  std::size_t lines_per_second = 300;  // per agent; more in one second are dropped and counted
  std::size_t max_pending = 1000;      // lines held between two Takes; more are dropped too
  std::size_t max_text_bytes = 4096;   // a longer message is cut, saying so
};

class LogForwarder final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit LogForwarder(LogForwarderLimits limits = {}) : limits_(limits) {}

  // Whether a record goes to the controller: the script's console at every level the logger
  // lets through, Volley's own components from warn up (info and below are the agent
  // operator's business).
  static bool Forwards(std::string_view logger, spdlog::level::level_enum level);

  // The lines held since the last call, oldest first; then, if any were dropped since, one
  // warning from logger "agent" with their count. Any thread; meant for the stream's writer.
  std::vector<volley::v1::LogLine> Take();

 protected:
  // The rate is counted in one-second windows of the records' own timestamps, so a test can
  // feed records with the times it wants.
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  const LogForwarderLimits limits_;
  // Guarded by base_sink's mutex_.
  std::vector<volley::v1::LogLine> pending_;
  std::chrono::system_clock::time_point window_start_{};
  std::size_t in_window_ = 0;
  std::uint64_t dropped_ = 0;
};

// `text` as valid UTF-8 (a protobuf string must be) of at most `max_bytes` bytes plus a note
// of how much was cut: invalid bytes become '?', and a cut falls between characters.
std::string ForwardableText(std::string_view text, std::size_t max_bytes);

}  // namespace volley::agent
