//! The sync controller: keeps the item resources of each `ContentLibrary` /
//! `ClusterContentLibrary` in step with its source.
//!
//! Stages per reconcile: list the source (the only slow I/O), [`plan`] the changes (pure), apply
//! them with bounded concurrency, then write the library's status. A failed listing changes no
//! item: the library's `Ready` condition says why and the sync retries with backoff.

pub mod plan;

use std::sync::Arc;
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::EventType;
use kube::runtime::reflector::Store;
use kube::runtime::{WatchStreamExt, predicates, watcher};

use crate::stores::{Synced, reflect, trigger_objects};
use kube::{Resource, ResourceExt};
use serde_json::json;

use crate::api::{
    CONDITION_READY, Condition, ConditionStatus, ContentLibraryRef, ContentLibraryStatus,
    ContentLibraryType, format_time, now_rfc3339, set_condition,
};
use crate::context::Context;
use crate::kinds::{LABEL_LIBRARY, LibraryKind};
use crate::source::{ItemInfo, LibraryInfo, SourceError};

/// Field manager of everything the sync writes.
pub const FIELD_MANAGER: &str = "vmi-operator-sync";

/// Why a sync failed; the reason names the condition reason, event reason and metric label.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error("listing the library took longer than {0:?}")]
    Timeout(Duration),
    #[error("the source holds library {found}, not {expected} (spec.uuid)")]
    LibraryMismatch { expected: String, found: String },
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
}

impl SyncError {
    pub fn reason(&self) -> &'static str {
        match self {
            SyncError::Source(e) => e.reason(),
            SyncError::Timeout(_) => "SourceTimeout",
            SyncError::LibraryMismatch { .. } => "LibraryMismatch",
            SyncError::Kube(_) => "KubernetesAPIError",
        }
    }
}

/// State of one sync controller.
pub struct SyncContext<L: LibraryKind> {
    pub ctx: Arc<Context>,
    /// Item resources of every library of this scope (shared with the image controller).
    pub items: Store<L::Item>,
    pub items_synced: Synced,
    /// Consecutive failures per library, for backoff.
    failures: std::sync::Mutex<std::collections::HashMap<String, u32>>,
}

fn controller_name<L: LibraryKind>() -> String {
    format!("sync-{}", L::kind(&()).to_ascii_lowercase())
}

/// The sync controller of one scope, built but not running, so its library store can be shared.
pub struct SyncController<L: LibraryKind> {
    controller: Controller<L>,
    libraries: Store<L>,
    libraries_synced: Synced,
}

impl<L: LibraryKind> SyncController<L> {
    pub fn new(ctx: &Context) -> Self {
        let (libraries, libraries_synced, events) = reflect(
            L::api(ctx.client.clone(), ctx.settings.watch_namespace.as_deref()),
            watcher::Config::default(),
        );
        // Our own status writes must not trigger a new listing: react to spec changes only; the
        // periodic requeue does the rest.
        let trigger = trigger_objects(events, libraries.clone(), false)
            .predicate_filter(predicates::generation, Default::default());
        let controller = Controller::for_stream(trigger, libraries.clone()).with_config(
            kube::runtime::controller::Config::default().concurrency(ctx.settings.concurrency),
        );
        SyncController {
            controller,
            libraries,
            libraries_synced,
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
        (items, items_synced): (Store<L::Item>, Synced),
        shutdown: impl std::future::Future<Output = ()> + Send + Sync + 'static,
    ) {
        let state = Arc::new(SyncContext::<L> {
            ctx,
            items,
            items_synced,
            failures: Default::default(),
        });
        self.controller
            .graceful_shutdown_on(shutdown)
            .run(reconcile::<L>, error_policy::<L>, state)
            .for_each(|result| async move {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "sync reconcile ended with an error");
                }
            })
            .await;
    }
}

/// `namespace/name` of a library, for logs, backoff and metric labels.
fn library_key<L: LibraryKind>(lib: &L) -> String {
    format!("{}/{}", lib.namespace().unwrap_or_default(), lib.name_any())
}

fn library_ref<L: LibraryKind>(lib: &L) -> ContentLibraryRef {
    ContentLibraryRef {
        name: lib.name_any(),
        namespace: lib.namespace(),
    }
}

