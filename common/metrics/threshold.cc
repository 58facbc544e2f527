#include "common/metrics/threshold.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/metrics/number_format.h"

namespace volley::metrics {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string_view TrimQuotes(std::string_view s) {
  while (!s.empty() && (s.front() == '"' || s.front() == '\'')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == '"' || s.back() == '\'')) s.remove_suffix(1);
  return s;
}

std::optional<double> ParseNumber(std::string_view text) {
  std::string s(text);
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) return std::nullopt;
  return v;
}

std::vector<std::string> SupportedStats(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return {"count", "rate"};
    case MetricType::kGauge:
      return {"value"};
    case MetricType::kRate:
      return {"rate"};
    case MetricType::kTrend:
      return {"avg", "min", "max", "med", "p(N)"};
  }
  return {};
}

absl::Status KeyError(std::string_view key, std::string_view source, std::string_view reason) {
  return absl::InvalidArgumentError(absl::StrCat("invalid threshold \"", std::string(source),
                                                 "\" on metric \"", std::string(key),
                                                 "\": ", std::string(reason)));
}

}  // namespace

absl::Status ParseMetricKey(std::string_view key, std::string* metric, TagSet* filter) {
  filter->clear();
  auto open = key.find('{');
  auto close = key.rfind('}');
  if (open == std::string_view::npos && close == std::string_view::npos) {
    *metric = std::string(key);
    return absl::OkStatus();
  }
  auto fail = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("invalid metric \"", std::string(key),
                                                   "\" in thresholds: ", std::string(why)));
  };
  if (open == std::string_view::npos || close == std::string_view::npos) {
    return fail("unmatched curly brace");
  }
  if (close < open) return fail("closing curly brace before the opening one");
  if (close != key.size() - 1) return fail("the closing curly brace must be last");

  std::string_view inner = key.substr(open + 1, close - open - 1);
  std::size_t start = 0;
  while (true) {
    auto comma = inner.find(',', start);
    std::string_view part = inner.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto colon = part.find(':');
    if (colon == std::string_view::npos || colon + 1 == part.size()) {
      return fail(
          absl::StrCat("malformed tag expression \"", std::string(part), "\" (want key:value)"));
    }
    std::string_view k = TrimQuotes(Trim(part.substr(0, colon)));
    std::string_view v = TrimQuotes(Trim(part.substr(colon + 1)));
    filter->emplace_back(std::string(k), std::string(v));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  std::stable_sort(filter->begin(), filter->end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  // Of duplicate keys, the last one wins (as when interning a tag set).
  TagSet unique;
  for (auto& kv : *filter) {
    if (!unique.empty() && unique.back().first == kv.first) {
      unique.back().second = kv.second;
    } else {
      unique.push_back(kv);
    }
  }
  *filter = std::move(unique);
  *metric = std::string(key.substr(0, open));
  return absl::OkStatus();
}

absl::StatusOr<ThresholdExpr> ParseThresholdExpr(std::string_view source) {
  // Operators are tried in this order, each anywhere in the text, as k6 does.
  struct OpToken {
    std::string_view text;
    ThresholdOp op;
  };
  static constexpr OpToken kOps[] = {
      {"<=", ThresholdOp::kLessEqual},    {"<", ThresholdOp::kLess},
      {">=", ThresholdOp::kGreaterEqual}, {">", ThresholdOp::kGreater},
      {"===", ThresholdOp::kEqual},       {"==", ThresholdOp::kEqual},
      {"!=", ThresholdOp::kNotEqual},
  };
  ThresholdExpr expr;
  expr.source = std::string(source);
  std::string_view lhs, rhs;
  bool found = false;
  for (const OpToken& t : kOps) {
    auto pos = source.find(t.text);
    if (pos == std::string_view::npos) continue;
    lhs = Trim(source.substr(0, pos));
    rhs = Trim(source.substr(pos + t.text.size()));
    expr.op = t.op;
    found = true;
    break;
  }
  if (!found) {
    return absl::InvalidArgumentError(
        "malformed expression: no operator (<, <=, >, >=, ==, ===, !=)");
  }

  static constexpr std::string_view kStats[] = {"value", "count", "rate", "avg",
                                                "min",   "med",   "max"};
  if (std::find(std::begin(kStats), std::end(kStats), lhs) != std::end(kStats)) {
    expr.stat = std::string(lhs);
  } else if (lhs.size() > 3 && lhs.substr(0, 2) == "p(" && lhs.back() == ')') {
    auto pct = ParseNumber(lhs.substr(2, lhs.size() - 3));
    if (!pct) {
      return absl::InvalidArgumentError(
          absl::StrCat("malformed percentile \"", std::string(lhs), "\""));
    }
    expr.percentile = *pct;
    expr.stat = absl::StrCat("p(", JsNumberToString(*pct), ")");
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown aggregation \"", std::string(lhs),
                     "\" (want one of value, count, rate, avg, min, med, max, p(N))"));
  }

  auto value = ParseNumber(rhs);
  if (!value) {
    return absl::InvalidArgumentError(
        absl::StrCat("right hand side \"", std::string(rhs), "\" is not a number"));
  }
  expr.value = *value;
  return expr;
}

