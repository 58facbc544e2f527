#include "common/segment.h"

#include <algorithm>
#include <cstdlib>
#include <numeric>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace volley {
namespace {

// Debian's Abseil has its own string_view type, distinct from std::string_view.
absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

Rational FromWide(__int128 num, __int128 den) {
  if (den < 0) num = -num, den = -den;
  __int128 a = num < 0 ? -num : num, b = den;
  while (b != 0) {
    const __int128 t = a % b;
    a = b;
    b = t;
  }
  if (a > 1) num /= a, den /= a;
  return Rational(static_cast<std::int64_t>(num), static_cast<std::int64_t>(den));
}

// Reads an unsigned decimal "12", "0.25", ".5" as an exact fraction.
bool ParseDecimal(std::string_view s, Rational* out) {
  if (s.empty()) return false;
  __int128 num = 0, den = 1;
  bool seen_point = false, any_digit = false;
  for (char c : s) {
    if (c == '.' && !seen_point) {
      seen_point = true;
    } else if (c >= '0' && c <= '9') {
      if (num > static_cast<__int128>(1) << 100) return false;
      num = num * 10 + (c - '0');
      if (seen_point) den *= 10;
      any_digit = true;
    } else {
      return false;
    }
  }
  if (!any_digit || den > static_cast<__int128>(1e18)) return false;
  *out = FromWide(num, den);
  return true;
}

}  // namespace

Rational::Rational(std::int64_t num, std::int64_t den) {
  if (den == 0) std::abort();  // a broken invariant: callers never pass 0
  if (den < 0) num = -num, den = -den;
  const std::int64_t g = std::gcd(num, den);
  num_ = g > 1 ? num / g : num;
  den_ = g > 1 ? den / g : den;
}

std::string Rational::ToString() const {
  if (den_ == 1) return absl::StrCat(num_);
  return absl::StrCat(num_, "/", den_);
}

Rational operator+(const Rational& a, const Rational& b) {
  return FromWide(static_cast<__int128>(a.num_) * b.den_ + static_cast<__int128>(b.num_) * a.den_,
                  static_cast<__int128>(a.den_) * b.den_);
}

Rational operator-(const Rational& a, const Rational& b) {
  return FromWide(static_cast<__int128>(a.num_) * b.den_ - static_cast<__int128>(b.num_) * a.den_,
                  static_cast<__int128>(a.den_) * b.den_);
}

bool operator<(const Rational& a, const Rational& b) {
  return static_cast<__int128>(a.num_) * b.den_ < static_cast<__int128>(b.num_) * a.den_;
}

absl::StatusOr<Rational> ParseRational(std::string_view text) {
  const auto bad = [&] {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", Av(text), "' is not a valid percentage, decimal, fraction or interval value"));
  };
  std::string_view s = text;
  bool negative = false;
  if (!s.empty() && s[0] == '-') negative = true, s.remove_prefix(1);

  Rational value;
  if (!s.empty() && s.back() == '%') {
    if (!ParseDecimal(s.substr(0, s.size() - 1), &value)) return bad();
    value = FromWide(value.num(), static_cast<__int128>(value.den()) * 100);
  } else if (const std::size_t slash = s.find('/'); slash != std::string_view::npos) {
    std::int64_t num = 0, den = 0;
    if (!absl::SimpleAtoi(Av(s.substr(0, slash)), &num) ||
        !absl::SimpleAtoi(Av(s.substr(slash + 1)), &den) || den == 0 || num < 0) {
      return bad();
    }
    value = Rational(num, den);
  } else if (!ParseDecimal(s, &value)) {
    return bad();
  }
  return negative ? Rational(0, 1) - value : value;
}

std::string ExecutionSegment::ToString() const {
  return absl::StrCat(from.ToString(), ":", to.ToString());
}

