// curl_loop: the baseline that Volley's request path is compared against. A bare libcurl multi
// loop on one thread (epoll + curl's socket interface, as in an ordinary event-driven client):
// N easy handles, each re-added as soon as its GET finishes, so N keep-alive connections stay
// busy. Stops after --duration seconds or --requests requests, whichever comes first, and prints
// requests, wall and CPU seconds (getrusage) and requests per CPU-second.
//
//   curl_loop --url http://127.0.0.1:8080/ [--connections 50] [--duration 10] [--requests N]
#include <curl/curl.h>
#include <sys/epoll.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Bench {
  int epoll_fd = -1;
  CURLM* multi = nullptr;
  long timeout_ms = -1;  // from curl's timer callback; -1 = none
  Clock::time_point timer_set_at;
};

int OnSocket(CURL*, curl_socket_t fd, int what, void* userp, void* socketp) {
  auto* bench = static_cast<Bench*>(userp);
  epoll_event ev{};
  ev.data.fd = fd;
  if (what == CURL_POLL_REMOVE) {
    epoll_ctl(bench->epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
    curl_multi_assign(bench->multi, fd, nullptr);
    return 0;
  }
  ev.events = 0;
  if (what & CURL_POLL_IN) ev.events |= EPOLLIN;
  if (what & CURL_POLL_OUT) ev.events |= EPOLLOUT;
  if (socketp == nullptr) {
    epoll_ctl(bench->epoll_fd, EPOLL_CTL_ADD, fd, &ev);
    curl_multi_assign(bench->multi, fd, bench);  // any non-null marks "registered"
  } else {
    epoll_ctl(bench->epoll_fd, EPOLL_CTL_MOD, fd, &ev);
  }
  return 0;
}

int OnTimer(CURLM*, long timeout_ms, void* userp) {
  auto* bench = static_cast<Bench*>(userp);
  bench->timeout_ms = timeout_ms;
  bench->timer_set_at = Clock::now();
  return 0;
}

size_t Discard(char*, size_t size, size_t count, void*) { return size * count; }

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

void Usage() {
  std::fprintf(stderr,
               "usage: curl_loop --url URL [--connections N] [--duration SECONDS] "
               "[--requests COUNT]\n");
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  std::string url;
  int connections = 50;
  double duration_s = 10;
  long long max_requests = 0;  // 0 = bounded by duration only
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
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

  curl_global_init(CURL_GLOBAL_DEFAULT);
  Bench bench;
  bench.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  bench.multi = curl_multi_init();
  curl_multi_setopt(bench.multi, CURLMOPT_SOCKETFUNCTION, OnSocket);
  curl_multi_setopt(bench.multi, CURLMOPT_SOCKETDATA, &bench);
  curl_multi_setopt(bench.multi, CURLMOPT_TIMERFUNCTION, OnTimer);
  curl_multi_setopt(bench.multi, CURLMOPT_TIMERDATA, &bench);
  curl_multi_setopt(bench.multi, CURLMOPT_MAXCONNECTS, static_cast<long>(connections) * 2);

  std::vector<CURL*> handles;
  for (int i = 0; i < connections; ++i) {
    CURL* easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, url.c_str());
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, Discard);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    handles.push_back(easy);
  }

  long long started = 0, completed = 0, failed = 0;
  bool stopping = false;
  double cpu_start = CpuSeconds();
  auto wall_start = Clock::now();
  auto deadline = wall_start + std::chrono::duration_cast<Clock::duration>(
                                   std::chrono::duration<double>(duration_s));
  for (CURL* easy : handles) {
    if (max_requests > 0 && started >= max_requests) break;
    curl_multi_add_handle(bench.multi, easy);
    ++started;
  }

  int running = 1;
  epoll_event events[256];
  while (started > completed) {
    int wait_ms = 100;
    if (bench.timeout_ms >= 0) {
      auto left = bench.timer_set_at + std::chrono::milliseconds(bench.timeout_ms) - Clock::now();
      wait_ms = std::max<long>(0, std::chrono::ceil<std::chrono::milliseconds>(left).count());
    }
    int n = epoll_wait(bench.epoll_fd, events, 256, wait_ms);
    for (int i = 0; i < n; ++i) {
      int flags = (events[i].events & (EPOLLIN | EPOLLHUP) ? CURL_CSELECT_IN : 0) |
                  (events[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
                  (events[i].events & EPOLLERR ? CURL_CSELECT_ERR : 0);
      curl_multi_socket_action(bench.multi, events[i].data.fd, flags, &running);
    }
    if (bench.timeout_ms >= 0 &&
        Clock::now() >= bench.timer_set_at + std::chrono::milliseconds(bench.timeout_ms)) {
      bench.timeout_ms = -1;
      curl_multi_socket_action(bench.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }

    if (!stopping && Clock::now() >= deadline) stopping = true;
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(bench.multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL* easy = msg->easy_handle;
      long status = 0;
      curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
      if (msg->data.result != CURLE_OK || status != 200) ++failed;
      ++completed;
      curl_multi_remove_handle(bench.multi, easy);
      if (!stopping && (max_requests == 0 || started < max_requests)) {
        curl_multi_add_handle(bench.multi, easy);
        ++started;
      }
    }
  }

  double wall_s = std::chrono::duration<double>(Clock::now() - wall_start).count();
  double cpu_s = CpuSeconds() - cpu_start;
  std::printf(
      "requests %lld\nfailed %lld\nconnections %d\nwall_seconds %.3f\ncpu_seconds %.3f\n"
      "requests_per_second %.0f\nrequests_per_cpu_second %.0f\n",
      completed, failed, connections, wall_s, cpu_s, completed / wall_s,
      cpu_s > 0 ? completed / cpu_s : 0.0);

  for (CURL* easy : handles) curl_easy_cleanup(easy);
  curl_multi_cleanup(bench.multi);
  curl_global_cleanup();
  return failed == 0 ? 0 : 1;
}
