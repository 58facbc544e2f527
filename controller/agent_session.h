// The controller's side of one agent's Run stream. A reader thread turns everything the agent
// sends (and the stream's end) into events on the controller's queue; the controller's main
// thread does all the writing. One AgentSession per agent for one test.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/time/time.h"
#include "volley.grpc.pb.h"

namespace volley::controller {

struct AgentEvent {
  int agent = 0;                        // index of the session
  std::optional<volley::v1::AgentMessage> message;  // empty: the stream ended
  grpc::Status status;                  // the stream's final status when it ended
};

// A blocking multi-producer queue of agent events, drained by the controller's merge thread.
class EventQueue {
 public:
  void Push(AgentEvent event);
  // Waits up to `timeout` for an event.
  std::optional<AgentEvent> Pop(absl::Duration timeout);

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<AgentEvent> events_;
};

class AgentSession {
 public:
  // `name` is how the user named the agent (address), for messages.
  AgentSession(int index, std::string name, std::shared_ptr<grpc::Channel> channel,
               EventQueue* queue);
  ~AgentSession();  // cancels the call if still open and joins the reader

  const std::string& name() const { return name_; }
  int index() const { return index_; }

  // Opens the stream and sends Prepare. False when the stream could not be written (the agent
  // is unreachable); the reader reports the reason as an end-of-stream event.
  bool Open(const volley::v1::Prepare& prepare, absl::Duration connect_timeout);
  bool Send(const volley::v1::ControllerMessage& message);
  // Half-closes the stream after the agent said Done.
  void Close();
  void Cancel();

 private:
  void ReadLoop();

  int index_;
  std::string name_;
  std::shared_ptr<grpc::Channel> channel_;
  EventQueue* queue_;
  std::unique_ptr<volley::v1::Agent::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<volley::v1::ControllerMessage,
                                           volley::v1::AgentMessage>>
      stream_;
  std::mutex write_mu_;
  bool closed_ = false;
  std::thread reader_;
};

}  // namespace volley::controller
