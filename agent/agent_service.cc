#include "agent/agent_service.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "agent/log_forwarder.h"
#include "agent/test_run.h"
#include "common/logging.h"

namespace volley::agent {
namespace {

using volley::v1::AgentMessage;
using volley::v1::ControllerMessage;

// Compares without an early exit, so a wrong token's timing says nothing about the right one.
bool TokenMatches(const std::string& want, const std::string& got) {
  if (want.size() != got.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < want.size(); ++i) diff |= want[i] ^ got[i];
  return diff == 0;
}

std::string HostName() {
  char host[256] = {0};
  gethostname(host, sizeof(host) - 1);
  return host;
}

}  // namespace

grpc::Status AgentService::Info(grpc::ServerContext* context,
                                const volley::v1::InfoRequest* request,
                                volley::v1::AgentInfo* info) {
  if (!options_.token.empty() && !TokenMatches(options_.token, request->token())) {
    Log("agent")->warn("refused controller peer={} reason=token", context->peer());
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid or missing token");
  }
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  info->set_cores(cores);
  info->set_workers(options_.workers > 0 ? static_cast<unsigned>(options_.workers) : cores);
  info->set_hostname(HostName());
  info->set_busy(busy_.load());
  return grpc::Status::OK;
}

grpc::Status AgentService::Run(grpc::ServerContext* context,
                               grpc::ServerReaderWriter<AgentMessage, ControllerMessage>* stream) {
  auto log = Log("agent");
  bool expected = false;
  if (!busy_.compare_exchange_strong(expected, true)) {
    log->warn("refused controller peer={} reason=busy", context->peer());
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "agent is busy with another test");
  }
  absl::Cleanup release = [this] { busy_ = false; };

  ControllerMessage msg;
  if (!stream->Read(&msg) || !msg.has_prepare()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "expected a prepare message first");
  }
  if (!options_.token.empty() && !TokenMatches(options_.token, msg.prepare().token())) {
    log->warn("refused controller peer={} reason=token", context->peer());
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "invalid or missing token");
  }
  log->info("test prepare peer={} segment={}", context->peer(), msg.prepare().segment());

  // Batches come from the sender thread, failures and Done from here: one writer at a time.
  std::mutex write_mu;
  auto write = [&](const AgentMessage& m) {
    std::lock_guard<std::mutex> lock(write_mu);
    return stream->Write(m);
  };

  // From here until the test is over, what its user must see is also held for the controller.
  // Workers only queue lines; the writers below send them before their own message, so lines
  // of VU init go before Ready, those of the run with each batch, the last ones before Done.
  std::shared_ptr<LogForwarder> forwarder;
  if (options_.forward_logs) {
    forwarder = std::make_shared<LogForwarder>();
    AddLogSink(forwarder);
  }
  absl::Cleanup remove_forwarder = [&] {
    if (forwarder) RemoveLogSink(forwarder);
  };
  auto send_logs = [&] {
    if (!forwarder) return;
    for (auto& line : forwarder->Take()) {
      AgentMessage m;
      *m.mutable_log() = std::move(line);
      if (!write(m)) return;
    }
  };

  TestRunSettings settings;
  settings.workers = options_.workers;
  settings.on_batch = [&](volley::v1::MetricBatch batch) {
    send_logs();
    AgentMessage m;
    *m.mutable_batch() = std::move(batch);
    write(m);
  };
  settings.on_abort = [&](const std::string& reason) {
    AgentMessage m;
    m.mutable_failure()->set_exit_code(kExitScriptAborted);
    m.mutable_failure()->set_message(reason);
    write(m);
  };

  PrepareError error;
  std::unique_ptr<TestRun> run = TestRun::Create(msg.prepare(), settings, &error);
  if (!run) {
    // The failure itself goes as the Failure message; its log line stays here.
    send_logs();
    log->warn("test prepare failed exit_code={} error={}", error.exit_code, error.message);
    AgentMessage m;
    m.mutable_failure()->set_exit_code(error.exit_code);
    m.mutable_failure()->set_message(error.message);
    write(m);
    return grpc::Status::OK;
  }
  send_logs();
  {
    AgentMessage m;
    m.mutable_ready()->set_vus_max(run->vus_max());
    m.mutable_ready()->set_workers(run->workers());
    m.mutable_ready()->set_hostname(HostName());
    write(m);
  }

  if (!stream->Read(&msg) || !msg.has_start()) {
    log->info("test cancelled before start");
    return grpc::Status(grpc::StatusCode::CANCELLED, "no start received");
  }
  run->Start(absl::FromUnixNanos(msg.start().start_unix_ns()), msg.start().setup_data_json());
  log->info("test started");

  // The reader watches for Stop and for the end of the stream. A stream that ends before the
  // test does means the controller is gone: stop the load now.
  std::atomic<bool> finished{false};
  std::mutex reader_mu;
  std::condition_variable reader_cv;
  bool reader_done = false;
  std::thread reader([&] {
    ControllerMessage in;
    while (stream->Read(&in)) {
      if (in.has_stop()) {
        log->info("test stop requested immediate={} reason={}", in.stop().immediate(),
                  in.stop().reason());
        run->Stop(in.stop().immediate());
      }
    }
    if (!finished) {
      log->warn("controller lost, stopping test");
      run->Stop(/*immediate=*/true);
    }
    std::lock_guard<std::mutex> lock(reader_mu);
    reader_done = true;
    reader_cv.notify_all();
  });

  run->Wait(absl::InfiniteDuration());
  finished = true;
  send_logs();
  {
    AgentMessage m;
    m.mutable_done()->set_interrupted(run->interrupted());
    write(m);
  }
  log->info("test done interrupted={}", run->interrupted());

  // The controller half-closes after Done; do not let a silent one keep the agent busy.
  {
    std::unique_lock<std::mutex> lock(reader_mu);
    if (!reader_cv.wait_for(lock, std::chrono::seconds(10), [&] { return reader_done; })) {
      context->TryCancel();
    }
  }
  reader.join();
  run.reset();
  return grpc::Status::OK;
}

}  // namespace volley::agent
