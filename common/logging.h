// Named spdlog loggers, one per component ("controller", "agent", "vu", "js", "http", "rpc",
// "metrics", "loop"). Thread-safe; call InitLogging once in main before starting threads.
#pragma once

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace volley {

// Sets the level for every logger ("trace".."off"); output goes to stderr.
void InitLogging(const std::string& level = "info");

// The logger for a component, created on first use.
std::shared_ptr<spdlog::logger> Log(const std::string& component);

}  // namespace volley
