#include "common/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace volley {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using Json = nlohmann::json;

Options Parse(const char* text) {
  absl::StatusOr<Options> o = ParseOptionsJson(Json::parse(text));
  EXPECT_TRUE(o.ok()) << o.status();
  return o.ok() ? *o : Options{};
}

TEST(ParseOptionsJson, ReadsEveryOptionVolleySupports) {
  const Options o = Parse(R"j({
    "vus": 10, "duration": "1m30s", "iterations": 100,
    "stages": [{"duration": "30s", "target": 20}, {"duration": 5000, "target": 0}],
    "thresholds": {"http_req_duration": ["p(95)<500"]},
    "hosts": {"test.k6.io": "1.2.3.4:8443"},
    "insecureSkipTLSVerify": true, "userAgent": "ua/1", "batch": 15, "batchPerHost": 5,
    "maxRedirects": 3, "discardResponseBodies": true, "noConnectionReuse": false,
    "throw": true, "tags": {"team": "core"}, "summaryTrendStats": ["avg", "p(99.9)"],
    "summaryTimeUnit": "ms", "systemTags": ["url"], "setupTimeout": "2m",
    "teardownTimeout": 1500, "dns": {"ttl": "1m"}, "someUnknownKey": 1, "noSetup": null
  })j");
  EXPECT_EQ(o.vus, 10);
  EXPECT_EQ(o.duration, absl::Seconds(90));
  EXPECT_EQ(o.iterations, 100);
  ASSERT_TRUE(o.stages.has_value());
  EXPECT_THAT(*o.stages, ElementsAre(Stage{absl::Seconds(30), 20}, Stage{absl::Seconds(5), 0}));
  EXPECT_EQ((*o.thresholds)["http_req_duration"][0], "p(95)<500");
  EXPECT_EQ(o.hosts->at("test.k6.io"), "1.2.3.4:8443");
  EXPECT_EQ(o.insecure_skip_tls_verify, true);
  EXPECT_EQ(o.user_agent, "ua/1");
  EXPECT_EQ(o.batch, 15);
  EXPECT_EQ(o.batch_per_host, 5);
  EXPECT_EQ(o.max_redirects, 3);
  EXPECT_EQ(o.discard_response_bodies, true);
  EXPECT_EQ(o.no_connection_reuse, false);
  EXPECT_EQ(o.throw_errors, true);
  EXPECT_EQ(o.tags.at("team"), "core");
  EXPECT_THAT(*o.summary_trend_stats, ElementsAre("avg", "p(99.9)"));
  EXPECT_EQ(o.summary_time_unit, "ms");
  EXPECT_THAT(*o.system_tags, ElementsAre("url"));
  EXPECT_EQ(o.setup_timeout, absl::Minutes(2));
  EXPECT_EQ(o.teardown_timeout, absl::Milliseconds(1500));
  EXPECT_FALSE(o.no_setup.has_value());  // null is "unset", as in k6
  EXPECT_EQ(o.passthrough.at("dns")["ttl"], "1m");
  EXPECT_EQ(o.unknown.count("someUnknownKey"), 1u);
  EXPECT_FALSE(o.scenarios.has_value());
}

