//! Reflector stores with a readiness signal that any number of tasks can wait on.
//!
//! `Store::wait_until_ready` wakes only its most recent waiter, and a `Controller` already
//! waits on its own store: a second task waiting on the same store can steal the wake-up and
//! stall the controller or itself. So readiness is published here through a watch channel,
//! set when the reflector sees the end of its initial list.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::ResourceExt;
use kube::api::ObjectMeta;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

use crate::api::Guarded;
use crate::kinds::Kind;

mod images;
mod lists;
mod pace;
mod packed;
mod triggers;
pub use images::{ImageFeed, index_images};
pub use lists::{list_config, probe_streaming_lists};
pub use pace::Pace;
pub use packed::{Holds, Packed};
pub use triggers::{Paced, pace_key, trigger_objects};

/// Resolves once a store holds its initial list.
#[derive(Clone)]
pub struct Synced(watch::Receiver<bool>);

impl Synced {
    pub async fn wait(&self) {
        let mut rx = self.0.clone();
        let _ = rx.wait_for(|synced| *synced).await;
    }

    pub fn is_synced(&self) -> bool {
        *self.0.borrow()
    }
}

/// The backoff of every watch here: 0.5 s doubling to 5 s, back to 0.5 s at the first event
/// that arrives. kube's default (0.8 s to 30 s with jitter, kept for 120 s) let a few errors
/// around an apiserver restart (refused connections, 403 until its authorizer is ready, 410
/// for an expired resourceVersion) hold the controllers back for a minute after the apiserver
/// was serving again.
#[derive(Clone, Debug)]
pub struct WatchBackoff {
    next: Duration,
}

impl WatchBackoff {
    const FIRST: Duration = Duration::from_millis(500);
    const MAX: Duration = Duration::from_secs(5);
}

impl Default for WatchBackoff {
    fn default() -> Self {
        WatchBackoff { next: Self::FIRST }
    }
}

impl Iterator for WatchBackoff {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        let delay = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        Some(delay)
    }
}

impl kube::runtime::utils::Backoff for WatchBackoff {
    fn reset(&mut self) {
        self.next = Self::FIRST;
    }
}

/// The backoff of a controller's merged trigger stream: none, as each watch in it already
/// backs off on its own ([`WatchBackoff`]). kube's default there (0.8 s doubling to 30 s with
/// jitter, kept for 120 s) pauses every watch of the controller at once, for up to a minute,
/// whenever any of them fails: after an apiserver restart the item watch waited behind the
/// image watch's errors until its relist came minutes late.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoTriggerBackoff;

impl Iterator for NoTriggerBackoff {
    type Item = Duration;

    // Never `None`: that would end the trigger stream, and with it the controller.
    fn next(&mut self) -> Option<Duration> {
        Some(Duration::ZERO)
    }
}

impl kube::runtime::utils::Backoff for NoTriggerBackoff {
    fn reset(&mut self) {}
}

/// Told of an object a watch cannot decode (once per version of it), with its reference and
/// why: the controller warns in an event and the log, and the object stays out of the store.
pub type OnInvalid = Arc<dyn Fn(ObjectReference, String) + Send + Sync>;

/// A store of `K` (in `namespace`, or all, filtered by `config`) holding each object as `S`
/// (the object itself, or [`Packed`]), its readiness, and the event stream that fills both (to
/// be driven by a controller or spawned). The watch reads objects through
/// [`Guarded`], so one object the operator cannot decode (written by another
/// component in another shape) never stalls the others: it goes to `on_invalid` instead, and
/// leaves the store if an earlier version of it was there.
pub fn reflect<K: Kind, S: Holds<K>>(
    client: kube::Client,
    namespace: Option<&str>,
    config: watcher::Config,
    on_invalid: OnInvalid,
) -> (
    Store<S>,
    Synced,
    impl Stream<Item = Result<watcher::Event<S>, watcher::Error>> + Send + 'static,
) {
    let (reader, writer) = reflector::store();
    let (tx, rx) = watch::channel(false);
    // The version of each undecodable object last told of: one entry per such object, so a
    // long-lived watch does not collect every version it ever saw.
    let mut told = HashMap::new();
    let lookup = reader.clone();
    let watch = watcher(K::guarded_api(client, namespace), list_config(config))
        .backoff(WatchBackoff::default())
        .filter_map(move |event| {
            let event = event.map(|e| decoded(e, &lookup, &mut told, &on_invalid));
            futures::future::ready(event.transpose())
        });
    let events = reflector::reflector(writer, watch).inspect(move |event| {
        if let Ok(watcher::Event::InitDone) = event {
            tx.send_replace(true);
        }
    });
    (reader, Synced(rx), events)
}

