//! Counting objects with a watch.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::{Api, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

#[derive(Clone, Debug, Default)]
pub(crate) struct Count {
    pub(crate) synced: bool,
    pub(crate) count: usize,
    /// When `count` first reached the target.
    pub(crate) reached: Option<Instant>,
}

pub(crate) fn is_ready(obj: &DynamicObject) -> bool {
    obj.data["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Watches `api` and counts its objects (only Ready ones with `ready_only`); records when the
/// count first reaches `target`.
pub(crate) fn count_objects(
    api: Api<DynamicObject>,
    ready_only: bool,
    target: usize,
) -> (watch::Receiver<Count>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(Count::default());
    let task = tokio::spawn(async move {
        let mut seen: HashMap<String, bool> = HashMap::new();
        let mut initial: HashMap<String, bool> = HashMap::new();
        let mut synced = false;
        let counted = |o: &DynamicObject| !ready_only || is_ready(o);
        let mut stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Init) => initial.clear(),
                Ok(watcher::Event::InitApply(o)) => {
                    initial.insert(o.name_any(), counted(&o));
                }
                Ok(watcher::Event::InitDone) => {
                    seen = std::mem::take(&mut initial);
                    synced = true;
                }
                Ok(watcher::Event::Apply(o)) => {
                    seen.insert(o.name_any(), counted(&o));
                }
                Ok(watcher::Event::Delete(o)) => {
                    seen.remove(&o.name_any());
                }
                Err(_) => continue,
            }
            let count = seen.values().filter(|c| **c).count();
            tx.send_modify(|c| {
                c.synced = synced;
                c.count = count;
                if synced && count >= target && c.reached.is_none() {
                    c.reached = Some(Instant::now());
                }
            });
        }
    });
    (rx, task)
}

pub(crate) async fn wait_synced(rx: &mut watch::Receiver<Count>, what: &str) {
    let synced = tokio::time::timeout(Duration::from_secs(60), rx.wait_for(|c| c.synced)).await;
    assert!(
        matches!(synced, Ok(Ok(_))),
        "the watch of {what} did not sync in 60s"
    );
}

pub(crate) fn timeout_for(n: usize) -> Duration {
    Duration::from_secs(120) + Duration::from_millis(60 * n as u64)
}
