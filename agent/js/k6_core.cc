// The `k6` module (check, group, sleep, fail) and the globals console and open().
#include <chrono>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/js/v8_util.h"
#include "agent/js/vu_impl.h"
#include "common/logging.h"

namespace volley::js {
namespace {

double NowMs() {
  return std::chrono::duration<double, std::milli>(loop::Clock::now().time_since_epoch()).count();
}

// check(value, {name: fn|bool, ...}, tags?) -> true when every check passed. The loop over the
// checks is JavaScript (kCheckSource): calling each check function from JS and reading the keys
// with Object.keys is several times cheaper than doing both through the C++ API. Each result
// goes to RecordCheck; a throwing check counts as failed, then the exception goes on (as in k6).
constexpr char kCheckSource[] = R"js(
(function (inInit, record) {
  'use strict';
  function fail(error) {
    Error.captureStackTrace(error, check);  // report the script's line, not this one
    throw error;
  }
  function check(value, sets, tags) {
    if (inInit()) fail(new Error('Using check() in the init context is not supported'));
    if (sets === null || (typeof sets !== 'object' && typeof sets !== 'function')) {
      fail(new TypeError('check() needs an object of checks as its second argument'));
    }
    const names = Object.keys(sets);
    let all = true;
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const c = sets[name];
      let passed;
      if (typeof c === 'function') {
        try {
          passed = !!c(value);
        } catch (e) {
          record(name, false, tags);
          throw e;
        }
      } else {
        passed = !!c;
      }
      record(name, passed, tags);
      if (!passed) all = false;
    }
    return all;
  }
  return check;
})
)js";

void CheckInInit(const v8::FunctionCallbackInfo<v8::Value>& args) {
  args.GetReturnValue().Set(VuImpl::From(args.GetIsolate())->in_init());
}

// record(name, passed, tags): one `checks` sample. Check names are property keys, so the same
// check in the next iteration passes the same (internalized) string: a small per-VU memo keyed
// by that string finds its series without converting or hashing the name.
void RecordCheck(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  VuImpl* vu = VuImpl::From(isolate);
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Value> name = args[0];
  double passed = args[1]->BooleanValue(isolate) ? 1 : 0;
  bool has_tags = args.Length() > 2 && !args[2]->IsNullOrUndefined();
  metrics::Aggregator* agg = vu->aggregator();

  std::vector<VuImpl::CheckMemo>& memo = vu->check_memo;
  if (vu->check_memo_epoch != vu->tags_epoch()) {
    memo.clear();
    vu->check_memo_epoch = vu->tags_epoch();
  }
  if (!has_tags && name->IsString()) {
    for (const VuImpl::CheckMemo& m : memo) {
      if (m.group == vu->group_path() && m.name.Get(isolate)->StrictEquals(name)) {
        agg->AddTo(m.series, passed);
        return;
      }
    }
  }

  metrics::TagSet extra;
  if (has_tags) ReadStringPairs(isolate, context, args[2], &extra);
  std::string check_name = ToStdString(isolate, name);
  metrics::TagSetId tags;
  if (extra.empty()) {
    metrics::TagSetId* cached =
        vu->CachedTags(absl::StrCat("check\x1f", vu->group_path(), "\x1f", check_name));
    if (*cached == ~metrics::TagSetId{0}) {
      metrics::TagSet tag_set;
      vu->AppendContextTags(&tag_set);
      if (vu->SystemTagEnabled(kTagGroup)) tag_set.emplace_back("group", vu->group_path());
      if (vu->SystemTagEnabled(kTagCheck)) tag_set.emplace_back("check", check_name);
      *cached = agg->Intern(tag_set);
    }
    tags = *cached;
  } else {
    metrics::TagSet with_check;
    if (vu->SystemTagEnabled(kTagCheck)) with_check.emplace_back("check", check_name);
    with_check.insert(with_check.end(), extra.begin(), extra.end());
    tags = vu->ContextTagsWith(with_check);
  }
  metrics::Aggregator::SeriesId series = agg->Series(metrics::builtin::kChecks, tags);
  agg->AddTo(series, passed);
  if (!has_tags && name->IsString() && memo.size() < VuImpl::kCheckMemoSize) {
    memo.push_back({v8::Global<v8::String>(isolate, name.As<v8::String>()), vu->group_path(),
                    series});
  }
}

v8::Local<v8::Function> MakeCheck(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  v8::ScriptOrigin origin(isolate, V8Name(isolate, "k6:check"));
  v8::Local<v8::Script> script =
      v8::Script::Compile(context, V8Str(isolate, kCheckSource), &origin).ToLocalChecked();
  v8::Local<v8::Function> factory = script->Run(context).ToLocalChecked().As<v8::Function>();
  v8::Local<v8::Value> natives[] = {
      NewMethodTemplate(isolate, &CheckInInit)->GetFunction(context).ToLocalChecked(),
      NewMethodTemplate(isolate, &RecordCheck)->GetFunction(context).ToLocalChecked()};
  return factory->Call(context, v8::Undefined(isolate), 2, natives)
      .ToLocalChecked()
      .As<v8::Function>();
}

