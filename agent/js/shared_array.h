// The data behind k6/data's SharedArray: one copy per test context (an agent's share of a test),
// read by every VU on every worker. The first VU that constructs a SharedArray of a name runs
// its function; the others wait for that result instead of running it again, as k6 promises.
// Elements are kept as JSON text and parsed when a VU reads one. Any thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace volley::js {

struct SharedArrayData {
  std::vector<std::string> elements;  // JSON text of each element
};

class SharedArrayStore {
 public:
  using Make = std::function<std::optional<SharedArrayData>()>;

  // The data named `name`; runs `make` when no VU has made it yet. A caller on another thread
  // waits while one is making it; one on the maker's own thread (a fiber) makes its own copy
  // rather than block the thread the maker runs on. nullptr when `make` failed (it left its
  // error with the caller); the next caller tries again.
  std::shared_ptr<const SharedArrayData> GetOrMake(const std::string& name, const Make& make) {
    std::unique_lock<std::mutex> lock(mu_);
    while (true) {
      Entry& entry = entries_[name];
      if (entry.data) return entry.data;
      if (!entry.maker || *entry.maker == std::this_thread::get_id()) break;
      cv_.wait(lock);
    }
    entries_[name].maker = std::this_thread::get_id();
    lock.unlock();

    std::optional<SharedArrayData> made = make();

    lock.lock();
    Entry& entry = entries_[name];
    entry.maker.reset();
    if (made && !entry.data) {
      entry.data = std::make_shared<const SharedArrayData>(*std::move(made));
    }
    cv_.notify_all();
    return made ? entry.data : nullptr;
  }

 private:
  struct Entry {
    std::shared_ptr<const SharedArrayData> data;
    std::optional<std::thread::id> maker;  // a VU on this thread is running the function
  };
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry> entries_;
};

}  // namespace volley::js
