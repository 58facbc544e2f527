#include "common/metrics/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <vector>

namespace volley::metrics {
namespace {

// k6's p(N): linear interpolation between the closest ranks of the sorted samples.
double ExactPercentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  if (v.size() == 1) return v[0];
  double i = q * (static_cast<double>(v.size()) - 1);
  double lo = v[static_cast<std::size_t>(std::floor(i))];
  double hi = v[static_cast<std::size_t>(std::ceil(i))];
  return lo + (hi - lo) * (i - std::floor(i));
}

double ThreadCpuNanos() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

std::vector<double> LatencyLikeSamples(std::size_t n, std::uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::lognormal_distribution<double> dist(std::log(120.0), 0.6);
  std::vector<double> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

TEST(Histogram, IndexBoundsMatchTheirDefinition) {
  double gamma = (1 + Histogram::kRelativeAccuracy) / (1 - Histogram::kRelativeAccuracy);
  EXPECT_DOUBLE_EQ(Histogram::kLogGamma, std::log(gamma));
  EXPECT_EQ(
      Histogram::kMinIndex,
      static_cast<int>(std::ceil(std::log(Histogram::kMinIndexableValue) / Histogram::kLogGamma)));
  EXPECT_EQ(
      Histogram::kMaxIndex,
      static_cast<int>(std::ceil(std::log(Histogram::kMaxIndexableValue) / Histogram::kLogGamma)));
}

TEST(Histogram, RepresentativeIsWithinRelativeAccuracyOfBucketValues) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> exponent(-8, 17);
  for (int i = 0; i < 100000; ++i) {
    double v = std::pow(10.0, exponent(rng));
    double rep = Histogram::Representative(Histogram::Index(v));
    ASSERT_LE(std::abs(rep - v), v * Histogram::kRelativeAccuracy * (1 + 1e-9)) << v;
  }
}

TEST(Histogram, KeepsExactCountSumMinMax) {
  Histogram h;
  for (double v : {3.0, -2.0, 0.0, 10.5, 7.25}) h.Add(v);
  EXPECT_EQ(h.count(), 5u);
  EXPECT_DOUBLE_EQ(h.sum(), 18.75);
  EXPECT_DOUBLE_EQ(h.min(), -2.0);
  EXPECT_DOUBLE_EQ(h.max(), 10.5);
  EXPECT_DOUBLE_EQ(h.Avg(), 3.75);
}

TEST(Histogram, QuantileIsZeroWhenEmptyAndTheSampleWhenSingle) {
  Histogram h;
  EXPECT_EQ(h.Quantile(0.5), 0);
  h.Add(42.123);
  EXPECT_EQ(h.Quantile(0.0), 42.123);
  EXPECT_EQ(h.Quantile(0.95), 42.123);
}

TEST(Histogram, QuantileEndsAreExactMinAndMax) {
  Histogram h;
  for (double v : LatencyLikeSamples(1000, 1)) h.Add(v);
  EXPECT_EQ(h.Quantile(0), h.min());
  EXPECT_EQ(h.Quantile(1), h.max());
}

TEST(Histogram, QuantileApproximatesK6PercentileWithinOnePercent) {
  auto samples = LatencyLikeSamples(20000, 2);
  Histogram h;
  for (double v : samples) h.Add(v);
  for (double q : {0.01, 0.1, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999}) {
    SCOPED_TRACE(q);
    double exact = ExactPercentile(samples, q);
    EXPECT_NEAR(h.Quantile(q), exact, exact * 0.011);
  }
}

TEST(Histogram, QuantileInterpolatesBetweenRanksLikeK6) {
  // Samples 100 and 200: p(50) sits halfway between the two ranks, i.e. 150.
  Histogram h;
  h.Add(100);
  h.Add(200);
  EXPECT_DOUBLE_EQ(h.Quantile(0.5), 150);
  EXPECT_DOUBLE_EQ(h.Quantile(0.25), 125);
}

TEST(Histogram, HandlesNegativeAndZeroValuesInOrder) {
  std::vector<double> samples = {-500, -50, -5, 0, 0, 0, 5, 50, 500, 5000};
  Histogram h;
  for (double v : samples) h.Add(v);
  for (double q : {0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1.0}) {
    SCOPED_TRACE(q);
    double exact = ExactPercentile(samples, q);
    EXPECT_NEAR(h.Quantile(q), exact, std::abs(exact) * 0.011 + 1e-12);
  }
  EXPECT_EQ(h.Quantile(0.5), 0);
}

TEST(Histogram, IgnoresNaN) {
  Histogram h;
  h.Add(std::nan(""));
  EXPECT_TRUE(h.empty());
}

TEST(Histogram, QuantilesDoNotDependOnHowSamplesWereSplit) {
  auto samples = LatencyLikeSamples(50000, 3);
  // A few exact zeros and negative values too.
  for (int i = 0; i < 100; ++i) samples.push_back(0);
  for (int i = 0; i < 100; ++i) samples.push_back(-static_cast<double>(i));

  Histogram one;
  for (double v : samples) one.Add(v);

  std::mt19937 rng(11);
  std::uniform_int_distribution<int> pick(0, 2);
  Histogram parts[3];
  for (double v : samples) parts[pick(rng)].Add(v);
  Histogram merged;
  merged.Merge(parts[2]);
  merged.Merge(parts[0]);
  merged.Merge(parts[1]);

  // The same split, this time through the wire format.
  Histogram via_proto;
  volley::v1::Histogram wire;
  for (const Histogram& p : parts) {
    volley::v1::Histogram part;
    p.ToProto(&part);
    ASSERT_TRUE(MergeHistogramProto(part, &wire).ok());
  }
  double sum = parts[0].sum() + parts[1].sum() + parts[2].sum();
  double min = std::min({parts[0].min(), parts[1].min(), parts[2].min()});
  double max = std::max({parts[0].max(), parts[1].max(), parts[2].max()});
  ASSERT_TRUE(via_proto.MergeFrom(wire, sum, min, max).ok());

  EXPECT_EQ(merged.count(), one.count());
  EXPECT_EQ(via_proto.count(), one.count());
  EXPECT_EQ(merged.min(), one.min());
  EXPECT_EQ(merged.max(), one.max());
  for (double q : {0.5, 0.9, 0.95, 0.99}) {
    SCOPED_TRACE(q);
    EXPECT_EQ(merged.Quantile(q), one.Quantile(q));
    EXPECT_EQ(via_proto.Quantile(q), one.Quantile(q));
  }
}

TEST(Histogram, ProtoRoundTripKeepsBuckets) {
  Histogram h;
  for (double v : {-3.0, 0.0, 1.0, 1.0, 250.0, 1e20}) h.Add(v);
  volley::v1::Histogram wire;
  h.ToProto(&wire);
  EXPECT_EQ(wire.zero_count(), 1u);
  ASSERT_EQ(wire.pos_index_size(), 3);
  EXPECT_EQ(wire.pos_count(0), 2u);
  EXPECT_EQ(wire.pos_index(2), Histogram::kMaxIndex);
  ASSERT_EQ(wire.neg_index_size(), 1);

  Histogram back;
  ASSERT_TRUE(back.MergeFrom(wire, h.sum(), h.min(), h.max()).ok());
  volley::v1::Histogram again;
  back.ToProto(&again);
  EXPECT_EQ(again.SerializeAsString(), wire.SerializeAsString());
  for (double q : {0.1, 0.5, 0.9}) EXPECT_EQ(back.Quantile(q), h.Quantile(q));
}

TEST(Histogram, MergeFromRejectsMalformedProtoWithoutChange) {
  struct Case {
    const char* name;
    void (*make)(volley::v1::Histogram*);
  };
  const Case cases[] = {
      {"length mismatch", [](volley::v1::Histogram* h) { h->add_pos_index(1); }},
      {"not ascending",
       [](volley::v1::Histogram* h) {
         h->add_pos_index(5);
         h->add_pos_count(1);
         h->add_pos_index(5);
         h->add_pos_count(1);
       }},
      {"out of range",
       [](volley::v1::Histogram* h) {
         h->add_neg_index(Histogram::kMaxIndex + 1);
         h->add_neg_count(1);
       }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    volley::v1::Histogram bad;
    c.make(&bad);
    Histogram h;
    h.Add(1);
    EXPECT_EQ(h.MergeFrom(bad, 1, 1, 1).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(h.count(), 1u);
    volley::v1::Histogram into;
    EXPECT_FALSE(MergeHistogramProto(bad, &into).ok());
  }
}

TEST(Histogram, MemoryIsBoundedWhateverTheValues) {
  Histogram h;
  for (double v : {1e-300, 1e-12, 1e-9, 1.0, 1e10, 1e18, 1e300, -1e300, -1e-300}) h.Add(v);
  const std::size_t per_side =
      static_cast<std::size_t>(Histogram::kMaxIndex - Histogram::kMinIndex + 1) * 8;
  EXPECT_LE(h.AllocatedBytes(), 2 * per_side);
  EXPECT_EQ(h.Quantile(1), 1e300);
}

TEST(Histogram, ResetEmptiesButKeepsSpan) {
  Histogram h;
  for (double v : LatencyLikeSamples(100, 4)) h.Add(v);
  std::size_t bytes = h.AllocatedBytes();
  h.Reset();
  EXPECT_TRUE(h.empty());
  EXPECT_EQ(h.Quantile(0.5), 0);
  EXPECT_EQ(h.AllocatedBytes(), bytes);
  h.Add(5);
  EXPECT_EQ(h.Quantile(0.5), 5);
}

}  // namespace
}  // namespace volley::metrics
