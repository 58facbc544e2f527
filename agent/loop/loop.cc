// The worker loop: fibers on boost::context, a timer heap, epoll, an eventfd for cross-thread
// wake-ups, and a libcurl multi handle driven through its socket interface.
//
// One turn: run the fibers that were ready when the turn began, let curl start what they queued,
// wait in epoll_wait (not at all when fibers are ready), hand socket events to curl, fire due
// timers, and deliver finished transfers. Fibers made ready during a turn run in the next one, so
// a fiber that keeps yielding cannot starve I/O.
#include "agent/loop/loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <utility>

#include "agent/loop/loop_impl.h"
#include "common/logging.h"

namespace volley::loop {
namespace {

namespace ctx = boost::context;

thread_local Loop* t_current_loop = nullptr;

// Keeps protected_fixedsize_stack's layout (guard page below the usable stack) and records where
// the stack is, for CurrentStackLimit() and for releasing an abandoned stack.
class RecordingStack {
 public:
  RecordingStack(std::size_t usable_bytes, Fiber* fiber) : inner_(usable_bytes), fiber_(fiber) {}

  ctx::stack_context allocate() {
    ctx::stack_context sctx = inner_.allocate();
    fiber_->stack = sctx;
    fiber_->stack_limit =
        reinterpret_cast<std::uintptr_t>(sctx.sp) - sctx.size + ctx::stack_traits::page_size();
    return sctx;
  }
  void deallocate(ctx::stack_context& sctx) noexcept { inner_.deallocate(sctx); }

 private:
  ctx::protected_fixedsize_stack inner_;
  Fiber* fiber_;
};

bool TimerLater(const Loop::Impl::TimerEntry& a, const Loop::Impl::TimerEntry& b) {
  return a.when > b.when || (a.when == b.when && a.id > b.id);
}

}  // namespace

void EnsureCurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      LoopInvariantFailed("curl_global_init failed");
    }
  });
}

void LoopInvariantFailed(const char* what) {
  auto log = Log("loop");
  log->critical("loop invariant broken: {}", what);
  log->flush();
  std::abort();
}

// ---------------------------------------------------------------------------------------------
// Impl: setup

Loop::Impl::Impl(Loop* owner_loop) : owner(owner_loop) {
  EnsureCurlGlobalInit();
  epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (epoll_fd < 0 || event_fd < 0) LoopInvariantFailed("cannot create epoll or eventfd");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = event_fd;
  if (epoll_ctl(epoll_fd, EPOLL_CTL_ADD, event_fd, &ev) != 0) {
    LoopInvariantFailed("cannot register eventfd");
  }

  multi = curl_multi_init();
  if (multi == nullptr) LoopInvariantFailed("curl_multi_init failed");
  curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, &Impl::SocketCallback);
  curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, &Impl::TimerCallback);
  curl_multi_setopt(multi, CURLMOPT_TIMERDATA, this);
  curl_multi_setopt(multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
  // curl's default cache size follows the number of handles currently added (4 per handle). VUs
  // that sleep between requests keep few handles added, so the default would close the idle
  // keep-alive connections that k6 keeps per VU. Idle connections cost only a socket here. curl
  // applies this limit to each HttpClient's own connection cache (its share handle) as well.
  curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, 65536L);
}

Loop::Impl::~Impl() {
  DestroyAllFibers();
  curl_multi_cleanup(multi);
  close(event_fd);
  close(epoll_fd);
}

// ---------------------------------------------------------------------------------------------
// Impl: fibers

Fiber* Loop::Impl::Spawn(std::function<void()> body, const FiberOptions& options) {
  auto* f = new Fiber;
  f->loop = this;
  f->body = std::move(body);
  f->unwind_on_destroy = options.unwind_on_destroy;
  f->context = ctx::fiber(
      std::allocator_arg, RecordingStack(options.stack_bytes, f), [f](ctx::fiber&& caller) {
        f->caller = std::move(caller);
        try {
          f->body();
        } catch (const ctx::detail::forced_unwind&) {
          throw;  // the loop is destroying this fiber: let boost finish the unwinding
        } catch (const std::exception& e) {
          auto log = Log("loop");
          log->critical("uncaught exception in fiber body: {}", e.what());
          log->flush();
          std::abort();
        } catch (...) {
          LoopInvariantFailed("uncaught non-std exception in fiber body");
        }
        f->body = nullptr;  // release what the body captured while still on this stack
        f->state = Fiber::State::kDone;
        return std::move(f->caller);
      });

  f->next = fibers;
  if (fibers != nullptr) fibers->prev = f;
  fibers = f;
  ++fiber_count;
  MakeReady(f);
  return f;
}

