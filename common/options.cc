#include "common/options.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <set>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/duration.h"

namespace volley {
namespace {

using Json = nlohmann::json;

// Debian's Abseil has its own string_view type, distinct from std::string_view.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Keys of k6's Options that Volley keeps verbatim without interpreting them.
const std::set<std::string>& PassthroughKeys() {
  static const std::set<std::string> kKeys = {
      "paused",  "executionSegment", "executionSegmentSequence", "rps",
      "dns",     "httpDebug",        "tlsCipherSuites",          "tlsVersion",
      "tlsAuth", "blacklistIPs",     "blockHostnames",           "cloud",
      "ext",     "features",         "metricSamplesBufferSize",
  };
  return kKeys;
}

constexpr std::string_view kCommonScenarioKeys[] = {"executor", "startTime", "gracefulStop", "env",
                                                    "exec",     "tags",      "options"};

// The executor-specific keys k6 accepts for each executor (it rejects any other).
const std::vector<std::string_view>& ExecutorKeys(ExecutorType type) {
  static const std::vector<std::string_view> kIterations = {"vus", "iterations", "maxDuration"};
  static const std::vector<std::string_view> kConstantVus = {"vus", "duration"};
  static const std::vector<std::string_view> kRampingVus = {"startVUs", "stages",
                                                            "gracefulRampDown"};
  static const std::vector<std::string_view> kConstantArrival = {"rate", "timeUnit", "duration",
                                                                 "preAllocatedVUs", "maxVUs"};
  static const std::vector<std::string_view> kRampingArrival = {"startRate", "timeUnit", "stages",
                                                                "preAllocatedVUs", "maxVUs"};
  switch (type) {
    case ExecutorType::kSharedIterations:
    case ExecutorType::kPerVuIterations:
      return kIterations;
    case ExecutorType::kConstantVus:
      return kConstantVus;
    case ExecutorType::kRampingVus:
      return kRampingVus;
    case ExecutorType::kConstantArrivalRate:
      return kConstantArrival;
    case ExecutorType::kRampingArrivalRate:
      return kRampingArrival;
  }
  return kIterations;
}

std::string Quote(std::string_view s) { return absl::StrCat("\"", Av(s), "\""); }

// Reads typed fields out of a JSON object, collecting a problem per bad field instead of
// stopping at the first. `prefix` names the object ("scenarios.foo.").
class FieldReader {
 public:
  FieldReader(const Json& object, std::string prefix, std::vector<std::string>* problems)
      : object_(object), prefix_(std::move(prefix)), problems_(problems) {}

  // The value at `key`, or nullptr when absent or JSON null (k6: unset).
  const Json* Get(std::string_view key) const {
    const auto it = object_.find(std::string(key));
    if (it == object_.end() || it->is_null()) return nullptr;
    return &*it;
  }

  void Problem(std::string_view key, absl::string_view what) {
    problems_->push_back(absl::StrCat(prefix_, Av(key), ": ", what));
  }
  void TypeProblem(std::string_view key, std::string_view expected, const Json& got) {
    Problem(key, absl::StrCat("expected ", Av(expected), ", got ", got.dump()));
  }

  static bool ToInt(const Json& v, std::int64_t* out) {
    if (v.is_number_integer()) {
      *out = v.get<std::int64_t>();
      return true;
    }
    if (v.is_number_float()) {  // JavaScript has no integers: accept 10.0
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e18) {
        *out = static_cast<std::int64_t>(d);
        return true;
      }
    }
    return false;
  }

