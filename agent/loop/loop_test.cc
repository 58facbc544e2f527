#include "agent/loop/loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/context/fiber.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace volley::loop {
namespace {

using std::chrono::milliseconds;

TEST(Loop, RunUntilIdleReturnsAtOnceWithNothingToDo) {
  Loop loop;
  auto start = Clock::now();
  loop.Run(/*until_idle=*/true);
  EXPECT_LT(Clock::now() - start, milliseconds(100));
}

TEST(Loop, SpawnedFiberRunsAndIsDestroyedWhenDone) {
  Loop loop;
  bool ran = false;
  Fiber* seen = nullptr;
  Fiber* spawned = loop.Spawn([&] {
    ran = true;
    seen = loop.CurrentFiber();
  });
  EXPECT_EQ(loop.FiberCount(), 1u);
  EXPECT_FALSE(ran);  // first runs at the next turn
  loop.Run(true);
  EXPECT_TRUE(ran);
  EXPECT_EQ(seen, spawned);
  EXPECT_EQ(loop.FiberCount(), 0u);
  EXPECT_EQ(loop.CurrentFiber(), nullptr);
}

TEST(Loop, CurrentIsSetOnlyWhileRunning) {
  Loop loop;
  Loop* inside = nullptr;
  loop.Spawn([&] { inside = Loop::Current(); });
  EXPECT_EQ(Loop::Current(), nullptr);
  loop.Run(true);
  EXPECT_EQ(inside, &loop);
  EXPECT_EQ(Loop::Current(), nullptr);
}

TEST(Loop, YieldInterleavesFibersRoundRobin) {
  Loop loop;
  std::string trace;
  for (char name : {'a', 'b', 'c'}) {
    loop.Spawn([&, name] {
      for (int i = 0; i < 3; ++i) {
        trace += name;
        loop.Yield();
      }
    });
  }
  loop.Run(true);
  // Spawn order is LIFO-free: fibers run in the order they became ready.
  EXPECT_EQ(trace, "abcabcabc");
}

TEST(Loop, ManySleepingFibersWakeInDeadlineOrder) {
  Loop loop;
  constexpr int kFibers = 200;
  std::vector<int> wake_order;
  std::atomic<int> done{0};
  for (int i = 0; i < kFibers; ++i) {
    // Deadlines 2 ms apart, spawned in reverse so that spawn order differs from wake order.
    int slot = kFibers - 1 - i;
    loop.Spawn([&, slot] {
      loop.Sleep(milliseconds(2 * (slot % 20)));
      loop.Sleep(milliseconds(1));
      wake_order.push_back(slot % 20);
      done++;
    });
  }
  auto start = Clock::now();
  loop.Run(true);
  auto elapsed = Clock::now() - start;
  EXPECT_EQ(done.load(), kFibers);
  ASSERT_EQ(wake_order.size(), static_cast<std::size_t>(kFibers));
  EXPECT_TRUE(std::is_sorted(wake_order.begin(), wake_order.end()));
  // Sleeping fibers overlap: about 40 ms in all, not the sum of the sleeps.
  EXPECT_GE(elapsed, milliseconds(39));
  EXPECT_LT(elapsed, milliseconds(1000));
}

TEST(Loop, SleepLastsAtLeastItsDuration) {
  Loop loop;
  Clock::duration slept{};
  loop.Spawn([&] {
    auto start = Clock::now();
    loop.Sleep(milliseconds(30));
    slept = Clock::now() - start;
  });
  loop.Run(true);
  EXPECT_GE(slept, milliseconds(30));
  EXPECT_LT(slept, milliseconds(500));
}

TEST(Loop, TimersFireInOrderAndCancelledOnesDoNot) {
  Loop loop;
  std::vector<int> fired;
  auto now = Clock::now();
  loop.AddTimer(now + milliseconds(20), [&] { fired.push_back(3); });
  loop.AddTimer(now + milliseconds(5), [&] { fired.push_back(1); });
  std::uint64_t cancelled = loop.AddTimer(now + milliseconds(10), [&] { fired.push_back(99); });
  loop.AddTimer(now + milliseconds(15), [&] {
    fired.push_back(2);
    // A timer may schedule another one.
    loop.AddTimer(Clock::now() + milliseconds(10), [&] { fired.push_back(4); });
  });
  loop.CancelTimer(cancelled);
  loop.Run(true);
  EXPECT_EQ(fired, (std::vector<int>{1, 2, 3, 4}));
}

TEST(Loop, PostFromAnotherThreadRunsOnLoopThreadAndStopEndsRun) {
  Loop loop;
  std::thread::id loop_thread = std::this_thread::get_id();
  std::thread::id ran_on;
  std::atomic<int> posted{0};
  std::thread other([&] {
    std::this_thread::sleep_for(milliseconds(20));
    for (int i = 0; i < 100; ++i) loop.Post([&] { posted++; });
    loop.Post([&] {
      ran_on = std::this_thread::get_id();
      loop.Stop();
    });
  });
  loop.Run(/*until_idle=*/false);  // would block forever without the posts
  other.join();
  EXPECT_EQ(posted.load(), 100);
  EXPECT_EQ(ran_on, loop_thread);
}

TEST(Loop, PostedWorkCanSpawnFibers) {
  Loop loop;
  bool ran = false;
  std::thread other([&] {
    loop.Post([&] {
      loop.Spawn([&] {
        loop.Sleep(milliseconds(1));
        ran = true;
        loop.Stop();
      });
    });
  });
  loop.Run(false);
  other.join();
  EXPECT_TRUE(ran);
}

TEST(Loop, ParkBlocksUntilUnpark) {
  Loop loop;
  std::string trace;
  Fiber* parked = loop.Spawn([&] {
    trace += "park ";
    loop.Park();
    trace += "resumed ";
  });
  loop.Spawn([&] {
    loop.Sleep(milliseconds(5));
    trace += "unpark ";
    loop.Unpark(parked);
  });
  loop.Run(true);
  EXPECT_EQ(trace, "park unpark resumed ");
}

TEST(Loop, UnparkBeforeParkIsRemembered) {
  Loop loop;
  bool finished = false;
  loop.Spawn([&] {
    loop.Unpark(loop.CurrentFiber());
    loop.Park();  // returns at once
    finished = true;
  });
  loop.Run(true);
  EXPECT_TRUE(finished);
}

TEST(Loop, HooksRunAroundEverySwitch) {
  Loop loop;
  std::string trace;
  loop.Spawn([&] {
    loop.SetHooks(loop.CurrentFiber(),
                  {.on_suspend = [&] { trace += "S"; }, .on_resume = [&] { trace += "R"; }});
    trace += "1";
    loop.Yield();
    trace += "2";
    loop.Sleep(milliseconds(1));
    trace += "3";
  });
  loop.Run(true);
  EXPECT_EQ(trace, "1SR2SR3");
}

TEST(Loop, StackLimitLiesInsideTheFibersOwnStack) {
  Loop loop;
  constexpr std::size_t kStack = 256 * 1024;
  std::uintptr_t limit = 0, local = 0;
  loop.Spawn(
      [&] {
        int on_stack = 0;
        local = reinterpret_cast<std::uintptr_t>(&on_stack);
        limit = loop.CurrentStackLimit();
      },
      {.stack_bytes = kStack});
  EXPECT_EQ(loop.CurrentStackLimit(), 0u);
  loop.Run(true);
  EXPECT_GT(local, limit);
  EXPECT_LT(local - limit, kStack + 4096);
}

TEST(Loop, DeepRecursionUsesTheRequestedStack) {
  Loop loop;
  int depth_reached = 0;
  loop.Spawn(
      [&] {
        // About 2 MB of frames: fits the 4 MB stack asked for, not the 1 MB default.
        std::function<int(int)> recurse = [&](int depth) -> int {
          volatile char pad[1024];
          pad[0] = static_cast<char>(depth);
          depth_reached = depth;
          return depth == 0 ? pad[0] : recurse(depth - 1) + pad[0];
        };
        recurse(2000);
      },
      {.stack_bytes = 4 * 1024 * 1024});
  loop.Run(true);
  EXPECT_EQ(depth_reached, 0);
}

TEST(LoopDeathTest, StackOverflowHitsTheGuardPage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Loop loop;
        loop.Spawn(
            [&] {
              std::function<int(int)> recurse = [&](int depth) -> int {
                volatile char pad[1024];
                pad[0] = static_cast<char>(depth);
                return recurse(depth + 1) + pad[0];
              };
              recurse(0);
            },
            {.stack_bytes = 64 * 1024});
        loop.Run(true);
      },
      "");
}

