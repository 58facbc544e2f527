// `volley run`: the controller's whole life for one test. The main thread does everything in
// order — load, plan, prepare agents, setup, start, merge, teardown, summary — and in the run
// phase it is the single merge thread: agent batches arrive on an EventQueue and only this
// thread touches the Store and the thresholds.
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "agent/js/vu.h"
#include "agent/server.h"
#include "agent/test_run.h"
#include "common/duration.h"
#include "common/logging.h"
#include "common/metrics/store.h"
#include "common/metrics/threshold.h"
#include "common/options.h"
#include "common/segment.h"
#include "controller/agent_session.h"
#include "controller/agents.h"
#include "controller/progress.h"
#include "controller/report.h"
#include "controller/run_config.h"
#include "controller/script_host.h"

extern char** environ;

namespace volley::controller {
namespace {

// k6's exit codes.
constexpr int kExitOk = 0;
constexpr int kExitThresholdsFailed = 99;
constexpr int kExitSetupTimeout = 100;
constexpr int kExitTeardownTimeout = 101;
constexpr int kExitGenericEngine = 103;
constexpr int kExitInvalidConfig = 104;
constexpr int kExitExternalAbort = 105;
constexpr int kExitScriptException = 107;
constexpr int kExitScriptAborted = 108;
constexpr int kExitUsage = 255;

std::atomic<int> g_signals{0};

void OnSignal(int) { g_signals.fetch_add(1); }

std::string ErrorText(const absl::Status& status) { return std::string(status.message()); }

void PrintError(const std::string& text) { std::cerr << "ERRO " << text << "\n"; }

// A line an agent forwarded, printed by the logger of the component that logged it there, so
// it reads as it would in a local run, with the agent named. Only remote agents forward: the
// embedded one logs to this terminal itself.
void PrintAgentLog(const std::string& agent, const volley::v1::LogLine& line) {
  spdlog::level::level_enum level = spdlog::level::from_str(line.level());
  if (level == spdlog::level::off) level = spdlog::level::info;  // a name this build lacks
  const std::string& logger = IsComponent(line.logger()) ? line.logger() : "agent";
  Log(logger)->log(level, "{} agent={}", line.text(), agent);
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::map<std::string, std::string> BuildEnv(const RunConfig& config) {
  std::map<std::string, std::string> env;
  if (config.include_system_env_vars) {
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string kv = *e;
      auto eq = kv.find('=');
      if (eq != std::string::npos) env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  }
  for (const auto& [k, v] : config.env) env[k] = v;
  return env;
}

// Script options, then the --config file, then CLI flags; validated; scenarios derived.
// The thresholds of `options`, parsed and checked against the metrics `registry` knows (the
// script's own and the built-in ones); each problem is appended to `problems`.
std::optional<metrics::Thresholds> ParseThresholds(const Options& options,
                                                   metrics::Registry* registry,
                                                   std::vector<std::string>* problems) {
  if (!options.thresholds || options.thresholds->is_null()) return std::nullopt;
  auto parsed = metrics::Thresholds::Parse(*options.thresholds);
  if (!parsed.ok()) {
    problems->push_back(absl::StrCat("thresholds: ", parsed.status().message()));
    return std::nullopt;
  }
  // Metrics only agents emit, which thresholds may still name.
  (void)registry->Register(agent::kIterationStartDelayMetric, metrics::MetricType::kTrend,
                           metrics::ValueType::kTime);
  absl::Status valid = parsed->Validate(*registry);
  if (!valid.ok()) {
    for (absl::string_view line : absl::StrSplit(valid.message(), '\n')) {
      problems->push_back(absl::StrCat("thresholds: ", line));
    }
    return std::nullopt;
  }
  return *std::move(parsed);
}

// The test's options from every source (config file, script, CLI), validated, with the
// thresholds unless `no_thresholds`. Every problem found is appended to `problems`.
absl::StatusOr<Options> ConsolidateAll(const RunConfig& config, const LoadedScript& script,
                                       metrics::Registry* registry,
                                       std::optional<metrics::Thresholds>* thresholds,
                                       std::vector<std::string>* problems) {
  std::vector<std::string> warnings;
  Options file_options;
  if (!config.config_file.empty()) {
    auto text = ReadFile(config.config_file);
    if (!text.ok()) return text.status();
    nlohmann::json json;
    try {
      json = nlohmann::json::parse(*text);
    } catch (const nlohmann::json::parse_error& e) {
      // Say where: nlohmann's message carries the line and column of the problem.
      return absl::InvalidArgumentError(
          absl::StrCat(config.config_file, ": invalid JSON: ", e.what()));
    }
    if (!json.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(config.config_file, ": not a JSON object of k6 options"));
    }
    // Type problems of every source are collected, then the merged options are validated: the
    // user sees every problem of the test at once, each named with where it is.
    std::vector<std::string> found;
    file_options = ParseOptionsJson(json, &found);
    for (const auto& p : found) problems->push_back(absl::StrCat(config.config_file, ": ", p));
  }
  nlohmann::json script_json = nlohmann::json::parse(script.options_json, nullptr, false);
  if (script_json.is_discarded()) script_json = nlohmann::json::object();
  std::vector<std::string> found;
  Options script_options = ParseOptionsJson(script_json, &found);
  for (const auto& p : found) {
    problems->push_back(absl::StrCat("options in ", script.entry, ": ", p));
  }
  for (const auto& [key, value] : script_options.unknown) {
    Log("controller")->warn("unknown option ignored name={}", key);
  }

  CliOverrides cli;
  if (config.vus) cli.vus = *config.vus;
  if (config.duration) {
    auto d = ParseDuration(*config.duration);
    if (d.ok()) {
      cli.duration = *d;
    } else {
      problems->push_back(absl::StrCat("--duration: ", d.status().message()));
    }
  }
  if (config.iterations) cli.iterations = *config.iterations;
  if (!config.stages.empty()) cli.stages = config.stages;
  if (config.summary_trend_stats) {
    cli.summary_trend_stats =
        absl::StrSplit(*config.summary_trend_stats, ',', absl::SkipWhitespace());
  }
  auto merged = ConsolidateOptions(file_options, script_options, cli, &warnings);
  if (!merged.ok()) {
    problems->push_back(std::string(merged.status().message()));
    return absl::InvalidArgumentError("invalid options");
  }
  for (const auto& w : warnings) Log("controller")->warn("{}", w);

  std::vector<std::string> invalid = Validate(*merged, &script.exports);
  problems->insert(problems->end(), invalid.begin(), invalid.end());
  if (!config.no_thresholds) *thresholds = ParseThresholds(*merged, registry, problems);
  if (!problems->empty()) return absl::InvalidArgumentError("invalid options");
  auto derived = DeriveScenarios(*merged);
  if (!derived.ok()) return derived.status();
  return derived;
}

// One agent as the merge stage tracks it.
struct AgentState {
  std::unique_ptr<AgentSession> session;
  bool ready = false;
  bool done = false;
  bool lost = false;
  bool ended = false;     // stream finished
  bool reported = false;  // sent a batch: its vus count is real, not the 0 it starts with
  std::uint32_t vus = 0;
  std::uint32_t vus_max = 0;
  std::vector<volley::v1::ScenarioProgress> progress;
};

volley::v1::MetricBatch GaugeBatch(std::uint32_t vus, std::uint32_t vus_max) {
  volley::v1::MetricBatch batch;
  std::int64_t now = absl::ToUnixNanos(absl::Now());
  auto add = [&](const char* name, std::uint32_t value) {
    int index = batch.metrics_size();
    auto* def = batch.add_metrics();
    def->set_name(name);
    def->set_type(volley::v1::GAUGE);
    auto* s = batch.add_series();
    s->set_metric(static_cast<std::uint32_t>(index));
    s->set_count(1);
    s->set_min(value);
    s->set_max(value);
    s->set_last(value);
    s->set_last_unix_ns(now);
  };
  add("vus", vus);
  add("vus_max", vus_max);
  return batch;
}

// k6's end-of-test error names the metrics (keys, sub-metrics as written) whose thresholds
// failed: "thresholds on metrics 'a, b' have been crossed".
std::string CrossedThresholdKeys(const metrics::Thresholds& thresholds) {
  std::vector<std::string> keys;
  for (const auto& m : thresholds.metrics()) {
    for (const auto& expr : m.exprs) {
      if (!thresholds.LastOk(m.key, expr.source)) {
        keys.push_back(m.key);
        break;
      }
    }
  }
  std::sort(keys.begin(), keys.end());
  return absl::StrJoin(keys, ", ");
}

class Controller {
 public:
  explicit Controller(const RunConfig& config) : config_(config) {}
  int Run();

