#include "common/logging.h"

#include <mutex>

#include <spdlog/sinks/stdout_color_sinks.h>

namespace volley {
namespace {

std::mutex g_mu;
spdlog::level::level_enum g_level = spdlog::level::info;

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
  spdlog::set_pattern("%^%l%$ [%n] %v");
  spdlog::apply_all([&](std::shared_ptr<spdlog::logger> l) { l->set_level(LevelFor(l->name())); });
}

std::shared_ptr<spdlog::logger> Log(const std::string& component) {
  if (auto existing = spdlog::get(component)) return existing;
  std::lock_guard<std::mutex> lock(g_mu);
  if (auto existing = spdlog::get(component)) return existing;
  auto logger = spdlog::stderr_color_mt(component);
  logger->set_level(LevelFor(component));
  logger->set_pattern("%^%l%$ [%n] %v");
  return logger;
}

}  // namespace volley