void Loop::Impl::MakeReady(Fiber* f) {
  f->state = Fiber::State::kReady;
  ready.push_back(f);
}

void Loop::Impl::Resume(Fiber* f) {
  current = f;
  f->state = Fiber::State::kRunning;
  f->context = std::move(f->context).resume();
  current = nullptr;
  if (!f->context) DestroyFiber(f);  // the body returned
}

void Loop::Impl::SwitchOut(Fiber* f, Fiber::State state) {
  if (!f->caller) LoopInvariantFailed("a fiber tried to yield while being destroyed");
  f->state = state;
  if (f->hooks.on_suspend) f->hooks.on_suspend();
  f->caller = std::move(f->caller).resume();
  if (f->hooks.on_resume) f->hooks.on_resume();
}

void Loop::Impl::DestroyFiber(Fiber* f) {
  if (f->context) {
    Fiber* saved = current;
    current = f;
    if (f->unwind_on_destroy) {
      // Destroying a suspended boost fiber throws forced_unwind at its suspension point.
      ctx::fiber dying = std::move(f->context);
    } else {
      // Forget the suspended context without touching the stack, then release the stack
      // memory (the fiber's control block lives on it too).
      union Forgotten {
        Forgotten() {}
        ~Forgotten() {}
        ctx::fiber fiber;
      } forgotten;
      new (&forgotten.fiber) ctx::fiber(std::move(f->context));
      ctx::protected_fixedsize_stack().deallocate(f->stack);
    }
    current = saved;
  }
  if (f->sleep_timer != 0) CancelTimer(f->sleep_timer);
  if (f->prev != nullptr) f->prev->next = f->next;
  if (f->next != nullptr) f->next->prev = f->prev;
  if (fibers == f) fibers = f->next;
  --fiber_count;
  // A destroyed fiber may still sit in the ready queue (interrupted or unparked this turn).
  std::erase(ready, f);
  delete f;
}

void Loop::Impl::DestroyAllFibers() {
  while (fibers != nullptr) DestroyFiber(fibers);
  ready.clear();
}

Fiber* Loop::Impl::RequireFiber(const char* call) const {
  if (current == nullptr) {
    auto log = Log("loop");
    log->critical("{} called outside a fiber", call);
    log->flush();
    std::abort();
  }
  return current;
}

// ---------------------------------------------------------------------------------------------
// Impl: the turn

void Loop::Impl::Run(bool until_idle) {
  Loop* saved = t_current_loop;
  t_current_loop = owner;
  while (true) {
    RunReadyFibers();
    ServiceCurlTimeout();  // start what the fibers queued before sleeping in epoll
    DrainCurl();
    if (stop_requested.exchange(false)) break;
    if (until_idle && fiber_count == 0 && !HasTimers() && !wake_pending.load()) break;
    Poll(ComputeTimeoutMs());
    FireTimers();
    ServiceCurlTimeout();
    DrainCurl();
  }
  DestroyAllFibers();
  t_current_loop = saved;
}

void Loop::Impl::RunReadyFibers() {
  if (ready.empty()) return;
  running.swap(ready);
  for (std::size_t i = 0; i < running.size(); ++i) {
    Fiber* f = running[i];
    // A fiber destroyed or re-queued earlier in this batch is skipped; the ready queue holds it.
    if (f == nullptr || f->state != Fiber::State::kReady) continue;
    Resume(f);
  }
  running.clear();
}

int Loop::Impl::ComputeTimeoutMs() {
  if (!ready.empty()) return 0;
  while (!timer_heap.empty() && !timer_fns.contains(timer_heap.front().id)) {
    std::pop_heap(timer_heap.begin(), timer_heap.end(), TimerLater);
    timer_heap.pop_back();
  }
  bool have_deadline = false;
  Clock::time_point deadline;
  if (!timer_heap.empty()) {
    deadline = timer_heap.front().when;
    have_deadline = true;
  }
  if (curl_timer_armed && (!have_deadline || curl_deadline < deadline)) {
    deadline = curl_deadline;
    have_deadline = true;
  }
  if (!have_deadline) return -1;
  auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  // Round up: waking early would only spin through an idle turn.
  auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return ms > INT_MAX ? INT_MAX : static_cast<int>(ms);
}