TEST(ParseOptionsJson, ReadsScenariosOfEveryExecutor) {
  const Options o = Parse(R"j({"scenarios": {
    "si": {"executor": "shared-iterations", "vus": 5, "iterations": 50, "maxDuration": "1m",
           "startTime": "10s", "gracefulStop": "5s", "exec": "api", "env": {"A": "1"},
           "tags": {"t": "x"}},
    "pv": {"executor": "per-vu-iterations", "vus": 2, "iterations": 3},
    "cv": {"executor": "constant-vus", "vus": 4, "duration": "30s"},
    "rv": {"executor": "ramping-vus", "startVUs": 0, "gracefulRampDown": "0s",
           "stages": [{"duration": "10s", "target": 10}]},
    "car": {"executor": "constant-arrival-rate", "rate": 200, "timeUnit": "1s",
            "duration": "10s", "preAllocatedVUs": 10, "maxVUs": 50},
    "rar": {"executor": "ramping-arrival-rate", "startRate": 5, "timeUnit": "1m",
            "preAllocatedVUs": 3, "stages": [{"duration": "1m", "target": 60}]}
  }})j");
  ASSERT_TRUE(o.scenarios.has_value());
  const auto& s = *o.scenarios;
  ASSERT_EQ(s.size(), 6u);
  const ScenarioConfig& si = s.at("si");
  EXPECT_EQ(si.name, "si");
  EXPECT_EQ(si.executor, ExecutorType::kSharedIterations);
  EXPECT_EQ(si.vus, 5);
  EXPECT_EQ(si.iterations, 50);
  EXPECT_EQ(si.max_duration, absl::Minutes(1));
  EXPECT_EQ(si.StartTimeOrDefault(), absl::Seconds(10));
  EXPECT_EQ(si.GracefulStopOrDefault(), absl::Seconds(5));
  EXPECT_EQ(si.ExecOrDefault(), "api");
  EXPECT_EQ(si.env.at("A"), "1");
  EXPECT_EQ(si.tags.at("t"), "x");
  EXPECT_EQ(s.at("pv").executor, ExecutorType::kPerVuIterations);
  EXPECT_EQ(s.at("pv").ExecOrDefault(), "default");
  EXPECT_EQ(s.at("pv").GracefulStopOrDefault(), absl::Seconds(30));
  EXPECT_EQ(s.at("pv").MaxDurationOrDefault(), absl::Minutes(10));
  EXPECT_EQ(s.at("cv").duration, absl::Seconds(30));
  EXPECT_EQ(s.at("rv").StartVusOrDefault(), 0);
  EXPECT_EQ(s.at("rv").GracefulRampDownOrDefault(), absl::ZeroDuration());
  EXPECT_THAT(s.at("rv").stages, ElementsAre(Stage{absl::Seconds(10), 10}));
  EXPECT_EQ(s.at("car").rate, 200);
  EXPECT_EQ(s.at("car").MaxVusOrDefault(), 50);
  EXPECT_EQ(s.at("rar").StartRateOrDefault(), 5);
  EXPECT_EQ(s.at("rar").TimeUnitOrDefault(), absl::Minutes(1));
  EXPECT_EQ(s.at("rar").MaxVusOrDefault(), 3);  // maxVUs defaults to preAllocatedVUs
}

TEST(ParseOptionsJson, CollectsEveryTypeProblem) {
  absl::StatusOr<Options> o = ParseOptionsJson(Json::parse(R"j({
    "vus": "ten", "duration": true, "batch": 1.5, "tags": {"a": 1}, "stages": [{"target": "x"}],
    "scenarios": {
      "a": {"executor": "constant-vus", "rate": 5, "duration": "10s"},
      "b": {"executor": "nope"},
      "c": {"vus": 1},
      "d": {"executor": "externally-controlled"}
    }
  })j"));
  ASSERT_FALSE(o.ok());
  EXPECT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(o.status().message());
  for (const char* want : {
           "vus: expected an integer, got \"ten\"",
           "duration: 'true' is not a valid duration value",
           "batch: expected an integer, got 1.5",
           "tags.a: expected a string, got 1",
           "stages[0].target: expected an integer",
           "scenarios.a: unknown field \"rate\" for executor \"constant-vus\"",
           "scenarios.b: executor \"nope\" is unknown",
           "scenarios.c: \"executor\" is required",
           "scenarios.d: executor \"externally-controlled\" is not supported",
       }) {
    SCOPED_TRACE(want);
    EXPECT_THAT(message, HasSubstr(want));
  }
}

TEST(ParseOptionsJson, NullAndNonObjects) {
  EXPECT_TRUE(ParseOptionsJson(Json(nullptr)).ok());
  EXPECT_FALSE(ParseOptionsJson(Json::array()).ok());
}

