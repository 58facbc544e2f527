// One virtual user: a V8 isolate with the test's module graph loaded (the init context run),
// plus its HttpClient. A Vu lives on one worker thread and runs only on a fiber of that
// thread's Loop; it exits its isolate before every yield and re-enters after. Create, Run*,
// ClearInterrupt and destruction happen on that thread. Interrupt() is the one call other
// threads may make. As in k6, a VU is initialised once and serves the whole test: an
// interrupted iteration does not end it (see ClearInterrupt).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "agent/js/shared_array.h"
#include "agent/loop/http.h"
#include "common/metrics/aggregator.h"
#include "common/metrics/registry.h"

namespace volley::loop {
class Loop;
}

namespace volley::js {

// Process-wide V8 start-up; call once before any Vu is created. `v8_flags` e.g. "--jitless".
void InitV8(const std::string& v8_flags = "");

// Where module sources and open()ed files come from. The controller reads the disk and records
// what was read (that record becomes the bundle); agents read only the bundle.
class FileSource {
 public:
  virtual ~FileSource() = default;
  // `path` is already resolved (absolute, or a bundle key). NotFound when absent.
  virtual absl::StatusOr<std::string> Read(const std::string& path) = 0;
};

// Reads the disk and remembers every file read, by resolved absolute path.
class RecordingDiskSource : public FileSource {
 public:
  absl::StatusOr<std::string> Read(const std::string& path) override;
  const std::map<std::string, std::string>& files() const { return files_; }

 private:
  std::map<std::string, std::string> files_;
};

// Serves a bundle's files only.
class BundleSource : public FileSource {
 public:
  explicit BundleSource(std::map<std::string, std::string> files) : files_(std::move(files)) {}
  absl::StatusOr<std::string> Read(const std::string& path) override;

 private:
  std::map<std::string, std::string> files_;
};

// What k6/execution and the built-in tags need to know about the running iteration. Filled by
// the executor before each RunIteration.
struct IterationInfo {
  std::string scenario = "default";
  std::string exec = "default";            // exported function to call
  std::int64_t iteration_in_scenario = 0;  // this VU's iteration number in the scenario
  std::int64_t iteration_in_instance = 0;
  std::int64_t scenario_iteration_in_test = 0;
  std::int64_t scenario_iteration_in_instance = 0;
  double scenario_start_unix_ms = 0;
  double scenario_progress = 0;
  std::map<std::string, std::string> scenario_env;   // merged over the global __ENV
  std::map<std::string, std::string> scenario_tags;  // added to every sample's tags
  // Added for k6/execution (optional; zero when the executor does not know).
  std::string executor;                              // exec.scenario.executor
  std::int64_t instance_vus_active = 0;              // exec.instance.vusActive
  std::int64_t instance_iterations_completed = 0;    // exec.instance.iterationsCompleted
  std::int64_t instance_iterations_interrupted = 0;  // exec.instance.iterationsInterrupted
  double test_run_duration_ms = 0;                   // exec.instance.currentTestRunDuration
};

// Shared, read-only test state every VU of a process sees (owned by the caller, outlives Vus).
struct TestContext {
  FileSource* files = nullptr;
  std::string entry;                       // resolved path of the main script
  std::map<std::string, std::string> env;  // __ENV
  std::string options_json = "{}";         // consolidated options (exec.test.options)
  metrics::Registry* registry = nullptr;
  metrics::TagSet global_tags;  // options.tags
  bool discard_response_bodies = false;
  bool throw_on_error = false;           // options.throw
  bool no_cookies_reset = false;         // options.noCookiesReset: the jar lives across iterations
  std::vector<std::string> system_tags;  // empty: k6 defaults
  loop::HttpClientOptions http;
  // exec.test.abort(reason): the agent stops the test with exit code 108.
  std::function<void(const std::string& reason)> abort_test;
  std::int64_t instance_vus_initialized = 0;  // exec.instance.vusInitialized
  // k6/data SharedArrays: one copy for all VUs of this context.
  std::shared_ptr<SharedArrayStore> shared_arrays = std::make_shared<SharedArrayStore>();
};

// A script error with its place: "file:line:col" and the JS stack.
struct ScriptError {
  std::string message;   // "ReferenceError: x is not defined"
  std::string location;  // "/path/script.js:12:5"
  std::string stack;     // JS stack text, one frame per line
  bool aborted = false;  // exec.test.abort() or fail()? (abort: test stops, 108)
  std::string ToString() const;
};

class Vu {
 public:
  // Creates the isolate and runs the init context. `id` is __VU (0 for the setup/teardown VU,
  // which k6 also numbers 0); `id_in_test` is exec.vu.idInTest. Must run on a fiber of `loop`.
  // A script error comes back as InvalidArgument with ScriptError::ToString() as message.
  static absl::StatusOr<std::unique_ptr<Vu>> Create(const TestContext* test, loop::Loop* loop,
                                                    metrics::Aggregator* aggregator,
                                                    std::uint64_t id, std::uint64_t id_in_test);
  virtual ~Vu();

