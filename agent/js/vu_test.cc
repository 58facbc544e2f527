// Tests of the VU core and the non-HTTP k6 modules: scripts run in a Vu on a real Loop fiber.
#include "agent/js/vu.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "agent/js/js_test_util.h"
#include "agent/js/vu_impl.h"

namespace volley::js {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class VuTest : public testing::VuFixture {
 protected:
  // Runs one iteration of `vu` that another thread interrupts after 100 ms (a busy loop never
  // yields, so only a cross-thread Interrupt() can stop it).
  absl::StatusOr<bool> IterateInterruptedFromAnotherThread(Vu* vu, ScriptError* error = nullptr) {
    std::thread stopper([vu] {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      vu->Interrupt();
    });
    absl::StatusOr<bool> r = Iterate(vu, {}, error);
    stopper.join();
    return r;
  }
};

TEST_F(VuTest, RunsDefaultAndCountsIterationsWithScenarioTags) {
  auto vu = MustCreate("export default function () {}");
  ASSERT_NE(vu, nullptr);
  IterationInfo info;
  info.scenario = "load";
  ASSERT_TRUE(*Iterate(vu.get(), info));
  ASSERT_TRUE(*Iterate(vu.get(), info));
  TakeBatch();
  EXPECT_EQ(Sum("iterations", {{"scenario", "load"}, {"group", ""}}), 2);
  EXPECT_EQ(Count("iteration_duration", {{"scenario", "load"}}), 2u);
  EXPECT_EQ(Count("data_sent"), 2u);
}

TEST_F(VuTest, ExportsOptionsAndFunctionNames) {
  auto vu = MustCreate(R"(
    export const options = { vus: 2, thresholds: { http_req_duration: ['p(95)<500'] } };
    export function setup() {}
    export function teardown() {}
    export function other() {}
    export default function () {}
  )");
  ASSERT_NE(vu, nullptr);
  EXPECT_EQ(*vu->OptionsJson(), R"({"vus":2,"thresholds":{"http_req_duration":["p(95)<500"]}})");
  EXPECT_THAT(vu->ExportedFunctions(),
              UnorderedElementsAre("setup", "teardown", "other", "default"));
}

TEST_F(VuTest, NoOptionsGiveEmptyObject) {
  auto vu = MustCreate("export default function () {}");
  ASSERT_NE(vu, nullptr);
  EXPECT_EQ(*vu->OptionsJson(), "{}");
}

TEST_F(VuTest, ImportsRelativeModulesOnce) {
  auto vu = MustCreate(
      R"(
    import { a } from './lib/a.js';
    import { b, count } from "./b.js";
    export function setup() { return { a: a(), b, count: count() }; }
    export default function () {}
  )",
      {{"/test/lib/a.js",
        "import { b, bump } from '../b.js'; bump(); export function a() { return b + 1; }"},
       {"/test/b.js",
        "let n = 0; export const b = 41; export function bump() { n++; } "
        "export function count() { return n; }"}});
  ASSERT_NE(vu, nullptr);
  EXPECT_EQ(*Setup(vu.get()), R"({"a":42,"b":41,"count":1})");
}

TEST_F(VuTest, SetupResultUndefinedIsEmpty) {
  auto vu = MustCreate("export function setup() {} export default function () {}");
  ASSERT_NE(vu, nullptr);
  EXPECT_EQ(*Setup(vu.get()), "");
}

