// A worker thread of an agent: one Loop (fibers, epoll, curl multi) and one metrics Aggregator,
// both owned by the thread. Other threads talk to it only through Post(); the VUs it hosts are
// created, run and destroyed on it. Partition, don't share: no locks on the request path.
#pragma once

#include <functional>
#include <memory>
#include <thread>

#include "agent/loop/loop.h"
#include "common/metrics/aggregator.h"
#include "common/metrics/registry.h"

namespace volley::agent {

class Worker {
 public:
  Worker(int index, const metrics::Registry* registry);
  ~Worker();  // stops and joins the thread
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  int index() const { return index_; }
  // Thread-safe: runs `fn` on the worker thread, outside any fiber.
  void Post(std::function<void()> fn) { loop_.Post(std::move(fn)); }
  // Thread-safe: runs `fn` on a new fiber of the worker thread.
  void PostFiber(std::function<void()> fn);

  // Worker-thread only.
  loop::Loop* loop() { return &loop_; }
  metrics::Aggregator* aggregator() { return &aggregator_; }

 private:
  int index_;
  loop::Loop loop_;
  metrics::Aggregator aggregator_;
  std::thread thread_;
};

}  // namespace volley::agent
