// k6 execution segments: exact rational slices of a test ("1/3:2/3"), sequences of them that
// cover [0,1] ("0,1/3,2/3,1"), and the striping that lets every agent compute its own share of
// VUs, iterations and arrival-rate iterations without talking to the others, such that the shares
// of all segments add up exactly to the whole. Immutable values; any thread.
//
// Example: 10 VUs over "0,1/3,2/3,1" scale to 4, 3, 3; the global iterations 0,1,2,3,... are
// dealt out so that each segment gets its proportion of every window of LCD consecutive ones.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace volley {

// An exact fraction num/den in lowest terms, den > 0.
class Rational {
 public:
  Rational() = default;
  Rational(std::int64_t num, std::int64_t den);  // den != 0; normalised

  std::int64_t num() const { return num_; }
  std::int64_t den() const { return den_; }
  double ToDouble() const { return static_cast<double>(num_) / static_cast<double>(den_); }
  // "1/3", or "2" for whole numbers (as k6 prints segments).
  std::string ToString() const;

  friend Rational operator+(const Rational& a, const Rational& b);
  friend Rational operator-(const Rational& a, const Rational& b);
  friend bool operator==(const Rational& a, const Rational& b) {
    return a.num_ == b.num_ && a.den_ == b.den_;
  }
  friend bool operator<(const Rational& a, const Rational& b);
  friend bool operator<=(const Rational& a, const Rational& b) { return !(b < a); }

 private:
  std::int64_t num_ = 0;
  std::int64_t den_ = 1;
};

// Reads "1/3", "0.25", "25%" or "1".
absl::StatusOr<Rational> ParseRational(std::string_view text);

// The slice (from, to] of a test, 0 <= from < to <= 1.
struct ExecutionSegment {
  Rational from{0, 1};
  Rational to{1, 1};

  Rational Length() const { return to - from; }
  std::string ToString() const;  // "1/3:2/3", "0:1"
  friend bool operator==(const ExecutionSegment& a, const ExecutionSegment& b) {
    return a.from == b.from && a.to == b.to;
  }
};

// Checks 0 <= from < to <= 1.
absl::StatusOr<ExecutionSegment> MakeExecutionSegment(Rational from, Rational to);

// Reads k6's forms: "1/3:2/3", "25%:50%", "0.5:1", or a bare end "1/4" meaning "0:1/4"; an
// empty string is the whole test "0:1".
absl::StatusOr<ExecutionSegment> ParseExecutionSegment(std::string_view text);

// Consecutive segments without gaps; not necessarily starting at 0 or ending at 1.
class ExecutionSegmentSequence {
 public:
  ExecutionSegmentSequence() = default;  // empty: "no sequence", the whole test in one piece

  // Fails when one segment does not start where the previous one ends.
  static absl::StatusOr<ExecutionSegmentSequence> Make(std::vector<ExecutionSegment> segments);
  // Reads "0,1/3,2/3,1" (at least two points); "" is the empty sequence.
  static absl::StatusOr<ExecutionSegmentSequence> Parse(std::string_view text);
  // n equal segments over [0,1]; n >= 1.
  static ExecutionSegmentSequence Even(int n);
  // One segment per weight, each as long as its share of the total (e.g. agents' core counts).
  // Weights must be positive.
  static absl::StatusOr<ExecutionSegmentSequence> Weighted(
      const std::vector<std::int64_t>& weights);

  const std::vector<ExecutionSegment>& segments() const { return segments_; }
  bool empty() const { return segments_.empty(); }
  bool IsFull() const;           // starts at 0 and ends at 1
  std::string ToString() const;  // "0,1/3,2/3,1"

 private:
  std::vector<ExecutionSegment> segments_;
};

// One segment within its (gap-filled) sequence: what an agent needs to compute its share.
// Copies are cheap; the striping tables are shared.
class ExecutionTuple {
 public:
  // The whole test in one piece ("0:1" in "0,1").
  ExecutionTuple();

  // `sequence` may be empty (then the segment stands alone); gaps before its first and after
  // its last segment are filled as k6 does. Fails when `segment` is not in the sequence or the
  // sequence's common denominator is beyond kMaxLcd.
  static absl::StatusOr<ExecutionTuple> Create(const ExecutionSegment& segment,
                                               const ExecutionSegmentSequence& sequence);
  static absl::StatusOr<ExecutionTuple> Parse(std::string_view segment, std::string_view sequence);

  static constexpr std::int64_t kMaxLcd = 10'000'000;

  const ExecutionSegment& segment() const;
  const ExecutionSegmentSequence& sequence() const;  // filled: starts at 0, ends at 1
  int index() const { return index_; }
  std::string ToString() const;  // "1/3:2/3 in 0,1/3,2/3,1"

  // This segment's part of `value` (>= 0). The parts of all segments of the sequence add up to
  // `value` exactly, and grow monotonically with it.
  std::int64_t ScaleInt64(std::int64_t value) const;

  // The striping: of every lcd() consecutive global indexes, the ones at positions()
  // (ascending, within [0, lcd)) belong to this segment.
  std::int64_t lcd() const;
  const std::vector<std::int64_t>& positions() const;
  // The global index of this segment's local-th element (0-based both), and the reverse test.
  std::int64_t GlobalIndex(std::int64_t local) const;
  bool Owns(std::int64_t global) const;

  // k6's re-striping by a value (GetNewExecutionTupleFromValue): the sequence rebuilt so that
  // each segment's length is its ScaleInt64(value)/value, dropping segments that get nothing.
  // Used so iterations follow the VUs (shared-iterations, arrival-rate). NotFound when this
  // segment gets no part of `value`; InvalidArgument when value < 1.
  absl::StatusOr<ExecutionTuple> ForValue(std::int64_t value) const;

 private:
  struct Stripes;
  ExecutionTuple(std::shared_ptr<const Stripes> stripes, int index);
  static absl::StatusOr<std::shared_ptr<const Stripes>> BuildStripes(
      ExecutionSegmentSequence sequence);

  std::shared_ptr<const Stripes> stripes_;
  int index_ = 0;
};

// Walks one segment's elements in order, with k6's 1-based counters: after Next(), `scaled` is
// how many elements of this segment were seen and `unscaled` is the 1-based global number of the
// last one. Use it to number iterations (iterationInInstance = scaled-1, iterationInTest =
// unscaled-1) and VUs. Not thread-safe.
class SegmentedIndex {
 public:
  struct Value {
    std::int64_t scaled = 0;
    std::int64_t unscaled = 0;
  };

  explicit SegmentedIndex(ExecutionTuple tuple) : tuple_(std::move(tuple)) {}

  Value Next();
  Value Prev();  // undefined when scaled == 0
  // Jumps to the largest scaled count whose unscaled number is <= value.
  Value GoTo(std::int64_t value);
  Value current() const { return value_; }

 private:
  Value At(std::int64_t scaled) const;

  ExecutionTuple tuple_;
  Value value_;
};

}  // namespace volley