TEST(MergeOptions, LaterLayerWinsPerField) {
  const Options base = Parse(R"j({"vus": 5, "duration": "10s", "batch": 3, "tags": {"a": "1"},
                                 "userAgent": "base", "dns": {"ttl": "5m"}})j");
  const Options over = Parse(R"j({"vus": 7, "userAgent": "over", "tags": {"b": "2"}})j");
  const Options m = MergeOptions(base, over);
  EXPECT_EQ(m.vus, 7);
  EXPECT_EQ(m.duration, absl::Seconds(10));  // vus alone keeps the lower execution plan
  EXPECT_EQ(m.batch, 3);
  EXPECT_EQ(m.user_agent, "over");
  EXPECT_EQ(m.tags, (std::map<std::string, std::string>{{"b", "2"}}));
  EXPECT_EQ(m.passthrough.at("dns")["ttl"], "5m");
}

TEST(MergeOptions, AnyExecutionKeyReplacesTheWholeLowerPlan) {
  const Options script = Parse(R"j({"scenarios": {"s": {"executor": "constant-vus",
      "vus": 1, "duration": "10s"}}, "iterations": 3, "stages": [{"duration": "1s", "target": 1}]})j");
  struct Case {
    const char* name;
    const char* over;
    bool keeps_scenarios;
  } cases[] = {
      {"duration", R"j({"duration": "5s"})j", false},
      {"iterations", R"j({"iterations": 5})j", false},
      {"stages", R"j({"stages": []})j", false},
      {"scenarios", R"j({"scenarios": {}})j", false},
      {"vus only", R"j({"vus": 5})j", true},
      {"unrelated", R"j({"batch": 5})j", true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const Options m = MergeOptions(script, Parse(c.over));
    EXPECT_EQ(m.scenarios.has_value() && m.scenarios->count("s") == 1, c.keeps_scenarios);
    EXPECT_EQ(m.iterations.has_value() && *m.iterations == 3, c.keeps_scenarios);
  }
}

TEST(MergeOptions, DropsStagesWithoutDuration) {
  Options over;
  over.stages = std::vector<Stage>{{absl::Seconds(1), 5}, {std::nullopt, 3}};
  EXPECT_EQ(MergeOptions(Options{}, over).stages->size(), 1u);
}

TEST(CliOverridesToOptions, ParsesStagesAndTags) {
  CliOverrides cli;
  cli.stages = std::vector<std::string>{"30s:10", "1m", "1m30s:0"};
  cli.tags = {"env=staging", "team=a=b"};
  absl::StatusOr<Options> o = CliOverridesToOptions(cli);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_THAT(*o->stages, ElementsAre(Stage{absl::Seconds(30), 10}, Stage{absl::Minutes(1), {}},
                                      Stage{absl::Seconds(90), 0}));
  EXPECT_EQ(o->tags.at("team"), "a=b");
  EXPECT_EQ(o->tags.at("env"), "staging");
}

TEST(CliOverridesToOptions, ReportsEveryBadFlag) {
  CliOverrides cli;
  cli.stages = std::vector<std::string>{"30:10", ":5", "10s:x"};
  cli.tags = {"novalue"};
  cli.summary_time_unit = "h";
  cli.summary_trend_stats = std::vector<std::string>{"p(101)", "mean"};
  absl::StatusOr<Options> o = CliOverridesToOptions(cli);
  ASSERT_FALSE(o.ok());
  const std::string message(o.status().message());
  for (const char* want : {"--stage \"30:10\"", "--stage \":5\"", "--stage \"10s:x\"", "--tag",
                           "--summary-time-unit", "p(101)", "mean"}) {
    SCOPED_TRACE(want);
    EXPECT_THAT(message, HasSubstr(want));
  }
}

TEST(ConsolidateOptions, FileThenScriptThenCli) {
  const Options file = Parse(R"j({"vus": 1, "batch": 7, "userAgent": "file"})j");
  const Options script = Parse(R"j({"vus": 3, "userAgent": "script", "scenarios": {
      "s": {"executor": "constant-vus", "vus": 2, "duration": "10s"}}})j");
  CliOverrides cli;
  cli.vus = 10;
  cli.duration = absl::Seconds(30);
  std::vector<std::string> warnings;
  absl::StatusOr<Options> o = ConsolidateOptions(file, script, cli, &warnings);
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->batch, 7);                  // only in the file
  EXPECT_EQ(o->user_agent, "script");      // script beats file
  EXPECT_EQ(o->vus, 10);                   // CLI beats script
  EXPECT_FALSE(o->scenarios.has_value());  // --duration replaced the script's scenarios
  EXPECT_THAT(warnings, ElementsAre(HasSubstr("\"cli\" level configuration overrode scenarios")));

  absl::StatusOr<Options> derived = DeriveScenarios(*o);
  ASSERT_TRUE(derived.ok());
  const ScenarioConfig& d = derived->scenarios->at("default");
  EXPECT_EQ(d.executor, ExecutorType::kConstantVus);
  EXPECT_EQ(d.vus, 10);
  EXPECT_EQ(d.duration, absl::Seconds(30));
}

