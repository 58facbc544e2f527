#include "common/metrics/summary.h"

#include <gtest/gtest.h>

#include "common/metrics/aggregator.h"

namespace volley::metrics {
namespace {

using nlohmann::json;

// A small test run: checks in the root group and in a "login" group, HTTP metrics, a gauge.
class SummaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TagSet root = {{"group", ""}, {"check", "status is 200"}};
    for (int i = 0; i < 3; ++i) agg_.Add(builtin::kChecks, root, 1);
    TagSet login = {{"group", "::login"}, {"check", "logged in"}};
    agg_.Add(builtin::kChecks, login, 1);
    agg_.Add(builtin::kChecks, login, 0);
    agg_.Add(builtin::kGroupDuration, TagSet{{"group", "::login"}}, 0.5);
    agg_.Add(builtin::kDataReceived, TagSet{}, 1300000);
    TagSet ok = {{"status", "200"}, {"expected_response", "true"}};
    for (double v : {100.0, 200.0}) {
      agg_.Add(builtin::kHttpReqDuration, ok, v);
      agg_.Add(builtin::kHttpReqFailed, ok, 0);
      agg_.Add(builtin::kHttpReqs, ok, 2);
    }
    agg_.Add(builtin::kIterationDuration, TagSet{}, 1500);
    agg_.Add(builtin::kIterationDuration, TagSet{}, 2500);
    agg_.Add(builtin::kVus, agg_.Intern({}), 5, 1);
    agg_.Add(builtin::kVus, agg_.Intern({}), 1, 2);
    volley::v1::MetricBatch batch;
    agg_.TakeBatch(1, &batch);
    ASSERT_TRUE(store_.Merge(batch).ok());

    auto t = Thresholds::Parse(json::parse(R"({"http_req_duration": ["p(95)<150"]})"));
    ASSERT_TRUE(t.ok());
    thresholds_ = *t;
    ASSERT_TRUE(thresholds_.Validate(registry_).ok());
    thresholds_.Evaluate(store_, absl::Seconds(40), /*final=*/true);
  }

  nlohmann::ordered_json Data(const SummaryOptions& options = {}) {
    SummaryInputs in;
    in.store = &store_;
    in.thresholds = &thresholds_;
    in.registry = &registry_;
    in.test_run_duration = absl::Seconds(40);
    return BuildSummaryData(in, options);
  }

  Registry registry_;
  Aggregator agg_{&registry_};
  Store store_;
  Thresholds thresholds_;
};

TEST_F(SummaryTest, TextLayoutMatchesK6) {
  const std::string want =
      "\n"
      "     \u2713 status is 200\n"
      "\n"
      "     \u2588 login\n"
      "\n"
      "       \u2717 logged in\n"
      "        \u21b3  50% \u2014 \u2713 1 / \u2717 1\n"
      "\n"
      "     checks.........................: 80.00% \u2713 4     \u2717 1  \n"
      "     data_received..................: 1.3 MB 33 kB/s\n"
      "     group_duration.................: avg=500\u00b5s min=500\u00b5s med=500\u00b5s "
      "max=500\u00b5s p(90)=500\u00b5s p(95)=500\u00b5s\n"
      "   \u2717 http_req_duration..............: avg=150ms min=100ms med=150ms max=200ms "
      "p(90)=190ms p(95)=195ms\n"
      "       { expected_response:true }...: avg=150ms min=100ms med=150ms max=200ms "
      "p(90)=190ms p(95)=195ms\n"
      "     http_req_failed................: 0.00%  \u2713 0     \u2717 2  \n"
      "     http_reqs......................: 4      0.1/s\n"
      "     iteration_duration.............: avg=2s    min=1.5s  med=2s    max=2.5s  "
      "p(90)=2.4s  p(95)=2.45s\n"
      "     vus............................: 1      min=1   max=5\n"
      "\n";
  std::string got = RenderTextSummary(Data(), /*enable_colors=*/false);
  EXPECT_EQ(got, want) << got;
}

TEST_F(SummaryTest, TextHonoursTrendStatsAndTimeUnit) {
  SummaryOptions options;
  options.trend_stats = {"count", "p(99)"};
  options.time_unit = "ms";
  std::string got = RenderTextSummary(Data(options), false);
  EXPECT_NE(got.find("iteration_duration.............: count=2 p(99)=2490.00ms\n"),
            std::string::npos)
      << got;
  EXPECT_NE(got.find("group_duration.................: count=1 p(99)=0.50ms   \n"),
            std::string::npos)
      << got;
}

TEST_F(SummaryTest, ColorsDecorateMarksNamesAndValues) {
  std::string got = RenderTextSummary(Data(), /*enable_colors=*/true);
  EXPECT_NE(got.find("\x1b[32m     \u2713 status is 200\x1b[0m"), std::string::npos) << got;
  EXPECT_NE(got.find("   \x1b[31m\u2717\x1b[0m http_req_duration\x1b[2m..............:\x1b[0m "
                     "avg=\x1b[36m150ms\x1b[0m min="),
            std::string::npos)
      << got;
  EXPECT_NE(got.find("\x1b[36m4\x1b[0m      \x1b[36;2m0.1/s\x1b[0m"), std::string::npos) << got;
}

