//! Reflector stores with a readiness signal that any number of tasks can wait on.
//!
//! `Store::wait_until_ready` wakes only its most recent waiter, and a `Controller` already
//! waits on its own store: a second task waiting on the same store can steal the wake-up and
//! stall the controller or itself. So readiness is published here through a watch channel,
//! set when the reflector sees the end of its initial list.

use futures::{Stream, StreamExt};
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
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
    let events = reflector::reflector(writer, watcher(api, config).default_backoff()).inspect(
        move |event| {
            if let Ok(watcher::Event::InitDone) = event {
                tx.send_replace(true);
            }
        },
    );
    (reader, Synced(rx), events)
}