TEST(DeriveScenarios, ShortcutsBecomeK6Scenarios) {
  struct Case {
    const char* name;
    const char* options;
    ExecutorType executor;
    std::int64_t vus;  // VusOrDefault / StartVusOrDefault for ramping-vus
    std::int64_t iterations;
  } cases[] = {
      {"nothing", "{}", ExecutorType::kPerVuIterations, 1, 1},
      {"vus+duration", R"j({"vus": 10, "duration": "30s"})j", ExecutorType::kConstantVus, 10, 0},
      {"duration", R"j({"duration": "30s"})j", ExecutorType::kConstantVus, 1, 0},
      {"iterations", R"j({"iterations": 100})j", ExecutorType::kSharedIterations, 1, 100},
      {"vus+iterations+duration", R"j({"vus": 5, "iterations": 100, "duration": "1m"})j",
       ExecutorType::kSharedIterations, 5, 100},
      {"stages+vus", R"j({"vus": 5, "stages": [{"duration": "10s", "target": 10}]})j",
       ExecutorType::kRampingVus, 5, 0},
      {"stages", R"j({"stages": [{"duration": "10s", "target": 10}]})j", ExecutorType::kRampingVus,
       1, 0},
      {"vus alone", R"j({"vus": 4})j", ExecutorType::kSharedIterations, 4, 4},
      {"empty stages", R"j({"stages": []})j", ExecutorType::kPerVuIterations, 1, 1},
      {"empty scenarios", R"j({"scenarios": {}})j", ExecutorType::kPerVuIterations, 1, 1},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<Options> d = DeriveScenarios(Parse(c.options));
    ASSERT_TRUE(d.ok()) << d.status();
    ASSERT_EQ(d->scenarios->size(), 1u);
    const ScenarioConfig& s = d->scenarios->at("default");
    EXPECT_EQ(s.executor, c.executor);
    if (c.executor == ExecutorType::kRampingVus) {
      EXPECT_EQ(s.StartVusOrDefault(), c.vus);
      EXPECT_EQ(s.stages.size(), 1u);
    } else {
      EXPECT_EQ(s.VusOrDefault(), c.vus);
    }
    if (c.iterations > 0) {
      EXPECT_EQ(s.IterationsOrDefault(), c.iterations);
    }
  }
  EXPECT_EQ(DeriveScenarios(Parse(R"j({"iterations": 9, "duration": "1m"})j"))
                ->scenarios->at("default")
                .max_duration,
            absl::Minutes(1));
}

TEST(DeriveScenarios, KeepsScenariosBesideVus) {
  const char* scenarios =
      R"j({"scenarios": {"a": {"executor": "constant-vus", "vus": 1, "duration": "1s"}}})j";
  std::vector<std::string> warnings;
  absl::StatusOr<Options> kept = DeriveScenarios(Parse(scenarios), &warnings);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->scenarios->count("a"), 1u);
  EXPECT_THAT(warnings, IsEmpty());

  // k6 derives a default scenario from `vus` only when no scenarios are set.
  Options with_vus = Parse(scenarios);
  with_vus.vus = 3;
  absl::StatusOr<Options> still = DeriveScenarios(with_vus, &warnings);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->scenarios->size(), 1u);
  EXPECT_EQ(still->scenarios->count("a"), 1u);
  EXPECT_THAT(warnings, IsEmpty());
}

