#include "common/metrics/summary.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "common/metrics/number_format.h"

namespace volley::metrics {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kSuccMark = "\u2713";       // ✓
constexpr const char* kFailMark = "\u2717";       // ✗
constexpr const char* kGroupPrefix = "\u2588";    // █
constexpr const char* kDetailsPrefix = "\u21b3";  // ↳
constexpr int kFaint = 2;
constexpr int kRed = 31;
constexpr int kGreen = 32;
constexpr int kCyan = 36;

// A JSON number as JavaScript would write it: integral values without a fraction.
Json Num(double v) {
  if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    return Json(static_cast<std::int64_t>(v));
  }
  if (!std::isfinite(v)) return Json();  // JSON.stringify writes null
  return Json(v);
}

double NumberOf(const Json& j) { return j.is_number() ? j.get<double>() : 0; }

// ---- grouping ----

struct GroupNode {
  std::string name;
  std::string path;
  std::vector<std::size_t> children;
  std::vector<CheckTotals> checks;
};

class GroupTree {
 public:
  GroupTree() {
    nodes_.push_back(GroupNode{"", "", {}, {}});
    index_[""] = 0;
  }

  std::size_t Ensure(const std::string& path) {
    if (auto it = index_.find(path); it != index_.end()) return it->second;
    auto sep = path.rfind("::");
    std::string parent_path = sep == std::string::npos ? "" : path.substr(0, sep);
    std::string name = sep == std::string::npos ? path : path.substr(sep + 2);
    std::size_t parent = Ensure(parent_path);
    std::size_t id = nodes_.size();
    nodes_.push_back(GroupNode{name, path, {}, {}});
    nodes_[parent].children.push_back(id);
    index_[path] = id;
    return id;
  }
  GroupNode& node(std::size_t i) { return nodes_[i]; }

  Json ToJson(std::size_t i) const {
    const GroupNode& n = nodes_[i];
    Json groups = Json::array();
    for (std::size_t c : n.children) groups.push_back(ToJson(c));
    Json checks = Json::array();
    for (const CheckTotals& c : n.checks) {
      std::string path = n.path + "::" + c.name;
      checks.push_back(Json{{"name", c.name},
                            {"path", path},
                            {"id", Md5Hex(path)},
                            {"passes", c.passes},
                            {"fails", c.fails}});
    }
    return Json{{"name", n.name},
                {"path", n.path},
                {"id", Md5Hex(n.path)},
                {"groups", std::move(groups)},
                {"checks", std::move(checks)}};
  }

 private:
  std::vector<GroupNode> nodes_;
  std::map<std::string, std::size_t> index_;
};

// ---- values ----

Json MetricValues(const MetricTotals& t, absl::Duration elapsed, const SummaryOptions& options) {
  Json values = Json::object();
  switch (t.type) {
    case MetricType::kCounter:
      values["count"] = Num(t.sum);
      values["rate"] = Num(t.PerSecond(elapsed));
      break;
    case MetricType::kGauge:
      values["value"] = Num(t.last);
      values["min"] = Num(t.min);
      values["max"] = Num(t.max);
      break;
    case MetricType::kRate:
      values["rate"] = Num(t.Rate());
      values["passes"] = Num(static_cast<double>(t.nonzero));
      values["fails"] = Num(static_cast<double>(t.count - t.nonzero));
      break;
    case MetricType::kTrend:
      for (const std::string& stat : options.trend_stats) {
        values[stat] = Num(t.Value(stat, elapsed).value_or(0));
      }
      break;
  }
  return values;
}

// ---- text ----

std::string Decorate(bool colors, const std::string& text, int color, int style = 0) {
  if (!colors) return text;
  std::string codes = std::to_string(color);
  if (style != 0) codes += ";" + std::to_string(style);
  return "\x1b[" + codes + "m" + text + "\x1b[0m";
}