 private:
  int Fail(int code, const std::string& message) {
    PrintError(message);
    return code;
  }
  bool PrepareAgents(const volley::v1::Prepare& base);
  // Why Watched() interrupted VU 0.
  enum class Cut { kNone, kTimeout, kSignal };
  // Runs `fn` (setup or teardown on VU 0) and interrupts VU 0 when `timeout` passes or a
  // signal arrives meanwhile, as k6 does with setupTimeout / teardownTimeout and Ctrl+C.
  Cut Watched(absl::Duration timeout, const std::function<void()>& fn);
  void MergeLoop();
  void HandleEvent(AgentEvent event);
  void StopAll(bool immediate, const std::string& reason);
  ProgressState CurrentProgress() const;
  void MergeHostMetrics();
  void PrintSummaryAndOutputs(bool ran);

  const RunConfig& config_;
  ScriptHost host_;
  LoadedScript script_;
  Options options_;
  nlohmann::json options_json_;
  metrics::Store store_;
  std::optional<metrics::Thresholds> thresholds_;
  EventQueue queue_;
  std::unique_ptr<agent::AgentServer> embedded_;
  std::vector<std::string> agent_names_;
  std::vector<AgentState> agents_;
  absl::Time start_ = absl::InfinitePast();
  absl::Time end_ = absl::InfinitePast();
  int exit_code_ = kExitOk;
  bool stop_sent_ = false;
  bool lost_abort_ = false;
  absl::Time stop_deadline_ = absl::InfiniteFuture();  // after an immediate stop
  bool thresholds_aborted_ = false;
  bool script_aborted_ = false;
  std::string abort_reason_;
  std::string crossed_;  // metrics whose thresholds failed, for the final error line
  std::string setup_json_;
  std::unique_ptr<ProgressDisplay> progress_;
};

Controller::Cut Controller::Watched(absl::Duration timeout, const std::function<void()>& fn) {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  Cut cut = Cut::kNone;
  const int signals_before = g_signals.load();
  const absl::Time deadline = absl::Now() + timeout;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mu);
    // Signals arrive through a counter, so it is polled.
    while (!done && cut == Cut::kNone) {
      if (g_signals.load() > signals_before) {
        cut = Cut::kSignal;
      } else if (absl::Now() >= deadline) {
        cut = Cut::kTimeout;
      } else {
        cv.wait_for(lock, std::chrono::milliseconds(50));
      }
    }
    if (cut != Cut::kNone) host_.Interrupt();
  });
  fn();
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  watchdog.join();
  return cut;
}