TEST(DeriveScenarios, ConflictingShortcutsFail) {
  const char* scenarios = R"j("scenarios": {"a": {"executor": "per-vu-iterations"}})j";
  struct Case {
    std::string options;
    const char* want;
  } cases[] = {
      {R"j({"iterations": 5, "stages": [{"duration": "1s", "target": 1}]})j",
       "`iterations` and `stages`"},
      {R"j({"duration": "5s", "stages": [{"duration": "1s", "target": 1}]})j",
       "`duration` and `stages`"},
      {R"j({"iterations": 5, "duration": "5s", "stages": [{"duration": "1s", "target": 1}]})j",
       "`iterations` and `stages`"},
      {absl::StrCat(R"j({"iterations": 5, )j", scenarios, "}"), "`iterations` and `scenarios`"},
      {absl::StrCat(R"j({"duration": "5s", )j", scenarios, "}"), "`duration` and `scenarios`"},
      {absl::StrCat(R"j({"stages": [{"duration": "1s", "target": 1}], )j", scenarios, "}"),
       "`stages` and `scenarios`"},
      {R"j({"duration": "0s"})j", "`duration` must be more than 0"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.options);
    absl::StatusOr<Options> d = DeriveScenarios(Parse(c.options.c_str()));
    ASSERT_FALSE(d.ok());
    EXPECT_THAT(std::string(d.status().message()), HasSubstr(c.want));
    EXPECT_THAT(Validate(Parse(c.options.c_str())), ElementsAre(HasSubstr(c.want)));
  }
}

TEST(Validate, ReportsEveryProblemNamingScenarioAndField) {
  const Options o = Parse(R"j({
    "setupTimeout": "0s", "summaryTimeUnit": "h", "summaryTrendStats": ["p(200)"],
    "scenarios": {
      "foo": {"executor": "constant-vus", "vus": 0},
      "si": {"executor": "shared-iterations", "vus": 10, "iterations": 5, "maxDuration": "500ms"},
      "pv": {"executor": "per-vu-iterations", "iterations": 0, "startTime": "-1s"},
      "rv": {"executor": "ramping-vus", "startVUs": 0,
             "stages": [{"duration": "10s"}, {"target": 0}, {"duration": "-1s", "target": -2}]},
      "car": {"executor": "constant-arrival-rate", "rate": 0, "duration": "10s",
              "preAllocatedVUs": 5, "maxVUs": 2, "timeUnit": "0s"},
      "rar": {"executor": "ramping-arrival-rate", "startRate": -1},
      "bad name": {"executor": "per-vu-iterations", "exec": ""},
      "noexport": {"executor": "per-vu-iterations", "exec": "missing"}
    }})j");
  const std::vector<std::string> exported = {"default"};
  const std::vector<std::string> problems = Validate(o, &exported);
  EXPECT_THAT(
      problems,
      UnorderedElementsAre(
          "setupTimeout: must be more than 0",
          "summaryTimeUnit: invalid unit \"h\", use s, ms or us",
          HasSubstr("summaryTrendStats: invalid percentile trend stat \"p(200)\""),
          "scenarios.foo: \"vus\" must be more than 0",
          "scenarios.foo: executor \"constant-vus\" requires \"duration\"",
          "scenarios.si: \"iterations\" (5) can't be less than \"vus\" (10)",
          "scenarios.si: \"maxDuration\" must be at least 1s, but is 500ms",
          "scenarios.pv: \"iterations\" must be more than 0",
          "scenarios.pv: \"startTime\" can't be negative",
          "scenarios.rv: either \"startVUs\" or one of the stages' targets must be more than 0",
          "scenarios.rv: stage 1: \"target\" is required",
          "scenarios.rv: stage 2: \"duration\" is required",
          "scenarios.rv: stage 3: \"duration\" can't be negative",
          "scenarios.rv: stage 3: \"target\" can't be negative",
          "scenarios.car: \"rate\" must be more than 0",
          "scenarios.car: \"maxVUs\" can't be less than \"preAllocatedVUs\"",
          "scenarios.car: \"timeUnit\" must be more than 0",
          "scenarios.rar: \"startRate\" can't be negative",
          "scenarios.rar: executor \"ramping-arrival-rate\" requires at least one stage in "
          "\"stages\"",
          "scenarios.rar: executor \"ramping-arrival-rate\" requires \"preAllocatedVUs\"",
          "scenarios.bad name: the scenario name may only contain latin letters, digits, "
          "underscores and dashes",
          "scenarios.bad name: \"exec\" can't be empty",
          "scenarios.noexport: function \"missing\" (exec) is not exported by the script"));
}

