// Cookie matching and parsing for the jar (HttpClient) and res.cookies (k6/http).
#include "agent/loop/cookies.h"

#include <curl/curl.h>

#include <charconv>
#include <cstdlib>
#include <ctime>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace volley::loop {
namespace {

// Split and Strip return views into the input (absl's would need string_view conversions both
// ways); Strip trims spaces and tabs only, as cookie syntax does.
std::vector<std::string_view> Split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    std::size_t at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

std::string_view Strip(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// absl's string helpers take absl::string_view, which is not std::string_view in this build.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

std::string Lower(std::string_view s) { return absl::AsciiStrToLower(Av(s)); }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return absl::EqualsIgnoreCase(Av(a), Av(b));
}

template <typename Int>
bool ParseInt(std::string_view s, Int* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

// RFC 6265 cookie-octet, as Go's validCookieValueByte has it.
bool ValidValueByte(unsigned char c) {
  return c >= 0x20 && c < 0x7f && c != '"' && c != ';' && c != '\\';
}

bool ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (c <= 0x20 || c >= 0x7f ||
        std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string_view UrlPath(std::string_view url) {
  std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "/";
  std::string_view rest = url.substr(scheme + 3);
  std::size_t start = rest.find_first_of("/?#");
  if (start == std::string_view::npos || rest[start] != '/') return "/";
  std::string_view path = rest.substr(start);
  return path.substr(0, path.find_first_of("?#"));
}

// RFC 6265 5.1.4 path-match.
bool PathMatches(std::string_view request_path, std::string_view cookie_path) {
  if (request_path == cookie_path) return true;
  if (!request_path.starts_with(cookie_path)) return false;
  return cookie_path.ends_with('/') || request_path[cookie_path.size()] == '/';
}

}  // namespace

std::optional<JarCookie> ParseNetscapeLine(std::string_view line) {
  JarCookie c;
  if (line.starts_with("#HttpOnly_")) {
    line.remove_prefix(10);
    c.http_only = true;
  } else if (line.starts_with('#')) {
    return std::nullopt;
  }
  std::vector<std::string_view> f = Split(line, '\t');
  if (f.size() < 6) return std::nullopt;
  std::string_view domain = f[0];
  if (domain.starts_with('.')) domain.remove_prefix(1);
  c.domain = Lower(domain);
  c.host_only = f[1] != "TRUE";
  c.path = std::string(f[2]);
  c.secure = f[3] == "TRUE";
  if (!ParseInt(f[4], &c.expires_s)) return std::nullopt;
  c.name = std::string(f[5]);
  if (f.size() > 6) c.value = std::string(f[6]);
  return c;
}

std::string NetscapeLine(const JarCookie& c) {
  std::string line = c.http_only ? "#HttpOnly_" : "";
  // A leading dot marks a domain cookie in curl's reading of the line, whatever field 2 says.
  if (!c.host_only) line += '.';
  line += c.domain;
  line += c.host_only ? "\tFALSE\t" : "\tTRUE\t";
  line += c.path.empty() ? "/" : c.path;
  line += c.secure ? "\tTRUE\t" : "\tFALSE\t";
  line += std::to_string(c.expires_s);
  line += '\t';
  line += c.name;
  line += '\t';
  line += c.value;
  return line;
}

std::string UrlHost(std::string_view url) {
  std::size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  if (std::size_t at = authority.rfind('@'); at != std::string_view::npos) {
    authority.remove_prefix(at + 1);
  }
  if (authority.starts_with('[')) {
    authority = authority.substr(1, authority.find(']') - 1);
  } else {
    authority = authority.substr(0, authority.rfind(':'));
  }
  return Lower(authority);
}

std::string DefaultCookiePath(std::string_view url) {
  std::string_view path = UrlPath(url);
  std::size_t slash = path.rfind('/');
  if (slash == 0 || slash == std::string_view::npos) return "/";
  return std::string(path.substr(0, slash));
}

bool CookieMatchesUrl(const JarCookie& cookie, std::string_view url) {
  if (cookie.secure && !EqualsIgnoreCase(url.substr(0, 8), "https://")) return false;
  if (cookie.expires_s != 0 && cookie.expires_s <= static_cast<std::int64_t>(std::time(nullptr))) {
    return false;
  }
  std::string host = UrlHost(url);
  if (host != cookie.domain) {
    if (cookie.host_only || host.size() <= cookie.domain.size() || !host.ends_with(cookie.domain) ||
        host[host.size() - cookie.domain.size() - 1] != '.') {
      return false;
    }
  }
  return PathMatches(UrlPath(url), cookie.path.empty() ? "/" : cookie.path);
}

std::optional<SetCookie> ParseSetCookie(std::string_view header_value) {
  std::vector<std::string_view> parts = Split(header_value, ';');
  std::string_view pair = Strip(parts[0]);
  std::size_t eq = pair.find('=');
  if (eq == std::string_view::npos) return std::nullopt;
  SetCookie c;
  std::string_view name = Strip(pair.substr(0, eq));
  if (!ValidName(name)) return std::nullopt;
  std::string_view value = Strip(pair.substr(eq + 1));
  if (value.size() > 1 && value.front() == '"' && value.back() == '"') {
    value = value.substr(1, value.size() - 2);
  }
  for (unsigned char ch : value) {
    if (!ValidValueByte(ch)) return std::nullopt;
  }
  c.name = std::string(name);
  c.value = std::string(value);

  for (std::size_t i = 1; i < parts.size(); ++i) {
    std::string_view attr = Strip(parts[i]);
    std::string_view val;
    if (std::size_t e = attr.find('='); e != std::string_view::npos) {
      val = Strip(attr.substr(e + 1));
      attr = Strip(attr.substr(0, e));
    }
    if (EqualsIgnoreCase(attr, "secure")) {
      c.secure = true;
    } else if (EqualsIgnoreCase(attr, "httponly")) {
      c.http_only = true;
    } else if (EqualsIgnoreCase(attr, "domain")) {
      c.domain = std::string(val);
    } else if (EqualsIgnoreCase(attr, "path")) {
      c.path = std::string(val);
    } else if (EqualsIgnoreCase(attr, "max-age")) {
      int secs = 0;
      // Go ignores values it cannot read and those with a leading zero.
      if (!ParseInt(val, &secs) || (secs != 0 && val.starts_with('0'))) continue;
      c.max_age = secs <= 0 ? -1 : secs;
    } else if (EqualsIgnoreCase(attr, "expires")) {
      std::optional<std::int64_t> t = ParseCookieDate(val);
      c.expires_ms = t ? *t * 1000 : SetCookie::kNoExpiresMs;
    }
  }
  return c;
}

std::optional<std::int64_t> ParseCookieDate(std::string_view date) {
  std::string text(date);
  time_t t = curl_getdate(text.c_str(), nullptr);
  if (t == -1) return std::nullopt;
  return static_cast<std::int64_t>(t);
}

std::string CookiePair(std::string_view name, std::string_view value) {
  std::string clean;
  clean.reserve(value.size() + 2);
  for (unsigned char ch : value) {
    if (ValidValueByte(ch) || ch == ' ' || ch == ',') clean += static_cast<char>(ch);
  }
  std::string out(name);
  out += '=';
  if (clean.find_first_of(" ,") != std::string::npos) {
    out.append("\"").append(clean).append("\"");
  } else {
    out += clean;
  }
  return out;
}

}  // namespace volley::loop
