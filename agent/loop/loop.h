// The per-worker event loop: one OS thread, one epoll set, one libcurl multi handle, timers, and
// the fibers (one per VU) that run on it. Everything here is single-threaded and owned by the
// worker thread, except Post() and Stop(), which any thread may call.
//
// Calls that yield the current fiber (may only be made from a fiber of this loop): Sleep(),
// Yield(), Park(), and HttpClient::Do()/DoBatch(). Code that holds a V8 isolate must exit it
// before any of them and re-enter after (see FiberHooks).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace volley::loop {

using Clock = std::chrono::steady_clock;

class Fiber;

// Called around every switch of one fiber: on_suspend right before it yields, on_resume right
// after it is resumed. A VU uses them to Exit/Enter its isolate.
struct FiberHooks {
  std::function<void()> on_suspend;
  std::function<void()> on_resume;
};

struct FiberOptions {
  std::size_t stack_bytes = 1024 * 1024;  // usable stack; a guard page is added below it
  // What happens to a fiber that is still suspended when the loop destroys it (end of Run, or
  // ~Loop). true: its stack is unwound (C++ destructors on it run, through a
  // boost::context::detail::forced_unwind exception that must not be swallowed). false: its stack
  // is released without running anything on it; use this when the stack may hold frames that an
  // exception cannot cross (V8 JavaScript frames), and free the fiber's resources elsewhere.
  bool unwind_on_destroy = true;
};

class Loop {
 public:
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // The loop running on the calling thread, or nullptr outside any loop.
  static Loop* Current();

  // Starts a fiber running `body`. Callable from the loop thread (inside or outside a fiber).
  // The fiber first runs at the next turn of the loop.
  Fiber* Spawn(std::function<void()> body, FiberOptions options = {});

  // Runs the loop on the calling thread until Stop() is called or, if `until_idle`, until no
  // fiber is left. Fibers still alive when Run returns are destroyed without being resumed.
  void Run(bool until_idle = false);

  // Thread-safe: runs `fn` on the loop thread at its next turn (outside any fiber).
  void Post(std::function<void()> fn);
  // Thread-safe: makes Run() return after the current turn.
  void Stop();

  // ---- fiber-only calls (they yield) ----
  void Sleep(Clock::duration d);
  void SleepUntil(Clock::time_point t);
  void Yield();
  // Parks the current fiber until Unpark(fiber) is called (from the loop thread). An Unpark that
  // arrives while the fiber is not parked is remembered: the next Park returns at once. Park
  // also returns early when the fiber is interrupted (see Interrupt), so callers recheck their
  // condition.
  void Park();
  void Unpark(Fiber* fiber);

  // Asks a fiber to stop what it waits for (k6 interrupting an iteration at the end of
  // gracefulStop): a pending or later Sleep/Park returns at once, and HttpClient::Do/DoBatch
  // abort their transfers and return error responses. The flag stays set until
  // ClearInterrupt. Loop thread only.
  void Interrupt(Fiber* fiber);
  bool Interrupted() const;  // of the current fiber; false outside fibers
  void ClearInterrupt();     // of the current fiber

  Fiber* CurrentFiber() const;  // nullptr when not on a fiber
  void SetHooks(Fiber* fiber, FiberHooks hooks);
  // Lowest usable address of the current fiber's stack (for v8::Isolate::SetStackLimit), 0 when
  // not on a fiber.
  std::uintptr_t CurrentStackLimit() const;

  // Timers (loop thread, outside or inside fibers). The callback runs on the loop thread,
  // outside any fiber. Returns an id for CancelTimer.
  std::uint64_t AddTimer(Clock::time_point when, std::function<void()> fn);
  void CancelTimer(std::uint64_t id);

  Clock::time_point Now() const { return Clock::now(); }
  std::size_t FiberCount() const;

  // Internal: the multi handle and epoll set, for HttpClient.
  struct Impl;
  Impl* impl() { return impl_.get(); }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace volley::loop