// Characters on screen: UTF-8 code points, ANSI escape sequences excluded.
std::size_t StrWidth(const std::string& s) {
  std::size_t width = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    unsigned char c = s[i];
    if (c == 0x1b && i + 1 < s.size() && s[i + 1] == '[') {
      i += 2;
      while (i < s.size() && !(s[i] >= 0x40 && s[i] <= 0x7e)) ++i;
      continue;
    }
    if ((c & 0xc0) != 0x80) ++width;
  }
  return width;
}

std::string ToFixedNoTrailingZeros(double v, int precision) {
  return JsNumberToString(std::strtod(JsToFixed(v, precision).c_str(), nullptr));
}

std::string ToFixedNoTrailingZerosTrunc(double v, int precision) {
  double mult = std::pow(10.0, precision);
  return ToFixedNoTrailingZeros(std::trunc(mult * v) / mult, precision);
}

std::string HumanizeBytes(double bytes) {
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  if (bytes < 10) return JsNumberToString(bytes) + " B";
  int e = static_cast<int>(std::floor(std::log(bytes) / std::log(1000.0)));
  e = std::clamp(e, 0, 8);
  double val = std::floor(bytes / std::pow(1000.0, e) * 10 + 0.5) / 10;
  return JsToFixed(val, val < 10 ? 1 : 0) + " " + kUnits[e];
}

std::string HumanizeGenericDuration(double ms) {
  if (ms == 0) return "0s";
  if (ms < 0.001) return JsNumberToString(std::trunc(ms * 1000000)) + "ns";
  if (ms < 1) return ToFixedNoTrailingZerosTrunc(ms * 1000, 2) + "\u00b5s";
  if (ms < 1000) return ToFixedNoTrailingZerosTrunc(ms, 2) + "ms";

  std::string result =
      ToFixedNoTrailingZerosTrunc(std::fmod(ms, 60000) / 1000, ms > 60000 ? 0 : 2) + "s";
  double rem = std::trunc(ms / 60000);
  if (rem < 1) return result;
  result = JsNumberToString(std::fmod(rem, 60)) + "m" + result;
  rem = std::trunc(rem / 60);
  if (rem < 1) return result;
  return JsNumberToString(rem) + "h" + result;
}

std::string HumanizeDuration(double ms, const std::string& unit) {
  if (unit == "s") return JsToFixed(ms * 0.001, 2) + "s";
  if (unit == "ms") return JsToFixed(ms, 2) + "ms";
  if (unit == "us") return JsToFixed(ms * 1000, 2) + "\u00b5s";
  return HumanizeGenericDuration(ms);
}

std::string HumanizeValue(double v, const std::string& type, const std::string& contains,
                          const std::string& time_unit) {
  if (type == "rate") return JsToFixed(std::trunc(v * 100 * 100) / 100, 2) + "%";
  if (contains == "data") return HumanizeBytes(v);
  if (contains == "time") return HumanizeDuration(v, time_unit);
  return ToFixedNoTrailingZeros(v, 6);
}

// Collation weight of an ASCII character, approximating the Unicode root collation that k6's
// JavaScript localeCompare uses: punctuation and symbols, then digits, then letters ignoring case.
int PrimaryWeight(unsigned char c) {
  static const char kPunct[] = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$";
  if (const char* p = std::strchr(kPunct, c); p != nullptr && c != 0)
    return static_cast<int>(p - kPunct);
  if (c >= '0' && c <= '9') return 100 + (c - '0');
  if (c >= 'a' && c <= 'z') return 200 + (c - 'a');
  if (c >= 'A' && c <= 'Z') return 200 + (c - 'A');
  return 300 + c;
}

int LocaleCompare(const std::string& a, const std::string& b) {
  std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    int wa = PrimaryWeight(a[i]), wb = PrimaryWeight(b[i]);
    if (wa != wb) return wa < wb ? -1 : 1;
  }
  if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
  for (std::size_t i = 0; i < n; ++i) {  // lower case first
    bool la = std::islower(static_cast<unsigned char>(a[i])) != 0;
    bool lb = std::islower(static_cast<unsigned char>(b[i])) != 0;
    if (a[i] != b[i] && la != lb) return la ? -1 : 1;
  }
  return a.compare(b);
}

