// Small helpers over the V8 API used by every part of the VU runtime: string conversion,
// throwing JS errors from C++ callbacks, reading bytes out of strings and buffers, and turning a
// caught exception into a ScriptError. Everything here runs on the VU's fiber, inside its
// isolate and context.
#pragma once

#include <v8.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/js/vu.h"

namespace volley::js {

inline v8::Local<v8::String> V8Str(v8::Isolate* isolate, std::string_view s) {
  return v8::String::NewFromUtf8(isolate, s.data(), v8::NewStringType::kNormal,
                                 static_cast<int>(s.size()))
      .ToLocalChecked();
}

// An internalized string: for property names that are used again and again.
inline v8::Local<v8::String> V8Name(v8::Isolate* isolate, std::string_view s) {
  return v8::String::NewFromUtf8(isolate, s.data(), v8::NewStringType::kInternalized,
                                 static_cast<int>(s.size()))
      .ToLocalChecked();
}

// UTF-8 text of any value (ToString semantics; "" when ToString throws).
std::string ToStdString(v8::Isolate* isolate, v8::Local<v8::Value> value);

// Raw bytes of a string (UTF-8), ArrayBuffer or ArrayBufferView. False for anything else.
bool BytesOf(v8::Isolate* isolate, v8::Local<v8::Value> value, std::string* out);

// Appends the own properties of a plain object as (key, String(value)) pairs: tags, headers.
void ReadStringPairs(v8::Isolate* isolate, v8::Local<v8::Context> context,
                     v8::Local<v8::Value> value,
                     std::vector<std::pair<std::string, std::string>>* out);

// A new ArrayBuffer holding a copy of `bytes`.
v8::Local<v8::ArrayBuffer> NewArrayBuffer(v8::Isolate* isolate, std::string_view bytes);

void ThrowError(v8::Isolate* isolate, std::string_view message);
void ThrowTypeError(v8::Isolate* isolate, std::string_view message);

// Adds a function property `name` to `target`.
void SetMethod(v8::Isolate* isolate, v8::Local<v8::Context> context, v8::Local<v8::Object> target,
               std::string_view name, v8::FunctionCallback callback,
               v8::Local<v8::Value> data = v8::Local<v8::Value>());

// A FunctionTemplate that cannot be used with `new` (plain functions and methods).
v8::Local<v8::FunctionTemplate> NewMethodTemplate(v8::Isolate* isolate,
                                                  v8::FunctionCallback callback,
                                                  v8::Local<v8::Value> data = {});

// Describes a caught exception: message, "file:line:col" and the JS stack.
ScriptError ErrorFromException(v8::Isolate* isolate, v8::Local<v8::Context> context,
                               v8::Local<v8::Value> exception, v8::Local<v8::Message> message);
ScriptError ErrorFromTryCatch(v8::Isolate* isolate, v8::Local<v8::Context> context,
                              const v8::TryCatch& try_catch);

// Go-style duration ("1m30s", "500ms", "1.5s") or plain number of `number_unit_ms`
// milliseconds. False when the text is not a duration.
bool ParseDurationMs(std::string_view text, double* out_ms);

}  // namespace volley::js
