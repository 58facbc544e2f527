// The `k6/encoding` module: b64encode / b64decode in the four alphabets k6 knows
// ("std", "rawstd", "url", "rawurl").
#include <array>

#include "absl/strings/str_cat.h"
#include "agent/js/encoding.h"
#include "agent/js/v8_util.h"
#include "agent/js/vu_impl.h"

namespace volley::js {

namespace {

constexpr char kStdAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr char kUrlAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

}  // namespace

bool ParseBase64Variant(std::string_view name, Base64Variant* out) {
  if (name.empty() || name == "std") {
    *out = Base64Variant::kStd;
  } else if (name == "rawstd") {
    *out = Base64Variant::kRawStd;
  } else if (name == "url") {
    *out = Base64Variant::kUrl;
  } else if (name == "rawurl") {
    *out = Base64Variant::kRawUrl;
  } else {
    return false;
  }
  return true;
}

std::string Base64Encode(std::string_view in, Base64Variant variant) {
  const char* alphabet = (variant == Base64Variant::kUrl || variant == Base64Variant::kRawUrl)
                             ? kUrlAlphabet
                             : kStdAlphabet;
  bool pad = variant == Base64Variant::kStd || variant == Base64Variant::kUrl;
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    std::uint32_t n = (static_cast<std::uint8_t>(in[i]) << 16) |
                      (static_cast<std::uint8_t>(in[i + 1]) << 8) |
                      static_cast<std::uint8_t>(in[i + 2]);
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    out += alphabet[(n >> 6) & 63];
    out += alphabet[n & 63];
  }
  std::size_t rest = in.size() - i;
  if (rest > 0) {
    std::uint32_t n = static_cast<std::uint8_t>(in[i]) << 16;
    if (rest == 2) n |= static_cast<std::uint8_t>(in[i + 1]) << 8;
    out += alphabet[(n >> 18) & 63];
    out += alphabet[(n >> 12) & 63];
    if (rest == 2) out += alphabet[(n >> 6) & 63];
    if (pad) out.append(rest == 1 ? "==" : "=");
  }
  return out;
}

bool Base64Decode(std::string_view in, Base64Variant variant, std::string* out) {
  // Lenient about padding: accepted when present, not required.
  bool url = variant == Base64Variant::kUrl || variant == Base64Variant::kRawUrl;
  static const auto kTables = [] {
    std::array<std::array<int, 256>, 2> tables;
    for (auto& t : tables) t.fill(-1);
    for (int i = 0; i < 64; ++i) {
      tables[0][static_cast<std::uint8_t>(kStdAlphabet[i])] = i;
      tables[1][static_cast<std::uint8_t>(kUrlAlphabet[i])] = i;
    }
    return tables;
  }();
  const auto& table = kTables[url ? 1 : 0];
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return false;
  out->clear();
  out->reserve(in.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = table[static_cast<std::uint8_t>(c)];
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  return true;
}

namespace {

// b64encode(input, encoding?) -> string.
void B64Encode(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  std::string input;
  if (args.Length() < 1 || !BytesOf(isolate, args[0], &input)) {
    ThrowTypeError(isolate, "b64encode() needs a string or an ArrayBuffer");
    return;
  }
  Base64Variant variant;
  std::string name =
      args.Length() > 1 && !args[1]->IsNullOrUndefined() ? ToStdString(isolate, args[1]) : "";
  if (!ParseBase64Variant(name, &variant)) {
    ThrowError(isolate, absl::StrCat("unsupported base64 encoding: ", name));
    return;
  }
  args.GetReturnValue().Set(V8Str(isolate, Base64Encode(input, variant)));
}

// b64decode(input, encoding?, format?) -> ArrayBuffer, or a string when format is "s".
void B64Decode(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  std::string input;
  if (args.Length() < 1 || !BytesOf(isolate, args[0], &input)) {
    ThrowTypeError(isolate, "b64decode() needs a string");
    return;
  }
  Base64Variant variant;
  std::string name =
      args.Length() > 1 && !args[1]->IsNullOrUndefined() ? ToStdString(isolate, args[1]) : "";
  if (!ParseBase64Variant(name, &variant)) {
    ThrowError(isolate, absl::StrCat("unsupported base64 encoding: ", name));
    return;
  }
  std::string decoded;
  if (!Base64Decode(input, variant, &decoded)) {
    ThrowError(isolate, "illegal base64 data");
    return;
  }
  bool as_string = args.Length() > 2 && ToStdString(isolate, args[2]) == "s";
  if (as_string) {
    args.GetReturnValue().Set(V8Str(isolate, decoded));
  } else {
    args.GetReturnValue().Set(NewArrayBuffer(isolate, decoded));
  }
}

}  // namespace

v8::Local<v8::Object> BuildEncodingModule(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  v8::Local<v8::Object> module = v8::Object::New(isolate);
  SetMethod(isolate, context, module, "b64encode", &B64Encode);
  SetMethod(isolate, context, module, "b64decode", &B64Decode);
  return module;
}

}  // namespace volley::js