TEST_F(VuTest, SyntaxErrorReportsFileLineColumnAndSource) {
  SetScript("export default function () {\n  let x = ;\n}\n");
  auto vu = Create();
  ASSERT_FALSE(vu.ok());
  EXPECT_EQ(vu.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(vu.status().message(), HasSubstr("SyntaxError"));
  EXPECT_THAT(vu.status().message(), HasSubstr("/test/script.js:2:11"));
  EXPECT_THAT(vu.status().message(), HasSubstr("let x = ;"));
}

TEST_F(VuTest, SyntaxErrorInImportedFileNamesThatFile) {
  SetScript("import './bad.js'; export default function () {}", {{"/test/bad.js", "1 +* 2"}});
  auto vu = Create();
  ASSERT_FALSE(vu.ok());
  EXPECT_THAT(vu.status().message(), HasSubstr("/test/bad.js:1:"));
}

TEST_F(VuTest, UnknownModuleNamesImporter) {
  SetScript("import x from 'k6/nope'; export default function () {}");
  auto vu = Create();
  ASSERT_FALSE(vu.ok());
  EXPECT_THAT(vu.status().message(), HasSubstr("k6/nope"));
  EXPECT_THAT(vu.status().message(), HasSubstr("/test/script.js"));
}

TEST_F(VuTest, MissingFileNamesImporter) {
  SetScript("import x from './missing.js'; export default function () {}");
  auto vu = Create();
  ASSERT_FALSE(vu.ok());
  EXPECT_THAT(vu.status().message(), HasSubstr("./missing.js"));
  EXPECT_THAT(vu.status().message(), HasSubstr("imported from /test/script.js"));
}

TEST_F(VuTest, InitErrorHasLocation) {
  SetScript("const a = 1;\nnotDefined();\nexport default function () {}");
  auto vu = Create();
  ASSERT_FALSE(vu.ok());
  EXPECT_THAT(vu.status().message(), HasSubstr("ReferenceError: notDefined is not defined"));
  EXPECT_THAT(vu.status().message(), HasSubstr("/test/script.js:2:1"));
}

TEST_F(VuTest, IterationExceptionGivesScriptErrorAndVuStaysUsable) {
  auto vu = MustCreate(R"(
    function inner() { throw new Error('boom ' + __ITER); }
    export default function () {
      if (__ITER === 0) inner();
    }
  )");
  ASSERT_NE(vu, nullptr);
  ScriptError error;
  absl::StatusOr<bool> r = Iterate(vu.get(), {}, &error);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(*r);
  EXPECT_EQ(error.message, "Error: boom 0");
  EXPECT_EQ(error.location, "/test/script.js:2:30");
  EXPECT_THAT(error.stack, HasSubstr("at inner (/test/script.js:2:30)"));
  EXPECT_THAT(error.stack, HasSubstr("at default (/test/script.js:4:25)"));
  EXPECT_THAT(error.ToString(), HasSubstr("boom 0"));

  IterationInfo next;
  next.iteration_in_instance = 1;
  EXPECT_TRUE(*Iterate(vu.get(), next));
  TakeBatch();
  // k6 counts an iteration that threw as an iteration.
  EXPECT_EQ(Sum("iterations"), 2);
}

TEST_F(VuTest, GlobalsVuIterEnv) {
  test_.env = {{"A", "1"}, {"B", "global"}};
  auto vu = MustCreate(R"(
    export function setup() { return { vu: __VU, a: __ENV.A, b: __ENV.B }; }
    export default function () {
      if (__ITER !== 7) throw new Error('iter ' + __ITER);
      if (__ENV.B !== 'scenario') throw new Error('env ' + __ENV.B);
    }
  )");
  ASSERT_NE(vu, nullptr);
  EXPECT_EQ(*Setup(vu.get()), R"({"vu":1,"a":"1","b":"global"})");
  IterationInfo info;
  info.scenario = "s1";
  info.iteration_in_instance = 7;
  info.scenario_env = {{"B", "scenario"}};
  ScriptError error;
  EXPECT_TRUE(*Iterate(vu.get(), info, &error)) << error.ToString();
}

TEST_F(VuTest, SetupDataReachesEveryIteration) {
  auto vu = MustCreate(R"(
    export default function (data) {
      if (data.token !== 'abc') throw new Error('bad data ' + JSON.stringify(data));
      data.token = 'mutated';  // k6: each VU has its own copy
    }
  )");
  ASSERT_NE(vu, nullptr);
  ASSERT_TRUE(vu->SetSetupData(R"({"token":"abc"})").ok());
  ScriptError error;
  EXPECT_TRUE(*Iterate(vu.get(), {}, &error)) << error.ToString();
}

TEST_F(VuTest, ChecksEmitRatesWithNameAndGroup) {
  auto vu = MustCreate(R"(
    import { check, group } from 'k6';
    export default function () {
      const ok = check(5, { 'is five': (v) => v === 5, 'is six': (v) => v === 6, 'truthy': 1 });
      if (ok) throw new Error('check() should return false');
      group('outer', () => {
        group('inner', () => { check(null, { 'nested': true }, { extra: 'x' }); });
      });
    }
  )");
  ASSERT_NE(vu, nullptr);
  IterationInfo info;
  info.scenario = "sc";
  ScriptError error;
  ASSERT_TRUE(*Iterate(vu.get(), info, &error)) << error.ToString();
  TakeBatch();
  EXPECT_EQ(Count("checks", {{"check", "is five"}, {"group", ""}, {"scenario", "sc"}}), 1u);
  EXPECT_EQ(Nonzero("checks", {{"check", "is five"}}), 1u);
  EXPECT_EQ(Count("checks", {{"check", "is six"}}), 1u);
  EXPECT_EQ(Nonzero("checks", {{"check", "is six"}}), 0u);
  EXPECT_EQ(Nonzero("checks", {{"check", "truthy"}}), 1u);
  EXPECT_EQ(Nonzero("checks", {{"check", "nested"}, {"group", "::outer::inner"}, {"extra", "x"}}),
            1u);
  EXPECT_EQ(Count("group_duration", {{"group", "::outer"}}), 1u);
  EXPECT_EQ(Count("group_duration", {{"group", "::outer::inner"}}), 1u);
}

TEST_F(VuTest, GroupReturnsValueAndRestoresPathAfterThrow) {
  auto vu = MustCreate(R"(
    import { check, group } from 'k6';
    export default function () {
      if (group('g', () => 42) !== 42) throw new Error('group result');
      try { group('bad', () => { throw new Error('x'); }); } catch (e) {}
      check(1, { 'after': true });
    }
  )");
  ASSERT_NE(vu, nullptr);
  ScriptError error;
  ASSERT_TRUE(*Iterate(vu.get(), {}, &error)) << error.ToString();
  TakeBatch();
  EXPECT_EQ(Count("checks", {{"check", "after"}, {"group", ""}}), 1u);
}

TEST_F(VuTest, ThrowingCheckCountsAsFailedAndRethrows) {
  auto vu = MustCreate(R"(
    import { check } from 'k6';
    export default function () { check(1, { 'throws': () => { throw new Error('in check'); } }); }
  )");
  ASSERT_NE(vu, nullptr);
  ScriptError error;
  EXPECT_FALSE(*Iterate(vu.get(), {}, &error));
  EXPECT_EQ(error.message, "Error: in check");
  TakeBatch();
  EXPECT_EQ(Count("checks", {{"check", "throws"}}), 1u);
  EXPECT_EQ(Nonzero("checks", {{"check", "throws"}}), 0u);
}

TEST_F(VuTest, FailThrows) {
  auto vu = MustCreate("import { fail } from 'k6'; export default function () { fail('nope'); }");
  ASSERT_NE(vu, nullptr);
  ScriptError error;
  EXPECT_FALSE(*Iterate(vu.get(), {}, &error));
  EXPECT_EQ(error.message, "Error: nope");
  EXPECT_FALSE(error.aborted);
}

TEST_F(VuTest, SleepYieldsToOtherFibers) {
  auto vu = MustCreate("import { sleep } from 'k6'; export default function () { sleep(0.05); }");
  ASSERT_NE(vu, nullptr);
  int ticks = 0;
  bool done = false;
  loop::FiberOptions options;
  options.unwind_on_destroy = false;
  loop_.Spawn(
      [&] {
        ScriptError error;
        EXPECT_TRUE(*vu->RunIteration({}, &error));
        done = true;
      },
      options);
  loop_.Spawn([&] {
    while (!done) {
      ++ticks;
      loop_.Sleep(std::chrono::milliseconds(5));
    }
  });
  auto start = std::chrono::steady_clock::now();
  loop_.Run(true);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(45));
  EXPECT_GE(ticks, 5);
}

