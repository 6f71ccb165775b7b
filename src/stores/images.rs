//! One watch of each image kind for the whole process. The webhook's index (every image a VM may
//! name) and the image controller's store (the images it manages) are both filled from it: with a
//! watch each, every start listed every image twice (a third of a restart's lists at 100,000
//! images) and the apiserver served two streams of every change.
//!
//! The feed runs on every replica, so a replica that becomes leader finds its image store filled.
//! Its controller takes the live changes while it runs ([`ImageFeed::subscribe`]): the first list
//! needs no handing over (the controller reconciles every item at its start), and a relist is
//! handed over as its `InitDone`, after which the controller reads the store.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::reflector::{self, Store};
use kube::runtime::watcher::{self, Event};
use kube::runtime::{WatchStreamExt, reflector::store::Writer};
use kube::{Client, Resource};
use tokio::sync::{mpsc, watch};

use super::{OnInvalid, Packed, Synced, WatchBackoff, list_config, object_reference, store_key};
use crate::api::{ClusterVirtualMachineImage, Guarded, VirtualMachineImage};
use crate::kinds::{ImageKind, LABEL_MANAGED_BY, MANAGED_BY};
use crate::webhook::{ImageIndex, ImageInfo};

type Subscriber<K> = mpsc::UnboundedSender<Result<Event<Packed<K>>, watcher::Error>>;

/// The images of one kind that the image controller manages (its store), fed by the one watch.
#[derive(Clone)]
pub struct ImageFeed<K: ImageKind> {
    store: Store<Packed<K>>,
    synced: Synced,
    shared: Arc<Mutex<Shared<K>>>,
}

/// What the watch and the controller's subscription share.
struct Shared<K: ImageKind> {
    subscriber: Option<Subscriber<K>>,
    on_invalid: OnInvalid,
    /// The version of each unreadable managed image last told of.
    told: HashMap<String, String>,
    /// Unreadable managed images not told of, as no controller ran here: the leader tells, so
    /// they are told when one subscribes (the first list comes before it).
    untold: HashMap<String, (ObjectReference, String, String)>,
}

impl<K: ImageKind> Shared<K> {
    /// An unreadable managed image (`version` of the object `uid`): told of now if a controller
    /// runs here, else at its subscription; once a version either way.
    fn unreadable(
        &mut self,
        uid: String,
        version: String,
        reference: ObjectReference,
        why: String,
    ) {
        if self.told.get(&uid) == Some(&version) {
            return;
        }
        if self.subscriber.is_none() {
            self.untold.insert(uid, (reference, version, why));
            return;
        }
        self.untold.remove(&uid);
        self.told.insert(uid, version);
        (self.on_invalid)(reference, why);
    }

    fn tell_untold(&mut self) {
        for (uid, (reference, version, why)) in std::mem::take(&mut self.untold) {
            self.told.insert(uid, version);
            (self.on_invalid)(reference, why);
        }
    }

    /// The image `uid` is readable again.
    fn readable(&mut self, uid: Option<&str>) {
        if let Some(uid) = uid {
            self.untold.remove(uid);
        }
    }

    /// The image `uid` is deleted.
    fn gone(&mut self, uid: Option<&str>) {
        if let Some(uid) = uid {
            self.untold.remove(uid);
            self.told.remove(uid);
        }
    }
}

impl<K: ImageKind> ImageFeed<K> {
    /// Starts the watch of `K`. With an `index`, the watch covers every image in every namespace
    /// (the webhook resolves to any of them) and the index is fed from it; without one, only the
    /// managed images of `namespace` (where the operator's RBAC may end). Either way the store
    /// holds the managed images of `namespace` (all namespaces when `None`). Returns the feed at
    /// once and the future that runs the watch (forever: it retries with backoff).
    pub fn start(
        client: Client,
        namespace: Option<&str>,
        index: Option<ImageIndex>,
        on_invalid: OnInvalid,
    ) -> (Self, impl Future<Output = ()> + Send + 'static) {
        let every_image = index.is_some();
        let (feed, mut fanout) = Self::fanout(namespace, index, on_invalid);
        let (api, config) = if every_image {
            (K::guarded_api(client, None), watcher::Config::default())
        } else {
            let selector = format!("{LABEL_MANAGED_BY}={MANAGED_BY}");
            (
                K::guarded_api(client, namespace),
                watcher::Config::default().labels(&selector),
            )
        };
        let events = watcher::watcher(api, list_config(config)).backoff(WatchBackoff::default());
        let task = async move {
            futures::pin_mut!(events);
            while let Some(event) = events.next().await {
                fanout.handle(event);
            }
        };
        (feed, task)
    }