TEST_F(SummaryTest, DataHasK6Shape) {
  auto data = Data();
  EXPECT_EQ(data["state"]["testRunDurationMs"], 40000);
  EXPECT_EQ(data["options"]["summaryTrendStats"].size(), 6u);
  const auto& m = data["metrics"];
  EXPECT_EQ(m["http_reqs"]["type"], "counter");
  EXPECT_EQ(m["http_reqs"]["contains"], "default");
  EXPECT_EQ(m["http_reqs"]["values"]["count"], 4);
  EXPECT_EQ(m["http_reqs"]["values"]["rate"], 0.1);
  EXPECT_EQ(m["checks"]["values"]["rate"], 0.8);
  EXPECT_EQ(m["checks"]["values"]["passes"], 4);
  EXPECT_EQ(m["checks"]["values"]["fails"], 1);
  EXPECT_EQ(json::parse(m["vus"]["values"].dump()), json::parse(R"({"value":1,"min":1,"max":5})"));
  EXPECT_EQ(m["http_req_duration"]["contains"], "time");
  EXPECT_EQ(m["http_req_duration"]["values"]["p(95)"], 195);
  EXPECT_EQ(m["http_req_duration"]["thresholds"]["p(95)<150"]["ok"], false);
  EXPECT_TRUE(m.contains("http_req_duration{expected_response:true}"));
  EXPECT_FALSE(m.contains("http_req_blocked"));  // never sampled

  const auto& root = data["root_group"];
  EXPECT_EQ(root["name"], "");
  EXPECT_EQ(root["path"], "");
  EXPECT_EQ(root["id"], "d41d8cd98f00b204e9800998ecf8427e");  // md5("")
  ASSERT_EQ(root["checks"].size(), 1u);
  EXPECT_EQ(root["checks"][0]["path"], "::status is 200");
  EXPECT_EQ(root["checks"][0]["passes"], 3);
  ASSERT_EQ(root["groups"].size(), 1u);
  EXPECT_EQ(root["groups"][0]["name"], "login");
  EXPECT_EQ(root["groups"][0]["path"], "::login");
  EXPECT_EQ(root["groups"][0]["checks"][0]["fails"], 1);
  EXPECT_FALSE(data.contains("setup_data"));
}

TEST_F(SummaryTest, ThresholdMetricsAppearEvenWithoutSamples) {
  auto t = Thresholds::Parse(json::parse(
      R"({"http_req_duration{status:404}": ["p(95)<1"], "dropped_iterations": ["count<1"]})"));
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE(t->Validate(registry_).ok());
  t->Evaluate(store_, absl::Seconds(40), true);
  SummaryInputs in{&store_, &*t, &registry_, absl::Seconds(40)};
  auto data = BuildSummaryData(in, {});
  const auto& m = data["metrics"];
  ASSERT_TRUE(m.contains("http_req_duration{status:404}"));
  EXPECT_EQ(m["http_req_duration{status:404}"]["values"]["avg"], 0);
  ASSERT_TRUE(m.contains("dropped_iterations"));
  EXPECT_EQ(m["dropped_iterations"]["values"]["count"], 0);
  EXPECT_EQ(m["dropped_iterations"]["thresholds"]["count<1"]["ok"], true);
  std::string text = RenderTextSummary(data, false);
  EXPECT_NE(text.find("   \u2713 dropped_iterations"), std::string::npos) << text;
  EXPECT_NE(text.find("     \u2713 { status:404 }"), std::string::npos) << text;
}

TEST_F(SummaryTest, ExportUsesLegacyLayout) {
  json setup = json::parse(R"({"token":"abc"})");
  SummaryInputs in{&store_, &thresholds_, &registry_, absl::Seconds(40), &setup};
  auto exported = json::parse(RenderSummaryExport(BuildSummaryData(in, {})));
  EXPECT_FALSE(exported.contains("options"));
  EXPECT_FALSE(exported.contains("state"));
  EXPECT_EQ(exported["setup_data"]["token"], "abc");
  const auto& m = exported["metrics"];
  EXPECT_EQ(m["checks"], json::parse(R"({"passes":4,"fails":1,"value":0.8})"));
  EXPECT_EQ(m["http_reqs"], json::parse(R"({"count":4,"rate":0.1})"));
  // k6's legacy export maps each threshold to whether it failed.
  EXPECT_EQ(m["http_req_duration"]["thresholds"]["p(95)<150"], true);
  EXPECT_EQ(m["http_req_duration"]["med"], 150);
  const auto& root = exported["root_group"];
  EXPECT_EQ(root["checks"]["status is 200"]["passes"], 3);
  EXPECT_EQ(root["groups"]["login"]["checks"]["logged in"]["fails"], 1);
  EXPECT_EQ(root["groups"]["login"]["groups"], json::object());
}

TEST(ValidateTrendStats, AcceptsK6Stats) {
  EXPECT_TRUE(ValidateTrendStats({"avg", "min", "med", "max", "count", "p(99.9)", "p(0)"}).ok());
  EXPECT_FALSE(ValidateTrendStats({"p(101)"}).ok());
  EXPECT_FALSE(ValidateTrendStats({"mean"}).ok());
  EXPECT_FALSE(ValidateTrendStats({"p(x)"}).ok());
}

TEST(Md5Hex, MatchesKnownDigests) {
  EXPECT_EQ(Md5Hex(""), "d41d8cd98f00b204e9800998ecf8427e");
  EXPECT_EQ(Md5Hex("abc"), "900150983cd24fb0d6963f7d28e17f72");
  EXPECT_EQ(Md5Hex("The quick brown fox jumps over the lazy dog"),
            "9e107d9d372bb6826bd81d3542a419d6");
  EXPECT_EQ(Md5Hex(std::string(1000, 'a')), "cabe45dcc9ae5b66ba86600cca6b8ba8");
}

}  // namespace
}  // namespace volley::metrics