bool Controller::PrepareAgents(const volley::v1::Prepare& base) {
  auto log = Log("controller");
  int n = static_cast<int>(agent_names_.size());
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < n; ++i) {
    if (embedded_) {
      channels.push_back(embedded_->InProcessChannel());
      continue;
    }
    auto made = MakeAgentChannel(config_, agent_names_[i]);
    if (!made.ok()) {
      PrintError(ErrorText(made.status()));
      exit_code_ =
          absl::IsInvalidArgument(made.status()) ? kExitInvalidConfig : kExitGenericEngine;
      return false;
    }
    channels.push_back(*made);
  }

  // Before any bundle goes out, every named agent must answer: reachable, free, our token. Its
  // worker count weights its segment, so a bigger machine gets a bigger share.
  ExecutionSegmentSequence sequence = ExecutionSegmentSequence::Even(n);
  if (!embedded_) {
    auto answers = QueryAgents(channels, base.token(), absl::Seconds(5));
    std::vector<volley::v1::AgentInfo> infos;
    bool all_ok = true;
    for (int i = 0; i < n; ++i) {
      if (!answers[i].ok()) {
        PrintError(absl::StrCat("agent ", agent_names_[i], ": ", answers[i].status().message()));
        all_ok = false;
        continue;
      }
      infos.push_back(*answers[i]);
    }
    if (!all_ok) {
      exit_code_ = kExitGenericEngine;
      return false;
    }
    auto weighted = ExecutionSegmentSequence::Weighted(SegmentWeights(infos));
    if (weighted.ok()) {
      sequence = *std::move(weighted);
    } else {
      log->warn("cannot weight segments by workers, splitting evenly error={}",
                ErrorText(weighted.status()));
    }
    log->info("segments sequence={}", sequence.ToString());
  }
  for (int i = 0; i < n; ++i) {
    AgentState state;
    state.session = std::make_unique<AgentSession>(i, agent_names_[i], channels[i], &queue_);
    agents_.push_back(std::move(state));
  }
  for (int i = 0; i < n; ++i) {
    volley::v1::Prepare prepare = base;
    prepare.set_segment(sequence.segments()[i].ToString());
    prepare.set_segment_sequence(sequence.ToString());
    prepare.set_agent_index(static_cast<std::uint32_t>(i));
    prepare.set_agent_count(static_cast<std::uint32_t>(n));
    if (!agents_[i].session->Open(prepare, embedded_ ? absl::ZeroDuration() : absl::Seconds(5))) {
      log->debug("agent open failed agent={}", agent_names_[i]);
    }
  }
  // Every agent must answer Ready; the first failure ends the test before it starts.
  int ready = 0;
  absl::Time deadline = absl::Now() + absl::Minutes(10);
  while (ready < n) {
    if (g_signals.load() > 0) {
      exit_code_ = kExitExternalAbort;
      return false;
    }
    auto event = queue_.Pop(absl::Milliseconds(100));
    if (absl::Now() > deadline) {
      PrintError("agents did not become ready within 10m");
      exit_code_ = kExitGenericEngine;
      return false;
    }
    if (!event) continue;
    AgentState& agent = agents_[event->agent];
    const std::string& name = agent_names_[event->agent];
    if (!event->message) {
      agent.ended = true;
      std::string why = event->status.error_message();
      if (event->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED) {
        why = "busy with another test";
      }
      PrintError(absl::StrCat("agent ", name, ": ", why.empty() ? "connection closed" : why));
      exit_code_ = kExitGenericEngine;
      return false;
    }
    if (event->message->has_failure()) {
      const auto& failure = event->message->failure();
      PrintError(n > 1 || !embedded_ ? absl::StrCat("agent ", name, ": ", failure.message())
                                     : failure.message());
      exit_code_ = failure.exit_code() != 0 ? failure.exit_code() : kExitGenericEngine;
      return false;
    }
    if (event->message->has_log()) {
      PrintAgentLog(name, event->message->log());
      continue;
    }
    if (event->message->has_ready()) {
      agent.ready = true;
      agent.vus_max = event->message->ready().vus_max();
      ++ready;
      log->info("agent ready agent={} vus_max={} workers={}", name,
                event->message->ready().vus_max(), event->message->ready().workers());
    }
  }
  return true;
}