absl::StatusOr<ExecutionSegment> MakeExecutionSegment(Rational from, Rational to) {
  if (from < Rational(0, 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment start value should be at least 0 but was ", from.ToString()));
  }
  if (to <= from) {
    return absl::InvalidArgumentError(absl::StrCat(
        "segment start (", from.ToString(), ") should be less than its end (", to.ToString(), ")"));
  }
  if (Rational(1, 1) < to) {
    return absl::InvalidArgumentError(
        absl::StrCat("segment end value shouldn't be more than 1 but was ", to.ToString()));
  }
  return ExecutionSegment{from, to};
}

absl::StatusOr<ExecutionSegment> ParseExecutionSegment(std::string_view text) {
  if (text.empty()) return ExecutionSegment{};
  Rational from(0, 1);
  std::string_view to_text = text;
  if (const std::size_t colon = text.find(':'); colon != std::string_view::npos) {
    absl::StatusOr<Rational> parsed = ParseRational(text.substr(0, colon));
    if (!parsed.ok()) return parsed.status();
    from = *parsed;
    to_text = text.substr(colon + 1);
  }
  absl::StatusOr<Rational> to = ParseRational(to_text);
  if (!to.ok()) return to.status();
  return MakeExecutionSegment(from, *to);
}

absl::StatusOr<ExecutionSegmentSequence> ExecutionSegmentSequence::Make(
    std::vector<ExecutionSegment> segments) {
  for (std::size_t i = 1; i < segments.size(); ++i) {
    if (!(segments[i].from == segments[i - 1].to)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the start value ", segments[i].from.ToString(), " of segment #", i,
                       " must be equal to the end value of the previous one, but it is ",
                       segments[i - 1].to.ToString()));
    }
  }
  ExecutionSegmentSequence result;
  result.segments_ = std::move(segments);
  return result;
}

absl::StatusOr<ExecutionSegmentSequence> ExecutionSegmentSequence::Parse(std::string_view text) {
  if (text.empty()) return ExecutionSegmentSequence();
  std::vector<absl::string_view> points = absl::StrSplit(Av(text), ',');
  if (points.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("at least 2 points are needed for an execution segment sequence, ",
                     points.size(), " given"));
  }
  std::vector<ExecutionSegment> segments;
  Rational prev;
  for (std::size_t i = 0; i < points.size(); ++i) {
    absl::StatusOr<Rational> point =
        ParseRational(std::string_view(points[i].data(), points[i].size()));
    if (!point.ok()) return point.status();
    if (i > 0) {
      absl::StatusOr<ExecutionSegment> segment = MakeExecutionSegment(prev, *point);
      if (!segment.ok()) return segment.status();
      segments.push_back(*segment);
    }
    prev = *point;
  }
  return Make(std::move(segments));
}

ExecutionSegmentSequence ExecutionSegmentSequence::Even(int n) {
  ExecutionSegmentSequence result;
  for (int i = 0; i < n; ++i) {
    result.segments_.push_back(ExecutionSegment{Rational(i, n), Rational(i + 1, n)});
  }
  return result;
}

absl::StatusOr<ExecutionSegmentSequence> ExecutionSegmentSequence::Weighted(
    const std::vector<std::int64_t>& weights) {
  if (weights.empty()) return absl::InvalidArgumentError("at least one weight is needed");
  std::int64_t total = 0;
  for (std::int64_t w : weights) {
    if (w <= 0) return absl::InvalidArgumentError(absl::StrCat("weight ", w, " is not positive"));
    total += w;
  }
  ExecutionSegmentSequence result;
  std::int64_t sum = 0;
  for (std::int64_t w : weights) {
    result.segments_.push_back(ExecutionSegment{Rational(sum, total), Rational(sum + w, total)});
    sum += w;
  }
  return result;
}

bool ExecutionSegmentSequence::IsFull() const {
  return !segments_.empty() && segments_.front().from == Rational(0, 1) &&
         segments_.back().to == Rational(1, 1);
}

std::string ExecutionSegmentSequence::ToString() const {
  std::vector<std::string> points;
  for (std::size_t i = 0; i < segments_.size(); ++i) {
    if (i == 0) points.push_back(segments_[i].from.ToString());
    points.push_back(segments_[i].to.ToString());
  }
  return absl::StrJoin(points, ",");
}

