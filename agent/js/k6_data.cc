// The `k6/data` module: SharedArray. k6 shares one copy between VUs; here each VU builds its own
// (same values and read-only behaviour, more memory).
// TODO(memory): share the data between a worker's VUs (one JSON copy, parsed on access).
#include "absl/strings/str_cat.h"
#include "agent/js/v8_util.h"
#include "agent/js/vu_impl.h"

namespace volley::js {
namespace {

// new SharedArray(name, fn) -> fn()'s array, frozen.
void ConstructSharedArray(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (!args.IsConstructCall())
    return ThrowTypeError(isolate, "SharedArray must be called with new");
  if (!VuImpl::From(isolate)->in_init()) {
    return ThrowError(isolate, "new SharedArray must be called in the init context");
  }
  if (args.Length() < 2 || !args[0]->IsString() || ToStdString(isolate, args[0]).empty()) {
    return ThrowTypeError(isolate, "SharedArray needs a non-empty name and a function");
  }
  if (!args[1]->IsFunction()) return ThrowTypeError(isolate, "SharedArray needs a function");
  v8::Local<v8::Value> data;
  if (!args[1]
           .As<v8::Function>()
           ->Call(context, v8::Undefined(isolate), 0, nullptr)
           .ToLocal(&data)) {
    return;
  }
  if (!data->IsArray())
    return ThrowTypeError(isolate, "the SharedArray function must return an array");
  // Deep-freeze through a JSON round trip: what k6 hands out is a read-only copy of the data.
  v8::Local<v8::String> json;
  v8::Local<v8::Value> copy;
  if (!v8::JSON::Stringify(context, data).ToLocal(&json) ||
      !v8::JSON::Parse(context, json).ToLocal(&copy)) {
    return;
  }
  std::vector<v8::Local<v8::Object>> pending = {copy.As<v8::Object>()};
  while (!pending.empty()) {
    v8::Local<v8::Object> object = pending.back();
    pending.pop_back();
    v8::Local<v8::Array> keys;
    if (object->GetOwnPropertyNames(context).ToLocal(&keys)) {
      for (uint32_t i = 0; i < keys->Length(); ++i) {
        v8::Local<v8::Value> value;
        if (object->Get(context, keys->Get(context, i).ToLocalChecked()).ToLocal(&value) &&
            value->IsObject()) {
          pending.push_back(value.As<v8::Object>());
        }
      }
    }
    object->SetIntegrityLevel(context, v8::IntegrityLevel::kFrozen).Check();
  }
  args.GetReturnValue().Set(copy);
}

}  // namespace

v8::Local<v8::Object> BuildDataModule(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  v8::Local<v8::Object> module = v8::Object::New(isolate);
  v8::Local<v8::FunctionTemplate> ctor = v8::FunctionTemplate::New(isolate, &ConstructSharedArray);
  ctor->SetClassName(V8Name(isolate, "SharedArray"));
  module->Set(context, V8Name(isolate, "SharedArray"), ctor->GetFunction(context).ToLocalChecked())
      .Check();
  return module;
}

}  // namespace volley::js