  void Int(std::string_view key, std::optional<std::int64_t>* out) {
    const Json* v = Get(key);
    if (v == nullptr) return;
    std::int64_t i = 0;
    if (!ToInt(*v, &i)) return TypeProblem(key, "an integer", *v);
    *out = i;
  }
  void Bool(std::string_view key, std::optional<bool>* out) {
    const Json* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_boolean()) return TypeProblem(key, "true or false", *v);
    *out = v->get<bool>();
  }
  void String(std::string_view key, std::optional<std::string>* out) {
    const Json* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_string()) return TypeProblem(key, "a string", *v);
    *out = v->get<std::string>();
  }
  void Duration(std::string_view key, std::optional<absl::Duration>* out) {
    const Json* v = Get(key);
    if (v == nullptr) return;
    absl::StatusOr<absl::Duration> d = ParseDurationJson(*v);
    if (!d.ok()) return Problem(key, d.status().message());
    *out = *d;
  }
  void StringList(std::string_view key, std::optional<std::vector<std::string>>* out) {
    const Json* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_array()) return TypeProblem(key, "a list of strings", *v);
    std::vector<std::string> list;
    for (const Json& item : *v) {
      if (!item.is_string()) return TypeProblem(key, "a list of strings", *v);
      list.push_back(item.get<std::string>());
    }
    *out = std::move(list);
  }
  // Returns false when the key is absent.
  bool StringMap(std::string_view key, std::map<std::string, std::string>* out) {
    const Json* v = Get(key);
    if (v == nullptr) return false;
    if (!v->is_object()) {
      TypeProblem(key, "an object of strings", *v);
      return false;
    }
    std::map<std::string, std::string> map;
    for (const auto& [k, item] : v->items()) {
      if (!item.is_string()) {
        Problem(absl::StrCat(Av(key), ".", k),
                absl::StrCat("expected a string, got ", item.dump()));
        continue;
      }
      map[k] = item.get<std::string>();
    }
    *out = std::move(map);
    return true;
  }
  void Stages(std::string_view key, std::optional<std::vector<Stage>>* out) {
    const Json* v = Get(key);
    if (v == nullptr) return;
    if (!v->is_array()) return TypeProblem(key, "a list of stages", *v);
    std::vector<Stage> stages;
    for (std::size_t i = 0; i < v->size(); ++i) {
      const Json& item = (*v)[i];
      const std::string name = absl::StrCat(Av(key), "[", i, "]");
      if (!item.is_object()) {
        TypeProblem(name, "an object with duration and target", item);
        continue;
      }
      FieldReader stage_reader(item, absl::StrCat(prefix_, name, "."), problems_);
      Stage stage;
      stage_reader.Duration("duration", &stage.duration);
      stage_reader.Int("target", &stage.target);
      stages.push_back(stage);
    }
    *out = std::move(stages);
  }

 private:
  const Json& object_;
  std::string prefix_;
  std::vector<std::string>* problems_;
};

std::optional<ScenarioConfig> ParseScenario(const std::string& name, const Json& json,
                                            std::vector<std::string>* problems) {
  const std::string prefix = absl::StrCat("scenarios.", name);
  if (!json.is_object()) {
    problems->push_back(absl::StrCat(prefix, ": expected an object, got ", json.dump()));
    return std::nullopt;
  }
  ScenarioConfig config;
  config.name = name;
  const auto executor = json.find("executor");
  if (executor == json.end() || executor->is_null() ||
      (executor->is_string() && executor->get<std::string>().empty())) {
    problems->push_back(absl::StrCat(prefix, ": \"executor\" is required"));
    return std::nullopt;
  }
  if (!executor->is_string()) {
    problems->push_back(
        absl::StrCat(prefix, ".executor: expected a string, got ", executor->dump()));
    return std::nullopt;
  }
  const std::string executor_name = executor->get<std::string>();
  const std::optional<ExecutorType> type = ParseExecutorType(executor_name);
  if (!type.has_value()) {
    problems->push_back(absl::StrCat(
        prefix, ": executor ", Quote(executor_name),
        executor_name == "externally-controlled" ? " is not supported by Volley" : " is unknown"));
    return std::nullopt;
  }
  config.executor = *type;

  // Like k6, a field this executor does not take is an error, not silently ignored.
  const std::vector<std::string_view>& own_keys = ExecutorKeys(*type);
  for (const auto& [key, value] : json.items()) {
    const bool known = std::find(std::begin(kCommonScenarioKeys), std::end(kCommonScenarioKeys),
                                 key) != std::end(kCommonScenarioKeys) ||
                       std::find(own_keys.begin(), own_keys.end(), key) != own_keys.end();
    if (!known) {
      problems->push_back(absl::StrCat(prefix, ": unknown field ", Quote(key), " for executor ",
                                       Quote(executor_name)));
    }
  }

  FieldReader r(json, prefix + ".", problems);
  r.Duration("startTime", &config.start_time);
  r.Duration("gracefulStop", &config.graceful_stop);
  r.String("exec", &config.exec);
  r.StringMap("env", &config.env);
  r.StringMap("tags", &config.tags);
  if (const Json* options = r.Get("options")) config.options = *options;
  r.Int("vus", &config.vus);
  r.Int("iterations", &config.iterations);
  r.Duration("maxDuration", &config.max_duration);
  r.Duration("duration", &config.duration);
  r.Int("startVUs", &config.start_vus);
  std::optional<std::vector<Stage>> stages;
  r.Stages("stages", &stages);
  config.stages = stages.value_or(std::vector<Stage>{});
  r.Duration("gracefulRampDown", &config.graceful_ramp_down);
  r.Int("rate", &config.rate);
  r.Duration("timeUnit", &config.time_unit);
  r.Int("preAllocatedVUs", &config.pre_allocated_vus);
  r.Int("maxVUs", &config.max_vus);
  r.Int("startRate", &config.start_rate);
  return config;
}

absl::Status ProblemsToStatus(std::string_view title, const std::vector<std::string>& problems) {
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(Av(title), "\n\t- ", absl::StrJoin(problems, "\n\t- ")));
}