struct ExecutionTuple::Stripes {
  ExecutionSegmentSequence sequence;  // full
  std::int64_t lcd = 1;
  std::vector<std::vector<std::int64_t>> positions;  // per segment, ascending in [0, lcd)
};

// Deals the indexes 0..lcd-1 out to the segments. Each segment of normalised length n/lcd gets
// n of them, spread as evenly as possible: index i goes to the first segment (biggest first)
// that is "due", i.e. whose next element would ideally sit at or before i (its k-th element
// ideally at k*lcd/n). Biggest first keeps the large segments, which have the least slack, from
// getting neighbouring indexes.
absl::StatusOr<std::shared_ptr<const ExecutionTuple::Stripes>> ExecutionTuple::BuildStripes(
    ExecutionSegmentSequence sequence) {
  auto stripes = std::make_shared<Stripes>();
  const std::vector<ExecutionSegment>& segments = sequence.segments();
  std::int64_t lcd = 1;
  for (const ExecutionSegment& s : segments) {
    const std::int64_t den = s.Length().den();
    const __int128 wide = static_cast<__int128>(lcd / std::gcd(lcd, den)) * den;
    lcd = wide > kMaxLcd ? kMaxLcd + 1 : static_cast<std::int64_t>(wide);
    if (lcd > kMaxLcd) {
      return absl::InvalidArgumentError(
          absl::StrCat("execution segment sequence ", sequence.ToString(),
                       " is too finely divided (common denominator above ", kMaxLcd, ")"));
    }
  }
  std::vector<std::int64_t> numerators;
  std::vector<int> order;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const Rational length = segments[i].Length();
    numerators.push_back(length.num() * (lcd / length.den()));
    order.push_back(static_cast<int>(i));
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](int a, int b) { return numerators[a] > numerators[b]; });

  stripes->positions.assign(segments.size(), {});
  std::vector<std::int64_t> chosen(segments.size(), 0);
  for (std::int64_t i = 0; i < lcd; ++i) {
    for (int s : order) {
      if (i * numerators[s] >= chosen[s] * lcd) {
        stripes->positions[s].push_back(i);
        ++chosen[s];
        break;
      }
    }
  }
  for (std::size_t s = 0; s < segments.size(); ++s) {
    if (chosen[s] != numerators[s]) std::abort();  // the dealing above must be exact
  }
  stripes->lcd = lcd;
  stripes->sequence = std::move(sequence);
  return std::shared_ptr<const Stripes>(std::move(stripes));
}

ExecutionTuple::ExecutionTuple() {
  static const std::shared_ptr<const Stripes> kFull = [] {
    return *BuildStripes(ExecutionSegmentSequence::Even(1));
  }();
  stripes_ = kFull;
}

ExecutionTuple::ExecutionTuple(std::shared_ptr<const Stripes> stripes, int index)
    : stripes_(std::move(stripes)), index_(index) {}

absl::StatusOr<ExecutionTuple> ExecutionTuple::Create(const ExecutionSegment& segment,
                                                      const ExecutionSegmentSequence& sequence) {
  std::vector<ExecutionSegment> filled = sequence.segments();
  if (filled.empty()) {
    if (segment == ExecutionSegment{}) return ExecutionTuple();
    filled.push_back(segment);
  }
  if (!(filled.front().from == Rational(0, 1))) {
    filled.insert(filled.begin(), ExecutionSegment{Rational(0, 1), filled.front().from});
  }
  if (!(filled.back().to == Rational(1, 1))) {
    filled.push_back(ExecutionSegment{filled.back().to, Rational(1, 1)});
  }
  const auto it = std::find(filled.begin(), filled.end(), segment);
  if (it == filled.end()) {
    return absl::InvalidArgumentError(absl::StrCat("couldn't find segment ", segment.ToString(),
                                                   " in sequence ", sequence.ToString()));
  }
  const int index = static_cast<int>(it - filled.begin());
  absl::StatusOr<ExecutionSegmentSequence> full = ExecutionSegmentSequence::Make(std::move(filled));
  if (!full.ok()) return full.status();
  absl::StatusOr<std::shared_ptr<const Stripes>> stripes = BuildStripes(*std::move(full));
  if (!stripes.ok()) return stripes.status();
  return ExecutionTuple(*std::move(stripes), index);
}

