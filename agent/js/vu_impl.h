// The VU runtime behind the Vu interface: one isolate, one context, the module graph, the
// per-VU state the k6 modules read and write (group path, tags, iteration info), and the tag-set
// caches that keep metric emission cheap. Internal to agent/js: the built-in modules
// (k6_*.cc) reach their VU through VuImpl::From(isolate). Same threading as Vu: the owning
// worker thread, on a fiber, except Interrupt().
#pragma once

#include <v8.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "agent/js/vu.h"
#include "agent/loop/http.h"
#include "agent/loop/loop.h"
#include "common/metrics/aggregator.h"

namespace volley::js {

// Built-in module exports; each returns the module's default export object, whose own
// properties become the named exports.
v8::Local<v8::Object> BuildK6Module(v8::Isolate* isolate, v8::Local<v8::Context> context);
v8::Local<v8::Object> BuildMetricsModule(v8::Isolate* isolate, v8::Local<v8::Context> context);
v8::Local<v8::Object> BuildHttpModule(v8::Isolate* isolate, v8::Local<v8::Context> context);
v8::Local<v8::Object> BuildEncodingModule(v8::Isolate* isolate, v8::Local<v8::Context> context);
v8::Local<v8::Object> BuildCryptoModule(v8::Isolate* isolate, v8::Local<v8::Context> context);
v8::Local<v8::Object> BuildExecutionModule(v8::Isolate* isolate, v8::Local<v8::Context> context);
v8::Local<v8::Object> BuildDataModule(v8::Isolate* isolate, v8::Local<v8::Context> context);
// console and open(), on the global object.
void InstallConsole(v8::Isolate* isolate, v8::Local<v8::Context> context);

// k6's default system tags, as a bit set.
enum SystemTag : std::uint32_t {
  kTagProto = 1 << 0,
  kTagStatus = 1 << 1,
  kTagMethod = 1 << 2,
  kTagUrl = 1 << 3,
  kTagName = 1 << 4,
  kTagGroup = 1 << 5,
  kTagCheck = 1 << 6,
  kTagError = 1 << 7,
  kTagErrorCode = 1 << 8,
  kTagTlsVersion = 1 << 9,
  kTagScenario = 1 << 10,
  kTagExpectedResponse = 1 << 11,
};

struct ResponseData;  // k6_http.cc
class VuImpl;
// Frees the C++ side of every response object still alive (their weak callbacks never run
// once the isolate is disposed). k6_http.cc.
void FreeAllResponses(VuImpl* vu);

class VuImpl final : public Vu {
 public:
  VuImpl(const TestContext* test, loop::Loop* loop, metrics::Aggregator* aggregator,
         std::uint64_t id, std::uint64_t id_in_test);
  ~VuImpl() override;

  static VuImpl* From(v8::Isolate* isolate) { return static_cast<VuImpl*>(isolate->GetData(0)); }

  // Creates the isolate and runs the init context. Fiber-only.
  absl::Status Init();

  // ---- Vu ----
  absl::StatusOr<std::string> OptionsJson() override { return options_json_; }
  std::vector<std::string> ExportedFunctions() override { return exported_functions_; }
  absl::Status SetSetupData(const std::string& json) override;
  absl::StatusOr<bool> RunIteration(const IterationInfo& info, ScriptError* error) override;
  absl::StatusOr<std::string> RunSetup() override;
  absl::Status RunTeardown(const std::string& setup_json) override;
  absl::StatusOr<std::string> RunHandleSummary(const std::string& data_json) override;
  void Interrupt() override;
  absl::Status ClearInterrupt() override;

  // ---- state for the built-in modules ----
  v8::Isolate* isolate() const { return isolate_; }
  v8::Local<v8::Context> context() const { return context_.Get(isolate_); }
  const TestContext& test() const { return *test_; }
  loop::Loop* loop() const { return loop_; }
  loop::HttpClient* http() { return http_.get(); }
  metrics::Aggregator* aggregator() const { return aggregator_; }
  const metrics::Registry& registry() const { return *test_->registry; }
  std::uint64_t id() const { return id_; }
  std::uint64_t id_in_test() const { return id_in_test_; }
  bool in_init() const { return in_init_; }
  bool interrupted() const { return interrupted_.load(std::memory_order_relaxed); }
  const IterationInfo& info() const { return *info_; }
  std::int64_t iteration() const { return iteration_; }