bool ValidTrendStat(const std::string& stat, std::string* why) {
  static const std::set<std::string> kStatic = {"avg", "min", "med", "max", "count"};
  if (kStatic.count(stat) > 0) return true;
  if (stat.size() < 4 || stat.rfind("p(", 0) != 0 || stat.back() != ')') {
    *why = absl::StrCat("invalid trend stat ", Quote(stat), ", unknown format");
    return false;
  }
  double percentile = 0;
  if (!absl::SimpleAtod(Av(std::string_view(stat).substr(2, stat.size() - 3)), &percentile) ||
      percentile < 0 || percentile > 100) {
    *why = absl::StrCat("invalid percentile trend stat ", Quote(stat),
                        ", use a number between 0 and 100");
    return false;
  }
  return true;
}

bool ValidSummaryTimeUnit(const std::string& unit) {
  return unit.empty() || unit == "s" || unit == "ms" || unit == "us";
}

Json DurationJson(const std::optional<absl::Duration>& d) {
  return d.has_value() ? Json(FormatK6Duration(*d)) : Json(nullptr);
}

template <typename T>
Json OptJson(const std::optional<T>& v) {
  return v.has_value() ? Json(*v) : Json(nullptr);
}

Json StringMapJson(const std::map<std::string, std::string>& m) {
  return m.empty() ? Json(nullptr) : Json(m);
}

Json StagesJson(const std::vector<Stage>& stages) {
  Json list = Json::array();
  for (const Stage& s : stages) {
    list.push_back({{"duration", DurationJson(s.duration)}, {"target", OptJson(s.target)}});
  }
  return list;
}

}  // namespace

const std::vector<std::string>& DefaultSummaryTrendStats() {
  static const std::vector<std::string> kStats = {"avg", "min", "med", "max", "p(90)", "p(95)"};
  return kStats;
}

const std::vector<std::string>& DefaultSystemTags() {
  static const std::vector<std::string> kTags = {
      "check",       "error", "error_code", "expected_response", "group",  "method",
      "name",        "proto", "scenario",   "service",           "status", "subproto",
      "tls_version", "url"};
  return kTags;
}

std::string_view ExecutorName(ExecutorType type) {
  switch (type) {
    case ExecutorType::kSharedIterations:
      return "shared-iterations";
    case ExecutorType::kPerVuIterations:
      return "per-vu-iterations";
    case ExecutorType::kConstantVus:
      return "constant-vus";
    case ExecutorType::kRampingVus:
      return "ramping-vus";
    case ExecutorType::kConstantArrivalRate:
      return "constant-arrival-rate";
    case ExecutorType::kRampingArrivalRate:
      return "ramping-arrival-rate";
  }
  return "unknown";
}

std::optional<ExecutorType> ParseExecutorType(std::string_view name) {
  for (ExecutorType type :
       {ExecutorType::kSharedIterations, ExecutorType::kPerVuIterations, ExecutorType::kConstantVus,
        ExecutorType::kRampingVus, ExecutorType::kConstantArrivalRate,
        ExecutorType::kRampingArrivalRate}) {
    if (ExecutorName(type) == name) return type;
  }
  return std::nullopt;
}

absl::StatusOr<Options> ParseOptionsJson(const Json& json) {
  std::vector<std::string> problems;
  Options options = ParseOptionsJson(json, &problems);
  if (absl::Status status = ProblemsToStatus("invalid options:", problems); !status.ok()) {
    return status;
  }
  return options;
}

