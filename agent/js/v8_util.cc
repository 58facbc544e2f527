#include "agent/js/v8_util.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace volley::js {

std::string ToStdString(v8::Isolate* isolate, v8::Local<v8::Value> value) {
  if (value.IsEmpty()) return "";
  if (value->IsString()) {
    v8::Local<v8::String> s = value.As<v8::String>();
    std::string out(s->Utf8Length(isolate), '\0');
    s->WriteUtf8(isolate, out.data(), static_cast<int>(out.size()), nullptr,
                 v8::String::NO_NULL_TERMINATION | v8::String::REPLACE_INVALID_UTF8);
    return out;
  }
  v8::TryCatch try_catch(isolate);
  v8::String::Utf8Value utf8(isolate, value);
  if (*utf8 == nullptr) return "";
  return std::string(*utf8, utf8.length());
}

bool BytesOf(v8::Isolate* isolate, v8::Local<v8::Value> value, std::string* out) {
  if (value->IsString()) {
    *out = ToStdString(isolate, value);
    return true;
  }
  if (value->IsArrayBuffer()) {
    auto store = value.As<v8::ArrayBuffer>()->GetBackingStore();
    out->assign(static_cast<const char*>(store->Data()), store->ByteLength());
    return true;
  }
  if (value->IsArrayBufferView()) {
    auto view = value.As<v8::ArrayBufferView>();
    out->resize(view->ByteLength());
    if (!out->empty()) view->CopyContents(out->data(), out->size());
    return true;
  }
  return false;
}

void ReadStringPairs(v8::Isolate* isolate, v8::Local<v8::Context> context,
                     v8::Local<v8::Value> value,
                     std::vector<std::pair<std::string, std::string>>* out) {
  if (!value->IsObject()) return;
  v8::Local<v8::Object> object = value.As<v8::Object>();
  v8::Local<v8::Array> keys;
  if (!object->GetOwnPropertyNames(context).ToLocal(&keys)) return;
  for (uint32_t i = 0; i < keys->Length(); ++i) {
    v8::Local<v8::Value> key = keys->Get(context, i).ToLocalChecked();
    v8::Local<v8::Value> v;
    if (!object->Get(context, key).ToLocal(&v)) continue;
    out->emplace_back(ToStdString(isolate, key), ToStdString(isolate, v));
  }
}

v8::Local<v8::ArrayBuffer> NewArrayBuffer(v8::Isolate* isolate, std::string_view bytes) {
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, bytes.size());
  if (!bytes.empty()) std::memcpy(buffer->GetBackingStore()->Data(), bytes.data(), bytes.size());
  return buffer;
}

void ThrowError(v8::Isolate* isolate, std::string_view message) {
  isolate->ThrowException(v8::Exception::Error(V8Str(isolate, message)));
}

void ThrowTypeError(v8::Isolate* isolate, std::string_view message) {
  isolate->ThrowException(v8::Exception::TypeError(V8Str(isolate, message)));
}

v8::Local<v8::FunctionTemplate> NewMethodTemplate(v8::Isolate* isolate,
                                                  v8::FunctionCallback callback,
                                                  v8::Local<v8::Value> data) {
  return v8::FunctionTemplate::New(isolate, callback, data, v8::Local<v8::Signature>(), 0,
                                   v8::ConstructorBehavior::kThrow);
}

void SetMethod(v8::Isolate* isolate, v8::Local<v8::Context> context, v8::Local<v8::Object> target,
               std::string_view name, v8::FunctionCallback callback, v8::Local<v8::Value> data) {
  v8::Local<v8::String> key = V8Name(isolate, name);
  v8::Local<v8::Function> fn =
      NewMethodTemplate(isolate, callback, data)->GetFunction(context).ToLocalChecked();
  fn->SetName(key);
  target->Set(context, key, fn).Check();
}

namespace {

// V8's stack text starts with the message line(s); keep only the "at ..." frames.
std::string FramesOf(const std::string& stack) {
  std::string frames;
  for (absl::string_view line : absl::StrSplit(stack, '\n')) {
    absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
    if (!absl::StartsWith(trimmed, "at ")) continue;
    if (!frames.empty()) frames += '\n';
    absl::StrAppend(&frames, "\t", trimmed);
  }
  return frames;
}

}  // namespace

