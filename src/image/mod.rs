//! The image controller: one `VirtualMachineImage` per `ContentLibraryItem` and one
//! `ClusterVirtualMachineImage` per `ClusterContentLibraryItem`, named by the item's VMI ID.
//!
//! Stages per reconcile: look up the image and library in the stores, get the OVF descriptor
//! (cache, else the previous status when the content version is unchanged, else the library
//! source), compute the desired image ([`desired`], pure), and write only what differs.

pub mod cache;
pub mod desired;
pub mod expectations;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use kube::api::{DeleteParams, ObjectMeta, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::api::{
    ConditionStatus, ContentLibraryItemStatus, LABEL_CAPABILITY_PREFIX, ProviderRef,
    VirtualMachineImageStatus,
};
use crate::context::Context;
use crate::kinds::{ImageKind, ItemKind, Kind, LABEL_MANAGED_BY, LibraryKind, MANAGED_BY};
use crate::ovf::{OvfError, OvfInfo, parse_descriptor};
use crate::source::{ItemFile, ItemInfo, SourceError};
use crate::stores::{Synced, reflect, trigger_objects};
use crate::vmi_id;
use cache::OvfCache;
use desired::{Descriptor, ItemFacts, desired_labels, desired_status, same_status};
use expectations::Expectations;

/// Field manager of everything the image controller writes.
pub const FIELD_MANAGER: &str = "vmi-operator-image";
/// How often a healthy item is reconciled again without a change (no write unless one is due).
const RESYNC: Duration = Duration::from_secs(600);
/// How long a write of ours is waited for in the image store before it is acted on anyway.
const STORE_PATIENCE: Duration = Duration::from_secs(30);
/// When a reconcile that found the store behind runs again if no watch event wakes it first.
const STORE_LAG_RECHECK: Duration = Duration::from_secs(2);
/// Condition type the image controller sets on an item whose VMI ID is taken by another item.
pub const CONDITION_IMAGE_CONFLICT: &str = "VirtualMachineImageConflict";

/// Why a reconcile failed; the reason names the condition reason, event reason and metric label.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    InvalidUuid(#[from] vmi_id::InvalidUuid),
    #[error("content library {0} of the item is not known to the cluster")]
    LibraryNotFound(String),
    #[error("fetching the OVF descriptor failed: {0}")]
    Source(#[from] SourceError),
    #[error("fetching the OVF descriptor took longer than {0:?}")]
    FetchTimeout(Duration),
    #[error("the OVF descriptor is invalid: {0}")]
    Ovf(#[from] OvfError),
    #[error("image {image} belongs to item {owner}; item {item} maps to the same VMI ID")]
    Conflict {
        image: String,
        owner: String,
        item: String,
    },
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
}

impl ImageError {
    pub fn reason(&self) -> &'static str {
        match self {
            ImageError::InvalidUuid(_) => "InvalidItemUUID",
            ImageError::LibraryNotFound(_) => "LibraryNotFound",
            ImageError::Source(e) => e.reason(),
            ImageError::FetchTimeout(_) => "OVFFetchTimeout",
            ImageError::Ovf(e) => e.reason(),
            ImageError::Conflict { .. } => "VMIIDConflict",
            ImageError::Kube(_) => "KubernetesAPIError",
        }
    }

    /// Errors that only a change of the item can fix: no retry until then.
    fn waits_for_change(&self) -> bool {
        matches!(
            self,
            ImageError::InvalidUuid(_) | ImageError::Conflict { .. }
        )
    }
}

/// State of one image controller (one scope).
pub struct ImageState<I: ItemKind> {
    pub ctx: Arc<Context>,
    pub libraries: Store<I::Library>,
    pub libraries_synced: Synced,
    pub images: Store<I::Image>,
    pub images_synced: Synced,
    pub cache: Arc<OvfCache>,
    failures: Mutex<HashMap<String, u32>>,
    written: Expectations,
}

fn controller_name<I: ItemKind>() -> String {
    format!("image-{}", I::kind(&()).to_ascii_lowercase())
}

/// The image controller of one scope, built but not running, so its stores can be shared.
pub struct ImageController<I: ItemKind> {
    controller: Controller<I>,
    items: Store<I>,
    items_synced: Synced,
    images: Store<I::Image>,
    images_synced: Synced,
}

impl<I: ItemKind> ImageController<I> {
    pub fn new(ctx: &Context) -> Self {
        let (items, items_synced, item_events) =
            reflect(I::api(ctx.client.clone(), None), watcher::Config::default());
        let (images, images_synced, image_events) =
            reflect(I::Image::api(ctx.client.clone(), None), managed_images());
        let item_triggers = trigger_objects(item_events, items.clone(), false);
        let image_triggers = trigger_objects(image_events, images.clone(), true);
        let controller = Controller::for_stream(item_triggers, items.clone())
            .owns_stream(image_triggers)
            .with_config(
                kube::runtime::controller::Config::default().concurrency(ctx.settings.concurrency),
            );
        ImageController {
            controller,
            items,
            items_synced,
            images,
            images_synced,
        }
    }

