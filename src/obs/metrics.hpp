#pragma once

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <memory>
#include <string>

namespace v2m::obs {

/// The process's Prometheus registry and the metrics every role shares.
/// Thread-safe.
class Metrics final {
  public:
    Metrics();
    prometheus::Registry& registry() { return *registry_; }
    /// Everything in the Prometheus text format, for `GET /metrics`.
    std::string Serialize() const;

    /// `v2m_http_requests_total{method,route,status}`.
    prometheus::Family<prometheus::Counter>& http_requests() { return *http_requests_; }
    /// `v2m_http_request_duration_seconds{method,route}`.
    prometheus::Family<prometheus::Histogram>& http_duration() { return *http_duration_; }

  private:
    std::shared_ptr<prometheus::Registry> registry_;
    prometheus::Family<prometheus::Counter>* http_requests_;
    prometheus::Family<prometheus::Histogram>* http_duration_;
};

/// Buckets for request latencies in seconds (0.5 ms … 10 s).
prometheus::Histogram::BucketBoundaries LatencyBuckets();

}  // namespace v2m::obs
