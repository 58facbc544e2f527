#include "common/metrics/number_format.h"

#include <gtest/gtest.h>

#include <cmath>

namespace volley::metrics {
namespace {

TEST(JsNumberToString, MatchesJavaScript) {
  struct Case {
    double v;
    const char* want;
  };
  const Case cases[] = {
      {0, "0"},
      {3, "3"},
      {-3, "-3"},
      {0.1, "0.1"},
      {4.36938, "4.36938"},
      {1.5e-8, "1.5e-8"},
      {1e21, "1e+21"},
      {123456789012, "123456789012"},
      {99.9, "99.9"},
      {1.0 / 3, "0.3333333333333333"},
      {std::nan(""), "NaN"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.want);
    EXPECT_EQ(JsNumberToString(c.v), c.want);
  }
}

TEST(JsToFixed, MatchesJavaScript) {
  struct Case {
    double v;
    int digits;
    const char* want;
  };
  const Case cases[] = {
      {1.005, 2, "1.00"},  // 1.005 is 1.00499999999999989...
      {0.125, 2, "0.13"},  // exact half: away from zero, unlike printf's "0.12"
      {2.5, 0, "3"},       {-2.5, 0, "-3"}, {9.995, 2, "9.99"},
      {9.999, 2, "10.00"}, {0, 2, "0.00"},  {-0.001, 2, "-0.00"},
      {1.3, 1, "1.3"},     {81, 0, "81"},   {4.369380123, 6, "4.369380"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.want);
    EXPECT_EQ(JsToFixed(c.v, c.digits), c.want);
  }
}

}  // namespace
}  // namespace volley::metrics
