// The `k6/http` module. Requests go through the VU's loop::HttpClient (the fiber yields while
// they run). This is the hot path: a response is one object from a cached template that points
// at the C++ response; body, headers, timings and the rest become JS values only when the
// script reads them (lazy data properties), and json() parses once and caches. Tag sets for the
// request metrics come from the VU's tag cache, so a repeated request interns nothing.
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <iterator>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/js/v8_util.h"
#include "agent/js/vu_impl.h"

namespace volley::js {

enum class ResponseType { kText, kBinary, kNone };

// The C++ side of one response object. Freed by the object's weak callback or with its VU.
struct ResponseData {
  loop::HttpResponse response;
  std::string method;
  std::string request_url;
  loop::HeaderList request_headers;
  std::string request_body;
  ResponseType response_type = ResponseType::kText;
  std::int64_t external_bytes = 0;
  VuImpl* vu = nullptr;
  v8::Global<v8::Object> handle;
  ResponseData* prev = nullptr;
  ResponseData* next = nullptr;
};

namespace {

void Unlink(ResponseData* d) {
  if (d->prev != nullptr) d->prev->next = d->next;
  if (d->next != nullptr) d->next->prev = d->prev;
  if (d->vu->responses_ == d) d->vu->responses_ = d->next;
}

void OnResponseCollected(const v8::WeakCallbackInfo<ResponseData>& info) {
  ResponseData* d = info.GetParameter();
  d->handle.Reset();
  Unlink(d);
  d->vu->external_bytes_released_ += d->external_bytes;
  delete d;
}

}  // namespace

void FreeAllResponses(VuImpl* vu) {
  while (vu->responses_ != nullptr) {
    ResponseData* d = vu->responses_;
    vu->responses_ = d->next;
    d->handle.Reset();
    delete d;
  }
}

namespace {

// A request as parsed from the script, before it is sent.
struct RequestSpec {
  loop::HttpRequest request;
  std::string name_tag;  // "" -> the URL
  metrics::TagSet user_tags;
  ResponseType response_type = ResponseType::kText;
  bool has_callback = true;
  std::vector<std::pair<int, int>> expected;  // responseCallback's ranges; empty: the VU's
};

std::string FormEscape(std::string_view s) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// {a: 1, b: [2, 3]} -> "a=1&b=2&b=3" (keys sorted, arrays repeat the key).
std::string FormEncode(v8::Isolate* isolate, v8::Local<v8::Context> context,
                       v8::Local<v8::Object> object) {
  std::vector<std::pair<std::string, std::vector<std::string>>> fields;
  v8::Local<v8::Array> keys;
  if (!object->GetOwnPropertyNames(context).ToLocal(&keys)) return "";
  for (uint32_t i = 0; i < keys->Length(); ++i) {
    v8::Local<v8::Value> key = keys->Get(context, i).ToLocalChecked();
    v8::Local<v8::Value> value;
    if (!object->Get(context, key).ToLocal(&value)) continue;
    std::vector<std::string> values;
    if (value->IsArray()) {
      v8::Local<v8::Array> array = value.As<v8::Array>();
      for (uint32_t j = 0; j < array->Length(); ++j) {
        values.push_back(ToStdString(isolate, array->Get(context, j).ToLocalChecked()));
      }
    } else {
      values.push_back(ToStdString(isolate, value));
    }
    fields.emplace_back(ToStdString(isolate, key), std::move(values));
  }
  std::stable_sort(fields.begin(), fields.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string out;
  for (const auto& [key, values] : fields) {
    for (const std::string& value : values) {
      if (!out.empty()) out += '&';
      absl::StrAppend(&out, FormEscape(key), "=", FormEscape(value));
    }
  }
  return out;
}

// ---- multipart bodies (file uploads) ----

// The private key that marks what http.file() returns: only those objects make a body multipart,
// as in k6, where a FileData is a Go value no plain JS object can imitate.
v8::Local<v8::Private> FileDataKey(VuImpl* vu) {
  v8::Isolate* isolate = vu->isolate();
  if (vu->file_data_key.IsEmpty()) {
    vu->file_data_key.Reset(isolate,
                            v8::Private::New(isolate, V8Name(isolate, "volley.file_data")));
  }
  return vu->file_data_key.Get(isolate);
}

bool IsFileData(VuImpl* vu, v8::Local<v8::Context> context, v8::Local<v8::Value> value) {
  if (!value->IsObject() || vu->file_data_key.IsEmpty()) return false;
  return value.As<v8::Object>()
      ->HasPrivate(context, vu->file_data_key.Get(vu->isolate()))
      .FromMaybe(false);
}

// A body object's field: its key and value.
using BodyField = std::pair<std::string, v8::Local<v8::Value>>;

// The own enumerable fields of a body object, in property order.
std::vector<BodyField> BodyFields(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                  v8::Local<v8::Object> object) {
  std::vector<BodyField> fields;
  v8::Local<v8::Array> keys;
  if (!object->GetOwnPropertyNames(context).ToLocal(&keys)) return fields;
  for (uint32_t i = 0; i < keys->Length(); ++i) {
    v8::Local<v8::Value> key = keys->Get(context, i).ToLocalChecked();
    v8::Local<v8::Value> value;
    if (!object->Get(context, key).ToLocal(&value)) continue;
    fields.emplace_back(ToStdString(isolate, key), value);
  }
  return fields;
}

// Go's mime/multipart quoting of names and filenames: backslash and double quote escaped.
std::string EscapeQuotes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\' || c == '"') out += '\\';
    out += c;
  }
  return out;
}

// A plain field's text as k6 writes it into its part (Go's %v of the exported JS value): an
// array is "[a b]" (not repeated parts, unlike a urlencoded form), null and undefined "<nil>".
std::string MultipartValue(v8::Isolate* isolate, v8::Local<v8::Context> context,
                           v8::Local<v8::Value> value) {
  if (value->IsNullOrUndefined()) return "<nil>";
  if (!value->IsArray()) return ToStdString(isolate, value);
  v8::Local<v8::Array> array = value.As<v8::Array>();
  std::string out = "[";
  for (uint32_t i = 0; i < array->Length(); ++i) {
    v8::Local<v8::Value> element;
    if (!array->Get(context, i).ToLocal(&element)) continue;
    absl::StrAppend(&out, i == 0 ? "" : " ", MultipartValue(isolate, context, element));
  }
  return out + "]";
}

// Go's multipart.Writer boundary, which k6 uses: 30 random bytes in lower-case hex. "" when
// OpenSSL has no randomness to give.
std::string NewBoundary() {
  unsigned char random[30];
  if (RAND_bytes(random, sizeof(random)) != 1) return "";
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * sizeof(random));
  for (unsigned char b : random) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

// The multipart/form-data body of a body object with a FileData among its values, laid out
// byte for byte as k6 (Go's multipart.Writer) writes it: "--boundary" before each part (after a
// CRLF from the second on), the part's headers in sorted order, a blank line, the content, and
// "\r\n--boundary--\r\n" at the end. A file part has Content-Disposition with name and filename
// and its Content-Type; any other field is a part with Content-Disposition and its text only.
// k6 walks a Go map, so its part order is random; this keeps the object's property order. k6
// writes a file part's name without escaping; it is escaped here as well, so that a quote in it
// cannot break the header.
std::string MultipartEncode(VuImpl* vu, v8::Local<v8::Context> context,
                            const std::vector<BodyField>& fields, const std::string& boundary) {
  v8::Isolate* isolate = vu->isolate();
  std::string out;
  bool first = true;
  for (const auto& [key, value] : fields) {
    absl::StrAppend(&out, first ? "--" : "\r\n--", boundary, "\r\n");
    first = false;
    if (!IsFileData(vu, context, value)) {
      absl::StrAppend(&out, "Content-Disposition: form-data; name=\"", EscapeQuotes(key),
                      "\"\r\n\r\n", MultipartValue(isolate, context, value));
      continue;
    }
    v8::Local<v8::Object> file = value.As<v8::Object>();
    v8::Local<v8::Value> data, filename, content_type;
    std::string bytes;
    if (file->Get(context, V8Name(isolate, "data")).ToLocal(&data) &&
        !BytesOf(isolate, data, &bytes)) {
      bytes = ToStdString(isolate, data);
    }
    std::string name_text, type_text;
    if (file->Get(context, V8Name(isolate, "filename")).ToLocal(&filename)) {
      name_text = ToStdString(isolate, filename);
    }
    if (file->Get(context, V8Name(isolate, "content_type")).ToLocal(&content_type)) {
      type_text = ToStdString(isolate, content_type);
    }
    absl::StrAppend(&out, "Content-Disposition: form-data; name=\"", EscapeQuotes(key),
                    "\"; filename=\"", EscapeQuotes(name_text), "\"\r\nContent-Type: ", type_text,
                    "\r\n\r\n", bytes);
  }
  absl::StrAppend(&out, "\r\n--", boundary, "--\r\n");
  return out;
}

bool HasHeader(const loop::HeaderList& headers, absl::string_view name) {
  for (const auto& [key, value] : headers) {
    if (absl::EqualsIgnoreCase(key, name)) return true;
  }
  return false;
}

// params.cookies: {name: "value"} or {name: {value: "v", replace: true}}.
void ReadRequestCookies(v8::Isolate* isolate, v8::Local<v8::Context> context,
                        v8::Local<v8::Object> object, std::vector<loop::RequestCookie>* out) {
  v8::Local<v8::Array> keys;
  if (!object->GetOwnPropertyNames(context).ToLocal(&keys)) return;
  for (uint32_t i = 0; i < keys->Length(); ++i) {
    v8::Local<v8::Value> key = keys->Get(context, i).ToLocalChecked();
    v8::Local<v8::Value> value;
    if (!object->Get(context, key).ToLocal(&value)) continue;
    loop::RequestCookie& cookie = out->emplace_back();
    cookie.name = ToStdString(isolate, key);
    if (value->IsObject()) {
      v8::Local<v8::Object> o = value.As<v8::Object>();
      v8::Local<v8::Value> v;
      if (o->Get(context, V8Name(isolate, "value")).ToLocal(&v) && !v->IsUndefined()) {
        cookie.value = ToStdString(isolate, v);
      }
      if (o->Get(context, V8Name(isolate, "replace")).ToLocal(&v)) {
        cookie.replace = v->BooleanValue(isolate);
      }
    } else {
      cookie.value = ToStdString(isolate, value);
    }
  }
}

// Reads expectedStatuses() ranges stored on a callback object; false when it is not one.
bool ReadStatusRanges(VuImpl* vu, v8::Local<v8::Context> context, v8::Local<v8::Value> value,
                      std::vector<std::pair<int, int>>* out) {
  v8::Isolate* isolate = vu->isolate();
  if (!value->IsObject() || vu->statuses_key.IsEmpty()) return false;
  v8::Local<v8::Value> ranges;
  if (!value.As<v8::Object>()
           ->GetPrivate(context, vu->statuses_key.Get(isolate))
           .ToLocal(&ranges) ||
      !ranges->IsArray()) {
    return false;
  }
  v8::Local<v8::Array> array = ranges.As<v8::Array>();
  out->clear();
  for (uint32_t i = 0; i + 1 < array->Length(); i += 2) {
    out->emplace_back(
        array->Get(context, i).ToLocalChecked()->Int32Value(context).FromMaybe(0),
        array->Get(context, i + 1).ToLocalChecked()->Int32Value(context).FromMaybe(0));
  }
  return true;
}

// Fills `spec` from the script's arguments; throws and returns false on bad input.
bool ParseRequest(VuImpl* vu, v8::Local<v8::Context> context, std::string method,
                  v8::Local<v8::Value> url, v8::Local<v8::Value> body, v8::Local<v8::Value> params,
                  RequestSpec* spec) {
  v8::Isolate* isolate = vu->isolate();
  loop::HttpRequest& request = spec->request;
  request.method = absl::AsciiStrToUpper(method);
  request.max_redirects = vu->test().http.max_redirects;

  // A URL, or an http.url`...` object {url, name}.
  if (url->IsObject() && !url->IsString()) {
    v8::Local<v8::Object> object = url.As<v8::Object>();
    v8::Local<v8::Value> u, name;
    if (object->Get(context, V8Name(isolate, "url")).ToLocal(&u) && !u->IsUndefined()) {
      request.url = ToStdString(isolate, u);
      if (object->Get(context, V8Name(isolate, "name")).ToLocal(&name) && name->IsString()) {
        spec->name_tag = ToStdString(isolate, name);
      }
    } else {
      request.url = ToStdString(isolate, url);
    }
  } else {
    request.url = ToStdString(isolate, url);
  }
  if (!absl::StartsWithIgnoreCase(request.url, "http://") &&
      !absl::StartsWithIgnoreCase(request.url, "https://")) {
    ThrowError(isolate, absl::StrCat("invalid URL \"", request.url,
                                     "\": only http:// and https:// URLs are supported"));
    return false;
  }

  // Strings go as UTF-8 and ArrayBuffers and typed arrays byte for byte. An object is a form:
  // multipart when one of its values is an http.file(), urlencoded otherwise.
  std::string body_type;  // the Content-Type the body implies, unless the script sets one
  if (!body.IsEmpty() && !body->IsNullOrUndefined()) {
    if (!BytesOf(isolate, body, &request.body)) {
      if (body->IsObject()) {
        auto fields = BodyFields(isolate, context, body.As<v8::Object>());
        if (std::any_of(fields.begin(), fields.end(),
                        [&](const auto& f) { return IsFileData(vu, context, f.second); })) {
          std::string boundary = NewBoundary();
          if (boundary.empty()) {
            ThrowError(isolate, "no random bytes for a multipart boundary");
            return false;
          }
          request.body = MultipartEncode(vu, context, fields, boundary);
          body_type = absl::StrCat("multipart/form-data; boundary=", boundary);
        } else {
          request.body = FormEncode(isolate, context, body.As<v8::Object>());
          body_type = "application/x-www-form-urlencoded";
        }
      } else {
        request.body = ToStdString(isolate, body);
      }
    }
  }

  const TestContext& test = vu->test();
  bool response_type_set = false;
  spec->has_callback = vu->response_callback_set;
  if (!params.IsEmpty() && params->IsObject()) {
    v8::Local<v8::Object> p = params.As<v8::Object>();
    v8::Local<v8::Value> v;
    if (p->Get(context, V8Name(isolate, "headers")).ToLocal(&v) && v->IsObject()) {
      ReadStringPairs(isolate, context, v, &request.headers);
    }
    if (p->Get(context, V8Name(isolate, "cookies")).ToLocal(&v) && v->IsObject()) {
      ReadRequestCookies(isolate, context, v.As<v8::Object>(), &request.cookies);
    }
    if (p->Get(context, V8Name(isolate, "tags")).ToLocal(&v) && v->IsObject()) {
      ReadStringPairs(isolate, context, v, &spec->user_tags);
      for (auto it = spec->user_tags.begin(); it != spec->user_tags.end();) {
        if (it->first == "name") {
          spec->name_tag = it->second;
          it = spec->user_tags.erase(it);
        } else {
          ++it;
        }
      }
    }
    if (p->Get(context, V8Name(isolate, "timeout")).ToLocal(&v) && !v->IsNullOrUndefined()) {
      double ms;
      if (v->IsNumber()) {
        ms = v.As<v8::Number>()->Value();
      } else if (!ParseDurationMs(ToStdString(isolate, v), &ms)) {
        ThrowError(isolate, absl::StrCat("invalid timeout: ", ToStdString(isolate, v)));
        return false;
      }
      request.timeout_s = ms / 1000;
    }
    if (p->Get(context, V8Name(isolate, "redirects")).ToLocal(&v) && v->IsNumber()) {
      request.max_redirects = v->Int32Value(context).FromMaybe(request.max_redirects);
    }
    if (p->Get(context, V8Name(isolate, "responseType")).ToLocal(&v) && !v->IsNullOrUndefined()) {
      std::string type = ToStdString(isolate, v);
      response_type_set = true;
      if (type == "text") {
        spec->response_type = ResponseType::kText;
      } else if (type == "binary") {
        spec->response_type = ResponseType::kBinary;
      } else if (type == "none") {
        spec->response_type = ResponseType::kNone;
      } else {
        ThrowError(isolate, absl::StrCat("invalid responseType: ", type));
        return false;
      }
    }
    if (p->Get(context, V8Name(isolate, "responseCallback")).ToLocal(&v) && !v->IsUndefined()) {
      if (v->IsNull()) {
        spec->has_callback = false;
      } else if (!ReadStatusRanges(vu, context, v, &spec->expected)) {
        ThrowError(isolate, "responseCallback must be made with http.expectedStatuses()");
        return false;
      } else {
        spec->has_callback = true;
      }
    }
  }
  if (!response_type_set && test.discard_response_bodies) {
    spec->response_type = ResponseType::kNone;
  }
  request.discard_body = spec->response_type == ResponseType::kNone;
  if (!body_type.empty() && !HasHeader(request.headers, "Content-Type")) {
    request.headers.emplace_back("Content-Type", std::move(body_type));
  }
  return true;
}

// Whether the status is one the request's callback expects (its own ranges, or the VU's).
bool IsExpected(const VuImpl* vu, const RequestSpec& spec, const loop::HttpResponse& r) {
  if (r.error_code != 0 && r.status == 0) return false;
  for (const auto& [min, max] : spec.expected.empty() ? vu->expected_statuses : spec.expected) {
    if (r.status >= min && r.status <= max) return true;
  }
  return false;
}

// The request metrics of a hop, in the order of HopMemo::series.
constexpr metrics::MetricId kHopMetrics[] = {
    metrics::builtin::kHttpReqs,           metrics::builtin::kHttpReqDuration,
    metrics::builtin::kHttpReqBlocked,     metrics::builtin::kHttpReqConnecting,
    metrics::builtin::kHttpReqTlsHandshaking, metrics::builtin::kHttpReqSending,
    metrics::builtin::kHttpReqWaiting,     metrics::builtin::kHttpReqReceiving,
    metrics::builtin::kHttpReqFailed,
};
static_assert(std::size(kHopMetrics) == std::tuple_size_v<decltype(VuImpl::HopMemo::series)>);

// The tag set of a hop: from the VU's tag cache, interning on a miss.
metrics::TagSetId HopTags(VuImpl* vu, const RequestSpec& spec, const loop::HttpResponse& r,
                          const std::string& url, const std::string& name, bool expected) {
  std::string key =
      absl::StrCat("http\x1f", vu->group_path(), "\x1f", spec.request.method, "\x1f", url, "\x1f",
                   name, "\x1f", r.status, "\x1f", r.proto, "\x1f", r.error_code, "\x1f",
                   r.tls_version, "\x1f", spec.has_callback ? (expected ? "1" : "0") : "-");
  if (r.error_code != 0) absl::StrAppend(&key, "\x1f", r.error);
  for (const auto& [k, v] : spec.user_tags) absl::StrAppend(&key, "\x1e", k, "\x1f", v);
  metrics::TagSetId* cached = vu->CachedTags(key);
  if (*cached == ~metrics::TagSetId{0}) {
    metrics::TagSet tags;
    tags.reserve(16);
    vu->AppendContextTags(&tags);
    if (vu->SystemTagEnabled(kTagGroup)) tags.emplace_back("group", vu->group_path());
    if (vu->SystemTagEnabled(kTagProto) && !r.proto.empty()) tags.emplace_back("proto", r.proto);
    if (vu->SystemTagEnabled(kTagStatus)) tags.emplace_back("status", absl::StrCat(r.status));
    if (vu->SystemTagEnabled(kTagMethod)) tags.emplace_back("method", spec.request.method);
    if (vu->SystemTagEnabled(kTagUrl)) tags.emplace_back("url", url);
    if (vu->SystemTagEnabled(kTagName)) tags.emplace_back("name", name);
    if (vu->SystemTagEnabled(kTagExpectedResponse) && spec.has_callback) {
      tags.emplace_back("expected_response", expected ? "true" : "false");
    }
    if (r.error_code != 0) {
      if (vu->SystemTagEnabled(kTagErrorCode)) {
        tags.emplace_back("error_code", absl::StrCat(r.error_code));
      }
      if (vu->SystemTagEnabled(kTagError) && !r.error.empty()) tags.emplace_back("error", r.error);
    }
    if (vu->SystemTagEnabled(kTagTlsVersion) && !r.tls_version.empty()) {
      tags.emplace_back("tls_version", r.tls_version);
    }
    tags.insert(tags.end(), spec.user_tags.begin(), spec.user_tags.end());
    *cached = vu->aggregator()->Intern(tags);
  }
  return *cached;
}

// One request's samples (one hop of a redirect chain). A hop tagged like the VU's previous one
// (the common case: a script repeating its requests) reuses that hop's resolved series.
void EmitHop(VuImpl* vu, const RequestSpec& spec, const loop::HttpResponse& r,
             const std::string& url) {
  bool expected = spec.has_callback && IsExpected(vu, spec, r);
  const std::string& name = spec.name_tag.empty() ? url : spec.name_tag;
  char expected_flag = spec.has_callback ? (expected ? '1' : '0') : '-';
  metrics::Aggregator* agg = vu->aggregator();
  VuImpl::HopMemo& memo = vu->hop_memo;
  bool same = memo.epoch == vu->tags_epoch() && memo.status == r.status &&
              memo.error_code == r.error_code && memo.expected == expected_flag &&
              memo.url == url && memo.name == name && memo.method == spec.request.method &&
              memo.group == vu->group_path() && memo.proto == r.proto &&
              memo.tls_version == r.tls_version && memo.error == r.error &&
              memo.user_tags == spec.user_tags;
  if (!same) {
    metrics::TagSetId tags = HopTags(vu, spec, r, url, name, expected);
    memo.epoch = vu->tags_epoch();
    memo.status = r.status;
    memo.error_code = r.error_code;
    memo.expected = expected_flag;
    memo.url = url;
    memo.name = name;
    memo.method = spec.request.method;
    memo.group = vu->group_path();
    memo.proto = r.proto;
    memo.tls_version = r.tls_version;
    memo.error = r.error;
    memo.user_tags = spec.user_tags;
    for (std::size_t i = 0; i < std::size(kHopMetrics); ++i) {
      // http_req_failed only exists with a response callback; no series without samples.
      bool used = kHopMetrics[i] != metrics::builtin::kHttpReqFailed || spec.has_callback;
      memo.series[i] =
          used ? agg->Series(kHopMetrics[i], tags) : metrics::Aggregator::kDroppedSeries;
    }
  }

  const loop::HttpTimings& t = r.timings;
  const double values[] = {1,          t.duration, t.blocked, t.connecting, t.tls_handshaking,
                           t.sending,  t.waiting,  t.receiving};
  for (std::size_t i = 0; i < std::size(values); ++i) agg->AddTo(memo.series[i], values[i]);
  if (spec.has_callback) agg->AddTo(memo.series[8], expected ? 0 : 1);
  vu->AddTraffic(r.bytes_sent, r.bytes_received);
}

void EmitRequestMetrics(VuImpl* vu, const RequestSpec& spec, const loop::HttpResponse& r) {
  // The first hop is tagged with the URL as the script wrote it; later hops with their own.
  for (std::size_t i = 0; i < r.redirects.size(); ++i) {
    EmitHop(vu, spec, r.redirects[i], i == 0 ? spec.request.url : r.redirects[i].url);
  }
  EmitHop(vu, spec, r, r.redirects.empty() || r.url.empty() ? spec.request.url : r.url);
}

// ---- response objects ----

enum ResponseField {
  kStatus,
  kStatusText,
  kBody,
  kHeaders,
  kUrl,
  kProto,
  kRemoteIp,
  kRemotePort,
  kTimings,
  kError,
  kErrorCode,
  kTlsVersion,
  kRequest,
  kCookies,
};

// Internal fields of a response object: the C++ data, then caches of the values built on first
// read (native data properties run their getter on every read; the caches make that cheap).
enum ResponseSlot {
  kDataSlot,
  kBodySlot,
  kHeadersSlot,
  kTimingsSlot,
  kRequestSlot,
  kCookiesSlot,
  kJsonSlot,
  kSlotCount
};

ResponseData* DataOf(v8::Local<v8::Object> holder) {
  if (holder->InternalFieldCount() != kSlotCount) return nullptr;
  return static_cast<ResponseData*>(holder->GetAlignedPointerFromInternalField(kDataSlot));
}

// The cached value in `slot`, or an empty handle when not built yet.
v8::Local<v8::Value> Cached(v8::Local<v8::Object> holder, ResponseSlot slot) {
  v8::Local<v8::Value> v = holder->GetInternalField(slot);
  if (v->IsUndefined()) return {};
  return v;
}

const char* ReasonPhrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 413:
      return "Request Entity Too Large";
    case 418:
      return "I'm a teapot";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "";
  }
}