    /// A feed, and what its watch's events go to.
    fn fanout(
        namespace: Option<&str>,
        index: Option<ImageIndex>,
        on_invalid: OnInvalid,
    ) -> (Self, Fanout<K>) {
        let (store, writer) = reflector::store();
        let (synced_tx, synced_rx) = watch::channel(false);
        let feed = ImageFeed {
            store: store.clone(),
            synced: Synced(synced_rx),
            shared: Arc::new(Mutex::new(Shared {
                subscriber: None,
                on_invalid,
                told: HashMap::new(),
                untold: HashMap::new(),
            })),
        };
        let fanout = Fanout {
            namespace: namespace.map(str::to_string),
            index,
            listing: Vec::new(),
            first_list: true,
            writer,
            store,
            synced: synced_tx,
            shared: feed.shared.clone(),
        };
        (feed, fanout)
    }

    /// The store of managed images, and its readiness.
    pub fn store(&self) -> (Store<Packed<K>>, Synced) {
        (self.store.clone(), self.synced.clone())
    }

    /// The changes of managed images from now on (applies, deletes, and the end of each relist),
    /// for one controller: a new subscription ends the one before. The unreadable images seen
    /// before it are told of now.
    pub fn subscribe(
        &self,
    ) -> impl Stream<Item = Result<Event<Packed<K>>, watcher::Error>> + Send + 'static {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut shared = self.shared.lock().unwrap_or_else(PoisonError::into_inner);
        shared.subscriber = Some(tx);
        shared.tell_untold();
        drop(shared);
        futures::stream::unfold(rx, |mut rx| async move {
            let event = rx.recv().await?;
            Some((event, rx))
        })
    }
}

/// An index fed by watches of both image kinds in every namespace, with no controller
/// beside it. Returns the index at once and the future that runs the watches (forever;
/// they retry with backoff): spawn it or select on it.
pub fn index_images(client: Client) -> (ImageIndex, impl Future<Output = ()> + Send + 'static) {
    let index = ImageIndex::empty();
    // Nobody to tell but the log, where the feed already warns of an unreadable image (`info`).
    let unread: OnInvalid = Arc::new(|_, _| {});
    let (_, vmis) = ImageFeed::<VirtualMachineImage>::start(
        client.clone(),
        None,
        Some(index.clone()),
        unread.clone(),
    );
    let (_, cvmis) =
        ImageFeed::<ClusterVirtualMachineImage>::start(client, None, Some(index.clone()), unread);
    let task = async move {
        futures::future::join(vmis, cvmis).await;
    };
    (index, task)
}

/// What the watch's events go to.
struct Fanout<K: ImageKind> {
    /// The namespace of the managed images (`None`: all).
    namespace: Option<String>,
    index: Option<ImageIndex>,
    /// The index's entries of a list under way, swapped in at its end.
    listing: Vec<ImageInfo>,
    first_list: bool,
    writer: Writer<Packed<K>>,
    store: Store<Packed<K>>,
    synced: watch::Sender<bool>,
    shared: Arc<Mutex<Shared<K>>>,
}

