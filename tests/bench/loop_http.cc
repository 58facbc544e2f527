// loop_http: curl_loop's load through Volley's request path. N fibers on one Loop, each with its
// own HttpClient (as one VU would have), each doing GETs back to back. Same stop rules and output
// as curl_loop, so the two can be compared line by line.
//
//   loop_http --url http://127.0.0.1:8080/ [--connections 50] [--duration 10] [--requests N]
//             [--insecure]   (skip TLS verification, for a self-signed loopback server)
// It also prints what the first response looked like (proto, TLS version, timings, error).
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "agent/loop/http.h"
#include "agent/loop/loop.h"

namespace {

using volley::loop::Clock;

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

void PrintFirst(const volley::loop::HttpResponse& r) {
  const auto& t = r.timings;
  std::printf(
      "first: status=%d proto=%s tls=%s ip=%s:%d error_code=%d error=\"%s\" blocked=%.3f "
      "connecting=%.3f tls_handshaking=%.3f sending=%.3f waiting=%.3f receiving=%.3f "
      "bytes_sent=%llu bytes_received=%llu\n",
      r.status, r.proto.c_str(), r.tls_version.c_str(), r.remote_ip.c_str(), r.remote_port,
      r.error_code, r.error.c_str(), t.blocked, t.connecting, t.tls_handshaking, t.sending,
      t.waiting, t.receiving, static_cast<unsigned long long>(r.bytes_sent),
      static_cast<unsigned long long>(r.bytes_received));
}

void Usage() {
  std::fprintf(stderr,
               "usage: loop_http --url URL [--connections N] [--duration SECONDS] "
               "[--requests COUNT] [--insecure]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int connections = 50;
  double duration_s = 10;
  long long max_requests = 0;
  volley::loop::HttpClientOptions options;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--insecure") {
      options.insecure_skip_tls_verify = true;
      continue;
    }
    if (i + 1 >= argc) Usage();
    if (arg == "--url") {
      url = argv[++i];
    } else if (arg == "--connections") {
      connections = std::atoi(argv[++i]);
    } else if (arg == "--duration") {
      duration_s = std::atof(argv[++i]);
    } else if (arg == "--requests") {
      max_requests = std::atoll(argv[++i]);
    } else {
      Usage();
    }
  }
  if (url.empty() || connections <= 0 || duration_s <= 0) Usage();

  volley::loop::Loop loop;
  std::vector<std::unique_ptr<volley::loop::HttpClient>> clients;
  long long started = 0, completed = 0, failed = 0;
  double cpu_start = CpuSeconds();
  auto wall_start = Clock::now();
  auto deadline = wall_start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(duration_s));
  volley::loop::HttpRequest request;
  request.url = url;
  for (int i = 0; i < connections; ++i) {
    clients.push_back(std::make_unique<volley::loop::HttpClient>(&loop, options));
    auto* client = clients.back().get();
    loop.Spawn([&, client] {
      while (Clock::now() < deadline && (max_requests == 0 || started < max_requests)) {
        ++started;
        volley::loop::HttpResponse response = client->Do(request);
        if (completed++ == 0) PrintFirst(response);
        if (response.status != 200) ++failed;
      }
    });
  }
  loop.Run(/*until_idle=*/true);

  double wall_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
  double cpu_s = CpuSeconds() - cpu_start;
  std::printf(
      "requests %lld\nfailed %lld\nconnections %d\nwall_seconds %.3f\ncpu_seconds %.3f\n"
      "requests_per_second %.0f\nrequests_per_cpu_second %.0f\n",
      completed, failed, connections, wall_s, cpu_s, completed / wall_s,
      cpu_s > 0 ? completed / cpu_s : 0.0);
  clients.clear();
  return failed == 0 ? 0 : 1;
}
