// The VU core: V8 start-up, file sources, isolate-per-VU on fibers, module loading, globals and
// the Run* entry points. The k6 modules live in k6_*.cc.
#include <libplatform/libplatform.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/js/v8_util.h"
#include "agent/js/vu_impl.h"
#include "common/logging.h"

namespace volley::js {
namespace {

// Room below the V8 stack limit for the C++ frames V8 and our callbacks run after a check.
constexpr std::uintptr_t kStackMarginBytes = 96 * 1024;

std::unique_ptr<v8::Platform> g_platform;
v8::ArrayBuffer::Allocator* g_allocator = nullptr;
std::once_flag g_init_once;

bool IsBuiltinModule(const std::string& name) {
  return name == "k6" || name == "k6/http" || name == "k6/metrics" || name == "k6/encoding" ||
         name == "k6/crypto" || name == "k6/execution" || name == "k6/data";
}

std::uint32_t SystemTagBits(const std::vector<std::string>& names) {
  if (names.empty()) {
    return kTagProto | kTagStatus | kTagMethod | kTagUrl | kTagName | kTagGroup | kTagCheck |
           kTagError | kTagErrorCode | kTagTlsVersion | kTagScenario | kTagExpectedResponse;
  }
  static const std::map<std::string, SystemTag> kByName = {
      {"proto", kTagProto},
      {"status", kTagStatus},
      {"method", kTagMethod},
      {"url", kTagUrl},
      {"name", kTagName},
      {"group", kTagGroup},
      {"check", kTagCheck},
      {"error", kTagError},
      {"error_code", kTagErrorCode},
      {"tls_version", kTagTlsVersion},
      {"scenario", kTagScenario},
      {"expected_response", kTagExpectedResponse},
  };
  std::uint32_t bits = 0;
  for (const std::string& name : names) {
    auto it = kByName.find(name);
    if (it != kByName.end()) bits |= it->second;
  }
  return bits;
}

double NowMs() {
  return std::chrono::duration<double, std::milli>(loop::Clock::now().time_since_epoch()).count();
}

}  // namespace

void InitV8(const std::string& v8_flags) {
  std::call_once(g_init_once, [&] {
    if (!v8_flags.empty()) v8::V8::SetFlagsFromString(v8_flags.c_str(), v8_flags.size());
    g_platform = v8::platform::NewDefaultPlatform();
    v8::V8::InitializePlatform(g_platform.get());
    v8::V8::Initialize();
    g_allocator = v8::ArrayBuffer::Allocator::NewDefaultAllocator();
    Log("js")->info("v8 initialised version={} flags=\"{}\"", v8::V8::GetVersion(), v8_flags);
  });
}

// ---- file sources ----

absl::StatusOr<std::string> RecordingDiskSource::Read(const std::string& path) {
  auto it = files_.find(path);
  if (it != files_.end()) return it->second;
  if (absl::StartsWith(path, "http://") || absl::StartsWith(path, "https://")) {
    return absl::UnimplementedError(absl::StrCat("remote modules are not supported: ", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("no such file: ", path));
  std::ostringstream content;
  content << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read ", path));
  return files_.emplace(path, content.str()).first->second;
}

absl::StatusOr<std::string> BundleSource::Read(const std::string& path) {
  auto it = files_.find(path);
  if (it == files_.end()) return absl::NotFoundError(absl::StrCat("not in the bundle: ", path));
  return it->second;
}

// ---- VuImpl ----

class VuImpl::FiberScope {
 public:
  explicit FiberScope(VuImpl* vu) : vu_(vu), fiber_(vu->loop_->CurrentFiber()) {
    if (fiber_ == nullptr) {
      Log("js")->critical("a VU ran outside a fiber of its loop");
      std::abort();
    }
    v8::Isolate* isolate = vu_->isolate_;
    isolate->Enter();
    std::uintptr_t limit = vu_->loop_->CurrentStackLimit() + kStackMarginBytes;
    if (limit != vu_->stack_limit_) {
      isolate->SetStackLimit(limit);
      vu_->stack_limit_ = limit;
    }
    vu_->loop_->SetHooks(
        fiber_, loop::FiberHooks{[isolate] { isolate->Exit(); }, [isolate] { isolate->Enter(); }});
  }
  ~FiberScope() {
    vu_->loop_->SetHooks(fiber_, loop::FiberHooks{});
    vu_->isolate_->Exit();
  }

 private:
  VuImpl* vu_;
  loop::Fiber* fiber_;
};

VuImpl::VuImpl(const TestContext* test, loop::Loop* loop, metrics::Aggregator* aggregator,
               std::uint64_t id, std::uint64_t id_in_test)
    : test_(test),
      loop_(loop),
      aggregator_(aggregator),
      id_(id),
      id_in_test_(id_in_test),
      system_tags_(SystemTagBits(test->system_tags)) {}

absl::StatusOr<std::unique_ptr<Vu>> Vu::Create(const TestContext* test, loop::Loop* loop,
                                               metrics::Aggregator* aggregator, std::uint64_t id,
                                               std::uint64_t id_in_test) {
  if (g_platform == nullptr) return absl::FailedPreconditionError("InitV8() was not called");
  auto vu = std::make_unique<VuImpl>(test, loop, aggregator, id, id_in_test);
  absl::Status status = vu->Init();
  if (!status.ok()) return status;
  return std::unique_ptr<Vu>(std::move(vu));
}

Vu::~Vu() = default;

absl::Status VuImpl::Init() {
  v8::Isolate::CreateParams params;
  params.array_buffer_allocator = g_allocator;
  isolate_ = v8::Isolate::New(params);
  isolate_->SetData(0, this);
  FiberScope fiber_scope(this);
  v8::HandleScope handle_scope(isolate_);
  isolate_->SetMicrotasksPolicy(v8::MicrotasksPolicy::kExplicit);
  isolate_->SetCaptureStackTraceForUncaughtExceptions(true, 32);

  v8::Local<v8::Context> context = v8::Context::New(isolate_);
  context_.Reset(isolate_, context);
  v8::Context::Scope context_scope(context);
  InstallGlobals(context);
  UpdateContext(default_info_);
  http_ = std::make_unique<loop::HttpClient>(loop_, test_->http);

  // Load the whole graph first, so a missing file or a syntax error anywhere is reported with
  // its importer before anything runs.
  absl::StatusOr<v8::Local<v8::Module>> entry = LoadModule(test_->entry, test_->entry, "");
  if (!entry.ok()) return entry.status();
  v8::Local<v8::Module> module = *entry;
  entry_.Reset(isolate_, module);

  v8::TryCatch try_catch(isolate_);
  if (module->InstantiateModule(context, &VuImpl::ResolveCallback).IsNothing()) {
    return ErrorStatus(ErrorFromTryCatch(isolate_, context, try_catch));
  }
  v8::Local<v8::Value> result;
  if (!module->Evaluate(context).ToLocal(&result)) {
    if (aborted_ || interrupted()) {
      ScriptError error;
      error.message = aborted_ ? "test aborted: " + abort_reason_ : "interrupted";
      error.aborted = aborted_;
      return ErrorStatus(error);
    }
    return ErrorStatus(ErrorFromTryCatch(isolate_, context, try_catch));
  }
  isolate_->PerformMicrotaskCheckpoint();
  if (module->GetStatus() == v8::Module::kErrored) {
    return ErrorStatus(ErrorFromException(isolate_, context, module->GetException(), {}));
  }
  in_init_ = false;

  // What the executor asks later, answered now while on the fiber.
  v8::Local<v8::Object> ns = module->GetModuleNamespace().As<v8::Object>();
  namespace_.Reset(isolate_, ns);
  v8::Local<v8::Array> names;
  if (ns->GetOwnPropertyNames(context).ToLocal(&names)) {
    for (uint32_t i = 0; i < names->Length(); ++i) {
      v8::Local<v8::Value> name = names->Get(context, i).ToLocalChecked();
      v8::Local<v8::Value> value;
      if (ns->Get(context, name).ToLocal(&value) && value->IsFunction()) {
        exported_functions_.push_back(ToStdString(isolate_, name));
      }
    }
  }
  v8::Local<v8::Value> options;
  if (ns->Get(context, V8Name(isolate_, "options")).ToLocal(&options) && options->IsObject()) {
    v8::Local<v8::String> json;
    if (!v8::JSON::Stringify(context, options).ToLocal(&json)) {
      return ErrorStatus(ErrorFromTryCatch(isolate_, context, try_catch));
    }
    options_json_ = ToStdString(isolate_, json);
  }
  RunPlatformTasks();
  return absl::OkStatus();
}

VuImpl::~VuImpl() {
  if (isolate_ == nullptr) return;
  // Responses still alive in JS: their weak callbacks will not run once the isolate is gone.
  FreeAllResponses(this);
  for (Module& m : modules_) {
    m.module.Reset();
    m.exports.Reset();
  }
  exports_cache_.clear();
  entry_.Reset();
  namespace_.Reset();
  setup_data_.Reset();
  response_template.Reset();
  hasher_template.Reset();
  shared_array_template.Reset();
  statuses_key.Reset();
  file_data_key.Reset();
  cookie_jar.Reset();
  test_options.Reset();
  check_memo.clear();
  context_.Reset();
  http_.reset();
  isolate_->Dispose();
}

absl::Status VuImpl::ErrorStatus(const ScriptError& error) const {
  return absl::InvalidArgumentError(error.ToString());
}

void VuImpl::RunPlatformTasks() {
  while (v8::platform::PumpMessageLoop(g_platform.get(), isolate_)) {
  }
}

// ---- modules ----

std::string VuImpl::ResolvePath(const std::string& specifier, const std::string& referrer) {
  std::string spec = specifier;
  if (absl::StartsWith(spec, "file://")) spec = spec.substr(7);
  bool remote_referrer =
      absl::StartsWith(referrer, "http://") || absl::StartsWith(referrer, "https://");
  if (absl::StartsWith(spec, "http://") || absl::StartsWith(spec, "https://")) return spec;
  if (remote_referrer) {
    // Relative import inside a remote module: join against the URL.
    std::size_t scheme_end = referrer.find("://") + 3;
    std::size_t path_start = referrer.find('/', scheme_end);
    std::string origin =
        path_start == std::string::npos ? referrer : referrer.substr(0, path_start);
    std::string base = path_start == std::string::npos ? "/" : referrer.substr(path_start);
    std::string joined = spec.front() == '/' ? spec : base.substr(0, base.rfind('/') + 1) + spec;
    return origin + std::filesystem::path(joined).lexically_normal().generic_string();
  }
  std::filesystem::path path(spec);
  if (path.is_relative()) {
    std::filesystem::path dir = std::filesystem::path(referrer).parent_path();
    if (dir.empty()) dir = std::filesystem::current_path();
    path = dir / path;
  }
  return path.lexically_normal().generic_string();
}

const VuImpl::Module* VuImpl::FindModule(v8::Local<v8::Module> module) const {
  for (const Module& m : modules_) {
    if (m.module.Get(isolate_) == module) return &m;
  }
  return nullptr;
}

absl::StatusOr<v8::Local<v8::Module>> VuImpl::LoadModule(const std::string& key,
                                                         const std::string& specifier,
                                                         const std::string& importer) {
  for (const Module& m : modules_) {
    if (m.key == key) return m.module.Get(isolate_);
  }
  absl::StatusOr<std::string> source = test_->files->Read(key);
  if (!source.ok()) {
    if (importer.empty()) {
      return absl::NotFoundError(
          absl::StrCat("cannot load the script ", key, ": ", source.status().message()));
    }
    return absl::NotFoundError(absl::StrCat("cannot load module \"", specifier, "\" imported from ",
                                            importer, ": ", source.status().message()));
  }

  v8::Local<v8::Context> context = this->context();
  v8::TryCatch try_catch(isolate_);
  v8::ScriptOrigin origin(isolate_, V8Str(isolate_, key), 0, 0, false, -1, v8::Local<v8::Value>(),
                          false, false, /*is_module=*/true);
  v8::ScriptCompiler::Source compiler_source(V8Str(isolate_, *source), origin);
  v8::Local<v8::Module> module;
  if (!v8::ScriptCompiler::CompileModule(isolate_, &compiler_source).ToLocal(&module)) {
    return ErrorStatus(ErrorFromTryCatch(isolate_, context, try_catch));
  }
  modules_.push_back(Module{v8::Global<v8::Module>(isolate_, module), key, {}});

  v8::Local<v8::FixedArray> requests = module->GetModuleRequests();
  for (int i = 0; i < requests->Length(); ++i) {
    v8::Local<v8::ModuleRequest> request = requests->Get(context, i).As<v8::ModuleRequest>();
    std::string spec = ToStdString(isolate_, request->GetSpecifier());
    absl::StatusOr<v8::Local<v8::Module>> dep;
    if (IsBuiltinModule(spec)) {
      dep = LoadBuiltin(spec);
    } else if (absl::StartsWith(spec, "k6") || spec.empty() ||
               (spec[0] != '.' && spec[0] != '/' && !absl::StartsWith(spec, "file://") &&
                !absl::StartsWith(spec, "http://") && !absl::StartsWith(spec, "https://"))) {
      return absl::NotFoundError(absl::StrCat("unknown module \"", spec, "\" imported from ", key));
    } else {
      dep = LoadModule(ResolvePath(spec, key), spec, key);
    }
    if (!dep.ok()) return dep.status();
  }
  return module;
}

absl::StatusOr<v8::Local<v8::Module>> VuImpl::LoadBuiltin(const std::string& name) {
  for (const Module& m : modules_) {
    if (m.key == name) return m.module.Get(isolate_);
  }
  v8::Local<v8::Context> context = this->context();
  v8::Local<v8::Object> exports;
  if (name == "k6") {
    exports = BuildK6Module(isolate_, context);
  } else if (name == "k6/http") {
    exports = BuildHttpModule(isolate_, context);
  } else if (name == "k6/metrics") {
    exports = BuildMetricsModule(isolate_, context);
  } else if (name == "k6/encoding") {
    exports = BuildEncodingModule(isolate_, context);
  } else if (name == "k6/crypto") {
    exports = BuildCryptoModule(isolate_, context);
  } else if (name == "k6/data") {
    exports = BuildDataModule(isolate_, context);
  } else {
    exports = BuildExecutionModule(isolate_, context);
  }
  std::vector<v8::Local<v8::String>> export_names = {V8Name(isolate_, "default")};
  v8::Local<v8::Array> names = exports->GetOwnPropertyNames(context).ToLocalChecked();
  for (uint32_t i = 0; i < names->Length(); ++i) {
    export_names.push_back(names->Get(context, i).ToLocalChecked().As<v8::String>());
  }
  v8::Local<v8::Module> module = v8::Module::CreateSyntheticModule(
      isolate_, V8Str(isolate_, name), export_names, &VuImpl::EvaluateBuiltin);
  modules_.push_back(Module{v8::Global<v8::Module>(isolate_, module), name,
                            v8::Global<v8::Object>(isolate_, exports)});
  return module;
}

v8::MaybeLocal<v8::Module> VuImpl::ResolveCallback(v8::Local<v8::Context> context,
                                                   v8::Local<v8::String> specifier,
                                                   v8::Local<v8::FixedArray> assertions,
                                                   v8::Local<v8::Module> referrer) {
  v8::Isolate* isolate = context->GetIsolate();
  VuImpl* vu = From(isolate);
  std::string spec = ToStdString(isolate, specifier);
  const Module* from = vu->FindModule(referrer);
  std::string key = IsBuiltinModule(spec) ? spec : ResolvePath(spec, from ? from->key : "");
  for (const Module& m : vu->modules_) {
    if (m.key == key) return m.module.Get(isolate);
  }
  ThrowError(isolate, absl::StrCat("unknown module \"", spec, "\""));
  return {};
}

v8::MaybeLocal<v8::Value> VuImpl::EvaluateBuiltin(v8::Local<v8::Context> context,
                                                  v8::Local<v8::Module> module) {
  v8::Isolate* isolate = context->GetIsolate();
  const Module* m = From(isolate)->FindModule(module);
  v8::Local<v8::Object> exports = m->exports.Get(isolate);
  if (module->SetSyntheticModuleExport(isolate, V8Name(isolate, "default"), exports).IsNothing()) {
    return {};
  }
  v8::Local<v8::Array> names = exports->GetOwnPropertyNames(context).ToLocalChecked();
  for (uint32_t i = 0; i < names->Length(); ++i) {
    v8::Local<v8::String> name = names->Get(context, i).ToLocalChecked().As<v8::String>();
    v8::Local<v8::Value> value = exports->Get(context, name).ToLocalChecked();
    if (module->SetSyntheticModuleExport(isolate, name, value).IsNothing()) return {};
  }
  return v8::Undefined(isolate);
}

// ---- globals ----

namespace {

void IterGetter(v8::Local<v8::Name>, const v8::PropertyCallbackInfo<v8::Value>& info) {
  info.GetReturnValue().Set(static_cast<double>(VuImpl::From(info.GetIsolate())->iteration()));
}

}  // namespace

void VuImpl::InstallGlobals(v8::Local<v8::Context> context) {
  v8::Local<v8::Object> global = context->Global();
  global
      ->DefineOwnProperty(context, V8Name(isolate_, "__VU"),
                          v8::Number::New(isolate_, static_cast<double>(id_)), v8::ReadOnly)
      .Check();
  global->SetAccessor(context, V8Name(isolate_, "__ITER"), &IterGetter).Check();
  SetEnv(nullptr);
  InstallConsole(isolate_, context);
}

void VuImpl::SetEnv(const std::map<std::string, std::string>* scenario_env) {
  v8::Local<v8::Context> context = this->context();
  v8::Local<v8::Object> env = v8::Object::New(isolate_);
  auto put = [&](const std::map<std::string, std::string>& vars) {
    for (const auto& [key, value] : vars) {
      env->Set(context, V8Str(isolate_, key), V8Str(isolate_, value)).Check();
    }
  };
  put(test_->env);
  if (scenario_env != nullptr) put(*scenario_env);
  context->Global()->Set(context, V8Name(isolate_, "__ENV"), env).Check();
}

// ---- tags ----

void VuImpl::ContextChanged() {
  context_tags_.clear();
  for (const auto& tag : test_->global_tags) context_tags_.push_back(tag);
  if (SystemTagEnabled(kTagScenario)) context_tags_.emplace_back("scenario", info_->scenario);
  for (const auto& tag : info_->scenario_tags) context_tags_.push_back(tag);
  for (const auto& tag : vu_tags_) context_tags_.push_back(tag);
  group_tags_cache_.clear();
  tags_cache_.clear();
  ++tags_epoch_;
}

void VuImpl::UpdateContext(const IterationInfo& info) {
  info_ = &info;
  if (!context_ready_ || info.scenario != tags_scenario_ ||
      info.scenario_tags != tags_scenario_tags_) {
    context_ready_ = true;
    tags_scenario_ = info.scenario;
    tags_scenario_tags_ = info.scenario_tags;
    ContextChanged();
  }
  if (info.scenario != env_scenario_) {
    env_scenario_ = info.scenario;
    if (!info.scenario_env.empty() || env_has_scenario_vars_) {
      SetEnv(&info.scenario_env);
      env_has_scenario_vars_ = !info.scenario_env.empty();
    }
  }
}

void VuImpl::AppendContextTags(metrics::TagSet* tags) const {
  tags->insert(tags->end(), context_tags_.begin(), context_tags_.end());
}

metrics::TagSetId VuImpl::ContextTags() {
  auto it = group_tags_cache_.find(group_path_);
  if (it != group_tags_cache_.end()) return it->second;
  metrics::TagSet tags = context_tags_;
  if (SystemTagEnabled(kTagGroup)) tags.emplace_back("group", group_path_);
  metrics::TagSetId id = aggregator_->Intern(tags);
  if (group_tags_cache_.size() > 1000) group_tags_cache_.clear();
  group_tags_cache_.emplace(group_path_, id);
  return id;
}

metrics::TagSetId VuImpl::ContextTagsWith(const metrics::TagSet& extra) {
  if (extra.empty()) return ContextTags();
  metrics::TagSet tags = context_tags_;
  if (SystemTagEnabled(kTagGroup)) tags.emplace_back("group", group_path_);
  tags.insert(tags.end(), extra.begin(), extra.end());
  return aggregator_->Intern(tags);
}

metrics::TagSetId* VuImpl::CachedTags(const std::string& key) {
  if (tags_cache_.size() > 20000) tags_cache_.clear();
  auto [it, inserted] = tags_cache_.try_emplace(key, ~metrics::TagSetId{0});
  return &it->second;
}

// ---- running ----

void VuImpl::Interrupt() {
  std::lock_guard<std::mutex> lock(interrupt_mu_);
  interrupted_.store(true);
  if (isolate_ != nullptr) isolate_->TerminateExecution();
}

absl::Status VuImpl::ClearInterrupt() {
  if (aborted_) return absl::FailedPreconditionError(absl::StrCat("test aborted: ", abort_reason_));
  // What an iteration cut short may leave behind. RunIteration resets most of it at its start
  // too; the fiber's flag must go now, or this fiber's next sleep or Park returns at once.
  loop_->ClearInterrupt();
  group_path_.clear();
  bytes_sent_ = bytes_received_ = 0;
  info_ = &default_info_;

  std::lock_guard<std::mutex> lock(interrupt_mu_);
  if (!interrupted()) return absl::OkStatus();  // nothing else terminates this isolate
  FiberScope fiber_scope(this);
  v8::HandleScope handle_scope(isolate_);
  // Promise jobs the cut iteration queued must not run in the next one. A checkpoint run with
  // a termination pending stops at its first job and empties the queue.
  isolate_->TerminateExecution();
  isolate_->PerformMicrotaskCheckpoint();
  isolate_->CancelTerminateExecution();
  interrupted_.store(false);
  Log("vu")->debug("interrupt cleared vu={}", id_);
  return absl::OkStatus();
}

void VuImpl::Abort(const std::string& reason) {
  aborted_ = true;
  abort_reason_ = reason;
  if (test_->abort_test) test_->abort_test(reason);
  isolate_->TerminateExecution();
}

absl::Status VuImpl::SetSetupData(const std::string& json) {
  setup_json_ = json;
  setup_parsed_ = false;
  setup_data_.Reset();
  return absl::OkStatus();
}

v8::MaybeLocal<v8::Value> VuImpl::CallExport(const std::string& name, int argc,
                                             v8::Local<v8::Value>* argv, ScriptError* error,
                                             bool* hard_stop) {
  *hard_stop = false;
  v8::Local<v8::Context> context = this->context();
  v8::Local<v8::Function> fn;
  auto cached = exports_cache_.find(name);
  if (cached != exports_cache_.end()) {
    fn = cached->second.Get(isolate_);
  } else {
    v8::Local<v8::Value> value;
    if (!namespace_.Get(isolate_)->Get(context, V8Str(isolate_, name)).ToLocal(&value) ||
        !value->IsFunction()) {
      error->message = absl::StrCat("function \"", name, "\" is not exported by the script");
      return {};
    }
    fn = value.As<v8::Function>();
    exports_cache_.emplace(name, v8::Global<v8::Function>(isolate_, fn));
  }

  v8::TryCatch try_catch(isolate_);
  v8::Local<v8::Value> result;
  bool ok = fn->Call(context, v8::Undefined(isolate_), argc, argv).ToLocal(&result);
  if (ok && result->IsPromise()) {
    // An async function: run its microtasks; without async I/O it settles now.
    isolate_->PerformMicrotaskCheckpoint();
    v8::Local<v8::Promise> promise = result.As<v8::Promise>();
    if (promise->State() == v8::Promise::kRejected) {
      *error = ErrorFromException(isolate_, context, promise->Result(), {});
      return {};
    }
    if (promise->State() == v8::Promise::kFulfilled) result = promise->Result();
  }
  // An interrupt that arrived while the VU waited (sleep, HTTP) may let the function return
  // before V8 acts on the termination: the iteration is still an interrupted one.
  if (ok && !try_catch.HasTerminated() && !interrupted()) return result;

  if (try_catch.HasTerminated() || interrupted() || aborted_) {
    *hard_stop = true;
    if (aborted_) {
      error->message = absl::StrCat("test aborted: ", abort_reason_);
      error->aborted = true;
      // The VU stays usable for teardown; an interrupt that came too keeps its termination.
      std::lock_guard<std::mutex> lock(interrupt_mu_);
      if (!interrupted()) isolate_->CancelTerminateExecution();
    } else {
      error->message = "interrupted";
    }
    return {};
  }
  *error = ErrorFromTryCatch(isolate_, context, try_catch);
  return {};
}

void VuImpl::EmitIterationSamples(double duration_ms, bool full_iteration) {
  metrics::TagSetId tags = ContextTags();
  aggregator_->Add(metrics::builtin::kDataSent, tags, static_cast<double>(bytes_sent_));
  aggregator_->Add(metrics::builtin::kDataReceived, tags, static_cast<double>(bytes_received_));
  bytes_sent_ = bytes_received_ = 0;
  if (!full_iteration) return;
  aggregator_->Add(metrics::builtin::kIterations, tags, 1);
  aggregator_->Add(metrics::builtin::kIterationDuration, tags, duration_ms);
}

absl::StatusOr<bool> VuImpl::RunIteration(const IterationInfo& info, ScriptError* error) {
  if (interrupted()) {
    error->message = "interrupted";
    return absl::CancelledError("interrupted");
  }
  FiberScope fiber_scope(this);
  v8::HandleScope handle_scope(isolate_);
  v8::Local<v8::Context> context = this->context();
  v8::Context::Scope context_scope(context);
  UpdateContext(info);
  if (!test_->no_cookies_reset) http_->ResetCookies();
  iteration_ = info.iteration_in_instance;  // __ITER: the VU's iterations across scenarios, as k6
  group_path_.clear();

  v8::Local<v8::Value> data = v8::Undefined(isolate_);
  if (!setup_parsed_) {
    setup_parsed_ = true;
    if (!setup_json_.empty()) {
      v8::TryCatch try_catch(isolate_);
      v8::Local<v8::Value> parsed;
      if (!v8::JSON::Parse(context, V8Str(isolate_, setup_json_)).ToLocal(&parsed)) {
        info_ = &default_info_;
        return absl::InvalidArgumentError("setup data is not valid JSON");
      }
      setup_data_.Reset(isolate_, parsed);
    }
  }
  if (!setup_data_.IsEmpty()) data = setup_data_.Get(isolate_);

  double start_ms = NowMs();
  bool interrupted_now = false;
  ScriptError local_error;
  ScriptError* err = error != nullptr ? error : &local_error;
  bool ok = !CallExport(info.exec, 1, &data, err, &interrupted_now).IsEmpty();
  double end_ms = NowMs();
  double duration_ms = end_ms - start_ms;
  group_path_.clear();
  EmitIterationSamples(duration_ms, !interrupted_now);
  // V8's own tasks (GC steps) wait up to kPumpIntervalMs: pumping takes the platform's lock
  // and a queue lookup, too much to pay on every short iteration.
  if (end_ms - last_pump_ms_ >= kPumpIntervalMs) {
    last_pump_ms_ = end_ms;
    RunPlatformTasks();
  }
  info_ = &default_info_;

  if (interrupted_now && !err->aborted) return absl::CancelledError("interrupted");
  return ok;
}

absl::StatusOr<std::string> VuImpl::RunSetup() {
  FiberScope fiber_scope(this);
  v8::HandleScope handle_scope(isolate_);
  v8::Local<v8::Context> context = this->context();
  v8::Context::Scope context_scope(context);
  UpdateContext(default_info_);
  if (std::find(exported_functions_.begin(), exported_functions_.end(), "setup") ==
      exported_functions_.end()) {
    return std::string();
  }
  ScriptError error;
  bool interrupted_now = false;
  v8::Local<v8::Value> result;
  bool ok = CallExport("setup", 0, nullptr, &error, &interrupted_now).ToLocal(&result);
  EmitIterationSamples(0, false);
  if (!ok) return ErrorStatus(error);
  if (result->IsUndefined()) return std::string();
  v8::TryCatch try_catch(isolate_);
  v8::Local<v8::String> json;
  if (!v8::JSON::Stringify(context, result).ToLocal(&json)) {
    return ErrorStatus(ErrorFromTryCatch(isolate_, context, try_catch));
  }
  return ToStdString(isolate_, json);
}

absl::Status VuImpl::RunTeardown(const std::string& setup_json) {
  FiberScope fiber_scope(this);
  v8::HandleScope handle_scope(isolate_);
  v8::Local<v8::Context> context = this->context();
  v8::Context::Scope context_scope(context);
  UpdateContext(default_info_);
  if (std::find(exported_functions_.begin(), exported_functions_.end(), "teardown") ==
      exported_functions_.end()) {
    return absl::OkStatus();
  }
  v8::Local<v8::Value> data = v8::Undefined(isolate_);
  if (!setup_json.empty()) {
    v8::TryCatch try_catch(isolate_);
    if (!v8::JSON::Parse(context, V8Str(isolate_, setup_json)).ToLocal(&data)) {
      return absl::InvalidArgumentError("setup data is not valid JSON");
    }
  }
  ScriptError error;
  bool interrupted_now = false;
  bool ok = !CallExport("teardown", 1, &data, &error, &interrupted_now).IsEmpty();
  EmitIterationSamples(0, false);
  if (!ok) return ErrorStatus(error);
  return absl::OkStatus();
}

absl::StatusOr<std::string> VuImpl::RunHandleSummary(const std::string& data_json) {
  FiberScope fiber_scope(this);
  v8::HandleScope handle_scope(isolate_);
  v8::Local<v8::Context> context = this->context();
  v8::Context::Scope context_scope(context);
  if (std::find(exported_functions_.begin(), exported_functions_.end(), "handleSummary") ==
      exported_functions_.end()) {
    return absl::NotFoundError("handleSummary is not exported");
  }
  v8::Local<v8::Value> data;
  {
    v8::TryCatch try_catch(isolate_);
    if (!v8::JSON::Parse(context, V8Str(isolate_, data_json.empty() ? "{}" : data_json))
             .ToLocal(&data)) {
      return absl::InvalidArgumentError("summary data is not valid JSON");
    }
  }
  ScriptError error;
  bool interrupted_now = false;
  v8::Local<v8::Value> result;
  if (!CallExport("handleSummary", 1, &data, &error, &interrupted_now).ToLocal(&result)) {
    return ErrorStatus(error);
  }
  if (result->IsUndefined() || result->IsNull()) return std::string("{}");
  v8::TryCatch try_catch(isolate_);
  v8::Local<v8::String> json;
  if (!v8::JSON::Stringify(context, result).ToLocal(&json)) {
    return ErrorStatus(ErrorFromTryCatch(isolate_, context, try_catch));
  }
  return ToStdString(isolate_, json);
}

}  // namespace volley::js