void Loop::Impl::Poll(int timeout_ms) {
  epoll_event events[256];
  int n = epoll_wait(epoll_fd, events, 256, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return;
    LoopInvariantFailed("epoll_wait failed");
  }
  for (int i = 0; i < n; ++i) {
    int fd = events[i].data.fd;
    if (fd == event_fd) {
      HandleWake();
      continue;
    }
    std::uint32_t e = events[i].events;
    int flags = 0;
    if (e & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) flags |= CURL_CSELECT_IN;
    if (e & EPOLLOUT) flags |= CURL_CSELECT_OUT;
    if (e & EPOLLERR) flags |= CURL_CSELECT_ERR;
    int running_handles = 0;
    curl_multi_socket_action(multi, fd, flags, &running_handles);
  }
  if (n > 0) DrainCurl();
}

void Loop::Impl::FireTimers() {
  if (timer_heap.empty()) return;
  Clock::time_point now = Clock::now();
  while (!timer_heap.empty() && timer_heap.front().when <= now) {
    std::uint64_t id = timer_heap.front().id;
    std::pop_heap(timer_heap.begin(), timer_heap.end(), TimerLater);
    timer_heap.pop_back();
    auto it = timer_fns.find(id);
    if (it == timer_fns.end()) continue;  // cancelled
    std::function<void()> fn = std::move(it->second);
    timer_fns.erase(it);
    fn();
  }
}

void Loop::Impl::ServiceCurlTimeout() {
  if (!curl_timer_armed || Clock::now() < curl_deadline) return;
  curl_timer_armed = false;  // the callback may re-arm it from inside socket_action
  int running_handles = 0;
  curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running_handles);
}

void Loop::Impl::DrainCurl() {
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    CURL* easy = msg->easy_handle;
    CURLcode result = msg->data.result;
    void* priv = nullptr;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
    curl_multi_remove_handle(multi, easy);
    auto* waiter = static_cast<CurlWaiter*>(priv);
    if (waiter == nullptr || waiter->on_done == nullptr) {
      LoopInvariantFailed("finished curl transfer without a waiter");
    }
    waiter->on_done(waiter, result);
  }
}

void Loop::Impl::HandleWake() {
  std::uint64_t value;
  while (read(event_fd, &value, sizeof value) < 0 && errno == EINTR) {
  }
  {
    std::lock_guard<std::mutex> lock(post_mu);
    posted_batch.swap(posted);
    wake_pending.store(false);
  }
  for (auto& fn : posted_batch) fn();
  posted_batch.clear();
}

// ---------------------------------------------------------------------------------------------
// Impl: curl glue

void Loop::Impl::AddEasy(CURL* easy) {
  CURLMcode rc = curl_multi_add_handle(multi, easy);
  if (rc != CURLM_OK) {
    auto log = Log("loop");
    log->critical("curl_multi_add_handle: {}", curl_multi_strerror(rc));
    log->flush();
    std::abort();
  }
}

void Loop::Impl::RemoveEasy(CURL* easy) { curl_multi_remove_handle(multi, easy); }