Options ParseOptionsJson(const Json& json, std::vector<std::string>* problems_out) {
  Options options;
  if (json.is_null()) return options;
  if (!json.is_object()) {
    problems_out->push_back(absl::StrCat("options must be an object, got ", json.dump()));
    return options;
  }
  std::vector<std::string>& problems = *problems_out;
  FieldReader r(json, "", &problems);

  r.Int("vus", &options.vus);
  r.Duration("duration", &options.duration);
  r.Int("iterations", &options.iterations);
  r.Stages("stages", &options.stages);
  if (const Json* scenarios = r.Get("scenarios")) {
    if (!scenarios->is_object()) {
      r.TypeProblem("scenarios", "an object of scenarios", *scenarios);
    } else {
      options.scenarios.emplace();
      for (const auto& [name, value] : scenarios->items()) {
        // A scenario with a problem is left out, so that validating the rest does not report
        // its unreadable field a second time (as missing).
        const std::size_t before = problems.size();
        std::optional<ScenarioConfig> config = ParseScenario(name, value, &problems);
        if (config && problems.size() == before) (*options.scenarios)[name] = *std::move(config);
      }
    }
  }
  if (const Json* thresholds = r.Get("thresholds")) {
    if (thresholds->is_object()) {
      options.thresholds = *thresholds;
    } else {
      r.TypeProblem("thresholds", "an object", *thresholds);
    }
  }
  std::map<std::string, std::string> hosts;
  if (r.StringMap("hosts", &hosts)) options.hosts = std::move(hosts);
  r.Bool("insecureSkipTLSVerify", &options.insecure_skip_tls_verify);
  r.String("userAgent", &options.user_agent);
  r.Int("batch", &options.batch);
  r.Int("batchPerHost", &options.batch_per_host);
  r.Int("maxRedirects", &options.max_redirects);
  r.Bool("discardResponseBodies", &options.discard_response_bodies);
  r.Bool("noConnectionReuse", &options.no_connection_reuse);
  r.Bool("noVUConnectionReuse", &options.no_vu_connection_reuse);
  r.Bool("noCookiesReset", &options.no_cookies_reset);
  r.Bool("throw", &options.throw_errors);
  r.Duration("minIterationDuration", &options.min_iteration_duration);
  r.StringMap("tags", &options.tags);
  r.StringList("summaryTrendStats", &options.summary_trend_stats);
  r.String("summaryTimeUnit", &options.summary_time_unit);
  r.StringList("systemTags", &options.system_tags);
  r.Bool("noSetup", &options.no_setup);
  r.Bool("noTeardown", &options.no_teardown);
  r.Duration("setupTimeout", &options.setup_timeout);
  r.Duration("teardownTimeout", &options.teardown_timeout);
  r.Duration("handleSummaryTimeout", &options.handle_summary_timeout);

  static const std::set<std::string> kModelled = {"vus",
                                                  "duration",
                                                  "iterations",
                                                  "stages",
                                                  "scenarios",
                                                  "thresholds",
                                                  "hosts",
                                                  "insecureSkipTLSVerify",
                                                  "userAgent",
                                                  "batch",
                                                  "batchPerHost",
                                                  "maxRedirects",
                                                  "discardResponseBodies",
                                                  "noConnectionReuse",
                                                  "noVUConnectionReuse",
                                                  "noCookiesReset",
                                                  "throw",
                                                  "minIterationDuration",
                                                  "tags",
                                                  "summaryTrendStats",
                                                  "summaryTimeUnit",
                                                  "systemTags",
                                                  "noSetup",
                                                  "noTeardown",
                                                  "setupTimeout",
                                                  "teardownTimeout",
                                                  "handleSummaryTimeout"};
  for (const auto& [key, value] : json.items()) {
    if (kModelled.count(key) > 0) continue;
    if (PassthroughKeys().count(key) > 0) {
      if (!value.is_null()) options.passthrough[key] = value;
    } else {
      options.unknown[key] = value;
    }
  }
  return options;
}

Options MergeOptions(const Options& base, const Options& over) {
  Options o = base;
  const auto take = [](auto& into, const auto& from) {
    if (from.has_value()) into = from;
  };

  take(o.vus, over.vus);
  // A higher layer that says anything about how to execute replaces the lower layer's plan.
  if (over.duration || over.iterations || over.stages || over.scenarios) {
    o.duration.reset();
    o.iterations.reset();
    o.stages.reset();
    o.scenarios.reset();
  }
  take(o.duration, over.duration);
  take(o.iterations, over.iterations);
  if (over.stages.has_value()) {
    o.stages.emplace();
    for (const Stage& s : *over.stages) {
      if (s.duration.has_value()) o.stages->push_back(s);  // k6 drops stages without duration
    }
  }
  take(o.scenarios, over.scenarios);

  take(o.thresholds, over.thresholds);
  take(o.hosts, over.hosts);
  take(o.insecure_skip_tls_verify, over.insecure_skip_tls_verify);
  take(o.user_agent, over.user_agent);
  take(o.batch, over.batch);
  take(o.batch_per_host, over.batch_per_host);
  take(o.max_redirects, over.max_redirects);
  take(o.discard_response_bodies, over.discard_response_bodies);
  take(o.no_connection_reuse, over.no_connection_reuse);
  take(o.no_vu_connection_reuse, over.no_vu_connection_reuse);
  take(o.no_cookies_reset, over.no_cookies_reset);
  take(o.throw_errors, over.throw_errors);
  take(o.min_iteration_duration, over.min_iteration_duration);
  if (!over.tags.empty()) o.tags = over.tags;
  take(o.summary_trend_stats, over.summary_trend_stats);
  take(o.summary_time_unit, over.summary_time_unit);
  take(o.system_tags, over.system_tags);
  take(o.no_setup, over.no_setup);
  take(o.no_teardown, over.no_teardown);
  take(o.setup_timeout, over.setup_timeout);
  take(o.teardown_timeout, over.teardown_timeout);
  take(o.handle_summary_timeout, over.handle_summary_timeout);
  for (const auto& [key, value] : over.passthrough) o.passthrough[key] = value;
  for (const auto& [key, value] : over.unknown) o.unknown[key] = value;
  return o;
}

absl::StatusOr<std::map<std::string, std::string>> ParseKeyValues(
    const std::vector<std::string>& pairs) {
  std::map<std::string, std::string> result;
  std::vector<std::string> problems;
  for (const std::string& pair : pairs) {
    const std::size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      problems.push_back(absl::StrCat(Quote(pair), ": expected name=value"));
      continue;
    }
    result[pair.substr(0, eq)] = pair.substr(eq + 1);
  }
  if (absl::Status status = ProblemsToStatus("invalid name=value pairs:", problems); !status.ok()) {
    return status;
  }
  return result;
}

