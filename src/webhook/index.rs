//! [`ImageIndex`]: every image the webhook may resolve to, by name and by display name.
//!
//! Two scopes: namespaced `VirtualMachineImage`s (a map per namespace) and
//! `ClusterVirtualMachineImage`s. Each scope holds `name -> image` and
//! `display name -> names`, so a lookup is two hash probes and an update touches one entry of
//! each map. The index is fed by the process's one watch of each image kind (the image feed,
//! which sits above this module): an image whose status cannot be read stays in the
//! index by name (it exists, but is reported not ready with the parse error) instead of stalling
//! the stream. A re-list (`Init` .. `InitDone`) is buffered and swapped in at once, which also
//! drops images deleted while the watch was down.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};

use kube::core::error_boundary::InvalidObject;
use tokio::sync::watch;

use crate::api::{ClusterVirtualMachineImage, VirtualMachineImage, VirtualMachineImageStatus};
use crate::kinds::{ImageKind, IndexedKind};

/// What the webhook knows about one image: only what resolution and the checks need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageInfo {
    pub kind: IndexedKind,
    /// The namespace of a `VirtualMachineImage`; `None` for a cluster image.
    pub namespace: Option<String>,
    /// The resource name (VMI ID).
    pub name: String,
    /// `status.name`.
    pub display_name: Option<String>,
    /// Whether the `Ready` condition is True.
    pub ready: bool,
    /// Why it is not ready, for messages ("" when ready).
    pub not_ready_detail: String,
    /// `status.capabilities`.
    pub capabilities: Vec<String>,
}

impl ImageInfo {
    /// From an image's kind, metadata and status.
    pub fn new(
        kind: IndexedKind,
        namespace: Option<&str>,
        name: &str,
        status: Option<&VirtualMachineImageStatus>,
    ) -> Self {
        let (ready, not_ready_detail) = match status {
            None => (false, "it has no status yet".to_string()),
            Some(status) => match status.ready_condition() {
                None => (false, "it has no Ready condition yet".to_string()),
                Some(c) if c.is_true() => (true, String::new()),
                Some(c) => {
                    let mut detail = format!("Ready={:?}", c.status);
                    if !c.reason.is_empty() {
                        detail.push_str(", ");
                        detail.push_str(&c.reason);
                    }
                    if !c.message.is_empty() {
                        detail.push_str(": ");
                        detail.push_str(&c.message);
                    }
                    (false, detail)
                }
            },
        };
        ImageInfo {
            kind,
            namespace: match kind {
                IndexedKind::VirtualMachineImage => Some(namespace.unwrap_or_default().to_string()),
                IndexedKind::ClusterVirtualMachineImage => None,
            },
            name: name.to_string(),
            display_name: status
                .and_then(|s| s.name.clone())
                .filter(|n| !n.is_empty()),
            ready,
            not_ready_detail,
            capabilities: status.map(|s| s.capabilities.clone()).unwrap_or_default(),
        }
    }

    /// From an image of either kind.
    pub fn of<K: ImageKind>(image: &K) -> Self {
        Self::new(
            K::INDEXED,
            image.meta().namespace.as_deref(),
            image.meta().name.as_deref().unwrap_or_default(),
            image.image_status(),
        )
    }

    /// An image whose object could not be read: it exists, has no display name, is not ready.
    pub fn invalid(kind: IndexedKind, invalid: &InvalidObject) -> Self {
        let meta = &invalid.metadata;
        let mut info = Self::new(
            kind,
            meta.namespace.as_deref(),
            meta.name.as_deref().unwrap_or_default(),
            None,
        );
        info.not_ready_detail = format!("its object cannot be read: {}", invalid.error);
        info
    }

    /// `VirtualMachineImage/vmi-0a0044d7c690bcbea`.
    pub fn reference(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    pub fn has_capability(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c == capability)
    }
}

/// The images of one scope (one namespace, or the cluster).
#[derive(Clone, Debug, Default)]
struct Scope {
    by_name: HashMap<String, Arc<ImageInfo>>,
    /// Display name -> names, sorted so candidates are listed in a stable order. A Vec: nearly
    /// every display name has one image, and the smallest node of a BTreeSet is ten entries.
    by_display: HashMap<String, Vec<String>>,
}

