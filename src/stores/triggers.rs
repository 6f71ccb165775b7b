//! The triggers of a controller from a reflector's events: live events at once, the objects of a
//! list (and of a periodic resync) from the store once it holds them, paced by [`Pace`].

use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use tokio::sync::mpsc;

use super::{Pace, Stored};

/// The objects of a reflector's events, to trigger reconciles: `Apply` (and `Delete` when
/// `deletes`) at once, but the objects of a (re)list only after its `InitDone`, when the store
/// holds them. A reconcile triggered between the pages of a relist would find its object
/// missing from the store and be dropped, never to be retried. Nothing of a list is buffered:
/// at its end the store holds exactly what it listed, and its objects are handed over from a
/// snapshot of the store's references (buffering the objects doubled the memory of a restart
/// with thousands of them; their keys and a channel of them still took 10 MB at 20,000). With
/// `paced`, they are handed over a window at a time ([`Pace`]), while live events go on.
pub fn trigger_objects<K: Stored>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    store: Store<K>,
    deletes: bool,
    paced: Option<Paced<K>>,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
    // One message per list that ended: the store holds what it listed, and hands it over.
    let (listed_tx, listed_rx) = mpsc::unbounded_channel::<()>();
    // `None` marks the end of the events: the listed objects end once handed over.
    let live = events
        .map(Some)
        .chain(futures::stream::once(futures::future::ready(None)))
        .scan(Some(listed_tx), move |listed_tx, event| {
            let out: Vec<Result<K, watcher::Error>> = match event {
                None => {
                    listed_tx.take();
                    vec![]
                }
                // The reflector has applied the event: its store now holds the list.
                Some(Ok(watcher::Event::InitDone)) => {
                    if let Some(tx) = listed_tx {
                        let _ = tx.send(());
                    }
                    vec![]
                }
                Some(Ok(watcher::Event::Init | watcher::Event::InitApply(_))) => vec![],
                Some(Ok(watcher::Event::Apply(obj))) => vec![Ok(obj)],
                Some(Ok(watcher::Event::Delete(obj))) if deletes => vec![Ok(obj)],
                Some(Ok(watcher::Event::Delete(_))) => vec![],
                Some(Err(e)) => vec![Err(e)],
            };
            futures::future::ready(Some(futures::stream::iter(out)))
        })
        .flatten();
    let next_resync = paced
        .as_ref()
        .and_then(|p| p.resync)
        .map(|every| tokio::time::Instant::now() + every);
    let listed = Listed {
        rx: listed_rx,
        store,
        paced,
        resync: Vec::new().into_iter(),
        next_resync,
    };
    let listed = futures::stream::unfold(listed, |mut listed| async move {
        let obj = listed.next().await?;
        Some((Ok(obj), listed))
    });
    futures::stream::select(live, listed)
}

/// How [`trigger_objects`] paces a relist: the controller's [`Pace`], and the key of the
/// controller's object a listed object triggers (`None`: not paced).
pub struct Paced<K> {
    pub pace: Arc<Pace>,
    pub key: fn(&K) -> Option<String>,
    /// Hands over every object of the store this often, paced as a relist: the safety net for
    /// a lost wake-up. A requeue of each object from its reconcile does the same, but holds an
    /// entry per object in kube's scheduler for good (5.5 MB at 10,000 items).
    pub resync: Option<Duration>,
}

/// The listed objects of [`trigger_objects`]: those of each relist, and of each resync.
struct Listed<K: Stored> {
    /// A message when a list ended.
    rx: mpsc::UnboundedReceiver<()>,
    store: Store<K>,
    paced: Option<Paced<K>>,
    /// What is left to hand over of the store's objects at the last list or resync.
    resync: std::vec::IntoIter<Arc<K>>,
    next_resync: Option<tokio::time::Instant>,
}

