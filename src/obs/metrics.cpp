#include "obs/metrics.hpp"

#include <prometheus/text_serializer.h>

#include <sstream>

namespace v2m::obs {

Metrics::Metrics()
    : registry_(std::make_shared<prometheus::Registry>()),
      http_requests_(&prometheus::BuildCounter()
                          .Name("v2m_http_requests_total")
                          .Help("HTTP requests answered, by route and status")
                          .Register(*registry_)),
      http_duration_(&prometheus::BuildHistogram()
                          .Name("v2m_http_request_duration_seconds")
                          .Help("Time from request to response, by route")
                          .Register(*registry_)) {}

std::string Metrics::Serialize() const {
    const prometheus::TextSerializer serializer;
    std::ostringstream out;
    serializer.Serialize(out, registry_->Collect());
    return out.str();
}

prometheus::Histogram::BucketBoundaries LatencyBuckets() {
    return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

}  // namespace v2m::obs
