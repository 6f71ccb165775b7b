//! Reflector stores with a readiness signal that any number of tasks can wait on.
//!
//! `Store::wait_until_ready` wakes only its most recent waiter, and a `Controller` already
//! waits on its own store: a second task waiting on the same store can steal the wake-up and
//! stall the controller or itself. So readiness is published here through a watch channel,
//! set when the reflector sees the end of its initial list.

use futures::{Stream, StreamExt};
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, ResourceExt};
use tokio::sync::watch;

use crate::kinds::Kind;

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

/// A store for `api` (filtered by `config`), its readiness, and the event stream that fills
/// both (to be driven by a controller or spawned).
pub fn reflect<K: Kind>(
    api: Api<K>,
    config: watcher::Config,
) -> (
    Store<K>,
    Synced,
    impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
) {
    let (reader, writer) = reflector::store();
    let (tx, rx) = watch::channel(false);
    // managedFields are nearly half of each object and nothing here reads them: keep them out
    // of the stores.
    let watch = watcher(api, config)
        .default_backoff()
        .modify(|obj| obj.managed_fields_mut().clear());
    let events = reflector::reflector(writer, watch).inspect(move |event| {
        if let Ok(watcher::Event::InitDone) = event {
            tx.send_replace(true);
        }
    });
    (reader, Synced(rx), events)
}

/// The objects of a reflector's events, to trigger reconciles: `Apply` (and `Delete` when
/// `deletes`) at once, but the objects of a (re)list only after its `InitDone`, when the store
/// holds them. A reconcile triggered between the pages of a relist would find its object
/// missing from the store and be dropped, never to be retried. Only the references of listed
/// objects are buffered (the objects are read back from `store` one at a time): buffering the
/// objects themselves doubled the memory of a restart with thousands of them.
pub fn trigger_objects<K: Kind>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    store: Store<K>,
    deletes: bool,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
    events
        .scan(Vec::new(), move |listed: &mut Vec<ObjectRef<K>>, event| {
            let out: Vec<Trigger<K>> = match event {
                Ok(watcher::Event::Init) => {
                    listed.clear();
                    vec![]
                }
                Ok(watcher::Event::InitApply(obj)) => {
                    listed.push(ObjectRef::from_obj(&obj));
                    vec![]
                }
                Ok(watcher::Event::InitDone) => listed.drain(..).map(Trigger::Listed).collect(),
                Ok(watcher::Event::Apply(obj)) => vec![Trigger::Object(obj)],
                Ok(watcher::Event::Delete(obj)) if deletes => vec![Trigger::Object(obj)],
                Ok(watcher::Event::Delete(_)) => vec![],
                Err(e) => vec![Trigger::Error(e)],
            };
            futures::future::ready(Some(futures::stream::iter(out)))
        })
        .flatten()
        .filter_map(move |trigger| {
            let out = match trigger {
                Trigger::Object(obj) => Some(Ok(obj)),
                // Gone from the store since its list: its delete event was seen (and handled).
                Trigger::Listed(key) => store.get(&key).map(|obj| Ok(K::clone(&obj))),
                Trigger::Error(e) => Some(Err(e)),
            };
            futures::future::ready(out)
        })
}

/// The store key of an object by name, in `namespace` for namespaced kinds.
pub fn store_key<K: Kind>(name: &str, namespace: Option<&str>) -> ObjectRef<K> {
    match namespace {
        Some(ns) => ObjectRef::new(name).within(ns),
        None => ObjectRef::new(name),
    }
}

enum Trigger<K: Kind> {
    Object(K),
    Listed(ObjectRef<K>),
    Error(watcher::Error),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ContentLibraryItem;
    use crate::kinds::ItemKind;
    use kube::api::ObjectMeta;

    fn item(name: &str) -> ContentLibraryItem {
        ContentLibraryItem::new_item(
            ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            "u",
            None,
        )
    }

    #[tokio::test]
    async fn listed_objects_wait_for_the_end_of_the_list() {
        let events = || {
            futures::stream::iter(vec![
                Ok(watcher::Event::Apply(item("a"))),
                Ok(watcher::Event::Init),
                Ok(watcher::Event::InitApply(item("b"))),
                Ok(watcher::Event::InitApply(item("c"))),
                Ok(watcher::Event::InitApply(item("gone"))),
                Ok(watcher::Event::InitDone),
                Ok(watcher::Event::Delete(item("d"))),
            ])
        };
        // The store as the reflector leaves it: "gone" was deleted after the list.
        let (store, mut writer) = reflector::store();
        for name in ["a", "b", "c"] {
            writer.apply_watcher_event(&watcher::Event::Apply(item(name)));
        }
        let names = |deletes| {
            trigger_objects(events(), store.clone(), deletes)
                .map(|r| r.unwrap().metadata.name.unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(names(false).await, ["a", "b", "c"]);
        assert_eq!(names(true).await, ["a", "b", "c", "d"]);
    }

    #[tokio::test]
    async fn listed_objects_are_read_back_from_the_store() {
        let (store, mut writer) = reflector::store();
        let mut newer = item("b");
        newer.metadata.resource_version = Some("2".into());
        writer.apply_watcher_event(&watcher::Event::Apply(newer));
        let events = futures::stream::iter(vec![
            Ok(watcher::Event::Init),
            Ok(watcher::Event::InitApply(item("b"))),
            Ok(watcher::Event::InitDone),
        ]);
        let got: Vec<_> = trigger_objects(events, store, false)
            .map(|r| r.unwrap().metadata.resource_version)
            .collect()
            .await;
        assert_eq!(got, [Some("2".to_string())]);
    }
}
