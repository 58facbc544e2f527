// The `k6/execution` module: exec.vu, exec.scenario, exec.instance and exec.test, read live from
// the VU's IterationInfo through accessors. exec.vu.tags (and exec.vu.metrics.tags) is an object
// whose writes change the tags of every later sample of this VU.
#include <set>

#include "absl/strings/str_cat.h"
#include "agent/js/v8_util.h"
#include "agent/js/vu_impl.h"

namespace volley::js {
namespace {

enum Field {
  kVuIdInTest,
  kVuIdInInstance,
  kVuIterationInInstance,
  kVuIterationInScenario,
  kScenarioName,
  kScenarioExecutor,
  kScenarioStartTime,
  kScenarioProgress,
  kScenarioIterationInTest,
  kScenarioIterationInInstance,
  kInstanceVusInitialized,
  kInstanceVusActive,
  kInstanceIterationsCompleted,
  kInstanceIterationsInterrupted,
  kInstanceCurrentTestRunDuration,
  kTestOptions,
};

void FieldGetter(v8::Local<v8::Name>, const v8::PropertyCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  VuImpl* vu = VuImpl::From(isolate);
  const IterationInfo& it = vu->info();
  auto ret = info.GetReturnValue();
  switch (static_cast<Field>(info.Data().As<v8::Int32>()->Value())) {
    case kVuIdInTest:
      return ret.Set(static_cast<double>(vu->id_in_test()));
    case kVuIdInInstance:
      return ret.Set(static_cast<double>(vu->id()));
    case kVuIterationInInstance:
      return ret.Set(static_cast<double>(it.iteration_in_instance));
    case kVuIterationInScenario:
      return ret.Set(static_cast<double>(it.iteration_in_scenario));
    case kScenarioName:
      return ret.Set(V8Str(isolate, it.scenario));
    case kScenarioExecutor:
      return ret.Set(V8Str(isolate, it.executor));
    case kScenarioStartTime:
      return ret.Set(it.scenario_start_unix_ms);
    case kScenarioProgress:
      return ret.Set(it.scenario_progress);
    case kScenarioIterationInTest:
      return ret.Set(static_cast<double>(it.scenario_iteration_in_test));
    case kScenarioIterationInInstance:
      return ret.Set(static_cast<double>(it.scenario_iteration_in_instance));
    case kInstanceVusInitialized:
      return ret.Set(static_cast<double>(vu->test().instance_vus_initialized));
    case kInstanceVusActive:
      return ret.Set(static_cast<double>(it.instance_vus_active));
    case kInstanceIterationsCompleted:
      return ret.Set(static_cast<double>(it.instance_iterations_completed));
    case kInstanceIterationsInterrupted:
      return ret.Set(static_cast<double>(it.instance_iterations_interrupted));
    case kInstanceCurrentTestRunDuration:
      return ret.Set(it.test_run_duration_ms);
    case kTestOptions: {
      if (vu->test_options.IsEmpty()) {
        v8::Local<v8::Context> context = isolate->GetCurrentContext();
        v8::TryCatch try_catch(isolate);
        v8::Local<v8::Value> parsed;
        if (!v8::JSON::Parse(context, V8Str(isolate, vu->test().options_json)).ToLocal(&parsed) ||
            !parsed->IsObject()) {
          parsed = v8::Object::New(isolate);
        }
        parsed.As<v8::Object>()->SetIntegrityLevel(context, v8::IntegrityLevel::kFrozen).Check();
        vu->test_options.Reset(isolate, parsed.As<v8::Object>());
      }
      return ret.Set(vu->test_options.Get(isolate));
    }
  }
}

void AddFields(v8::Isolate* isolate, v8::Local<v8::Context> context, v8::Local<v8::Object> target,
               std::initializer_list<std::pair<const char*, Field>> fields) {
  for (const auto& [name, field] : fields) {
    target
        ->SetAccessor(context, V8Name(isolate, name), &FieldGetter, nullptr,
                      v8::Int32::New(isolate, field), v8::DEFAULT, v8::ReadOnly)
        .Check();
  }
}

// ---- exec.vu.tags: a live view of VuImpl::vu_tags(); `data` is 1 for metadata ----

template <typename T>
std::map<std::string, std::string>& TagMapOf(const v8::PropertyCallbackInfo<T>& info) {
  VuImpl* vu = VuImpl::From(info.GetIsolate());
  return info.Data()->IsTrue() ? vu->vu_metadata() : vu->vu_tags();
}

// k6's VU tags start from options.tags, the scenario's tags and its name (the `scenario`
// tag); what the script sets (vu_tags()) goes on top. Metadata has no such base.
const std::string* BaseTag(VuImpl* vu, const std::string& key) {
  const IterationInfo& it = vu->info();
  if (key == "scenario") return &it.scenario;
  if (auto found = it.scenario_tags.find(key); found != it.scenario_tags.end()) {
    return &found->second;
  }
  for (const auto& [k, v] : vu->test().global_tags) {
    if (k == key) return &v;
  }
  return nullptr;
}

template <typename T>
const std::string* LookupTag(const v8::PropertyCallbackInfo<T>& info, const std::string& key) {
  auto& tags = TagMapOf(info);
  if (auto it = tags.find(key); it != tags.end()) return &it->second;
  if (info.Data()->IsTrue()) return nullptr;
  return BaseTag(VuImpl::From(info.GetIsolate()), key);
}

void TagGet(v8::Local<v8::Name> name, const v8::PropertyCallbackInfo<v8::Value>& info) {
  if (!name->IsString()) return;
  const std::string* value = LookupTag(info, ToStdString(info.GetIsolate(), name));
  if (value != nullptr) info.GetReturnValue().Set(V8Str(info.GetIsolate(), *value));
}

void TagSet(v8::Local<v8::Name> name, v8::Local<v8::Value> value,
            const v8::PropertyCallbackInfo<v8::Value>& info) {
  if (!name->IsString()) return;
  v8::Isolate* isolate = info.GetIsolate();
  if (!value->IsString() && !value->IsNumber() && !value->IsBoolean()) {
    ThrowTypeError(isolate, absl::StrCat("invalid value for the tag '", ToStdString(isolate, name),
                                         "': only strings, numbers and booleans are allowed"));
    return;
  }
  TagMapOf(info)[ToStdString(isolate, name)] = ToStdString(isolate, value);
  if (!info.Data()->IsTrue()) VuImpl::From(isolate)->VuTagsChanged();
  info.GetReturnValue().Set(value);
}

void TagQuery(v8::Local<v8::Name> name, const v8::PropertyCallbackInfo<v8::Integer>& info) {
  if (!name->IsString()) return;
  if (LookupTag(info, ToStdString(info.GetIsolate(), name)) != nullptr) {
    info.GetReturnValue().Set(static_cast<int>(v8::None));
  }
}

void TagDelete(v8::Local<v8::Name> name, const v8::PropertyCallbackInfo<v8::Boolean>& info) {
  if (!name->IsString()) return;
  v8::Isolate* isolate = info.GetIsolate();
  bool erased = TagMapOf(info).erase(ToStdString(isolate, name)) > 0;
  if (erased && !info.Data()->IsTrue()) VuImpl::From(isolate)->VuTagsChanged();
  info.GetReturnValue().Set(true);
}

void TagEnumerate(const v8::PropertyCallbackInfo<v8::Array>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  std::set<std::string> keys;
  for (const auto& [key, value] : TagMapOf(info)) keys.insert(key);
  if (!info.Data()->IsTrue()) {
    VuImpl* vu = VuImpl::From(isolate);
    keys.insert("scenario");
    for (const auto& [key, value] : vu->info().scenario_tags) keys.insert(key);
    for (const auto& [key, value] : vu->test().global_tags) keys.insert(key);
  }
  v8::Local<v8::Array> names = v8::Array::New(isolate, static_cast<int>(keys.size()));
  uint32_t i = 0;
  for (const std::string& key : keys) names->Set(context, i++, V8Str(isolate, key)).Check();
  info.GetReturnValue().Set(names);
}

v8::Local<v8::Object> NewTagObject(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                   bool metadata) {
  v8::Local<v8::ObjectTemplate> t = v8::ObjectTemplate::New(isolate);
  t->SetHandler(v8::NamedPropertyHandlerConfiguration(
      &TagGet, &TagSet, &TagQuery, &TagDelete, &TagEnumerate, v8::Boolean::New(isolate, metadata),
      v8::PropertyHandlerFlags::kOnlyInterceptStrings));
  return t->NewInstance(context).ToLocalChecked();
}

void Abort(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  std::string reason =
      args.Length() > 0 && !args[0]->IsUndefined() ? ToStdString(isolate, args[0]) : "test aborted";
  VuImpl::From(isolate)->Abort(reason);
}

}  // namespace

v8::Local<v8::Object> BuildExecutionModule(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  v8::Local<v8::Object> vu = v8::Object::New(isolate);
  AddFields(isolate, context, vu,
            {{"idInTest", kVuIdInTest},
             {"idInInstance", kVuIdInInstance},
             {"iterationInInstance", kVuIterationInInstance},
             {"iterationInScenario", kVuIterationInScenario}});
  v8::Local<v8::Object> tags = NewTagObject(isolate, context, false);
  vu->Set(context, V8Name(isolate, "tags"), tags).Check();
  v8::Local<v8::Object> vu_metrics = v8::Object::New(isolate);
  vu_metrics->Set(context, V8Name(isolate, "tags"), tags).Check();
  vu_metrics->Set(context, V8Name(isolate, "metadata"), NewTagObject(isolate, context, true))
      .Check();
  vu->Set(context, V8Name(isolate, "metrics"), vu_metrics).Check();

  v8::Local<v8::Object> scenario = v8::Object::New(isolate);
  AddFields(isolate, context, scenario,
            {{"name", kScenarioName},
             {"executor", kScenarioExecutor},
             {"startTime", kScenarioStartTime},
             {"progress", kScenarioProgress},
             {"iterationInTest", kScenarioIterationInTest},
             {"iterationInInstance", kScenarioIterationInInstance}});

  v8::Local<v8::Object> instance = v8::Object::New(isolate);
  AddFields(isolate, context, instance,
            {{"vusInitialized", kInstanceVusInitialized},
             {"vusActive", kInstanceVusActive},
             {"iterationsCompleted", kInstanceIterationsCompleted},
             {"iterationsInterrupted", kInstanceIterationsInterrupted},
             {"currentTestRunDuration", kInstanceCurrentTestRunDuration}});

  v8::Local<v8::Object> test = v8::Object::New(isolate);
  SetMethod(isolate, context, test, "abort", &Abort);
  AddFields(isolate, context, test, {{"options", kTestOptions}});

  v8::Local<v8::Object> module = v8::Object::New(isolate);
  module->Set(context, V8Name(isolate, "vu"), vu).Check();
  module->Set(context, V8Name(isolate, "scenario"), scenario).Check();
  module->Set(context, V8Name(isolate, "instance"), instance).Check();
  module->Set(context, V8Name(isolate, "test"), test).Check();
  return module;
}

}  // namespace volley::js