async fn reconcile<L: LibraryKind>(
    lib: Arc<L>,
    state: Arc<SyncContext<L>>,
) -> Result<Action, SyncError> {
    let ctx = &state.ctx;
    let controller = controller_name::<L>();
    let timer = ctx.metrics.reconcile_started(&controller);
    let key = library_key(lib.as_ref());
    let result = sync_once(lib.as_ref(), state.as_ref()).await;
    let elapsed = timer.elapsed();
    drop(timer);
    ctx.metrics
        .library_sync_duration
        .get_or_create(&crate::metrics::LibraryLabels {
            library: key.clone(),
        })
        .observe(elapsed.as_secs_f64());
    match result {
        Ok(count) => {
            state.failures.lock().expect("poisoned").remove(&key);
            tracing::debug!(library = %key, items = count, seconds = elapsed.as_secs_f64(), "library synced");
            Ok(Action::requeue(ctx.settings.sync_interval))
        }
        Err(e) => {
            ctx.metrics.reconcile_failed(&controller, e.reason());
            tracing::warn!(library = %key, reason = e.reason(), error = %e, "library sync failed");
            // Say why on the library; existing items are left as they are.
            let _ = write_failure(lib.as_ref(), ctx, &e).await;
            ctx.event(
                lib.as_ref(),
                EventType::Warning,
                e.reason(),
                "Sync",
                e.to_string(),
            )
            .await;
            Err(e)
        }
    }
}

fn error_policy<L: LibraryKind>(
    lib: Arc<L>,
    _error: &SyncError,
    state: Arc<SyncContext<L>>,
) -> Action {
    let key = library_key(lib.as_ref());
    let mut failures = state.failures.lock().expect("poisoned");
    let n = failures.entry(key).or_default();
    *n = n.saturating_add(1);
    Action::requeue(backoff(*n, state.ctx.settings.sync_interval))
}

/// Exponential backoff from 2 s, never longer than the sync interval.
pub fn backoff(failures: u32, cap: Duration) -> Duration {
    let secs = 2u64.saturating_pow(failures.min(16));
    Duration::from_secs(secs).min(cap.max(Duration::from_secs(2)))
}

/// Lists the source and brings the item resources in line. Returns the number of items.
async fn sync_once<L: LibraryKind>(lib: &L, state: &SyncContext<L>) -> Result<usize, SyncError> {
    let ctx = &state.ctx;
    tracing::debug!(library = %lib.name_any(), "listing library");
    let source = ctx
        .sources
        .source_for(lib.scope(), lib.uuid(), lib.source())?;
    let listing = tokio::time::timeout(ctx.settings.list_timeout, async {
        let info = source.library().await?;
        let items = source.list_items().await?;
        Ok::<_, SourceError>((info, items))
    })
    .await
    .map_err(|_| SyncError::Timeout(ctx.settings.list_timeout))??;
    let (info, items) = listing;
    // A source that serves another library must not replace this one's items.
    if !info.id.is_empty() && !info.id.eq_ignore_ascii_case(lib.uuid()) {
        return Err(SyncError::LibraryMismatch {
            expected: lib.uuid().to_string(),
            found: info.id,
        });
    }
    tracing::debug!(library = %lib.name_any(), items = items.len(), "library listed");
    // The store must hold every existing item before we decide what is gone.
    state.items_synced.wait().await;
    let skipped = apply_listing(lib, state, &items).await?;
    write_success(lib, ctx, &info, &items, &skipped).await?;
    ctx.metrics
        .library_items
        .get_or_create(&crate::metrics::LibraryLabels {
            library: library_key(lib),
        })
        .set(items.len() as i64);
    Ok(items.len())
}