v8::Local<v8::Object> HeadersObject(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                    const loop::HeaderList& headers) {
  v8::Local<v8::Object> object = v8::Object::New(isolate);
  for (const auto& [name, value] : headers) {
    v8::Local<v8::String> key = V8Str(isolate, name);
    v8::Local<v8::Value> existing;
    if (object->Get(context, key).ToLocal(&existing) && existing->IsString()) {
      // Repeated headers join with ", " (Set-Cookie too, as k6 does).
      object->Set(context, key, V8Str(isolate, ToStdString(isolate, existing) + ", " + value))
          .Check();
    } else {
      object->Set(context, key, V8Str(isolate, value)).Check();
    }
  }
  return object;
}

v8::Local<v8::Value> BuildField(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                ResponseData* d, ResponseField field);

// res.cookies: name -> [{name, value, domain, path, http_only, secure, max_age, expires}], from
// the Set-Cookie headers of the final response, parsed on first read.
v8::Local<v8::Object> ResponseCookies(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                      std::string_view raw_headers) {
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  for (const auto& [name, value] : loop::ParseHeaders(raw_headers)) {
    if (name != "Set-Cookie") continue;
    std::optional<loop::SetCookie> c = loop::ParseSetCookie(value);
    if (!c) continue;
    v8::Local<v8::Object> o = v8::Object::New(isolate);
    auto put = [&](const char* key, v8::Local<v8::Value> v) {
      o->Set(context, V8Name(isolate, key), v).Check();
    };
    put("name", V8Str(isolate, c->name));
    put("value", V8Str(isolate, c->value));
    put("domain", V8Str(isolate, c->domain));
    put("path", V8Str(isolate, c->path));
    put("http_only", v8::Boolean::New(isolate, c->http_only));
    put("secure", v8::Boolean::New(isolate, c->secure));
    put("max_age", v8::Integer::New(isolate, c->max_age));
    put("expires", v8::Number::New(isolate, static_cast<double>(c->expires_ms)));
    v8::Local<v8::String> key = V8Str(isolate, c->name);
    v8::Local<v8::Value> list;
    if (!out->Get(context, key).ToLocal(&list) || !list->IsArray()) {
      list = v8::Array::New(isolate);
      out->Set(context, key, list).Check();
    }
    v8::Local<v8::Array> array = list.As<v8::Array>();
    array->Set(context, array->Length(), o).Check();
  }
  return out;
}

