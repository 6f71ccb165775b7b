//! The image controller: one `VirtualMachineImage` per `ContentLibraryItem` and one
//! `ClusterVirtualMachineImage` per `ClusterContentLibraryItem`, named by the item's VMI ID.
//!
//! Stages per reconcile: observe (the item, its image in the store, the descriptor cache),
//! [`decide::prepare`] (pure: names, store lag, conflicts, where the descriptor comes from),
//! fetch the descriptor when needed, [`decide::decide`] (pure: the writes and events), apply.

pub mod cache;
mod cleanup;
pub mod decide;
pub mod desired;
mod error;
pub mod expectations;
mod fetch;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};

use crate::api::ProviderRef;
use crate::context::Context;
use crate::kinds::{ImageKind, ItemKind, Kind};
use crate::reconciler::{self, Failures, Reconciler, forget_deleted, write};
use crate::stores::{
    ImageFeed, Pace, Paced, Packed, Synced, pace_key, reflect, store_key, trigger_objects,
};
use crate::vmi_id;
use cache::OvfCache;
pub use cleanup::cleanup_loop;
pub use decide::CONDITION_IMAGE_CONFLICT;
use decide::{Decision, Need, Observed, Obtained, Prepared, Target, Then, Write};
pub use error::ImageError;
use expectations::Expectations;

/// Field manager of everything the image controller writes.
pub const FIELD_MANAGER: &str = "vmi-operator-image";
/// How long a write of ours is waited for in the image store before it is acted on anyway.
const STORE_PATIENCE: Duration = Duration::from_secs(30);
/// Longest wait between retries of a failing item.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The image controller of one scope, built but not running, so its stores can be shared.
pub struct ImageController<I: ItemKind> {
    controller: Controller<Packed<I>>,
    pace: Arc<Pace>,
    items: Store<Packed<I>>,
    items_synced: Synced,
    images: Store<Packed<I::Image>>,
    images_synced: Synced,
    failures: Arc<Failures>,
}

impl<I: ItemKind> ImageController<I> {
    /// The controller of `I`, its images taken from `images` (the process's one watch of them).
    pub fn new(ctx: &Context, images: &ImageFeed<I::Image>) -> Self {
        let namespace = ctx.settings.watch_namespace.as_deref();
        let failures = Arc::new(Failures::new(MAX_BACKOFF));
        let on_invalid = crate::stores::report_invalid(ctx.recorder.clone());
        let (items, items_synced, item_events) = reflect(
            ctx.client.clone(),
            namespace,
            watcher::Config::default(),
            on_invalid,
        );
        let image_events = images.subscribe();
        let (images, images_synced) = images.store();
        let item_events = forget_deleted(item_events, failures.clone());
        // A restart relists every item and every image, and every item is reconciled again
        // each `RESYNC`: all are handed over a window at a time, counted by the item each
        // reconciles.
        let pace = Arc::new(Pace::default());
        let item_triggers = trigger_objects(
            item_events,
            items.clone(),
            false,
            Some(Paced {
                pace: pace.clone(),
                key: |item: &Packed<I>| {
                    Some(pace_key(&item.name_any(), item.namespace().as_deref()))
                },
                resync: Some(decide::RESYNC),
            }),
        );
        let image_triggers = trigger_objects(
            image_events,
            images.clone(),
            true,
            Some(Paced {
                pace: pace.clone(),
                key: owner_item_key::<I>,
                resync: None,
            }),
        );
        let controller = Controller::for_stream(item_triggers, items.clone())
            .watches_stream(image_triggers, owner_item::<I>)
            .with_config(
                kube::runtime::controller::Config::default().concurrency(ctx.settings.concurrency),
            );
        ImageController {
            controller,
            pace,
            items,
            items_synced,
            images,
            images_synced,
            failures,
        }
    }

    /// The item store (shared with the sync controller) and its readiness.
    pub fn items(&self) -> (Store<Packed<I>>, Synced) {
        (self.items.clone(), self.items_synced.clone())
    }