int Loop::Impl::SocketCallback(CURL*, curl_socket_t fd, int what, void* userp, void*) {
  auto* self = static_cast<Impl*>(userp);
  if (fd < 0) return 0;
  auto index = static_cast<std::size_t>(fd);
  if (index >= self->fd_events.size()) self->fd_events.resize(index + 64, 0);
  std::uint32_t& registered = self->fd_events[index];

  if (what == CURL_POLL_REMOVE) {
    if (registered != 0) {
      epoll_ctl(self->epoll_fd, EPOLL_CTL_DEL, fd, nullptr);  // ENOENT if already closed: fine
      registered = 0;
    }
    return 0;
  }
  std::uint32_t wanted = 0;
  if (what & CURL_POLL_IN) wanted |= EPOLLIN | EPOLLRDHUP;
  if (what & CURL_POLL_OUT) wanted |= EPOLLOUT;
  if (wanted == registered) return 0;
  epoll_event ev{};
  ev.events = wanted;
  ev.data.fd = fd;
  int rc = epoll_ctl(self->epoll_fd, registered != 0 ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
  if (rc != 0 && errno == ENOENT) {
    rc = epoll_ctl(self->epoll_fd, EPOLL_CTL_ADD, fd, &ev);  // fd was closed and reused
  } else if (rc != 0 && errno == EEXIST) {
    rc = epoll_ctl(self->epoll_fd, EPOLL_CTL_MOD, fd, &ev);
  }
  if (rc != 0) {
    Log("loop")->error("epoll_ctl fd={} failed: {}", fd, std::strerror(errno));
    return -1;
  }
  registered = wanted;
  return 0;
}

int Loop::Impl::TimerCallback(CURLM*, long timeout_ms, void* userp) {
  auto* self = static_cast<Impl*>(userp);
  if (timeout_ms < 0) {
    self->curl_timer_armed = false;
  } else {
    self->curl_timer_armed = true;
    self->curl_deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Impl: timers

std::uint64_t Loop::Impl::AddTimer(Clock::time_point when, std::function<void()> fn) {
  std::uint64_t id = next_timer_id++;
  timer_fns.emplace(id, std::move(fn));
  timer_heap.push_back({when, id});
  std::push_heap(timer_heap.begin(), timer_heap.end(), TimerLater);
  return id;
}

void Loop::Impl::CancelTimer(std::uint64_t id) {
  timer_fns.erase(id);  // the heap entry is dropped when it reaches the top
}

// ---------------------------------------------------------------------------------------------
// Loop

Loop::Loop() : impl_(std::make_unique<Impl>(this)) {}
Loop::~Loop() = default;

Loop* Loop::Current() { return t_current_loop; }

Fiber* Loop::Spawn(std::function<void()> body, FiberOptions options) {
  return impl_->Spawn(std::move(body), options);
}

void Loop::Run(bool until_idle) { impl_->Run(until_idle); }

void Loop::Post(std::function<void()> fn) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(impl_->post_mu);
    impl_->posted.push_back(std::move(fn));
    wake = !impl_->wake_pending.exchange(true);
  }
  if (wake) {
    std::uint64_t one = 1;
    while (write(impl_->event_fd, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }
}

void Loop::Stop() {
  impl_->stop_requested.store(true);
  std::uint64_t one = 1;
  while (write(impl_->event_fd, &one, sizeof one) < 0 && errno == EINTR) {
  }
}

void Loop::Sleep(Clock::duration d) { SleepUntil(Clock::now() + d); }

void Loop::SleepUntil(Clock::time_point t) {
  Fiber* f = impl_->RequireFiber("Loop::SleepUntil");
  if (f->interrupted) return;
  Impl* impl = impl_.get();
  f->sleep_timer = impl->AddTimer(t, [impl, f] {
    f->sleep_timer = 0;
    if (f->state == Fiber::State::kSleeping) impl->MakeReady(f);
  });
  impl->SwitchOut(f, Fiber::State::kSleeping);
  if (f->sleep_timer != 0) {  // woken early by Interrupt
    impl->CancelTimer(f->sleep_timer);
    f->sleep_timer = 0;
  }
}

void Loop::Yield() {
  Fiber* f = impl_->RequireFiber("Loop::Yield");
  impl_->MakeReady(f);
  impl_->SwitchOut(f, Fiber::State::kReady);
}

void Loop::Park() {
  Fiber* f = impl_->RequireFiber("Loop::Park");
  if (f->unpark_permit || f->interrupted) {
    f->unpark_permit = false;
    return;
  }
  impl_->SwitchOut(f, Fiber::State::kParked);
  f->unpark_permit = false;
}

void Loop::Unpark(Fiber* fiber) {
  if (fiber->state == Fiber::State::kParked) {
    impl_->MakeReady(fiber);
  } else {
    fiber->unpark_permit = true;
  }
}

void Loop::Interrupt(Fiber* fiber) {
  fiber->interrupted = true;
  if (fiber->state == Fiber::State::kParked || fiber->state == Fiber::State::kSleeping) {
    impl_->MakeReady(fiber);
  }
}

bool Loop::Interrupted() const { return impl_->current != nullptr && impl_->current->interrupted; }

void Loop::ClearInterrupt() {
  if (impl_->current != nullptr) impl_->current->interrupted = false;
}

Fiber* Loop::CurrentFiber() const { return impl_->current; }

void Loop::SetHooks(Fiber* fiber, FiberHooks hooks) { fiber->hooks = std::move(hooks); }

std::uintptr_t Loop::CurrentStackLimit() const {
  return impl_->current != nullptr ? impl_->current->stack_limit : 0;
}

std::uint64_t Loop::AddTimer(Clock::time_point when, std::function<void()> fn) {
  return impl_->AddTimer(when, std::move(fn));
}

void Loop::CancelTimer(std::uint64_t id) { impl_->CancelTimer(id); }

std::size_t Loop::FiberCount() const { return impl_->fiber_count; }

}  // namespace volley::loop