    /// The item store (shared with the sync controller) and its readiness.
    pub fn items(&self) -> (Store<I>, Synced) {
        (self.items.clone(), self.items_synced.clone())
    }

    pub fn images(&self) -> (Store<I::Image>, Synced) {
        (self.images.clone(), self.images_synced.clone())
    }

    /// Runs until `shutdown` resolves.
    pub async fn run(
        self,
        ctx: Arc<Context>,
        libraries: (Store<I::Library>, Synced),
        cache: Arc<OvfCache>,
        shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    ) {
        let state = Arc::new(ImageState::<I> {
            ctx,
            libraries: libraries.0,
            libraries_synced: libraries.1,
            images: self.images,
            images_synced: self.images_synced,
            cache,
            failures: Default::default(),
            written: Expectations::new(STORE_PATIENCE),
        });
        self.controller
            .graceful_shutdown_on(shutdown)
            .run(reconcile::<I>, error_policy::<I>, state)
            .for_each(|result| async move {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "image reconcile ended with an error");
                }
            })
            .await;
    }
}

/// Only images we manage are watched (and cached).
fn managed_images() -> watcher::Config {
    watcher::Config::default().labels(&format!("{LABEL_MANAGED_BY}={MANAGED_BY}"))
}

/// The store key of an object by name, in `namespace` for namespaced kinds.
fn store_key<K: Kind>(name: &str, namespace: Option<&str>) -> ObjectRef<K> {
    match namespace {
        Some(ns) => ObjectRef::new(name).within(ns),
        None => ObjectRef::new(name),
    }
}

fn item_key<I: ItemKind>(item: &I) -> String {
    format!(
        "{}/{}",
        item.namespace().unwrap_or_default(),
        item.name_any()
    )
}

fn error_policy<I: ItemKind>(
    item: Arc<I>,
    error: &ImageError,
    state: Arc<ImageState<I>>,
) -> Action {
    if error.waits_for_change() {
        return Action::await_change();
    }
    let mut failures = state.failures.lock().expect("poisoned");
    let n = failures.entry(item_key(item.as_ref())).or_default();
    *n = n.saturating_add(1);
    Action::requeue(crate::sync::backoff(*n, Duration::from_secs(300)))
}

async fn reconcile<I: ItemKind>(
    item: Arc<I>,
    state: Arc<ImageState<I>>,
) -> Result<Action, ImageError> {
    let ctx = &state.ctx;
    let controller = controller_name::<I>();
    let _timer = ctx.metrics.reconcile_started(&controller);
    let result = reconcile_item(item.as_ref(), &state).await;
    match &result {
        Ok(_) => {
            state
                .failures
                .lock()
                .expect("poisoned")
                .remove(&item_key(item.as_ref()));
        }
        Err(e) => {
            ctx.metrics.reconcile_failed(&controller, e.reason());
            tracing::warn!(item = %item_key(item.as_ref()), reason = e.reason(), error = %e, "image reconcile failed");
        }
    }
    result
}