    pub fn images(&self) -> (Store<Packed<I::Image>>, Synced) {
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
        let reconciler = Arc::new(ImageReconciler::<I> {
            name: format!("image-{}", I::kind(&()).to_ascii_lowercase()),
            ctx,
            libraries: libraries.0,
            libraries_synced: libraries.1,
            images: self.images,
            images_synced: self.images_synced,
            cache,
            failures: self.failures,
            written: Expectations::new(STORE_PATIENCE),
        });
        reconciler::run(self.controller, reconciler, Some(self.pace), shutdown).await;
    }
}

/// The pace key of the item that owns `image`: the reconcile an image's trigger becomes.
fn owner_item_key<I: ItemKind>(image: &Packed<I::Image>) -> Option<String> {
    let item = image.owner_named(&I::kind(&()))?;
    Some(pace_key(item, image.namespace().as_deref()))
}

/// The item that owns `image`, whose reconcile a change of the image triggers.
fn owner_item<I: ItemKind>(image: Packed<I::Image>) -> Option<ObjectRef<Packed<I>>> {
    let item = image.owner_named(&I::kind(&()))?;
    Some(store_key(item, image.namespace().as_deref()))
}

/// The image controller of one scope.
struct ImageReconciler<I: ItemKind> {
    name: String,
    ctx: Arc<Context>,
    libraries: Store<I::Library>,
    libraries_synced: Synced,
    images: Store<Packed<I::Image>>,
    images_synced: Synced,
    cache: Arc<OvfCache>,
    failures: Arc<Failures>,
    written: Expectations,
}

impl<I: ItemKind> Reconciler for ImageReconciler<I> {
    type Object = I;
    type Stored = Packed<I>;
    type Error = ImageError;

    fn name(&self) -> &str {
        &self.name
    }

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn failures(&self) -> &Failures {
        &self.failures
    }

    async fn reconcile(&self, item: &I) -> Result<Action, ImageError> {
        // Until the image store holds its list, a missing image may only be missing from the
        // store: acting on that would overwrite a good status (e.g. right after a restart).
        self.images_synced.wait().await;
        let image_name = vmi_id::vmi_id(item.uuid()).unwrap_or_default();
        let namespace = item.namespace();
        let stored = self
            .images
            .get(&store_key(&image_name, namespace.as_deref()));
        let image = match stored {
            Some(packed) => Some(packed.unpack().map_err(ImageError::StoreDecode)?),
            None => None,
        };
        let seen = image.as_ref().and_then(|img| img.resource_version());
        let item_uid = item.uid().unwrap_or_default();
        let observed = Observed {
            item_name: &item.name_any(),
            item_uid: &item_uid,
            uuid: item.uuid(),
            item_status: item.item_status(),
            owner: item.controller_owner_ref(&()),
            provider_ref: ProviderRef {
                api_version: crate::api::PROVIDER_REF_API_VERSION.to_string(),
                kind: I::kind(&()).into_owned(),
                name: item.name_any(),
            },
            image: image.as_ref(),
            store_behind: self.written.store_is_behind(
                &image_key(namespace.as_deref(), &image_name),
                seen.as_deref(),
            ),
            writable: self.ctx.writable,
            service_labels: match namespace {
                Some(_) => vec![],
                None => item
                    .labels()
                    .keys()
                    .filter(|k| k.starts_with(decide::LABEL_SERVICE_TYPE_PREFIX))
                    .cloned()
                    .collect(),
            },
        };
        let content_version = observed
            .item_status
            .and_then(|s| s.content_version.clone())
            .unwrap_or_default();
        let cached = self.cache.get(item.uuid(), &content_version);
        let decision = match decide::prepare(&observed, cached.is_some()) {
            Prepared::Done(decision) => decision,
            Prepared::Image(pending) => {
                if matches!(pending.need, Need::Unchanged | Need::NotNeeded) {
                    self.cache.forget(item.uuid());
                }
                let obtained = match (&pending.need, cached) {
                    (Need::NotNeeded, _) => Obtained::NotNeeded,
                    (Need::Unchanged, _) => Obtained::Unchanged,
                    (Need::Cached, Some(info)) => Obtained::Parsed(info),
                    (Need::Cached | Need::Fetch, _) => self.fetch(item, &content_version).await,
                };
                decide::decide(&observed, pending, obtained)
            }
        };
        let image_uid = image.as_ref().and_then(|img| img.uid());
        self.apply(item, image_uid, decision).await
    }
}

