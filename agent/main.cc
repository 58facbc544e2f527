// volley-agent: a long-running server that runs one test share at a time for a controller.
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "agent/js/vu.h"
#include "agent/server.h"
#include "common/logging.h"

namespace {

std::string ReadFileOrDie(const std::string& path, const char* what) {
  if (path.empty()) return "";
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "volley-agent: cannot read " << what << " " << path << "\n";
    std::exit(2);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s;
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

volley::agent::AgentServer* g_server = nullptr;

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"volley-agent: runs shares of Volley load tests for a controller"};
  std::string listen = "127.0.0.1:6565";
  std::string token_file, cert, key, ca, log_level = "info";
  bool insecure_listen = false;
  int workers = 0;
  app.add_option("--listen", listen, "address:port to serve on")->capture_default_str();
  app.add_option("--token-file", token_file, "file holding the token controllers must present");
  app.add_option("--tls-cert", cert, "server certificate (PEM)");
  app.add_option("--tls-key", key, "server private key (PEM)");
  app.add_option("--tls-ca", ca, "CA for client certificates (PEM): enables mutual TLS");
  app.add_flag("--insecure-listen", insecure_listen,
               "allow a non-loopback address without token or TLS");
  app.add_option("--workers", workers, "worker threads (0: one per core)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->capture_default_str()
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);

  volley::InitLogging(log_level);
  if (cert.empty() != key.empty()) {
    std::cerr << "volley-agent: --tls-cert and --tls-key go together\n";
    return 2;
  }
  if (!ca.empty() && cert.empty()) {
    // Mutual TLS needs the agent's own certificate; without it the agent would serve plaintext.
    std::cerr << "volley-agent: --tls-ca needs --tls-cert and --tls-key\n";
    return 2;
  }
  volley::agent::ServerConfig config;
  config.listen = listen;
  config.token = Trim(ReadFileOrDie(token_file, "token file"));
  if (!token_file.empty() && config.token.empty()) {
    std::cerr << "volley-agent: token file " << token_file << " is empty\n";
    return 2;
  }
  config.tls_cert_pem = ReadFileOrDie(cert, "certificate");
  config.tls_key_pem = ReadFileOrDie(key, "key");
  config.tls_ca_pem = ReadFileOrDie(ca, "CA");
  config.insecure_listen = insecure_listen;
  config.workers = workers;

  volley::js::InitV8();
  auto server = volley::agent::AgentServer::Start(config);
  if (!server.ok()) {
    std::cerr << "volley-agent: " << server.status().message() << "\n";
    return 2;
  }
  g_server = server->get();
  volley::Log("agent")->info("listening address={} port={}", listen, (*server)->port());
  // Print the bound port on stdout so scripts that asked for port 0 can find it.
  std::cout << "listening " << (*server)->port() << std::endl;

  std::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = [](int) {
    // Shutdown from a signal handler is not safe; leave Wait() by exiting the process. Running
    // tests end with it, as they do when the process is killed.
    std::_Exit(0);
  };
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  (*server)->Wait();
  return 0;
}