void Controller::StopAll(bool immediate, const std::string& reason) {
  volley::v1::ControllerMessage message;
  message.mutable_stop()->set_immediate(immediate);
  message.mutable_stop()->set_reason(reason);
  for (auto& agent : agents_) {
    if (!agent.done && !agent.ended) agent.session->Send(message);
  }
  stop_sent_ = true;
  // An agent that cannot stop (a VU stuck in a JS loop, say) must not hold the run forever: give
  // up on it a while after an immediate stop, at once-ish after a second Ctrl+C.
  if (immediate) {
    absl::Time limit = absl::Now() + (g_signals.load() >= 2 ? absl::Seconds(5) : absl::Seconds(30));
    stop_deadline_ = std::min(stop_deadline_, limit);
  }
}

void Controller::HandleEvent(AgentEvent event) {
  AgentState& agent = agents_[event.agent];
  const std::string& name = agent_names_[event.agent];
  if (!event.message) {
    agent.ended = true;
    if (!agent.done && !agent.lost) {
      agent.lost = true;
      agent.vus = 0;
      PrintError(absl::StrCat("agent ", name, " lost: ",
                              event.status.error_message().empty() ? "connection closed"
                                                                   : event.status.error_message()));
      int lost = 0;
      for (const auto& a : agents_) lost += a.lost;
      if (lost > config_.max_lost_agents) {
        // The default policy: a test that lost more agents than allowed no longer measures what
        // it was meant to; abort it everywhere (teardown and the summary still follow).
        if (exit_code_ == kExitOk) exit_code_ = kExitGenericEngine;
        if (!lost_abort_) {
          lost_abort_ = true;
          PrintError(absl::StrCat("aborting the test: ", lost, " agent(s) lost, at most ",
                                  config_.max_lost_agents, " allowed (--max-lost-agents)"));
          StopAll(/*immediate=*/true, "agent lost");
        }
      } else {
        Log("controller")
            ->warn("continuing without agent={} lost={} max_lost_agents={}", name, lost,
                   config_.max_lost_agents);
      }
    }
    return;
  }
  const volley::v1::AgentMessage& message = *event.message;
  if (message.has_batch()) {
    const auto& batch = message.batch();
    absl::Status merged = store_.Merge(batch);
    if (!merged.ok())
      Log("metrics")->warn("batch merge problem agent={} error={}", name,
                           std::string(merged.message()));
    agent.reported = true;
    agent.vus = batch.vus();
    agent.vus_max = batch.vus_max();
    agent.progress.assign(batch.progress().begin(), batch.progress().end());
  } else if (message.has_done()) {
    agent.done = true;
    agent.vus = 0;
    // Half-close now, so the agent is free at once rather than when the slowest agent ends.
    agent.session->Close();
  } else if (message.has_failure()) {
    const auto& failure = message.failure();
    if (failure.exit_code() == kExitScriptAborted) {
      script_aborted_ = true;
      abort_reason_ = failure.message();
      StopAll(/*immediate=*/true, "test aborted by the script");
    } else {
      PrintError(absl::StrCat("agent ", name, ": ", failure.message()));
      if (exit_code_ == kExitOk) exit_code_ = failure.exit_code();
      StopAll(/*immediate=*/true, "agent failure");
    }
  } else if (message.has_log()) {
    PrintAgentLog(name, message.log());
  }
}

