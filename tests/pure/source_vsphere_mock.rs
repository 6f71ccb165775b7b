//! The vSphere source against a scripted vCenter (axum on loopback), for what vcsim cannot show:
//! an expiring session, files still being prepared, a download endpoint naming another host,
//! items stored as OVA, manifests, failures in the middle of a listing, size limits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;
use vmi_operator::source::{
    LibrarySource, MAX_DESCRIPTOR_BYTES, SourceError, VsphereClient, VsphereConfig,
};
use vmi_test_support::archive;

const LIB: &str = "5b3d4a5e-0000-4000-8000-000000000001";
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/ovf");
const AUTH: &str = "Basic dXNlcjpzM2NyZXQ="; // user:s3cret

/// An item's files: (name, content).
type Files = Vec<(String, Vec<u8>)>;
/// (id, name, files) of an item to serve.
type ItemSpec<'a> = (&'a str, &'a str, Vec<(&'a str, Vec<u8>)>);

#[derive(Default)]
struct Mock {
    logins: usize,
    sessions: Vec<String>,
    /// The next API call answers 401 and forgets the session (vCenter's idle expiry).
    expire_next: bool,
    /// The first call whose path starts with this ends its session and answers 401.
    expire_on: Option<String>,
    /// Logins answer 401 whatever the credentials (an SSO that refuses them for a while).
    refuse_logins: bool,
    /// Every login request, refused ones included.
    login_attempts: usize,
    /// 401s answered to API calls.
    unauthorized: usize,
    /// Each API call waits this long before it is answered, so calls overlap.
    delay: std::time::Duration,
    /// item id -> (name, files)
    items: HashMap<String, (String, Files)>,
    failing_item: Option<String>,
    /// `get` polls answered PREPARING before PREPARED.
    preparing_polls: usize,
    polls: usize,
    open_downloads: HashMap<String, String>,
    next_download: usize,
}

type Shared = Arc<Mutex<Mock>>;

fn value(v: Value) -> Response {
    axum::Json(json!({ "value": v })).into_response()
}

fn item_json(id: &str, name: &str) -> Value {
    json!({"id": id, "library_id": LIB, "name": name, "type": "ovf", "content_version": "3", "metadata_version": "1",
           "size": 10, "cached": true, "creation_time": "2024-01-01T00:00:00.000Z"})
}

