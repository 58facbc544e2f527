#include "agent/test_run.h"

#include <algorithm>
#include <condition_variable>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "agent/scenario_run.h"
#include "agent/worker.h"
#include "common/logging.h"
#include "common/options.h"
#include "common/segment.h"

namespace volley::agent {

struct TestRun::Impl {
  volley::v1::Prepare prepare;
  TestRunSettings settings;
  Options options;
  ExecutionTuple tuple;
  metrics::Registry registry;
  std::unique_ptr<js::BundleSource> source;
  js::TestContext test;

  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<VuSlot>> slots;
  std::vector<std::unique_ptr<ScenarioRun>> scenarios;
  StopState stop;
  ErrorLog errors;
  std::atomic<std::int64_t> active_vus{0};
  std::atomic<std::int64_t> completed{0};
  std::atomic<std::int64_t> interrupted_iterations{0};

  std::mutex mu;
  std::condition_variable cv;
  std::size_t drivers_left = 0;  // guarded by mu
  bool started = false;          // guarded by mu
  bool finished = false;         // final batch delivered; guarded by mu
  bool shutting_down = false;    // guarded by mu
  std::atomic<bool> interrupted{false};
  std::thread sender;
  std::thread grace_timer;

  std::int64_t interval_ns() const {
    return prepare.metrics_interval_ms() > 0 ? prepare.metrics_interval_ms() * 1'000'000LL
                                             : 1'000'000'000LL;
  }

  // Collects every worker's batch (each taken on its own thread) and merges them.
  volley::v1::MetricBatch CollectBatch(bool final) {
    std::int64_t now_ns = absl::ToUnixNanos(absl::Now());
    std::vector<volley::v1::MetricBatch> parts(workers.size());
    std::vector<std::promise<void>> done(workers.size());
    for (std::size_t i = 0; i < workers.size(); ++i) {
      workers[i]->Post([&, i] {
        workers[i]->aggregator()->TakeBatch(now_ns, &parts[i]);
        done[i].set_value();
      });
    }
    volley::v1::MetricBatch batch;
    for (std::size_t i = 0; i < workers.size(); ++i) {
      done[i].get_future().wait();
      metrics::MergeBatchInto(parts[i], &batch);
    }
    batch.set_end_unix_ns(now_ns);
    batch.set_final(final);
    batch.set_vus(static_cast<std::uint32_t>(std::max<std::int64_t>(0, active_vus.load())));
    batch.set_vus_max(static_cast<std::uint32_t>(slots.size()));
    absl::Time now = absl::FromUnixNanos(now_ns);
    for (const auto& scenario : scenarios) *batch.add_progress() = scenario->Progress(now);
    return batch;
  }

  void SenderLoop() {
    std::unique_lock<std::mutex> lock(mu);
    auto next = std::chrono::steady_clock::now() + std::chrono::nanoseconds(interval_ns());
    while (true) {
      cv.wait_until(lock, next, [&] { return (started && drivers_left == 0) || shutting_down; });
      bool done = (started && drivers_left == 0) || shutting_down;
      lock.unlock();
      // The iterations are over: the error totals go out with the final batch, not after it.
      if (done) errors.LogTotals();
      volley::v1::MetricBatch batch = CollectBatch(done);
      if (settings.on_batch) settings.on_batch(std::move(batch));
      lock.lock();
      if (done) break;
      next += std::chrono::nanoseconds(interval_ns());
    }
    finished = true;
    cv.notify_all();
  }

  void DriverDone() {
    std::lock_guard<std::mutex> lock(mu);
    if (--drivers_left == 0) cv.notify_all();
  }

