#include "controller/script_host.h"

#include <filesystem>
#include <future>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace volley::controller {

ScriptHost::ScriptHost()
    : aggregator_(std::make_unique<metrics::Aggregator>(&registry_)),
      thread_([this] { loop_.Run(/*until_idle=*/false); }) {}

ScriptHost::~ScriptHost() {
  // VU 0 must die on the thread that owns its isolate.
  RunOnFiber([this] { vu0_.reset(); });
  loop_.Stop();
  thread_.join();
}

void ScriptHost::RunOnFiber(std::function<void()> fn) {
  std::promise<void> done;
  loop_.Post([&] {
    loop_.Spawn([&] {
      fiber_ = loop_.CurrentFiber();
      fn();
      fiber_ = nullptr;
      done.set_value();
    });
  });
  done.get_future().wait();
}

absl::StatusOr<LoadedScript> ScriptHost::Load(const std::string& path,
                                              const std::map<std::string, std::string>& env) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  if (ec || !std::filesystem::is_regular_file(abs, ec)) {
    return absl::NotFoundError(absl::StrCat("script not found: ", path));
  }
  std::string entry = abs.lexically_normal().string();

  disk_ = std::make_unique<js::RecordingDiskSource>();
  js::TestContext test;
  test.files = disk_.get();
  test.entry = entry;
  test.env = env;
  test.registry = &registry_;

  absl::StatusOr<std::string> options = absl::InternalError("not run");
  std::vector<std::string> exports;
  // The loading VU's metrics go to a scratch aggregator: init code must not count.
  metrics::Aggregator scratch(&registry_);
  RunOnFiber([&] {
    auto vu = js::Vu::Create(&test, &loop_, &scratch, /*id=*/0, /*id_in_test=*/0);
    if (!vu.ok()) {
      options = vu.status();
      return;
    }
    options = (*vu)->OptionsJson();
    exports = (*vu)->ExportedFunctions();
  });
  if (!options.ok()) {
    // A module or file the script imports is missing: a script error (k6 exits 107), unlike a
    // missing script itself (NotFound above, 255).
    if (absl::IsNotFound(options.status())) {
      return absl::InvalidArgumentError(options.status().message());
    }
    return options.status();
  }
  LoadedScript loaded;
  loaded.entry = entry;
  loaded.files = disk_->files();
  loaded.options_json = *options;
  loaded.exports = exports;
  exports_ = exports;
  return loaded;
}

absl::Status ScriptHost::PrepareVu0(js::TestContext* test) {
  absl::Status status;
  RunOnFiber([&] {
    auto vu = js::Vu::Create(test, &loop_, aggregator_.get(), /*id=*/0, /*id_in_test=*/0);
    if (!vu.ok()) {
      status = vu.status();
      return;
    }
    vu0_ = std::move(*vu);
  });
  return status;
}

bool ScriptHost::HasExport(const std::string& name) const {
  return std::find(exports_.begin(), exports_.end(), name) != exports_.end();
}

absl::StatusOr<std::string> ScriptHost::RunSetup() {
  absl::StatusOr<std::string> result = absl::InternalError("no vu");
  RunOnFiber([&] {
    if (vu0_) result = vu0_->RunSetup();
  });
  return result;
}

absl::Status ScriptHost::RunTeardown(const std::string& setup_json) {
  absl::Status result = absl::InternalError("no vu");
  RunOnFiber([&] {
    if (vu0_) result = vu0_->RunTeardown(setup_json);
  });
  return result;
}

absl::StatusOr<std::string> ScriptHost::RunHandleSummary(const std::string& data_json) {
  absl::StatusOr<std::string> result = absl::InternalError("no vu");
  RunOnFiber([&] {
    if (!vu0_) return;
    // A teardown() cut at its timeout leaves VU 0 interrupted; handleSummary still runs, as k6.
    (void)vu0_->ClearInterrupt();
    result = vu0_->RunHandleSummary(data_json);
  });
  return result;
}

void ScriptHost::Interrupt() {
  if (vu0_) vu0_->Interrupt();
  // A sleep or an HTTP wait of VU 0 returns only when its fiber is interrupted too.
  loop_.Post([this] {
    if (fiber_ != nullptr) loop_.Interrupt(fiber_);
  });
}

void ScriptHost::TakeBatch(volley::v1::MetricBatch* out) {
  std::promise<void> done;
  loop_.Post([&] {
    aggregator_->TakeBatch(absl::ToUnixNanos(absl::Now()), out);
    done.set_value();
  });
  done.get_future().wait();
}

}  // namespace volley::controller
