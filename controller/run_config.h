// What `volley run` was asked to do, as parsed from the command line. Plain data.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace volley::controller {

struct RunConfig {
  std::string script;
  // k6 shortcut flags; unset when not given.
  std::optional<long long> vus;
  std::optional<std::string> duration;
  std::optional<long long> iterations;
  std::vector<std::string> stages;          // "30s:10"
  std::map<std::string, std::string> env;   // -e KEY=VALUE (over the system environment)
  bool include_system_env_vars = true;
  std::string config_file;                  // --config JSON
  std::string summary_export;
  std::optional<std::string> summary_trend_stats;
  bool quiet = false;
  bool no_color = false;
  bool no_summary = false;
  bool no_thresholds = false;
  std::string log_level = "warn";

  // Agents: none named = one embedded agent in this process.
  std::vector<std::string> agents;          // --agent HOST:PORT
  std::string agents_dns;                   // --agents dns:///NAME:PORT
  std::string agents_file;                  // --agents-file agents.yaml
  int max_lost_agents = 0;                  // --max-lost-agents
  std::string token_file;
  std::string tls_cert, tls_key, tls_ca;
  std::string tls_server_name;  // checked against the agents' certificates instead of the address
  int workers = 0;                          // embedded agent's worker threads (0: per core)
  int metrics_interval_ms = 1000;
};

// Runs the test and returns k6's exit code.
int RunTest(const RunConfig& config);

}  // namespace volley::controller
