// The agent's gRPC service: serves one test at a time over a Run stream and is free for the
// next one when the stream ends. The load lives only as long as the stream: a lost controller
// (closed stream, cancelled call, failed keepalive) stops the test at once. gRPC's thread pool
// calls Run; one call owns the agent while it runs.
#pragma once

#include <atomic>
#include <mutex>
#include <string>

#include "volley.grpc.pb.h"

namespace volley::agent {

struct AgentServiceOptions {
  std::string token;  // empty: no token required
  int workers = 0;    // 0: one per core
  // Send the test's console output, iteration errors and warnings to its controller as
  // LogLines. Off for the controller's embedded agent, whose logs are already on its terminal.
  bool forward_logs = true;
};

class AgentService final : public volley::v1::Agent::Service {
 public:
  explicit AgentService(AgentServiceOptions options) : options_(std::move(options)) {}

  grpc::Status Run(grpc::ServerContext* context,
                   grpc::ServerReaderWriter<volley::v1::AgentMessage,
                                            volley::v1::ControllerMessage>* stream) override;
  // Free or busy, worker threads, host name; UNAUTHENTICATED for a wrong token. Never blocks.
  grpc::Status Info(grpc::ServerContext* context, const volley::v1::InfoRequest* request,
                    volley::v1::AgentInfo* info) override;

 private:
  AgentServiceOptions options_;
  std::atomic<bool> busy_{false};
};

}  // namespace volley::agent