TEST(LoopDeathTest, ExceptionEscapingAFiberCrashesLoudly) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Loop loop;
        loop.Spawn([] { throw std::runtime_error("boom in fiber"); });
        loop.Run(true);
      },
      "boom in fiber");
}

TEST(LoopDeathTest, FiberOnlyCallOutsideAFiberCrashes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Loop loop;
        loop.Sleep(milliseconds(1));
      },
      "outside a fiber");
}

struct SetOnDestroy {
  bool* flag;
  ~SetOnDestroy() { *flag = true; }
};

TEST(Loop, StopDestroysParkedFibersByUnwindingTheirStacks) {
  Loop loop;
  bool unwound = false;
  bool after_park = false;
  loop.Spawn([&] {
    SetOnDestroy guard{&unwound};
    loop.Park();  // never unparked
    after_park = true;
  });
  loop.Spawn([&] {
    loop.Sleep(milliseconds(5));
    loop.Stop();
  });
  loop.Run(false);
  EXPECT_TRUE(unwound);
  EXPECT_FALSE(after_park);
  EXPECT_EQ(loop.FiberCount(), 0u);
}

TEST(Loop, AbandonedFibersAreReleasedWithoutRunningTheirStack) {
  Loop loop;
  bool unwound = false;
  loop.Spawn(
      [&] {
        SetOnDestroy guard{&unwound};
        loop.Park();
      },
      {.unwind_on_destroy = false});
  loop.Spawn([&] { loop.Stop(); });
  loop.Run(false);
  EXPECT_FALSE(unwound);
  EXPECT_EQ(loop.FiberCount(), 0u);
}