TEST_F(VuTest, ManyVusInterleaveOnOneLoop) {
  SetScript(R"(
    import { sleep } from 'k6';
    let total = 0;
    export default function () {
      for (let i = 0; i < 3; i++) { total += __VU; sleep(0.001); }
      if (total !== 3 * __VU * (__ITER + 1)) throw new Error('state mixed up: ' + total);
    }
  )");
  std::vector<std::unique_ptr<Vu>> vus;
  for (int i = 1; i <= 20; ++i) {
    auto vu = Create(i);
    ASSERT_TRUE(vu.ok()) << vu.status();
    vus.push_back(std::move(*vu));
  }
  int failures = 0;
  for (auto& vu : vus) {
    loop::FiberOptions options;
    options.unwind_on_destroy = false;
    loop_.Spawn(
        [&, v = vu.get()] {
          for (int it = 0; it < 3; ++it) {
            IterationInfo info;
            info.iteration_in_instance = it;
            ScriptError error;
            auto r = v->RunIteration(info, &error);
            if (!r.ok() || !*r) {
              ++failures;
              ADD_FAILURE() << error.ToString();
            }
          }
        },
        options);
  }
  loop_.Run(true);
  EXPECT_EQ(failures, 0);
  TakeBatch();
  EXPECT_EQ(Sum("iterations"), 60);
}