impl Scope {
    fn upsert(&mut self, info: Arc<ImageInfo>) {
        let old = self.by_name.insert(info.name.clone(), info.clone());
        let old_display = old.as_ref().and_then(|o| o.display_name.as_deref());
        if old_display == info.display_name.as_deref() {
            return;
        }
        if let Some(old_display) = old_display {
            self.unlink_display(old_display, &info.name);
        }
        if let Some(display) = &info.display_name {
            let names = self.by_display.entry(display.clone()).or_default();
            if let Err(at) = names.binary_search(&info.name) {
                names.insert(at, info.name.clone());
            }
        }
    }

    fn remove(&mut self, name: &str) -> Option<Arc<ImageInfo>> {
        let old = self.by_name.remove(name)?;
        if let Some(display) = &old.display_name {
            self.unlink_display(display, name);
        }
        Some(old)
    }

    fn unlink_display(&mut self, display: &str, name: &str) {
        if let Some(names) = self.by_display.get_mut(display) {
            if let Ok(at) = names.binary_search_by(|n| n.as_str().cmp(name)) {
                names.remove(at);
            }
            if names.is_empty() {
                self.by_display.remove(display);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }
}

#[derive(Debug, Default)]
struct State {
    namespaces: HashMap<String, Scope>,
    cluster: Scope,
}

impl State {
    fn upsert(&mut self, info: ImageInfo) {
        let info = Arc::new(info);
        match &info.namespace {
            Some(ns) => match self.namespaces.get_mut(ns.as_str()) {
                Some(scope) => scope.upsert(info),
                None => {
                    let mut scope = Scope::default();
                    let ns = ns.clone();
                    scope.upsert(info);
                    self.namespaces.insert(ns, scope);
                }
            },
            None => self.cluster.upsert(info),
        }
    }

    fn remove(&mut self, kind: IndexedKind, namespace: Option<&str>, name: &str) {
        match kind {
            IndexedKind::VirtualMachineImage => {
                let ns = namespace.unwrap_or_default();
                if let Some(scope) = self.namespaces.get_mut(ns) {
                    scope.remove(name);
                    if scope.is_empty() {
                        self.namespaces.remove(ns);
                    }
                }
            }
            IndexedKind::ClusterVirtualMachineImage => {
                self.cluster.remove(name);
            }
        }
    }

    fn replace(&mut self, kind: IndexedKind, images: Vec<ImageInfo>) {
        match kind {
            IndexedKind::VirtualMachineImage => {
                let mut namespaces: HashMap<String, Scope> = HashMap::new();
                for info in images {
                    let ns = info.namespace.clone().unwrap_or_default();
                    namespaces.entry(ns).or_default().upsert(Arc::new(info));
                }
                self.namespaces = namespaces;
            }
            IndexedKind::ClusterVirtualMachineImage => {
                let mut cluster = Scope::default();
                for info in images {
                    cluster.upsert(Arc::new(info));
                }
                self.cluster = cluster;
            }
        }
    }

    fn scope(&self, kind: IndexedKind, namespace: &str) -> Option<&Scope> {
        match kind {
            IndexedKind::VirtualMachineImage => self.namespaces.get(namespace),
            IndexedKind::ClusterVirtualMachineImage => Some(&self.cluster),
        }
    }
}

struct Inner {
    state: RwLock<State>,
    vmi_synced: AtomicBool,
    cvmi_synced: AtomicBool,
    synced: watch::Sender<bool>,
}

/// In-memory indexes of all images by name and by display name, in both scopes.
///
/// Cheap to clone (one `Arc`). Reads take a shared lock for the duration of one lookup
/// ([`ImageIndex::read`]); each watch event takes the write lock for one O(1) update.
#[derive(Clone)]
pub struct ImageIndex {
    inner: Arc<Inner>,
}

impl fmt::Debug for ImageIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (vmis, cvmis) = self.len();
        f.debug_struct("ImageIndex")
            .field("vmis", &vmis)
            .field("cvmis", &cvmis)
            .field("synced", &self.is_synced())
            .finish()
    }
}

impl Default for ImageIndex {
    fn default() -> Self {
        Self::empty()
    }
}

impl ImageIndex {
    /// An empty index that is not synced (until [`ImageIndex::mark_synced`] for both kinds).
    pub fn empty() -> Self {
        ImageIndex {
            inner: Arc::new(Inner {
                state: RwLock::new(State::default()),
                vmi_synced: AtomicBool::new(false),
                cvmi_synced: AtomicBool::new(false),
                synced: watch::Sender::new(false),
            }),
        }
    }