ResponseSlot SlotOf(ResponseField field) {
  switch (field) {
    case kBody:
      return kBodySlot;
    case kHeaders:
      return kHeadersSlot;
    case kTimings:
      return kTimingsSlot;
    case kRequest:
      return kRequestSlot;
    case kCookies:
      return kCookiesSlot;
    default:
      return kDataSlot;
  }
}

void ResponseGetter(v8::Local<v8::String>, const v8::PropertyCallbackInfo<v8::Value>& info) {
  v8::Isolate* isolate = info.GetIsolate();
  v8::Local<v8::Object> holder = info.Holder();
  ResponseData* d = DataOf(holder);
  if (d == nullptr) return;
  auto field = static_cast<ResponseField>(info.Data().As<v8::Int32>()->Value());
  ResponseSlot slot = SlotOf(field);
  if (slot != kDataSlot) {
    v8::Local<v8::Value> cached = Cached(holder, slot);
    if (cached.IsEmpty()) {
      cached = BuildField(isolate, isolate->GetCurrentContext(), d, field);
      holder->SetInternalField(slot, cached);
    }
    info.GetReturnValue().Set(cached);
    return;
  }
  info.GetReturnValue().Set(BuildField(isolate, isolate->GetCurrentContext(), d, field));
}

// Assigning to a response field turns it into a plain data property (k6 responses are plain
// objects, and scripts occasionally overwrite a field).
void ResponseSetter(v8::Local<v8::String> name, v8::Local<v8::Value> value,
                    const v8::PropertyCallbackInfo<void>& info) {
  v8::Local<v8::Context> context = info.GetIsolate()->GetCurrentContext();
  info.Holder()->CreateDataProperty(context, name, value).FromMaybe(false);
}

