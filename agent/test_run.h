// One test's share on one agent: the workers, the VUs on them, the executors that drive the
// VUs, and the sender that turns the workers' metric batches into one batch per interval.
// Created and controlled by one thread (the RPC handler, or a test); callbacks come from the
// sender thread. Lifecycle: Create (VUs initialised) -> Start -> [Stop] -> Wait -> destroy.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "agent/js/vu.h"
#include "common/options.h"
#include "volley.pb.h"

namespace volley::agent {

// k6 exit codes an agent can cause.
inline constexpr int kExitInvalidConfig = 104;
inline constexpr int kExitScriptException = 107;
inline constexpr int kExitScriptAborted = 108;

// How late each arrival-rate iteration started against its schedule (trend, time): registered
// by every agent, and by the controller so that thresholds may name it.
inline constexpr char kIterationStartDelayMetric[] = "iteration_start_delay";

// Puts the options every VU of the test shares (tags, systemTags, throw, hosts, TLS, batch,
// redirects...) into `test`: the agents' VUs and the controller's VU 0 (setup, teardown).
void ApplyOptions(const Options& options, js::TestContext* test);

struct TestRunSettings {
  int workers = 0;  // 0: one per core
  // Called on the sender thread: one batch per interval, then one with final=true.
  std::function<void(volley::v1::MetricBatch)> on_batch;
  // Called when a script calls exec.test.abort(reason) (any thread).
  std::function<void(const std::string& reason)> on_abort;
};

// A failure to prepare, with the k6 exit code it maps to.
struct PrepareError {
  int exit_code = kExitScriptException;
  std::string message;
};

class TestRun {
 public:
  // Parses the options, plans this agent's share and initialises every VU (vus_max) on the
  // workers. Blocks until all are ready or one failed.
  static std::unique_ptr<TestRun> Create(const volley::v1::Prepare& prepare,
                                         TestRunSettings settings, PrepareError* error);
  ~TestRun();

  std::uint32_t vus_max() const;
  int workers() const;

  // Starts the executors at `start` (wall clock), each VU receiving `setup_json`.
  void Start(absl::Time start, const std::string& setup_json);
  // Graceful: executors stop starting iterations, running ones get gracefulStop to finish.
  // Immediate: running iterations are interrupted now.
  void Stop(bool immediate);
  // Waits until every executor has finished and the final batch was delivered.
  bool Wait(absl::Duration timeout);
  bool interrupted() const;

 private:
  struct Impl;
  explicit TestRun(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::agent
