// Number formatting with JavaScript's semantics, so that text and JSON outputs read exactly as
// k6's (whose summary is rendered by JavaScript). Pure functions; any thread.
#pragma once

#include <string>

namespace volley::metrics {

// Number.prototype.toString(): the shortest text that reads back as `v` ("3", "0.1", "1e+21",
// "NaN", "Infinity").
std::string JsNumberToString(double v);
// Number.prototype.toFixed(digits), digits in [0, 100]: rounds the exact binary value, halves
// away from zero ("1.005" -> "1.00" since 1.005 is slightly less; 0.125 -> "0.13").
std::string JsToFixed(double v, int digits);

}  // namespace volley::metrics
