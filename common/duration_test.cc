#include "common/duration.h"

#include <gtest/gtest.h>

namespace volley {
namespace {

TEST(ParseDuration, AcceptsK6Forms) {
  struct Case {
    const char* text;
    absl::Duration want;
  } cases[] = {
      {"1m30s", absl::Seconds(90)},
      {"500ms", absl::Milliseconds(500)},
      {"2h", absl::Hours(2)},
      {"1.5s", absl::Milliseconds(1500)},
      {"10us", absl::Microseconds(10)},
      {"10\xC2\xB5s", absl::Microseconds(10)},
      {"10\xCE\xBCs", absl::Microseconds(10)},
      {"42ns", absl::Nanoseconds(42)},
      {"0", absl::ZeroDuration()},
      {"0s", absl::ZeroDuration()},
      {"-1s", absl::Seconds(-1)},
      {".5s", absl::Milliseconds(500)},
      {"1h2m3.004s", absl::Hours(1) + absl::Minutes(2) + absl::Milliseconds(3004)},
      {"1500", absl::Milliseconds(1500)},  // plain numbers are milliseconds
      {"0.5", absl::Microseconds(500)},
      {"2d", absl::Hours(48)},
      {"1d12h", absl::Hours(36)},
      {" 30s ", absl::Seconds(30)},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<absl::Duration> got = ParseDuration(c.text);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, c.want);
  }
}

TEST(ParseDuration, RejectsMalformedWithTheText) {
  for (const char* text : {"", "abc", "1x", "s", "1.s.", "--1s", "1d-2h", "99999999999999h"}) {
    SCOPED_TRACE(text);
    absl::StatusOr<absl::Duration> got = ParseDuration(text);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(std::string(got.status().message()).find(text), std::string::npos) << got.status();
  }
}

TEST(ParseGoDuration, NeedsUnitsAndNoDays) {
  EXPECT_FALSE(ParseGoDuration("1500").ok());
  EXPECT_FALSE(ParseGoDuration("2d").ok());
  EXPECT_FALSE(ParseGoDuration("").ok());
  EXPECT_EQ(*ParseGoDuration("30s"), absl::Seconds(30));
  EXPECT_EQ(*ParseGoDuration("0"), absl::ZeroDuration());
}

TEST(ParseDurationJson, NumbersAreMilliseconds) {
  EXPECT_EQ(*ParseDurationJson(nlohmann::json(1500)), absl::Milliseconds(1500));
  EXPECT_EQ(*ParseDurationJson(nlohmann::json(0.5)), absl::Microseconds(500));
  EXPECT_EQ(*ParseDurationJson(nlohmann::json("2m")), absl::Minutes(2));
  EXPECT_FALSE(ParseDurationJson(nlohmann::json(true)).ok());
  EXPECT_FALSE(ParseDurationJson(nlohmann::json::array()).ok());
}

TEST(FormatK6Duration, PrintsLikeK6) {
  struct Case {
    absl::Duration d;
    const char* want;
  } cases[] = {
      {absl::ZeroDuration(), "0s"},
      {absl::Seconds(90), "1m30s"},
      {absl::Hours(1), "1h0m0s"},
      {absl::Minutes(10), "10m0s"},
      {absl::Seconds(30), "30s"},
      {absl::Milliseconds(1500), "1.5s"},
      {absl::Milliseconds(500), "500ms"},
      {absl::Microseconds(1500), "1.5ms"},
      {absl::Microseconds(10), "10\xC2\xB5s"},
      {absl::Nanoseconds(42), "42ns"},
      {absl::Seconds(-90), "-1m30s"},
      {absl::Hours(26) + absl::Nanoseconds(1), "26h0m0.000000001s"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.want);
    EXPECT_EQ(FormatK6Duration(c.d), c.want);
  }
}

TEST(FormatK6Duration, RoundTripsThroughParse) {
  for (absl::Duration d : {absl::Seconds(1), absl::Milliseconds(1234567), absl::Nanoseconds(999),
                           absl::Hours(100) + absl::Milliseconds(1)}) {
    SCOPED_TRACE(FormatK6Duration(d));
    EXPECT_EQ(*ParseDuration(FormatK6Duration(d)), d);
  }
}

}  // namespace
}  // namespace volley