TEST_F(VuTest, CustomMetrics) {
  auto vu = MustCreate(R"(
    import { Counter, Gauge, Rate, Trend } from 'k6/metrics';
    const c = new Counter('my_counter');
    const g = new Gauge('my_gauge');
    const r = new Rate('my_rate');
    const t = new Trend('my_trend', true);
    export function setup() { return [c.name, t.name]; }
    export default function () {
      c.add(2); c.add(3, { tag: 'a' });
      g.add(7);
      r.add(true); r.add(0);
      t.add(12.5);
    }
  )");
  ASSERT_NE(vu, nullptr);
  EXPECT_EQ(*Setup(vu.get()), R"(["my_counter","my_trend"])");
  ScriptError error;
  ASSERT_TRUE(*Iterate(vu.get(), {}, &error)) << error.ToString();
  TakeBatch();
  EXPECT_EQ(Sum("my_counter"), 5);
  EXPECT_EQ(Sum("my_counter", {{"tag", "a"}}), 3);
  EXPECT_EQ(Count("my_gauge"), 1u);
  EXPECT_EQ(Count("my_rate"), 2u);
  EXPECT_EQ(Nonzero("my_rate"), 1u);
  EXPECT_EQ(Sum("my_trend"), 12.5);
  const metrics::MetricDef* def = registry_.Find("my_trend");
  ASSERT_NE(def, nullptr);
  EXPECT_EQ(def->contains, metrics::ValueType::kTime);
}

TEST_F(VuTest, InvalidMetricNameFailsInitWithLocation) {
  SetScript(
      "import { Counter } from 'k6/metrics';\nconst c = new Counter('bad name!');\n"
      "export default function () {}");
  auto vu = Create();
  ASSERT_FALSE(vu.ok());
  EXPECT_THAT(vu.status().message(), HasSubstr("/test/script.js:2:"));
}

TEST_F(VuTest, MetricOutsideInitThrows) {
  auto vu = MustCreate(R"(
    import { Counter } from 'k6/metrics';
    export default function () { new Counter('late'); }
  )");
  ASSERT_NE(vu, nullptr);
  ScriptError error;
  EXPECT_FALSE(*Iterate(vu.get(), {}, &error));
  EXPECT_THAT(error.message, HasSubstr("init context"));
}

TEST_F(VuTest, OpenReadsRelativeToModuleInInitOnly) {
  auto vu = MustCreate(
      R"(
    import { data } from './sub/lib.js';
    const text = open('./data.txt');
    const bytes = open('./data.txt', 'b');
    export function setup() { return { text, data, n: bytes.byteLength, isBuf: bytes instanceof ArrayBuffer }; }
    export default function () { open('./data.txt'); }
  )",
      {{"/test/data.txt", "hello"},
       {"/test/sub/lib.js", "export const data = open('../sub/x.json');"},
       {"/test/sub/x.json", "{\"k\":1}"}});
  ASSERT_NE(vu, nullptr);
  EXPECT_EQ(*Setup(vu.get()), R"({"text":"hello","data":"{\"k\":1}","n":5,"isBuf":true})");
  ScriptError error;
  EXPECT_FALSE(*Iterate(vu.get(), {}, &error));
  EXPECT_THAT(error.message, HasSubstr("init"));
}