TEST(Validate, AcceptsRunnableOptions) {
  for (const char* options : {
           "{}",
           R"j({"vus": 10, "duration": "30s"})j",
           R"j({"stages": [{"duration": "10s", "target": 10}, {"duration": "0s", "target": 0}]})j",
           R"j({"scenarios": {"a": {"executor": "constant-arrival-rate", "rate": 1,
               "duration": "1s", "preAllocatedVUs": 0}}})j",
       }) {
    SCOPED_TRACE(options);
    EXPECT_THAT(Validate(Parse(options)), IsEmpty());
  }
}

TEST(ToJson, PrintsK6Layout) {
  const Options o = Parse(R"j({"vus": 10, "duration": 90000, "tags": {"a": "b"},
      "scenarios": {"car": {"executor": "constant-arrival-rate", "rate": 5, "duration": "1h",
                            "preAllocatedVUs": 2}},
      "dns": {"ttl": "1m"}, "unknownThing": 1})j");
  const Json j = ToJson(o);
  EXPECT_EQ(j["vus"], 10);
  EXPECT_EQ(j["duration"], "1m30s");
  EXPECT_TRUE(j["iterations"].is_null());
  EXPECT_EQ(j["tags"]["a"], "b");
  EXPECT_EQ(j["summaryTrendStats"], Json::parse(R"j(["avg","min","med","max","p(90)","p(95)"])j"));
  EXPECT_TRUE(j["systemTags"].is_array());
  EXPECT_EQ(j["dns"]["ttl"], "1m");
  EXPECT_TRUE(j.contains("rps") && j["rps"].is_null());
  EXPECT_FALSE(j.contains("unknownThing"));
  const Json& car = j["scenarios"]["car"];
  EXPECT_EQ(car["executor"], "constant-arrival-rate");
  EXPECT_EQ(car["duration"], "1h0m0s");
  EXPECT_EQ(car["rate"], 5);
  EXPECT_TRUE(car["maxVUs"].is_null());
  EXPECT_TRUE(car["gracefulStop"].is_null());
  EXPECT_FALSE(car.contains("vus"));
}

TEST(ToJson, RoundTripsThroughParse) {
  const Options o = Parse(R"j({"vus": 3, "iterations": 30, "hosts": {"a": "1.1.1.1"},
      "stages": [{"duration": "1m", "target": 3}], "setupTimeout": "90s",
      "scenarios": {"rv": {"executor": "ramping-vus", "startVUs": 2, "gracefulRampDown": "5s",
                           "stages": [{"duration": "10s", "target": 4}], "env": {"X": "y"}}}})j");
  absl::StatusOr<Options> back = ParseOptionsJson(ToJson(o));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(ToJson(*back), ToJson(o));
  EXPECT_EQ(back->scenarios->at("rv").graceful_ramp_down, absl::Seconds(5));
  EXPECT_EQ(back->scenarios->at("rv").env.at("X"), "y");
  EXPECT_EQ(back->setup_timeout, absl::Seconds(90));
}

TEST(ParseKeyValues, LaterWinsAndEmptyNamesFail) {
  EXPECT_EQ(*ParseKeyValues({"A=1", "B=", "A=2"}),
            (std::map<std::string, std::string>{{"A", "2"}, {"B", ""}}));
  EXPECT_FALSE(ParseKeyValues({"=x"}).ok());
  EXPECT_FALSE(ParseKeyValues({"x"}).ok());
}

TEST(ExecutorName, RoundTrips) {
  for (ExecutorType t : {ExecutorType::kSharedIterations, ExecutorType::kPerVuIterations,
                         ExecutorType::kConstantVus, ExecutorType::kRampingVus,
                         ExecutorType::kConstantArrivalRate, ExecutorType::kRampingArrivalRate}) {
    SCOPED_TRACE(ExecutorName(t));
    EXPECT_EQ(ParseExecutorType(ExecutorName(t)), t);
  }
  EXPECT_FALSE(ParseExecutorType("externally-controlled").has_value());
}

}  // namespace
}  // namespace volley
