// A mergeable log-bucketed histogram for trend metrics (DDSketch-style: bucket i holds values in
// (gamma^(i-1), gamma^i], so any quantile is within about 1% of a true sample value). Exact count,
// sum, min and max are kept beside the buckets. Not thread-safe: one owner (a worker's Aggregator
// or the controller's Store) uses it at a time.
//
// Merging adds counts per bucket index, so a quantile of merged histograms does not depend on how
// the samples were split before merging. Memory is bounded: indexes are capped to the range of
// |v| in [kMinIndexableValue, kMaxIndexableValue] (a few thousand buckets at most per sign) and
// only the span between the lowest and highest index seen is allocated.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "volley.pb.h"

namespace volley::metrics {

class Histogram {
 public:
  // Relative accuracy of bucket representatives: |rep - v| <= kRelativeAccuracy * |v|.
  static constexpr double kRelativeAccuracy = 0.01;
  // |v| below this goes to the zero bucket; above kMaxIndexableValue to the highest bucket.
  static constexpr double kMinIndexableValue = 1e-9;
  static constexpr double kMaxIndexableValue = 1e18;

  Histogram() = default;

  // Adds one sample. NaN is ignored. Hot path: no allocation unless the bucket span grows.
  void Add(double value) {
    if (value != value) return;  // NaN
    if (value > kMinIndexableValue) {
      positive_.Add(Index(value), 1);
    } else if (value < -kMinIndexableValue) {
      negative_.Add(Index(-value), 1);
    } else {
      ++zero_count_;
    }
    if (count_ == 0) {
      min_ = max_ = value;
    } else {
      if (value < min_) min_ = value;
      if (value > max_) max_ = value;
    }
    ++count_;
    sum_ += value;
  }

  void Merge(const Histogram& other);

  // Adds the buckets of `buckets` and the summary stats carried beside it (in a Series). The
  // sample count is the total of the bucket counts. InvalidArgument (and no change) when the
  // proto is malformed: mismatched lengths, indexes out of range or not ascending.
  absl::Status MergeFrom(const volley::v1::Histogram& buckets, double sum, double min, double max);
  // Writes the non-empty buckets, ascending by index. Count/sum/min/max are not part of it.
  void ToProto(volley::v1::Histogram* out) const;

  // The value at quantile q in [0, 1], defined as k6 defines p(100*q): linear interpolation
  // between the samples of rank floor(q*(n-1)) and ceil(q*(n-1)) of the sorted samples. Each
  // rank's value is its bucket's representative; ranks 0 and n-1 are the exact min and max, and
  // the result is clamped to [min, max]. 0 when empty.
  double Quantile(double q) const;

  std::uint64_t count() const { return count_; }
  double sum() const { return sum_; }
  double min() const { return count_ ? min_ : 0; }
  double max() const { return count_ ? max_ : 0; }
  double Avg() const { return count_ ? sum_ / static_cast<double>(count_) : 0; }
  bool empty() const { return count_ == 0; }

  // Empties the histogram but keeps its allocated bucket span (reused in the next interval).
  void Reset();
  // Bytes held by bucket storage (for tests of the memory bound).
  std::size_t AllocatedBytes() const;

  // ln(gamma) with gamma = (1 + a) / (1 - a), a = kRelativeAccuracy; and the index bounds of
  // kMinIndexableValue and kMaxIndexableValue (a test checks them against the formulas).
  static constexpr double kLogGamma = 0.020000666706669435;
  static constexpr double kInvLogGamma = 1.0 / kLogGamma;
  static constexpr int kMinIndex = -1036;
  static constexpr int kMaxIndex = 2073;

  // The bucket index of a positive value: ceil(log_gamma(v)), capped to [kMinIndex, kMaxIndex].
  static int Index(double positive_value) {
    if (positive_value >= kMaxIndexableValue) return kMaxIndex;
    // ceil() without a libm call: truncate, then step up when that went below.
    double x = std::log(positive_value) * kInvLogGamma;
    int i = static_cast<int>(x);
    if (i < x) ++i;
    return i < kMinIndex ? kMinIndex : i;
  }
  // The value reported for bucket `index`: within kRelativeAccuracy of every value it holds.
  static double Representative(int index);

 private:
  // Counts for a contiguous span of bucket indexes [offset_, offset_ + counts_.size()).
  class Store {
   public:
    void Add(int index, std::uint64_t n) {
      auto i = static_cast<std::size_t>(static_cast<std::int64_t>(index) - offset_);
      if (i < counts_.size()) {
        counts_[i] += n;
      } else {
        GrowAndAdd(index, n);
      }
      total_ += n;
    }
    std::uint64_t total() const { return total_; }
    int offset() const { return offset_; }
    const std::vector<std::uint64_t>& counts() const { return counts_; }
    void Merge(const Store& other);
    void Reset();

   private:
    void GrowAndAdd(int index, std::uint64_t n);

    std::vector<std::uint64_t> counts_;
    int offset_ = 0;
    std::uint64_t total_ = 0;
  };

  double ValueAtRank(std::uint64_t rank) const;

  Store positive_;
  Store negative_;  // indexed by |v|
  std::uint64_t zero_count_ = 0;
  std::uint64_t count_ = 0;
  double sum_ = 0;
  double min_ = 0;
  double max_ = 0;
};

// Adds `from`'s buckets to `into` (sparse sorted merge); InvalidArgument when either is malformed.
absl::Status MergeHistogramProto(const volley::v1::Histogram& from, volley::v1::Histogram* into);

}  // namespace volley::metrics