async fn handle(State(state): State<Shared>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query: HashMap<String, String> = req
        .uri()
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let headers: HeaderMap = req.headers().clone();
    let body: Bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let delay = state.lock().unwrap().delay;
    tokio::time::sleep(delay).await;
    let mut m = state.lock().unwrap();

    if method == Method::POST && path == "/rest/com/vmware/cis/session" {
        m.login_attempts += 1;
        if m.refuse_logins
            || headers.get("authorization").and_then(|h| h.to_str().ok()) != Some(AUTH)
        {
            return StatusCode::UNAUTHORIZED.into_response();
        }
        m.logins += 1;
        let id = format!("session-{}", m.logins);
        m.sessions.push(id.clone());
        return value(json!(id));
    }
    let session = headers
        .get("vmware-api-session-id")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !m.sessions.contains(&session) {
        m.unauthorized += 1;
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let expire_here = m.expire_on.as_ref().is_some_and(|p| path.starts_with(p));
    if m.expire_next || expire_here {
        m.expire_next = false;
        if expire_here {
            m.expire_on = None;
        }
        m.sessions.retain(|s| *s != session);
        m.unauthorized += 1;
        return StatusCode::UNAUTHORIZED.into_response();
    }

    let seg = |prefix: &str| path.strip_prefix(prefix).map(str::to_string);
    match (method, path.as_str()) {
        (Method::GET, p) if p == format!("/rest/com/vmware/content/library/id:{LIB}") => {
            value(json!({"id": LIB, "name": "mocked", "type": "LOCAL", "version": "9"}))
        }
        (Method::GET, "/rest/com/vmware/content/library/item")
            if query.get("library_id").map(String::as_str) == Some(LIB) =>
        {
            let mut ids: Vec<&String> = m.items.keys().collect();
            ids.sort();
            value(json!(ids))
        }
        (Method::GET, "/rest/com/vmware/content/library/item/file") => {
            let id = query.get("library_item_id").cloned().unwrap_or_default();
            match m.items.get(&id) {
                Some((_, files)) => value(json!(files
                    .iter()
                    .map(|(n, b)| json!({"name": n, "size": b.len(), "cached": true, "version": "1"}))
                    .collect::<Vec<_>>())),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        (Method::GET, _) if seg("/rest/com/vmware/content/library/item/id:").is_some() => {
            let id = seg("/rest/com/vmware/content/library/item/id:").unwrap();
            if m.failing_item.as_deref() == Some(id.as_str()) {
                return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
            }
            match m.items.get(&id) {
                Some((name, _)) => value(item_json(&id, name)),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        (Method::POST, "/rest/com/vmware/content/library/item/download-session") => {
            let item = body["create_spec"]["library_item_id"]
                .as_str()
                .unwrap_or("")
                .to_string();
            if !m.items.contains_key(&item) {
                return StatusCode::NOT_FOUND.into_response();
            }
            m.next_download += 1;
            let id = format!("dl-{}", m.next_download);
            m.open_downloads.insert(id.clone(), item);
            m.polls = 0;
            value(json!(id))
        }
        (Method::DELETE, _)
            if seg("/rest/com/vmware/content/library/item/download-session/id:").is_some() =>
        {
            let id = seg("/rest/com/vmware/content/library/item/download-session/id:").unwrap();
            m.open_downloads.remove(&id);
            StatusCode::OK.into_response()
        }
        (Method::POST, _)
            if seg("/rest/com/vmware/content/library/item/downloadsession/file/id:").is_some() =>
        {
            let id = seg("/rest/com/vmware/content/library/item/downloadsession/file/id:").unwrap();
            let name = body["file_name"].as_str().unwrap_or("").to_string();
            let action = query.get("~action").cloned().unwrap_or_default();
            if action == "get" {
                m.polls += 1;
            }
            if action == "prepare" || m.polls <= m.preparing_polls {
                return value(json!({"name": name, "status": "PREPARING", "bytes_transferred": 0}));
            }
            // Like a vCenter behind another name: the endpoint names a host we never configured.
            let uri = format!("https://vcenter.invalid:9443/cls/data/{id}/{name}");
            value(json!({"name": name, "status": "PREPARED", "download_endpoint": {"uri": uri}}))
        }
        (Method::GET, _) if seg("/cls/data/").is_some() => {
            let rest = seg("/cls/data/").unwrap();
            let (id, name) = rest.split_once('/').unwrap();
            let Some(item) = m.open_downloads.get(id) else {
                return StatusCode::NOT_FOUND.into_response();
            };
            let files = &m.items[item].1;
            match files.iter().find(|(n, _)| n == name) {
                Some((_, bytes)) => Body::from(bytes.clone()).into_response(),
                None => StatusCode::NOT_FOUND.into_response(),
            }
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn serve(mock: Mock) -> (Shared, VsphereClient) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let state: Shared = Arc::new(Mutex::new(mock));
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = VsphereClient::new(VsphereConfig {
        url: Url::parse(&format!("http://{addr}")).unwrap(),
        username: "user".into(),
        password: "s3cret".into(),
        ca_bundle_pem: None,
        insecure_skip_verify: false,
    })
    .unwrap();
    (state, client)
}

fn ova_fixture() -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/extra/ttylinux-pc_i486-16.1.ova")).unwrap()
}

fn descriptor_in_ova() -> Vec<u8> {
    archive::descriptor_in(&ova_fixture())
}

fn mock_with(items: &[ItemSpec<'_>]) -> Mock {
    let mut m = Mock::default();
    for (id, name, files) in items {
        let files = files
            .iter()
            .map(|(n, b)| (n.to_string(), b.clone()))
            .collect();
        m.items.insert(id.to_string(), (name.to_string(), files));
    }
    m
}

#[tokio::test]
async fn logs_in_again_when_the_session_expires() {
    let (state, client) = serve(mock_with(&[(
        "i1",
        "one",
        vec![("one.ovf", b"<Envelope/>".to_vec())],
    )]))
    .await;
    let lib = client.library(LIB);
    assert_eq!(lib.list_items().await.unwrap().len(), 1);
    // Both libraries of one client share the session.
    client.library(LIB).library().await.unwrap();
    assert_eq!(state.lock().unwrap().logins, 1);
    state.lock().unwrap().expire_next = true;
    assert_eq!(lib.library().await.unwrap().name, "mocked");
    assert_eq!(state.lock().unwrap().logins, 2);
}

/// Items `i00`.. named `item00`.., each with a small descriptor.
fn many_items(n: usize) -> Mock {
    let items: Vec<(String, String)> = (0..n)
        .map(|i| (format!("i{i:02}"), format!("item{i:02}")))
        .collect();
    let spec: Vec<ItemSpec<'_>> = items
        .iter()
        .map(|(id, name)| {
            (
                id.as_str(),
                name.as_str(),
                vec![("a.ovf", b"<Envelope/>".to_vec())],
            )
        })
        .collect();
    mock_with(&spec)
}

/// A session that ends in the middle of a listing meets several item loads in flight: each sees
/// 401, one logs in again, all retry with the new session, and the listing is complete.
#[tokio::test]
async fn concurrent_callers_share_one_login_after_expiry() {
    let mut mock = many_items(24);
    mock.delay = std::time::Duration::from_millis(30);
    mock.expire_on = Some("/rest/com/vmware/content/library/item/id:i05".into());
    let (state, client) = serve(mock).await;
    let items = client.library(LIB).list_items().await.unwrap();
    assert_eq!(items.len(), 24);
    let m = state.lock().unwrap();
    assert!(
        m.unauthorized > 1,
        "several calls in flight saw the expiry: {}",
        m.unauthorized
    );
    assert_eq!(m.logins, 2, "one login, one re-login");
}

/// A session that ends between preparing a file and downloading it: the download is retried
/// under a new session on the same download session.
#[tokio::test]
async fn a_session_that_expires_before_the_download() {
    let body = b"<Envelope>one</Envelope>".to_vec();
    let mut mock = mock_with(&[("i1", "one", vec![("one.ovf", body.clone())])]);
    mock.expire_on = Some("/cls/data/".into());
    let (state, client) = serve(mock).await;
    let lib = client.library(LIB);
    let item = lib.item("i1").await.unwrap();
    assert_eq!(lib.fetch_ovf(&item).await.unwrap(), body);
    let m = state.lock().unwrap();
    assert_eq!((m.logins, m.unauthorized), (2, 1));
    assert!(
        m.open_downloads.is_empty(),
        "the download session is deleted"
    );
}

/// When logging in again fails, every caller waiting for it gets that failure: the credentials
/// are sent once, not once per caller, until `LOGIN_RETRY_AFTER` has passed.
#[tokio::test]
async fn a_failed_login_is_shared_not_repeated() {
    let mut mock = many_items(8);
    mock.delay = std::time::Duration::from_millis(20);
    let (state, client) = serve(mock).await;
    let lib = client.library(LIB);
    assert_eq!(lib.list_items().await.unwrap().len(), 8);
    {
        let mut m = state.lock().unwrap();
        m.sessions.clear();
        m.refuse_logins = true;
    }
    // Eight independent callers (images being fetched), none cancelled by another's failure.
    let results = futures::future::join_all((0..8).map(|i| {
        let lib = lib.clone();
        async move { lib.item(&format!("i{i:02}")).await }
    }))
    .await;
    for r in &results {
        let err = r.as_ref().unwrap_err();
        assert_eq!(err.reason(), "SourceAuthFailed", "{err}");
        assert!(
            err.to_string()
                .contains("rejected the configured credentials"),
            "{err}"
        );
    }
    assert_eq!(
        state.lock().unwrap().login_attempts,
        2,
        "one login, one refused re-login"
    );
    // Logins work again, but the failure stands for LOGIN_RETRY_AFTER: no new attempt yet.
    state.lock().unwrap().refuse_logins = false;
    assert!(lib.item("i00").await.is_err());
    assert_eq!(state.lock().unwrap().login_attempts, 2);
}

#[tokio::test]
async fn waits_for_prepare_and_fetches_from_the_configured_host() {
    let body = b"<Envelope>one</Envelope>".to_vec();
    let mut mock = mock_with(&[(
        "i1",
        "one",
        vec![("one.ovf", body.clone()), ("disk.vmdk", vec![0; 10])],
    )]);
    mock.preparing_polls = 2;
    let (state, client) = serve(mock).await;
    let lib = client.library(LIB);
    let item = lib.item("i1").await.unwrap();
    assert_eq!(item.content_version, "3");
    assert_eq!(lib.fetch_ovf(&item).await.unwrap(), body);
    let m = state.lock().unwrap();
    assert!(
        m.open_downloads.is_empty(),
        "the download session is deleted"
    );
    assert_eq!(m.polls, 3);
}

#[tokio::test]
async fn reads_the_descriptor_of_an_ova_item() {
    let (state, client) = serve(mock_with(&[(
        "i1",
        "tty",
        vec![("ttylinux.ova", ova_fixture())],
    )]))
    .await;
    let lib = client.library(LIB);
    let item = lib.item("i1").await.unwrap();
    assert_eq!(lib.fetch_ovf(&item).await.unwrap(), descriptor_in_ova());
    assert!(state.lock().unwrap().open_downloads.is_empty());
}

#[tokio::test]
async fn checks_a_manifest_when_the_item_has_one() {
    let ovf = b"<Envelope>signed</Envelope>".to_vec();
    let good = format!("SHA256(a.ovf)= {}\n", hex::encode(Sha256::digest(&ovf))).into_bytes();
    let bad = format!("SHA256(a.ovf)= {}\n", hex::encode(Sha256::digest(b"other"))).into_bytes();
    let (state, client) = serve(mock_with(&[
        ("good", "good", vec![("a.ovf", ovf.clone()), ("a.mf", good)]),
        ("bad", "bad", vec![("a.ovf", ovf.clone()), ("a.mf", bad)]),
    ]))
    .await;
    let lib = client.library(LIB);
    assert_eq!(
        lib.fetch_ovf(&lib.item("good").await.unwrap())
            .await
            .unwrap(),
        ovf
    );
    let err = lib
        .fetch_ovf(&lib.item("bad").await.unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::NotCompliant { .. }), "{err}");
    assert_eq!(err.reason(), "ItemNotSecurityCompliant");
    assert!(
        state.lock().unwrap().open_downloads.is_empty(),
        "deleted on failure too"
    );
}

#[tokio::test]
async fn one_failing_item_fails_the_listing() {
    let items: Vec<(String, String)> = (0..20)
        .map(|i| (format!("i{i:02}"), format!("item{i:02}")))
        .collect();
    let spec: Vec<ItemSpec<'_>> = items
        .iter()
        .map(|(id, name)| (id.as_str(), name.as_str(), vec![]))
        .collect();
    let mut mock = mock_with(&spec);
    mock.failing_item = Some("i13".into());
    let (_state, client) = serve(mock).await;
    let err = client.library(LIB).list_items().await.unwrap_err();
    match err {
        SourceError::Http {
            status, message, ..
        } => {
            assert_eq!(status, 500);
            assert_eq!(message, "boom");
        }
        other => panic!("expected HTTP 500, got {other}"),
    }
}

#[tokio::test]
async fn limits_and_missing_descriptors() {
    let big = vec![b' '; MAX_DESCRIPTOR_BYTES as usize + 1];
    let (_state, client) = serve(mock_with(&[
        ("big", "big", vec![("big.ovf", big)]),
        ("iso", "iso", vec![("boot.iso", vec![0; 10])]),
    ]))
    .await;
    let lib = client.library(LIB);
    let err = lib
        .fetch_ovf(&lib.item("big").await.unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::TooLarge { .. }), "{err}");
    let err = lib
        .fetch_ovf(&lib.item("iso").await.unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::NoDescriptor { .. }), "{err}");
    let err = lib.item("nope").await.unwrap_err();
    assert!(matches!(err, SourceError::ItemNotFound(_)), "{err}");
}

#[tokio::test]
async fn wrong_credentials_never_show() {
    let (_state, client) = serve(Mock::default()).await;
    // Same server, other password.
    let url = format!("http://{}", client_addr(&client));
    let bad = VsphereClient::new(VsphereConfig {
        url: Url::parse(&url).unwrap(),
        username: "user".into(),
        password: "wrong-pw-123".into(),
        ca_bundle_pem: None,
        insecure_skip_verify: false,
    })
    .unwrap();
    let err = bad.library(LIB).library().await.unwrap_err();
    assert!(matches!(err, SourceError::Auth(_)), "{err}");
    assert!(!format!("{err} {err:?} {bad:?}").contains("wrong-pw"));
}

fn client_addr(client: &VsphereClient) -> String {
    // The Debug output names the base URL (and nothing secret).
    let shown = format!("{client:?}");
    let start = shown.find("http://").unwrap() + "http://".len();
    shown[start..].split(['/', '"']).next().unwrap().to_string()
}