impl<K: ImageKind> Fanout<K> {
    fn handle(&mut self, event: Result<Event<Guarded<K>>, watcher::Error>) {
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                let kind = K::kind(&());
                tracing::warn!(%kind, %error, "image watch failed; retrying");
                return;
            }
        };
        match event {
            Event::Init => {
                self.listing.clear();
                // What is still unreadable, the list finds again.
                self.shared().untold.clear();
                self.writer.apply_watcher_event(&Event::Init);
            }
            Event::InitApply(image) => {
                if self.index.is_some() {
                    self.listing.push(info(&image));
                }
                if let Some(held) = self.managed(image) {
                    self.writer.apply_watcher_event(&Event::InitApply(held));
                }
            }
            Event::InitDone => {
                if let Some(index) = &self.index {
                    index.replace(K::INDEXED, std::mem::take(&mut self.listing));
                    index.mark_synced(K::INDEXED);
                }
                self.writer.apply_watcher_event(&Event::InitDone);
                self.synced.send_replace(true);
                if !std::mem::take(&mut self.first_list) {
                    self.forward(Event::InitDone);
                }
            }
            Event::Apply(image) => {
                if let Some(index) = &self.index {
                    index.upsert(info(&image));
                }
                let meta = image.meta();
                let (name, namespace) = (meta.name.clone(), meta.namespace.clone());
                match self.managed(image) {
                    Some(held) => {
                        self.writer.apply_watcher_event(&Event::Apply(held.clone()));
                        self.forward(Event::Apply(held));
                    }
                    // No longer one of ours (or no longer readable): out of the store.
                    None => self.remove(name.as_deref(), namespace.as_deref()),
                }
            }
            Event::Delete(image) => {
                let meta = image.meta();
                if let Some(index) = &self.index {
                    index.remove(
                        K::INDEXED,
                        meta.namespace.as_deref(),
                        meta.name.as_deref().unwrap_or_default(),
                    );
                }
                self.shared().gone(meta.uid.as_deref());
                self.remove(meta.name.as_deref(), meta.namespace.as_deref());
            }
        }
    }

    /// The image as the store holds it, if it is a managed image of the namespace that decodes;
    /// a managed one that does not decode is told of ([`Shared::unreadable`]).
    fn managed(&mut self, image: Guarded<K>) -> Option<Packed<K>> {
        let meta = image.meta();
        let ours = meta
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_MANAGED_BY))
            .is_some_and(|v| v == MANAGED_BY);
        let here = match (&self.namespace, &meta.namespace) {
            (Some(want), Some(ns)) => want == ns,
            _ => true,
        };
        if !ours || !here {
            return None;
        }
        match image.0 {
            Ok(object) => {
                self.shared().readable(object.meta().uid.as_deref());
                Some(Packed::pack(object))
            }
            Err(invalid) => {
                let meta = &invalid.metadata;
                let reference = object_reference::<K>(meta);
                self.shared().unreadable(
                    meta.uid.clone().unwrap_or_default(),
                    meta.resource_version.clone().unwrap_or_default(),
                    reference,
                    invalid.error.to_string(),
                );
                None
            }
        }
    }

    /// Takes the image out of the store, if it is there.
    fn remove(&mut self, name: Option<&str>, namespace: Option<&str>) {
        let key = store_key(name.unwrap_or_default(), namespace);
        if let Some(held) = self.store.get(&key) {
            let held = Packed::clone(&held);
            self.writer
                .apply_watcher_event(&Event::Delete(held.clone()));
            self.forward(Event::Delete(held));
        }
    }

    /// Hands `event` to the running controller, if any; a closed subscription is dropped.
    fn forward(&mut self, event: Event<Packed<K>>) {
        let mut shared = self.shared();
        if let Some(tx) = shared.subscriber.as_ref()
            && tx.send(Ok(event)).is_err()
        {
            shared.subscriber = None;
        }
    }

    fn shared(&self) -> std::sync::MutexGuard<'_, Shared<K>> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The index's entry of an image; one that cannot be read is indexed by name, not ready.