ProgressState Controller::CurrentProgress() const {
  ProgressState state;
  state.elapsed = (end_ != absl::InfinitePast() ? end_ : absl::Now()) - start_;
  if (start_ == absl::InfinitePast()) state.elapsed = absl::ZeroDuration();
  std::map<std::string, ScenarioLine> lines;
  std::map<std::string, std::vector<AgentScenarioProgress>> parts;
  std::vector<std::string> order;
  for (const auto& agent : agents_) {
    state.vus += agent.vus;
    state.vus_max += agent.vus_max;
    for (const auto& p : agent.progress) {
      auto [it, inserted] = lines.try_emplace(p.name());
      if (inserted) order.push_back(p.name());
      ScenarioLine& line = it->second;
      line.name = p.name();
      line.vus += p.vus();
      line.iterations += p.iterations();
      line.interrupted += p.interrupted();
      parts[p.name()].push_back({p.has_work(), p.progress(), p.cut()});
      line.cut = line.cut || p.cut();
    }
  }
  for (const auto& name : order) {
    ScenarioLine line = lines[name];
    state.complete += line.iterations;
    state.interrupted += line.interrupted;
    if (options_.scenarios && options_.scenarios->count(name) > 0) {
      const ScenarioConfig& config = options_.scenarios->at(name);
      line.progress = MergedProgress(config, line.iterations, parts[name]);
      line.detail = ScenarioDetail(config, line, state.elapsed);
    }
    state.scenarios.push_back(line);
  }
  return state;
}

void Controller::MergeHostMetrics() {
  volley::v1::MetricBatch batch;
  host_.TakeBatch(&batch);
  (void)store_.Merge(batch);
}

