#include "common/logging.h"

#include <spdlog/sinks/dist_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <array>
#include <mutex>

namespace volley {
namespace {

constexpr char kPattern[] = "%^%l%$ [%n] %v";

std::mutex g_mu;
spdlog::level::level_enum g_level = spdlog::level::info;

// Shared by every logger: AddLogSink adds to it under its own mutex, so the loggers' sink lists
// never change after creation (spdlog does not guard them). Never destroyed, as the loggers
// that hold it may log during static destruction.
std::shared_ptr<spdlog::sinks::dist_sink_mt> Extra() {
  static const auto* sink = new std::shared_ptr<spdlog::sinks::dist_sink_mt>(
      std::make_shared<spdlog::sinks::dist_sink_mt>());
  return *sink;
}

// A script's console output is the user's own: it shows at info even when Volley's own
// components are told to be quieter, as k6 prints console.log whatever the log level.
spdlog::level::level_enum LevelFor(const std::string& component) {
  if (component == "console") return std::min(g_level, spdlog::level::info);
  return g_level;
}

}  // namespace

void InitLogging(const std::string& level) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_level = spdlog::level::from_str(level);
  spdlog::set_level(g_level);
  spdlog::set_pattern(kPattern);
  spdlog::apply_all([&](std::shared_ptr<spdlog::logger> l) { l->set_level(LevelFor(l->name())); });
}

std::shared_ptr<spdlog::logger> Log(const std::string& component) {
  if (auto existing = spdlog::get(component)) return existing;
  std::lock_guard<std::mutex> lock(g_mu);
  if (auto existing = spdlog::get(component)) return existing;
  auto stderr_sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  auto logger =
      std::make_shared<spdlog::logger>(component, spdlog::sinks_init_list{stderr_sink, Extra()});
  logger->set_level(LevelFor(component));
  logger->set_pattern(kPattern);
  spdlog::register_logger(logger);
  return logger;
}

bool IsComponent(std::string_view name) {
  static constexpr std::array<std::string_view, 9> kComponents = {
      "controller", "agent", "vu", "js", "http", "rpc", "metrics", "loop", "console"};
  return std::find(kComponents.begin(), kComponents.end(), name) != kComponents.end();
}

void AddLogSink(std::shared_ptr<spdlog::sinks::sink> sink) { Extra()->add_sink(std::move(sink)); }

void RemoveLogSink(const std::shared_ptr<spdlog::sinks::sink>& sink) { Extra()->remove_sink(sink); }

}  // namespace volley