v8::Local<v8::Value> BuildField(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                ResponseData* d, ResponseField field) {
  const loop::HttpResponse& r = d->response;
  switch (field) {
    case kStatus:
      return v8::Integer::New(isolate, r.status);
    case kStatusText:
      return V8Str(isolate, r.status == 0 ? std::string()
                                          : absl::StrCat(r.status, " ", ReasonPhrase(r.status)));
    case kBody:
      if (d->response_type == ResponseType::kNone || (r.status == 0 && r.body.empty())) {
        return v8::Null(isolate);
      }
      if (d->response_type == ResponseType::kBinary) return NewArrayBuffer(isolate, r.body);
      return V8Str(isolate, r.body);
    case kHeaders:
      return HeadersObject(isolate, context, loop::ParseHeaders(r.raw_headers));
    case kUrl:
      return V8Str(isolate, r.url.empty() ? d->request_url : r.url);
    case kProto:
      return V8Str(isolate, r.proto);
    case kRemoteIp:
      return V8Str(isolate, r.remote_ip);
    case kRemotePort:
      return v8::Integer::New(isolate, r.remote_port);
    case kTimings: {
      v8::Local<v8::Object> t = v8::Object::New(isolate);
      auto put = [&](const char* name, double value) {
        t->Set(context, V8Name(isolate, name), v8::Number::New(isolate, value)).Check();
      };
      put("blocked", r.timings.blocked);
      put("connecting", r.timings.connecting);
      put("tls_handshaking", r.timings.tls_handshaking);
      put("sending", r.timings.sending);
      put("waiting", r.timings.waiting);
      put("receiving", r.timings.receiving);
      put("duration", r.timings.duration);
      return t;
    }
    case kError:
      return V8Str(isolate, r.error);
    case kErrorCode:
      return v8::Integer::New(isolate, r.error_code);
    case kTlsVersion:
      return V8Str(isolate, r.tls_version);
    case kRequest: {
      v8::Local<v8::Object> req = v8::Object::New(isolate);
      req->Set(context, V8Name(isolate, "method"), V8Str(isolate, d->method)).Check();
      req->Set(context, V8Name(isolate, "url"), V8Str(isolate, d->request_url)).Check();
      req->Set(context, V8Name(isolate, "body"), V8Str(isolate, d->request_body)).Check();
      v8::Local<v8::Object> headers = v8::Object::New(isolate);
      for (const auto& [name, value] : d->request_headers) {
        v8::Local<v8::String> key = V8Str(isolate, name);
        v8::Local<v8::Value> list;
        if (!headers->Get(context, key).ToLocal(&list) || !list->IsArray()) {
          list = v8::Array::New(isolate);
          headers->Set(context, key, list).Check();
        }
        v8::Local<v8::Array> array = list.As<v8::Array>();
        array->Set(context, array->Length(), V8Str(isolate, value)).Check();
      }
      req->Set(context, V8Name(isolate, "headers"), headers).Check();
      req->Set(context, V8Name(isolate, "cookies"), v8::Object::New(isolate)).Check();
      return req;
    }
    case kCookies:
      return ResponseCookies(isolate, context, r.raw_headers);
  }
  return v8::Undefined(isolate);
}