impl<K: Stored> Listed<K> {
    /// The next object to hand over, once the pace admits it; `None` once the events ended.
    async fn next(&mut self) -> Option<K> {
        loop {
            let obj = match self.resync.next() {
                Some(obj) => obj,
                None => {
                    let at = self.next_resync;
                    let tick = async move {
                        match at {
                            Some(at) => tokio::time::sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    };
                    tokio::select! {
                        listed = self.rx.recv() => {
                            listed?;
                            // Lists that ended meanwhile: one snapshot covers them all.
                            while self.rx.try_recv().is_ok() {}
                        }
                        () = tick => {
                            let every = self.paced.as_ref().and_then(|p| p.resync);
                            self.next_resync = at.zip(every).map(|(at, every)| at + every);
                        }
                    }
                    self.resync = self.store.state().into_iter();
                    continue;
                }
            };
            if let Some(paced) = &self.paced
                && let Some(key) = (paced.key)(&obj)
            {
                paced.pace.admit(key).await;
            }
            return Some(K::clone(&obj));
        }
    }
}

/// `namespace/name`, or `name` for a cluster-scoped object: the key of [`Pace`].
pub fn pace_key(name: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ContentLibraryItem;
    use crate::kinds::ItemKind;
    use kube::ResourceExt;
    use kube::api::ObjectMeta;
    use kube::runtime::reflector;

    fn item(name: &str) -> ContentLibraryItem {
        ContentLibraryItem::new_item(
            ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            "u",
            "lib",
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
        // The store as the reflector leaves it at the end of the list ("gone" was deleted
        // after it); "a" came before the list and is not in it.
        let (store, mut writer) = reflector::store();
        for name in ["b", "c"] {
            writer.apply_watcher_event(&watcher::Event::Apply(item(name)));
        }
        let names = |deletes| {
            let store = store.clone();
            async move {
                let mut names: Vec<_> = trigger_objects(events(), store, deletes, None)
                    .map(|r| r.unwrap().metadata.name.unwrap())
                    .collect()
                    .await;
                // Listed objects come on a stream of their own, beside the live events.
                names.sort();
                names
            }
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
        let got: Vec<_> = trigger_objects(events, store, false, None)
            .map(|r| r.unwrap().metadata.resource_version)
            .collect()
            .await;
        assert_eq!(got, [Some("2".to_string())]);
    }

    #[tokio::test]
    async fn a_paced_relist_waits_for_reconciles_while_live_events_go_on() {
        let (store, mut writer) = reflector::store();
        let mut events = vec![Ok(watcher::Event::Init)];
        for i in 0..300 {
            let listed = item(&format!("i{i}"));
            writer.apply_watcher_event(&watcher::Event::Apply(listed.clone()));
            events.push(Ok(watcher::Event::InitApply(listed)));
        }
        events.push(Ok(watcher::Event::InitDone));
        events.push(Ok(watcher::Event::Apply(item("live"))));
        let pace = Arc::new(Pace::default());
        let paced = Paced {
            pace: pace.clone(),
            key: |obj: &ContentLibraryItem| Some(pace_key(&obj.name_any(), None)),
            resync: None,
        };
        // The events stay open, as a watch's do.
        let events = futures::stream::iter(events).chain(futures::stream::pending());
        let mut triggers = Box::pin(trigger_objects(events, store, false, Some(paced)));
        let mut got = Vec::new();
        while let Ok(Some(r)) =
            tokio::time::timeout(Duration::from_millis(200), triggers.next()).await
        {
            got.push(r.unwrap().name_any());
        }
        assert!(
            got.contains(&"live".to_string()),
            "live events wait for nothing"
        );
        assert_eq!(got.len(), 128 + 1, "one window of the relist");
        assert_eq!(pace.in_flight(), 128);
        for name in &got[..10] {
            pace.done(&pace_key(name, None));
        }
        let more = tokio::time::timeout(Duration::from_millis(200), triggers.next()).await;
        assert!(more.is_ok(), "a reconcile's end makes room");
    }

    #[tokio::test]
    async fn a_resync_hands_over_the_store_again_and_again() {
        let (store, mut writer) = reflector::store();
        for name in ["a", "b", "c"] {
            writer.apply_watcher_event(&watcher::Event::Apply(item(name)));
        }
        let pace = Arc::new(Pace::default());
        let paced = Paced {
            pace: pace.clone(),
            key: |obj: &ContentLibraryItem| Some(pace_key(&obj.name_any(), None)),
            resync: Some(Duration::from_millis(300)),
        };
        let events = futures::stream::pending();
        let mut triggers = Box::pin(trigger_objects(events, store, false, Some(paced)));
        let started = std::time::Instant::now();
        for pass in 1..=2 {
            let mut names = Vec::new();
            for _ in 0..3 {
                names.push(triggers.next().await.unwrap().unwrap().name_any());
            }
            names.sort();
            assert_eq!(names, ["a", "b", "c"]);
            assert!(started.elapsed() >= Duration::from_millis(300 * pass));
            for name in names {
                pace.done(&name);
            }
        }
        assert_eq!(pace.in_flight(), 0);
    }
}
