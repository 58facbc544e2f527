#include "controller/report.h"

#include <fstream>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/duration.h"
#include "common/metrics/summary.h"

namespace volley::controller {
namespace {

// k6's trailing " (fact, ..., exec: f, startTime: 5s, gracefulStop: 30s)": the executor's facts,
// then exec when set, startTime and gracefulStop when above zero.
std::string WithBaseInfo(const ScenarioConfig& s, std::vector<std::string> facts) {
  if (s.exec) facts.push_back(absl::StrCat("exec: ", *s.exec));
  if (s.StartTimeOrDefault() > absl::ZeroDuration()) {
    facts.push_back(absl::StrCat("startTime: ", FormatK6Duration(s.StartTimeOrDefault())));
  }
  if (s.GracefulStopOrDefault() > absl::ZeroDuration()) {
    facts.push_back(absl::StrCat("gracefulStop: ", FormatK6Duration(s.GracefulStopOrDefault())));
  }
  return facts.empty() ? "" : absl::StrCat(" (", absl::StrJoin(facts, ", "), ")");
}

// "maxVUs: 10" or "maxVUs: 10-50" of the arrival-rate executors.
std::string MaxVusRange(const ScenarioConfig& s) {
  std::string range = absl::StrCat("maxVUs: ", s.PreAllocatedVusOrDefault());
  if (s.MaxVusOrDefault() > s.PreAllocatedVusOrDefault()) {
    absl::StrAppend(&range, "-", s.MaxVusOrDefault());
  }
  return range;
}

std::string PerSecond(std::int64_t rate, absl::Duration time_unit) {
  double seconds = absl::ToDoubleSeconds(time_unit);
  return absl::StrFormat("%.2f", seconds > 0 ? static_cast<double>(rate) / seconds : 0.0);
}

}  // namespace

std::string DescribeScenario(const ScenarioConfig& s) {
  auto stages_total = [&] {
    absl::Duration total;
    for (const auto& st : s.stages) total += st.duration.value_or(absl::ZeroDuration());
    return total;
  };
  switch (s.executor) {
    case ExecutorType::kSharedIterations:
      return absl::StrCat(
          s.IterationsOrDefault(), " iterations shared among ", s.VusOrDefault(), " VUs",
          WithBaseInfo(s, {"maxDuration: " + FormatK6Duration(s.MaxDurationOrDefault())}));
    case ExecutorType::kPerVuIterations:
      return absl::StrCat(
          s.IterationsOrDefault(), " iterations for each of ", s.VusOrDefault(), " VUs",
          WithBaseInfo(s, {"maxDuration: " + FormatK6Duration(s.MaxDurationOrDefault())}));
    case ExecutorType::kConstantVus:
      return absl::StrCat(s.VusOrDefault(), " looping VUs for ",
                          FormatK6Duration(s.duration.value_or(absl::ZeroDuration())),
                          WithBaseInfo(s, {}));
    case ExecutorType::kRampingVus: {
      std::int64_t max_vus = s.StartVusOrDefault();
      for (const auto& st : s.stages) max_vus = std::max(max_vus, st.target.value_or(0));
      return absl::StrCat(
          "Up to ", max_vus, " looping VUs for ", FormatK6Duration(stages_total()), " over ",
          s.stages.size(), " stages",
          WithBaseInfo(s,
                       {"gracefulRampDown: " + FormatK6Duration(s.GracefulRampDownOrDefault())}));
    }
    case ExecutorType::kConstantArrivalRate:
      return absl::StrCat(PerSecond(s.rate.value_or(0), s.TimeUnitOrDefault()),
                          " iterations/s for ",
                          FormatK6Duration(s.duration.value_or(absl::ZeroDuration())),
                          WithBaseInfo(s, {MaxVusRange(s)}));
    case ExecutorType::kRampingArrivalRate: {
      std::int64_t max_rate = s.StartRateOrDefault();
      for (const auto& st : s.stages) max_rate = std::max(max_rate, st.target.value_or(0));
      return absl::StrCat("Up to ", PerSecond(max_rate, s.TimeUnitOrDefault()),
                          " iterations/s for ", FormatK6Duration(stages_total()), " over ",
                          s.stages.size(), " stages", WithBaseInfo(s, {MaxVusRange(s)}));
    }
  }
  return "";
}

void PrintBanner(std::ostream& out, const std::string& script, const Options& options,
                 const std::vector<std::string>& agents, bool embedded) {
  out << "\n  volley — k6 scripts, distributed\n\n";
  if (embedded) {
    out << "  execution: local (embedded agent)\n";
  } else {
    out << "  execution: distributed over " << agents.size() << " agent"
        << (agents.size() == 1 ? "" : "s") << ": " << absl::StrJoin(agents, ", ") << "\n";
  }
  out << "     script: " << script << "\n";
  out << "     output: -\n\n";
  if (!options.scenarios) return;
  std::int64_t max_vus = 0;
  absl::Duration max_duration;
  for (const auto& [name, s] : *options.scenarios) {
    switch (s.executor) {
      case ExecutorType::kRampingVus: {
        std::int64_t m = s.StartVusOrDefault();
        absl::Duration d;
        for (const auto& st : s.stages) {
          m = std::max(m, st.target.value_or(0));
          d += st.duration.value_or(absl::ZeroDuration());
        }
        max_vus += m;
        max_duration = std::max(max_duration, s.StartTimeOrDefault() + d +
                                                  s.GracefulStopOrDefault());
        break;
      }
      case ExecutorType::kConstantArrivalRate:
      case ExecutorType::kRampingArrivalRate:
        max_vus += s.MaxVusOrDefault();
        break;
      default:
        max_vus += s.VusOrDefault();
        break;
    }
    absl::Duration d = s.executor == ExecutorType::kConstantVus ||
                               s.executor == ExecutorType::kConstantArrivalRate
                           ? s.duration.value_or(absl::ZeroDuration())
                       : s.executor == ExecutorType::kRampingVus ? absl::ZeroDuration()
                                                                 : s.MaxDurationOrDefault();
    max_duration = std::max(max_duration, s.StartTimeOrDefault() + d + s.GracefulStopOrDefault());
  }
  std::size_t n = options.scenarios->size();
  out << "  scenarios: (100.00%) " << n << " scenario" << (n == 1 ? "" : "s") << ", " << max_vus
      << " max VUs, " << FormatK6Duration(max_duration)
      << " max duration (incl. graceful stop):\n";
  for (const auto& [name, s] : *options.scenarios) {
    out << "           * " << name << ": " << DescribeScenario(s) << "\n";
  }
  out << "\n" << std::flush;
}

namespace {

nlohmann::ordered_json BuildData(const ReportInput& input) {
  metrics::SummaryOptions options;
  if (input.options->summary_trend_stats) options.trend_stats = *input.options->summary_trend_stats;
  if (input.options->summary_time_unit) options.time_unit = *input.options->summary_time_unit;
  options.no_color = !input.color;
  options.stdout_tty = input.stdout_tty;
  options.stderr_tty = input.stderr_tty;
  metrics::SummaryInputs in;
  in.store = input.store;
  in.thresholds = input.thresholds;
  in.registry = input.registry;
  in.test_run_duration = input.elapsed;
  nlohmann::json setup;
  if (!input.setup_json.empty()) {
    setup = nlohmann::json::parse(input.setup_json, nullptr, false);
    if (!setup.is_discarded()) in.setup_data = &setup;
  }
  nlohmann::ordered_json data = metrics::BuildSummaryData(in, options);
  data["options"] = nlohmann::ordered_json::parse(input.options_json.dump());
  return data;
}

}  // namespace

std::string TextSummary(const ReportInput& input) {
  return metrics::RenderTextSummary(BuildData(input), input.color);
}

nlohmann::json SummaryExport(const ReportInput& input) {
  return nlohmann::json::parse(metrics::RenderSummaryExport(BuildData(input)));
}

nlohmann::json SummaryData(const ReportInput& input) {
  return nlohmann::json::parse(BuildData(input).dump());
}

absl::Status WriteSummaryOutputs(const nlohmann::json& outputs) {
  std::vector<std::string> problems;
  for (const auto& [key, value] : outputs.items()) {
    std::string text = value.is_string() ? value.get<std::string>() : value.dump();
    if (key == "stdout") {
      std::cout << text << std::flush;
    } else if (key == "stderr") {
      std::cerr << text << std::flush;
    } else {
      std::ofstream out(key, std::ios::binary);
      if (!out || !(out << text)) problems.push_back(absl::StrCat("cannot write ", key));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("handleSummary: ", absl::StrJoin(problems, "; ")));
}

}  // namespace volley::controller
