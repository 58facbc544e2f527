#include "common/segment.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <numeric>

#include "absl/strings/str_cat.h"

namespace volley {
namespace {

using ::testing::ElementsAreArray;

ExecutionTuple Tuple(std::string_view segment, std::string_view sequence) {
  absl::StatusOr<ExecutionTuple> t = ExecutionTuple::Parse(segment, sequence);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? *t : ExecutionTuple();
}

std::vector<ExecutionTuple> AllTuples(const ExecutionSegmentSequence& seq) {
  std::vector<ExecutionTuple> result;
  for (const ExecutionSegment& s : seq.segments()) {
    absl::StatusOr<ExecutionTuple> t = ExecutionTuple::Create(s, seq);
    EXPECT_TRUE(t.ok()) << t.status();
    result.push_back(*t);
  }
  return result;
}

TEST(ParseExecutionSegment, ReadsK6Forms) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {"", "0:1"},
      {"1/3:2/3", "1/3:2/3"},
      {"0.5:0.75", "1/2:3/4"},
      {"50%:75%", "1/2:3/4"},
      {"2/4:75%", "1/2:3/4"},
      {"1/4", "0:1/4"},
      {"20%", "0:1/5"},
      {"0.2", "0:1/5"},
      {"1", "0:1"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    absl::StatusOr<ExecutionSegment> got = ParseExecutionSegment(c.text);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->ToString(), c.want);
  }
}

TEST(ParseExecutionSegment, RejectsBadRanges) {
  for (const char* text : {"1/2:1/3", "0.5:0.5", "-1/2:1", "0:3/2", "a:b", "1/0", "0:x%"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(ParseExecutionSegment(text).ok());
  }
}

TEST(ExecutionSegmentSequence, ParsesAndPrints) {
  absl::StatusOr<ExecutionSegmentSequence> seq = ExecutionSegmentSequence::Parse("0,1/3,2/3,1");
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(seq->segments().size(), 3u);
  EXPECT_TRUE(seq->IsFull());
  EXPECT_EQ(seq->ToString(), "0,1/3,2/3,1");
  EXPECT_EQ(ExecutionSegmentSequence::Parse("0,50%,1")->ToString(), "0,1/2,1");
  EXPECT_FALSE(ExecutionSegmentSequence::Parse("0").ok());
  EXPECT_FALSE(ExecutionSegmentSequence::Parse("0,2/3,1/3,1").ok());
  EXPECT_TRUE(ExecutionSegmentSequence::Parse("")->empty());
  EXPECT_FALSE(ExecutionSegmentSequence::Parse("0,1/2")->IsFull());
}

TEST(ExecutionSegmentSequence, EvenAndWeighted) {
  EXPECT_EQ(ExecutionSegmentSequence::Even(4).ToString(), "0,1/4,1/2,3/4,1");
  EXPECT_EQ(ExecutionSegmentSequence::Even(1).ToString(), "0,1");
  absl::StatusOr<ExecutionSegmentSequence> w = ExecutionSegmentSequence::Weighted({2, 1, 1});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->ToString(), "0,1/2,3/4,1");
  EXPECT_FALSE(ExecutionSegmentSequence::Weighted({}).ok());
  EXPECT_FALSE(ExecutionSegmentSequence::Weighted({2, 0}).ok());
}

TEST(ExecutionTuple, FindsSegmentInFilledSequence) {
  ExecutionTuple t = Tuple("1/3:2/3", "0,1/3,2/3,1");
  EXPECT_EQ(t.index(), 1);
  EXPECT_EQ(t.ToString(), "1/3:2/3 in 0,1/3,2/3,1");
  // A lone segment gets the rest of [0,1] filled in around it, as in k6.
  ExecutionTuple lone = Tuple("1/4:1/2", "");
  EXPECT_EQ(lone.sequence().ToString(), "0,1/4,1/2,1");
  EXPECT_EQ(lone.index(), 1);
  EXPECT_FALSE(ExecutionTuple::Parse("1/4:1/2", "0,1/3,2/3,1").ok());
  EXPECT_EQ(ExecutionTuple().ToString(), "0:1 in 0,1");
}

// Expected stripes taken from k6's documented behaviour for these sequences.
TEST(ExecutionTuple, StripesLikeK6) {
  struct Case {
    const char* seq;
    const char* seg;
    std::vector<std::int64_t> positions;
    std::int64_t lcd;
  } cases[] = {
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0:0.3", {0, 4, 7}, 10},
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.3:0.5", {1, 5}, 10},
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.5:0.6", {2}, 10},
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.6:0.7", {3}, 10},
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.8:0.9", {8}, 10},
      {"0,0.3,0.5,0.6,0.7,0.8,0.9,1", "0.9:1", {9}, 10},
      {"0,0.2,0.5", "0:0.2", {3, 9}, 10},
      {"0,0.2,0.5", "0.2:0.5", {1, 5, 7}, 10},
      {"0,2/5,4/5", "0:2/5", {0, 3}, 5},
      {"0,2/5,4/5", "2/5:4/5", {1, 4}, 5},
      {"", "0:0.2", {1}, 5},
      {"", "0:0.4", {1, 3}, 5},
      {"", "2/5:4/5", {1, 4}, 5},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.seg, " in ", c.seq));
    ExecutionTuple t = Tuple(c.seg, c.seq);
    EXPECT_EQ(t.lcd(), c.lcd);
    EXPECT_THAT(t.positions(), ElementsAreArray(c.positions));
  }
}

