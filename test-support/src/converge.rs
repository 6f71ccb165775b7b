//! The end-state checks of tests that run the operator: what a namespace holds, how it differs
//! from one item and one Ready image per expected UUID, and waiting until it does not.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use vmi_operator::api::{ContentLibrary, ContentLibraryItem, VirtualMachineImage};
use vmi_operator::kinds::LABEL_LIBRARY;

/// What the cluster holds for one namespace: item name -> UUID, image name -> (display name,
/// Ready status, Ready reason).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub items: BTreeMap<String, String>,
    pub item_uids: BTreeMap<String, String>,
    pub images: BTreeMap<String, ImageState>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageState {
    pub display_name: String,
    pub ready: String,
    pub reason: String,
    pub message: String,
    pub uid: String,
}

impl Snapshot {
    pub fn ready_images(&self) -> usize {
        self.images.values().filter(|i| i.ready == "True").count()
    }
}

/// Lists items and images of `ns`; `None` while the apiserver does not answer.
pub async fn snapshot(client: &Client, ns: &str) -> Option<Snapshot> {
    list(client, ns, None).await
}

/// Lists the items of one library of `ns` and their images.
pub async fn snapshot_of(client: &Client, ns: &str, library: &str) -> Option<Snapshot> {
    list(client, ns, Some(library)).await
}

async fn list(client: &Client, ns: &str, library: Option<&str>) -> Option<Snapshot> {
    let items: Api<ContentLibraryItem> = Api::namespaced(client.clone(), ns);
    let images: Api<VirtualMachineImage> = Api::namespaced(client.clone(), ns);
    let item_params = match library {
        Some(lib) => ListParams::default().labels(&format!("{LABEL_LIBRARY}={lib}")),
        None => ListParams::default(),
    };
    let image_params = ListParams::default();
    let (items, images) = tokio::join!(items.list(&item_params), images.list(&image_params));
    let (items, images) = (items.ok()?, images.ok()?);
    let mut snap = Snapshot::default();
    for item in items {
        snap.item_uids
            .insert(item.name_any(), item.uid().unwrap_or_default());
        snap.items.insert(item.name_any(), item.spec.id.clone());
    }
    for image in images {
        let of_listed_item = image
            .spec
            .provider_ref
            .as_ref()
            .is_some_and(|p| snap.items.contains_key(&p.name));
        if library.is_some() && !of_listed_item {
            continue;
        }
        let ready = image
            .status
            .as_ref()
            .and_then(|s| s.ready_condition().cloned());
        snap.images.insert(
            image.name_any(),
            ImageState {
                display_name: image
                    .status
                    .as_ref()
                    .and_then(|s| s.name.clone())
                    .unwrap_or_default(),
                ready: ready
                    .as_ref()
                    .map(|c| format!("{:?}", c.status))
                    .unwrap_or_default(),
                reason: ready.as_ref().map(|c| c.reason.clone()).unwrap_or_default(),
                message: ready.map(|c| c.message).unwrap_or_default(),
                uid: image.uid().unwrap_or_default(),
            },
        );
    }
    Some(snap)
}

/// Counts of items and images in `ns` from metadata-only lists (cheap enough to poll); `None`
/// while the apiserver does not answer.
pub async fn counts(client: &Client, ns: &str) -> Option<(usize, usize)> {
    let items: Api<ContentLibraryItem> = Api::namespaced(client.clone(), ns);
    let images: Api<VirtualMachineImage> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default();
    let (items, images) = tokio::join!(items.list_metadata(&lp), images.list_metadata(&lp));
    Some((items.ok()?.items.len(), images.ok()?.items.len()))
}