/// The item's conditions, as the image controller applies them (the sync owns the rest of the
/// status).
#[derive(Debug, serde::Serialize)]
struct OwnConditions {
    conditions: Vec<crate::api::Condition>,
}

fn image_key(namespace: Option<&str>, name: &str) -> String {
    format!("{}/{name}", namespace.unwrap_or_default())
}

impl<I: ItemKind> ImageReconciler<I> {
    /// Fetches and parses the item's descriptor, and caches it.
    async fn fetch(&self, item: &I, content_version: &str) -> Obtained {
        let labels = crate::metrics::ControllerLabels {
            controller: self.name.clone(),
        };
        self.ctx.metrics.ovf_fetches.get_or_create(&labels).inc();
        let Some(status) = item.item_status() else {
            return Obtained::NotNeeded;
        };
        // The library is in the item's own namespace (none for a cluster item).
        let library_name = item.library_name();
        self.libraries_synced.wait().await;
        let Some(library) = self
            .libraries
            .get(&store_key(library_name, item.namespace().as_deref()))
        else {
            return Obtained::Failed(ImageError::LibraryNotFound(library_name.to_string()));
        };
        match fetch::descriptor(&self.ctx, library.as_ref(), item.uuid(), status).await {
            Ok(info) => {
                let info = Arc::new(info);
                self.cache
                    .insert(item.uuid(), content_version, info.clone());
                Obtained::Parsed(info)
            }
            Err(e) => Obtained::Failed(e),
        }
    }

    /// Does the writes, then publishes the events, and says what comes next.
    /// `image_uid`: the uid of the image in the store, if any.
    async fn apply(
        &self,
        item: &I,
        mut image_uid: Option<String>,
        decision: Decision,
    ) -> Result<Action, ImageError> {
        let Decision {
            image_name,
            writes,
            events,
            then,
        } = decision;
        let namespace = item.namespace();
        let images = I::Image::api(self.ctx.client.clone(), namespace.as_deref());
        let items = I::api(self.ctx.client.clone(), namespace.as_deref());
        let mut image_version = None;
        let mut count = 0;
        for w in writes {
            match w {
                Write::ItemConditions(conditions) => {
                    let status = OwnConditions { conditions };
                    write::apply_status(&items, &item.name_any(), FIELD_MANAGER, &status).await?;
                }
                Write::Image {
                    labels,
                    annotations,
                    provider_ref,
                    owner,
                } => {
                    let meta = kube::api::ObjectMeta {
                        name: Some(image_name.clone()),
                        labels: Some(labels),
                        annotations: Some(annotations),
                        owner_references: owner.map(|o| vec![o]),
                        ..Default::default()
                    };
                    let image = I::Image::new_image(meta, Some(provider_ref), None);
                    let written = write::apply(&images, &image_name, FIELD_MANAGER, &image).await?;
                    image_uid = written.uid();
                    image_version = written.resource_version();
                    count += 1;
                }
                Write::ImageStatus(status) => {
                    let written =
                        write::apply_status(&images, &image_name, FIELD_MANAGER, &status).await?;
                    image_version = written.resource_version();
                    count += 1;
                }
            }
        }
        self.ctx.metrics.wrote(&self.name, count);
        if count > 0 {
            self.written.wrote(
                &image_key(namespace.as_deref(), &image_name),
                image_version.as_deref(),
            );
        }
        for event in events {
            let reference = match event.target {
                Target::Item => item.object_ref(&()),
                Target::Image => ObjectReference {
                    api_version: Some(I::Image::api_version(&()).into_owned()),
                    kind: Some(I::Image::kind(&()).into_owned()),
                    name: Some(image_name.clone()),
                    namespace: namespace.clone(),
                    uid: image_uid.clone(),
                    ..Default::default()
                },
            };
            self.ctx
                .event_on(
                    &reference,
                    event.type_,
                    &event.reason,
                    "Reconcile",
                    event.note,
                )
                .await;
        }
        match then {
            Then::Requeue(after) => Ok(Action::requeue(after)),
            Then::AwaitChange => Ok(Action::await_change()),
            Then::Fail(e) => Err(e),
        }
    }
}
