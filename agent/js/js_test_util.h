// Test support for agent/js (header-only, so the library glob skips it): a fixture that owns a
// Loop, a Registry and an Aggregator, serves scripts from an in-memory bundle, and runs VU calls
// on a fiber of the loop; plus lookups into the aggregated batch.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "agent/js/vu.h"
#include "agent/loop/loop.h"
#include "common/metrics/aggregator.h"
#include "common/metrics/registry.h"

namespace volley::js::testing {

class VuFixture : public ::testing::Test {
 protected:
  // VOLLEY_V8_FLAGS (e.g. "--jitless") lets a benchmark run compare V8 modes.
  static void SetUpTestSuite() {
    const char* flags = std::getenv("VOLLEY_V8_FLAGS");
    InitV8(flags != nullptr ? flags : "");
  }

  void SetUp() override {
    test_.registry = &registry_;
    test_.entry = "/test/script.js";
  }

  // Replaces the bundle's files (path -> content) and points the entry at /test/script.js.
  void SetScript(const std::string& script, std::map<std::string, std::string> more = {}) {
    more["/test/script.js"] = script;
    source_ = std::make_unique<BundleSource>(std::move(more));
    test_.files = source_.get();
  }

  // Runs `body` on a fiber of the loop until it returns.
  void OnFiber(std::function<void()> body) {
    loop::FiberOptions options;
    options.unwind_on_destroy = false;
    loop_.Spawn(std::move(body), options);
    loop_.Run(/*until_idle=*/true);
  }

  absl::StatusOr<std::unique_ptr<Vu>> Create(std::uint64_t id = 1) {
    absl::StatusOr<std::unique_ptr<Vu>> vu;
    OnFiber([&] { vu = Vu::Create(&test_, &loop_, &aggregator_, id, id); });
    return vu;
  }

  // Creates a VU from `script` and fails the test when that does not work.
  std::unique_ptr<Vu> MustCreate(const std::string& script,
                                 std::map<std::string, std::string> more = {}) {
    SetScript(script, std::move(more));
    absl::StatusOr<std::unique_ptr<Vu>> vu = Create();
    EXPECT_TRUE(vu.ok()) << vu.status();
    return vu.ok() ? std::move(*vu) : nullptr;
  }

  absl::StatusOr<bool> Iterate(Vu* vu, const IterationInfo& info = {},
                               ScriptError* error = nullptr) {
    ScriptError local;
    absl::StatusOr<bool> result;
    OnFiber([&] { result = vu->RunIteration(info, error != nullptr ? error : &local); });
    return result;
  }

  absl::StatusOr<std::string> Setup(Vu* vu) {
    absl::StatusOr<std::string> result;
    OnFiber([&] { result = vu->RunSetup(); });
    return result;
  }

  // Takes the aggregated batch (once per test step).
  const v1::MetricBatch& TakeBatch() {
    batch_.Clear();
    aggregator_.TakeBatch(0, &batch_);
    return batch_;
  }

  // Series of `metric` in the last batch whose tags include all of `tags`.
  std::vector<const v1::Series*> Find(const std::string& metric,
                                      const std::map<std::string, std::string>& tags = {}) const {
    std::vector<const v1::Series*> out;
    for (const v1::Series& s : batch_.series()) {
      if (batch_.metrics(s.metric()).name() != metric) continue;
      bool match = true;
      for (const auto& [key, value] : tags) {
        bool found = false;
        for (const v1::Tag& t : s.tags()) found = found || (t.key() == key && t.value() == value);
        match = match && found;
      }
      if (match) out.push_back(&s);
    }
    return out;
  }
  // Sum of counts / sums / nonzero over the matching series.
  std::uint64_t Count(const std::string& metric,
                      const std::map<std::string, std::string>& tags = {}) const {
    std::uint64_t n = 0;
    for (const v1::Series* s : Find(metric, tags)) n += s->count();
    return n;
  }
  double Sum(const std::string& metric, const std::map<std::string, std::string>& tags = {}) const {
    double n = 0;
    for (const v1::Series* s : Find(metric, tags)) n += s->sum();
    return n;
  }
  std::uint64_t Nonzero(const std::string& metric,
                        const std::map<std::string, std::string>& tags = {}) const {
    std::uint64_t n = 0;
    for (const v1::Series* s : Find(metric, tags)) n += s->nonzero();
    return n;
  }
  // All tags of the only series of `metric` (empty when there is not exactly one).
  std::map<std::string, std::string> TagsOf(const std::string& metric) const {
    std::map<std::string, std::string> tags;
    auto series = Find(metric);
    if (series.size() != 1) return tags;
    for (const v1::Tag& t : series[0]->tags()) tags[t.key()] = t.value();
    return tags;
  }

  loop::Loop loop_;
  metrics::Registry registry_;
  metrics::Aggregator aggregator_{&registry_};
  TestContext test_;
  std::unique_ptr<FileSource> source_;
  v1::MetricBatch batch_;
};

}  // namespace volley::js::testing