std::string DisplayName(const std::string& name) {
  auto pos = name.find('{');
  if (pos == std::string::npos) return name;
  return "{ " + name.substr(pos + 1, name.size() - pos - 2) + " }";
}

std::string IndentFor(const std::string& name) {
  return name.find('{') != std::string::npos ? "  " : "";
}

std::string SummarizeCheck(const std::string& indent, const Json& check, bool colors) {
  double passes = NumberOf(check["passes"]);
  double fails = NumberOf(check["fails"]);
  std::string name = check["name"].get<std::string>();
  if (fails == 0) return Decorate(colors, indent + kSuccMark + " " + name, kGreen);
  double pct = std::floor(100 * passes / (passes + fails));
  return Decorate(colors,
                  indent + kFailMark + " " + name + "\n" + indent + " " + kDetailsPrefix + "  " +
                      JsNumberToString(pct) + "% \u2014 " + kSuccMark + " " +
                      JsNumberToString(passes) + " / " + kFailMark + " " + JsNumberToString(fails),
                  kRed);
}

void SummarizeGroup(std::string indent, const Json& group, bool colors,
                    std::vector<std::string>* out) {
  if (group["name"].get<std::string>() != "") {
    out->push_back(indent + kGroupPrefix + " " + group["name"].get<std::string>() + "\n");
    indent += "  ";
  }
  const Json& checks = group["checks"];
  for (const Json& c : checks) out->push_back(SummarizeCheck(indent, c, colors));
  if (!checks.empty()) out->push_back("");
  for (const Json& g : group["groups"]) SummarizeGroup(indent, g, colors, out);
}

