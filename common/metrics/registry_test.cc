#include "common/metrics/registry.h"

#include <gtest/gtest.h>

#include <string>

namespace volley::metrics {
namespace {

TEST(Registry, RegistersBuiltinsInEnumOrderWithK6Types) {
  Registry registry;
  struct Case {
    MetricId id;
    const char* name;
    MetricType type;
    ValueType contains;
  };
  const Case cases[] = {
      {builtin::kVus, "vus", MetricType::kGauge, ValueType::kDefault},
      {builtin::kVusMax, "vus_max", MetricType::kGauge, ValueType::kDefault},
      {builtin::kIterations, "iterations", MetricType::kCounter, ValueType::kDefault},
      {builtin::kIterationDuration, "iteration_duration", MetricType::kTrend, ValueType::kTime},
      {builtin::kDroppedIterations, "dropped_iterations", MetricType::kCounter,
       ValueType::kDefault},
      {builtin::kDataSent, "data_sent", MetricType::kCounter, ValueType::kData},
      {builtin::kDataReceived, "data_received", MetricType::kCounter, ValueType::kData},
      {builtin::kChecks, "checks", MetricType::kRate, ValueType::kDefault},
      {builtin::kGroupDuration, "group_duration", MetricType::kTrend, ValueType::kTime},
      {builtin::kHttpReqs, "http_reqs", MetricType::kCounter, ValueType::kDefault},
      {builtin::kHttpReqFailed, "http_req_failed", MetricType::kRate, ValueType::kDefault},
      {builtin::kHttpReqDuration, "http_req_duration", MetricType::kTrend, ValueType::kTime},
      {builtin::kHttpReqBlocked, "http_req_blocked", MetricType::kTrend, ValueType::kTime},
      {builtin::kHttpReqConnecting, "http_req_connecting", MetricType::kTrend, ValueType::kTime},
      {builtin::kHttpReqTlsHandshaking, "http_req_tls_handshaking", MetricType::kTrend,
       ValueType::kTime},
      {builtin::kHttpReqSending, "http_req_sending", MetricType::kTrend, ValueType::kTime},
      {builtin::kHttpReqWaiting, "http_req_waiting", MetricType::kTrend, ValueType::kTime},
      {builtin::kHttpReqReceiving, "http_req_receiving", MetricType::kTrend, ValueType::kTime},
  };
  ASSERT_EQ(registry.size(), static_cast<std::size_t>(builtin::kCount));
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const MetricDef& def = registry.Get(c.id);
    EXPECT_EQ(def.name, c.name);
    EXPECT_EQ(def.type, c.type);
    EXPECT_EQ(def.contains, c.contains);
    EXPECT_EQ(registry.IdOf(c.name), c.id);
    ASSERT_NE(registry.Find(c.name), nullptr);
  }
}

TEST(Registry, ReturnsSameIdWhenRegisteredTwiceWithSameType) {
  Registry registry;
  auto first = registry.Register("my_trend", MetricType::kTrend, ValueType::kTime);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, static_cast<MetricId>(builtin::kCount));
  auto second = registry.Register("my_trend", MetricType::kTrend, ValueType::kTime);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*first, *second);
  EXPECT_EQ(registry.size(), static_cast<std::size_t>(builtin::kCount) + 1);
}

TEST(Registry, RejectsRedefinitionWithOtherTypeNamingTheMetric) {
  Registry registry;
  auto s = registry.Register("http_reqs", MetricType::kTrend);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("http_reqs"), std::string::npos);
  ASSERT_TRUE(registry.Register("c", MetricType::kCounter).ok());
  EXPECT_FALSE(registry.Register("c", MetricType::kCounter, ValueType::kData).ok());
}

TEST(Registry, ValidatesNamesByK6Rule) {
  Registry registry;
  struct Case {
    std::string name;
    bool ok;
  };
  const Case cases[] = {
      {"a", true},
      {"_", true},
      {"_private1", true},
      {"MyMetric_2", true},
      {std::string(128, 'x'), true},
      {std::string(129, 'x'), false},
      {"", false},
      {"1abc", false},
      {"has-dash", false},
      {"has space", false},
      {"dotted.name", false},
      {"caf\xc3\xa9", false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    auto s = registry.Register(c.name, MetricType::kCounter);
    EXPECT_EQ(s.ok(), c.ok) << s.status();
    EXPECT_EQ(IsValidMetricNameForK6(c.name), c.ok);
    if (!c.ok) {
      EXPECT_EQ(registry.Find(c.name), nullptr);
    }
  }
}

TEST(Registry, FindReturnsNullForUnknown) {
  Registry registry;
  EXPECT_EQ(registry.Find("nope"), nullptr);
}

TEST(MetricTypeName, UsesK6Spelling) {
  EXPECT_EQ(MetricTypeName(MetricType::kCounter), "counter");
  EXPECT_EQ(MetricTypeName(MetricType::kGauge), "gauge");
  EXPECT_EQ(MetricTypeName(MetricType::kRate), "rate");
  EXPECT_EQ(MetricTypeName(MetricType::kTrend), "trend");
  EXPECT_EQ(ValueTypeName(ValueType::kDefault), "default");
  EXPECT_EQ(ValueTypeName(ValueType::kTime), "time");
  EXPECT_EQ(ValueTypeName(ValueType::kData), "data");
}

}  // namespace
}  // namespace volley::metrics
