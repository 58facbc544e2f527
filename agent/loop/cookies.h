// Cookies as k6 scripts see them: entries of a VU's jar (which lives in libcurl's cookie engine,
// see HttpClient) and the cookies of a response's Set-Cookie headers. Plain values and pure
// functions: any thread may use them. Matching follows RFC 6265 as Go's net/http/cookiejar (and
// so k6) applies it: host-only or domain cookies, path prefix, secure only over https.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace volley::loop {

// One entry of a cookie jar, in the terms of curl's Netscape cookie lines.
struct JarCookie {
  std::string domain;      // lower case, no leading dot
  bool host_only = true;   // false: the domain and its subdomains
  std::string path = "/";  // what the cookie's path attribute (or the default path) says
  bool secure = false;
  bool http_only = false;
  std::int64_t expires_s = 0;  // Unix seconds; 0 is a session cookie
  std::string name;
  std::string value;
};

// A line of CURLINFO_COOKIELIST ("#HttpOnly_" prefix, tab-separated fields) as a JarCookie;
// nullopt for comments and malformed lines.
std::optional<JarCookie> ParseNetscapeLine(std::string_view line);
// The line CURLOPT_COOKIELIST takes to add (or, with a past expiry, delete) `cookie`.
std::string NetscapeLine(const JarCookie& cookie);

// Whether a request to `url` (http or https) carries `cookie`.
bool CookieMatchesUrl(const JarCookie& cookie, std::string_view url);

// The host of an http(s) URL in lower case, without port or IPv6 brackets.
std::string UrlHost(std::string_view url);
// RFC 6265 default-path of a URL: its path up to (not including) the last "/", or "/".
std::string DefaultCookiePath(std::string_view url);

// One Set-Cookie header, with the fields k6 puts into res.cookies. Attribute values are as the
// server sent them (no defaults from the request URL), as Go's http.Response.Cookies() has them.
struct SetCookie {
  std::string name;
  std::string value;   // surrounding double quotes removed
  std::string domain;  // as sent, a leading dot included
  std::string path;
  bool http_only = false;
  bool secure = false;
  int max_age = 0;  // seconds; -1 when Max-Age <= 0 was sent, 0 when absent (as Go has it)
  // Expires in Unix milliseconds; without (or with an unreadable) Expires, what Go's zero time
  // gives k6 (time.Time{}.UnixNano() / 1e6), so scripts see k6's number.
  std::int64_t expires_ms = kNoExpiresMs;

  static constexpr std::int64_t kNoExpiresMs = -6795364578871;
};

// Parses the value of one Set-Cookie header; nullopt when it has no valid name.
std::optional<SetCookie> ParseSetCookie(std::string_view header_value);

// A cookie date ("Wed, 21 Oct 2015 07:28:00 GMT" and the other forms curl reads) in Unix
// seconds; nullopt when unreadable.
std::optional<std::int64_t> ParseCookieDate(std::string_view date);

// A request cookie as Go's http.Request.AddCookie writes it: bytes not allowed in a cookie value
// dropped, and the value quoted when it holds a space or a comma.
std::string CookiePair(std::string_view name, std::string_view value);

}  // namespace volley::loop
