// What the controller prints and writes about a test: the start banner, and at the end the
// text summary, the --summary-export file and handleSummary's outputs. Controller thread only.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/metrics/store.h"
#include "common/metrics/threshold.h"
#include "common/options.h"

namespace volley::controller {

// k6's one-line description of a scenario in that block, e.g. "10 looping VUs for 30s
// (gracefulStop: 30s)" or "Up to 10.00 iterations/s for 20s over 2 stages (maxVUs: 2-10, ...)".
std::string DescribeScenario(const ScenarioConfig& scenario);

// k6's "execution: ... script: ... scenarios: ..." block printed before the test starts.
void PrintBanner(std::ostream& out, const std::string& script, const Options& options,
                 const std::vector<std::string>& agents, bool embedded);

struct ReportInput {
  const metrics::Store* store = nullptr;
  metrics::Thresholds* thresholds = nullptr;  // may be null
  const Options* options = nullptr;
  const metrics::Registry* registry = nullptr;
  std::string setup_json;  // setup()'s result, "" when none
  nlohmann::json options_json;
  absl::Duration elapsed;
  bool color = false;       // colors allowed (stdout is a terminal, no --no-color)
  bool stdout_tty = false;
  bool stderr_tty = false;
  bool interrupted = false;
};

// The end-of-test text summary as k6 lays it out.
std::string TextSummary(const ReportInput& input);
// The --summary-export JSON, k6's layout.
nlohmann::json SummaryExport(const ReportInput& input);
// handleSummary's `data` argument, k6's shape.
nlohmann::json SummaryData(const ReportInput& input);

// Writes handleSummary's result: "stdout" and "stderr" keys go to those streams, every other
// key is a file path to write. Reports every file it could not write.
absl::Status WriteSummaryOutputs(const nlohmann::json& outputs);

}  // namespace volley::controller