/// What is wrong with `snap` compared with exactly one item and one Ready image per UUID in
/// `expected` (names = VMI IDs), or `None` when it is exactly that.
pub fn difference(snap: &Snapshot, expected: &[String]) -> Option<String> {
    let want_items: BTreeSet<String> = expected
        .iter()
        .map(|u| vmi_operator::vmi_id::item_name(u).unwrap())
        .collect();
    let want_images: BTreeSet<String> = expected
        .iter()
        .map(|u| vmi_operator::vmi_id::vmi_id(u).unwrap())
        .collect();
    let have_items: BTreeSet<String> = snap.items.keys().cloned().collect();
    let have_images: BTreeSet<String> = snap.images.keys().cloned().collect();
    let mut problems = Vec::new();
    let sample = |set: Vec<&String>| {
        let n = set.len();
        let shown: Vec<_> = set.into_iter().take(5).collect();
        format!("{n} (e.g. {shown:?})")
    };
    let missing_items: Vec<_> = want_items.difference(&have_items).collect();
    let extra_items: Vec<_> = have_items.difference(&want_items).collect();
    let missing_images: Vec<_> = want_images.difference(&have_images).collect();
    let extra_images: Vec<_> = have_images.difference(&want_images).collect();
    if !missing_items.is_empty() {
        problems.push(format!("missing items: {}", sample(missing_items)));
    }
    if !extra_items.is_empty() {
        problems.push(format!("unexpected items: {}", sample(extra_items)));
    }
    if !missing_images.is_empty() {
        problems.push(format!("missing images: {}", sample(missing_images)));
    }
    if !extra_images.is_empty() {
        problems.push(format!("unexpected images: {}", sample(extra_images)));
    }
    let wrong_uuid: Vec<_> = snap
        .items
        .iter()
        .filter(|(name, uuid)| vmi_operator::vmi_id::item_name(uuid).ok().as_ref() != Some(*name))
        .map(|(name, _)| name)
        .collect();
    if !wrong_uuid.is_empty() {
        problems.push(format!(
            "items whose name is not their UUID's: {}",
            sample(wrong_uuid)
        ));
    }
    let not_ready: Vec<_> = snap
        .images
        .iter()
        .filter(|(_, i)| i.ready != "True")
        .map(|(name, _)| name)
        .collect();
    if !not_ready.is_empty() {
        let first = snap.images.values().find(|i| i.ready != "True").unwrap();
        problems.push(format!(
            "images not Ready: {}; first: Ready={:?} {} {}",
            sample(not_ready),
            first.ready,
            first.reason,
            first.message
        ));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Waits until `ns` holds exactly one item and one Ready image per UUID in `expected`; panics
/// with the last difference after `timeout`. Returns how long it took.
pub async fn wait_converged(
    client: &Client,
    ns: &str,
    expected: &[String],
    timeout: Duration,
) -> Duration {
    let started = Instant::now();
    let mut last = String::from("the apiserver never answered");
    while started.elapsed() < timeout {
        // Cheap counts first; the full lists only once the numbers add up.
        if let Some((items, images)) = counts(client, ns).await {
            last = format!("{items} items and {images} images");
            if items == expected.len()
                && images == expected.len()
                && let Some(snap) = snapshot(client, ns).await
            {
                match difference(&snap, expected) {
                    None => return started.elapsed(),
                    Some(d) => last = d,
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "namespace {ns} did not converge to {} items and Ready images within {timeout:?}: {last}",
        expected.len()
    );
}

/// Like [`wait_converged`], for the items of one library of `ns` and their images.
pub async fn wait_converged_for(
    client: &Client,
    ns: &str,
    library: &str,
    expected: &[String],
    timeout: Duration,
) -> Duration {
    let started = Instant::now();
    let mut last = String::from("the apiserver never answered");
    while started.elapsed() < timeout {
        if let Some(snap) = snapshot_of(client, ns, library).await {
            match difference(&snap, expected) {
                None => return started.elapsed(),
                Some(d) => last = d,
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("library {ns}/{library} did not converge within {timeout:?}: {last}");
}

/// Polls until `f` holds for the item and image counts of `ns` (unanswered polls are skipped);
/// panics after `timeout`.
pub async fn wait_counts(
    client: &Client,
    ns: &str,
    what: &str,
    timeout: Duration,
    f: impl Fn(usize, usize) -> bool,
) -> (usize, usize) {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < timeout {
        if let Some((items, images)) = counts(client, ns).await {
            last = Some((items, images));
            if f(items, images) {
                return (items, images);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}; last counts (items, images): {last:?}");
}

/// The library's Ready condition: (status, reason, message).
pub async fn library_ready(
    client: &Client,
    ns: &str,
    name: &str,
) -> Option<(String, String, String)> {
    let api: Api<ContentLibrary> = Api::namespaced(client.clone(), ns);
    let lib = api.get(name).await.ok()?;
    let c = lib
        .status?
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")?;
    Some((format!("{:?}", c.status), c.reason, c.message))
}