  // Runs `fn(slot)` for every slot on the slot's worker, on fibers, and waits for all.
  void ForEachSlotOnFiber(const std::function<void(VuSlot*)>& fn) {
    std::vector<std::promise<void>> done(slots.size());
    for (std::size_t i = 0; i < slots.size(); ++i) {
      VuSlot* slot = slots[i].get();
      slot->worker->PostFiber([&, slot, i] {
        fn(slot);
        done[i].set_value();
      });
    }
    for (auto& d : done) d.get_future().wait();
  }
};

TestRun::TestRun(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

void ApplyOptions(const Options& options, js::TestContext* test) {
  for (const auto& [k, v] : options.tags) test->global_tags.push_back({k, v});
  test->discard_response_bodies = options.discard_response_bodies.value_or(false);
  test->throw_on_error = options.throw_errors.value_or(false);
  test->no_cookies_reset = options.no_cookies_reset.value_or(false);
  if (options.system_tags) test->system_tags = *options.system_tags;
  if (options.hosts) test->http.hosts = *options.hosts;
  test->http.insecure_skip_tls_verify = options.insecure_skip_tls_verify.value_or(false);
  if (options.user_agent) test->http.user_agent = *options.user_agent;
  test->http.batch = static_cast<int>(options.batch.value_or(kDefaultBatch));
  test->http.batch_per_host =
      static_cast<int>(options.batch_per_host.value_or(kDefaultBatchPerHost));
  if (options.max_redirects) {
    test->http.max_redirects = static_cast<int>(*options.max_redirects);
  }
  test->http.no_connection_reuse = options.no_connection_reuse.value_or(false);
}

std::unique_ptr<TestRun> TestRun::Create(const volley::v1::Prepare& prepare,
                                         TestRunSettings settings, PrepareError* error) {
  auto impl = std::make_unique<Impl>();
  impl->prepare = prepare;
  impl->settings = std::move(settings);
  auto log = Log("agent");

  // Options: the controller sends them consolidated and validated; parse again here so an agent
  // never trusts a plan it cannot read.
  nlohmann::json options_json = nlohmann::json::parse(prepare.options_json(), nullptr, false);
  if (options_json.is_discarded()) {
    *error = {kExitInvalidConfig, "options are not valid JSON"};
    return nullptr;
  }
  auto parsed = ParseOptionsJson(options_json);
  if (!parsed.ok()) {
    *error = {kExitInvalidConfig, std::string(parsed.status().message())};
    return nullptr;
  }
  // The controller sends the consolidated options: scenarios already derived, shortcuts kept
  // beside them for exec.test.options. Only a hand-made Prepare lacks scenarios.
  if (parsed->scenarios) {
    parsed->vus.reset();
    parsed->duration.reset();
    parsed->iterations.reset();
    parsed->stages.reset();
  }
  auto derived = DeriveScenarios(*parsed);
  if (!derived.ok()) {
    *error = {kExitInvalidConfig, std::string(derived.status().message())};
    return nullptr;
  }
  impl->options = *std::move(derived);
  auto tuple = ExecutionTuple::Parse(prepare.segment(), prepare.segment_sequence());
  if (!tuple.ok()) {
    *error = {kExitInvalidConfig, std::string(tuple.status().message())};
    return nullptr;
  }
  impl->tuple = *tuple;

  // The test context every VU on this agent shares.
  std::map<std::string, std::string> files;
  for (const auto& [path, content] : prepare.bundle().files()) files[path] = content;
  impl->source = std::make_unique<js::BundleSource>(std::move(files));
  js::TestContext& test = impl->test;
  test.files = impl->source.get();
  test.entry = prepare.bundle().entry();
  test.env = {prepare.env().begin(), prepare.env().end()};
  test.options_json = prepare.options_json();
  test.registry = &impl->registry;
  ApplyOptions(impl->options, &test);
  Impl* raw = impl.get();
  test.abort_test = [raw](const std::string& reason) {
    raw->interrupted = true;
    if (raw->settings.on_abort) raw->settings.on_abort(reason);
    raw->stop.graceful = true;
    raw->stop.immediate = true;
    for (auto& scenario : raw->scenarios) scenario->InterruptBusy();
  };

  // Workers, then each scenario's VUs dealt round-robin over them.
  int worker_count = impl->settings.workers > 0
                         ? impl->settings.workers
                         : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  ScenarioRun::Shared shared;
  shared.stop = &impl->stop;
  shared.errors = &impl->errors;
  shared.active_vus = &impl->active_vus;
  shared.completed = &impl->completed;
  shared.interrupted = &impl->interrupted_iterations;
  shared.on_driver_done = [raw] { raw->DriverDone(); };
  shared.options_json = prepare.options_json();
  // How late arrival-rate iterations start against their schedule: coordinated omission shows
  // here instead of being hidden.
  auto delay_metric = impl->registry.Register(
      kIterationStartDelayMetric, metrics::MetricType::kTrend, metrics::ValueType::kTime);
  shared.start_delay_metric = delay_metric.ok() ? *delay_metric : 0;
  shared.min_iteration_duration =
      impl->options.min_iteration_duration.value_or(absl::ZeroDuration());
  // k6 hands a VU from a scenario that has ended to one that starts later, so the agent
  // initialises only the most VUs its scenarios need at one instant (vus_max).
  std::vector<std::vector<VuSpan>> spans;
  for (const auto& [name, config] : *impl->options.scenarios) {
    auto run = std::make_unique<ScenarioRun>(config, impl->tuple, shared);
    spans.push_back(VuSpans(run->share()));
    impl->scenarios.push_back(std::move(run));
  }
  std::int64_t slot_count = 0;
  std::vector<std::vector<std::int64_t>> assigned = AssignSlots(spans, &slot_count);
  worker_count =
      static_cast<int>(std::min<std::int64_t>(worker_count, std::max<std::int64_t>(1, slot_count)));
  for (int i = 0; i < worker_count; ++i) {
    impl->workers.push_back(std::make_unique<Worker>(i, &impl->registry));
  }
  for (std::int64_t id = 0; id < slot_count; ++id) {
    auto slot = std::make_unique<VuSlot>();
    slot->worker = impl->workers[id % impl->workers.size()].get();
    slot->id_in_instance = static_cast<std::uint64_t>(id) + 1;
    slot->id_in_test = static_cast<std::uint64_t>(impl->tuple.GlobalIndex(id)) + 1;
    impl->slots.push_back(std::move(slot));
  }
  for (std::size_t s = 0; s < impl->scenarios.size(); ++s) {
    for (std::size_t i = 0; i < assigned[s].size(); ++i) {
      impl->scenarios[s]->AddVu(impl->slots[assigned[s][i]].get(), static_cast<std::int64_t>(i));
    }
  }
  test.instance_vus_initialized = static_cast<std::int64_t>(impl->slots.size());

  // Initialise every VU (vus_max) before the start, on its own worker.
  std::mutex error_mu;
  std::string first_error;
  absl::Time init_start = absl::Now();
  impl->ForEachSlotOnFiber([&](VuSlot* slot) {
    {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!first_error.empty()) return;
    }
    auto vu = js::Vu::Create(&raw->test, slot->worker->loop(), slot->worker->aggregator(),
                             slot->id_in_instance, slot->id_in_test);
    if (!vu.ok()) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (first_error.empty()) first_error = std::string(vu.status().message());
      return;
    }
    slot->vu = *std::move(vu);
  });
  if (!first_error.empty()) {
    *error = {kExitScriptException, first_error};
    impl->ForEachSlotOnFiber([](VuSlot* slot) { slot->vu.reset(); });
    return nullptr;
  }
  log->info("vus initialised count={} workers={} segment={} took_ms={}", impl->slots.size(),
            impl->workers.size(), prepare.segment(),
            absl::ToInt64Milliseconds(absl::Now() - init_start));
  return std::unique_ptr<TestRun>(new TestRun(std::move(impl)));
}

