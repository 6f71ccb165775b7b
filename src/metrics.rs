//! Prometheus metrics of the controllers (the webhook registers its own).

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ControllerLabels {
    pub controller: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub controller: String,
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LibraryLabels {
    pub library: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ImageStateLabels {
    pub scope: String,
    pub ready: String,
}

/// The controllers' metrics.
pub struct Metrics {
    pub reconciles: Family<ControllerLabels, Counter>,
    pub reconcile_errors: Family<ErrorLabels, Counter>,
    pub reconcile_duration: Family<ControllerLabels, Histogram>,
    pub reconciles_in_flight: Family<ControllerLabels, Gauge>,
    pub writes: Family<ControllerLabels, Counter>,
    pub ovf_fetches: Family<ControllerLabels, Counter>,
    pub images: Family<ImageStateLabels, Gauge>,
    pub library_sync_duration: Family<LibraryLabels, Histogram>,
    pub library_items: Family<LibraryLabels, Gauge>,
}

fn duration_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

impl Metrics {
    pub fn register(registry: &mut Registry) -> Self {
        let metrics = Metrics {
            reconciles: Family::default(),
            reconcile_errors: Family::default(),
            reconcile_duration: Family::new_with_constructor(duration_histogram),
            reconciles_in_flight: Family::default(),
            writes: Family::default(),
            ovf_fetches: Family::default(),
            images: Family::default(),
            library_sync_duration: Family::new_with_constructor(duration_histogram),
            library_items: Family::default(),
        };
        let r = registry.sub_registry_with_prefix("vmi_operator");
        r.register(
            "reconciles",
            "Reconciles run, by controller",
            metrics.reconciles.clone(),
        );
        r.register(
            "reconcile_errors",
            "Reconciles that failed, by controller and reason",
            metrics.reconcile_errors.clone(),
        );
        r.register(
            "reconcile_duration_seconds",
            "Time a reconcile took",
            metrics.reconcile_duration.clone(),
        );
        r.register(
            "reconciles_in_flight",
            "Reconciles running now (the work queue's active depth)",
            metrics.reconciles_in_flight.clone(),
        );
        r.register(
            "writes",
            "Writes to the API server, by controller",
            metrics.writes.clone(),
        );
        r.register(
            "ovf_fetches",
            "OVF descriptors fetched from library sources",
            metrics.ovf_fetches.clone(),
        );
        r.register(
            "images",
            "Images by scope and Ready state, as last reconciled",
            metrics.images.clone(),
        );
        r.register(
            "library_sync_duration_seconds",
            "Time a library sync took",
            metrics.library_sync_duration.clone(),
        );
        r.register(
            "library_items",
            "Items in the last successful listing of a library",
            metrics.library_items.clone(),
        );
        metrics
    }

    /// Records the start of a reconcile; the guard records its end.
    pub fn reconcile_started(&self, controller: &str) -> ReconcileTimer<'_> {
        let labels = ControllerLabels {
            controller: controller.to_string(),
        };
        self.reconciles.get_or_create(&labels).inc();
        self.reconciles_in_flight.get_or_create(&labels).inc();
        ReconcileTimer {
            metrics: self,
            labels,
            started: std::time::Instant::now(),
        }
    }

    pub fn reconcile_failed(&self, controller: &str, reason: &str) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                controller: controller.to_string(),
                reason: reason.to_string(),
            })
            .inc();
    }

    pub fn wrote(&self, controller: &str, count: u64) {
        self.writes
            .get_or_create(&ControllerLabels {
                controller: controller.to_string(),
            })
            .inc_by(count);
    }
}

/// Ends a reconcile's measurement when dropped.
pub struct ReconcileTimer<'a> {
    metrics: &'a Metrics,
    labels: ControllerLabels,
    started: std::time::Instant,
}

impl ReconcileTimer<'_> {
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .reconcile_duration
            .get_or_create(&self.labels)
            .observe(self.started.elapsed().as_secs_f64());
        self.metrics
            .reconciles_in_flight
            .get_or_create(&self.labels)
            .dec();
    }
}