TEST(ExecutionTuple, ScaleInt64TenOverThirds) {
  const std::vector<ExecutionTuple> tuples = AllTuples(ExecutionSegmentSequence::Even(3));
  EXPECT_EQ(tuples[0].ScaleInt64(10), 4);
  EXPECT_EQ(tuples[1].ScaleInt64(10), 3);
  EXPECT_EQ(tuples[2].ScaleInt64(10), 3);
  EXPECT_EQ(ExecutionTuple().ScaleInt64(10), 10);
}

// Property: for many sequences and totals, the parts add up exactly and never shrink as the
// total grows; every global index has exactly one owner.
TEST(ExecutionTuple, PartsSumExactlyAndGrowMonotonically) {
  std::vector<ExecutionSegmentSequence> sequences;
  for (int n = 1; n <= 9; ++n) sequences.push_back(ExecutionSegmentSequence::Even(n));
  sequences.push_back(*ExecutionSegmentSequence::Weighted({8, 4, 2, 2}));
  sequences.push_back(*ExecutionSegmentSequence::Weighted({3, 5, 7}));
  sequences.push_back(*ExecutionSegmentSequence::Weighted({1, 16}));
  sequences.push_back(*ExecutionSegmentSequence::Parse("0,0.3,0.5,0.6,0.7,0.8,0.9,1"));
  for (const ExecutionSegmentSequence& seq : sequences) {
    SCOPED_TRACE(seq.ToString());
    const std::vector<ExecutionTuple> tuples = AllTuples(seq);
    std::vector<std::int64_t> prev(tuples.size(), 0);
    for (std::int64_t total : {0, 1, 2, 3, 5, 7, 10, 11, 99, 100, 1000, 1001, 12345}) {
      std::int64_t sum = 0;
      for (std::size_t i = 0; i < tuples.size(); ++i) {
        const std::int64_t part = tuples[i].ScaleInt64(total);
        EXPECT_GE(part, prev[i]) << "total " << total;
        prev[i] = part;
        sum += part;
      }
      EXPECT_EQ(sum, total);
    }
    for (std::int64_t g = 0; g < 200; ++g) {
      int owners = 0;
      for (const ExecutionTuple& t : tuples) owners += t.Owns(g) ? 1 : 0;
      EXPECT_EQ(owners, 1) << "global index " << g;
    }
  }
}

TEST(ExecutionTuple, ThousandIterationsOverSeven) {
  std::int64_t sum = 0;
  for (const ExecutionTuple& t : AllTuples(ExecutionSegmentSequence::Even(7))) {
    const std::int64_t part = t.ScaleInt64(1000);
    EXPECT_TRUE(part == 142 || part == 143) << part;
    sum += part;
  }
  EXPECT_EQ(sum, 1000);
}

TEST(ExecutionTuple, GlobalIndexInterleaves) {
  // Halves and quarters: 0 2 4 6 ... / 1 5 9 ... / 3 7 11 ...
  const std::vector<ExecutionTuple> tuples =
      AllTuples(*ExecutionSegmentSequence::Weighted({2, 1, 1}));
  std::vector<std::vector<std::int64_t>> got(3);
  for (int i = 0; i < 3; ++i) {
    for (int local = 0; local < 4; ++local) got[i].push_back(tuples[i].GlobalIndex(local));
  }
  EXPECT_THAT(got[0], ElementsAreArray({0, 2, 4, 6}));
  EXPECT_THAT(got[1], ElementsAreArray({1, 5, 9, 13}));
  EXPECT_THAT(got[2], ElementsAreArray({3, 7, 11, 15}));
}

TEST(ExecutionTuple, ForValueFollowsTheScaledParts) {
  ExecutionTuple t = Tuple("0:1/3", "0,1/3,2/3,1");
  absl::StatusOr<ExecutionTuple> by10 = t.ForValue(10);
  ASSERT_TRUE(by10.ok()) << by10.status();
  EXPECT_EQ(by10->sequence().ToString(), "0,2/5,7/10,1");
  EXPECT_EQ(by10->segment().ToString(), "0:2/5");
  EXPECT_EQ(t.ForValue(9)->sequence().ToString(), "0,1/3,2/3,1");  // divisible: unchanged
  // With 1 VU only the first segment gets anything; the others have no share at all.
  EXPECT_EQ(t.ForValue(1)->sequence().ToString(), "0,1");
  EXPECT_EQ(Tuple("1/3:2/3", "0,1/3,2/3,1").ForValue(1).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_FALSE(t.ForValue(0).ok());
}

TEST(SegmentedIndex, CountsLikeK6) {
  SegmentedIndex index(Tuple("1/2:3/4", "0,1/2,3/4,1"));  // owns global 1, 5, 9, ...
  EXPECT_EQ(index.Next().unscaled, 2);
  SegmentedIndex::Value v = index.Next();
  EXPECT_EQ(v.scaled, 2);
  EXPECT_EQ(v.unscaled, 6);
  v = index.Prev();
  EXPECT_EQ(v.scaled, 1);
  EXPECT_EQ(v.unscaled, 2);
  v = index.GoTo(9);  // owned numbers <= 9: 2, 6
  EXPECT_EQ(v.scaled, 2);
  EXPECT_EQ(v.unscaled, 6);
  v = index.GoTo(10);
  EXPECT_EQ(v.scaled, 3);
  EXPECT_EQ(v.unscaled, 10);
  v = index.GoTo(1);
  EXPECT_EQ(v.scaled, 0);
  EXPECT_EQ(v.unscaled, 0);
}

TEST(ExecutionTuple, RejectsTooFineSequences) {
  EXPECT_FALSE(ExecutionTuple::Parse("0:1/99999989", "0,1/99999989,1").ok());
}

}  // namespace
}  // namespace volley