    /// A synced index holding exactly these objects, without a cluster: for tests and benches.
    pub fn from_objects(
        vmis: impl IntoIterator<Item = VirtualMachineImage>,
        cvmis: impl IntoIterator<Item = ClusterVirtualMachineImage>,
    ) -> Self {
        let index = Self::empty();
        index.replace(
            IndexedKind::VirtualMachineImage,
            vmis.into_iter().map(|o| ImageInfo::of(&o)).collect(),
        );
        index.replace(
            IndexedKind::ClusterVirtualMachineImage,
            cvmis.into_iter().map(|o| ImageInfo::of(&o)).collect(),
        );
        index.mark_synced(IndexedKind::VirtualMachineImage);
        index.mark_synced(IndexedKind::ClusterVirtualMachineImage);
        index
    }

    /// Waits until both kinds have been listed once.
    pub async fn wait_synced(&self) {
        let mut rx = self.inner.synced.subscribe();
        // The sender lives in `self`, so this cannot fail while we wait.
        let _ = rx.wait_for(|synced| *synced).await;
    }

    /// True once both kinds have been listed once (stays true across re-lists).
    pub fn is_synced(&self) -> bool {
        *self.inner.synced.borrow()
    }

    /// Records that `kind` has been listed completely.
    pub fn mark_synced(&self, kind: IndexedKind) {
        let flag = match kind {
            IndexedKind::VirtualMachineImage => &self.inner.vmi_synced,
            IndexedKind::ClusterVirtualMachineImage => &self.inner.cvmi_synced,
        };
        flag.store(true, Ordering::Release);
        let both = self.inner.vmi_synced.load(Ordering::Acquire)
            && self.inner.cvmi_synced.load(Ordering::Acquire);
        if both && !self.is_synced() {
            self.inner.synced.send_replace(true);
        }
    }

    /// Adds or replaces one image.
    pub fn upsert(&self, info: ImageInfo) {
        self.write().upsert(info);
    }

    /// Removes one image (no-op when absent). `namespace` is ignored for cluster images.
    pub fn remove(&self, kind: IndexedKind, namespace: Option<&str>, name: &str) {
        self.write().remove(kind, namespace, name);
    }

    /// Replaces every image of `kind` (a complete listing).
    pub fn replace(&self, kind: IndexedKind, images: Vec<ImageInfo>) {
        self.write().replace(kind, images);
    }

