//! How the watches here list: by a streaming list where the apiserver serves one.
//!
//! A list of pages (kube's default) reads every object from etcd, 500 at a time, each page held
//! whole until the reflector took it; a list at resourceVersion 0 comes from the apiserver's
//! cache but whole, in one response (31 MB for 10,000 images, 300 at 100,000). A streaming list
//! (`sendInitialEvents`, Kubernetes' WatchList) comes from the cache as watch events, one object
//! at a time. An apiserver without it refuses such a watch, or (older than 1.27) ignores the
//! parameter and never says the list ended: kube's watcher would then retry forever, so it is
//! asked once at start-up, on a watch that matches nothing. It watches libraries, of which there
//! are few: an apiserver without a watch cache reads every object of the kind from etcd to
//! find that none matches, which for 100,000 items took longer than the probe waits.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::TryStreamExt;
use kube::api::{Api, WatchEvent, WatchParams};
use kube::runtime::watcher;

use crate::api::ContentLibrary;

/// Set once at start-up, before any watch starts.
static STREAMING: AtomicBool = AtomicBool::new(false);
/// How long the apiserver gets to end an empty streaming list.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// A label no object has.
const MATCHES_NOTHING: &str = "vmi-operator.vmware.com/list-probe=none";

/// `config`, listing by a streaming list when the apiserver serves one.
pub fn list_config(config: watcher::Config) -> watcher::Config {
    if STREAMING.load(Ordering::Relaxed) {
        config.streaming_lists()
    } else {
        config
    }
}

/// Asks the apiserver for an empty streaming list of libraries (in `namespace`, where the
/// operator's RBAC may end) and remembers whether it ended one.
pub async fn probe_streaming_lists(client: &kube::Client, namespace: Option<&str>) -> bool {
    let api: Api<ContentLibrary> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let served = ends_a_streaming_list(&api, PROBE_TIMEOUT).await;
    match &served {
        Ok(()) => tracing::info!("watches list by streaming lists"),
        Err(why) => {
            tracing::info!(%why, "the apiserver serves no streaming lists; watches list by pages")
        }
    }
    STREAMING.store(served.is_ok(), Ordering::Relaxed);
    served.is_ok()
}

/// Whether the apiserver ends an empty streaming list within `timeout`, and if not, why.
async fn ends_a_streaming_list(api: &Api<ContentLibrary>, timeout: Duration) -> Result<(), String> {
    tokio::time::timeout(timeout, watch_to_the_end(api, timeout))
        .await
        .unwrap_or_else(|_| Err("no end of the list in time".into()))
}

async fn watch_to_the_end(api: &Api<ContentLibrary>, timeout: Duration) -> Result<(), String> {
    let params = WatchParams::streaming_lists()
        .labels(MATCHES_NOTHING)
        .timeout(timeout.as_secs().max(1) as u32);
    let events = api.watch(&params, "0").await.map_err(|e| e.to_string())?;
    futures::pin_mut!(events);
    while let Some(event) = events.try_next().await.map_err(|e| e.to_string())? {
        match event {
            WatchEvent::Bookmark(b)
                if b.metadata
                    .annotations
                    .contains_key("k8s.io/initial-events-end") =>
            {
                return Ok(());
            }
            WatchEvent::Error(e) => return Err(e.message),
            _ => {}
        }
    }
    Err("the watch ended before the list did".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::client::Body;

    /// A library API whose apiserver answers every request with `status` and `body`, or never.
    fn api(status: u16, body: &'static str, answers: bool) -> Api<ContentLibrary> {
        let service = tower::service_fn(move |_req: http::Request<Body>| async move {
            if !answers {
                std::future::pending::<()>().await;
            }
            Ok::<_, std::convert::Infallible>(
                http::Response::builder()
                    .status(status)
                    .body(Body::from(body.as_bytes().to_vec()))
                    .unwrap(),
            )
        });
        Api::all(kube::Client::new(service, "default"))
    }

    const END: &str = r#"{"type":"BOOKMARK","object":{"apiVersion":"imageregistry.vmware.com/v1alpha2","kind":"ContentLibrary","metadata":{"resourceVersion":"7","annotations":{"k8s.io/initial-events-end":"true"}}}}
"#;
    /// A bookmark without the end of the list: what a plain watch sends.
    const BOOKMARK: &str = r#"{"type":"BOOKMARK","object":{"apiVersion":"imageregistry.vmware.com/v1alpha2","kind":"ContentLibrary","metadata":{"resourceVersion":"7"}}}
"#;
    const REFUSED: &str = r#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled","reason":"Invalid","code":422}"#;

    #[tokio::test]
    async fn an_apiserver_that_ends_the_list_serves_streaming_lists() {
        let served = ends_a_streaming_list(&api(200, END, true), Duration::from_secs(5)).await;
        assert_eq!(served, Ok(()));
    }

    #[tokio::test]
    async fn a_refusal_or_a_list_that_never_ends_means_pages() {
        let why = |status, body, answers, timeout| async move {
            ends_a_streaming_list(&api(status, body, answers), timeout)
                .await
                .unwrap_err()
        };
        let second = Duration::from_secs(5);
        assert!(why(422, REFUSED, true, second).await.contains("WatchList"));
        let plain = why(200, BOOKMARK, true, second).await;
        assert!(plain.contains("ended before the list"), "{plain}");
        let silent = why(200, "", false, Duration::from_millis(200)).await;
        assert!(silent.contains("in time"), "{silent}");
    }

    #[test]
    fn pages_until_told_otherwise() {
        let config = list_config(watcher::Config::default());
        assert_eq!(
            config.initial_list_strategy,
            watcher::InitialListStrategy::ListWatch
        );
    }
}