// Applies a gjson-like path ("a.b.0.c", "items.#") to a parsed JSON value.
v8::Local<v8::Value> SelectPath(v8::Isolate* isolate, v8::Local<v8::Context> context,
                                v8::Local<v8::Value> value, const std::string& path) {
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    if (value->IsArray()) {
      v8::Local<v8::Array> array = value.As<v8::Array>();
      if (part == "#") {
        value = v8::Integer::NewFromUnsigned(isolate, array->Length());
        continue;
      }
      uint32_t index;
      if (!absl::SimpleAtoi(part, &index) || index >= array->Length()) return v8::Null(isolate);
      value = array->Get(context, index).ToLocalChecked();
    } else if (value->IsObject()) {
      v8::Local<v8::Object> object = value.As<v8::Object>();
      v8::Local<v8::String> key = V8Str(isolate, std::string_view(part.data(), part.size()));
      if (!object->HasOwnProperty(context, key).FromMaybe(false)) return v8::Null(isolate);
      value = object->Get(context, key).ToLocalChecked();
    } else {
      return v8::Null(isolate);
    }
  }
  return value;
}

// response.json(selector?)
void ResponseJson(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Object> self = args.This();
  ResponseData* d = DataOf(self);
  if (d == nullptr) return ThrowTypeError(isolate, "json() needs a response");
  if (d->response_type == ResponseType::kNone) {
    return ThrowError(isolate,
                      "the body is null so we can't transform it to JSON - this likely "
                      "was because of a request error getting the response");
  }
  v8::Local<v8::Value> parsed = Cached(self, kJsonSlot);
  if (parsed.IsEmpty()) {
    if (!v8::JSON::Parse(context, V8Str(isolate, d->response.body)).ToLocal(&parsed)) return;
    self->SetInternalField(kJsonSlot, parsed);
  }
  if (args.Length() > 0 && args[0]->IsString()) {
    std::string path = ToStdString(isolate, args[0]);
    if (!path.empty()) parsed = SelectPath(isolate, context, parsed, path);
  }
  args.GetReturnValue().Set(parsed);
}

void ResponseHtml(const v8::FunctionCallbackInfo<v8::Value>& args) {
  ThrowError(args.GetIsolate(), "response.html() is not supported by volley");
}

v8::Local<v8::ObjectTemplate> ResponseTemplate(VuImpl* vu) {
  v8::Isolate* isolate = vu->isolate();
  if (vu->response_template.IsEmpty()) {
    v8::Local<v8::FunctionTemplate> ctor = v8::FunctionTemplate::New(isolate);
    ctor->SetClassName(V8Name(isolate, "Response"));
    v8::Local<v8::ObjectTemplate> proto = ctor->PrototypeTemplate();
    proto->Set(V8Name(isolate, "json"), NewMethodTemplate(isolate, &ResponseJson));
    proto->Set(V8Name(isolate, "html"), NewMethodTemplate(isolate, &ResponseHtml));
    v8::Local<v8::ObjectTemplate> t = ctor->InstanceTemplate();
    t->SetInternalFieldCount(kSlotCount);
    static const std::pair<const char*, ResponseField> kFields[] = {
        {"status", kStatus},
        {"status_text", kStatusText},
        {"body", kBody},
        {"headers", kHeaders},
        {"url", kUrl},
        {"proto", kProto},
        {"remote_ip", kRemoteIp},
        {"remote_port", kRemotePort},
        {"timings", kTimings},
        {"error", kError},
        {"error_code", kErrorCode},
        {"tls_version", kTlsVersion},
        {"request", kRequest},
        {"cookies", kCookies},
    };
    for (const auto& [name, field] : kFields) {
      t->SetNativeDataProperty(V8Name(isolate, name), &ResponseGetter, &ResponseSetter,
                               v8::Int32::New(isolate, field));
    }
    vu->response_template.Reset(isolate, t);
  }
  return vu->response_template.Get(isolate);
}