absl::StatusOr<Options> CliOverridesToOptions(const CliOverrides& cli) {
  Options o;
  std::vector<std::string> problems;
  o.vus = cli.vus;
  o.duration = cli.duration;
  o.iterations = cli.iterations;
  if (cli.stages.has_value()) {
    o.stages.emplace();
    for (std::size_t i = 0; i < cli.stages->size(); ++i) {
      // k6's --stage is "[duration]:[target]", the duration a Go duration (no bare numbers).
      const std::string& text = (*cli.stages)[i];
      const std::size_t colon = text.find(':');
      const std::string duration_text = text.substr(0, colon);
      const std::string target_text = colon == std::string::npos ? "" : text.substr(colon + 1);
      Stage stage;
      if (!duration_text.empty()) {
        absl::StatusOr<absl::Duration> d = ParseGoDuration(duration_text);
        if (!d.ok()) {
          problems.push_back(absl::StrCat("--stage ", Quote(text), ": ", d.status().message()));
          continue;
        }
        stage.duration = *d;
      }
      if (!target_text.empty()) {
        std::int64_t target = 0;
        if (!absl::SimpleAtoi(Av(target_text), &target)) {
          problems.push_back(absl::StrCat("--stage ", Quote(text), ": invalid target"));
          continue;
        }
        stage.target = target;
      }
      if (!stage.duration.has_value()) {
        problems.push_back(absl::StrCat("--stage ", Quote(text), ": the duration is missing"));
        continue;
      }
      o.stages->push_back(stage);
    }
  }
  if (!cli.tags.empty()) {
    absl::StatusOr<std::map<std::string, std::string>> tags = ParseKeyValues(cli.tags);
    if (tags.ok()) {
      o.tags = *std::move(tags);
    } else {
      problems.push_back(absl::StrCat("--tag: ", tags.status().message()));
    }
  }
  if (cli.summary_trend_stats.has_value()) {
    for (const std::string& stat : *cli.summary_trend_stats) {
      if (std::string why; !ValidTrendStat(stat, &why)) {
        problems.push_back(absl::StrCat("--summary-trend-stats: ", why));
      }
    }
  }
  if (cli.summary_time_unit.has_value() && !ValidSummaryTimeUnit(*cli.summary_time_unit)) {
    problems.push_back(absl::StrCat("--summary-time-unit: invalid unit ",
                                    Quote(*cli.summary_time_unit), ", use s, ms or us"));
  }
  o.system_tags = cli.system_tags;
  o.summary_trend_stats = cli.summary_trend_stats;
  if (cli.summary_time_unit.has_value() && !cli.summary_time_unit->empty()) {
    o.summary_time_unit = cli.summary_time_unit;
  }
  o.user_agent = cli.user_agent;
  o.max_redirects = cli.max_redirects;
  o.batch = cli.batch;
  o.batch_per_host = cli.batch_per_host;
  o.insecure_skip_tls_verify = cli.insecure_skip_tls_verify;
  o.no_connection_reuse = cli.no_connection_reuse;
  o.no_vu_connection_reuse = cli.no_vu_connection_reuse;
  o.throw_errors = cli.throw_errors;
  o.discard_response_bodies = cli.discard_response_bodies;
  o.no_setup = cli.no_setup;
  o.no_teardown = cli.no_teardown;
  o.min_iteration_duration = cli.min_iteration_duration;
  if (absl::Status status = ProblemsToStatus("invalid command-line options:", problems);
      !status.ok()) {
    return status;
  }
  return o;
}

absl::StatusOr<Options> ConsolidateOptions(const Options& config_file, const Options& script,
                                           const CliOverrides& cli,
                                           std::vector<std::string>* warnings) {
  absl::StatusOr<Options> cli_options = CliOverridesToOptions(cli);
  if (!cli_options.ok()) return cli_options.status();

  const auto warn_on_override = [&](const Options& lower, const Options& higher,
                                    std::string_view layer) {
    if (warnings != nullptr && lower.scenarios.has_value() &&
        (higher.duration || higher.iterations || higher.stages || higher.scenarios)) {
      warnings->push_back(absl::StrCat(Quote(layer),
                                       " level configuration overrode scenarios configuration "
                                       "entirely"));
    }
  };
  Options merged = config_file;
  warn_on_override(merged, script, "script");
  merged = MergeOptions(merged, script);
  warn_on_override(merged, *cli_options, "cli");
  return MergeOptions(merged, *cli_options);
}

