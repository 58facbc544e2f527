#include "controller/agents.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/server.h"

namespace volley::controller {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// "dns:///name:port" -> every address of name, as "ip:port" ("[ip6]:port").
absl::StatusOr<std::vector<std::string>> ResolveDns(const std::string& target) {
  std::string rest = target;
  if (absl::StartsWith(rest, "dns:///"))
    rest = rest.substr(7);
  else if (absl::StartsWith(rest, "dns:"))
    rest = rest.substr(4);
  auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--agents ", target, ": expected dns:///NAME:PORT"));
  }
  std::string host = rest.substr(0, colon), port = rest.substr(colon + 1);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    return absl::UnavailableError(
        absl::StrCat("--agents ", target, ": cannot resolve ", host, ": ", gai_strerror(rc)));
  }
  std::set<std::string> seen;
  std::vector<std::string> out;
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    char buf[INET6_ADDRSTRLEN] = {0};
    std::string address;
    if (ai->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, buf, sizeof buf);
      address = absl::StrCat(buf, ":", port);
    } else if (ai->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, buf,
                sizeof buf);
      address = absl::StrCat("[", buf, "]:", port);
    } else {
      continue;
    }
    if (seen.insert(address).second) out.push_back(address);
  }
  freeaddrinfo(result);
  std::sort(out.begin(), out.end());
  if (out.empty()) {
    return absl::UnavailableError(absl::StrCat("--agents ", target, ": no addresses"));
  }
  return out;
}

}  // namespace

namespace {

absl::Status CheckAgentAddress(const std::string& address) {
  // HOST:PORT or [V6]:PORT; gRPC would dial port 0 for a bare host and fail much later.
  std::size_t colon = address.rfind(':');
  std::size_t bracket = address.rfind(']');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      (bracket != std::string::npos && bracket > colon) ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("agent address \"", address, "\" is not HOST:PORT (e.g. 10.0.0.5:6565)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ResolveAgentAddresses(const RunConfig& config) {
  std::vector<std::string> out = config.agents;
  if (!config.agents_dns.empty()) {
    auto resolved = ResolveDns(config.agents_dns);
    if (!resolved.ok()) return resolved.status();
    out.insert(out.end(), resolved->begin(), resolved->end());
  }
  if (!config.agents_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(config.agents_file, ec)) {
      return absl::InvalidArgumentError(
          absl::StrCat("--agents-file ", config.agents_file, ": no such file"));
    }
    try {
      YAML::Node root = YAML::LoadFile(config.agents_file);
      YAML::Node list = root.IsMap() && root["agents"] ? root["agents"] : root;
      if (!list.IsSequence()) {
        return absl::InvalidArgumentError(absl::StrCat(
            config.agents_file, ": expected a list of agent addresses (or agents: [...])"));
      }
      for (const YAML::Node& item : list) {
        if (item.IsScalar()) {
          out.push_back(item.as<std::string>());
        } else if (item.IsMap() && item["address"]) {
          out.push_back(item["address"].as<std::string>());
        } else {
          return absl::InvalidArgumentError(absl::StrCat(
              config.agents_file, ":", item.Mark().line + 1, ":", item.Mark().column + 1,
              ": expected an address string or {address: ...}"));
        }
      }
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(absl::StrCat(config.agents_file, ": ", e.what()));
    }
  }
  for (const std::string& address : out) {
    if (absl::Status valid = CheckAgentAddress(address); !valid.ok()) return valid;
  }
  return out;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeAgentChannel(const RunConfig& config,
                                                                const std::string& address) {
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  grpc::ChannelArguments args = agent::KeepaliveArguments();
  const bool tls = !config.tls_ca.empty() || !config.tls_cert.empty();
  if (!config.tls_server_name.empty()) {
    if (!tls) {
      return absl::InvalidArgumentError("--tls-server-name needs TLS (--tls-ca)");
    }
    // Agents found by --agents dns:/// are dialled by IP; their certificates name the Service.
    args.SetSslTargetNameOverride(config.tls_server_name);
  }
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    if (!config.tls_ca.empty()) {
      auto ca = ReadFile(config.tls_ca, "--tls-ca");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (!config.tls_cert.empty()) {
      auto cert = ReadFile(config.tls_cert, "--tls-cert");
      if (!cert.ok()) return cert.status();
      auto key = ReadFile(config.tls_key, "--tls-key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    creds = grpc::SslCredentials(ssl);
  }
  return grpc::CreateCustomChannel(address, creds, args);
}

std::vector<absl::StatusOr<volley::v1::AgentInfo>> QueryAgents(
    const std::vector<std::shared_ptr<grpc::Channel>>& channels, const std::string& token,
    absl::Duration timeout) {
  std::vector<absl::StatusOr<volley::v1::AgentInfo>> out(channels.size());
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < channels.size(); ++i) {
    threads.emplace_back([&, i] {
      auto stub = volley::v1::Agent::NewStub(channels[i]);
      const absl::Time deadline = absl::Now() + timeout;
      volley::v1::InfoRequest request;
      request.set_token(token);
      volley::v1::AgentInfo info;
      grpc::Status status;
      // A refused connection fails at once, a silent agent at the deadline. A failed connect
      // is tried twice more, 200 ms apart: one lost SYN or a busy accept queue on a loaded
      // machine must not fail the run, a stopped agent still fails within half a second.
      for (int attempt = 0; attempt < 3; ++attempt) {
        if (attempt > 0) absl::SleepFor(absl::Milliseconds(200));
        grpc::ClientContext context;
        context.set_deadline(absl::ToChronoTime(deadline));
        context.set_wait_for_ready(false);
        status = stub->Info(&context, request, &info);
        if (status.error_code() != grpc::StatusCode::UNAVAILABLE || absl::Now() >= deadline) {
          break;
        }
      }
      switch (status.error_code()) {
        case grpc::StatusCode::OK:
          if (info.busy()) {
            out[i] = absl::ResourceExhaustedError("busy with another test");
          } else {
            out[i] = info;
          }
          break;
        case grpc::StatusCode::UNIMPLEMENTED:
          out[i] = volley::v1::AgentInfo();  // an older agent: weight unknown
          break;
        case grpc::StatusCode::UNAUTHENTICATED:
          out[i] = absl::UnauthenticatedError(
              absl::StrCat("refused the token (", status.error_message(), ")"));
          break;
        case grpc::StatusCode::DEADLINE_EXCEEDED:
          out[i] = absl::DeadlineExceededError(
              absl::StrCat("no answer within ", absl::FormatDuration(timeout)));
          break;
        default:
          out[i] = absl::UnavailableError(absl::StrCat(
              "cannot reach it: ",
              status.error_message().empty() ? "unavailable" : status.error_message()));
      }
    });
  }
  for (auto& t : threads) t.join();
  return out;
}

std::vector<std::int64_t> SegmentWeights(const std::vector<volley::v1::AgentInfo>& infos) {
  std::vector<std::int64_t> weights;
  for (const auto& info : infos) {
    if (info.workers() == 0) return std::vector<std::int64_t>(infos.size(), 1);
    weights.push_back(info.workers());
  }
  return weights;
}

}  // namespace volley::controller
