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

// check(value, {name: fn|bool, ...}, tags?) -> true when every check passed.
void Check(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  VuImpl* vu = VuImpl::From(isolate);
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (vu->in_init()) {
    ThrowError(isolate, "Using check() in the init context is not supported");
    return;
  }
  if (args.Length() < 2 || !args[1]->IsObject()) {
    ThrowTypeError(isolate, "check() needs an object of checks as its second argument");
    return;
  }
  metrics::TagSet extra;
  if (args.Length() > 2) ReadStringPairs(isolate, context, args[2], &extra);
  v8::Local<v8::Object> checks = args[1].As<v8::Object>();
  v8::Local<v8::Array> names;
  // Own enumerable string keys, as strings: the variant V8 answers from the map's enum cache.
  if (!checks
           ->GetPropertyNames(
               context, v8::KeyCollectionMode::kOwnOnly,
               static_cast<v8::PropertyFilter>(v8::ONLY_ENUMERABLE | v8::SKIP_SYMBOLS),
               v8::IndexFilter::kIncludeIndices, v8::KeyConversionMode::kConvertToString)
           .ToLocal(&names)) {
    return;
  }
  v8::Local<v8::Value> subject = args[0];

  bool all_passed = true;
  for (uint32_t i = 0; i < names->Length(); ++i) {
    v8::Local<v8::Value> name = names->Get(context, i).ToLocalChecked();
    v8::Local<v8::Value> check;
    if (!checks->Get(context, name).ToLocal(&check)) return;
    bool passed;
    v8::Local<v8::Value> thrown;
    if (check->IsFunction()) {
      v8::TryCatch try_catch(isolate);
      v8::Local<v8::Value> result;
      if (check.As<v8::Function>()
              ->Call(context, v8::Undefined(isolate), 1, &subject)
              .ToLocal(&result)) {
        passed = result->BooleanValue(isolate);
      } else {
        if (try_catch.HasTerminated()) {
          try_catch.ReThrow();
          return;
        }
        // A throwing check counts as failed, then the exception goes on (k6 does the same).
        passed = false;
        thrown = try_catch.Exception();
      }
    } else {
      passed = check->BooleanValue(isolate);
    }

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
        *cached = vu->aggregator()->Intern(tag_set);
      }
      tags = *cached;
    } else {
      metrics::TagSet with_check;
      if (vu->SystemTagEnabled(kTagCheck)) with_check.emplace_back("check", check_name);
      with_check.insert(with_check.end(), extra.begin(), extra.end());
      tags = vu->ContextTagsWith(with_check);
    }
    vu->aggregator()->Add(metrics::builtin::kChecks, tags, passed ? 1 : 0);
    all_passed = all_passed && passed;
    if (!thrown.IsEmpty()) {
      isolate->ThrowException(thrown);
      return;
    }
  }
  args.GetReturnValue().Set(all_passed);
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
  SetMethod(isolate, context, k6, "check", &Check);
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