TestRun::~TestRun() {
  Stop(/*immediate=*/true);
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->shutting_down = true;
  }
  impl_->cv.notify_all();
  if (impl_->started) Wait(absl::Seconds(120));
  if (impl_->sender.joinable()) impl_->sender.join();
  if (impl_->grace_timer.joinable()) impl_->grace_timer.join();
  // VUs die on the threads that own their isolates, before the workers go.
  impl_->ForEachSlotOnFiber([](VuSlot* slot) { slot->vu.reset(); });
}

std::uint32_t TestRun::vus_max() const { return static_cast<std::uint32_t>(impl_->slots.size()); }
int TestRun::workers() const { return static_cast<int>(impl_->workers.size()); }
bool TestRun::interrupted() const { return impl_->interrupted.load(); }

void TestRun::Start(absl::Time start, const std::string& setup_json) {
  Impl* impl = impl_.get();
  impl->ForEachSlotOnFiber([&](VuSlot* slot) {
    if (slot->vu) (void)slot->vu->SetSetupData(setup_json);
  });
  // The same instant on the steady clock, which the loops' timers use.
  auto steady_start = loop::Clock::now() + std::chrono::duration_cast<loop::Clock::duration>(
                                               absl::ToChronoNanoseconds(start - absl::Now()));
  {
    std::lock_guard<std::mutex> lock(impl->mu);
    impl->drivers_left = 0;
    for (auto& scenario : impl->scenarios) impl->drivers_left += scenario->driver_count();
    impl->started = true;
  }
  for (auto& scenario : impl->scenarios) scenario->Start(steady_start, start);
  impl->sender = std::thread([impl] { impl->SenderLoop(); });
}

void TestRun::Stop(bool immediate) {
  Impl* impl = impl_.get();
  bool was_stopping = impl->stop.graceful.exchange(true);
  {
    std::lock_guard<std::mutex> lock(impl->mu);
    if (impl->started && impl->drivers_left > 0) impl->interrupted = true;
  }
  if (immediate) {
    impl->stop.immediate = true;
    for (auto& scenario : impl->scenarios) scenario->InterruptBusy();
    return;
  }
  if (was_stopping) return;
  // Graceful: running iterations get their own scenario's gracefulStop, then are interrupted.
  std::vector<std::pair<absl::Duration, ScenarioRun*>> graces;
  for (auto& scenario : impl->scenarios) {
    graces.push_back({scenario->config().GracefulStopOrDefault(), scenario.get()});
  }
  std::sort(graces.begin(), graces.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  const auto stop_at = std::chrono::steady_clock::now();
  impl->grace_timer = std::thread([impl, graces, stop_at] {
    std::unique_lock<std::mutex> lock(impl->mu);
    for (const auto& [grace, scenario] : graces) {
      if (impl->cv.wait_until(lock, stop_at + absl::ToChronoNanoseconds(grace),
                              [&] { return impl->finished || impl->shutting_down; })) {
        return;
      }
      lock.unlock();
      scenario->InterruptBusy();
      lock.lock();
    }
  });
}

bool TestRun::Wait(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(impl_->mu);
  auto pred = [&] { return impl_->finished; };
  if (timeout == absl::InfiniteDuration()) {
    impl_->cv.wait(lock, pred);
    return true;
  }
  return impl_->cv.wait_for(lock, absl::ToChronoNanoseconds(timeout), pred);
}

}  // namespace volley::agent
