// LogForwarder's choice of records and its bounds, fed records with chosen timestamps (the
// rate window follows the records' own time, so no test here sleeps), and its installation
// through AddLogSink.
#include "agent/log_forwarder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace volley::agent {
namespace {

using ::testing::HasSubstr;
using Time = std::chrono::system_clock::time_point;

const Time kT0 = Time(std::chrono::seconds(1'700'000'000));

// A logger that writes only to `sink`, stamping each record with a given time.
class Feeder {
 public:
  explicit Feeder(std::shared_ptr<LogForwarder> sink) : sink_(std::move(sink)) {}
  void Log(Time at, const std::string& text, const char* logger = "console",
           spdlog::level::level_enum level = spdlog::level::info) {
    sink_->log(spdlog::details::log_msg(at, spdlog::source_loc{}, logger, level, text));
  }

 private:
  std::shared_ptr<LogForwarder> sink_;
};

TEST(LogForwarder, ForwardsConsoleAtEveryLevelAndComponentsFromWarn) {
  struct Case {
    const char* logger;
    spdlog::level::level_enum level;
    bool forwards;
  };
  const Case cases[] = {
      {"console", spdlog::level::debug, true}, {"console", spdlog::level::info, true},
      {"console", spdlog::level::err, true},   {"vu", spdlog::level::err, true},
      {"vu", spdlog::level::info, false},      {"agent", spdlog::level::warn, true},
      {"agent", spdlog::level::info, false},   {"js", spdlog::level::critical, true},
      {"http", spdlog::level::debug, false},   {"console", spdlog::level::off, false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.logger, " at ", spdlog::level::to_short_c_str(c.level)));
    EXPECT_EQ(LogForwarder::Forwards(c.logger, c.level), c.forwards);
  }
}

TEST(LogForwarder, CarriesLevelLoggerTextAndTime) {
  auto sink = std::make_shared<LogForwarder>();
  Feeder feed(sink);
  feed.Log(kT0, "hello from vu 1 source=console");
  feed.Log(kT0, "iteration error: boom", "vu", spdlog::level::err);
  feed.Log(kT0, "vus initialised count=3", "agent", spdlog::level::info);  // not forwarded

  auto lines = sink->Take();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].level(), "info");
  EXPECT_EQ(lines[0].logger(), "console");
  EXPECT_EQ(lines[0].text(), "hello from vu 1 source=console");
  EXPECT_EQ(lines[0].unix_ns(), 1'700'000'000'000'000'000LL);
  EXPECT_EQ(lines[1].level(), "error");
  EXPECT_EQ(lines[1].logger(), "vu");
  EXPECT_TRUE(sink->Take().empty());
}

TEST(LogForwarder, DropsPastTheRateAndCountsThemInOneLine) {
  auto sink = std::make_shared<LogForwarder>(LogForwarderLimits{.lines_per_second = 10});
  Feeder feed(sink);
  for (int i = 0; i < 25; ++i) feed.Log(kT0 + std::chrono::milliseconds(i * 30), "spam");

  auto lines = sink->Take();
  ASSERT_EQ(lines.size(), 11u);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(lines[i].text(), "spam");
  EXPECT_EQ(lines[10].logger(), "agent");
  EXPECT_EQ(lines[10].level(), "warning");
  EXPECT_EQ(lines[10].text(), "log lines dropped count=15 max_per_s=10");
  // The count was reported; the next Take has nothing to say.
  EXPECT_TRUE(sink->Take().empty());
}

TEST(LogForwarder, NextSecondForwardsAgain) {
  auto sink = std::make_shared<LogForwarder>(LogForwarderLimits{.lines_per_second = 10});
  Feeder feed(sink);
  for (int i = 0; i < 15; ++i) feed.Log(kT0, "first");
  EXPECT_EQ(sink->Take().size(), 11u);  // 10 and the drop count

  for (int i = 0; i < 15; ++i) feed.Log(kT0 + std::chrono::milliseconds(999), "still first");
  EXPECT_EQ(sink->Take().size(), 1u);  // only the count of 15 dropped

  for (int i = 0; i < 5; ++i) feed.Log(kT0 + std::chrono::seconds(1), "second");
  auto lines = sink->Take();
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[4].text(), "second");
}

TEST(LogForwarder, HoldsAtMostMaxPendingWhenNobodyTakes) {
  auto sink = std::make_shared<LogForwarder>(
      LogForwarderLimits{.lines_per_second = 100, .max_pending = 150});
  Feeder feed(sink);
  for (int second = 0; second < 5; ++second) {
    for (int i = 0; i < 100; ++i) feed.Log(kT0 + std::chrono::seconds(second), "line");
  }
  auto lines = sink->Take();
  ASSERT_EQ(lines.size(), 151u);
  EXPECT_EQ(lines.back().text(), "log lines dropped count=350 max_per_s=100");
}

TEST(LogForwarder, CutsLongTextAndMakesItValidUtf8) {
  struct Case {
    std::string text;
    std::size_t max_bytes;
    std::string want;
  };
  const Case cases[] = {
      {"short", 10, "short"},
      {"abcdefghij", 4, "abcd... (truncated bytes=6)"},
      // "é" is two bytes: a cut never splits it.
      {"abc\xc3\xa9z", 4, "abc... (truncated bytes=3)"},
      {"abc\xc3\xa9z", 5, "abc\xc3\xa9... (truncated bytes=1)"},
      {"bad \xff byte", 20, "bad ? byte"},
      {"lone \xc3", 20, "lone ?"},
      {"overlong \xc0\xaf", 20, "overlong ??"},
      {"surrogate \xed\xa0\x80", 20, "surrogate ???"},
      {"emoji \xf0\x9f\x98\x80", 20, "emoji \xf0\x9f\x98\x80"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(ForwardableText(c.text, c.max_bytes), c.want);
  }
}

TEST(LogForwarder, SeesComponentLoggersOnlyWhileAdded) {
  auto sink = std::make_shared<LogForwarder>();
  auto console = Log("console");
  console->info("before");
  AddLogSink(sink);
  console->info("during source=console");
  Log("vu")->warn("iteration error repeated count=2");
  RemoveLogSink(sink);
  console->info("after");

  auto lines = sink->Take();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0].text(), "during source=console");
  EXPECT_THAT(lines[1].text(), HasSubstr("repeated count=2"));
}

}  // namespace
}  // namespace volley::agent