async fn reconcile_item<I: ItemKind>(
    item: &I,
    state: &ImageState<I>,
) -> Result<Action, ImageError> {
    let ctx = &state.ctx;
    let uuid = item.uuid();
    let image_name = match vmi_id::vmi_id(uuid) {
        Ok(name) => name,
        Err(e) => {
            ctx.event(
                item,
                EventType::Warning,
                "InvalidItemUUID",
                "Reconcile",
                e.to_string(),
            )
            .await;
            return Err(e.into());
        }
    };
    let expected_item = vmi_id::item_name(uuid)?;
    if item.name_any() != expected_item {
        ctx.event(
            item,
            EventType::Warning,
            "ItemNameMismatch",
            "Reconcile",
            format!("item name {} does not match its UUID {uuid} (expected {expected_item}); the image is named by the UUID: {image_name}", item.name_any()),
        )
        .await;
    }
    let Some(item_status) = item.item_status() else {
        // The sync has not written the item's status yet; its write wakes us.
        return Ok(Action::await_change());
    };
    // Until the image store holds its list, a missing image may only be missing from the
    // store: acting on that would overwrite a good status (e.g. right after a restart).
    state.images_synced.wait().await;
    let namespace = item.namespace();
    let image_ref = store_key(&image_name, namespace.as_deref());
    let existing = state.images.get(&image_ref);
    let image_key = format!("{}/{image_name}", namespace.as_deref().unwrap_or_default());
    let seen = existing.as_ref().and_then(|img| img.resource_version());
    if state.written.store_is_behind(&image_key, seen.as_deref()) {
        // Our last write is on its way to the store, and its watch event wakes us again.
        return Ok(Action::requeue(STORE_LAG_RECHECK));
    }
    let item_uid = item.uid().unwrap_or_default();
    if let Some(owner) = existing.as_ref().and_then(|img| {
        img.owner_references()
            .iter()
            .find(|o| o.controller == Some(true))
            .cloned()
    }) && owner.uid != item_uid
    {
        return conflict(item, &image_name, &owner.name, ctx).await;
    }
    clear_conflict(item, ctx).await?;

    let facts = ItemFacts::from_status(&item.name_any(), uuid, item_status);
    let previous = existing.as_ref().and_then(|img| img.image_status());
    let obtained = obtain_descriptor(item, item_status, &facts, previous, state).await;
    let descriptor = match &obtained {
        Obtained::NotNeeded => Descriptor::NotNeeded,
        Obtained::Unchanged => Descriptor::Unchanged,
        Obtained::Parsed(info) => Descriptor::Parsed(info),
        Obtained::Failed(e) => Descriptor::Failed {
            reason: e.reason(),
            message: format!("content library item {}: {e}", item.name_any()),
        },
    };
    let status = desired_status(&facts, descriptor, previous);
    let labels = desired_labels(&status);
    let applied = apply_image(
        item,
        &image_name,
        existing.as_deref(),
        &status,
        &labels,
        ctx,
    )
    .await?;
    ctx.metrics.wrote(&controller_name::<I>(), applied.writes);
    if applied.writes > 0 {
        state
            .written
            .wrote(&image_key, applied.resource_version.as_deref());
    }
    let image = I::Image::new_image(
        ObjectMeta {
            name: Some(image_name),
            namespace: item.namespace(),
            uid: applied.uid,
            ..Default::default()
        },
        None,
        None,
    );
    announce_transition(&image, previous, &status, ctx).await;
    match obtained {
        // The status says why; the error makes the controller retry this item with backoff.
        Obtained::Failed(e) => Err(e),
        // Changes wake us; the periodic pass is a safety net for a wake-up that was lost.
        _ => Ok(Action::requeue(RESYNC)),
    }
}

/// Where an item's parsed descriptor comes from this time.
enum Obtained {
    NotNeeded,
    /// The previous status already holds this content version's fields.
    Unchanged,
    Parsed(Arc<OvfInfo>),
    Failed(ImageError),
}

/// The cache, else the previous status when the content version is unchanged (so a restart
/// does not refetch every descriptor), else the library source.
async fn obtain_descriptor<I: ItemKind>(
    item: &I,
    item_status: &ContentLibraryItemStatus,
    facts: &ItemFacts,
    previous: Option<&VirtualMachineImageStatus>,
    state: &ImageState<I>,
) -> Obtained {
    if !facts.needs_descriptor() {
        return Obtained::NotNeeded;
    }
    let uuid = facts.uuid.as_str();
    let content_version = facts.content_version.clone().unwrap_or_default();
    if let Some(info) = state.cache.get(uuid, &content_version) {
        return Obtained::Parsed(info);
    }
    let read_before = previous.is_some_and(|p| {
        p.is_ready()
            && p.provider_content_version.as_deref() == Some(content_version.as_str())
            && p.provider_item_id.as_deref() == Some(uuid)
    });
    if read_before {
        return Obtained::Unchanged;
    }
    let labels = crate::metrics::ControllerLabels {
        controller: controller_name::<I>(),
    };
    state.ctx.metrics.ovf_fetches.get_or_create(&labels).inc();
    match fetch_descriptor(item, item_status, state).await {
        Ok(info) => {
            let info = Arc::new(info);
            state.cache.insert(uuid, &content_version, info.clone());
            Obtained::Parsed(info)
        }
        Err(e) => Obtained::Failed(e),
    }
}

