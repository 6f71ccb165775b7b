//! The sync controller: keeps the item resources of each `ContentLibrary` /
//! `ClusterContentLibrary` in step with its source.
//!
//! Stages per reconcile: list the source (the only slow I/O), [`plan`] the changes (pure), apply
//! them with bounded concurrency, then write the library's status. A failed listing changes no
//! item: the library's `Ready` condition says why and the sync retries with backoff.

pub mod plan;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use kube::api::{DeleteParams, ObjectMeta};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::Store;
use kube::runtime::{WatchStreamExt, predicates, watcher};

use crate::api::{
    CONDITION_READY, Condition, ConditionStatus, ContentLibraryStatus, LibraryType, format_time,
    now_rfc3339, set_condition,
};
use crate::context::Context;
use crate::kinds::{ItemKind, Kind, LibraryKind};
use crate::reconciler::{
    self, Failures, ReconcileError, Reconciler, forget_deleted, object_key, write,
};
use crate::source::{ItemInfo, LibraryInfo, SourceError};
use crate::stores::{Holds, Packed, Synced, reflect, store_key, trigger_objects};

/// Field manager of everything the sync writes.
pub const FIELD_MANAGER: &str = "vmi-operator-sync";

/// Why a sync failed; the reason names the condition reason, event reason and metric label.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("listing the library took longer than {0:?}")]
    Timeout(Duration),
    #[error("the source holds library {found}, not {expected} (spec.id)")]
    LibraryMismatch { expected: String, found: String },
    #[error(
        "the library has no id: spec.id (spec.uuid at v1alpha1) names the library in its source"
    )]
    NoLibraryId,
    #[error("libraryType {0} is not synced by vmi-operator: only ContentLibrary is")]
    LibraryTypeNotSupported(&'static str),
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    #[error("an item in the operator's store cannot be decoded: {0}")]
    StoreDecode(serde_json::Error),
}

impl ReconcileError for SyncError {
    fn reason(&self) -> &'static str {
        match self {
            SyncError::Source(e) => e.reason(),
            SyncError::Timeout(_) => "SourceTimeout",
            SyncError::LibraryMismatch { .. } => "LibraryMismatch",
            SyncError::NoLibraryId => "LibraryIDMissing",
            SyncError::LibraryTypeNotSupported(_) => "LibraryTypeNotSupported",
            SyncError::Kube(_) => "KubernetesAPIError",
            SyncError::StoreDecode(_) => "StoreDecodeFailed",
        }
    }
}

/// The sync controller of one scope, built but not running, so its library store can be shared.
pub struct SyncController<L: LibraryKind> {
    controller: Controller<L>,
    libraries: Store<L>,
    libraries_synced: Synced,
    failures: Arc<Failures>,
}

impl<L: LibraryKind> SyncController<L> {
    pub fn new(ctx: &Context) -> Self {
        let failures = Arc::new(Failures::new(ctx.settings.sync_interval));
        let (libraries, libraries_synced, events) = reflect(
            ctx.client.clone(),
            ctx.settings.watch_namespace.as_deref(),
            watcher::Config::default(),
            crate::stores::report_invalid(ctx.recorder.clone()),
        );
        // Our own status writes must not trigger a new listing: react to spec changes only; the
        // periodic requeue does the rest.
        let events = forget_deleted(events, failures.clone());
        let trigger = trigger_objects(events, libraries.clone(), false, None)
            .predicate_filter(predicates::generation, Default::default());
        let controller = Controller::for_stream(trigger, libraries.clone()).with_config(
            kube::runtime::controller::Config::default().concurrency(ctx.settings.concurrency),
        );
        SyncController {
            controller,
            libraries,
            libraries_synced,
            failures,
        }
    }

    /// The library store (shared with the image controller) and its readiness.
    pub fn libraries(&self) -> (Store<L>, Synced) {
        (self.libraries.clone(), self.libraries_synced.clone())
    }

    /// Runs until `shutdown` resolves.
    pub async fn run(
        self,
        ctx: Arc<Context>,
        (items, items_synced): (Store<Packed<L::Item>>, Synced),
        shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    ) {
        let reconciler = Arc::new(SyncReconciler::<L> {
            name: format!("sync-{}", L::kind(&()).to_ascii_lowercase()),
            ctx,
            items,
            items_synced,
            failures: self.failures,
        });
        reconciler::run(self.controller, reconciler, None, shutdown).await;
    }
}

/// The sync of one scope: lists a library's source and applies the changes to its items.
struct SyncReconciler<L: LibraryKind> {
    name: String,
    ctx: Arc<Context>,
    /// Item resources of every library of this scope (shared with the image controller).
    items: Store<Packed<L::Item>>,
    items_synced: Synced,
    failures: Arc<Failures>,
}

impl<L: LibraryKind> Reconciler for SyncReconciler<L> {
    type Object = L;
    type Stored = L;
    type Error = SyncError;

    fn name(&self) -> &str {
        &self.name
    }

