#include "common/duration.h"

#include <cmath>
#include <cstdint>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace volley {
namespace {

constexpr std::int64_t kNanosPerMicro = 1000;
constexpr std::int64_t kNanosPerMilli = 1000 * kNanosPerMicro;
constexpr std::int64_t kNanosPerSecond = 1000 * kNanosPerMilli;
constexpr std::int64_t kNanosPerMinute = 60 * kNanosPerSecond;
constexpr std::int64_t kNanosPerHour = 60 * kNanosPerMinute;

// Nanoseconds per unit, 0 for an unknown unit. Both micro signs (U+00B5, U+03BC) are accepted,
// as Go does.
std::int64_t UnitNanos(std::string_view unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") return kNanosPerMicro;
  if (unit == "ms") return kNanosPerMilli;
  if (unit == "s") return kNanosPerSecond;
  if (unit == "m") return kNanosPerMinute;
  if (unit == "h") return kNanosPerHour;
  return 0;
}

// Debian's Abseil has its own string_view type, distinct from std::string_view.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

absl::Status Invalid(std::string_view text, std::string_view why = "") {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid duration \"", Av(text), "\"", why.empty() ? "" : ": ", Av(why)));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Milliseconds (possibly fractional) to a duration, truncated to whole nanoseconds as k6 does.
absl::StatusOr<absl::Duration> MillisToDuration(double ms, std::string_view text) {
  if (!std::isfinite(ms)) return Invalid(text);
  const double ns = ms * static_cast<double>(kNanosPerMilli);
  if (std::fabs(ns) >= 9.2e18) return Invalid(text, "out of range");
  return absl::Nanoseconds(static_cast<std::int64_t>(ns));
}

// Appends v / 10^digits with `digits` decimals, trailing zeros (and a bare point) removed.
void AppendFraction(std::string* out, std::int64_t v, int digits) {
  std::string frac;
  for (int i = 0; i < digits; ++i) {
    frac.insert(frac.begin(), static_cast<char>('0' + v % 10));
    v /= 10;
  }
  absl::StrAppend(out, v);
  while (!frac.empty() && frac.back() == '0') frac.pop_back();
  if (!frac.empty()) absl::StrAppend(out, ".", frac);
}

}  // namespace

absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text) {
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return absl::ZeroDuration();
  if (s.empty()) return Invalid(text);

  // Accumulate in 128 bits so overflow is detected instead of wrapping.
  __int128 total_ns = 0;
  constexpr __int128 kMax = std::numeric_limits<std::int64_t>::max();
  while (!s.empty()) {
    if (!IsDigit(s[0]) && s[0] != '.') return Invalid(text);
    __int128 whole = 0;
    std::size_t i = 0;
    bool any_digit = false;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      whole = whole * 10 + (s[i] - '0');
      if (whole > kMax) return Invalid(text, "out of range");
      any_digit = true;
    }
    __int128 frac = 0, scale = 1;
    if (i < s.size() && s[i] == '.') {
      for (++i; i < s.size() && IsDigit(s[i]); ++i) {
        any_digit = true;
        if (scale < static_cast<__int128>(1e18)) {  // further digits cannot matter
          frac = frac * 10 + (s[i] - '0');
          scale *= 10;
        }
      }
    }
    if (!any_digit) return Invalid(text);
    std::size_t unit_end = i;
    while (unit_end < s.size() && !IsDigit(s[unit_end]) && s[unit_end] != '.') ++unit_end;
    std::string_view unit = s.substr(i, unit_end - i);
    if (unit.empty()) return Invalid(text, "missing unit");
    const std::int64_t unit_ns = UnitNanos(unit);
    if (unit_ns == 0) return Invalid(text, absl::StrCat("unknown unit \"", Av(unit), "\""));
    total_ns += whole * unit_ns + frac * unit_ns / scale;
    if (total_ns > kMax) return Invalid(text, "out of range");
    s.remove_prefix(unit_end);
  }
  const auto ns = static_cast<std::int64_t>(total_ns);
  return absl::Nanoseconds(negative ? -ns : ns);
}

absl::StatusOr<absl::Duration> ParseDuration(std::string_view text) {
  const absl::string_view stripped = absl::StripAsciiWhitespace(Av(text));
  const std::string_view trimmed(stripped.data(), stripped.size());
  if (trimmed.empty()) return Invalid(text);

  // k6: a bare number is a count of milliseconds.
  double ms = 0;
  if (trimmed.find_first_not_of("+-.0123456789eE") == std::string_view::npos &&
      absl::SimpleAtod(Av(trimmed), &ms)) {
    return MillisToDuration(ms, text);
  }

  // k6 extension: "<days>d" optionally followed by a Go duration ("1d12h").
  const std::size_t d_pos = trimmed.find('d');
  if (d_pos == std::string_view::npos) return ParseGoDuration(trimmed);
  std::int64_t days = 0;
  if (!absl::SimpleAtoi(Av(trimmed.substr(0, d_pos)), &days)) return Invalid(text);
  absl::Duration rest = absl::ZeroDuration();
  if (d_pos + 1 < trimmed.size()) {
    absl::StatusOr<absl::Duration> parsed = ParseGoDuration(trimmed.substr(d_pos + 1));
    if (!parsed.ok() || *parsed < absl::ZeroDuration()) return Invalid(text);
    rest = *parsed;
  }
  if (days < 0) rest = -rest;
  return absl::Hours(24) * days + rest;
}

absl::StatusOr<absl::Duration> ParseDurationJson(const nlohmann::json& value) {
  if (value.is_string()) return ParseDuration(value.get<std::string>());
  if (value.is_number()) {
    const double ms = value.get<double>();
    return MillisToDuration(ms, value.dump());
  }
  return absl::InvalidArgumentError(
      absl::StrCat("'", value.dump(), "' is not a valid duration value"));
}

std::string FormatK6Duration(absl::Duration d) {
  std::int64_t ns = absl::ToInt64Nanoseconds(d);
  if (ns == 0) return "0s";
  std::string out;
  if (ns < 0) {
    out = "-";
    ns = ns == std::numeric_limits<std::int64_t>::min() ? std::numeric_limits<std::int64_t>::max()
                                                        : -ns;
  }

  // Below one second Go picks the largest sub-second unit and prints a fraction of it.
  if (ns < kNanosPerSecond) {
    if (ns < kNanosPerMicro) {
      absl::StrAppend(&out, ns, "ns");
    } else if (ns < kNanosPerMilli) {
      AppendFraction(&out, ns, 3);
      absl::StrAppend(&out, "\xC2\xB5s");
    } else {
      AppendFraction(&out, ns, 6);
      absl::StrAppend(&out, "ms");
    }
    return out;
  }

  const std::int64_t hours = ns / kNanosPerHour;
  const std::int64_t minutes = ns % kNanosPerHour / kNanosPerMinute;
  const std::int64_t second_ns = ns % kNanosPerMinute;
  if (hours > 0) absl::StrAppend(&out, hours, "h");
  if (hours > 0 || minutes > 0) absl::StrAppend(&out, minutes, "m");
  AppendFraction(&out, second_ns, 9);
  absl::StrAppend(&out, "s");
  return out;
}

}  // namespace volley
