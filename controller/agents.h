// Finding and connecting to agents: addresses from --agent, --agents dns:///NAME:PORT (every
// address the name resolves to) and --agents-file (a YAML list), and gRPC channels to them with
// the token, TLS and keepalive settings a run was given. Controller thread only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "controller/run_config.h"

namespace volley::controller {

// Every agent address the run names, in a stable order; empty when none is named.
absl::StatusOr<std::vector<std::string>> ResolveAgentAddresses(const RunConfig& config);

// A channel to `address`, secured as the run asks (TLS/mTLS when --tls-ca is given).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeAgentChannel(const RunConfig& config,
                                                                const std::string& address);

}  // namespace volley::controller