absl::StatusOr<Thresholds> Thresholds::Parse(const nlohmann::json& thresholds) {
  Thresholds out;
  if (thresholds.is_null()) return out;
  if (!thresholds.is_object()) {
    return absl::InvalidArgumentError("thresholds must be an object of metric -> [expressions]");
  }
  for (const auto& [key, list] : thresholds.items()) {
    MetricThresholds mt;
    mt.key = key;
    if (auto s = ParseMetricKey(key, &mt.metric, &mt.filter); !s.ok()) return s;
    if (!list.is_array()) {
      return KeyError(key, list.dump(), "thresholds of a metric must be an array");
    }
    for (const auto& item : list) {
      std::string source;
      bool abort_on_fail = false;
      std::optional<absl::Duration> delay;
      if (item.is_string()) {
        source = item.get<std::string>();
      } else if (item.is_object()) {
        auto t = item.find("threshold");
        if (t == item.end() || !t->is_string()) {
          return KeyError(key, item.dump(), "an object threshold needs a \"threshold\" string");
        }
        source = t->get<std::string>();
        if (auto a = item.find("abortOnFail"); a != item.end() && !a->is_null()) {
          if (!a->is_boolean()) return KeyError(key, source, "abortOnFail must be a boolean");
          abort_on_fail = a->get<bool>();
        }
        if (auto d = item.find("delayAbortEval"); d != item.end() && !d->is_null()) {
          absl::Duration parsed;
          if (d->is_number()) {
            parsed = absl::Milliseconds(d->get<double>());
          } else if (!d->is_string() || !absl::ParseDuration(d->get<std::string>(), &parsed)) {
            return KeyError(key, source,
                            absl::StrCat("delayAbortEval ", d->dump(), " is not a duration"));
          }
          delay = parsed;
        }
      } else {
        return KeyError(key, item.dump(), "a threshold must be a string or an object");
      }
      auto expr = ParseThresholdExpr(source);
      if (!expr.ok()) return KeyError(key, source, std::string(expr.status().message()));
      expr->abort_on_fail = abort_on_fail;
      expr->delay_abort_eval = delay;
      mt.exprs.push_back(std::move(*expr));
    }
    out.last_failed_.emplace_back(mt.exprs.size(), false);
    out.metrics_.push_back(std::move(mt));
  }
  return out;
}

absl::Status Thresholds::Validate(const Registry& registry) {
  std::vector<std::string> problems;
  for (MetricThresholds& mt : metrics_) {
    const MetricDef* def = registry.Find(mt.metric);
    if (def == nullptr) {
      problems.push_back(absl::StrCat("invalid threshold defined on ", mt.key,
                                      ": no metric name \"", mt.metric, "\" found"));
      continue;
    }
    mt.type = def->type;
    auto supported = SupportedStats(def->type);
    for (const ThresholdExpr& e : mt.exprs) {
      std::string_view stat = e.percentile ? std::string_view("p(N)") : e.stat;
      if (std::find(supported.begin(), supported.end(), stat) != supported.end()) continue;
      problems.push_back(absl::StrCat("invalid threshold \"", e.source, "\" on metric ", mt.key,
                                      ": ", e.percentile ? "p(N)" : e.stat,
                                      " is not supported on a ",
                                      std::string(MetricTypeName(def->type)),
                                      " metric (supported: ", absl::StrJoin(supported, ", "), ")"));
    }
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrJoin(problems, "\n"));
}

std::vector<ThresholdResult> Thresholds::Evaluate(const Store& store, absl::Duration elapsed,
                                                  bool final) {
  std::vector<ThresholdResult> results;
  for (std::size_t i = 0; i < metrics_.size(); ++i) {
    const MetricThresholds& mt = metrics_[i];
    std::optional<MetricTotals> totals = store.Totals(mt.metric, mt.filter);
    if (!totals && mt.type) {
      totals.emplace();
      totals->type = *mt.type;
    }
    bool skip = !totals || (totals->empty() && !final);

    for (std::size_t j = 0; j < mt.exprs.size(); ++j) {
      const ThresholdExpr& e = mt.exprs[j];
      if (!skip) {
        std::optional<double> lhs = totals->Value(e.stat, elapsed);
        bool pass = true;  // no value yet (a rate without samples): nothing to fail
        if (lhs) {
          switch (e.op) {
            case ThresholdOp::kLess:
              pass = *lhs < e.value;
              break;
            case ThresholdOp::kLessEqual:
              pass = *lhs <= e.value;
              break;
            case ThresholdOp::kGreater:
              pass = *lhs > e.value;
              break;
            case ThresholdOp::kGreaterEqual:
              pass = *lhs >= e.value;
              break;
            case ThresholdOp::kEqual:
              pass = *lhs == e.value;
              break;
            case ThresholdOp::kNotEqual:
              pass = *lhs != e.value;
              break;
          }
        }
        last_failed_[i][j] = !pass;
      }
      ThresholdResult r;
      r.key = mt.key;
      r.source = e.source;
      r.ok = !last_failed_[i][j];
      r.abort = !r.ok && e.abort_on_fail && (!e.delay_abort_eval || *e.delay_abort_eval < elapsed);
      results.push_back(std::move(r));
    }
  }
  return results;
}

bool Thresholds::LastOk(std::string_view key, std::string_view source) const {
  for (std::size_t i = 0; i < metrics_.size(); ++i) {
    if (metrics_[i].key != key) continue;
    for (std::size_t j = 0; j < metrics_[i].exprs.size(); ++j) {
      if (metrics_[i].exprs[j].source == source) return !last_failed_[i][j];
    }
  }
  return true;
}

bool Thresholds::AllOk() const {
  for (const auto& v : last_failed_) {
    if (std::find(v.begin(), v.end(), true) != v.end()) return false;
  }
  return true;
}

}  // namespace volley::metrics
