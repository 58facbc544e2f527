// Named spdlog loggers, one per component ("controller", "agent", "vu", "js", "http", "rpc",
// "metrics", "loop", and "console" for a script's console.*). Thread-safe; call InitLogging once
// in main before starting threads. Every logger writes to stderr and to the sinks added with
// AddLogSink, which any thread may add and remove while others log.
#pragma once

#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>

namespace volley {

// Sets the level for every logger ("trace".."off"); output goes to stderr.
void InitLogging(const std::string& level = "info");

// The logger for a component, created on first use.
std::shared_ptr<spdlog::logger> Log(const std::string& component);

// True for the names above. A logger name that came from elsewhere (an agent's forwarded line)
// is checked with this before Log creates a logger for it.
bool IsComponent(std::string_view name);

// Every logger, present and future, also hands its records (those its level lets through) to
// `sink` until RemoveLogSink. The sink is called on the logging thread and must not block.
void AddLogSink(std::shared_ptr<spdlog::sinks::sink> sink);
void RemoveLogSink(const std::shared_ptr<spdlog::sinks::sink>& sink);

}  // namespace volley
