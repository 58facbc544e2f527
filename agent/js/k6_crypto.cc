// The `k6/crypto` module through OpenSSL EVP: one-shot digests (md5(input, enc), ...), hmac(),
// createHash()/createHMAC() hashers and randomBytes(). A hasher keeps its algorithm, key and the
// data fed so far in JS internal fields, so it needs no finalizer; digest() may be called
// repeatedly and hashes everything given so far.
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <map>
#include <mutex>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "agent/js/encoding.h"
#include "agent/js/v8_util.h"
#include "agent/js/vu_impl.h"

namespace volley::js {
namespace {

// k6 algorithm name -> fetched digest (nullptr when this OpenSSL lacks it). Fetched once.
const EVP_MD* DigestByName(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, const EVP_MD*> cache;
  static const std::map<std::string, std::string> kOpenSslName = {
      {"md4", "MD4"},
      {"md5", "MD5"},
      {"sha1", "SHA1"},
      {"sha256", "SHA256"},
      {"sha384", "SHA384"},
      {"sha512", "SHA512"},
      {"sha512_224", "SHA512-224"},
      {"sha512_256", "SHA512-256"},
      {"ripemd160", "RIPEMD160"},
      {"sha224", "SHA224"},
  };
  auto name_it = kOpenSslName.find(name);
  if (name_it == kOpenSslName.end()) return nullptr;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  const EVP_MD* md = EVP_MD_fetch(nullptr, name_it->second.c_str(), nullptr);
  cache.emplace(name, md);
  return md;
}

bool Digest(const EVP_MD* md, const std::string* key, std::string_view data, std::string* out) {
  unsigned char buffer[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (key != nullptr) {
    if (HMAC(md, key->data(), static_cast<int>(key->size()),
             reinterpret_cast<const unsigned char*>(data.data()), data.size(), buffer,
             &length) == nullptr) {
      return false;
    }
  } else if (EVP_Digest(data.data(), data.size(), buffer, &length, md, nullptr) != 1) {
    return false;
  }
  out->assign(reinterpret_cast<char*>(buffer), length);
  return true;
}

// Encodes a digest as k6 does: "hex", "base64", "base64url", "base64rawurl", or "binary"
// (ArrayBuffer). Throws and returns an empty handle on an unknown encoding.
v8::Local<v8::Value> EncodeOutput(v8::Isolate* isolate, const std::string& digest,
                                  v8::Local<v8::Value> encoding_value) {
  std::string encoding = encoding_value.IsEmpty() || encoding_value->IsUndefined()
                             ? "binary"
                             : ToStdString(isolate, encoding_value);
  if (encoding == "hex") return V8Str(isolate, absl::BytesToHexString(digest));
  if (encoding == "base64") return V8Str(isolate, Base64Encode(digest, Base64Variant::kStd));
  if (encoding == "base64url") return V8Str(isolate, Base64Encode(digest, Base64Variant::kUrl));
  if (encoding == "base64rawurl") {
    return V8Str(isolate, Base64Encode(digest, Base64Variant::kRawUrl));
  }
  if (encoding == "binary") return NewArrayBuffer(isolate, digest);
  ThrowError(isolate, absl::StrCat("invalid output encoding: ", encoding));
  return {};
}

const EVP_MD* DigestOrThrow(v8::Isolate* isolate, const std::string& name) {
  const EVP_MD* md = DigestByName(name);
  if (md == nullptr) ThrowError(isolate, absl::StrCat("invalid algorithm: ", name));
  return md;
}

// md5(input, outputEncoding) etc.; `data` holds the algorithm name.
void OneShot(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  std::string name = ToStdString(isolate, args.Data());
  const EVP_MD* md = DigestOrThrow(isolate, name);
  if (md == nullptr) return;
  std::string input;
  if (args.Length() < 1 || !BytesOf(isolate, args[0], &input)) {
    ThrowTypeError(isolate, absl::StrCat(name, "() needs a string or an ArrayBuffer"));
    return;
  }
  std::string digest;
  if (!Digest(md, nullptr, input, &digest)) {
    ThrowError(isolate, "digest failed");
    return;
  }
  v8::Local<v8::Value> out =
      EncodeOutput(isolate, digest, args.Length() > 1 ? args[1] : v8::Local<v8::Value>());
  if (!out.IsEmpty()) args.GetReturnValue().Set(out);
}

// hmac(algorithm, secret, data, outputEncoding).
void Hmac(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  if (args.Length() < 3) {
    ThrowTypeError(isolate, "hmac() needs an algorithm, a secret and data");
    return;
  }
  const EVP_MD* md = DigestOrThrow(isolate, ToStdString(isolate, args[0]));
  if (md == nullptr) return;
  std::string key, data;
  if (!BytesOf(isolate, args[1], &key) || !BytesOf(isolate, args[2], &data)) {
    ThrowTypeError(isolate, "hmac() secret and data must be strings or ArrayBuffers");
    return;
  }
  std::string digest;
  if (!Digest(md, &key, data, &digest)) {
    ThrowError(isolate, "hmac failed");
    return;
  }
  v8::Local<v8::Value> out =
      EncodeOutput(isolate, digest, args.Length() > 3 ? args[3] : v8::Local<v8::Value>());
  if (!out.IsEmpty()) args.GetReturnValue().Set(out);
}

// Hasher internal fields.
enum HasherField { kAlgorithm, kKey, kChunks, kHasherFields };

v8::Local<v8::ObjectTemplate> HasherTemplate(v8::Isolate* isolate);

void NewHasher(const v8::FunctionCallbackInfo<v8::Value>& args, bool with_key) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (args.Length() < (with_key ? 2 : 1)) {
    ThrowTypeError(isolate, with_key ? "createHMAC() needs an algorithm and a secret"
                                     : "createHash() needs an algorithm");
    return;
  }
  std::string name = ToStdString(isolate, args[0]);
  if (DigestOrThrow(isolate, name) == nullptr) return;
  v8::Local<v8::Object> hasher = HasherTemplate(isolate)->NewInstance(context).ToLocalChecked();
  hasher->SetInternalField(kAlgorithm, V8Str(isolate, name));
  if (with_key) {
    std::string key;
    if (!BytesOf(isolate, args[1], &key)) {
      ThrowTypeError(isolate, "the HMAC secret must be a string or an ArrayBuffer");
      return;
    }
    hasher->SetInternalField(kKey, NewArrayBuffer(isolate, key));
  } else {
    hasher->SetInternalField(kKey, v8::Undefined(isolate));
  }
  hasher->SetInternalField(kChunks, v8::Array::New(isolate));
  args.GetReturnValue().Set(hasher);
}

void CreateHash(const v8::FunctionCallbackInfo<v8::Value>& args) { NewHasher(args, false); }
void CreateHmac(const v8::FunctionCallbackInfo<v8::Value>& args) { NewHasher(args, true); }

bool IsHasher(v8::Local<v8::Object> self) {
  return self->InternalFieldCount() == kHasherFields && self->GetInternalField(kChunks)->IsArray();
}

void HasherUpdate(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  if (!IsHasher(args.This())) return ThrowTypeError(isolate, "update() needs a hasher");
  std::string bytes;
  if (args.Length() < 1 || !BytesOf(isolate, args[0], &bytes)) {
    return ThrowTypeError(isolate, "update() needs a string or an ArrayBuffer");
  }
  v8::Local<v8::Array> chunks = args.This()->GetInternalField(kChunks).As<v8::Array>();
  chunks->Set(context, chunks->Length(), NewArrayBuffer(isolate, bytes)).Check();
}

void HasherDigest(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::Object> self = args.This();
  if (!IsHasher(self)) return ThrowTypeError(isolate, "digest() needs a hasher");
  const EVP_MD* md =
      DigestOrThrow(isolate, ToStdString(isolate, self->GetInternalField(kAlgorithm)));
  if (md == nullptr) return;
  std::string data, chunk, key;
  v8::Local<v8::Array> chunks = self->GetInternalField(kChunks).As<v8::Array>();
  for (uint32_t i = 0; i < chunks->Length(); ++i) {
    BytesOf(isolate, chunks->Get(context, i).ToLocalChecked(), &chunk);
    data += chunk;
  }
  v8::Local<v8::Value> key_value = self->GetInternalField(kKey);
  bool keyed = BytesOf(isolate, key_value, &key);
  std::string digest;
  if (!Digest(md, keyed ? &key : nullptr, data, &digest))
    return ThrowError(isolate, "digest failed");
  v8::Local<v8::Value> out =
      EncodeOutput(isolate, digest, args.Length() > 0 ? args[0] : v8::Local<v8::Value>());
  if (!out.IsEmpty()) args.GetReturnValue().Set(out);
}

v8::Local<v8::ObjectTemplate> HasherTemplate(v8::Isolate* isolate) {
  VuImpl* vu = VuImpl::From(isolate);
  if (vu->hasher_template.IsEmpty()) {
    v8::Local<v8::ObjectTemplate> t = v8::ObjectTemplate::New(isolate);
    t->SetInternalFieldCount(kHasherFields);
    t->Set(V8Name(isolate, "update"), NewMethodTemplate(isolate, &HasherUpdate));
    t->Set(V8Name(isolate, "digest"), NewMethodTemplate(isolate, &HasherDigest));
    vu->hasher_template.Reset(isolate, t);
  }
  return vu->hasher_template.Get(isolate);
}

void RandomBytes(const v8::FunctionCallbackInfo<v8::Value>& args) {
  v8::Isolate* isolate = args.GetIsolate();
  double n =
      args.Length() > 0 ? args[0]->NumberValue(isolate->GetCurrentContext()).FromMaybe(-1) : -1;
  if (!(n >= 0) || n > (1 << 30)) return ThrowError(isolate, "invalid size for randomBytes()");
  std::string bytes(static_cast<std::size_t>(n), '\0');
  if (!bytes.empty() &&
      RAND_bytes(reinterpret_cast<unsigned char*>(bytes.data()), static_cast<int>(n)) != 1) {
    return ThrowError(isolate, "randomBytes() failed");
  }
  args.GetReturnValue().Set(NewArrayBuffer(isolate, bytes));
}

}  // namespace

v8::Local<v8::Object> BuildCryptoModule(v8::Isolate* isolate, v8::Local<v8::Context> context) {
  v8::Local<v8::Object> module = v8::Object::New(isolate);
  for (const char* name : {"md4", "md5", "sha1", "sha256", "sha384", "sha512", "sha512_224",
                           "sha512_256", "ripemd160"}) {
    SetMethod(isolate, context, module, name, &OneShot, V8Name(isolate, name));
  }
  SetMethod(isolate, context, module, "hmac", &Hmac);
  SetMethod(isolate, context, module, "createHash", &CreateHash);
  SetMethod(isolate, context, module, "createHMAC", &CreateHmac);
  SetMethod(isolate, context, module, "randomBytes", &RandomBytes);
  return module;
}

}  // namespace volley::js