void Controller::MergeLoop() {
  auto all_finished = [&] {
    for (const auto& a : agents_) {
      if (!a.done && !a.lost) return false;
    }
    return true;
  };
  int signals_seen = 0;
  absl::Time next_eval = absl::Now() + absl::Seconds(1);
  // vus and vus_max are sampled once a second of the test, as k6's ticker does: a test
  // shorter than a second has none (k6 then leaves them out of the summary).
  absl::Time next_gauge = start_ + absl::Seconds(1);
  while (!all_finished()) {
    auto event = queue_.Pop(absl::Milliseconds(50));
    if (event) HandleEvent(std::move(*event));
    if (absl::Now() > stop_deadline_) {
      for (auto& agent : agents_) {
        if (agent.done || agent.lost) continue;
        PrintError(absl::StrCat("agent ", agent.session->name(),
                                " did not stop in time after an immediate stop; leaving it"));
        agent.lost = true;
        agent.vus = 0;
        agent.session->Cancel();
        if (exit_code_ == kExitOk) exit_code_ = kExitGenericEngine;
      }
    }

    int signals = g_signals.load();
    if (signals > signals_seen) {
      signals_seen = signals;
      exit_code_ = kExitExternalAbort;
      if (signals == 1) {
        std::cerr << "\nstopping gracefully (press Ctrl+C again to stop now)\n";
        StopAll(/*immediate=*/false, "interrupted by signal");
      } else {
        StopAll(/*immediate=*/true, "interrupted by signal");
      }
    }

    absl::Time now = absl::Now();
    // No vus sample before every running agent has reported its VUs: a 0 from before the
    // first batch would show as "vus min=0" in a test that never had fewer than its VUs.
    bool all_reported = std::all_of(agents_.begin(), agents_.end(), [](const AgentState& a) {
      return a.reported || a.done || a.lost;
    });
    bool all_done = std::all_of(agents_.begin(), agents_.end(),
                                [](const AgentState& a) { return a.done || a.lost; });
    if (now >= next_gauge && all_reported && !all_done) {
      std::uint32_t vus = 0, vus_max = 0;
      for (const auto& a : agents_) {
        vus += a.vus;
        vus_max += a.vus_max;
      }
      (void)store_.Merge(GaugeBatch(vus, vus_max));
      next_gauge = now + absl::Seconds(1);
    }
    if (thresholds_ && now >= next_eval) {
      next_eval = now + absl::Seconds(1);
      for (const auto& result : thresholds_->Evaluate(store_, now - start_, /*final=*/false)) {
        if (result.abort && !thresholds_aborted_) {
          thresholds_aborted_ = true;
          Log("controller")
              ->warn("threshold crossed with abortOnFail metric={} threshold={}", result.key,
                     result.source);
          StopAll(/*immediate=*/true, "threshold aborted the test");
        }
      }
    }
    if (progress_) progress_->Update(CurrentProgress());
  }
  // Late events (final batches racing Done) are already in; drain what is queued.
  while (auto event = queue_.Pop(absl::ZeroDuration())) HandleEvent(std::move(*event));
}

void Controller::PrintSummaryAndOutputs(bool ran) {
  absl::Time end = end_ != absl::InfinitePast() ? end_ : absl::Now();
  ReportInput input;
  input.store = &store_;
  input.thresholds = thresholds_ ? &*thresholds_ : nullptr;
  input.options = &options_;
  input.options_json = options_json_;
  input.elapsed = start_ != absl::InfinitePast() ? end - start_ : absl::ZeroDuration();
  input.registry = host_.registry();
  input.setup_json = setup_json_;
  input.stdout_tty = isatty(STDOUT_FILENO);
  input.stderr_tty = isatty(STDERR_FILENO);
  input.color = input.stdout_tty && !config_.no_color;
  input.interrupted = stop_sent_;

  if (thresholds_) {
    thresholds_->Evaluate(store_, input.elapsed, /*final=*/true);
    if ((!thresholds_->AllOk() || thresholds_aborted_) &&
        (exit_code_ == kExitOk || thresholds_aborted_)) {
      exit_code_ = kExitThresholdsFailed;
    }
    if (!thresholds_->AllOk()) crossed_ = CrossedThresholdKeys(*thresholds_);
  }
  if (script_aborted_) {
    if (!abort_reason_.empty()) PrintError(absl::StrCat("test aborted: ", abort_reason_));
    exit_code_ = kExitScriptAborted;
  }
  if (!ran && store_.Metrics().empty() && !host_.HasExport("handleSummary")) return;

  if (!config_.summary_export.empty()) {
    std::ofstream out(config_.summary_export);
    if (!out) {
      PrintError(absl::StrCat("cannot write --summary-export file ", config_.summary_export));
    } else {
      out << SummaryExport(input).dump(4) << "\n";
    }
  }
  if (host_.HasExport("handleSummary")) {
    auto outputs = host_.RunHandleSummary(SummaryData(input).dump());
    if (!outputs.ok()) {
      PrintError(absl::StrCat("handleSummary() failed: ", outputs.status().message()));
      if (!config_.no_summary) std::cout << TextSummary(input) << std::flush;
      return;
    }
    nlohmann::json parsed = nlohmann::json::parse(*outputs, nullptr, false);
    if (parsed.is_object()) {
      absl::Status written = WriteSummaryOutputs(parsed);
      if (!written.ok()) PrintError(std::string(written.message()));
    }
    return;
  }
  if (!config_.no_summary) std::cout << TextSummary(input) << std::flush;
}