// group(name, fn) -> fn's result; fn runs with the group path extended by "::name".
void Group(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  VuImpl* vu = VuImpl::From(isolate);
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (vu->in_init()) {
    ThrowError(isolate, "Using group() in the init context is not supported");
    return;
  }
  if (args.Length() < 2 || !args[1]->IsFunction()) {
    ThrowTypeError(isolate, "group() needs a name and a function");
    return;
  }
  std::string name = ToStdString(isolate, args[0]);
  if (absl::StrContains(name, "::")) {
    ThrowError(isolate, "group and check names may not contain '::'");
    return;
  }
  if (args[1]->IsAsyncFunction()) {
    ThrowError(isolate, "group() does not support async functions");
    return;
  }
  std::string outer = vu->group_path();
  vu->set_group_path(absl::StrCat(outer, "::", name));
  double start_ms = NowMs();
  v8::MaybeLocal<v8::Value> result =
      args[1].As<v8::Function>()->Call(context, v8::Undefined(isolate), 0, nullptr);
  double duration_ms = NowMs() - start_ms;
  if (!vu->interrupted()) {
    vu->aggregator()->Add(metrics::builtin::kGroupDuration, vu->ContextTags(), duration_ms);
  }
  vu->set_group_path(std::move(outer));
  v8::Local<v8::Value> value;
  if (result.ToLocal(&value)) args.GetReturnValue().Set(value);
}

// sleep(seconds): yields the fiber; other VUs run meanwhile.
void Sleep(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  VuImpl* vu = VuImpl::From(isolate);
  double seconds =
      args.Length() > 0 ? args[0]->NumberValue(isolate->GetCurrentContext()).FromMaybe(0) : 0;
  if (vu->interrupted()) return;
  if (!(seconds > 0)) {
    vu->loop()->Yield();
    return;
  }
  vu->loop()->Sleep(
      std::chrono::duration_cast<loop::Clock::duration>(std::chrono::duration<double>(seconds)));
}

void Fail(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  std::string message = args.Length() > 0 ? ToStdString(isolate, args[0]) : "";
  ThrowError(isolate, message);
}

// ---- console ----

std::string FormatForConsole(v8::Isolate* isolate, v8::Local<v8::Context> context,
                             v8::Local<v8::Value> value) {
  if (value->IsString()) return ToStdString(isolate, value);
  if (value->IsNativeError()) {
    v8::TryCatch try_catch(isolate);
    v8::Local<v8::Value> stack;
    if (value.As<v8::Object>()->Get(context, V8Name(isolate, "stack")).ToLocal(&stack) &&
        stack->IsString()) {
      return ToStdString(isolate, stack);
    }
    return ToStdString(isolate, value);
  }
  if (value->IsObject() && !value->IsFunction()) {
    v8::TryCatch try_catch(isolate);
    v8::Local<v8::String> json;
    if (v8::JSON::Stringify(context, value).ToLocal(&json)) return ToStdString(isolate, json);
  }
  return ToStdString(isolate, value);
}

template <spdlog::level::level_enum kLevel>
void ConsoleLog(const v8::FunctionCallbackInfo<v8::Value>& args) {
  static const std::shared_ptr<spdlog::logger> logger = Log("console");
  if (!logger->should_log(kLevel)) return;
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  std::string text;
  for (int i = 0; i < args.Length(); ++i) {
    if (i > 0) text += ' ';
    text += FormatForConsole(isolate, context, args[i]);
  }
  logger->log(kLevel, "{} source=console", text);
}

// open(path, mode?): a file's content, relative to the calling module; init context only.
void Open(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  VuImpl* vu = VuImpl::From(isolate);
  if (!vu->in_init()) {
    ThrowError(isolate,
               "The \"open()\" function is only available in the init stage "
               "(i.e. the global scope)");
    return;
  }
  if (args.Length() < 1 || !args[0]->IsString()) {
    ThrowTypeError(isolate, "open() needs a file path");
    return;
  }
  std::string path = ToStdString(isolate, args[0]);
  std::string caller = ToStdString(isolate, v8::StackTrace::CurrentScriptNameOrSourceURL(isolate));
  if (caller.empty() || caller == "undefined") caller = vu->test().entry;
  std::string resolved = VuImpl::ResolvePath(path, caller);
  absl::StatusOr<std::string> content = vu->test().files->Read(resolved);
  if (!content.ok()) {
    ThrowError(isolate, absl::StrCat("open(\"", path, "\"): ", content.status().message()));
    return;
  }
  bool binary = args.Length() > 1 && ToStdString(isolate, args[1]) == "b";
  if (binary) {
    args.GetReturnValue().Set(NewArrayBuffer(isolate, *content));
  } else {
    args.GetReturnValue().Set(V8Str(isolate, *content));
  }
}

}  // namespace

v8::Local<v8::Object> BuildK6Module(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  v8::Local<v8::Object> k6 = v8::Object::New(isolate);
  k6->Set(context, V8Name(isolate, "check"), MakeCheck(isolate, context)).Check();
  SetMethod(isolate, context, k6, "group", &Group);
  SetMethod(isolate, context, k6, "sleep", &Sleep);
  SetMethod(isolate, context, k6, "fail", &Fail);
  return k6;
}

void InstallConsole(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  v8::Local<v8::Object> console = v8::Object::New(isolate);
  SetMethod(isolate, context, console, "log", &ConsoleLog<spdlog::level::info>);
  SetMethod(isolate, context, console, "info", &ConsoleLog<spdlog::level::info>);
  SetMethod(isolate, context, console, "debug", &ConsoleLog<spdlog::level::debug>);
  SetMethod(isolate, context, console, "warn", &ConsoleLog<spdlog::level::warn>);
  SetMethod(isolate, context, console, "error", &ConsoleLog<spdlog::level::err>);
  SetMethod(isolate, context, console, "trace", &ConsoleLog<spdlog::level::debug>);
  v8::Local<v8::Object> global = context->Global();
  global->Set(context, V8Name(isolate, "console"), console).Check();
  SetMethod(isolate, context, global, "open", &Open);
}

}  // namespace volley::js