    /// A consistent view for a series of lookups. Hold it only for the lookups (it blocks
    /// index updates).
    pub fn read(&self) -> IndexView<'_> {
        IndexView {
            state: self
                .inner
                .state
                .read()
                .unwrap_or_else(PoisonError::into_inner),
        }
    }

    /// Number of (namespaced, cluster) images.
    pub fn len(&self) -> (usize, usize) {
        let state = self
            .inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let vmis = state.namespaces.values().map(|s| s.by_name.len()).sum();
        (vmis, state.cluster.by_name.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// A read-locked view of the index.
pub struct IndexView<'a> {
    state: RwLockReadGuard<'a, State>,
}

impl IndexView<'_> {
    /// The image of this kind and name (`namespace` is ignored for cluster images).
    pub fn get(&self, kind: IndexedKind, namespace: &str, name: &str) -> Option<&Arc<ImageInfo>> {
        self.state.scope(kind, namespace)?.by_name.get(name)
    }

    /// The images of this kind whose display name is `display` (in `namespace` for
    /// `VirtualMachineImage`), ordered by name.
    pub fn by_display_name(
        &self,
        kind: IndexedKind,
        namespace: &str,
        display: &str,
    ) -> Vec<&Arc<ImageInfo>> {
        let Some(scope) = self.state.scope(kind, namespace) else {
            return Vec::new();
        };
        scope
            .by_display
            .get(display)
            .map(|names| names.iter().filter_map(|n| scope.by_name.get(n)).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Condition, ConditionStatus, Guarded, VirtualMachineImageSpec};

    fn status(display: &str, ready: bool) -> VirtualMachineImageStatus {
        let st = if ready {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        };
        VirtualMachineImageStatus {
            name: Some(display.to_string()),
            conditions: vec![Condition::new("Ready", st, "Test", "")],
            ..Default::default()
        }
    }

    fn vmi(ns: &str, name: &str, display: &str) -> VirtualMachineImage {
        let mut o = VirtualMachineImage::new(name, VirtualMachineImageSpec::default());
        o.metadata.namespace = Some(ns.into());
        o.status = Some(status(display, true));
        o
    }

    fn names(v: Vec<&Arc<ImageInfo>>) -> Vec<String> {
        v.into_iter().map(|i| i.name.clone()).collect()
    }

    #[test]
    fn add_update_rename_delete() {
        let index = ImageIndex::from_objects([vmi("a", "vmi-1", "Photon")], []);
        assert!(index.is_synced());
        {
            let view = index.read();
            assert_eq!(
                names(view.by_display_name(IndexedKind::VirtualMachineImage, "a", "Photon")),
                ["vmi-1"]
            );
            assert!(
                view.get(IndexedKind::VirtualMachineImage, "a", "vmi-1")
                    .is_some()
            );
            assert!(
                view.get(IndexedKind::VirtualMachineImage, "b", "vmi-1")
                    .is_none()
            );
            assert!(
                view.get(IndexedKind::ClusterVirtualMachineImage, "a", "vmi-1")
                    .is_none()
            );
        }

        // Add a second one with the same display name.
        index.upsert(ImageInfo::of(&vmi("a", "vmi-2", "Photon")));
        assert_eq!(
            names(
                index
                    .read()
                    .by_display_name(IndexedKind::VirtualMachineImage, "a", "Photon")
            ),
            ["vmi-1", "vmi-2"]
        );

        // Rename the display name of vmi-1: it leaves "Photon" and joins "Photon 5".
        index.upsert(ImageInfo::of(&vmi("a", "vmi-1", "Photon 5")));
        {
            let view = index.read();
            assert_eq!(
                names(view.by_display_name(IndexedKind::VirtualMachineImage, "a", "Photon")),
                ["vmi-2"]
            );
            assert_eq!(
                names(view.by_display_name(IndexedKind::VirtualMachineImage, "a", "Photon 5")),
                ["vmi-1"]
            );
        }

        // Update without a display change keeps one entry and takes the new status.
        let mut not_ready = vmi("a", "vmi-2", "Photon");
        not_ready.status = Some(status("Photon", false));
        index.upsert(ImageInfo::of(&not_ready));
        {
            let view = index.read();
            let hits = view.by_display_name(IndexedKind::VirtualMachineImage, "a", "Photon");
            assert_eq!(hits.len(), 1);
            assert!(!hits[0].ready);
            assert!(
                hits[0].not_ready_detail.contains("Ready=False"),
                "{}",
                hits[0].not_ready_detail
            );
        }

        // Losing the display name removes it from the display index only.
        let mut nameless = vmi("a", "vmi-2", "");
        nameless.status.as_mut().unwrap().name = None;
        index.upsert(ImageInfo::of(&nameless));
        assert!(
            index
                .read()
                .by_display_name(IndexedKind::VirtualMachineImage, "a", "Photon")
                .is_empty()
        );
        assert!(
            index
                .read()
                .get(IndexedKind::VirtualMachineImage, "a", "vmi-2")
                .is_some()
        );

        // Delete.
        index.remove(IndexedKind::VirtualMachineImage, Some("a"), "vmi-1");
        index.remove(IndexedKind::VirtualMachineImage, Some("a"), "vmi-2");
        index.remove(IndexedKind::VirtualMachineImage, Some("a"), "vmi-absent");
        assert!(
            index
                .read()
                .by_display_name(IndexedKind::VirtualMachineImage, "a", "Photon 5")
                .is_empty()
        );
        assert!(index.is_empty());
        assert!(
            index.inner.state.read().unwrap().namespaces.is_empty(),
            "empty namespaces are dropped"
        );
    }

    #[test]
    fn scopes_are_separate() {
        let mut c = ClusterVirtualMachineImage::new("vmi-c", Default::default());
        c.status = Some(status("Photon", true));
        let index = ImageIndex::from_objects(
            [vmi("a", "vmi-a", "Photon"), vmi("b", "vmi-b", "Photon")],
            [c],
        );
        let view = index.read();
        assert_eq!(
            names(view.by_display_name(IndexedKind::VirtualMachineImage, "a", "Photon")),
            ["vmi-a"]
        );
        assert_eq!(
            names(view.by_display_name(IndexedKind::VirtualMachineImage, "b", "Photon")),
            ["vmi-b"]
        );
        assert!(
            view.by_display_name(IndexedKind::VirtualMachineImage, "c", "Photon")
                .is_empty()
        );
        // Cluster lookups ignore the namespace.
        assert_eq!(
            names(view.by_display_name(IndexedKind::ClusterVirtualMachineImage, "zzz", "Photon")),
            ["vmi-c"]
        );
        let c = view
            .get(IndexedKind::ClusterVirtualMachineImage, "", "vmi-c")
            .unwrap();
        assert_eq!(c.namespace, None);
        assert_eq!(c.reference(), "ClusterVirtualMachineImage/vmi-c");
        assert_eq!(index.len(), (2, 1));
    }

    #[test]
    fn replace_drops_what_a_relist_no_longer_has() {
        let index =
            ImageIndex::from_objects([vmi("a", "vmi-1", "One"), vmi("b", "vmi-2", "Two")], []);
        index.replace(
            IndexedKind::VirtualMachineImage,
            vec![ImageInfo::of(&vmi("b", "vmi-3", "Three"))],
        );
        let view = index.read();
        assert!(
            view.get(IndexedKind::VirtualMachineImage, "a", "vmi-1")
                .is_none()
        );
        assert!(
            view.by_display_name(IndexedKind::VirtualMachineImage, "b", "Two")
                .is_empty()
        );
        assert_eq!(
            names(view.by_display_name(IndexedKind::VirtualMachineImage, "b", "Three")),
            ["vmi-3"]
        );
    }

    #[test]
    fn readiness_needs_both_kinds() {
        let index = ImageIndex::empty();
        assert!(!index.is_synced());
        index.mark_synced(IndexedKind::VirtualMachineImage);
        assert!(!index.is_synced());
        index.mark_synced(IndexedKind::ClusterVirtualMachineImage);
        assert!(index.is_synced());
        // wait_synced returns at once when synced.
        futures::executor::block_on(index.wait_synced());
    }

    #[tokio::test]
    async fn wait_synced_wakes_up() {
        let index = ImageIndex::empty();
        let waiter = tokio::spawn({
            let index = index.clone();
            async move { index.wait_synced().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        index.mark_synced(IndexedKind::ClusterVirtualMachineImage);
        index.mark_synced(IndexedKind::VirtualMachineImage);
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("wait_synced returns")
            .unwrap();
    }

    #[test]
    fn malformed_images_are_indexed_not_ready() {
        let guard: Guarded<VirtualMachineImage> = serde_json::from_value(serde_json::json!({
            "apiVersion": "vmoperator.vmware.com/v1alpha5",
            "kind": "VirtualMachineImage",
            "metadata": { "name": "vmi-bad", "namespace": "a" },
            "spec": {},
            "status": { "name": "Bad", "hardwareVersion": "not a number" }
        }))
        .unwrap();
        let invalid = guard.0.expect_err("the status does not parse");
        let info = ImageInfo::invalid(IndexedKind::VirtualMachineImage, &invalid);
        assert_eq!(info.name, "vmi-bad");
        assert_eq!(info.namespace.as_deref(), Some("a"));
        assert!(!info.ready);
        assert!(
            info.not_ready_detail
                .starts_with("its object cannot be read"),
            "{}",
            info.not_ready_detail
        );
    }

    #[test]
    fn not_ready_details() {
        let none = ImageInfo::new(IndexedKind::VirtualMachineImage, Some("a"), "vmi-x", None);
        assert!(!none.ready);
        assert_eq!(none.not_ready_detail, "it has no status yet");
        let mut st = status("X", false);
        st.conditions[0].reason = "VirtualMachineImageNotSynced".into();
        st.conditions[0].message = "download failed".into();
        let info = ImageInfo::new(
            IndexedKind::VirtualMachineImage,
            Some("a"),
            "vmi-x",
            Some(&st),
        );
        assert_eq!(
            info.not_ready_detail,
            "Ready=False, VirtualMachineImageNotSynced: download failed"
        );
        st.conditions.clear();
        let info = ImageInfo::new(
            IndexedKind::VirtualMachineImage,
            Some("a"),
            "vmi-x",
            Some(&st),
        );
        assert_eq!(info.not_ready_detail, "it has no Ready condition yet");
    }
}
