// The `k6/data` module: SharedArray. The array's function runs once per test context (the
// agent's share of the test), its result is kept as one JSON text per element
// (SharedArrayStore), and each VU sees an array-like, read-only object that parses an element
// when the script reads it, so a VU holds only what it touches. Runs on VU fibers.
#include "absl/strings/str_cat.h"
#include "agent/js/v8_util.h"
#include "agent/js/vu_impl.h"

namespace volley::js {
namespace {

// Freezes `value` and everything reachable from it: k6 hands out read-only copies.
void DeepFreeze(v8::Local<v8::Context> context, v8::Local<v8::Value> value) {
  if (!value->IsObject()) return;
  std::vector<v8::Local<v8::Object>> pending = {value.As<v8::Object>()};
  while (!pending.empty()) {
    v8::Local<v8::Object> object = pending.back();
    pending.pop_back();
    v8::Local<v8::Array> keys;
    if (object->GetOwnPropertyNames(context).ToLocal(&keys)) {
      for (uint32_t i = 0; i < keys->Length(); ++i) {
        v8::Local<v8::Value> child;
        if (object->Get(context, keys->Get(context, i).ToLocalChecked()).ToLocal(&child) &&
            child->IsObject()) {
          pending.push_back(child.As<v8::Object>());
        }
      }
    }
    object->SetIntegrityLevel(context, v8::IntegrityLevel::kFrozen).Check();
  }
}

const SharedArrayData* DataOf(const v8::PropertyCallbackInfo<v8::Value>& info) {
  return static_cast<const SharedArrayData*>(
      info.Holder()->GetAlignedPointerFromInternalField(0));
}

const SharedArrayData* DataOf(const v8::PropertyCallbackInfo<v8::Integer>& info) {
  return static_cast<const SharedArrayData*>(
      info.Holder()->GetAlignedPointerFromInternalField(0));
}

// array[index]: a fresh, frozen copy of the element.
void GetElement(uint32_t index, const v8::PropertyCallbackInfo<v8::Value>& info) {
  const SharedArrayData* data = DataOf(info);
  if (index >= data->elements.size()) return;
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Value> value;
  if (!v8::JSON::Parse(context, V8Name(isolate, data->elements[index])).ToLocal(&value)) return;
  DeepFreeze(context, value);
  info.GetReturnValue().Set(value);
}

void SetElement(uint32_t /*index*/, v8::Local<v8::Value> /*value*/,
                const v8::PropertyCallbackInfo<v8::Value>& info) {
  ThrowTypeError(info.GetIsolate(), "SharedArray is read-only");
}

void QueryElement(uint32_t index, const v8::PropertyCallbackInfo<v8::Integer>& info) {
  if (index >= DataOf(info)->elements.size()) return;
  info.GetReturnValue().Set(v8::Integer::New(
      info.GetIsolate(), static_cast<int>(v8::ReadOnly) | static_cast<int>(v8::DontDelete)));
}

void DeleteElement(uint32_t index, const v8::PropertyCallbackInfo<v8::Boolean>& info) {
  auto* data = static_cast<const SharedArrayData*>(
      info.Holder()->GetAlignedPointerFromInternalField(0));
  if (index < data->elements.size()) info.GetReturnValue().Set(false);
}

void ListElements(const v8::PropertyCallbackInfo<v8::Array>& info) {
  auto* data = static_cast<const SharedArrayData*>(
      info.Holder()->GetAlignedPointerFromInternalField(0));
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Array> indices = v8::Array::New(isolate, static_cast<int>(data->elements.size()));
  for (uint32_t i = 0; i < data->elements.size(); ++i) {
    indices->Set(context, i, v8::Integer::NewFromUnsigned(isolate, i)).Check();
  }
  info.GetReturnValue().Set(indices);
}

void GetLength(v8::Local<v8::Name> /*name*/, const v8::PropertyCallbackInfo<v8::Value>& info) {
  info.GetReturnValue().Set(static_cast<double>(DataOf(info)->elements.size()));
}

v8::Local<v8::ObjectTemplate> SharedArrayTemplate(VuImpl* vu) {
  v8::Isolate* isolate = vu->isolate();
  if (vu->shared_array_template.IsEmpty()) {
    v8::Local<v8::ObjectTemplate> t = v8::ObjectTemplate::New(isolate);
    t->SetInternalFieldCount(1);
    t->SetHandler(v8::IndexedPropertyHandlerConfiguration(GetElement, SetElement, QueryElement,
                                                          DeleteElement, ListElements));
    t->SetAccessor(V8Name(isolate, "length"), GetLength, nullptr, v8::Local<v8::Value>(),
                   v8::DEFAULT, static_cast<v8::PropertyAttribute>(v8::ReadOnly | v8::DontEnum));
    vu->shared_array_template.Reset(isolate, t);
  }
  return vu->shared_array_template.Get(isolate);
}

// Runs the SharedArray function and keeps its array as JSON text per element. nullopt with a
// pending exception when the function throws or returns no array.
std::optional<SharedArrayData> RunArrayFunction(v8::Isolate* isolate,
                                                v8::Local<v8::Context> context,
                                                v8::Local<v8::Function> fn) {
  v8::Local<v8::Value> result;
  if (!fn->Call(context, v8::Undefined(isolate), 0, nullptr).ToLocal(&result)) {
    return std::nullopt;
  }
  if (!result->IsArray()) {
    ThrowTypeError(isolate, "the SharedArray function must return an array");
    return std::nullopt;
  }
  v8::Local<v8::Array> array = result.As<v8::Array>();
  SharedArrayData data;
  data.elements.reserve(array->Length());
  for (uint32_t i = 0; i < array->Length(); ++i) {
    v8::Local<v8::Value> element;
    if (!array->Get(context, i).ToLocal(&element)) return std::nullopt;
    v8::Local<v8::String> json;
    if (element->IsUndefined() || element->IsFunction() || element->IsSymbol()) {
      data.elements.push_back("null");  // as JSON.stringify does inside an array
      continue;
    }
    if (!v8::JSON::Stringify(context, element).ToLocal(&json)) return std::nullopt;
    data.elements.push_back(ToStdString(isolate, json));
  }
  return data;
}

// new SharedArray(name, fn) -> an array-like view of fn()'s array, read-only.
void ConstructSharedArray(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  VuImpl* vu = VuImpl::From(isolate);
  if (!args.IsConstructCall())
    return ThrowTypeError(isolate, "SharedArray must be called with new");
  if (!vu->in_init()) {
    return ThrowError(isolate, "new SharedArray must be called in the init context");
  }
  if (args.Length() < 2 || !args[0]->IsString() || ToStdString(isolate, args[0]).empty()) {
    return ThrowTypeError(isolate, "SharedArray needs a non-empty name and a function");
  }
  if (!args[1]->IsFunction()) return ThrowTypeError(isolate, "SharedArray needs a function");
  v8::Local<v8::Function> fn = args[1].As<v8::Function>();

  std::shared_ptr<const SharedArrayData> data = vu->test().shared_arrays->GetOrMake(
      ToStdString(isolate, args[0]),
      [&]() { return RunArrayFunction(isolate, context, fn); });
  if (!data) return;  // the function's exception is pending
  vu->shared_arrays.push_back(data);

  v8::Local<v8::Object> view;
  if (!SharedArrayTemplate(vu)->NewInstance(context).ToLocal(&view)) return;
  view->SetAlignedPointerInInternalField(0, const_cast<SharedArrayData*>(data.get()));
  // Array.prototype's methods are generic: for-of, forEach, map, slice... work on the view.
  v8::Local<v8::Value> array_ctor;
  v8::Local<v8::Value> array_proto;
  if (context->Global()->Get(context, V8Name(isolate, "Array")).ToLocal(&array_ctor) &&
      array_ctor->IsObject() &&
      array_ctor.As<v8::Object>()->Get(context, V8Name(isolate, "prototype")).ToLocal(&array_proto)) {
    (void)view->SetPrototype(context, array_proto);
  }
  args.GetReturnValue().Set(view);
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
