// k6 duration values: parsing the strings and numbers k6 accepts in options ("1m30s", "500ms",
// "2d12h", 1500 as milliseconds) and printing them the way k6 prints them ("1m30s", "1h0m0s").
// Pure functions; any thread.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace volley {

// Parses a Go-style duration ("300ms", "1.5h", "2h45m", "10us", "10µs", "-1s", "0"), exactly as
// k6's --stage flag reads its duration part. No plain numbers, no days.
absl::StatusOr<absl::Duration> ParseGoDuration(std::string_view text);

// Parses a duration as k6 reads option strings: a plain number is milliseconds ("1500",
// "0.5"), a leading day count is allowed ("2d", "1d12h"), anything else is a Go duration.
absl::StatusOr<absl::Duration> ParseDuration(std::string_view text);

// Parses a duration option value from JSON: a string as ParseDuration, a number as
// milliseconds. Anything else is InvalidArgument.
absl::StatusOr<absl::Duration> ParseDurationJson(const nlohmann::json& value);

// Prints like k6 (Go's time.Duration.String): "0s", "1m30s", "1h0m0s", "1.5s", "500ms",
// "10µs", "42ns". Sub-nanosecond parts are dropped.
std::string FormatK6Duration(absl::Duration d);

}  // namespace volley