  // JSON of `export const options` (or "{}"), from the init context.
  virtual absl::StatusOr<std::string> OptionsJson() = 0;
  // Names of the exported functions (default, setup, teardown, handleSummary, scenario execs).
  virtual std::vector<std::string> ExportedFunctions() = 0;

  // Setup data handed to every call of the default (or exec) function; JSON, "" for none.
  virtual absl::Status SetSetupData(const std::string& json) = 0;

  // Runs one iteration of info.exec, emitting iterations/iteration_duration/data_* metrics
  // with the scenario tags. Fiber-only. Returns true when the iteration finished, false when it
  // threw (`*error` filled; the VU stays usable), and a non-OK status when the VU was
  // interrupted (Cancelled; also when an Interrupt() not yet cleared is pending, the iteration
  // then does not start) or is broken.
  virtual absl::StatusOr<bool> RunIteration(const IterationInfo& info, ScriptError* error) = 0;

  // setup() -> its JSON result ("" when undefined); teardown(data); handleSummary(data) ->
  // JSON of the returned object. Fiber-only. Errors as InvalidArgument with a ScriptError text.
  virtual absl::StatusOr<std::string> RunSetup() = 0;
  virtual absl::Status RunTeardown(const std::string& setup_json) = 0;
  virtual absl::StatusOr<std::string> RunHandleSummary(const std::string& data_json) = 0;

  // Any thread: stops the running JS at once (hard stop); RunIteration returns an error with
  // ScriptError::message "interrupted". The interrupt stays in force, so every later Run*
  // call is refused or cut, until the owner calls ClearInterrupt().
  //
  // Who calls it: the agent's ScenarioRun::HardStop, on the VU's own worker thread (a timer at
  // the iteration's gracefulStop / gracefulRampDown deadline, or posted by InterruptBusy for a
  // stop), only while the VU's fiber is suspended inside RunIteration; the controller's
  // ScriptHost; tests, from another thread at any time.
  virtual void Interrupt() = 0;

  // Owner thread, on a fiber, with no Run* call of this VU on any stack (so the interrupted
  // iteration has fully unwound): makes an interrupted VU ready for its next iteration on the
  // same isolate and context, keeping its JS globals, init-context state and exec.vu.tags. It
  // clears the interrupt flag, V8's pending termination, the calling fiber's loop interrupt
  // flag (call it on the fiber that ran the interrupted iteration) and the iteration's
  // leftovers (group path, traffic counters, queued promise jobs). HTTP transfers need nothing:
  // an interrupted request removes its own transfers before it returns.
  //
  // The rule for interrupts racing with this call: an Interrupt() that returns before
  // ClearInterrupt() starts is cleared (it was meant for the iteration that is over); one that
  // starts after ClearInterrupt() returns applies to the next Run* call. The two never
  // interleave (they share a lock), so a termination cannot outlive the flag that explains it.
  // A VU that exec.test.abort() stopped stays stopped: FailedPrecondition. Cheap when nothing
  // was interrupted.
  virtual absl::Status ClearInterrupt() = 0;

 protected:
  Vu() = default;
};

}  // namespace volley::js