void SummarizeMetrics(const std::string& base_indent, const Json& data, bool colors,
                      std::vector<std::string>* out) {
  std::vector<std::string> trend_stats;
  std::string time_unit;
  if (const Json& o = data["options"]; o.is_object()) {
    if (o.contains("summaryTrendStats") && o["summaryTrendStats"].is_array()) {
      trend_stats = o["summaryTrendStats"].get<std::vector<std::string>>();
    }
    if (o.contains("summaryTimeUnit") && o["summaryTimeUnit"].is_string()) {
      time_unit = o["summaryTimeUnit"].get<std::string>();
    }
  }
  const std::string indent = base_indent + "  ";
  const Json& metrics = data["metrics"];

  std::vector<std::string> names;
  std::size_t name_len_max = 0;
  std::map<std::string, std::vector<std::string>> non_trend;  // value, then extras
  std::size_t non_trend_value_max = 0;
  std::size_t extra_max[2] = {0, 0};
  std::map<std::string, std::vector<std::string>> trend_cols;
  std::vector<std::size_t> trend_col_max(trend_stats.size(), 0);

  for (const auto& [name, metric] : metrics.items()) {
    names.push_back(name);
    name_len_max = std::max(name_len_max, StrWidth(IndentFor(name) + DisplayName(name)));
    std::string type = metric["type"].get<std::string>();
    std::string contains = metric["contains"].get<std::string>();
    const Json& values = metric["values"];
    auto value = [&values](const char* key) {
      return values.contains(key) ? NumberOf(values[key]) : 0.0;
    };

    if (type == "trend") {
      std::vector<std::string> cols;
      for (std::size_t i = 0; i < trend_stats.size(); ++i) {
        const std::string& stat = trend_stats[i];
        double v = values.contains(stat) ? NumberOf(values[stat]) : 0;
        std::string text =
            stat == "count" ? JsNumberToString(v) : HumanizeValue(v, type, contains, time_unit);
        trend_col_max[i] = std::max(trend_col_max[i], StrWidth(text));
        cols.push_back(std::move(text));
      }
      trend_cols[name] = std::move(cols);
      continue;
    }

    std::vector<std::string> parts;
    if (type == "counter") {
      parts = {HumanizeValue(value("count"), type, contains, time_unit),
               HumanizeValue(value("rate"), type, contains, time_unit) + "/s"};
    } else if (type == "gauge") {
      parts = {HumanizeValue(value("value"), type, contains, time_unit),
               "min=" + HumanizeValue(value("min"), type, contains, time_unit),
               "max=" + HumanizeValue(value("max"), type, contains, time_unit)};
    } else if (type == "rate") {
      parts = {HumanizeValue(value("rate"), type, contains, time_unit),
               std::string(kSuccMark) + " " + JsNumberToString(value("passes")),
               std::string(kFailMark) + " " + JsNumberToString(value("fails"))};
    } else {
      parts = {"[no data]"};
    }
    non_trend_value_max = std::max(non_trend_value_max, StrWidth(parts[0]));
    for (std::size_t i = 1; i < parts.size() && i <= 2; ++i) {
      extra_max[i - 1] = std::max(extra_max[i - 1], StrWidth(parts[i]));
    }
    non_trend[name] = std::move(parts);
  }

  // Sorted by name, sub-metrics right after their parent.
  std::sort(names.begin(), names.end(), [](const std::string& a, const std::string& b) {
    std::string pa = a.substr(0, a.find('{'));
    std::string pb = b.substr(0, b.find('{'));
    if (int c = LocaleCompare(pa, pb); c != 0) return c < 0;
    return LocaleCompare(a.substr(pa.size()), b.substr(pb.size())) < 0;
  });

  for (const std::string& name : names) {
    const Json& metric = metrics[name];
    std::string data_text;
    if (auto it = trend_cols.find(name); it != trend_cols.end()) {
      std::vector<std::string> cols;
      for (std::size_t i = 0; i < it->second.size(); ++i) {
        const std::string& col = it->second[i];
        cols.push_back(trend_stats[i] + "=" + Decorate(colors, col, kCyan) +
                       std::string(trend_col_max[i] - StrWidth(col), ' '));
      }
      for (std::size_t i = 0; i < cols.size(); ++i) data_text += (i ? " " : "") + cols[i];
    } else {
      const auto& parts = non_trend[name];
      data_text = Decorate(colors, parts[0], kCyan) +
                  std::string(non_trend_value_max - StrWidth(parts[0]), ' ');
      if (parts.size() == 2) {
        data_text += " " + Decorate(colors, parts[1], kCyan, kFaint);
      } else if (parts.size() > 2) {
        for (std::size_t i = 1; i < parts.size(); ++i) {
          data_text += " " + Decorate(colors, parts[i], kCyan, kFaint) +
                       std::string(extra_max[i - 1] - StrWidth(parts[i]), ' ');
        }
      }
    }

    std::string mark = " ";
    int mark_color = 0;
    if (metric.contains("thresholds") && metric["thresholds"].is_object()) {
      mark = kSuccMark;
      mark_color = kGreen;
      for (const auto& [source, result] : metric["thresholds"].items()) {
        if (result.is_object() && result.contains("ok") && !result["ok"].get<bool>()) {
          mark = kFailMark;
          mark_color = kRed;
          break;
        }
      }
    }
    std::string fmt_indent = IndentFor(name);
    std::string display = DisplayName(name);
    std::size_t dots = name_len_max - StrWidth(display) - StrWidth(fmt_indent) + 3;
    std::string fmt_name = display + Decorate(colors, std::string(dots, '.') + ":", kFaint);
    std::string marked = mark_color ? Decorate(colors, mark, mark_color) : mark;
    out->push_back(indent + fmt_indent + marked + " " + fmt_name + " " + data_text);
  }
}

// ---- export ----

Json LegacyGroup(const Json& group) {
  Json out = Json::object();
  for (const auto& [key, value] : group.items()) {
    if (key == "groups" && value.is_array()) {
      Json groups = Json::object();
      for (const Json& g : value) groups[g["name"].get<std::string>()] = LegacyGroup(g);
      out[key] = std::move(groups);
    } else if (key == "checks" && value.is_array()) {
      Json checks = Json::object();
      for (const Json& c : value) checks[c["name"].get<std::string>()] = c;
      out[key] = std::move(checks);
    } else {
      out[key] = value;
    }
  }
  return out;
}

}  // namespace

