#include "controller/agent_session.h"

#include "absl/time/clock.h"
#include "common/logging.h"

namespace volley::controller {

void EventQueue::Push(AgentEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
  }
  cv_.notify_one();
}

std::optional<AgentEvent> EventQueue::Pop(absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return !events_.empty(); })) {
    return std::nullopt;
  }
  AgentEvent event = std::move(events_.front());
  events_.pop_front();
  return event;
}

AgentSession::AgentSession(int index, std::string name, std::shared_ptr<grpc::Channel> channel,
                           EventQueue* queue)
    : index_(index),
      name_(std::move(name)),
      channel_(std::move(channel)),
      queue_(queue),
      stub_(volley::v1::Agent::NewStub(channel_)) {}

AgentSession::~AgentSession() {
  if (stream_) context_.TryCancel();
  if (reader_.joinable()) reader_.join();
}

bool AgentSession::Open(const volley::v1::Prepare& prepare, absl::Duration connect_timeout) {
  // In-process channels (the embedded agent) have no connectivity state to wait for.
  if (connect_timeout > absl::ZeroDuration() &&
      !channel_->WaitForConnected(absl::ToChronoTime(absl::Now() + connect_timeout))) {
    AgentEvent event;
    event.agent = index_;
    event.status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "cannot connect");
    queue_->Push(std::move(event));
    return false;
  }
  stream_ = stub_->Run(&context_);
  reader_ = std::thread([this] { ReadLoop(); });
  volley::v1::ControllerMessage message;
  *message.mutable_prepare() = prepare;
  return Send(message);
}

bool AgentSession::Send(const volley::v1::ControllerMessage& message) {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (!stream_ || closed_) return false;
  return stream_->Write(message);
}

void AgentSession::Close() {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (!stream_ || closed_) return;
  closed_ = true;
  stream_->WritesDone();
}

void AgentSession::Cancel() { context_.TryCancel(); }

void AgentSession::ReadLoop() {
  volley::v1::AgentMessage message;
  while (stream_->Read(&message)) {
    AgentEvent event;
    event.agent = index_;
    event.message = std::move(message);
    queue_->Push(std::move(event));
    message = volley::v1::AgentMessage();
  }
  AgentEvent end;
  end.agent = index_;
  end.status = stream_->Finish();
  Log("rpc")->debug("agent stream ended agent={} code={} message={}", name_,
                    static_cast<int>(end.status.error_code()), end.status.error_message());
  queue_->Push(std::move(end));
}

}  // namespace volley::controller