v8::Local<v8::Object> MakeResponse(VuImpl* vu, v8::Local<v8::Context> context, RequestSpec* spec,
                                   loop::HttpResponse* response) {
  v8::Isolate* isolate = vu->isolate();
  v8::Local<v8::Object> object = ResponseTemplate(vu)->NewInstance(context).ToLocalChecked();
  auto* d = new ResponseData;
  d->response = std::move(*response);
  d->response.redirects.clear();
  d->method = spec->request.method;
  d->request_url = std::move(spec->request.url);
  d->request_headers = std::move(spec->request.headers);
  d->request_body = std::move(spec->request.body);
  d->response_type = spec->response_type;
  d->vu = vu;
  d->external_bytes = static_cast<std::int64_t>(sizeof(ResponseData) + d->response.body.size() +
                                                d->request_body.size());
  object->SetAlignedPointerInInternalField(kDataSlot, d);
  d->handle.Reset(isolate, object);
  d->handle.SetWeak(d, &OnResponseCollected, v8::WeakCallbackType::kParameter);
  d->next = vu->responses_;
  if (d->next != nullptr) d->next->prev = d;
  vu->responses_ = d;
  // Bodies live outside the JS heap: tell the GC, so a loop full of big responses collects.
  std::int64_t change = d->external_bytes - vu->external_bytes_released_;
  vu->external_bytes_released_ = 0;
  if (change != 0) isolate->AdjustAmountOfExternalAllocatedMemory(change);
  return object;
}

// ---- the module's functions ----

bool CheckNotInit(VuImpl* vu) {
  if (vu->in_init()) {
    ThrowError(vu->isolate(), "Making http requests in the init context is not supported");
    return false;
  }
  return true;
}

// Sends one parsed request and returns its response object (or throws).
void SendOne(const v8::FunctionCallbackInfo<v8::Value>& args, RequestSpec* spec) {
  v8::Isolate* isolate = args.GetIsolate();
  VuImpl* vu = VuImpl::From(isolate);
  if (vu->interrupted()) return;
  loop::HttpResponse response = vu->http()->Do(spec->request);
  if (vu->interrupted()) return;
  EmitRequestMetrics(vu, *spec, response);
  // options.throw: transport errors throw; 4xx/5xx (error_code 1xxx, no error text) do not.
  if (!response.error.empty() && vu->test().throw_on_error) {
    return ThrowError(isolate, response.error);
  }
  args.GetReturnValue().Set(MakeResponse(vu, isolate->GetCurrentContext(), spec, &response));
}

v8::Local<v8::Value> Arg(const v8::FunctionCallbackInfo<v8::Value>& args, int i) {
  return i < args.Length() ? args[i] : v8::Undefined(args.GetIsolate()).As<v8::Value>();
}

// get/head(url, params); `data` holds the method.
void NoBodyMethod(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  VuImpl* vu = VuImpl::From(isolate);
  if (!CheckNotInit(vu)) return;
  RequestSpec spec;
  if (!ParseRequest(vu, isolate->GetCurrentContext(), ToStdString(isolate, args.Data()),
                    Arg(args, 0), v8::Local<v8::Value>(), Arg(args, 1), &spec)) {
    return;
  }
  SendOne(args, &spec);
}

// post/put/patch/del/options(url, body, params); `data` holds the method.
void BodyMethod(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  VuImpl* vu = VuImpl::From(isolate);
  if (!CheckNotInit(vu)) return;
  RequestSpec spec;
  if (!ParseRequest(vu, isolate->GetCurrentContext(), ToStdString(isolate, args.Data()),
                    Arg(args, 0), Arg(args, 1), Arg(args, 2), &spec)) {
    return;
  }
  SendOne(args, &spec);
}

// request(method, url, body, params)
void Request(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  VuImpl* vu = VuImpl::From(isolate);
  if (!CheckNotInit(vu)) return;
  RequestSpec spec;
  if (!ParseRequest(vu, isolate->GetCurrentContext(), ToStdString(isolate, Arg(args, 0)),
                    Arg(args, 1), Arg(args, 2), Arg(args, 3), &spec)) {
    return;
  }
  SendOne(args, &spec);
}

// One element of a batch: "url", [method, url, body, params] or {method, url, body, params}.
bool ParseBatchItem(VuImpl* vu, v8::Local<v8::Context> context, v8::Local<v8::Value> item,
                    RequestSpec* spec) {
  v8::Isolate* isolate = vu->isolate();
  if (item->IsString()) {
    return ParseRequest(vu, context, "GET", item, {}, {}, spec);
  }
  if (item->IsArray()) {
    v8::Local<v8::Array> a = item.As<v8::Array>();
    auto at = [&](uint32_t i) {
      return i < a->Length() ? a->Get(context, i).ToLocalChecked()
                             : v8::Undefined(isolate).As<v8::Value>();
    };
    if (a->Length() < 2) {
      ThrowError(isolate, "a batch request array needs at least a method and a URL");
      return false;
    }
    return ParseRequest(vu, context, ToStdString(isolate, at(0)), at(1), at(2), at(3), spec);
  }
  if (item->IsObject()) {
    v8::Local<v8::Object> o = item.As<v8::Object>();
    auto get = [&](const char* name) {
      v8::Local<v8::Value> v;
      if (!o->Get(context, V8Name(isolate, name)).ToLocal(&v)) v = v8::Undefined(isolate);
      return v;
    };
    v8::Local<v8::Value> method = get("method");
    return ParseRequest(vu, context, method->IsUndefined() ? "GET" : ToStdString(isolate, method),
                        get("url"), get("body"), get("params"), spec);
  }
  ThrowError(isolate, "invalid batch request");
  return false;
}

// batch(array | object) -> responses in the same shape.
void Batch(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  VuImpl* vu = VuImpl::From(isolate);
  if (!CheckNotInit(vu)) return;
  if (args.Length() < 1 || !args[0]->IsObject()) {
    return ThrowTypeError(isolate, "batch() needs an array or an object of requests");
  }
  v8::Local<v8::Object> input = args[0].As<v8::Object>();
  bool is_array = input->IsArray();
  v8::Local<v8::Array> keys;
  if (is_array) {
    uint32_t n = input.As<v8::Array>()->Length();
    keys = v8::Array::New(isolate, static_cast<int>(n));
    for (uint32_t i = 0; i < n; ++i)
      keys->Set(context, i, v8::Integer::NewFromUnsigned(isolate, i)).Check();
  } else if (!input->GetOwnPropertyNames(context).ToLocal(&keys)) {
    return;
  }
  std::vector<RequestSpec> specs(keys->Length());
  std::vector<loop::HttpRequest> requests;
  requests.reserve(specs.size());
  for (uint32_t i = 0; i < keys->Length(); ++i) {
    v8::Local<v8::Value> item;
    if (!input->Get(context, keys->Get(context, i).ToLocalChecked()).ToLocal(&item)) return;
    if (!ParseBatchItem(vu, context, item, &specs[i])) return;
    requests.push_back(specs[i].request);
  }
  if (vu->interrupted()) return;
  std::vector<loop::HttpResponse> responses = vu->http()->DoBatch(requests);
  if (vu->interrupted()) return;
  v8::Local<v8::Object> out =
      is_array ? v8::Array::New(isolate, static_cast<int>(specs.size())).As<v8::Object>()
               : v8::Object::New(isolate);
  std::string first_error;
  for (std::size_t i = 0; i < specs.size() && i < responses.size(); ++i) {
    EmitRequestMetrics(vu, specs[i], responses[i]);
    if (!responses[i].error.empty() && first_error.empty()) first_error = responses[i].error;
    out->Set(context, keys->Get(context, static_cast<uint32_t>(i)).ToLocalChecked(),
             MakeResponse(vu, context, &specs[i], &responses[i]))
        .Check();
  }
  if (!first_error.empty() && vu->test().throw_on_error) return ThrowError(isolate, first_error);
  args.GetReturnValue().Set(out);
}