absl::StatusOr<ExecutionTuple> ExecutionTuple::Parse(std::string_view segment,
                                                     std::string_view sequence) {
  absl::StatusOr<ExecutionSegment> seg = ParseExecutionSegment(segment);
  if (!seg.ok()) return seg.status();
  absl::StatusOr<ExecutionSegmentSequence> seq = ExecutionSegmentSequence::Parse(sequence);
  if (!seq.ok()) return seq.status();
  return Create(*seg, *seq);
}

const ExecutionSegment& ExecutionTuple::segment() const {
  return stripes_->sequence.segments()[index_];
}

const ExecutionSegmentSequence& ExecutionTuple::sequence() const { return stripes_->sequence; }

std::string ExecutionTuple::ToString() const {
  return absl::StrCat(segment().ToString(), " in ", sequence().ToString());
}

std::int64_t ExecutionTuple::lcd() const { return stripes_->lcd; }

const std::vector<std::int64_t>& ExecutionTuple::positions() const {
  return stripes_->positions[index_];
}

std::int64_t ExecutionTuple::ScaleInt64(std::int64_t value) const {
  if (value <= 0) return 0;
  const std::vector<std::int64_t>& pos = positions();
  const std::int64_t lcd = stripes_->lcd;
  const auto partial = std::lower_bound(pos.begin(), pos.end(), value % lcd) - pos.begin();
  return value / lcd * static_cast<std::int64_t>(pos.size()) + partial;
}

std::int64_t ExecutionTuple::GlobalIndex(std::int64_t local) const {
  const std::vector<std::int64_t>& pos = positions();
  const auto n = static_cast<std::int64_t>(pos.size());
  return local / n * stripes_->lcd + pos[local % n];
}

bool ExecutionTuple::Owns(std::int64_t global) const {
  const std::vector<std::int64_t>& pos = positions();
  return std::binary_search(pos.begin(), pos.end(), global % stripes_->lcd);
}

absl::StatusOr<ExecutionTuple> ExecutionTuple::ForValue(std::int64_t value) const {
  if (value < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot generate new sequence for value ", value));
  }
  if (value % stripes_->lcd == 0) return *this;  // every segment keeps its exact proportion

  const std::vector<ExecutionSegment>& old = sequence().segments();
  std::vector<ExecutionSegment> segments;
  int new_index = -1;
  std::int64_t prev = 0;
  for (std::size_t i = 0; i < old.size(); ++i) {
    const std::int64_t part = ExecutionTuple(stripes_, static_cast<int>(i)).ScaleInt64(value);
    if (part == 0) continue;
    if (static_cast<int>(i) == index_) new_index = static_cast<int>(segments.size());
    segments.push_back(ExecutionSegment{Rational(prev, value), Rational(prev + part, value)});
    prev += part;
  }
  if (new_index < 0) {
    return absl::NotFoundError(
        absl::StrCat("segment ", segment().ToString(), " gets no part of ", value));
  }
  absl::StatusOr<ExecutionSegmentSequence> sequence =
      ExecutionSegmentSequence::Make(std::move(segments));
  if (!sequence.ok()) return sequence.status();
  absl::StatusOr<std::shared_ptr<const Stripes>> stripes = BuildStripes(*std::move(sequence));
  if (!stripes.ok()) return stripes.status();
  return ExecutionTuple(*std::move(stripes), new_index);
}

SegmentedIndex::Value SegmentedIndex::At(std::int64_t scaled) const {
  if (scaled <= 0) return Value{};
  return Value{scaled, tuple_.GlobalIndex(scaled - 1) + 1};
}

SegmentedIndex::Value SegmentedIndex::Next() { return value_ = At(value_.scaled + 1); }

SegmentedIndex::Value SegmentedIndex::Prev() { return value_ = At(value_.scaled - 1); }

SegmentedIndex::Value SegmentedIndex::GoTo(std::int64_t value) {
  return value_ = At(tuple_.ScaleInt64(value));
}

}  // namespace volley
