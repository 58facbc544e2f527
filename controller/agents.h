// Finding and connecting to agents: addresses from --agent, --agents dns:///NAME:PORT (every
// address the name resolves to) and --agents-file (a YAML list), and gRPC channels to them with
// the token, TLS and keepalive settings a run was given. Controller thread only.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "controller/run_config.h"
#include "volley.grpc.pb.h"

namespace volley::controller {

// Every agent address the run names, in a stable order; empty when none is named.
absl::StatusOr<std::vector<std::string>> ResolveAgentAddresses(const RunConfig& config);

// A channel to `address`, secured as the run asks (TLS/mTLS when --tls-ca is given).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeAgentChannel(const RunConfig& config,
                                                                const std::string& address);

// Asks each agent (by its channel) whether it is free and accepts `token`, and how many worker
// threads it has, all at once, each within `timeout`. One entry per channel: the agent's info,
// or a status whose message says what is wrong with it (unreachable, busy, token refused).
// An agent too old for the Info call gives an AgentInfo with workers == 0 (weight unknown).
std::vector<absl::StatusOr<volley::v1::AgentInfo>> QueryAgents(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels, const std::string& token,
    absl::Duration timeout);

// The segment weights for agents that reported `infos`: their worker counts, or all equal when
// any count is unknown.
std::vector<std::int64_t> SegmentWeights(const std::vector<volley::v1::AgentInfo>& infos);

}  // namespace volley::controller
