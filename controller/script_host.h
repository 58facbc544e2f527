// The controller's own JS runtime: one thread with a Loop, and on it the VUs the controller
// needs itself: one that loads the script from disk to read its options and record the bundle,
// and "VU 0", which runs setup(), teardown() and handleSummary() exactly once per test. Calls
// block the calling (controller) thread until the work is done on the host's thread.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "agent/js/vu.h"
#include "agent/loop/loop.h"
#include "common/metrics/aggregator.h"
#include "common/metrics/registry.h"
#include "volley.pb.h"

namespace volley::controller {

struct LoadedScript {
  std::string entry;                         // absolute path of the main script
  std::map<std::string, std::string> files;  // every module and open()ed file the init read
  std::string options_json;                  // the script's exported options
  std::vector<std::string> exports;          // exported functions
};

class ScriptHost {
 public:
  ScriptHost();
  ~ScriptHost();

  // Runs the init context of `path` with `env`, reading from disk. A script error comes back
  // as InvalidArgument with file:line:col and the stack in the message.
  absl::StatusOr<LoadedScript> Load(const std::string& path,
                                    const std::map<std::string, std::string>& env);

  // Creates VU 0 from the bundle with the final test context (options, hosts...). `test` must
  // outlive the host.
  absl::Status PrepareVu0(js::TestContext* test);
  bool HasExport(const std::string& name) const;
  absl::StatusOr<std::string> RunSetup();
  absl::Status RunTeardown(const std::string& setup_json);
  absl::StatusOr<std::string> RunHandleSummary(const std::string& data_json);
  // Any thread: stops what VU 0 runs now (setup/teardown past their timeout, Ctrl+C),
  // including a pending sleep or HTTP request. VU 0 runs nothing afterwards but
  // handleSummary (RunHandleSummary clears the interrupt first).
  void Interrupt();

  // Takes VU 0's metrics (setup and teardown requests count as k6 counts them).
  void TakeBatch(volley::v1::MetricBatch* out);
  metrics::Registry* registry() { return &registry_; }

 private:
  // Runs `fn` on a fiber of the host's loop and waits for it.
  void RunOnFiber(std::function<void()> fn);

  metrics::Registry registry_;
  loop::Loop loop_;
  std::unique_ptr<metrics::Aggregator> aggregator_;  // host-thread only
  std::thread thread_;
  std::unique_ptr<js::RecordingDiskSource> disk_;
  std::unique_ptr<js::BundleSource> bundle_;
  std::unique_ptr<js::Vu> vu0_;
  std::vector<std::string> exports_;
  loop::Fiber* fiber_ = nullptr;  // the RunOnFiber fiber while it runs; loop thread only
};

}  // namespace volley::controller