absl::Status ValidateTrendStats(const std::vector<std::string>& stats) {
  for (const std::string& s : stats) {
    if (s == "avg" || s == "min" || s == "med" || s == "max" || s == "count") continue;
    if (s.size() > 3 && s.compare(0, 2, "p(") == 0 && s.back() == ')') {
      std::string number = s.substr(2, s.size() - 3);
      char* end = nullptr;
      double pct = std::strtod(number.c_str(), &end);
      if (end == number.c_str() + number.size() && pct >= 0 && pct <= 100) continue;
      return absl::InvalidArgumentError(absl::StrCat("invalid percentile trend stat value '", s,
                                                     "', provide a number between 0 and 100"));
    }
    return absl::InvalidArgumentError(absl::StrCat("invalid trend stat '", s, "', unknown format"));
  }
  return absl::OkStatus();
}

Json BuildSummaryData(const SummaryInputs& in, const SummaryOptions& options) {
  const Store& store = *in.store;
  absl::Duration elapsed = in.test_run_duration;

  // Groups and checks.
  GroupTree tree;
  for (const std::string& path : store.GroupPaths()) tree.Ensure(path);
  for (const CheckTotals& c : store.Checks()) tree.node(tree.Ensure(c.group)).checks.push_back(c);

  // Which metrics: sampled ones, threshold keys and their parents, expected_response.
  struct Entry {
    std::string name;
    std::string metric;
    TagSet filter;
    const MetricThresholds* thresholds = nullptr;
  };
  std::vector<Entry> entries;
  std::map<std::string, std::size_t> by_name;
  auto add = [&](const std::string& name, const std::string& metric, const TagSet& filter) {
    auto [it, inserted] = by_name.emplace(name, entries.size());
    if (inserted) entries.push_back(Entry{name, metric, filter, nullptr});
    return it->second;
  };
  for (const MetricInfo& m : store.Metrics()) {
    auto t = store.Totals(m.name);
    if (t && !t->empty()) add(m.name, m.name, {});
  }
  if (in.thresholds != nullptr) {
    for (const MetricThresholds& mt : in.thresholds->metrics()) {
      entries[add(mt.key, mt.metric, mt.filter)].thresholds = &mt;
      if (!mt.filter.empty()) add(mt.metric, mt.metric, {});
    }
  }
  if (options.expected_response_submetric) {
    TagSet filter = {{"expected_response", "true"}};
    auto t = store.Totals("http_req_duration", filter);
    if (t && !t->empty()) {
      add("http_req_duration{expected_response:true}", "http_req_duration", filter);
    }
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });

  Json metrics = Json::object();
  for (const Entry& e : entries) {
    std::optional<MetricTotals> totals = store.Totals(e.metric, e.filter);
    if (!totals) {
      // Named by a threshold but never sampled: its type comes from the registry.
      const MetricDef* def = in.registry ? in.registry->Find(e.metric) : nullptr;
      if (def == nullptr && e.thresholds != nullptr && e.thresholds->type) {
        totals.emplace();
        totals->type = *e.thresholds->type;
      } else if (def != nullptr) {
        totals.emplace();
        totals->type = def->type;
        totals->contains = def->contains;
      } else {
        continue;
      }
    }
    Json metric = Json::object();
    metric["type"] = std::string(MetricTypeName(totals->type));
    metric["contains"] = std::string(ValueTypeName(totals->contains));
    metric["values"] = MetricValues(*totals, elapsed, options);
    if (e.thresholds != nullptr && !e.thresholds->exprs.empty()) {
      Json thresholds = Json::object();
      for (const ThresholdExpr& x : e.thresholds->exprs) {
        thresholds[x.source] = Json{{"ok", in.thresholds->LastOk(e.name, x.source)}};
      }
      metric["thresholds"] = std::move(thresholds);
    }
    metrics[e.name] = std::move(metric);
  }

  Json data = Json::object();
  data["root_group"] = tree.ToJson(0);
  data["options"] = Json{{"summaryTrendStats", options.trend_stats},
                         {"summaryTimeUnit", options.time_unit},
                         {"noColor", options.no_color}};
  data["state"] = Json{{"isStdOutTTY", options.stdout_tty},
                       {"isStdErrTTY", options.stderr_tty},
                       {"testRunDurationMs", Num(absl::ToDoubleMilliseconds(elapsed))}};
  data["metrics"] = std::move(metrics);
  if (in.setup_data != nullptr) data["setup_data"] = Json::parse(in.setup_data->dump());
  return data;
}