fn info<K: ImageKind>(image: &Guarded<K>) -> ImageInfo {
    match &image.0 {
        Ok(object) => ImageInfo::of(object),
        Err(invalid) => {
            tracing::warn!(
                kind = K::INDEXED.as_str(),
                namespace = invalid.metadata.namespace.as_deref().unwrap_or_default(),
                name = invalid.metadata.name.as_deref().unwrap_or_default(),
                error = %invalid.error,
                "image cannot be read; indexed as not ready"
            );
            ImageInfo::invalid(K::INDEXED, invalid)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use futures::FutureExt;
    use kube::ResourceExt;

    use kube::api::ObjectMeta;

    use super::*;
    use crate::api::{Condition, ConditionStatus, VirtualMachineImage, VirtualMachineImageStatus};
    use crate::webhook::IndexedKind;

    type Told = Arc<Mutex<Vec<(String, String)>>>;

    fn image(ns: &str, name: &str, managed: bool, display: &str) -> Guarded<VirtualMachineImage> {
        let mut meta = ObjectMeta {
            name: Some(name.into()),
            namespace: Some(ns.into()),
            uid: Some(format!("uid-{name}")),
            ..Default::default()
        };
        if managed {
            meta.labels = Some(BTreeMap::from([(
                LABEL_MANAGED_BY.into(),
                MANAGED_BY.into(),
            )]));
        }
        let status = VirtualMachineImageStatus {
            name: Some(display.into()),
            conditions: vec![Condition::new("Ready", ConditionStatus::True, "Test", "")],
            ..Default::default()
        };
        Guarded(Ok(VirtualMachineImage::new_image(meta, None, Some(status))))
    }

    /// A managed image whose status does not decode, at `version`.
    fn unreadable(ns: &str, name: &str, version: &str) -> Guarded<VirtualMachineImage> {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "vmoperator.vmware.com/v1alpha5",
            "kind": "VirtualMachineImage",
            "metadata": {
                "name": name, "namespace": ns, "uid": format!("uid-{name}"),
                "resourceVersion": version,
                "labels": { LABEL_MANAGED_BY: MANAGED_BY },
            },
            "spec": {},
            "status": { "name": "Bad", "hardwareVersion": "not a number" }
        }))
        .unwrap()
    }

    fn fanout(
        namespace: Option<&str>,
    ) -> (
        ImageFeed<VirtualMachineImage>,
        Fanout<VirtualMachineImage>,
        ImageIndex,
        Told,
    ) {
        let index = ImageIndex::empty();
        let told = Told::default();
        let on_invalid: OnInvalid = {
            let told = told.clone();
            Arc::new(move |r: ObjectReference, e: String| {
                told.lock().unwrap().push((r.name.unwrap_or_default(), e));
            })
        };
        let (feed, fanout) = ImageFeed::fanout(namespace, Some(index.clone()), on_invalid);
        (feed, fanout, index, told)
    }

    fn list(fanout: &mut Fanout<VirtualMachineImage>, images: Vec<Guarded<VirtualMachineImage>>) {
        fanout.handle(Ok(Event::Init));
        for image in images {
            fanout.handle(Ok(Event::InitApply(image)));
        }
        fanout.handle(Ok(Event::InitDone));
    }

    fn names(store: &Store<Packed<VirtualMachineImage>>) -> Vec<String> {
        let mut names: Vec<_> = store.state().iter().map(|p| p.name_any()).collect();
        names.sort();
        names
    }

    /// What a subscription has been sent so far, as (event, name).
    fn drain(
        events: &mut (
                 impl Stream<Item = Result<Event<Packed<VirtualMachineImage>>, watcher::Error>> + Unpin
             ),
    ) -> Vec<String> {
        let mut got = Vec::new();
        while let Some(Some(event)) = events.next().now_or_never() {
            got.push(match event.unwrap() {
                Event::Apply(p) => format!("apply {}", p.name_any()),
                Event::Delete(p) => format!("delete {}", p.name_any()),
                Event::InitDone => "relisted".into(),
                other => format!("{other:?}"),
            });
        }
        got
    }

    #[test]
    fn one_list_fills_the_index_with_every_image_and_the_store_with_the_managed_ones_here() {
        let (feed, mut fanout, index, _) = fanout(Some("a"));
        let mut events = Box::pin(feed.subscribe());
        let (store, synced) = feed.store();
        list(
            &mut fanout,
            vec![
                image("a", "vmi-ours", true, "Photon"),
                image("a", "vmi-theirs", false, "Ubuntu"),
                image("b", "vmi-elsewhere", true, "Photon"),
            ],
        );
        assert!(synced.is_synced());
        assert_eq!(names(&store), ["vmi-ours"]);
        assert_eq!(index.len(), (3, 0));
        let view = index.read();
        assert!(
            view.get(IndexedKind::VirtualMachineImage, "a", "vmi-theirs")
                .is_some()
        );
        assert!(
            view.get(IndexedKind::VirtualMachineImage, "b", "vmi-elsewhere")
                .is_some()
        );
        drop(view);
        assert!(
            drain(&mut events).is_empty(),
            "the controller's own first list covers the first list"
        );
    }

    #[test]
    fn live_changes_reach_the_store_the_index_and_the_controller() {
        let (feed, mut fanout, index, _) = fanout(None);
        let (store, _) = feed.store();
        list(&mut fanout, vec![image("a", "vmi-1", true, "Photon")]);
        let mut events = Box::pin(feed.subscribe());

        fanout.handle(Ok(Event::Apply(image("a", "vmi-2", true, "Ubuntu"))));
        fanout.handle(Ok(Event::Apply(image("a", "vmi-3", false, "Other"))));
        // Its label taken off: no longer ours.
        fanout.handle(Ok(Event::Apply(image("a", "vmi-1", false, "Photon"))));
        assert_eq!(names(&store), ["vmi-2"]);
        assert_eq!(index.len(), (3, 0));
        fanout.handle(Ok(Event::Delete(image("a", "vmi-2", true, "Ubuntu"))));
        assert!(names(&store).is_empty());
        assert_eq!(index.len(), (2, 0));
        // A relist (after the watch was down) ends in the store, then is handed over.
        list(&mut fanout, vec![image("a", "vmi-4", true, "Photon")]);
        assert_eq!(names(&store), ["vmi-4"]);
        assert_eq!(index.len(), (1, 0));
        assert_eq!(
            drain(&mut events),
            ["apply vmi-2", "delete vmi-1", "delete vmi-2", "relisted"]
        );
    }

    #[test]
    fn a_new_subscription_ends_the_one_before() {
        let (feed, mut fanout, _, _) = fanout(None);
        list(&mut fanout, vec![]);
        let mut old = Box::pin(feed.subscribe());
        let mut new = Box::pin(feed.subscribe());
        fanout.handle(Ok(Event::Apply(image("a", "vmi-1", true, "Photon"))));
        assert_eq!(drain(&mut new), ["apply vmi-1"]);
        assert!(
            matches!(old.next().now_or_never(), Some(None)),
            "the old one has ended"
        );
    }

    #[test]
    fn an_unreadable_managed_image_leaves_the_store_and_is_told_once_by_the_leader() {
        let (feed, mut fanout, index, told) = fanout(None);
        let (store, _) = feed.store();
        list(&mut fanout, vec![image("a", "vmi-1", true, "Photon")]);
        // No controller runs here yet (a follower): the index has it, nobody is told.
        fanout.handle(Ok(Event::Apply(unreadable("a", "vmi-1", "5"))));
        fanout.handle(Ok(Event::Apply(unreadable("a", "vmi-2", "5"))));
        fanout.handle(Ok(Event::Apply(image("a", "vmi-2", true, "Fixed"))));
        assert!(told.lock().unwrap().is_empty());
        assert_eq!(names(&store), ["vmi-2"]);
        let info = index
            .read()
            .get(IndexedKind::VirtualMachineImage, "a", "vmi-1")
            .cloned();
        assert!(!info.expect("indexed by name").ready);

        // The leader's controller subscribes: told of the one still unreadable, then of each
        // new version once.
        let _events = feed.subscribe();
        assert_eq!(told.lock().unwrap().len(), 1);
        fanout.handle(Ok(Event::Apply(unreadable("a", "vmi-1", "5"))));
        fanout.handle(Ok(Event::Apply(unreadable("a", "vmi-1", "6"))));
        fanout.handle(Ok(Event::Apply(unreadable("a", "vmi-1", "6"))));
        let told = told.lock().unwrap().clone();
        assert_eq!(told.len(), 2, "once a version: {told:?}");
        assert!(told.iter().all(|(name, _)| name == "vmi-1"), "{told:?}");
        assert!(told[0].1.contains("not a number"), "why: {}", told[0].1);
    }
}