// http.url`https://x/${id}` -> {url: "https://x/5", name: "https://x/${}"}
void Url(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (args.Length() < 1 || !args[0]->IsArray()) {
    return ThrowTypeError(isolate, "http.url must be used as a template tag");
  }
  v8::Local<v8::Array> parts = args[0].As<v8::Array>();
  std::string url, name;
  for (uint32_t i = 0; i < parts->Length(); ++i) {
    std::string part = ToStdString(isolate, parts->Get(context, i).ToLocalChecked());
    url += part;
    name += part;
    if (i + 1 < parts->Length()) {
      url += static_cast<int>(i + 1) < args.Length() ? ToStdString(isolate, args[i + 1]) : "";
      name += "${}";
    }
  }
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  out->Set(context, V8Name(isolate, "url"), V8Str(isolate, url)).Check();
  out->Set(context, V8Name(isolate, "name"), V8Str(isolate, name)).Check();
  args.GetReturnValue().Set(out);
}

// http.file(data, [filename], [contentType]) -> a FileData {data, filename, content_type}.
// As in k6, `data` (a string, an Array of numbers, an ArrayBuffer such as open(path, 'b')
// returns, or a typed array) becomes bytes: here an ArrayBuffer (the same one when given one),
// where k6 has a []byte. The filename defaults to the Unix time in nanoseconds, the content type
// to application/octet-stream, as k6's do.
void File(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  VuImpl* vu = VuImpl::From(isolate);
  v8::Local<v8::Value> data = Arg(args, 0);
  v8::Local<v8::Value> bytes;
  if (data->IsArrayBuffer()) {
    bytes = data;
  } else if (data->IsArray()) {
    v8::Local<v8::Array> array = data.As<v8::Array>();
    std::string raw(array->Length(), '\0');
    for (uint32_t i = 0; i < array->Length(); ++i) {
      v8::Local<v8::Value> element;
      if (!array->Get(context, i).ToLocal(&element)) return;
      raw[i] = static_cast<char>(element->Int32Value(context).FromMaybe(0));
    }
    bytes = NewArrayBuffer(isolate, raw);
  } else {
    std::string raw;
    if (!BytesOf(isolate, data, &raw)) {
      return ThrowTypeError(isolate,
                            "http.file() data must be a string, an Array or an ArrayBuffer");
    }
    bytes = NewArrayBuffer(isolate, raw);
  }

  v8::Local<v8::Value> filename = Arg(args, 1);
  if (filename->IsUndefined()) {
    auto now = std::chrono::system_clock::now().time_since_epoch();
    filename = V8Str(
        isolate, absl::StrCat(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count()));
  }
  v8::Local<v8::Value> content_type = Arg(args, 2);
  if (content_type->IsUndefined()) content_type = V8Name(isolate, "application/octet-stream");

  v8::Local<v8::Object> file = v8::Object::New(isolate);
  file->Set(context, V8Name(isolate, "data"), bytes).Check();
  file->Set(context, V8Name(isolate, "filename"), V8Str(isolate, ToStdString(isolate, filename)))
      .Check();
  file->Set(context, V8Name(isolate, "content_type"),
            V8Str(isolate, ToStdString(isolate, content_type)))
      .Check();
  file->SetPrivate(context, FileDataKey(vu), v8::True(isolate)).Check();
  args.GetReturnValue().Set(file);
}

// expectedStatuses(200, {min: 300, max: 399}, ...) -> an opaque callback object.
void ExpectedStatuses(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  VuImpl* vu = VuImpl::From(isolate);
  v8::Local<v8::Array> ranges = v8::Array::New(isolate);
  uint32_t n = 0;
  for (int i = 0; i < args.Length(); ++i) {
    int min, max;
    if (args[i]->IsNumber()) {
      min = max = args[i]->Int32Value(context).FromMaybe(0);
    } else if (args[i]->IsObject()) {
      v8::Local<v8::Object> o = args[i].As<v8::Object>();
      v8::Local<v8::Value> lo, hi;
      if (!o->Get(context, V8Name(isolate, "min")).ToLocal(&lo) ||
          !o->Get(context, V8Name(isolate, "max")).ToLocal(&hi) || !lo->IsNumber() ||
          !hi->IsNumber()) {
        return ThrowError(isolate, "expectedStatuses() takes numbers and {min, max} objects");
      }
      min = lo->Int32Value(context).FromMaybe(0);
      max = hi->Int32Value(context).FromMaybe(0);
    } else {
      return ThrowError(isolate, "expectedStatuses() takes numbers and {min, max} objects");
    }
    ranges->Set(context, n++, v8::Integer::New(isolate, min)).Check();
    ranges->Set(context, n++, v8::Integer::New(isolate, max)).Check();
  }
  if (vu->statuses_key.IsEmpty()) {
    vu->statuses_key.Reset(isolate, v8::Private::New(isolate, V8Name(isolate, "volley.statuses")));
  }
  v8::Local<v8::Object> callback = v8::Object::New(isolate);
  callback->SetPrivate(context, vu->statuses_key.Get(isolate), ranges).Check();
  args.GetReturnValue().Set(callback);
}

void SetResponseCallback(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  VuImpl* vu = VuImpl::From(isolate);
  v8::Local<v8::Value> callback = Arg(args, 0);
  if (callback->IsNullOrUndefined()) {
    vu->response_callback_set = false;
    vu->expected_statuses.clear();
  } else if (ReadStatusRanges(vu, isolate->GetCurrentContext(), callback, &vu->expected_statuses)) {
    vu->response_callback_set = true;
  } else {
    return ThrowError(isolate, "setResponseCallback() takes what http.expectedStatuses() returns");
  }
  vu->VuTagsChanged();  // cached request tag sets carry expected_response
}

// ---- http.cookieJar(): the VU's jar, in the loop::HttpClient ----