TEST_F(VuTest, Base64EncodingVectors) {
  // The expectations of k6's examples/base64.js, plus binary output.
  auto vu = MustCreate(R"(
    import encoding from 'k6/encoding';
    import { b64encode, b64decode } from 'k6/encoding';
    export function setup() {
      const u = new Uint8Array(b64decode('AQID'));
      return [
        encoding.b64encode('hello world'),
        b64decode('aGVsbG8gd29ybGQ=', null, 's'),
        b64encode('hello world', 'rawstd'),
        b64decode('aGVsbG8gd29ybGQ', 'rawstd', 's'),
        b64encode('小飼弾..', 'url'),
        b64decode('5bCP6aO85by-Li4=', 'url', 's'),
        b64encode('小飼弾..', 'rawurl'),
        b64decode('5bCP6aO85by-Li4', 'rawurl', 's'),
        Array.from(u),
        b64encode(new Uint8Array([255, 254]).buffer),
      ];
    }
    export default function () {}
  )");
  ASSERT_NE(vu, nullptr);
  EXPECT_EQ(*Setup(vu.get()),
            R"(["aGVsbG8gd29ybGQ=","hello world","aGVsbG8gd29ybGQ","hello world",)"
            R"("5bCP6aO85by-Li4=","小飼弾..","5bCP6aO85by-Li4","小飼弾..",[1,2,3],"//4="])");
}

TEST_F(VuTest, CryptoVectors) {
  auto vu = MustCreate(R"(
    import crypto from 'k6/crypto';
    export function setup() {
      const h = crypto.createHash('sha1');
      h.update('some other ');
      h.update('text');
      const hm = crypto.createHMAC('sha256', 'key');
      hm.update('The quick brown fox jumps over the lazy dog');
      return [
        crypto.md5('hello', 'hex'),
        crypto.sha1('some text', 'hex'),
        crypto.sha256('abc', 'hex'),
        crypto.sha256('abc', 'base64'),
        crypto.sha512_256('abc', 'hex'),
        h.digest('hex'),
        h.digest('hex'),
        crypto.hmac('sha256', 'key', 'The quick brown fox jumps over the lazy dog', 'hex'),
        hm.digest('hex'),
        crypto.sha1('x', 'binary').byteLength,
        crypto.randomBytes(16).byteLength,
      ];
    }
    export default function () {}
  )");
  ASSERT_NE(vu, nullptr);
  EXPECT_EQ(
      *Setup(vu.get()),
      R"(["5d41402abc4b2a76b9719d911017c592","37aa63c77398d954473262e1a0057c1e632eda77",)"
      R"("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",)"
      R"("ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=",)"
      R"("53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23",)"
      R"("de360656b2b6dab0b87eb45fb04d54c8cc152dbe","de360656b2b6dab0b87eb45fb04d54c8cc152dbe",)"
      R"("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",)"
      R"("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8",20,16])");
}

TEST_F(VuTest, ExecutionModule) {
  test_.options_json = R"({"vus":3})";
  test_.instance_vus_initialized = 3;
  auto vu = MustCreate(R"(
    import exec from 'k6/execution';
    import { check } from 'k6';
    export default function () {
      exec.vu.tags.mytag = 'v1';
      check(1, { c: true });
      const out = {
        idInTest: exec.vu.idInTest, iterationInScenario: exec.vu.iterationInScenario,
        iterationInInstance: exec.vu.iterationInInstance, name: exec.scenario.name,
        executor: exec.scenario.executor, iterationInTest: exec.scenario.iterationInTest,
        vusInitialized: exec.instance.vusInitialized, vus: exec.test.options.vus,
        tag: exec.vu.tags.mytag, scenarioTag: exec.vu.tags.scenario,
        keys: Object.keys(exec.vu.tags),
      };
      throw new Error(JSON.stringify(out));
    }
  )");
  ASSERT_NE(vu, nullptr);
  IterationInfo info;
  info.scenario = "sc";
  info.executor = "constant-vus";
  info.iteration_in_scenario = 4;
  info.iteration_in_instance = 9;
  info.scenario_iteration_in_test = 17;
  ScriptError error;
  EXPECT_FALSE(*Iterate(vu.get(), info, &error));
  EXPECT_EQ(error.message,
            R"(Error: {"idInTest":1,"iterationInScenario":4,"iterationInInstance":9,"name":"sc",)"
            R"("executor":"constant-vus","iterationInTest":17,"vusInitialized":3,"vus":3,)"
            R"("tag":"v1","scenarioTag":"sc","keys":["mytag","scenario"]})");
  TakeBatch();
  EXPECT_EQ(Count("checks", {{"mytag", "v1"}, {"scenario", "sc"}}), 1u);
}

TEST_F(VuTest, AbortStopsIterationAndCallsTest) {
  std::string reason;
  test_.abort_test = [&](const std::string& r) { reason = r; };
  auto vu = MustCreate(R"(
    import exec from 'k6/execution';
    export default function () {
      try { exec.test.abort('enough'); } catch (e) {}
      throw new Error('not reached');
    }
  )");
  ASSERT_NE(vu, nullptr);
  ScriptError error;
  absl::StatusOr<bool> r = Iterate(vu.get(), {}, &error);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(*r);
  EXPECT_TRUE(error.aborted);
  EXPECT_THAT(error.message, HasSubstr("enough"));
  EXPECT_EQ(reason, "enough");
  TakeBatch();
  EXPECT_EQ(Sum("iterations"), 0);
  // An aborted VU stays stopped: only interrupts are cleared.
  absl::Status cleared;
  OnFiber([&] { cleared = vu->ClearInterrupt(); });
  EXPECT_EQ(cleared.code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(VuTest, InterruptFromAnotherThreadStopsABusyLoop) {
  auto vu = MustCreate("export default function () { for (;;) {} }");
  ASSERT_NE(vu, nullptr);
  ScriptError error;
  absl::StatusOr<bool> r = IterateInterruptedFromAnotherThread(vu.get(), &error);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(error.message, "interrupted");
  // The interrupt stays in force until the owner clears it.
  EXPECT_EQ(Iterate(vu.get()).status().code(), absl::StatusCode::kCancelled);
}

TEST_F(VuTest, InterruptedBusyLoopVuRunsNextIterationWithItsStateAfterClear) {
  auto vu = MustCreate(R"(
    let inits = 0;
    inits++;
    let calls = 0;
    export default function () {
      calls++;
      if (calls === 1) for (;;) {}
      if (inits !== 1 || calls !== 2) throw new Error(`inits=${inits} calls=${calls}`);
    }
  )");
  ASSERT_NE(vu, nullptr);
  ScriptError error;
  absl::StatusOr<bool> r = IterateInterruptedFromAnotherThread(vu.get(), &error);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kCancelled);

  absl::Status cleared;
  OnFiber([&] { cleared = vu->ClearInterrupt(); });
  ASSERT_TRUE(cleared.ok()) << cleared;
  IterationInfo next;
  next.iteration_in_instance = 1;
  ScriptError next_error;
  r = Iterate(vu.get(), next, &next_error);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(*r) << next_error.ToString();
  TakeBatch();
  EXPECT_EQ(Sum("iterations"), 1);  // the interrupted one is not counted
}

// As the agent's HardStop does it: a loop timer interrupts the VU and its fiber mid-sleep.
TEST_F(VuTest, VuInterruptedWhileSleepingSleepsAgainAfterClear) {
  auto vu = MustCreate(R"(
    import { sleep } from 'k6';
    let calls = 0;
    export default function () {
      calls++;
      if (calls === 1) {
        sleep(10);
        throw new Error('not reached');
      }
      if (calls !== 2) throw new Error(`calls=${calls}`);
      sleep(0.05);
    }
  )");
  ASSERT_NE(vu, nullptr);
  absl::StatusOr<bool> first, second;
  absl::Status cleared;
  ScriptError first_error, second_error;
  loop::Clock::duration cut_after{}, second_took{};
  OnFiber([&] {
    loop::Fiber* self = loop_.CurrentFiber();
    auto start = loop_.Now();
    loop_.AddTimer(start + std::chrono::milliseconds(50), [&, self] {
      vu->Interrupt();
      loop_.Interrupt(self);
    });
    first = vu->RunIteration({}, &first_error);
    cut_after = loop_.Now() - start;
    cleared = vu->ClearInterrupt();
    start = loop_.Now();
    second = vu->RunIteration({}, &second_error);
    second_took = loop_.Now() - start;
  });
  EXPECT_EQ(first.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(first_error.message, "interrupted");
  EXPECT_LT(cut_after, std::chrono::seconds(5));
  ASSERT_TRUE(cleared.ok()) << cleared;
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(*second) << second_error.ToString();
  // The fiber's interrupt flag went too: the second iteration's sleep really slept.
  EXPECT_GE(second_took, std::chrono::milliseconds(45));
}

TEST_F(VuTest, ClearInterruptDropsPromiseJobsOfTheCutIteration) {
  auto vu = MustCreate(R"(
    let leaked = 0;
    let calls = 0;
    export default async function () {
      calls++;
      if (calls === 1) {
        Promise.resolve().then(() => { leaked++; });
        for (;;) {}
      }
      await null;
      if (leaked !== 0) throw new Error(`leaked=${leaked}`);
    }
  )");
  ASSERT_NE(vu, nullptr);
  absl::StatusOr<bool> r = IterateInterruptedFromAnotherThread(vu.get());
  ASSERT_EQ(r.status().code(), absl::StatusCode::kCancelled);
  absl::Status cleared;
  OnFiber([&] { cleared = vu->ClearInterrupt(); });
  ASSERT_TRUE(cleared.ok()) << cleared;
  ScriptError error;
  r = Iterate(vu.get(), {}, &error);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(*r) << error.ToString();
}

// An Interrupt() that lands after an iteration has ended is meant for that iteration: it stops
// the next one unless the owner clears it first, and then it leaves no termination behind.
TEST_F(VuTest, InterruptBetweenIterationsIsRefusedOrCleared) {
  auto vu =
      MustCreate("let n = 0; export default function () { for (let i = 0; i < 1e5; i++) n++; }");
  ASSERT_NE(vu, nullptr);
  ASSERT_TRUE(*Iterate(vu.get()));
  vu->Interrupt();
  EXPECT_EQ(Iterate(vu.get()).status().code(), absl::StatusCode::kCancelled);

  vu->Interrupt();
  absl::Status cleared;
  OnFiber([&] { cleared = vu->ClearInterrupt(); });
  ASSERT_TRUE(cleared.ok()) << cleared;
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    absl::StatusOr<bool> r = Iterate(vu.get());
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(*r);
  }
  // Clearing a VU that was not interrupted changes nothing.
  OnFiber([&] { cleared = vu->ClearInterrupt(); });
  EXPECT_TRUE(cleared.ok()) << cleared;
  EXPECT_TRUE(*Iterate(vu.get()));
}

TEST_F(VuTest, DeepRecursionIsARangeErrorNotACrash) {
  auto vu =
      MustCreate("function f(n) { return f(n + 1) + 1; } export default function () { f(0); }");
  ASSERT_NE(vu, nullptr);
  ScriptError error;
  EXPECT_FALSE(*Iterate(vu.get(), {}, &error));
  EXPECT_THAT(error.message, HasSubstr("RangeError"));
}

TEST_F(VuTest, AsyncDefaultFunctionRuns) {
  auto vu = MustCreate(R"(
    export default async function () {
      await Promise.resolve(1);
      throw new Error('after await');
    }
  )");
  ASSERT_NE(vu, nullptr);
  ScriptError error;
  EXPECT_FALSE(*Iterate(vu.get(), {}, &error));
  EXPECT_EQ(error.message, "Error: after await");
}

TEST_F(VuTest, HandleSummaryAndTeardown) {
  auto vu = MustCreate(R"(
    export function teardown(data) { if (data.x !== 1) throw new Error('teardown data'); }
    export function handleSummary(data) { return { 'stdout': 'n=' + data.metrics.n }; }
    export default function () {}
  )");
  ASSERT_NE(vu, nullptr);
  absl::Status teardown;
  absl::StatusOr<std::string> summary;
  OnFiber([&] {
    teardown = vu->RunTeardown(R"({"x":1})");
    summary = vu->RunHandleSummary(R"({"metrics":{"n":5}})");
  });
  EXPECT_TRUE(teardown.ok()) << teardown;
  EXPECT_EQ(*summary, R"({"stdout":"n=5"})");
}

// The k6 examples sit beside the repository (../shared/k6-examples) unless VOLLEY_K6_EXAMPLES
// names another folder.
std::string K6ExamplesDir() {
  if (const char* env = std::getenv("VOLLEY_K6_EXAMPLES"); env != nullptr && *env != '\0') {
    return std::string(env) + "/";
  }
  std::filesystem::path here = std::filesystem::path(__FILE__).parent_path();
  return (here / "../../../shared/k6-examples").lexically_normal().string() + "/";
}

TEST_F(VuTest, K6ExampleBase64PassesAllChecks) {
  RecordingDiskSource disk;
  test_.files = &disk;
  test_.entry = K6ExamplesDir() + "base64.js";
  auto vu = Create();
  ASSERT_TRUE(vu.ok()) << vu.status();
  ScriptError error;
  ASSERT_TRUE(*Iterate(vu->get(), {}, &error)) << error.ToString();
  TakeBatch();
  EXPECT_EQ(Count("checks"), 8u);
  EXPECT_EQ(Nonzero("checks"), 8u);
  EXPECT_EQ(disk.files().count(K6ExamplesDir() + "base64.js"), 1u);
}

TEST_F(VuTest, SharedArrayIsAFrozenCopy) {
  auto vu = MustCreate(R"(
    import { SharedArray } from 'k6/data';
    const users = new SharedArray('users', () => [{ name: 'a' }, { name: 'b' }]);
    export function setup() {
      let threw = false;
      try { users[0].name = 'x'; } catch (e) { threw = true; }
      return [users.length, users[1].name, users[0].name, threw];
    }
    export default function () {}
  )");
  ASSERT_NE(vu, nullptr);
  EXPECT_EQ(*Setup(vu.get()), R"([2,"b","a",true])");
}

// The function runs in the first VU only; a second VU of the same test reads that data, and the
// view behaves like a read-only array (length, indexing, for-of, Array.prototype methods).
TEST_F(VuTest, SharedArrayRunsItsFunctionOnceForAllVus) {
  const char* script = R"(
    import { SharedArray } from 'k6/data';
    globalThis.runs = 0;
    const data = new SharedArray('rows', () => { globalThis.runs++; return [1, { a: [2] }, 'x']; });
    export function setup() {
      const seen = [];
      for (const row of data) seen.push(row);
      let threw = [];
      try { data[0] = 5; } catch (e) { threw.push(e instanceof TypeError); }
      try { data[1].a.push(3); } catch (e) { threw.push(e instanceof TypeError); }
      return { runs: globalThis.runs, length: data.length, seen, third: data[2],
               beyond: data[3] === undefined, mapped: data.map((r) => typeof r), threw,
               has: [0 in data, 3 in data] };
    }
    export default function () {}
  )";
  auto first = MustCreate(script);
  ASSERT_NE(first, nullptr);
  auto second = MustCreate(script);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(*Setup(first.get()),
            R"({"runs":1,"length":3,"seen":[1,{"a":[2]},"x"],"third":"x","beyond":true,)"
            R"("mapped":["number","object","string"],"threw":[true,true],"has":[true,false]})");
  EXPECT_EQ(*Setup(second.get()),
            R"({"runs":0,"length":3,"seen":[1,{"a":[2]},"x"],"third":"x","beyond":true,)"
            R"("mapped":["number","object","string"],"threw":[true,true],"has":[true,false]})");
}

TEST_F(VuTest, SharedArrayFunctionErrorsReachTheScript) {
  SetScript(R"(
    import { SharedArray } from 'k6/data';
    const data = new SharedArray('bad', () => 42);
    export default function () {}
  )");
  auto vu = Create();
  ASSERT_FALSE(vu.ok());
  EXPECT_THAT(std::string(vu.status().message()), HasSubstr("must return an array"));
}

// Every k6 example loads (init context, options) and the ones without HTTP run an iteration.
TEST_F(VuTest, K6ExamplesLoad) {
  const std::string dir = K6ExamplesDir();
  for (const char* name : {"base64.js", "crypto.js", "custom_metrics.js", "html_form_post.js",
                           "http_batch.js", "http_get.js", "http_verbs.js", "json.js", "logging.js",
                           "stages.js", "tagging.js", "thresholds.js"}) {
    SCOPED_TRACE(name);
    RecordingDiskSource disk;
    test_.files = &disk;
    test_.entry = dir + name;
    auto vu = Create();
    ASSERT_TRUE(vu.ok()) << vu.status();
    EXPECT_TRUE((*vu)->OptionsJson().ok());
    std::string file = name;
    if (file == "crypto.js" || file == "logging.js" || file == "base64.js") {
      ScriptError error;
      EXPECT_TRUE(*Iterate(vu->get(), {}, &error)) << error.ToString();
    }
  }
}

TEST(ResolvePath, Table) {
  struct Case {
    const char* spec;
    const char* referrer;
    const char* want;
  } cases[] = {
      {"./lib.js", "/a/b/main.js", "/a/b/lib.js"},
      {"../x.js", "/a/b/main.js", "/a/x.js"},
      {"/abs/y.js", "/a/b/main.js", "/abs/y.js"},
      {"file:///abs/z.js", "/a/main.js", "/abs/z.js"},
      {"./c.js", "https://jslib.k6.io/lib/1.0/index.js", "https://jslib.k6.io/lib/1.0/c.js"},
      {"https://x.io/m.js", "/a/main.js", "https://x.io/m.js"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.spec);
    EXPECT_EQ(VuImpl::ResolvePath(c.spec, c.referrer), c.want);
  }
}

}  // namespace
}  // namespace volley::js