/// Fetches and parses an item's descriptor through its library's source.
async fn fetch_descriptor<I: ItemKind>(
    item: &I,
    status: &ContentLibraryItemStatus,
    state: &ImageState<I>,
) -> Result<OvfInfo, ImageError> {
    let ctx = &state.ctx;
    let library_ref = status.content_library_ref.clone().unwrap_or_default();
    let library_key = store_key(&library_ref.name, library_ref.namespace.as_deref());
    state.libraries_synced.wait().await;
    let library = state
        .libraries
        .get(&library_key)
        .ok_or_else(|| ImageError::LibraryNotFound(library_ref.name.clone()))?;
    let source = ctx
        .sources
        .source_for(library.scope(), library.uuid(), library.source())?;
    let info = ItemInfo {
        id: item.uuid().to_string(),
        name: status.name.clone().unwrap_or_default(),
        item_type: "Ovf".into(),
        content_version: status.content_version.clone().unwrap_or_default(),
        files: status
            .file_info
            .iter()
            .map(|f| ItemFile {
                name: f.name.clone(),
                size: u64::try_from(f.size).unwrap_or(0),
                cached: f.cached,
            })
            .collect(),
        security_compliance: status.security_compliance.unwrap_or(true),
        ..Default::default()
    };
    let timeout = ctx.settings.fetch_timeout;
    let bytes = tokio::time::timeout(timeout, source.fetch_ovf(&info))
        .await
        .map_err(|_| ImageError::FetchTimeout(timeout))??;
    // Parsing a large appliance descriptor takes milliseconds: keep it off the async workers.
    let parsed = tokio::task::spawn_blocking(move || parse_descriptor(&bytes))
        .await
        .expect("the OVF parser never panics");
    Ok(parsed?)
}

/// Our labels on an existing image (the ones the image controller owns).
fn our_labels(labels: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    labels
        .iter()
        .filter(|(k, _)| {
            k.starts_with("os.image.vmoperator.vmware.com/")
                || k.starts_with(LABEL_CAPABILITY_PREFIX)
                || k.as_str() == crate::api::LABEL_IMAGE_TYPE
                || k.as_str() == LABEL_MANAGED_BY
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// What [`apply_image`] did.
struct Applied {
    writes: u64,
    uid: Option<String>,
    /// The image's resource version after the last write.
    resource_version: Option<String>,
}

/// Writes the image object and its status where they differ.
async fn apply_image<I: ItemKind>(
    item: &I,
    image_name: &str,
    existing: Option<&I::Image>,
    status: &VirtualMachineImageStatus,
    labels: &BTreeMap<String, String>,
    ctx: &Context,
) -> Result<Applied, ImageError> {
    let provider_ref = ProviderRef {
        api_version: I::api_version(&()).into_owned(),
        kind: I::kind(&()).into_owned(),
        name: item.name_any(),
    };
    let owner = item.controller_owner_ref(&());
    let object_current = existing.is_some_and(|img| {
        our_labels(img.labels()) == *labels
            && img.provider_ref() == Some(&provider_ref)
            && owner
                .as_ref()
                .is_none_or(|o| img.owner_references().iter().any(|r| r.uid == o.uid))
    });
    let status_current = existing
        .and_then(|img| img.image_status())
        .is_some_and(|s| same_status(s, status));
    let api = I::Image::api(ctx.client.clone(), item.namespace().as_deref());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let mut applied = Applied {
        writes: 0,
        uid: existing.and_then(|img| img.uid()),
        resource_version: None,
    };
    if !object_current {
        let meta = ObjectMeta {
            name: Some(image_name.to_string()),
            labels: Some(labels.clone()),
            owner_references: owner.map(|o| vec![o]),
            ..Default::default()
        };
        let image = I::Image::new_image(meta, Some(provider_ref), None);
        let written = api
            .patch(image_name, &params, &Patch::Apply(&image))
            .await?;
        applied.uid = written.uid();
        applied.resource_version = written.resource_version();
        applied.writes += 1;
    }
    if !status_current {
        let patch = json!({ "apiVersion": I::Image::api_version(&()), "kind": I::Image::kind(&()), "status": status });
        let written = api
            .patch_status(image_name, &params, &Patch::Apply(&patch))
            .await?;
        applied.resource_version = written.resource_version();
        applied.writes += 1;
    }
    Ok(applied)
}

/// Events on the image when its Ready state changes (failures and recoveries only: a sync of
/// thousands of new images publishes no event, and a failing item does not flood the stream).
async fn announce_transition<K: ImageKind>(
    image: &K,
    previous: Option<&VirtualMachineImageStatus>,
    status: &VirtualMachineImageStatus,
    ctx: &Context,
) {
    let Some(now) = status.ready_condition() else {
        return;
    };
    let before = previous.and_then(|p| p.ready_condition());
    let changed = before.is_none_or(|b| b.status != now.status || b.reason != now.reason);
    if !changed {
        return;
    }
    match now.status {
        ConditionStatus::True if before.is_some() => {
            ctx.event(
                image,
                EventType::Normal,
                "ImageReady",
                "Reconcile",
                "the image is ready again".into(),
            )
            .await
        }
        ConditionStatus::True => {}
        _ => {
            ctx.event(
                image,
                EventType::Warning,
                &now.reason,
                "Reconcile",
                now.message.clone(),
            )
            .await
        }
    }
}

async fn conflict<I: ItemKind>(
    item: &I,
    image: &str,
    owner: &str,
    ctx: &Context,
) -> Result<Action, ImageError> {
    let error = ImageError::Conflict {
        image: image.to_string(),
        owner: owner.to_string(),
        item: item.name_any(),
    };
    let condition = crate::api::Condition::new(
        CONDITION_IMAGE_CONFLICT,
        ConditionStatus::True,
        error.reason(),
        error.to_string(),
    );
    write_item_conditions(item, vec![condition], ctx).await?;
    ctx.event(
        item,
        EventType::Warning,
        error.reason(),
        "Reconcile",
        error.to_string(),
    )
    .await;
    Err(error)
}

async fn clear_conflict<I: ItemKind>(item: &I, ctx: &Context) -> Result<(), ImageError> {
    let has_conflict = item.item_status().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == CONDITION_IMAGE_CONFLICT)
    });
    if has_conflict {
        write_item_conditions(item, vec![], ctx).await?;
    }
    Ok(())
}