absl::StatusOr<Options> DeriveScenarios(const Options& options,
                                        std::vector<std::string>* warnings) {
  const auto conflict = [](std::string_view what) {
    return absl::InvalidArgumentError(
        absl::StrCat("using ", Av(what), " options simultaneously is not allowed"));
  };
  const auto warn = [&](std::string message) {
    if (warnings != nullptr) warnings->push_back(std::move(message));
  };
  const bool has_stages = options.stages.has_value() && !options.stages->empty();
  Options result = options;
  ScenarioConfig scenario;
  scenario.name = kDefaultScenarioName;

  if (options.iterations.has_value()) {
    if (has_stages) return conflict("`iterations` and `stages`");
    if (options.scenarios.has_value()) return conflict("`iterations` and `scenarios`");
    scenario.executor = ExecutorType::kSharedIterations;
    scenario.vus = options.vus;
    scenario.iterations = options.iterations;
    scenario.max_duration = options.duration;
  } else if (options.duration.has_value()) {
    if (has_stages) return conflict("`duration` and `stages`");
    if (options.scenarios.has_value()) return conflict("`duration` and `scenarios`");
    if (*options.duration <= absl::ZeroDuration()) {
      return absl::InvalidArgumentError("`duration` must be more than 0");
    }
    scenario.executor = ExecutorType::kConstantVus;
    scenario.vus = options.vus;
    scenario.duration = options.duration;
  } else if (has_stages) {
    if (options.scenarios.has_value()) return conflict("`stages` and `scenarios`");
    scenario.executor = ExecutorType::kRampingVus;
    scenario.start_vus = options.vus;
    for (const Stage& s : *options.stages) {
      if (s.duration.has_value()) scenario.stages.push_back(s);
    }
  } else if (options.vus.has_value() && !options.stages.has_value() &&
             !options.scenarios.has_value()) {
    // `vus` alone: as many iterations as VUs. Beside `scenarios` it is ignored, as in k6 (the
    // scenarios name their own VUs).
    scenario.executor = ExecutorType::kSharedIterations;
    scenario.vus = options.vus;
    scenario.iterations = options.vus;
    result.iterations = options.vus;
  } else if (options.scenarios.has_value() && !options.scenarios->empty()) {
    return result;
  } else {
    if (options.stages.has_value()) {
      warn(
          "`stages` was explicitly set to an empty value, running the script with 1 iteration "
          "in 1 VU");
    }
    if (options.scenarios.has_value()) {
      warn(
          "`scenarios` was explicitly set to an empty value, running the script with 1 "
          "iteration in 1 VU");
    }
    scenario.executor = ExecutorType::kPerVuIterations;
  }
  result.scenarios = std::map<std::string, ScenarioConfig>{{scenario.name, scenario}};
  return result;
}

