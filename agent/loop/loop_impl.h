// Internals of Loop shared with HttpClient (http.cc) and the tests of this folder. Nothing outside
// agent/loop/ should include this header. Everything here runs on the loop's thread, except the
// fields marked as guarded by post_mu.
#pragma once

#include <curl/curl.h>

#include <atomic>
#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "agent/loop/loop.h"

namespace volley::loop {

// Initialises libcurl for the process, once, from any thread.
void EnsureCurlGlobalInit();

// Crashes with a message when an invariant of the loop is broken (a programming error, never a
// traffic problem).
[[noreturn]] void LoopInvariantFailed(const char* what);

class Fiber {
 public:
  enum class State { kReady, kRunning, kSleeping, kParked, kDone };

  Loop::Impl* loop = nullptr;
  std::function<void()> body;
  FiberHooks hooks;
  State state = State::kReady;
  bool unwind_on_destroy = true;
  bool unpark_permit = false;  // Unpark() arrived while the fiber was not parked
  bool interrupted = false;
  std::uint64_t sleep_timer = 0;

  boost::context::fiber context;  // where to resume this fiber; empty while it runs
  boost::context::fiber caller;   // where to return to the loop; set while it runs
  boost::context::stack_context stack;
  std::uintptr_t stack_limit = 0;  // lowest usable address (just above the guard page)

  // Intrusive list of the loop's live fibers.
  Fiber* prev = nullptr;
  Fiber* next = nullptr;
};

// Receives the completion of a curl easy handle added with Loop::Impl::AddEasy. Set as the
// handle's CURLOPT_PRIVATE. on_done runs on the loop thread, outside any fiber, after the handle
// was removed from the multi handle; it must not yield.
struct CurlWaiter {
  void (*on_done)(CurlWaiter* self, CURLcode result) = nullptr;
};

struct Loop::Impl {
  explicit Impl(Loop* owner);
  ~Impl();

  // ---- fibers ----
  Fiber* Spawn(std::function<void()> body, const FiberOptions& options);
  void MakeReady(Fiber* f);
  void Resume(Fiber* f);
  // Called on the fiber's own stack: gives control back to the loop with the fiber in `state`.
  void SwitchOut(Fiber* f, Fiber::State state);
  void DestroyFiber(Fiber* f);
  void DestroyAllFibers();
  Fiber* RequireFiber(const char* call) const;

  // ---- the turn ----
  void Run(bool until_idle);
  void RunReadyFibers();
  int ComputeTimeoutMs();
  void Poll(int timeout_ms);
  void FireTimers();
  void ServiceCurlTimeout();
  void DrainCurl();
  void HandleWake();

  // ---- curl ----
  void AddEasy(CURL* easy);
  void RemoveEasy(CURL* easy);
  static int SocketCallback(CURL* easy, curl_socket_t fd, int what, void* userp, void* socketp);
  static int TimerCallback(CURLM* multi, long timeout_ms, void* userp);

  // ---- timers ----
  std::uint64_t AddTimer(Clock::time_point when, std::function<void()> fn);
  void CancelTimer(std::uint64_t id);
  bool HasTimers() const { return !timer_fns.empty(); }

  Loop* owner;
  int epoll_fd = -1;
  int event_fd = -1;
  CURLM* multi = nullptr;

  Fiber* current = nullptr;
  Fiber* fibers = nullptr;  // head of the live list
  std::size_t fiber_count = 0;
  std::vector<Fiber*> ready;
  std::vector<Fiber*> running;  // the batch of the current turn (kept to reuse its capacity)

  struct TimerEntry {
    Clock::time_point when;
    std::uint64_t id;
  };
  std::vector<TimerEntry> timer_heap;  // min-heap on `when`; cancelled entries are skipped
  absl::flat_hash_map<std::uint64_t, std::function<void()>> timer_fns;
  std::uint64_t next_timer_id = 1;

  bool curl_timer_armed = false;
  Clock::time_point curl_deadline;
  std::vector<std::uint32_t> fd_events;  // epoll mask registered per fd, 0 when not registered

  std::mutex post_mu;
  std::vector<std::function<void()>> posted;  // guarded by post_mu
  std::vector<std::function<void()>> posted_batch;
  std::atomic<bool> wake_pending{false};
  std::atomic<bool> stop_requested{false};
};

}  // namespace volley::loop
