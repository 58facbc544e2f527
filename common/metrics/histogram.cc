#include "common/metrics/histogram.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace volley::metrics {
namespace {

// Smallest span allocated at once; spans grow by half their size so growth is amortized.
constexpr int kMinSpan = 32;

absl::Status ValidateSide(const google::protobuf::RepeatedField<std::int32_t>& index,
                          const google::protobuf::RepeatedField<std::uint64_t>& count,
                          const char* side) {
  if (index.size() != count.size()) {
    return absl::InvalidArgumentError(absl::StrCat("histogram: ", side, " has ", index.size(),
                                                   " indexes but ", count.size(), " counts"));
  }
  for (int i = 0; i < index.size(); ++i) {
    if (index[i] < Histogram::kMinIndex || index[i] > Histogram::kMaxIndex) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram: ", side, " index ", index[i], " out of range"));
    }
    if (i > 0 && index[i] <= index[i - 1]) {
      return absl::InvalidArgumentError(
          absl::StrCat("histogram: ", side, " indexes not ascending at ", index[i]));
    }
  }
  return absl::OkStatus();
}

absl::Status Validate(const volley::v1::Histogram& h) {
  if (auto s = ValidateSide(h.pos_index(), h.pos_count(), "pos"); !s.ok()) return s;
  return ValidateSide(h.neg_index(), h.neg_count(), "neg");
}

// Sorted merge of two sparse (index, count) lists into `into_index`/`into_count`.
void MergeSide(const google::protobuf::RepeatedField<std::int32_t>& from_index,
               const google::protobuf::RepeatedField<std::uint64_t>& from_count,
               google::protobuf::RepeatedField<std::int32_t>* into_index,
               google::protobuf::RepeatedField<std::uint64_t>* into_count) {
  if (from_index.empty()) return;
  google::protobuf::RepeatedField<std::int32_t> index;
  google::protobuf::RepeatedField<std::uint64_t> count;
  index.Reserve(from_index.size() + into_index->size());
  count.Reserve(from_index.size() + into_index->size());
  int a = 0, b = 0;
  while (a < from_index.size() || b < into_index->size()) {
    if (b == into_index->size() || (a < from_index.size() && from_index[a] < (*into_index)[b])) {
      index.Add(from_index[a]);
      count.Add(from_count[a]);
      ++a;
    } else if (a == from_index.size() || (*into_index)[b] < from_index[a]) {
      index.Add((*into_index)[b]);
      count.Add((*into_count)[b]);
      ++b;
    } else {
      index.Add(from_index[a]);
      count.Add(from_count[a] + (*into_count)[b]);
      ++a;
      ++b;
    }
  }
  into_index->Swap(&index);
  into_count->Swap(&count);
}

}  // namespace

void Histogram::Store::GrowAndAdd(int index, std::uint64_t n) {
  int size = static_cast<int>(counts_.size());
  int lo, hi;  // inclusive span wanted
  if (size == 0) {
    lo = index - kMinSpan / 2;
    hi = index + kMinSpan / 2 - 1;
  } else {
    int slack = std::max(kMinSpan, size / 2);
    lo = index < offset_ ? index - slack : offset_;
    hi = index >= offset_ + size ? index + slack : offset_ + size - 1;
  }
  lo = std::max(lo, kMinIndex);
  hi = std::min(hi, kMaxIndex);

  std::vector<std::uint64_t> grown(static_cast<std::size_t>(hi - lo + 1), 0);
  std::copy(counts_.begin(), counts_.end(), grown.begin() + (offset_ - lo));
  counts_ = std::move(grown);
  offset_ = lo;
  counts_[static_cast<std::size_t>(index - offset_)] += n;
}

void Histogram::Store::Merge(const Store& other) {
  const auto& c = other.counts_;
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (c[i] == 0) continue;
    Add(other.offset_ + static_cast<int>(i), c[i]);
  }
}

void Histogram::Store::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
}

void Histogram::Merge(const Histogram& other) {
  if (other.count_ == 0) return;
  positive_.Merge(other.positive_);
  negative_.Merge(other.negative_);
  zero_count_ += other.zero_count_;
  if (count_ == 0) {
    min_ = other.min_;
    max_ = other.max_;
  } else {
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
  }
  count_ += other.count_;
  sum_ += other.sum_;
}

