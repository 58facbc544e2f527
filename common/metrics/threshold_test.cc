#include "common/metrics/threshold.h"

#include <gtest/gtest.h>

#include "common/metrics/aggregator.h"

namespace volley::metrics {
namespace {

using nlohmann::json;

TEST(ParseMetricKey, SplitsNameAndSubMetricTags) {
  struct Case {
    std::string key;
    std::string metric;
    TagSet filter;
  };
  const Case cases[] = {
      {"http_req_duration", "http_req_duration", {}},
      {"http_req_duration{status:200}", "http_req_duration", {{"status", "200"}}},
      {"http_req_duration{name:http://httpbin.org/post}",
       "http_req_duration",
       {{"name", "http://httpbin.org/post"}}},
      {"http_reqs{ status : 200 , method:\"GET\"}",
       "http_reqs",
       {{"method", "GET"}, {"status", "200"}}},
      {"checks{group:::setup::login}", "checks", {{"group", "::setup::login"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    std::string metric;
    TagSet filter;
    ASSERT_TRUE(ParseMetricKey(c.key, &metric, &filter).ok());
    EXPECT_EQ(metric, c.metric);
    EXPECT_EQ(filter, c.filter);
  }
}

TEST(ParseMetricKey, RejectsMalformedKeys) {
  for (const char* key : {"m{a:1", "m}a:1{", "m{a:1}x", "m{}", "m{a}", "m{a:}", "ma:1}"}) {
    SCOPED_TRACE(key);
    std::string metric;
    TagSet filter;
    EXPECT_EQ(ParseMetricKey(key, &metric, &filter).code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(ParseThresholdExpr, ParsesK6Expressions) {
  struct Case {
    std::string source;
    std::string stat;
    ThresholdOp op;
    double value;
  };
  const Case cases[] = {
      {"p(95)<500", "p(95)", ThresholdOp::kLess, 500},
      {"avg<200", "avg", ThresholdOp::kLess, 200},
      {"rate<0.01", "rate", ThresholdOp::kLess, 0.01},
      {"count>=10", "count", ThresholdOp::kGreaterEqual, 10},
      {"value<5", "value", ThresholdOp::kLess, 5},
      {"med<=100", "med", ThresholdOp::kLessEqual, 100},
      {"max<1000", "max", ThresholdOp::kLess, 1000},
      {"min>0", "min", ThresholdOp::kGreater, 0},
      {"p(99.9)<300", "p(99.9)", ThresholdOp::kLess, 300},
      {" p(90.0) < 1e3 ", "p(90)", ThresholdOp::kLess, 1000},
      {"count==3", "count", ThresholdOp::kEqual, 3},
      {"count===3", "count", ThresholdOp::kEqual, 3},
      {"count!=3", "count", ThresholdOp::kNotEqual, 3},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.source);
    auto e = ParseThresholdExpr(c.source);
    ASSERT_TRUE(e.ok()) << e.status();
    EXPECT_EQ(e->stat, c.stat);
    EXPECT_EQ(e->op, c.op);
    EXPECT_EQ(e->value, c.value);
    EXPECT_EQ(e->source, c.source);
  }
}

TEST(ParseThresholdExpr, RejectsMalformedExpressions) {
  for (const char* s : {"p95<500", "avg", "avg<", "avg<abc", "p(x)<1", "mean<3", "<5", ""}) {
    SCOPED_TRACE(s);
    EXPECT_FALSE(ParseThresholdExpr(s).ok());
  }
}

TEST(Thresholds, ParsesStringsAndObjects) {
  auto t = Thresholds::Parse(json::parse(R"({
    "http_req_duration": ["p(95)<500", {"threshold": "avg<200", "abortOnFail": true,
                                        "delayAbortEval": "10s"}],
    "http_req_failed": ["rate<0.01"]
  })"));
  ASSERT_TRUE(t.ok()) << t.status();
  ASSERT_EQ(t->metrics().size(), 2u);
  const auto& d = t->metrics()[0];
  EXPECT_EQ(d.key, "http_req_duration");
  ASSERT_EQ(d.exprs.size(), 2u);
  EXPECT_TRUE(d.exprs[1].abort_on_fail);
  EXPECT_EQ(d.exprs[1].delay_abort_eval, absl::Seconds(10));
  EXPECT_FALSE(d.exprs[0].abort_on_fail);
}

TEST(Thresholds, ParseErrorNamesMetricAndExpression) {
  auto t = Thresholds::Parse(json::parse(R"({"http_reqs": ["count>>"]})"));
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
  std::string msg(t.status().message());
  EXPECT_NE(msg.find("http_reqs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("count>>"), std::string::npos) << msg;

  EXPECT_FALSE(Thresholds::Parse(json::parse(R"({"x": "count>1"})")).ok());
  EXPECT_FALSE(Thresholds::Parse(json::parse(R"({"x": [{"abortOnFail": true}]})")).ok());
  EXPECT_FALSE(
      Thresholds::Parse(json::parse(R"({"x": [{"threshold": "count>1", "delayAbortEval": "x"}]})"))
          .ok());
  EXPECT_TRUE(Thresholds::Parse(json()).ok());
}

TEST(Thresholds, ValidateReportsEveryTypeMismatchAtOnce) {
  Registry registry;
  auto t = Thresholds::Parse(json::parse(R"({
    "http_reqs": ["p(95)<1", "count>1", "rate>1"],
    "http_req_failed": ["count<1", "rate<0.1"],
    "vus": ["value<10", "avg<1"],
    "http_req_duration{status:200}": ["p(95)<500", "rate<1"],
    "no_such_metric": ["count>1"]
  })"));
  ASSERT_TRUE(t.ok()) << t.status();
  auto s = t->Validate(registry);
  ASSERT_FALSE(s.ok());
  std::string msg(s.message());
  EXPECT_NE(msg.find("\"p(95)<1\" on metric http_reqs"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"count<1\" on metric http_req_failed"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"avg<1\" on metric vus"), std::string::npos) << msg;
  EXPECT_NE(msg.find("\"rate<1\" on metric http_req_duration{status:200}"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("no_such_metric"), std::string::npos) << msg;
  EXPECT_EQ(msg.find("count>1\" on metric http_reqs"), std::string::npos) << msg;
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 4);
}

class ThresholdsEvaluate : public ::testing::Test {
 protected:
  void Flush() {
    volley::v1::MetricBatch batch;
    agg_.TakeBatch(1, &batch);
    ASSERT_TRUE(store_.Merge(batch).ok());
  }
  Thresholds Make(const char* text) {
    auto t = Thresholds::Parse(json::parse(text));
    EXPECT_TRUE(t.ok()) << t.status();
    EXPECT_TRUE(t->Validate(registry_).ok());
    return *t;
  }

  Registry registry_;
  Aggregator agg_{&registry_};
  Store store_;
};

TEST_F(ThresholdsEvaluate, PassesAndFailsByMetricAndSubMetric) {
  for (int i = 1; i <= 100; ++i) {
    TagSet tags = {{"status", i <= 90 ? "200" : "500"}};
    agg_.Add(builtin::kHttpReqDuration, tags, i * 10.0);
    agg_.Add(builtin::kHttpReqs, tags, 1);
    agg_.Add(builtin::kHttpReqFailed, tags, i > 90 ? 1 : 0);
  }
  Flush();
  Thresholds t = Make(R"({
    "http_req_duration": ["p(95)<900", "max<=1000", "min>0", "avg<600", "med<=505"],
    "http_req_duration{status:200}": ["p(95)<900", "max<=900"],
    "http_reqs": ["count==100", "rate>=10", "rate>10"],
    "http_req_failed": ["rate<0.05", "rate<=0.1"]
  })");
  auto results = t.Evaluate(store_, absl::Seconds(10), /*final=*/true);
  struct Want {
    const char* key;
    const char* source;
    bool ok;
  };
  const Want want[] = {
      {"http_req_duration", "p(95)<900", false},
      {"http_req_duration", "max<=1000", true},
      {"http_req_duration", "min>0", true},
      {"http_req_duration", "avg<600", true},
      {"http_req_duration", "med<=505", true},
      {"http_req_duration{status:200}", "p(95)<900", true},
      {"http_req_duration{status:200}", "max<=900", true},
      {"http_req_failed", "rate<0.05", false},
      {"http_req_failed", "rate<=0.1", true},
      {"http_reqs", "count==100", true},
      {"http_reqs", "rate>=10", true},
      {"http_reqs", "rate>10", false},
  };
  ASSERT_EQ(results.size(), std::size(want));
  for (const Want& w : want) {
    SCOPED_TRACE(std::string(w.key) + " " + w.source);
    auto it = std::find_if(results.begin(), results.end(), [&](const ThresholdResult& r) {
      return r.key == w.key && r.source == w.source;
    });
    ASSERT_NE(it, results.end());
    EXPECT_EQ(it->ok, w.ok);
    EXPECT_FALSE(it->abort);
    EXPECT_EQ(t.LastOk(w.key, w.source), w.ok);
  }
  EXPECT_FALSE(t.AllOk());
}

TEST_F(ThresholdsEvaluate, EmptyMetricsAreSkippedWhileRunningAndZeroAtTheEnd) {
  Thresholds t = Make(R"({"iterations": ["count>0"], "checks": ["rate>0.9"]})");
  // Keys come sorted: checks, then iterations.
  auto running = t.Evaluate(store_, absl::Seconds(1), /*final=*/false);
  ASSERT_EQ(running.size(), 2u);
  ASSERT_EQ(running[0].key, "checks");
  EXPECT_TRUE(running[0].ok);
  EXPECT_TRUE(running[1].ok);
  auto end = t.Evaluate(store_, absl::Seconds(1), /*final=*/true);
  EXPECT_TRUE(end[0].ok);   // a rate without samples has no rate to fail
  EXPECT_FALSE(end[1].ok);  // a counter without samples counts 0
}

TEST_F(ThresholdsEvaluate, AbortsOnFailOnlyAfterDelay) {
  agg_.Add(builtin::kHttpReqFailed, TagSet{}, 1);
  Flush();
  Thresholds t = Make(R"({"http_req_failed": [
      {"threshold": "rate<0.5", "abortOnFail": true, "delayAbortEval": "10s"},
      {"threshold": "rate<0.6", "abortOnFail": true},
      "rate<0.7"]})");
  auto early = t.Evaluate(store_, absl::Seconds(5), false);
  EXPECT_FALSE(early[0].abort);
  EXPECT_TRUE(early[1].abort);
  EXPECT_FALSE(early[2].abort);
  EXPECT_FALSE(early[2].ok);
  auto late = t.Evaluate(store_, absl::Seconds(11), false);
  EXPECT_TRUE(late[0].abort);
}

}  // namespace
}  // namespace volley::metrics