TEST(Loop, DestroyingLoopDestroysFibersThatNeverRan) {
  bool unwound = false;
  {
    Loop loop;
    loop.Spawn([&] {
      SetOnDestroy guard{&unwound};
      loop.Park();
    });
  }
  EXPECT_FALSE(unwound);  // never started: nothing on its stack to unwind
}

TEST(Loop, InterruptWakesSleepingAndParkedFibers) {
  Loop loop;
  Clock::duration slept{};
  bool park_returned = false;
  bool saw_interrupt = false;
  Fiber* sleeper = loop.Spawn([&] {
    auto start = Clock::now();
    loop.Sleep(std::chrono::seconds(10));
    slept = Clock::now() - start;
    saw_interrupt = loop.Interrupted();
    loop.ClearInterrupt();
  });
  Fiber* parker = loop.Spawn([&] {
    loop.Park();
    park_returned = true;
  });
  loop.Spawn([&] {
    loop.Sleep(milliseconds(10));
    loop.Interrupt(sleeper);
    loop.Interrupt(parker);
  });
  loop.Run(true);
  EXPECT_LT(slept, std::chrono::seconds(2));
  EXPECT_TRUE(saw_interrupt);
  EXPECT_TRUE(park_returned);
}

TEST(Loop, FibersCanSpawnFibers) {
  Loop loop;
  int count = 0;
  std::function<void(int)> spawn_tree = [&](int depth) {
    count++;
    if (depth == 0) return;
    for (int i = 0; i < 2; ++i) {
      loop.Spawn([&, depth] {
        loop.Yield();
        spawn_tree(depth - 1);
      });
    }
  };
  loop.Spawn([&] { spawn_tree(6); });
  loop.Run(true);
  EXPECT_EQ(count, 127);
  EXPECT_EQ(loop.FiberCount(), 0u);
}

}  // namespace
}  // namespace volley::loop
