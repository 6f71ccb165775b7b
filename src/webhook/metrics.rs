//! Prometheus metrics of the webhook (prometheus-client families, registered under `webhook_`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// How a request ended.
pub(crate) mod result {
    /// Admitted unchanged.
    pub const ALLOWED: &str = "allowed";
    /// Admitted with a patch.
    pub const PATCHED: &str = "patched";
    /// Refused by a rule.
    pub const DENIED: &str = "denied";
    /// Not answered with a decision: bad request, index not synced, timeout.
    pub const ERROR: &str = "error";
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    path: &'static str,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabels {
    path: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DenialLabels {
    path: &'static str,
    reason: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs .. ~1.6 s
    Histogram::new(exponential_buckets(0.000_05, 2.0, 16))
}

/// The webhook's metric families. Cheap to clone (the families are shared).
#[derive(Clone, Debug)]
pub struct WebhookMetrics {
    requests: Family<RequestLabels, Counter>,
    denials: Family<DenialLabels, Counter>,
    latency: Family<PathLabels, Histogram, fn() -> Histogram>,
}

impl Default for WebhookMetrics {
    /// Families registered nowhere (tests, benches).
    fn default() -> Self {
        Self::unregistered()
    }
}

impl WebhookMetrics {
    /// Registers the families in `registry` under the prefix `webhook`:
    /// `webhook_requests_total{path,result}`, `webhook_denials_total{path,reason}` and
    /// `webhook_request_duration_seconds{path}`.
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Self::unregistered();
        let sub = registry.sub_registry_with_prefix("webhook");
        sub.register(
            "requests",
            "Admission requests by path and result (allowed, patched, denied, error)",
            metrics.requests.clone(),
        );
        sub.register(
            "denials",
            "Refused admission requests by path and reason",
            metrics.denials.clone(),
        );
        sub.register(
            "request_duration_seconds",
            "Time to answer an admission request, by path",
            metrics.latency.clone(),
        );
        metrics
    }

    fn unregistered() -> Self {
        WebhookMetrics {
            requests: Family::default(),
            denials: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        }
    }

    pub(crate) fn observe(&self, path: &'static str, result: &'static str, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels { path, result })
            .inc();
        self.latency
            .get_or_create(&PathLabels { path })
            .observe(seconds);
    }

    pub(crate) fn denied(&self, path: &'static str, reason: &'static str) {
        self.denials
            .get_or_create(&DenialLabels { path, reason })
            .inc();
    }

    /// The count of requests of `path` that ended with `result` (for tests).
    pub fn requests(&self, path: &'static str, result: &'static str) -> u64 {
        self.requests
            .get_or_create(&RequestLabels { path, result })
            .get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn registers_and_encodes() {
        let mut registry = Registry::default();
        let metrics = WebhookMetrics::register(&mut registry);
        metrics.observe("/mutate", result::PATCHED, 0.001);
        metrics.denied("/mutate", "ImageNotFound");
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(
            text.contains("webhook_requests_total{path=\"/mutate\",result=\"patched\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("webhook_denials_total{path=\"/mutate\",reason=\"ImageNotFound\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("webhook_request_duration_seconds_count{path=\"/mutate\"} 1"),
            "{text}"
        );
        assert_eq!(metrics.requests("/mutate", result::PATCHED), 1);
    }
}
