// The end-of-test summary in k6's three shapes, all built from one `data` object as k6 builds
// them: the handleSummary() `data` argument, the default text written to stdout, and the
// --summary-export file. Called once by the controller's merge thread at the end of a test.
//
//   SummaryInputs in{&store, &thresholds, &registry, test_run_duration};
//   nlohmann::ordered_json data = BuildSummaryData(in, options);   // handleSummary(data)
//   std::string text = RenderTextSummary(data, /*enable_colors=*/tty && !no_color);
//   std::string file = RenderSummaryExport(data);
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/metrics/registry.h"
#include "common/metrics/store.h"
#include "common/metrics/threshold.h"

namespace volley::metrics {

struct SummaryOptions {
  // k6's summaryTrendStats: avg, min, med, max, count, p(N).
  std::vector<std::string> trend_stats = {"avg", "min", "med", "max", "p(90)", "p(95)"};
  std::string time_unit;  // k6's summaryTimeUnit: "" (automatic), "s", "ms" or "us"
  bool no_color = false;
  bool stdout_tty = false;
  bool stderr_tty = false;
  // Show http_req_duration{expected_response:true}, as k6 does with its default system tags.
  bool expected_response_submetric = true;
};

struct SummaryInputs {
  const Store* store = nullptr;
  const Thresholds* thresholds = nullptr;  // nullable; their last evaluation is reported
  const Registry* registry = nullptr;      // nullable; types of threshold metrics never sampled
  absl::Duration test_run_duration;
  const nlohmann::json* setup_data = nullptr;  // nullable: setup() returned nothing
};

// InvalidArgument naming the first stat that is not avg/min/med/max/count/p(N) with N in
// [0, 100].
absl::Status ValidateTrendStats(const std::vector<std::string>& stats);

// k6's handleSummary `data`: {root_group, options, state, metrics, setup_data}. Metrics are those
// with samples, plus every metric and sub-metric named by a threshold (and its parent), plus the
// expected_response sub-metric when it has samples; each {type, contains, values, thresholds?}.
nlohmann::ordered_json BuildSummaryData(const SummaryInputs& in, const SummaryOptions& options);

// What k6 prints to stdout at the end of a test by default (with its leading and trailing blank
// lines): the checks tree, then metrics sorted by name with sub-metrics under their parent.
// `data` is BuildSummaryData()'s result; its options choose trend stats and time unit.
std::string RenderTextSummary(const nlohmann::ordered_json& data, bool enable_colors);

// The --summary-export file: k6's legacy layout (metrics as bare values, rates' "rate" named
// "value", thresholds as {expression: failed}, groups and checks keyed by name), 4-space indent.
std::string RenderSummaryExport(const nlohmann::ordered_json& data);

// Hex MD5 of `text`: k6 ids groups and checks by the MD5 of their path.
std::string Md5Hex(const std::string& text);

}  // namespace volley::metrics