int Controller::Run() {
  auto log = Log("controller");
  bool terminal = isatty(STDERR_FILENO) && !config_.no_color;

  // 1. Load the script: its options and the files it needs.
  std::map<std::string, std::string> env = BuildEnv(config_);
  auto loaded = host_.Load(config_.script, env);
  if (!loaded.ok()) {
    if (loaded.status().code() == absl::StatusCode::kNotFound) {
      return Fail(kExitUsage, ErrorText(loaded.status()));
    }
    return Fail(kExitScriptException, ErrorText(loaded.status()));
  }
  script_ = *std::move(loaded);

  // 2. Options, every problem at once.
  std::vector<std::string> problems;
  auto options = ConsolidateAll(config_, script_, host_.registry(), &thresholds_, &problems);
  if (!options.ok()) {
    if (problems.empty()) problems.push_back(ErrorText(options.status()));
    std::cerr << "ERRO invalid options:\n";
    for (const auto& p : problems) std::cerr << "  - " << p << "\n";
    return kExitInvalidConfig;
  }
  options_ = *std::move(options);
  options_json_ = ToJson(options_);

  // 3. Agents: the named ones, or one embedded in this process.
  auto addresses = ResolveAgentAddresses(config_);
  if (!addresses.ok()) {
    // A malformed address or agents file is a bad option; a name that does not resolve is not.
    return Fail(absl::IsInvalidArgument(addresses.status()) ? kExitInvalidConfig
                                                            : kExitGenericEngine,
                ErrorText(addresses.status()));
  }
  agent_names_ = *addresses;
  std::string token;
  if (!config_.token_file.empty()) {
    auto t = ReadFile(config_.token_file);
    if (!t.ok()) return Fail(kExitUsage, ErrorText(t.status()));
    token = std::string(absl::StripAsciiWhitespace(*t));
  }
  if (agent_names_.empty()) {
    agent::ServerConfig server_config;
    server_config.workers = config_.workers;
    server_config.forward_logs = false;  // its loggers print to this terminal already
    auto server = agent::AgentServer::Start(server_config);
    if (!server.ok()) return Fail(kExitGenericEngine, ErrorText(server.status()));
    embedded_ = *std::move(server);
    agent_names_.push_back("embedded");
  }

  if (!config_.quiet) {
    PrintBanner(std::cout, script_.entry, options_, agent_names_, embedded_ != nullptr);
  }

  volley::v1::Prepare prepare;
  prepare.mutable_bundle()->set_entry(script_.entry);
  for (const auto& [path, content] : script_.files) {
    (*prepare.mutable_bundle()->mutable_files())[path] = content;
  }
  prepare.set_options_json(options_json_.dump());
  for (const auto& [k, v] : env) (*prepare.mutable_env())[k] = v;
  prepare.set_token(token);
  prepare.set_metrics_interval_ms(static_cast<std::uint32_t>(config_.metrics_interval_ms));

  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  // 4. Every agent initialises its VUs.
  if (!PrepareAgents(prepare)) {
    for (auto& agent : agents_) agent.session->Cancel();
    return exit_code_;
  }

  // 5. setup() once, here, with VU 0.
  js::TestContext vu0_context;
  js::BundleSource bundle(script_.files);
  vu0_context.files = &bundle;
  vu0_context.entry = script_.entry;
  vu0_context.env = env;
  vu0_context.options_json = options_json_.dump();
  vu0_context.registry = host_.registry();
  agent::ApplyOptions(options_, &vu0_context);
  vu0_context.abort_test = [this](const std::string& reason) {
    script_aborted_ = true;
    abort_reason_ = reason;
  };
  absl::Status vu0 = host_.PrepareVu0(&vu0_context);
  if (!vu0.ok()) {
    for (auto& agent : agents_) agent.session->Cancel();
    return Fail(kExitScriptException, ErrorText(vu0));
  }
  std::string setup_json;
  bool run_setup = host_.HasExport("setup") && !options_.no_setup.value_or(false);
  if (run_setup) {
    const absl::Duration timeout = options_.setup_timeout.value_or(kDefaultSetupTimeout);
    absl::StatusOr<std::string> setup = absl::InternalError("not run");
    Cut cut = Watched(timeout, [&] { setup = host_.RunSetup(); });
    MergeHostMetrics();
    if (!setup.ok()) {
      for (auto& agent : agents_) agent.session->Cancel();
      if (cut == Cut::kTimeout) {
        PrintError(absl::StrCat("setup() execution timed out after ", absl::StrFormat("%.f seconds", absl::ToDoubleSeconds(timeout))));
        exit_code_ = kExitSetupTimeout;
      } else if (cut == Cut::kSignal) {
        PrintError("setup() interrupted by signal");
        exit_code_ = kExitExternalAbort;
      } else {
        PrintError(absl::StrCat("setup() failed: ", setup.status().message()));
        exit_code_ = script_aborted_ ? kExitScriptAborted : kExitScriptException;
      }
      PrintSummaryAndOutputs(/*ran=*/false);
      return exit_code_;
    }
    setup_json = *setup;
    setup_json_ = setup_json;
  }

  // 6. One start instant for all agents, a little ahead so every agent gets it in time.
  start_ = absl::Now() + absl::Milliseconds(agents_.size() > 1 ? 200 : 20);
  volley::v1::ControllerMessage start;
  start.mutable_start()->set_start_unix_ns(absl::ToUnixNanos(start_));
  start.mutable_start()->set_setup_data_json(setup_json);
  for (auto& agent : agents_) agent.session->Send(start);
  progress_ = std::make_unique<ProgressDisplay>(!config_.quiet, terminal);

  // 7. Merge until every agent is done.
  MergeLoop();
  end_ = absl::Now();
  for (auto& agent : agents_) agent.session->Close();
  if (progress_) progress_->Finish(CurrentProgress());

  // 8. teardown(data) once, also after an abort.
  if (host_.HasExport("teardown") && !options_.no_teardown.value_or(false)) {
    const absl::Duration timeout = options_.teardown_timeout.value_or(kDefaultTeardownTimeout);
    absl::Status teardown = absl::InternalError("not run");
    Cut cut = Watched(timeout, [&] { teardown = host_.RunTeardown(setup_json); });
    if (!teardown.ok()) {
      int code = kExitScriptException;
      if (cut == Cut::kTimeout) {
        PrintError(
            absl::StrCat("teardown() execution timed out after ", absl::StrFormat("%.f seconds", absl::ToDoubleSeconds(timeout))));
        code = kExitTeardownTimeout;
      } else if (cut == Cut::kSignal) {
        PrintError("teardown() interrupted by signal");
        code = kExitExternalAbort;
      } else {
        PrintError(absl::StrCat("teardown() failed: ", teardown.message()));
      }
      if (exit_code_ == kExitOk) exit_code_ = code;
    }
  }
  MergeHostMetrics();
  PrintSummaryAndOutputs(/*ran=*/true);
  if (!crossed_.empty()) {
    PrintError(absl::StrCat("thresholds on metrics '", crossed_, "' have been crossed"));
  }
  agents_.clear();
  if (embedded_) embedded_->Shutdown();
  return exit_code_;
}

}  // namespace

int RunTest(const RunConfig& config) {
  InitLogging(config.log_level);
  js::InitV8();
  Controller controller(config);
  return controller.Run();
}

}  // namespace volley::controller