std::string RenderTextSummary(const Json& data, bool enable_colors) {
  const std::string base_indent = " ";
  std::vector<std::string> lines;
  if (data.contains("root_group")) {
    SummarizeGroup(base_indent + "    ", data["root_group"], enable_colors, &lines);
  }
  if (data.contains("metrics")) SummarizeMetrics(base_indent, data, enable_colors, &lines);

  std::string text = "\n";
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (i) text += "\n";
    text += lines[i];
  }
  return text + "\n\n";
}

std::string RenderSummaryExport(const Json& data) {
  Json out = Json::object();
  for (const auto& [key, value] : data.items()) {
    if (key == "options" || key == "state") continue;
    if (key == "root_group") {
      out[key] = LegacyGroup(value);
    } else if (key == "metrics") {
      Json metrics = Json::object();
      for (const auto& [name, metric] : value.items()) {
        Json values = metric["values"];
        if (metric.contains("thresholds") && !metric["thresholds"].empty()) {
          Json thresholds = Json::object();
          for (const auto& [source, result] : metric["thresholds"].items()) {
            thresholds[source] = !(result.contains("ok") && result["ok"].get<bool>());
          }
          values["thresholds"] = std::move(thresholds);
        }
        if (metric["type"] == "rate" && values.contains("rate")) {
          values["value"] = values["rate"];
          values.erase("rate");
        }
        metrics[name] = std::move(values);
      }
      out[key] = std::move(metrics);
    } else {
      out[key] = value;
    }
  }
  return out.dump(4);
}

std::string Md5Hex(const std::string& text) {
  static const std::uint32_t kShift[64] = {
      7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 7,  12, 17, 22, 5,  9,  14, 20, 5,  9,
      14, 20, 5,  9,  14, 20, 5,  9,  14, 20, 4,  11, 16, 23, 4,  11, 16, 23, 4,  11, 16, 23,
      4,  11, 16, 23, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21, 6,  10, 15, 21};
  static const auto kTable = [] {
    std::array<std::uint32_t, 64> k{};
    for (int i = 0; i < 64; ++i) {
      k[i] = static_cast<std::uint32_t>(std::floor(std::fabs(std::sin(i + 1.0)) * 4294967296.0));
    }
    return k;
  }();

  std::string msg = text;
  std::uint64_t bit_len = static_cast<std::uint64_t>(text.size()) * 8;
  msg += static_cast<char>(0x80);
  while (msg.size() % 64 != 56) msg += '\0';
  for (int i = 0; i < 8; ++i) msg += static_cast<char>((bit_len >> (8 * i)) & 0xff);

  std::uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  for (std::size_t chunk = 0; chunk < msg.size(); chunk += 64) {
    std::uint32_t m[16];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const unsigned char*>(msg.data() + chunk + 4 * i);
      m[i] = p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
    }
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; ++i) {
      std::uint32_t f;
      int g;
      if (i < 16) {
        f = (b & c) | (~b & d);
        g = i;
      } else if (i < 32) {
        f = (d & b) | (~d & c);
        g = (5 * i + 1) % 16;
      } else if (i < 48) {
        f = b ^ c ^ d;
        g = (3 * i + 5) % 16;
      } else {
        f = c ^ (b | ~d);
        g = (7 * i) % 16;
      }
      f = f + a + kTable[i] + m[g];
      a = d;
      d = c;
      c = b;
      b = b + ((f << kShift[i]) | (f >> (32 - kShift[i])));
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
  }
  std::string hex;
  char buf[3];
  for (std::uint32_t word : h) {
    for (int i = 0; i < 4; ++i) {
      std::snprintf(buf, sizeof(buf), "%02x", (word >> (8 * i)) & 0xff);
      hex += buf;
    }
  }
  return hex;
}

}  // namespace volley::metrics
