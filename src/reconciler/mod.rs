//! What every controller shares around its own reconcile: the span with the object's key, the
//! metrics, the failure report, the error policy with per-object backoff, and typed
//! server-side-apply helpers. A controller implements [`Reconciler`]; [`run`] drives it.
//!
//! Each controller's own reconcile is staged the same way: observe (read the stores), decide (a
//! pure function returning the writes and events, unit-tested), apply (do them).

mod backoff;
pub mod write;

use std::sync::Arc;

use futures::{Stream, StreamExt};
use kube::runtime::controller::{self, Action, Controller};
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tracing::Instrument;

pub use backoff::{Failures, backoff};

use crate::context::Context;
use crate::kinds::Kind;
#[cfg(doc)]
use crate::stores::Packed;
use crate::stores::{Holds, Pace, pace_key};

/// What the scaffolding needs of a controller's error.
pub trait ReconcileError: std::error::Error + Send + Sync + 'static {
    /// The stable reason: condition reason, event reason and metric label.
    fn reason(&self) -> &'static str;
    /// Errors that only a change of the object can fix: no retry until then.
    fn waits_for_change(&self) -> bool {
        false
    }
}

/// One controller: its object kind, its reconcile, and how it reports a failure on the object.
pub trait Reconciler: Send + Sync + 'static {
    type Object: Kind;
    /// What the controller's store holds of an object (the object, or it [`Packed`]).
    type Stored: Holds<Self::Object>;
    type Error: ReconcileError;

    /// The controller's name in metrics and logs, e.g. `sync-contentlibrary`.
    fn name(&self) -> &str;
    fn context(&self) -> &Context;
    fn failures(&self) -> &Failures;

    fn reconcile(
        &self,
        object: &Self::Object,
    ) -> impl Future<Output = Result<Action, Self::Error>> + Send;

    /// Tells the object's readers why it failed (a condition, an event), beyond the metric and
    /// the log line that every failure gets. Failures to report are logged, never returned.
    fn report(
        &self,
        _object: &Self::Object,
        _error: &Self::Error,
    ) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// `namespace/name`, or `name` for cluster-scoped objects: the key in logs, spans and backoff.
pub fn object_key<K: Resource>(object: &K) -> String {
    match object.namespace() {
        Some(ns) => format!("{ns}/{}", object.name_any()),
        None => object.name_any(),
    }
}

/// Runs `controller` with `reconciler` until `shutdown` resolves, telling `pace` (the pace of
/// its triggers' relists, if any) of every reconcile that ends.
pub async fn run<R: Reconciler>(
    controller: Controller<R::Stored>,
    reconciler: Arc<R>,
    pace: Option<Arc<Pace>>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let name = reconciler.name().to_string();
    controller
        .trigger_backoff(crate::stores::NoTriggerBackoff)
        .graceful_shutdown_on(shutdown)
        .run(reconcile::<R>, error_policy::<R>, reconciler)
        .for_each(|result| {
            // Only a paced controller needs the key (formatted once per reconcile).
            if let Some(pace) = &pace {
                let ended = match &result {
                    Ok((object, _)) => Some((&object.name, object.namespace.as_deref())),
                    Err(
                        controller::Error::ObjectNotFound(object)
                        | controller::Error::ReconcilerFailed(_, object),
                    ) => Some((&object.name, object.namespace.as_deref())),
                    Err(_) => None,
                };
                if let Some((name, namespace)) = ended {
                    pace.done(&pace_key(name, namespace));
                }
            }
            if let Err(e) = result {
                tracing::debug!(controller = %name, error = %e, "reconcile ended with an error");
            }
            futures::future::ready(())
        })
        .await;
}

async fn reconcile<R: Reconciler>(stored: Arc<R::Stored>, r: Arc<R>) -> Result<Action, R::Error> {
    let key = object_key(stored.as_ref());
    let span = tracing::info_span!("reconcile", controller = r.name(), object = %key);
    async {
        let object = match stored.object() {
            Ok(object) => object,
            Err(e) => {
                // Only a packed object that no longer decodes: its next change replaces it.
                tracing::error!(error = %e, "stored object cannot be decoded; waiting for a change");
                return Ok(Action::await_change());
            }
        };
        let metrics = &r.context().metrics;
        let _timer = metrics.reconcile_started(r.name());
        let result = r.reconcile(&object).await;
        match &result {
            Ok(_) => r.failures().succeeded(&key),
            Err(e) => {
                metrics.reconcile_failed(r.name(), e.reason());
                tracing::warn!(reason = e.reason(), error = %e, "reconcile failed");
                r.report(&object, e).await;
            }
        }
        result
    }
    .instrument(span)
    .await
}

fn error_policy<R: Reconciler>(stored: Arc<R::Stored>, error: &R::Error, r: Arc<R>) -> Action {
    if error.waits_for_change() {
        return Action::await_change();
    }
    Action::requeue(r.failures().failed(&object_key(stored.as_ref())))
}

/// Passes a reflector's events through, forgetting the failures of each deleted object so the
/// backoff map holds only objects that exist.
pub fn forget_deleted<K: crate::stores::Stored>(
    events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    failures: Arc<Failures>,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static {
    events.inspect(move |event| {
        if let Ok(watcher::Event::Delete(object)) = event {
            failures.forget(&object_key(object));
        }
    })
}