ScriptError ErrorFromException(v8::Isolate* isolate, v8::Local<v8::Context> context,
                               v8::Local<v8::Value> exception, v8::Local<v8::Message> message) {
  v8::HandleScope scope(isolate);
  ScriptError error;
  error.message = exception.IsEmpty() ? "unknown error" : ToStdString(isolate, exception);
  if (message.IsEmpty() && !exception.IsEmpty()) {
    message = v8::Exception::CreateMessage(isolate, exception);
  }
  // Where the error was made (the top frame of its captured stack) beats where it was thrown.
  v8::Local<v8::StackTrace> trace;
  if (!exception.IsEmpty()) trace = v8::Exception::GetStackTrace(exception);
  if (!trace.IsEmpty() && trace->GetFrameCount() > 0) {
    v8::Local<v8::StackFrame> frame = trace->GetFrame(isolate, 0);
    std::string file = ToStdString(isolate, frame->GetScriptName());
    if (!file.empty() && file != "undefined") {
      error.location = absl::StrCat(file, ":", frame->GetLineNumber(), ":", frame->GetColumn());
    }
  }
  if (error.location.empty() && !message.IsEmpty()) {
    std::string file = ToStdString(isolate, message->GetScriptResourceName());
    int line = message->GetLineNumber(context).FromMaybe(0);
    int column = message->GetStartColumn(context).FromMaybe(-1) + 1;
    if (!file.empty() && file != "undefined") {
      error.location = absl::StrCat(file, ":", line, ":", column);
    }
  }
  if (!exception.IsEmpty() && exception->IsObject()) {
    v8::TryCatch try_catch(isolate);
    v8::Local<v8::Value> stack;
    if (exception.As<v8::Object>()->Get(context, V8Name(isolate, "stack")).ToLocal(&stack) &&
        stack->IsString()) {
      error.stack = FramesOf(ToStdString(isolate, stack));
    }
  }
  return error;
}

ScriptError ErrorFromTryCatch(v8::Isolate* isolate, v8::Local<v8::Context> context,
                              const v8::TryCatch& try_catch) {
  ScriptError error =
      ErrorFromException(isolate, context, try_catch.Exception(), try_catch.Message());
  // A syntax error has no frames: show the offending source line instead.
  v8::Local<v8::Message> message = try_catch.Message();
  if (error.stack.empty() && !message.IsEmpty() && !try_catch.Exception().IsEmpty() &&
      try_catch.Exception()->IsNativeError()) {
    v8::Local<v8::String> source_line;
    if (message->GetSourceLine(context).ToLocal(&source_line)) {
      std::string text = ToStdString(isolate, source_line);
      int start = message->GetStartColumn(context).FromMaybe(0);
      int end = std::max(start + 1, message->GetEndColumn(context).FromMaybe(start + 1));
      if (!text.empty() && text.size() < 400) {
        error.stack = absl::StrCat("\t", text, "\n\t", std::string(std::max(0, start), ' '),
                                   std::string(std::min<int>(end - start, 80), '^'));
      }
    }
  }
  return error;
}

std::string ScriptError::ToString() const {
  std::string out = message;
  if (!location.empty()) absl::StrAppend(&out, " at ", location);
  if (!stack.empty()) absl::StrAppend(&out, "\n", stack);
  return out;
}

bool ParseDurationMs(std::string_view input, double* out_ms) {
  absl::string_view text =
      absl::StripAsciiWhitespace(absl::string_view(input.data(), input.size()));
  if (text.empty()) return false;
  // A bare number is milliseconds (k6 accepts both for timeouts).
  {
    std::string copy(text);
    char* end = nullptr;
    double v = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() && *end == '\0') {
      *out_ms = v;
      return true;
    }
  }
  double total = 0;
  std::string copy(text);
  const char* p = copy.c_str();
  while (*p != '\0') {
    char* end = nullptr;
    double v = std::strtod(p, &end);
    if (end == p) return false;
    p = end;
    double unit_ms;
    if (std::strncmp(p, "ms", 2) == 0) {
      unit_ms = 1, p += 2;
    } else if (std::strncmp(p, "us", 2) == 0 || std::strncmp(p, "µs", 3) == 0) {
      unit_ms = 0.001, p += (p[0] == 'u' ? 2 : 3);
    } else if (std::strncmp(p, "ns", 2) == 0) {
      unit_ms = 1e-6, p += 2;
    } else if (*p == 's') {
      unit_ms = 1000, p += 1;
    } else if (*p == 'm') {
      unit_ms = 60000, p += 1;
    } else if (*p == 'h') {
      unit_ms = 3600000, p += 1;
    } else {
      return false;
    }
    total += v * unit_ms;
  }
  *out_ms = total;
  return true;
}

}  // namespace volley::js