  bool SystemTagEnabled(SystemTag tag) const { return (system_tags_ & tag) != 0; }

  // Group path, k6 style: "" at the root, "::a::b" inside group b of group a.
  const std::string& group_path() const { return group_path_; }
  void set_group_path(std::string path) { group_path_ = std::move(path); }

  // Tags every sample carries now (global, scenario, exec.vu.tags, group), interned.
  metrics::TagSetId ContextTags();
  // The context tags plus `extra` (they win on equal keys), interned.
  metrics::TagSetId ContextTagsWith(const metrics::TagSet& extra);
  // Appends the context tags (without group) to `tags`.
  void AppendContextTags(metrics::TagSet* tags) const;
  // A tag-set cache for the hot paths (checks, requests). Keys must include everything that
  // decides the tags besides the context; the cache is emptied when the context changes.
  metrics::TagSetId* CachedTags(const std::string& key);
  // Changes whenever the context tags do (hot-path memos compare it).
  std::uint64_t tags_epoch() const { return tags_epoch_; }

  // The tag inputs of this VU's last request hop and the series they resolved to (k6_http.cc),
  // so a repeated request adds its samples without building a cache key.
  struct HopMemo {
    std::uint64_t epoch = ~std::uint64_t{0};
    int status = 0;
    int error_code = 0;
    char expected = 0;  // '1', '0', or '-' without a response callback
    std::string url, name, method, group, proto, tls_version, error;
    metrics::TagSet user_tags;
    std::array<metrics::Aggregator::SeriesId, 9> series{};  // kHopMetrics order
  };
  HopMemo hop_memo;

  // Checks recorded without extra tags: name (an internalized key string), group, series
  // (k6_core.cc). Emptied when the context tags change (check_memo_epoch).
  struct CheckMemo {
    v8::Global<v8::String> name;
    std::string group;
    metrics::Aggregator::SeriesId series;
  };
  static constexpr std::size_t kCheckMemoSize = 32;
  std::vector<CheckMemo> check_memo;
  std::uint64_t check_memo_epoch = ~std::uint64_t{0};

  // exec.vu.tags / exec.vu.metrics.metadata.
  std::map<std::string, std::string>& vu_tags() { return vu_tags_; }
  std::map<std::string, std::string>& vu_metadata() { return vu_metadata_; }
  void VuTagsChanged() { ContextChanged(); }

  // Bytes on the wire of this iteration's requests (emitted as data_sent/data_received).
  void AddTraffic(std::uint64_t sent, std::uint64_t received) {
    bytes_sent_ += sent;
    bytes_received_ += received;
  }

  // exec.test.abort(): stops the test (TestContext::abort_test) and this VU's JS at once.
  void Abort(const std::string& reason);

  // Resolves a module specifier or open() path against the file that uses it.
  static std::string ResolvePath(const std::string& specifier, const std::string& referrer);

  // Response objects still reachable from JS; freed by their weak callbacks or with the VU.
  ResponseData* responses_ = nullptr;
  std::int64_t external_bytes_released_ = 0;

  // Per-isolate templates and values the modules cache (created on first use).
  v8::Global<v8::ObjectTemplate> response_template;
  v8::Global<v8::ObjectTemplate> hasher_template;
  v8::Global<v8::ObjectTemplate> shared_array_template;
  // The SharedArray data this VU's objects point into (kept alive as long as the VU).
  std::vector<std::shared_ptr<const SharedArrayData>> shared_arrays;
  v8::Global<v8::Private> statuses_key;
  v8::Global<v8::Private> file_data_key;  // marks the objects http.file() returns
  v8::Global<v8::Object> cookie_jar;  // what http.cookieJar() returns
  v8::Global<v8::Object> test_options;
  // http.setResponseCallback(): the statuses counted as expected; `response_callback_set`
  // false means "no callback" (k6 then emits no http_req_failed and no expected_response).
  std::vector<std::pair<int, int>> expected_statuses{{200, 399}};
  bool response_callback_set = true;

