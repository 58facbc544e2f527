#include "common/metrics/number_format.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string>

namespace volley::metrics {

std::string JsNumberToString(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (v == 0) return "0";
  char buf[400];
  double a = std::fabs(v);
  // JavaScript switches to exponent notation outside [1e-7, 1e21).
  bool fixed = a >= 1e-7 && a < 1e21;
  auto res = std::to_chars(buf, buf + sizeof(buf), v,
                           fixed ? std::chars_format::fixed : std::chars_format::scientific);
  std::string out(buf, res.ptr);
  if (!fixed) {
    // to_chars writes "1e+21" / "1.5e-08"; JavaScript writes "1e+21" / "1.5e-8".
    auto e = out.find('e');
    std::string mantissa = out.substr(0, e);
    char sign = out[e + 1];
    std::string exponent = out.substr(e + 2);
    while (exponent.size() > 1 && exponent[0] == '0') exponent.erase(0, 1);
    out = mantissa + "e" + sign + exponent;
  }
  return out;
}

std::string JsToFixed(double v, int digits) {
  if (std::isnan(v)) return "NaN";
  if (std::fabs(v) >= 1e21 || std::isinf(v)) return JsNumberToString(v);
  // Print far more digits than asked, then cut: the digits are those of the exact binary value,
  // and JavaScript picks the larger candidate on an exact half (printf would pick the even one).
  constexpr int kExtra = 60;
  char buf[512];
  std::snprintf(buf, sizeof(buf), "%.*f", digits + kExtra, std::fabs(v));
  std::string s(buf);
  std::size_t cut = s.size() - kExtra;
  bool round_up = s[cut] >= '5';
  std::string kept = s.substr(0, cut);
  if (kept.back() == '.') kept.pop_back();
  if (round_up) {
    int i = static_cast<int>(kept.size()) - 1;
    for (; i >= 0; --i) {
      if (kept[i] == '.') continue;
      if (kept[i] == '9') {
        kept[i] = '0';
      } else {
        ++kept[i];
        break;
      }
    }
    if (i < 0) kept.insert(kept.begin(), '1');
  }
  if (v < 0) kept.insert(kept.begin(), '-');  // as JavaScript: (-0.001).toFixed(2) is "-0.00"
  return kept;
}

}  // namespace volley::metrics