    fn context(&self) -> &Context {
        &self.ctx
    }

    fn failures(&self) -> &Failures {
        &self.failures
    }

    async fn reconcile(&self, lib: &L) -> Result<Action, SyncError> {
        let started = std::time::Instant::now();
        let result = self.sync_once(lib).await;
        self.ctx
            .metrics
            .library_sync_duration
            .get_or_create(&crate::metrics::LibraryLabels {
                library: object_key(lib),
            })
            .observe(started.elapsed().as_secs_f64());
        let count = result?;
        tracing::debug!(
            items = count,
            seconds = started.elapsed().as_secs_f64(),
            "library synced"
        );
        Ok(Action::requeue(self.ctx.settings.sync_interval))
    }

    /// Says why on the library; existing items are left as they are.
    async fn report(&self, lib: &L, error: &SyncError) {
        if let Err(e) = self.write_failure(lib, error).await {
            tracing::warn!(error = %e, "cannot write the library's failure condition");
        }
        self.ctx
            .event(
                lib,
                EventType::Warning,
                error.reason(),
                "Sync",
                error.to_string(),
            )
            .await;
    }
}

impl<L: LibraryKind> SyncReconciler<L> {
    /// Lists the source and brings the item resources in line. Returns the number of items.
    async fn sync_once(&self, lib: &L) -> Result<usize, SyncError> {
        let settings = &self.ctx.settings;
        if lib.id().is_empty() {
            return Err(SyncError::NoLibraryId);
        }
        if lib.library_type() != LibraryType::ContentLibrary {
            return Err(SyncError::LibraryTypeNotSupported("Inventory"));
        }
        tracing::debug!("listing library");
        let source = self
            .ctx
            .sources
            .source_for(lib.scope(), lib.id(), lib.source())?;
        let listing = tokio::time::timeout(settings.list_timeout, async {
            let info = source.library().await?;
            let items = source.list_items().await?;
            Ok::<_, SourceError>((info, items))
        })
        .await
        .map_err(|_| SyncError::Timeout(settings.list_timeout))??;
        let (info, items) = listing;
        // A source that serves another library must not replace this one's items.
        if !info.id.is_empty() && !info.id.eq_ignore_ascii_case(lib.id()) {
            return Err(SyncError::LibraryMismatch {
                expected: lib.id().to_string(),
                found: info.id,
            });
        }
        tracing::debug!(items = items.len(), "library listed");
        // The store must hold every existing item before we decide what is gone.
        self.items_synced.wait().await;
        let skipped = self.apply_listing(lib, &items).await?;
        self.write_status(lib, success_status(lib, &info, &items, &skipped))
            .await?;
        self.ctx
            .metrics
            .library_items
            .get_or_create(&crate::metrics::LibraryLabels {
                library: object_key(lib),
            })
            .set(items.len() as i64);
        Ok(items.len())
    }

    async fn apply_listing(
        &self,
        lib: &L,
        items: &[ItemInfo],
    ) -> Result<Vec<(String, String)>, SyncError> {
        let ctx = &self.ctx;
        let name = lib.name_any();
        let namespace = lib.namespace();
        let existing: Vec<_> = self
            .items
            .state()
            .into_iter()
            .filter(|i| i.namespace() == namespace && i.library_label() == Some(name.as_str()))
            .collect();
        let owner = lib.controller_owner_ref(&());
        let owner_uid = owner.as_ref().map(|o| o.uid.clone());
        let now = now_rfc3339();
        let mut plan = plan::plan(items, &existing, &name, owner_uid.as_deref(), &now)
            .map_err(SyncError::StoreDecode)?;
        drop(existing);
        for (item, why) in &plan.skipped {
            tracing::debug!(item = %item, why = %why, "item skipped");
        }
        let api = L::Item::api(ctx.client.clone(), namespace.as_deref());
        let labels = plan::item_labels(&name);
        // Each write's future, and the status it writes, is made when a slot frees (from the
        // item as the store holds it then): made up front, the futures of a 10,000-item first
        // sync held tens of megabytes. They own what they write (a lazy stream of futures
        // that borrow is not Send for every lifetime).
        let (applied, deleted) = (plan.apply.len(), plan.delete.len());
        let store = &self.items;
        let writes = futures::stream::iter(std::mem::take(&mut plan.apply)).map(|desired| {
            let current = store.get(&store_key(&desired.name, namespace.as_deref()));
            let status = match current.as_deref().map(Holds::object).transpose() {
                Ok(current) => Ok(desired.status(items, current.as_deref(), &now)),
                Err(e) => Err(SyncError::StoreDecode(e)),
            };
            let api = api.clone();
            let meta = ObjectMeta {
                name: Some(desired.name.clone()),
                labels: Some(labels.clone()),
                owner_references: owner.clone().map(|o| vec![o]),
                ..Default::default()
            };
            let object = desired
                .write_object
                .then(|| L::Item::new_item(meta, desired.uuid(items), &name, None));
            let write: BoxFuture<'static, Result<u64, SyncError>> = Box::pin(async move {
                let status = status?;
                let mut count = 0;
                if let Some(object) = object {
                    write::apply(&api, &desired.name, FIELD_MANAGER, &object).await?;
                    count += 1;
                }
                write::apply_status(&api, &desired.name, FIELD_MANAGER, &status).await?;
                Ok(count + 1)
            });
            write
        });
        let deletes = futures::stream::iter(std::mem::take(&mut plan.delete)).map(|gone| {
            let api = api.clone();
            let delete: BoxFuture<'static, Result<u64, SyncError>> = Box::pin(async move {
                match api.delete(&gone, &DeleteParams::background()).await {
                    Ok(_) => Ok(1),
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(0),
                    Err(e) => Err(e.into()),
                }
            });
            delete
        });
        let sum = |total: u64, n: u64| futures::future::ready(Ok(total + n));
        let written = writes
            .buffer_unordered(ctx.settings.write_concurrency)
            .try_fold(0, sum)
            .await?;
        let removed = deletes
            .buffer_unordered(ctx.settings.write_concurrency)
            .try_fold(0, sum)
            .await?;
        ctx.metrics.wrote(&self.name, written + removed);
        if applied > 0 || deleted > 0 {
            tracing::info!(
                applied,
                deleted,
                unchanged = plan.unchanged,
                skipped = plan.skipped.len(),
                "library items updated"
            );
        }
        Ok(plan.skipped)
    }

    async fn write_status(&self, lib: &L, status: ContentLibraryStatus) -> Result<(), kube::Error> {
        let status = self.ctx.writable.library_status(status);
        let api = L::api(self.ctx.client.clone(), lib.namespace().as_deref());
        write::apply_status(&api, &lib.name_any(), FIELD_MANAGER, &status).await?;
        self.ctx.metrics.wrote(&self.name, 1);
        Ok(())
    }

    async fn write_failure(&self, lib: &L, error: &SyncError) -> Result<(), kube::Error> {
        self.write_status(lib, failure_status(lib, error)).await
    }
}