/// Applies the image controller's own conditions on an item (the sync owns the rest).
async fn write_item_conditions<I: ItemKind>(
    item: &I,
    conditions: Vec<crate::api::Condition>,
    ctx: &Context,
) -> Result<(), ImageError> {
    let api = I::api(ctx.client.clone(), item.namespace().as_deref());
    let patch = json!({ "apiVersion": I::api_version(&()), "kind": I::kind(&()), "status": { "conditions": conditions } });
    api.patch_status(
        &item.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// Deletes images whose item is gone (e.g. removed while the operator was down and no garbage
/// collector ran) and refreshes the images-by-state gauge; runs every `interval`.
pub async fn cleanup_loop<I: ItemKind>(
    ctx: Arc<Context>,
    (items, items_synced): (Store<I>, Synced),
    (images, images_synced): (Store<I::Image>, Synced),
    interval: Duration,
) {
    items_synced.wait().await;
    images_synced.wait().await;
    let scope = if I::kind(&()).starts_with("Cluster") {
        "cluster"
    } else {
        "namespace"
    };
    loop {
        let mut ready = 0i64;
        let mut not_ready = 0i64;
        for image in images.state() {
            if image.image_status().is_some_and(|s| s.is_ready()) {
                ready += 1;
            } else {
                not_ready += 1;
            }
            let Some(provider) = image.provider_ref() else {
                continue;
            };
            let item_ref = store_key(&provider.name, image.namespace().as_deref());
            if items.get(&item_ref).is_none() {
                tracing::info!(image = %image.name_any(), item = %provider.name, "deleting image whose item is gone");
                let api = I::Image::api(ctx.client.clone(), image.namespace().as_deref());
                if let Err(e) = api
                    .delete(&image.name_any(), &DeleteParams::background())
                    .await
                    && !matches!(&e, kube::Error::Api(s) if s.code == 404)
                {
                    tracing::warn!(image = %image.name_any(), error = %e, "cannot delete orphaned image");
                }
            }
        }
        let labels = |ready: &str| crate::metrics::ImageStateLabels {
            scope: scope.into(),
            ready: ready.into(),
        };
        ctx.metrics.images.get_or_create(&labels("true")).set(ready);
        ctx.metrics
            .images
            .get_or_create(&labels("false"))
            .set(not_ready);
        tokio::time::sleep(interval).await;
    }
}
