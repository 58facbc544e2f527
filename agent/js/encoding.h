// Base64 in the four variants k6 scripts use; shared by k6/encoding and k6/crypto. Pure
// functions, any thread.
#pragma once

#include <string>
#include <string_view>

namespace volley::js {

enum class Base64Variant { kStd, kRawStd, kUrl, kRawUrl };

// "std" (or ""), "rawstd", "url", "rawurl". False for anything else.
bool ParseBase64Variant(std::string_view name, Base64Variant* out);
std::string Base64Encode(std::string_view in, Base64Variant variant);
// False on characters outside the variant's alphabet.
bool Base64Decode(std::string_view in, Base64Variant variant, std::string* out);

}  // namespace volley::js
