// Hosting the agent service: a gRPC server with the health service, TLS or mutual TLS when
// configured, keepalive pings so a silent controller is noticed within seconds, and the
// loopback-only rule for unprotected agents. Used by volley-agent and by the controller's
// embedded agent (which talks to it through an in-process channel).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "agent/agent_service.h"

namespace volley::agent {

struct ServerConfig {
  std::string listen;        // "ADDR:PORT"; empty = in-process only
  std::string token;         // required from controllers when non-empty
  std::string tls_cert_pem;  // server certificate and key: TLS when both are set
  std::string tls_key_pem;
  std::string tls_ca_pem;        // client CA: mutual TLS when set
  bool insecure_listen = false;  // allow a non-loopback address without token and TLS
  int workers = 0;
  bool forward_logs = true;  // see AgentServiceOptions
};

class AgentServer {
 public:
  static absl::StatusOr<std::unique_ptr<AgentServer>> Start(const ServerConfig& config);
  ~AgentServer();

  int port() const { return port_; }
  std::shared_ptr<grpc::Channel> InProcessChannel();
  void Wait() { server_->Wait(); }
  void Shutdown();

 private:
  AgentServer() = default;
  std::unique_ptr<AgentService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

// True for 127.0.0.0/8, ::1, and "localhost".
bool IsLoopbackAddress(const std::string& host_port);

// Channel arguments both sides use, so a dead peer or cut link shows within about 2.5 seconds.
grpc::ChannelArguments KeepaliveArguments();

}  // namespace volley::agent
