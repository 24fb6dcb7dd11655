// The metrics registry. See metrics.h.
#include "util/metrics.h"

#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>

namespace strata::metrics {
namespace {

struct Histogram {
  std::vector<uint64_t> buckets = std::vector<uint64_t>(std::size(kBuckets));
  uint64_t count = 0;
  double sum = 0;
};

struct Metric {
  Type type = Type::kCounter;
  std::string help;
  std::map<Labels, double> counters;
  std::map<Labels, Histogram> histograms;
  std::shared_ptr<GaugeReader> gauge;
  uint64_t gauge_token = 0;  // the ScopedGauge that set `gauge`
};

struct Registry {
  std::mutex mu;
  std::map<std::string, Metric> metrics;  // GUARDED_BY(mu)
  uint64_t next_token = 1;                // GUARDED_BY(mu)
  // Expositions reading gauges now (outside mu): a ScopedGauge going
  // away waits for them, so no reader runs after its owner is gone.
  int readers = 0;  // GUARDED_BY(mu)
  std::condition_variable no_readers;
};

Registry& Global() {
  static Registry* r = new Registry;  // never destroyed: used at exit
  return *r;
}

Metric& Find(Registry& r, const std::string& name, Type type) {
  auto [it, added] = r.metrics.try_emplace(name);
  if (added) it->second.type = type;
  return it->second;
}

// Label values escaped as the format says: \\, \", \n.
std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"')
      out += '\\', out += c;
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string Series(const std::string& name, const Labels& labels,
                   const std::string& extra = "") {
  std::string s = name;
  if (labels.empty() && extra.empty()) return s;
  s += '{';
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) s += ',';
    s += k + "=\"" + Escape(v) + '"';
    first = false;
  }
  if (!extra.empty()) s += (first ? "" : ",") + extra;
  return s + '}';
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  // The shortest text that reads back as `v` ("0.005", not 0.00500…01).
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    default:
      return "histogram";
  }
}

}  // namespace

void Describe(const std::string& name, Type type, const std::string& help) {
  Registry& r = Global();
  std::lock_guard<std::mutex> l(r.mu);
  Metric& m = Find(r, name, type);
  m.type = type;
  m.help = help;
}

void Add(const std::string& name, const Labels& labels, double v) {
  Registry& r = Global();
  std::lock_guard<std::mutex> l(r.mu);
  Find(r, name, Type::kCounter).counters[labels] += v;
}

void Observe(const std::string& name, const Labels& labels, double v) {
  Registry& r = Global();
  std::lock_guard<std::mutex> l(r.mu);
  Histogram& h = Find(r, name, Type::kHistogram).histograms[labels];
  for (size_t i = 0; i < std::size(kBuckets); ++i)
    if (v <= kBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += v;
}

ScopedGauge::ScopedGauge(std::string name, const std::string& help,
                         GaugeReader read)
    : name_(std::move(name)) {
  Registry& r = Global();
  std::lock_guard<std::mutex> l(r.mu);
  Metric& m = Find(r, name_, Type::kGauge);
  m.type = Type::kGauge;
  m.help = help;
  m.gauge = std::make_shared<GaugeReader>(std::move(read));
  m.gauge_token = token_ = r.next_token++;
}

ScopedGauge::~ScopedGauge() {
  Registry& r = Global();
  std::unique_lock<std::mutex> l(r.mu);
  auto it = r.metrics.find(name_);
  // A later ScopedGauge of the same name replaced this one: it stays.
  if (it != r.metrics.end() && it->second.gauge_token == token_)
    it->second.gauge.reset();
  r.no_readers.wait(l, [&r] { return r.readers == 0; });
}

std::string Exposition() {
  Registry& r = Global();
  // Gauges are read outside the lock: a reader may take its owner's locks,
  // and an owner may record a metric while holding them.
  std::map<std::string, Metric> copy;
  {
    std::lock_guard<std::mutex> l(r.mu);
    copy = r.metrics;
    ++r.readers;
  }
  struct Done {
    Registry& r;
    ~Done() {
      std::lock_guard<std::mutex> l(r.mu);
      if (--r.readers == 0) r.no_readers.notify_all();
    }
  } done{r};
  std::string out;
  for (auto& [name, m] : copy) {
    std::vector<std::pair<Labels, double>> gauge;
    if (m.type == Type::kGauge) {
      if (!m.gauge) continue;
      gauge = (*m.gauge)();
    }
    if (!m.help.empty()) out += "# HELP " + name + " " + m.help + "\n";
    out += "# TYPE " + name + " " + TypeName(m.type) + "\n";
    switch (m.type) {
      case Type::kCounter:
        for (const auto& [labels, v] : m.counters)
          out += Series(name, labels) + " " + Number(v) + "\n";
        break;
      case Type::kGauge:
        for (const auto& [labels, v] : gauge)
          out += Series(name, labels) + " " + Number(v) + "\n";
        break;
      case Type::kHistogram:
        for (const auto& [labels, h] : m.histograms) {
          for (size_t i = 0; i < std::size(kBuckets); ++i)
            out += Series(name + "_bucket", labels,
                          "le=\"" + Number(kBuckets[i]) + "\"") +
                   " " + Number(static_cast<double>(h.buckets[i])) + "\n";
          out += Series(name + "_bucket", labels, "le=\"+Inf\"") + " " +
                 Number(static_cast<double>(h.count)) + "\n";
          out += Series(name + "_sum", labels) + " " + Number(h.sum) + "\n";
          out += Series(name + "_count", labels) + " " +
                 Number(static_cast<double>(h.count)) + "\n";
        }
        break;
    }
  }
  return out;
}

double CounterValue(const std::string& name, const Labels& labels) {
  Registry& r = Global();
  std::lock_guard<std::mutex> l(r.mu);
  auto it = r.metrics.find(name);
  if (it == r.metrics.end()) return 0;
  auto c = it->second.counters.find(labels);
  return c == it->second.counters.end() ? 0 : c->second;
}

}  // namespace strata::metrics