/// The status of a library whose listing was applied.
fn success_status<L: LibraryKind>(
    lib: &L,
    info: &LibraryInfo,
    items: &[ItemInfo],
    skipped: &[(String, String)],
) -> ContentLibraryStatus {
    let previous = lib.library_status().cloned().unwrap_or_default();
    let mut conditions = previous.conditions;
    set_condition(
        &mut conditions,
        Condition::new(
            CONDITION_READY,
            ConditionStatus::True,
            "Synced",
            skipped_message(skipped),
        )
        .with_generation(lib.meta().generation),
    );
    ContentLibraryStatus {
        name: Some(info.name.clone()).filter(|s| !s.is_empty()),
        description: Some(info.description.clone()).filter(|s| !s.is_empty()),
        version: Some(info.version.clone()).filter(|s| !s.is_empty()),
        creation_time: info.creation_time.map(format_time),
        last_modified_time: info.last_modified_time.map(format_time),
        last_sync_time: Some(now_rfc3339()),
        item_count: Some(items.len() as i64),
        observed_generation: lib.meta().generation,
        conditions,
        // What a vCenter's registry reports of its own libraries (publication, storage): this
        // operator only reads libraries.
        ..Default::default()
    }
}

/// The status of a library whose sync failed: what the last good sync said (item count,
/// times) stays; only the condition changes.
fn failure_status<L: LibraryKind>(lib: &L, error: &SyncError) -> ContentLibraryStatus {
    let mut status = lib.library_status().cloned().unwrap_or_default();
    set_condition(
        &mut status.conditions,
        Condition::new(
            CONDITION_READY,
            ConditionStatus::False,
            error.reason(),
            error.to_string(),
        )
        .with_generation(lib.meta().generation),
    );
    status.observed_generation = lib.meta().generation;
    status
}

/// Says which listed items got no resource and why (the first few; the count of all).
fn skipped_message(skipped: &[(String, String)]) -> String {
    const SHOWN: usize = 5;
    if skipped.is_empty() {
        return String::new();
    }
    let mut listed: Vec<String> = skipped
        .iter()
        .take(SHOWN)
        .map(|(name, why)| format!("{name:?}: {why}"))
        .collect();
    if skipped.len() > SHOWN {
        listed.push(format!("and {} more", skipped.len() - SHOWN));
    }
    format!(
        "{} items are not synced: {}",
        skipped.len(),
        listed.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_items_are_named_in_the_message() {
        assert_eq!(skipped_message(&[]), "");
        let few = [(
            "vm".to_string(),
            "type \"vm-template\" makes no image".to_string(),
        )];
        assert_eq!(
            skipped_message(&few),
            r#"1 items are not synced: "vm": type "vm-template" makes no image"#
        );
        let many: Vec<(String, String)> = (0..7)
            .map(|i| (format!("i{i}"), "bad".to_string()))
            .collect();
        assert!(skipped_message(&many).ends_with("and 2 more"));
    }
}