namespace volley::js {
namespace {

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Not a pass/fail benchmark: the CPU cost of an empty iteration and of a check().
TEST_F(VuTest, IterationCostReport) {
  struct Case {
    const char* name;
    const char* script;
  } cases[] = {
      {"empty iteration", "export default function () {}"},
      {"check",
       "import { check } from 'k6'; "
       "export default function () { check(1, { 'is one': (v) => v === 1 }); }"},
      {"group", "import { group } from 'k6'; export default function () { group('g', () => 1); }"},
  };
  for (const Case& c : cases) {
    auto vu = MustCreate(c.script);
    ASSERT_NE(vu, nullptr);
    const int n = 20000;
    double cpu_s = 0;
    OnFiber([&] {
      IterationInfo info;
      ScriptError error;
      (void)vu->RunIteration(info, &error);
      double start = ThreadCpuSeconds();
      for (int i = 0; i < n; ++i) (void)vu->RunIteration(info, &error);
      cpu_s = ThreadCpuSeconds() - start;
    });
    std::printf("[ bench    ] %s: %.2f us CPU per iteration\n", c.name, cpu_s / n * 1e6);
  }

  // Isolate creation with many VUs alive (V8's JIT makes this grow with the count).
  SetScript(
      "import http from 'k6/http'; import { check } from 'k6'; export default function () {}");
  std::vector<std::unique_ptr<Vu>> vus;
  const char* n_env = std::getenv("VOLLEY_BENCH_CREATE");
  const int n = n_env != nullptr ? std::atoi(n_env) : 50;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < n; ++i) {
    auto vu = Create(i + 1);
    ASSERT_TRUE(vu.ok());
    vus.push_back(std::move(*vu));
    if (i + 1 == n / 2 || i + 1 == n) {
      double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
      std::printf("[ bench    ] %d VUs created: %.2f ms per VU on average\n", i + 1, ms / (i + 1));
    }
  }
}

}  // namespace
}  // namespace volley::js
