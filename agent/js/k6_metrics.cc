// The `k6/metrics` module: Counter, Gauge, Rate and Trend. A metric object keeps its registry id
// in an internal field; add() aggregates with the VU's current tags.
#include "absl/strings/str_cat.h"
#include "agent/js/v8_util.h"
#include "agent/js/vu_impl.h"

namespace volley::js {
namespace {

const char* TypeName(metrics::MetricType type) {
  switch (type) {
    case metrics::MetricType::kCounter:
      return "Counter";
    case metrics::MetricType::kGauge:
      return "Gauge";
    case metrics::MetricType::kRate:
      return "Rate";
    case metrics::MetricType::kTrend:
      return "Trend";
  }
  return "Metric";
}

// new Counter(name, isTime?) and friends; `data` holds the MetricType.
void Construct(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  auto type = static_cast<metrics::MetricType>(args.Data().As<v8::Int32>()->Value());
  if (!args.IsConstructCall()) {
    ThrowTypeError(isolate, absl::StrCat(TypeName(type), " must be called with new"));
    return;
  }
  VuImpl* vu = VuImpl::From(isolate);
  if (!vu->in_init()) {
    ThrowError(isolate, "metrics must be declared in the init context");
    return;
  }
  if (args.Length() < 1 || !args[0]->IsString()) {
    ThrowTypeError(isolate, absl::StrCat(TypeName(type), " needs a metric name"));
    return;
  }
  std::string name = ToStdString(isolate, args[0]);
  bool is_time = args.Length() > 1 && args[1]->BooleanValue(isolate);
  absl::StatusOr<metrics::MetricId> id = vu->test().registry->Register(
      name, type, is_time ? metrics::ValueType::kTime : metrics::ValueType::kDefault);
  if (!id.ok()) {
    ThrowError(isolate, std::string(id.status().message()));
    return;
  }
  v8::Local<v8::Object> self = args.This();
  self->SetInternalField(0, v8::Integer::NewFromUnsigned(isolate, *id));
  self->DefineOwnProperty(context, V8Name(isolate, "name"), args[0], v8::ReadOnly).Check();
  args.GetReturnValue().Set(self);
}

// metric.add(value, tags?) -> true.
void Add(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  VuImpl* vu = VuImpl::From(isolate);
  v8::Local<v8::Object> self = args.This();
  if (self->InternalFieldCount() < 1 || !self->GetInternalField(0)->IsUint32()) {
    ThrowTypeError(isolate, "add() called on something that is not a metric");
    return;
  }
  if (vu->in_init()) {
    ThrowError(isolate, "Adding to metrics in the init context is not supported");
    return;
  }
  auto id = self->GetInternalField(0).As<v8::Uint32>()->Value();
  const metrics::MetricDef& def = vu->registry().Get(id);
  v8::Local<v8::Value> arg = args.Length() > 0 ? args[0] : v8::Undefined(isolate).As<v8::Value>();
  double value;
  if (def.type == metrics::MetricType::kRate) {
    value = arg->BooleanValue(isolate) ? 1 : 0;
  } else {
    value = arg->NumberValue(context).FromMaybe(0);
    if (std::isnan(value)) {
      ThrowError(isolate,
                 absl::StrCat("'", ToStdString(isolate, arg), "' is an invalid value for metric '",
                              def.name, "', a number or a boolean value is expected"));
      return;
    }
  }
  metrics::TagSet extra;
  if (args.Length() > 1) ReadStringPairs(isolate, context, args[1], &extra);
  vu->aggregator()->Add(id, vu->ContextTagsWith(extra), value);
  args.GetReturnValue().Set(true);
}

}  // namespace

v8::Local<v8::Object> BuildMetricsModule(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  v8::Local<v8::Object> module = v8::Object::New(isolate);
  v8::Local<v8::FunctionTemplate> add = NewMethodTemplate(isolate, &Add);
  for (metrics::MetricType type : {metrics::MetricType::kCounter, metrics::MetricType::kGauge,
                                   metrics::MetricType::kRate, metrics::MetricType::kTrend}) {
    v8::Local<v8::FunctionTemplate> ctor = v8::FunctionTemplate::New(
        isolate, &Construct, v8::Int32::New(isolate, static_cast<int>(type)));
    v8::Local<v8::String> name = V8Name(isolate, TypeName(type));
    ctor->SetClassName(name);
    ctor->InstanceTemplate()->SetInternalFieldCount(1);
    ctor->PrototypeTemplate()->Set(V8Name(isolate, "add"), add);
    module->Set(context, name, ctor->GetFunction(context).ToLocalChecked()).Check();
  }
  return module;
}

}  // namespace volley::js