namespace {

// The problems of one scenario, without the "scenarios.<name>: " prefix.
std::vector<std::string> ScenarioProblems(const ScenarioConfig& c,
                                          const std::vector<std::string>* exported) {
  std::vector<std::string> p;
  const std::string executor = Quote(ExecutorName(c.executor));
  const auto requires_field = [&](std::string_view field) {
    p.push_back(absl::StrCat("executor ", executor, " requires ", Quote(field)));
  };
  const auto at_least_min = [&](std::string_view field, absl::Duration d) {
    if (d < kMinScenarioDuration) {
      p.push_back(absl::StrCat(Quote(field), " must be at least ",
                               FormatK6Duration(kMinScenarioDuration), ", but is ",
                               FormatK6Duration(d)));
    }
  };

  bool valid_name = !c.name.empty();
  for (char ch : c.name) {
    if (!(std::isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '-')) {
      valid_name = false;
    }
  }
  if (!valid_name) {
    p.push_back(
        "the scenario name may only contain latin letters, digits, underscores and "
        "dashes");
  }
  if (c.exec.has_value() && c.exec->empty()) {
    p.push_back("\"exec\" can't be empty");
  } else if (exported != nullptr &&
             std::find(exported->begin(), exported->end(), c.ExecOrDefault()) == exported->end()) {
    p.push_back(absl::StrCat("function ", Quote(c.ExecOrDefault()),
                             " (exec) is not exported by the script"));
  }
  if (c.StartTimeOrDefault() < absl::ZeroDuration()) p.push_back("\"startTime\" can't be negative");
  if (c.GracefulStopOrDefault() < absl::ZeroDuration()) {
    p.push_back("\"gracefulStop\" can't be negative");
  }

  const auto check_stages = [&](std::string_view target_name) {
    if (c.stages.empty()) {
      p.push_back(
          absl::StrCat("executor ", executor, " requires at least one stage in \"stages\""));
    }
    for (std::size_t i = 0; i < c.stages.size(); ++i) {
      const Stage& s = c.stages[i];
      const std::string stage = absl::StrCat("stage ", i + 1, ": ");
      if (!s.duration.has_value()) {
        p.push_back(absl::StrCat(stage, "\"duration\" is required"));
      } else if (*s.duration < absl::ZeroDuration()) {
        p.push_back(absl::StrCat(stage, "\"duration\" can't be negative"));
      }
      if (!s.target.has_value()) {
        p.push_back(absl::StrCat(stage, "\"target\" is required"));
      } else if (*s.target < 0) {
        p.push_back(absl::StrCat(stage, "\"target\" can't be negative"));
      } else if (target_name == "VUs" && *s.target > kMaxConcurrentVus) {
        p.push_back(
            absl::StrCat(stage, "\"target\" exceeds the limit of ", kMaxConcurrentVus, " VUs"));
      }
    }
  };
  const auto check_arrival_vus = [&] {
    if (!c.pre_allocated_vus.has_value()) {
      requires_field("preAllocatedVUs");
    } else if (*c.pre_allocated_vus < 0) {
      p.push_back("\"preAllocatedVUs\" can't be negative");
    }
    if (c.max_vus.has_value() && *c.max_vus < c.PreAllocatedVusOrDefault()) {
      p.push_back("\"maxVUs\" can't be less than \"preAllocatedVUs\"");
    }
    if (c.TimeUnitOrDefault() <= absl::ZeroDuration()) {
      p.push_back("\"timeUnit\" must be more than 0");
    }
  };

  switch (c.executor) {
    case ExecutorType::kSharedIterations:
    case ExecutorType::kPerVuIterations:
      if (c.VusOrDefault() <= 0) p.push_back("\"vus\" must be more than 0");
      if (c.executor == ExecutorType::kSharedIterations) {
        if (c.IterationsOrDefault() < c.VusOrDefault()) {
          p.push_back(absl::StrCat("\"iterations\" (", c.IterationsOrDefault(),
                                   ") can't be less than \"vus\" (", c.VusOrDefault(), ")"));
        }
      } else if (c.IterationsOrDefault() <= 0) {
        p.push_back("\"iterations\" must be more than 0");
      }
      at_least_min("maxDuration", c.MaxDurationOrDefault());
      break;
    case ExecutorType::kConstantVus:
      if (c.VusOrDefault() <= 0) p.push_back("\"vus\" must be more than 0");
      if (!c.duration.has_value()) {
        requires_field("duration");
      } else {
        at_least_min("duration", *c.duration);
      }
      break;
    case ExecutorType::kRampingVus: {
      if (c.StartVusOrDefault() < 0) p.push_back("\"startVUs\" can't be negative");
      if (c.StartVusOrDefault() > kMaxConcurrentVus) {
        p.push_back(absl::StrCat("\"startVUs\" exceeds the limit of ", kMaxConcurrentVus));
      }
      std::int64_t max_target = c.StartVusOrDefault();
      for (const Stage& s : c.stages) max_target = std::max(max_target, s.target.value_or(0));
      if (max_target <= 0) {
        p.push_back("either \"startVUs\" or one of the stages' targets must be more than 0");
      }
      check_stages("VUs");
      if (c.GracefulRampDownOrDefault() < absl::ZeroDuration()) {
        p.push_back("\"gracefulRampDown\" can't be negative");
      }
      break;
    }
    case ExecutorType::kConstantArrivalRate:
      if (!c.rate.has_value()) {
        requires_field("rate");
      } else if (*c.rate <= 0) {
        p.push_back("\"rate\" must be more than 0");
      }
      if (!c.duration.has_value()) {
        requires_field("duration");
      } else {
        at_least_min("duration", *c.duration);
      }
      check_arrival_vus();
      break;
    case ExecutorType::kRampingArrivalRate:
      if (c.StartRateOrDefault() < 0) p.push_back("\"startRate\" can't be negative");
      check_stages("rate");
      check_arrival_vus();
      break;
  }
  return p;
}

}  // namespace

std::vector<std::string> Validate(const Options& options,
                                  const std::vector<std::string>* exported_functions) {
  std::vector<std::string> problems;
  const auto positive = [&](std::string_view key, const std::optional<absl::Duration>& d) {
    if (d.has_value() && *d <= absl::ZeroDuration()) {
      problems.push_back(absl::StrCat(Av(key), ": must be more than 0"));
    }
  };
  positive("setupTimeout", options.setup_timeout);
  positive("teardownTimeout", options.teardown_timeout);
  positive("handleSummaryTimeout", options.handle_summary_timeout);
  if (options.vus.has_value() && *options.vus < 0) problems.push_back("vus: can't be negative");
  if (options.summary_time_unit.has_value() && !ValidSummaryTimeUnit(*options.summary_time_unit)) {
    problems.push_back(absl::StrCat("summaryTimeUnit: invalid unit ",
                                    Quote(*options.summary_time_unit), ", use s, ms or us"));
  }
  if (options.summary_trend_stats.has_value()) {
    for (const std::string& stat : *options.summary_trend_stats) {
      if (std::string why; !ValidTrendStat(stat, &why)) {
        problems.push_back(absl::StrCat("summaryTrendStats: ", why));
      }
    }
  }
  for (const auto& [key, value] :
       {std::pair{"batch", options.batch}, std::pair{"batchPerHost", options.batch_per_host},
        std::pair{"maxRedirects", options.max_redirects}}) {
    if (value.has_value() && *value < 0) {
      problems.push_back(absl::StrCat(key, ": can't be negative"));
    }
  }

  absl::StatusOr<Options> derived = DeriveScenarios(options);
  if (!derived.ok()) {
    problems.push_back(std::string(derived.status().message()));
    return problems;
  }
  for (const auto& [name, scenario] : *derived->scenarios) {
    for (const std::string& p : ScenarioProblems(scenario, exported_functions)) {
      problems.push_back(absl::StrCat("scenarios.", name, ": ", p));
    }
  }
  return problems;
}

