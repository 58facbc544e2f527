#include "agent/worker.h"

namespace volley::agent {

Worker::Worker(int index, const metrics::Registry* registry)
    : index_(index), aggregator_(registry), thread_([this] { loop_.Run(/*until_idle=*/false); }) {}

Worker::~Worker() {
  loop_.Stop();
  if (thread_.joinable()) thread_.join();
}

void Worker::PostFiber(std::function<void()> fn) {
  // VU fibers may hold V8 frames, which must never be unwound by an exception.
  loop_.Post([this, fn = std::move(fn)]() mutable {
    loop::FiberOptions options;
    options.unwind_on_destroy = false;
    loop_.Spawn(std::move(fn), options);
  });
}

}  // namespace volley::agent
