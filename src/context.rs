//! What every controller shares: the client, the event recorder, metrics, sources, settings.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::Client;
use kube::Resource;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};

use crate::metrics::Metrics;
use crate::source::SourceRegistry;

/// Tunables of the controllers; their defaults are the flags' (`vmi-operator run --help`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// How often each library is listed again.
    pub sync_interval: Duration,
    /// How long one listing of a library may take.
    pub list_timeout: Duration,
    /// How long fetching one OVF descriptor may take.
    pub fetch_timeout: Duration,
    /// Reconciles running at once per controller.
    pub concurrency: u16,
    /// API writes in flight at once within one library sync.
    pub write_concurrency: usize,
    /// Watch namespaced libraries, items and images in this namespace only (None: all).
    pub watch_namespace: Option<String>,
}

/// Shared by all controllers.
pub struct Context {
    pub client: Client,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub sources: Arc<SourceRegistry>,
    pub settings: Settings,
    /// Which optional fields the installed CRDs declare (read at start-up).
    pub writable: crate::api::Writable,
}

/// Longest event note we publish (the API allows 1 KiB).
const MAX_NOTE: usize = 1000;

impl Context {
    pub fn new(
        client: Client,
        metrics: Arc<Metrics>,
        sources: Arc<SourceRegistry>,
        settings: Settings,
        writable: crate::api::Writable,
        instance: Option<String>,
    ) -> Self {
        let reporter = Reporter {
            controller: "vmi-operator".into(),
            instance,
        };
        Context {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            metrics,
            sources,
            settings,
            writable,
        }
    }

    /// Publishes an event on `obj`; failures to publish are logged, never fatal.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        self.event_on(&obj.object_ref(&()), type_, reason, action, note)
            .await
    }

    /// Publishes an event on the object `reference` names.
    pub async fn event_on(
        &self,
        reference: &ObjectReference,
        type_: EventType,
        reason: &str,
        action: &str,
        note: String,
    ) {
        let event = Event {
            type_,
            reason: reason.into(),
            note: Some(truncate_note(note)),
            action: action.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, reference).await {
            let name = reference.name.as_deref().unwrap_or_default();
            tracing::warn!(object = %name, error = %e, "cannot publish event");
        }
    }
}

fn truncate_note(mut note: String) -> String {
    if note.len() > MAX_NOTE {
        let mut cut = MAX_NOTE;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
        note.push('…');
    }
    note
}