/// The event of a decoded object, held as `S` (managedFields are nearly half of each object
/// and nothing here reads them: they are dropped); for one that cannot be decoded,
/// `on_invalid` is told (once per uid and resourceVersion) and the event becomes the Delete of
/// what the store holds of it.
fn decoded<K: Kind, S: Holds<K>>(
    event: watcher::Event<Guarded<K>>,
    store: &Store<S>,
    told: &mut HashMap<String, String>,
    on_invalid: &OnInvalid,
) -> Option<watcher::Event<S>> {
    use watcher::Event;
    type Rebuild<S> = fn(S) -> watcher::Event<S>;
    let (guard, apply): (Guarded<K>, Rebuild<S>) = match event {
        Event::Init => return Some(Event::Init),
        Event::InitDone => return Some(Event::InitDone),
        Event::InitApply(g) => (g, Event::InitApply),
        Event::Apply(g) => (g, Event::Apply),
        Event::Delete(g) => (g, Event::Delete),
    };
    let invalid = match guard.0 {
        Ok(mut obj) => {
            obj.managed_fields_mut().clear();
            return Some(apply(S::hold(obj)));
        }
        Err(invalid) => invalid,
    };
    let meta = &invalid.metadata;
    let name = meta.name.clone().unwrap_or_default();
    let version = meta.resource_version.clone().unwrap_or_default();
    let uid = meta.uid.clone().unwrap_or_default();
    if told.get(&uid) != Some(&version) {
        told.insert(uid, version);
        on_invalid(object_reference::<K>(meta), invalid.error.to_string());
    }
    let held = store.get(&store_key::<S>(&name, meta.namespace.as_deref()))?;
    Some(Event::Delete(S::clone(&held)))
}

/// A reference to the object of `meta`, of kind `K`, for events.
fn object_reference<K: Kind>(meta: &ObjectMeta) -> ObjectReference {
    ObjectReference {
        api_version: Some(K::api_version(&()).into_owned()),
        kind: Some(K::kind(&()).into_owned()),
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        uid: meta.uid.clone(),
        ..Default::default()
    }
}

/// An [`OnInvalid`] that logs a warning and publishes a Warning event `ObjectInvalid` on the
/// object.
pub fn report_invalid(recorder: kube::runtime::events::Recorder) -> OnInvalid {
    Arc::new(move |reference: ObjectReference, error: String| {
        tracing::warn!(
            kind = reference.kind.as_deref().unwrap_or_default(),
            namespace = reference.namespace.as_deref().unwrap_or_default(),
            name = reference.name.as_deref().unwrap_or_default(),
            error = %error,
            "object cannot be read; it is left out until it changes"
        );
        let recorder = recorder.clone();
        tokio::spawn(async move {
            let event = kube::runtime::events::Event {
                type_: kube::runtime::events::EventType::Warning,
                reason: "ObjectInvalid".into(),
                note: Some(format!("vmi-operator cannot read this object: {error}")),
                action: "Read".into(),
                secondary: None,
            };
            if let Err(e) = recorder.publish(&event, &reference).await {
                tracing::warn!(error = %e, "cannot publish event");
            }
        });
    })
}

/// The store key of an object by name, in `namespace` for namespaced kinds.
pub fn store_key<K: Stored>(name: &str, namespace: Option<&str>) -> ObjectRef<K> {
    match namespace {
        Some(ns) => ObjectRef::new(name).within(ns),
        None => ObjectRef::new(name),
    }
}

/// What a store holds: an object, or one [`Packed`].
pub trait Stored: kube::Resource<DynamicType = ()> + Clone + Send + Sync + 'static {}
impl<S: kube::Resource<DynamicType = ()> + Clone + Send + Sync + 'static> Stored for S {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watch_backoff_doubles_to_five_seconds_and_resets() {
        use kube::runtime::utils::Backoff;
        let mut b = WatchBackoff::default();
        let delays: Vec<u64> = (0..6)
            .map(|_| b.next().unwrap().as_millis() as u64)
            .collect();
        assert_eq!(delays, [500, 1000, 2000, 4000, 5000, 5000]);
        b.reset();
        assert_eq!(b.next(), Some(Duration::from_millis(500)));
    }

    #[test]
    fn triggers_never_wait_and_never_end() {
        let delays: Vec<_> = NoTriggerBackoff.take(100).collect();
        assert_eq!(delays, vec![Duration::ZERO; 100]);
    }
}
