// k6 test options as Volley understands them: parsing the JSON of `export const options` and of
// --config files, merging the layers in k6's order, CLI shortcut flags, turning the shortcuts
// (vus/duration/iterations/stages) into scenarios, validating with every problem reported at
// once, and printing k6's consolidated options JSON. Plain values and pure functions; any thread.
//
// Typical controller use:
//   Options script = *ParseOptionsJson(vu_options_json);
//   Options merged = *ConsolidateOptions(file, script, cli, &warnings);
//   if (auto problems = Validate(merged, &exports); !problems.empty()) -> exit 104
//   Options derived = *DeriveScenarios(merged, &warnings);   // scenarios always filled in
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace volley {

// k6's defaults, applied where an option or scenario field is unset.
inline constexpr absl::Duration kDefaultGracefulStop = absl::Seconds(30);
inline constexpr absl::Duration kDefaultGracefulRampDown = absl::Seconds(30);
inline constexpr absl::Duration kDefaultMaxDuration = absl::Minutes(10);  // *-iterations
inline constexpr absl::Duration kDefaultTimeUnit = absl::Seconds(1);
inline constexpr absl::Duration kMinScenarioDuration = absl::Seconds(1);
inline constexpr absl::Duration kDefaultSetupTimeout = absl::Seconds(60);
inline constexpr absl::Duration kDefaultTeardownTimeout = absl::Seconds(60);
inline constexpr absl::Duration kDefaultHandleSummaryTimeout = absl::Seconds(120);
inline constexpr std::int64_t kDefaultBatch = 20;
inline constexpr std::int64_t kDefaultBatchPerHost = 6;
inline constexpr std::int64_t kDefaultMaxRedirects = 10;
inline constexpr std::int64_t kMaxConcurrentVus = 100'000'000;  // k6's sanity limit
inline constexpr char kDefaultScenarioName[] = "default";
inline constexpr char kDefaultExec[] = "default";
const std::vector<std::string>& DefaultSummaryTrendStats();  // avg min med max p(90) p(95)
const std::vector<std::string>& DefaultSystemTags();         // proto subproto status method url ...

enum class ExecutorType {
  kSharedIterations,
  kPerVuIterations,
  kConstantVus,
  kRampingVus,
  kConstantArrivalRate,
  kRampingArrivalRate,
};

// "shared-iterations", ...; and back (nullopt for names Volley does not run).
std::string_view ExecutorName(ExecutorType type);
std::optional<ExecutorType> ParseExecutorType(std::string_view name);

// One ramp step: go linearly to `target` (VUs or iterations per timeUnit) over `duration`.
struct Stage {
  std::optional<absl::Duration> duration;
  std::optional<std::int64_t> target;
  friend bool operator==(const Stage&, const Stage&) = default;
};

// One entry of `scenarios`. Unset fields are nullopt; the *OrDefault accessors apply k6's
// defaults. Which fields an executor takes is listed next to each.
struct ScenarioConfig {
  std::string name;  // the key in `scenarios`
  ExecutorType executor = ExecutorType::kPerVuIterations;
  std::optional<absl::Duration> start_time;
  std::optional<absl::Duration> graceful_stop;
  std::optional<std::string> exec;
  std::map<std::string, std::string> env;
  std::map<std::string, std::string> tags;
  nlohmann::json options;  // scenario `options` (k6 browser), raw; null when absent

  std::optional<std::int64_t> vus;                   // shared/per-vu-iterations, constant-vus
  std::optional<std::int64_t> iterations;            // shared/per-vu-iterations
  std::optional<absl::Duration> max_duration;        // shared/per-vu-iterations
  std::optional<absl::Duration> duration;            // constant-vus, constant-arrival-rate
  std::optional<std::int64_t> start_vus;             // ramping-vus
  std::vector<Stage> stages;                         // ramping-vus, ramping-arrival-rate
  std::optional<absl::Duration> graceful_ramp_down;  // ramping-vus
  std::optional<std::int64_t> rate;                  // constant-arrival-rate
  std::optional<absl::Duration> time_unit;           // both arrival-rate executors
  std::optional<std::int64_t> pre_allocated_vus;     // both arrival-rate executors
  std::optional<std::int64_t> max_vus;               // both arrival-rate executors
  std::optional<std::int64_t> start_rate;            // ramping-arrival-rate

  absl::Duration StartTimeOrDefault() const { return start_time.value_or(absl::ZeroDuration()); }
  absl::Duration GracefulStopOrDefault() const {
    return graceful_stop.value_or(kDefaultGracefulStop);
  }
  std::string ExecOrDefault() const { return exec.value_or(kDefaultExec); }
  std::int64_t VusOrDefault() const { return vus.value_or(1); }
  std::int64_t IterationsOrDefault() const { return iterations.value_or(1); }
  absl::Duration MaxDurationOrDefault() const { return max_duration.value_or(kDefaultMaxDuration); }
  std::int64_t StartVusOrDefault() const { return start_vus.value_or(1); }
  absl::Duration GracefulRampDownOrDefault() const {
    return graceful_ramp_down.value_or(kDefaultGracefulRampDown);
  }
  absl::Duration TimeUnitOrDefault() const { return time_unit.value_or(kDefaultTimeUnit); }
  std::int64_t PreAllocatedVusOrDefault() const { return pre_allocated_vus.value_or(0); }
  std::int64_t MaxVusOrDefault() const { return max_vus.value_or(PreAllocatedVusOrDefault()); }
  std::int64_t StartRateOrDefault() const { return start_rate.value_or(0); }
};

// The options of one configuration layer (script, --config file, CLI) or of their merge.
// nullopt means "not set in this layer", as k6's null types do.
struct Options {
  // Execution. The shortcuts vus/duration/iterations/stages become a "default" scenario in
  // DeriveScenarios. A set-but-empty `stages` or `scenarios` differs from an unset one, as in k6.
  std::optional<std::int64_t> vus;
  std::optional<absl::Duration> duration;
  std::optional<std::int64_t> iterations;
  std::optional<std::vector<Stage>> stages;
  std::optional<std::map<std::string, ScenarioConfig>> scenarios;

  std::optional<nlohmann::json> thresholds;  // raw; the thresholds module parses it
  std::optional<std::map<std::string, std::string>> hosts;
  std::optional<bool> insecure_skip_tls_verify;
  std::optional<std::string> user_agent;
  std::optional<std::int64_t> batch;
  std::optional<std::int64_t> batch_per_host;
  std::optional<std::int64_t> max_redirects;
  std::optional<bool> discard_response_bodies;
  std::optional<bool> no_connection_reuse;
  std::optional<bool> no_vu_connection_reuse;
  std::optional<bool> no_cookies_reset;
  std::optional<bool> throw_errors;  // k6 `throw`
  std::optional<absl::Duration> min_iteration_duration;
  std::map<std::string, std::string> tags;  // k6 `tags`: added to every sample
  std::optional<std::vector<std::string>> summary_trend_stats;
  std::optional<std::string> summary_time_unit;
  std::optional<std::vector<std::string>> system_tags;
  std::optional<bool> no_setup;
  std::optional<bool> no_teardown;
  std::optional<absl::Duration> setup_timeout;
  std::optional<absl::Duration> teardown_timeout;
  std::optional<absl::Duration> handle_summary_timeout;

  // Options k6 knows but Volley does not interpret (dns, tlsAuth, rps, ext, ...), kept verbatim
  // so that they reach exec.test.options and survive merging.
  std::map<std::string, nlohmann::json> passthrough;
  // Keys k6 does not know. k6 ignores them with a warning ("There were unknown fields in the
  // options exported in the script"); the caller logs them. Not merged, not printed.
  std::map<std::string, nlohmann::json> unknown;
};

// Reads an options object. Every type problem is collected; they come back together as one
// InvalidArgument, one problem per line ("vus: expected an integer, got \"ten\""). An unknown
// executor, or a field the scenario's executor does not take, is an error, as in k6.
absl::StatusOr<Options> ParseOptionsJson(const nlohmann::json& json);
// The same, for reporting every problem of a test at once: appends each problem to `problems`
// and returns the fields that were read (a field with a problem stays unset).
Options ParseOptionsJson(const nlohmann::json& json, std::vector<std::string>* problems);

// `over` on top of `base`, field by field (k6's Options.Apply). Setting any of duration,
// iterations, stages or scenarios in `over` drops all four from `base`: a higher layer replaces
// the lower layer's whole execution setup.
Options MergeOptions(const Options& base, const Options& over);

// k6's CLI flags that are options. Unset = flag not given.
struct CliOverrides {
  std::optional<std::int64_t> vus;                      // --vus, -u
  std::optional<absl::Duration> duration;               // --duration, -d
  std::optional<std::int64_t> iterations;               // --iterations, -i
  std::optional<std::vector<std::string>> stages;       // --stage, -s: "30s:10", "1m:0", ":5"
  std::vector<std::string> tags;                        // --tag name=value
  std::optional<std::vector<std::string>> system_tags;  // --system-tags
  std::optional<std::vector<std::string>> summary_trend_stats;  // --summary-trend-stats
  std::optional<std::string> summary_time_unit;                 // --summary-time-unit
  std::optional<std::string> user_agent;                        // --user-agent
  std::optional<std::int64_t> max_redirects;                    // --max-redirects
  std::optional<std::int64_t> batch;                            // --batch
  std::optional<std::int64_t> batch_per_host;                   // --batch-per-host
  std::optional<bool> insecure_skip_tls_verify;                 // --insecure-skip-tls-verify
  std::optional<bool> no_connection_reuse;                      // --no-connection-reuse
  std::optional<bool> no_vu_connection_reuse;                   // --no-vu-connection-reuse
  std::optional<bool> throw_errors;                             // --throw, -w
  std::optional<bool> discard_response_bodies;                  // --discard-response-bodies
  std::optional<bool> no_setup;                                 // --no-setup
  std::optional<bool> no_teardown;                              // --no-teardown
  std::optional<absl::Duration> min_iteration_duration;         // --min-iteration-duration
};

// The CLI layer as Options. Fails (all problems together) on a bad --stage, --tag,
// --summary-time-unit or --summary-trend-stats value.
absl::StatusOr<Options> CliOverridesToOptions(const CliOverrides& cli);

// k6's consolidation: defaults < --config file < script options < CLI flags (k6's env-var layer
// is not supported). Appends k6's "... overrode scenarios configuration entirely" warnings.
absl::StatusOr<Options> ConsolidateOptions(const Options& config_file, const Options& script,
                                           const CliOverrides& cli,
                                           std::vector<std::string>* warnings);

// Reads KEY=VALUE (-e) or name=value (--tag) pairs; later ones win. Empty names fail.
absl::StatusOr<std::map<std::string, std::string>> ParseKeyValues(
    const std::vector<std::string>& pairs);

// Turns the shortcuts into `scenarios` with k6's rules, so the result always has scenarios:
//   iterations (+vus, +duration as maxDuration) -> shared-iterations
//   duration (+vus)                             -> constant-vus
//   stages (+vus as startVUs)                   -> ramping-vus
//   vus alone                                   -> shared-iterations, iterations = vus
//   scenarios                                   -> kept
//   nothing                                     -> per-vu-iterations, 1 VU, 1 iteration
// Conflicts fail with k6's messages (iterations+stages, duration+stages, any of them with
// scenarios, duration <= 0). Warnings (vus overriding scenarios, empty stages) are appended.
absl::StatusOr<Options> DeriveScenarios(const Options& options,
                                        std::vector<std::string>* warnings = nullptr);

// Every problem of the (merged) options at once, each naming its place, e.g.
//   scenarios.foo: executor "constant-vus" requires "duration"
// Includes DeriveScenarios conflicts. When `exported_functions` is given, each scenario's exec
// must be one of them. Empty when the options are runnable.
std::vector<std::string> Validate(const Options& options,
                                  const std::vector<std::string>* exported_functions = nullptr);

// k6's consolidated options layout (exec.test.options, --config files, handleSummary's
// data.options): every option key, null when unset; durations as k6 prints them ("1m30s");
// summaryTrendStats and systemTags with k6's defaults when unset.
nlohmann::json ToJson(const Options& options);
nlohmann::json ScenarioToJson(const ScenarioConfig& scenario);

}  // namespace volley