Json ScenarioToJson(const ScenarioConfig& c) {
  Json j = {
      {"executor", std::string(ExecutorName(c.executor))},
      {"startTime", DurationJson(c.start_time)},
      {"gracefulStop", DurationJson(c.graceful_stop)},
      {"env", StringMapJson(c.env)},
      {"exec", OptJson(c.exec)},
      {"tags", StringMapJson(c.tags)},
  };
  if (!c.options.is_null()) j["options"] = c.options;
  const Json stages = c.stages.empty() ? Json(nullptr) : StagesJson(c.stages);
  switch (c.executor) {
    case ExecutorType::kSharedIterations:
    case ExecutorType::kPerVuIterations:
      j["vus"] = OptJson(c.vus);
      j["iterations"] = OptJson(c.iterations);
      j["maxDuration"] = DurationJson(c.max_duration);
      break;
    case ExecutorType::kConstantVus:
      j["vus"] = OptJson(c.vus);
      j["duration"] = DurationJson(c.duration);
      break;
    case ExecutorType::kRampingVus:
      j["startVUs"] = OptJson(c.start_vus);
      j["stages"] = stages;
      j["gracefulRampDown"] = DurationJson(c.graceful_ramp_down);
      break;
    case ExecutorType::kConstantArrivalRate:
      j["rate"] = OptJson(c.rate);
      j["timeUnit"] = DurationJson(c.time_unit);
      j["duration"] = DurationJson(c.duration);
      j["preAllocatedVUs"] = OptJson(c.pre_allocated_vus);
      j["maxVUs"] = OptJson(c.max_vus);
      break;
    case ExecutorType::kRampingArrivalRate:
      j["startRate"] = OptJson(c.start_rate);
      j["timeUnit"] = DurationJson(c.time_unit);
      j["stages"] = stages;
      j["preAllocatedVUs"] = OptJson(c.pre_allocated_vus);
      j["maxVUs"] = OptJson(c.max_vus);
      break;
  }
  return j;
}

Json ToJson(const Options& o) {
  Json j = Json::object();
  j["vus"] = OptJson(o.vus);
  j["duration"] = DurationJson(o.duration);
  j["iterations"] = OptJson(o.iterations);
  j["stages"] = o.stages.has_value() ? StagesJson(*o.stages) : Json(nullptr);
  if (o.scenarios.has_value()) {
    j["scenarios"] = Json::object();
    for (const auto& [name, scenario] : *o.scenarios)
      j["scenarios"][name] = ScenarioToJson(scenario);
  } else {
    j["scenarios"] = nullptr;
  }
  j["thresholds"] = o.thresholds.value_or(Json(nullptr));
  j["hosts"] = o.hosts.has_value() ? Json(*o.hosts) : Json(nullptr);
  j["insecureSkipTLSVerify"] = OptJson(o.insecure_skip_tls_verify);
  j["userAgent"] = OptJson(o.user_agent);
  j["batch"] = OptJson(o.batch);
  j["batchPerHost"] = OptJson(o.batch_per_host);
  j["maxRedirects"] = OptJson(o.max_redirects);
  j["discardResponseBodies"] = OptJson(o.discard_response_bodies);
  j["noConnectionReuse"] = OptJson(o.no_connection_reuse);
  j["noVUConnectionReuse"] = OptJson(o.no_vu_connection_reuse);
  j["noCookiesReset"] = OptJson(o.no_cookies_reset);
  j["throw"] = OptJson(o.throw_errors);
  j["minIterationDuration"] = DurationJson(o.min_iteration_duration);
  j["tags"] = StringMapJson(o.tags);
  j["summaryTrendStats"] = o.summary_trend_stats.value_or(DefaultSummaryTrendStats());
  j["summaryTimeUnit"] = OptJson(o.summary_time_unit);
  j["systemTags"] = o.system_tags.value_or(DefaultSystemTags());
  j["noSetup"] = OptJson(o.no_setup);
  j["noTeardown"] = OptJson(o.no_teardown);
  j["setupTimeout"] = DurationJson(o.setup_timeout);
  j["teardownTimeout"] = DurationJson(o.teardown_timeout);
  j["handleSummaryTimeout"] = DurationJson(o.handle_summary_timeout);
  for (const std::string& key : PassthroughKeys()) {
    if (key == "cloud") continue;  // k6 omits it when empty
    j[key] = nullptr;
  }
  for (const auto& [key, value] : o.passthrough) j[key] = value;
  return j;
}

}  // namespace volley