absl::Status Histogram::MergeFrom(const volley::v1::Histogram& buckets, double sum, double min,
                                  double max) {
  if (auto s = Validate(buckets); !s.ok()) return s;
  std::uint64_t added = buckets.zero_count();
  for (int i = 0; i < buckets.pos_index_size(); ++i) {
    positive_.Add(buckets.pos_index(i), buckets.pos_count(i));
    added += buckets.pos_count(i);
  }
  for (int i = 0; i < buckets.neg_index_size(); ++i) {
    negative_.Add(buckets.neg_index(i), buckets.neg_count(i));
    added += buckets.neg_count(i);
  }
  zero_count_ += buckets.zero_count();
  if (added == 0) return absl::OkStatus();
  if (count_ == 0) {
    min_ = min;
    max_ = max;
  } else {
    min_ = std::min(min_, min);
    max_ = std::max(max_, max);
  }
  count_ += added;
  sum_ += sum;
  return absl::OkStatus();
}

void Histogram::ToProto(volley::v1::Histogram* out) const {
  out->Clear();
  out->set_zero_count(zero_count_);
  auto write = [](const Store& store, google::protobuf::RepeatedField<std::int32_t>* index,
                  google::protobuf::RepeatedField<std::uint64_t>* count) {
    const auto& c = store.counts();
    for (std::size_t i = 0; i < c.size(); ++i) {
      if (c[i] == 0) continue;
      index->Add(store.offset() + static_cast<int>(i));
      count->Add(c[i]);
    }
  };
  write(positive_, out->mutable_pos_index(), out->mutable_pos_count());
  write(negative_, out->mutable_neg_index(), out->mutable_neg_count());
}

double Histogram::Representative(int index) {
  // Bucket `index` spans (gamma^(index-1), gamma^index]; 2 gamma^index / (gamma + 1) is within
  // (gamma - 1) / (gamma + 1) = kRelativeAccuracy of both ends.
  static const double kGamma = std::exp(kLogGamma);
  return std::exp(index * kLogGamma) * (2.0 / (kGamma + 1.0));
}

double Histogram::ValueAtRank(std::uint64_t rank) const {
  if (rank == 0) return min_;
  if (rank + 1 >= count_) return max_;

  // Ascending order: negatives from the largest |v| down, then zero, then positives.
  std::uint64_t seen = 0;
  const auto& neg = negative_.counts();
  for (std::size_t i = neg.size(); i-- > 0;) {
    seen += neg[i];
    if (rank < seen) return -Representative(negative_.offset() + static_cast<int>(i));
  }
  seen += zero_count_;
  if (rank < seen) return 0;
  const auto& pos = positive_.counts();
  for (std::size_t i = 0; i < pos.size(); ++i) {
    seen += pos[i];
    if (rank < seen) return Representative(positive_.offset() + static_cast<int>(i));
  }
  return max_;
}

double Histogram::Quantile(double q) const {
  if (count_ == 0) return 0;
  if (count_ == 1) return min_;
  q = std::clamp(q, 0.0, 1.0);

  double position = q * (static_cast<double>(count_) - 1.0);
  double lower_rank = std::floor(position);
  double upper_rank = std::ceil(position);
  double lower = ValueAtRank(static_cast<std::uint64_t>(lower_rank));
  double upper =
      upper_rank == lower_rank ? lower : ValueAtRank(static_cast<std::uint64_t>(upper_rank));
  double value = lower + (upper - lower) * (position - lower_rank);
  return std::clamp(value, min_, max_);
}

void Histogram::Reset() {
  positive_.Reset();
  negative_.Reset();
  zero_count_ = 0;
  count_ = 0;
  sum_ = 0;
  min_ = max_ = 0;
}

std::size_t Histogram::AllocatedBytes() const {
  return (positive_.counts().capacity() + negative_.counts().capacity()) * sizeof(std::uint64_t);
}

absl::Status MergeHistogramProto(const volley::v1::Histogram& from, volley::v1::Histogram* into) {
  if (auto s = Validate(from); !s.ok()) return s;
  if (auto s = Validate(*into); !s.ok()) return s;
  into->set_zero_count(into->zero_count() + from.zero_count());
  MergeSide(from.pos_index(), from.pos_count(), into->mutable_pos_index(),
            into->mutable_pos_count());
  MergeSide(from.neg_index(), from.neg_count(), into->mutable_neg_index(),
            into->mutable_neg_count());
  return absl::OkStatus();
}

}  // namespace volley::metrics