loop::HttpClient* JarOf(const v8::FunctionCallbackInfo<v8::Value>& args, int min_args,
                        std::string* url) {
  v8::Isolate* isolate = args.GetIsolate();
  if (args.Length() < min_args) {
    ThrowTypeError(isolate, "missing arguments to a cookie jar method");
    return nullptr;
  }
  *url = ToStdString(isolate, args[0]);
  if (!absl::StartsWithIgnoreCase(*url, "http://") &&
      !absl::StartsWithIgnoreCase(*url, "https://")) {
    ThrowError(isolate, absl::StrCat("invalid URL \"", *url, "\" for a cookie jar"));
    return nullptr;
  }
  return VuImpl::From(isolate)->http();
}

bool IsIpAddress(std::string_view host) {
  return host.find(':') != std::string_view::npos ||
         std::all_of(host.begin(), host.end(),
                     [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

// jar.set(url, name, value, [{domain, path, expires, max_age, secure, http_only}]), with the
// rules of Go's cookiejar.SetCookies for a cookie set on `url`: no domain makes a host-only
// cookie, a domain the host does not belong to is ignored, a path not starting with "/" is the
// URL's default path, max_age < 0 or a past expires removes the cookie.
void JarSet(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  std::string url;
  loop::HttpClient* jar = JarOf(args, 3, &url);
  if (jar == nullptr) return;
  loop::JarCookie c;
  c.name = ToStdString(isolate, args[1]);
  c.value = ToStdString(isolate, args[2]);
  std::string host = loop::UrlHost(url);
  std::string domain, path;
  std::int64_t max_age = 0, expires = 0;
  if (args.Length() > 3 && args[3]->IsObject()) {
    v8::Local<v8::Object> o = args[3].As<v8::Object>();
    v8::Local<v8::Value> v;
    auto get = [&](const char* key) {
      return o->Get(context, V8Name(isolate, key)).ToLocal(&v) && !v->IsNullOrUndefined();
    };
    if (get("domain")) domain = absl::AsciiStrToLower(ToStdString(isolate, v));
    if (get("path")) path = ToStdString(isolate, v);
    if (get("expires")) {
      std::string text = ToStdString(isolate, v);
      if (!text.empty()) {
        std::optional<std::int64_t> t = loop::ParseCookieDate(text);
        if (!t) {
          return ThrowError(isolate,
                            absl::StrCat("unable to parse \"expires\" date string \"", text, "\""));
        }
        expires = *t;
      }
    }
    if (get("max_age")) max_age = static_cast<std::int64_t>(v->IntegerValue(context).FromMaybe(0));
    if (get("secure")) c.secure = v->BooleanValue(isolate);
    if (get("http_only")) c.http_only = v->BooleanValue(isolate);
  }
  if (!domain.empty() && domain.front() == '.') domain.erase(0, 1);
  if (domain.empty() || (IsIpAddress(host) && domain == host)) {
    c.domain = host;
  } else if (!IsIpAddress(host) &&
             (domain == host ||
              (host.ends_with(domain) && host[host.size() - domain.size() - 1] == '.'))) {
    c.domain = domain;
    c.host_only = false;
  } else {
    return;  // Go's jar drops a cookie for a domain the URL is not in
  }
  c.path = path.starts_with('/') ? path : loop::DefaultCookiePath(url);
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  if (max_age < 0 || (max_age == 0 && expires != 0 && expires <= now)) {
    c.expires_s = 1;  // in the past: removes the jar's cookie with this domain, path and name
  } else if (max_age > 0) {
    c.expires_s = now + max_age;
  } else {
    c.expires_s = expires;
  }
  jar->SetCookie(c);
}

// jar.cookiesForURL(url) -> {name: [value, ...]}
void JarCookiesForUrl(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  std::string url;
  loop::HttpClient* jar = JarOf(args, 1, &url);
  if (jar == nullptr) return;
  v8::Local<v8::Object> out = v8::Object::New(isolate);
  for (const loop::JarCookie& c : jar->CookiesForUrl(url)) {
    v8::Local<v8::String> key = V8Str(isolate, c.name);
    v8::Local<v8::Value> list;
    if (!out->Get(context, key).ToLocal(&list) || !list->IsArray()) {
      list = v8::Array::New(isolate);
      out->Set(context, key, list).Check();
    }
    v8::Local<v8::Array> array = list.As<v8::Array>();
    array->Set(context, array->Length(), V8Str(isolate, c.value)).Check();
  }
  args.GetReturnValue().Set(out);
}

// jar.clear(url) and jar.delete(url, name): remove the cookies a request to url would carry
// (of that name).
void JarRemove(const v8::FunctionCallbackInfo<v8::Value>& args, bool by_name) {
  std::string url;
  loop::HttpClient* jar = JarOf(args, by_name ? 2 : 1, &url);
  if (jar == nullptr) return;
  std::string name = by_name ? ToStdString(args.GetIsolate(), args[1]) : std::string();
  for (loop::JarCookie& c : jar->CookiesForUrl(url)) {
    if (by_name && c.name != name) continue;
    c.expires_s = 1;
    jar->SetCookie(c);
  }
}

void JarClear(const v8::FunctionCallbackInfo<v8::Value>& args) { JarRemove(args, false); }
void JarDelete(const v8::FunctionCallbackInfo<v8::Value>& args) { JarRemove(args, true); }

void CookieJar(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  VuImpl* vu = VuImpl::From(isolate);
  if (vu->in_init()) {
    return ThrowError(isolate, "getting cookie jar in the init context is not supported");
  }
  if (vu->cookie_jar.IsEmpty()) {
    v8::Local<v8::Object> jar = v8::Object::New(isolate);
    SetMethod(isolate, context, jar, "set", &JarSet);
    SetMethod(isolate, context, jar, "cookiesForURL", &JarCookiesForUrl);
    SetMethod(isolate, context, jar, "clear", &JarClear);
    SetMethod(isolate, context, jar, "delete", &JarDelete);
    vu->cookie_jar.Reset(isolate, jar);
  }
  args.GetReturnValue().Set(vu->cookie_jar.Get(isolate));
}

}  // namespace

v8::Local<v8::Object> BuildHttpModule(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  v8::Local<v8::Object> module = v8::Object::New(isolate);
  SetMethod(isolate, context, module, "get", &NoBodyMethod, V8Name(isolate, "GET"));
  SetMethod(isolate, context, module, "head", &NoBodyMethod, V8Name(isolate, "HEAD"));
  SetMethod(isolate, context, module, "post", &BodyMethod, V8Name(isolate, "POST"));
  SetMethod(isolate, context, module, "put", &BodyMethod, V8Name(isolate, "PUT"));
  SetMethod(isolate, context, module, "patch", &BodyMethod, V8Name(isolate, "PATCH"));
  SetMethod(isolate, context, module, "del", &BodyMethod, V8Name(isolate, "DELETE"));
  SetMethod(isolate, context, module, "options", &BodyMethod, V8Name(isolate, "OPTIONS"));
  SetMethod(isolate, context, module, "request", &Request);
  SetMethod(isolate, context, module, "batch", &Batch);
  SetMethod(isolate, context, module, "url", &Url);
  SetMethod(isolate, context, module, "file", &File);
  SetMethod(isolate, context, module, "expectedStatuses", &ExpectedStatuses);
  SetMethod(isolate, context, module, "setResponseCallback", &SetResponseCallback);
  SetMethod(isolate, context, module, "cookieJar", &CookieJar);
  return module;
}

}  // namespace volley::js