 private:
  struct Module {
    v8::Global<v8::Module> module;
    std::string key;                 // resolved path, or the built-in name
    v8::Global<v8::Object> exports;  // built-ins only
  };

  // Enters the isolate on the calling fiber, sets its stack limit, installs the hooks that
  // exit/enter around yields; undone when the scope ends.
  class FiberScope;

  absl::StatusOr<v8::Local<v8::Module>> LoadModule(const std::string& key,
                                                   const std::string& specifier,
                                                   const std::string& importer);
  absl::StatusOr<v8::Local<v8::Module>> LoadBuiltin(const std::string& name);
  const Module* FindModule(v8::Local<v8::Module> module) const;
  static v8::MaybeLocal<v8::Module> ResolveCallback(v8::Local<v8::Context> context,
                                                    v8::Local<v8::String> specifier,
                                                    v8::Local<v8::FixedArray> assertions,
                                                    v8::Local<v8::Module> referrer);
  static v8::MaybeLocal<v8::Value> EvaluateBuiltin(v8::Local<v8::Context> context,
                                                   v8::Local<v8::Module> module);

  void InstallGlobals(v8::Local<v8::Context> context);
  void SetEnv(const std::map<std::string, std::string>* scenario_env);
  void UpdateContext(const IterationInfo& info);
  void ContextChanged();
  void EmitIterationSamples(double duration_ms, bool full_iteration);

  // Calls an exported function; on an exception fills *error and returns an empty handle.
  // `hard_stop` tells an Interrupt() or abort from a script exception.
  v8::MaybeLocal<v8::Value> CallExport(const std::string& name, int argc,
                                       v8::Local<v8::Value>* argv, ScriptError* error,
                                       bool* hard_stop);
  absl::Status ErrorStatus(const ScriptError& error) const;
  void RunPlatformTasks();

  const TestContext* test_;
  loop::Loop* loop_;
  metrics::Aggregator* aggregator_;
  const std::uint64_t id_;
  const std::uint64_t id_in_test_;
  std::uint32_t system_tags_ = 0;

  v8::Isolate* isolate_ = nullptr;
  v8::Global<v8::Context> context_;
  std::unique_ptr<loop::HttpClient> http_;
  std::vector<Module> modules_;
  v8::Global<v8::Module> entry_;
  v8::Global<v8::Object> namespace_;
  std::unordered_map<std::string, v8::Global<v8::Function>> exports_cache_;
  std::string options_json_ = "{}";
  std::vector<std::string> exported_functions_;

  bool in_init_ = true;
  // Set by Interrupt() (any thread), cleared by ClearInterrupt() (owner). Both, and the owner's
  // other calls that cancel a termination, hold interrupt_mu_ while they change the flag and
  // V8's termination state together; readers on the owner thread need no lock.
  std::mutex interrupt_mu_;
  std::atomic<bool> interrupted_{false};
  bool aborted_ = false;
  std::string abort_reason_;
  std::uintptr_t stack_limit_ = 0;

  IterationInfo default_info_;
  const IterationInfo* info_ = &default_info_;
  std::int64_t iteration_ = 0;
  std::string setup_json_;
  bool setup_parsed_ = false;
  v8::Global<v8::Value> setup_data_;

  std::string env_scenario_;  // scenario whose env __ENV holds now
  bool env_has_scenario_vars_ = false;
  bool context_ready_ = false;
  std::string group_path_;
  std::map<std::string, std::string> vu_tags_;
  std::map<std::string, std::string> vu_metadata_;
  std::string tags_scenario_;
  std::map<std::string, std::string> tags_scenario_tags_;
  metrics::TagSet context_tags_;  // without group
  std::unordered_map<std::string, metrics::TagSetId> group_tags_cache_;
  std::unordered_map<std::string, metrics::TagSetId> tags_cache_;
  std::uint64_t tags_epoch_ = 0;

  std::uint64_t bytes_sent_ = 0;
  std::uint64_t bytes_received_ = 0;

  static constexpr double kPumpIntervalMs = 10;
  double last_pump_ms_ = 0;  // when RunIteration last ran the platform's tasks
};

}  // namespace volley::js
