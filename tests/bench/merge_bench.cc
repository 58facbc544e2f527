// merge_bench: how many agent batches per second the controller's merge stage (one thread,
// metrics::Store::Merge, as controller/run.cc calls it per batch) combines, at 2,000 series per
// batch. The batches look like a real agent's one-second batch: 200 tag sets (100 URLs x 2
// status codes) x 10 HTTP metrics, seven of them trends with histograms of ~20 samples each,
// plus counters and a rate. Batches are built up front (as gRPC's reader threads would hand
// them over, already parsed), from 16 "agents", and merged round-robin.
//
//   merge_bench [--seconds 3] [--max-batches 200000]
//
// It stops at whichever limit comes first and prints one line:
//   merge: N batches/s (S series/s) at 2000 series per batch, 1 thread, B bytes per batch
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "common/metrics/aggregator.h"
#include "common/metrics/registry.h"
#include "common/metrics/store.h"

namespace {

using namespace volley::metrics;

constexpr int kUrls = 100;
constexpr int kStatuses = 2;
constexpr int kAgents = 16;
constexpr int kSamplesPerSeries = 20;

// One agent's one-second batch: every (metric, tag set) series gets samples.
volley::v1::MetricBatch MakeBatch(const Registry& registry, int agent, std::int64_t start_ns) {
  Aggregator agg(&registry);
  agg.set_interval_start(start_ns);
  std::mt19937 rng(static_cast<unsigned>(agent) * 7919u + 1u);
  std::lognormal_distribution<double> latency(3.5, 0.7);
  const MetricId trends[] = {builtin::kHttpReqDuration,  builtin::kHttpReqBlocked,
                             builtin::kHttpReqConnecting, builtin::kHttpReqTlsHandshaking,
                             builtin::kHttpReqSending,   builtin::kHttpReqWaiting,
                             builtin::kHttpReqReceiving};
  for (int url = 0; url < kUrls; ++url) {
    for (int s = 0; s < kStatuses; ++s) {
      std::string status = s == 0 ? "200" : "404";
      TagSetId tags = agg.Intern({{"name", "http://svc.example/api/item/" + std::to_string(url)},
                                  {"method", "GET"},
                                  {"status", status},
                                  {"expected_response", s == 0 ? "true" : "false"},
                                  {"scenario", "default"},
                                  {"group", ""},
                                  {"proto", "HTTP/1.1"}});
      for (int i = 0; i < kSamplesPerSeries; ++i) {
        for (MetricId m : trends) agg.Add(m, tags, latency(rng));
        agg.Add(builtin::kHttpReqs, tags, 1);
        agg.Add(builtin::kHttpReqFailed, tags, s == 0 ? 0 : 1);
        agg.Add(builtin::kDataReceived, tags, 512 + url);
      }
    }
  }
  volley::v1::MetricBatch batch;
  agg.TakeBatch(start_ns + 1'000'000'000, &batch);
  return batch;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  long max_batches = 200000;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0) seconds = std::atof(argv[i + 1]);
    if (std::strcmp(argv[i], "--max-batches") == 0) max_batches = std::atol(argv[i + 1]);
  }

  Registry registry;
  std::vector<volley::v1::MetricBatch> batches;
  for (int a = 0; a < kAgents; ++a) batches.push_back(MakeBatch(registry, a, 1'000'000'000));
  std::size_t series = static_cast<std::size_t>(batches[0].series_size());
  std::size_t bytes = batches[0].ByteSizeLong();

  Store store;
  auto start = std::chrono::steady_clock::now();
  auto deadline = start + std::chrono::duration<double>(seconds);
  long merged = 0;
  while (merged < max_batches) {
    if (!store.Merge(batches[merged % kAgents]).ok()) {
      std::fprintf(stderr, "merge_bench: Store::Merge refused a batch\n");
      return 1;
    }
    ++merged;
    if (merged % 16 == 0 && std::chrono::steady_clock::now() >= deadline) break;
  }
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  // The merged totals must be the sum of what went in: a benchmark of a broken merge is no use.
  auto reqs = store.Totals("http_reqs");
  double want = static_cast<double>(merged) * kUrls * kStatuses * kSamplesPerSeries;
  if (!reqs || reqs->sum != want) {
    std::fprintf(stderr, "merge_bench: http_reqs %.0f, expected %.0f\n", reqs ? reqs->sum : -1,
                 want);
    return 1;
  }
  double per_s = merged / elapsed;
  std::printf("merge: %.0f batches/s (%.0f series/s) at %zu series per batch, 1 thread, "
              "%zu bytes per batch, %ld batches in %.2f s\n",
              per_s, per_s * static_cast<double>(series), series, bytes, merged, elapsed);
  return 0;
}