async fn apply_listing<L: LibraryKind>(
    lib: &L,
    state: &SyncContext<L>,
    items: &[ItemInfo],
) -> Result<Vec<(String, String)>, SyncError> {
    let ctx = &state.ctx;
    let name = lib.name_any();
    let namespace = lib.namespace();
    let existing: Vec<Arc<L::Item>> = state
        .items
        .state()
        .into_iter()
        .filter(|i| i.namespace() == namespace && i.labels().get(LABEL_LIBRARY) == Some(&name))
        .collect();
    let owner = lib.controller_owner_ref(&());
    let owner_uid = owner.as_ref().map(|o| o.uid.clone());
    let plan = plan::plan(
        items,
        &existing,
        &library_ref(lib),
        owner_uid.as_deref(),
        &now_rfc3339(),
    );
    for (item, why) in &plan.skipped {
        tracing::debug!(library = %name, item = %item, why = %why, "item skipped");
    }
    let api = <L::Item as crate::kinds::Kind>::api(ctx.client.clone(), namespace.as_deref());
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let labels = plan::item_labels(&name);
    let writes = plan.apply.iter().map(|desired| {
        let api = api.clone();
        let params = params.clone();
        let labels = labels.clone();
        let owner = owner.clone();
        async move {
            let mut count = 0;
            if desired.write_object {
                let object = json!({
                    "apiVersion": L::Item::api_version(&()),
                    "kind": L::Item::kind(&()),
                    "metadata": { "name": desired.name, "labels": labels, "ownerReferences": owner.into_iter().collect::<Vec<_>>() },
                    "spec": { "uuid": desired.uuid },
                });
                api.patch(&desired.name, &params, &Patch::Apply(&object)).await?;
                count += 1;
            }
            let status = json!({
                "apiVersion": L::Item::api_version(&()),
                "kind": L::Item::kind(&()),
                "status": desired.status,
            });
            api.patch_status(&desired.name, &params, &Patch::Apply(&status)).await?;
            Ok::<u64, kube::Error>(count + 1)
        }
    }).collect::<Vec<_>>();
    let deletes = plan
        .delete
        .iter()
        .map(|gone| {
            let api = api.clone();
            async move {
                match api.delete(gone, &DeleteParams::background()).await {
                    Ok(_) => Ok(1),
                    Err(kube::Error::Api(s)) if s.code == 404 => Ok(0),
                    Err(e) => Err(e),
                }
            }
        })
        .collect::<Vec<_>>();
    let written: Vec<u64> = futures::stream::iter(writes)
        .buffer_unordered(ctx.settings.write_concurrency)
        .try_collect()
        .await?;
    let deleted: Vec<u64> = futures::stream::iter(deletes)
        .buffer_unordered(ctx.settings.write_concurrency)
        .try_collect()
        .await?;
    ctx.metrics.wrote(
        &controller_name::<L>(),
        written.iter().sum::<u64>() + deleted.iter().sum::<u64>(),
    );
    if !plan.apply.is_empty() || !plan.delete.is_empty() {
        tracing::info!(library = %name, applied = plan.apply.len(), deleted = plan.delete.len(),
            unchanged = plan.unchanged, skipped = plan.skipped.len(), "library items updated");
    }
    Ok(plan.skipped)
}

fn library_type(info: &LibraryInfo) -> Option<ContentLibraryType> {
    match info.library_type.to_ascii_lowercase().as_str() {
        "local" => Some(ContentLibraryType::Local),
        "subscribed" => Some(ContentLibraryType::Subscribed),
        _ => None,
    }
}

async fn write_status<L: LibraryKind>(
    lib: &L,
    ctx: &Context,
    status: ContentLibraryStatus,
) -> Result<(), kube::Error> {
    let api = L::api(ctx.client.clone(), lib.namespace().as_deref());
    let patch =
        json!({ "apiVersion": L::api_version(&()), "kind": L::kind(&()), "status": status });
    api.patch_status(
        &lib.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    ctx.metrics.wrote(&controller_name::<L>(), 1);
    Ok(())
}

async fn write_success<L: LibraryKind>(
    lib: &L,
    ctx: &Context,
    info: &LibraryInfo,
    items: &[ItemInfo],
    skipped: &[(String, String)],
) -> Result<(), kube::Error> {
    let previous = lib.library_status().cloned().unwrap_or_default();
    let mut conditions = previous.conditions.clone();
    let message = skipped_message(skipped);
    set_condition(
        &mut conditions,
        Condition::new(CONDITION_READY, ConditionStatus::True, "Synced", message)
            .with_generation(lib.meta().generation),
    );
    let status = ContentLibraryStatus {
        name: Some(info.name.clone()).filter(|s| !s.is_empty()),
        description: Some(info.description.clone()).filter(|s| !s.is_empty()),
        type_: library_type(info),
        version: Some(info.version.clone()).filter(|s| !s.is_empty()),
        creation_time: info.creation_time.map(format_time),
        last_modified_time: info.last_modified_time.map(format_time),
        last_sync_time: Some(now_rfc3339()),
        item_count: Some(items.len() as i64),
        observed_generation: lib.meta().generation,
        conditions,
    };
    write_status(lib, ctx, status).await
}

async fn write_failure<L: LibraryKind>(
    lib: &L,
    ctx: &Context,
    error: &SyncError,
) -> Result<(), kube::Error> {
    // Keep what the last good sync said (item count, times); only the condition changes.
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
    write_status(lib, ctx, status).await
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

    #[test]
    fn backoff_grows_and_is_capped() {
        let cap = Duration::from_secs(300);
        assert_eq!(backoff(1, cap), Duration::from_secs(2));
        assert_eq!(backoff(3, cap), Duration::from_secs(8));
        assert_eq!(backoff(30, cap), cap);
    }
}
