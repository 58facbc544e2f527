// volley: runs a k6 script, on this machine or across volley-agent servers.
#include <cctype>
#include <iostream>

#include <CLI/CLI.hpp>

#include "controller/run_config.h"

int main(int argc, char** argv) {
  using volley::controller::RunConfig;
  CLI::App app{"volley: a distributed load generator for k6 scripts"};
  app.require_subcommand(1);
  RunConfig config;

  CLI::App* run = app.add_subcommand("run", "run a k6 script");
  run->add_option("script", config.script, "the k6 script (ES module)")->required();
  run->add_option("-u,--vus", config.vus, "number of virtual users");
  run->add_option("-d,--duration", config.duration, "test duration, e.g. 30s, 1m");
  run->add_option("-i,--iterations", config.iterations, "total iterations (shared by VUs)");
  run->add_option("-s,--stage", config.stages, "ramping stage DURATION:TARGET (repeatable)");
  std::vector<std::string> env;
  run->add_option("-e,--env", env, "environment variable KEY=VALUE for __ENV (repeatable)");
  // k6's default for `run` is true; --include-system-env-vars=false turns it off.
  run->add_flag("--include-system-env-vars", config.include_system_env_vars,
                "pass the system environment to __ENV (default true; =false to turn off)");
  run->add_option("-c,--config", config.config_file, "JSON config file (k6 options)");
  run->add_option("--summary-export", config.summary_export,
                  "write the end-of-test summary as JSON to this file");
  run->add_option("--summary-trend-stats", config.summary_trend_stats,
                  "trend stats in the summary, e.g. avg,p(99),max");
  run->add_flag("-q,--quiet", config.quiet, "no progress output");
  run->add_flag("--no-color", config.no_color, "no colors in the output");
  run->add_flag("--no-summary", config.no_summary, "no end-of-test summary");
  run->add_flag("--no-thresholds", config.no_thresholds, "do not evaluate thresholds");
  run->add_option("--log-level", config.log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  run->add_option("--agent", config.agents, "volley-agent HOST:PORT to use (repeatable)");
  run->add_option("--agents", config.agents_dns, "agents by DNS name: dns:///NAME:PORT");
  run->add_option("--agents-file", config.agents_file, "YAML list of agent addresses");
  run->add_option("--max-lost-agents", config.max_lost_agents,
                  "keep running when at most this many agents are lost");
  run->add_option("--token-file", config.token_file, "token to present to agents");
  run->add_option("--tls-cert", config.tls_cert, "client certificate for agents (PEM)");
  run->add_option("--tls-key", config.tls_key, "client key for agents (PEM)");
  run->add_option("--tls-ca", config.tls_ca, "CA that signed the agents' certificates (PEM)");
  run->add_option("--tls-server-name", config.tls_server_name,
                  "name the agents' certificates carry, when it is not the dialled address "
                  "(e.g. a Kubernetes Service name with --agents dns:///)");
  run->add_option("--workers", config.workers, "worker threads of the embedded agent");

  app.add_subcommand("version", "print the version")->callback([] {
    std::cout << "volley v0.1.0 (k6 script API v0.48)\n";
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    // k6 exits 255 on bad command-line usage? It uses -1 (255) for generic errors.
    return code == 0 ? 0 : 255;
  }
  if (!run->parsed()) return 0;

  // As k6: "-e KEY" sets KEY to "" and a name must match [a-zA-Z_][a-zA-Z0-9_]*.
  for (const std::string& kv : env) {
    auto eq = kv.find('=');
    std::string key = kv.substr(0, eq);
    bool valid = !key.empty() && !std::isdigit(static_cast<unsigned char>(key[0]));
    for (char c : key) valid = valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (!valid) {
      std::cerr << "ERRO invalid environment variable name '" << key << "' in -e " << kv << "\n";
      return 255;
    }
    config.env[key] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  return volley::controller::RunTest(config);
}
