//! A pass-through proxy in front of vcsim that ends the operator's vCenter session on cue.
//!
//! vcsim expires REST sessions only after idling, and a test cannot see the session id the
//! operator holds. The proxy sees it (`vmware-api-session-id`): armed with
//! [`VcenterProxy::expire_at`], it lets a number of matching calls through, then really ends
//! that call's session at vcsim (`DELETE /rest/com/vmware/cis/session`, as an admin's "terminate
//! session" or a vCenter restart would) and forwards the call, so vcsim itself answers 401. It
//! can also refuse logins for a while ([`VcenterProxy::refuse_logins`]), like an SSO that is down
//! or locked the account. Everything else passes through unchanged.
//!
//! The operator talks plain HTTP to the proxy on loopback; the proxy talks TLS to vcsim with
//! vcsim's CA. Download endpoints that vcsim names with its own address are fetched by the
//! operator from its configured vCenter (the proxy), so downloads pass through it too.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use url::Url;

const SESSION_PATH: &str = "/rest/com/vmware/cis/session";
const SESSION_HEADER: &str = "vmware-api-session-id";

/// One request the proxy answered.
#[derive(Clone, Debug)]
pub struct Record {
    pub at: Instant,
    pub method: String,
    pub path: String,
    /// The session the request carried (empty for logins).
    pub session: String,
    pub status: u16,
    pub kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A login vcsim answered (the status says whether it took).
    Login,
    /// A login the proxy refused (401) without asking vcsim.
    RefusedLogin,
    /// Any other call, forwarded.
    Call,
}

/// A session the proxy ended.
#[derive(Clone, Debug)]
pub struct Expiry {
    pub at: Instant,
    /// The same moment on the wall clock (to compare with times the operator writes).
    pub wall: std::time::SystemTime,
    pub session: String,
    /// The call it was ended before.
    pub path: String,
}

struct Trigger {
    prefix: String,
    /// Matching calls still let through before the one that ends its session.
    pass: usize,
}

#[derive(Default)]
struct ProxyState {
    records: Vec<Record>,
    expiries: Vec<Expiry>,
    triggers: Vec<Trigger>,
    refuse_logins: bool,
}

struct Shared {
    state: Mutex<ProxyState>,
    upstream: Url,
    http: reqwest::Client,
}

impl Shared {
    fn state(&self) -> std::sync::MutexGuard<'_, ProxyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The proxy, serving until dropped.
pub struct VcenterProxy {
    /// `http://127.0.0.1:PORT`: the operator's `--vcenter-url`.
    pub url: Url,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl VcenterProxy {
    /// Proxies to `upstream` (vcsim's `https://127.0.0.1:PORT`), trusting `ca_pem`.
    pub async fn start(upstream: &Url, ca_pem: &[u8]) -> VcenterProxy {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .redirect(reqwest::redirect::Policy::none());
        for cert in reqwest::Certificate::from_pem_bundle(ca_pem).expect("vcsim CA") {
            builder = builder.add_root_certificate(cert);
        }
        let shared = Arc::new(Shared {
            state: Mutex::default(),
            upstream: upstream.clone(),
            http: builder.build().expect("proxy client"),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        VcenterProxy {
            url: Url::parse(&format!("http://{addr}")).unwrap(),
            shared,
            task,
        }
    }

    /// Arms one expiry: of the calls from now on whose path starts with `prefix`, the first
    /// `pass` go through, and the next one's session is ended at vcsim before it is forwarded.
    pub fn expire_at(&self, prefix: &str, pass: usize) {
        self.shared.state().triggers.push(Trigger {
            prefix: prefix.to_string(),
            pass,
        });
    }

    /// While on, logins are answered 401 by the proxy (vcsim never sees them).
    pub fn refuse_logins(&self, on: bool) {
        self.shared.state().refuse_logins = on;
    }

    /// Every request answered so far.
    pub fn records(&self) -> Vec<Record> {
        self.shared.state().records.clone()
    }

    /// The sessions ended so far.
    pub fn expiries(&self) -> Vec<Expiry> {
        self.shared.state().expiries.clone()
    }

    /// Whether every armed expiry has happened.
    pub fn fired(&self) -> bool {
        self.shared.state().triggers.is_empty()
    }

    /// Requests of `kind` answered so far.
    pub fn count(&self, kind: Kind) -> usize {
        self.shared
            .state()
            .records
            .iter()
            .filter(|r| r.kind == kind)
            .count()
    }

    /// Calls answered 401 so far (logins not counted).
    pub fn unauthorized(&self) -> usize {
        self.shared
            .state()
            .records
            .iter()
            .filter(|r| r.kind == Kind::Call && r.status == 401)
            .count()
    }

    /// After `expiry`: how long until a call under another session succeeded (the client saw
    /// the 401, logged in again and carried on), if one has.
    pub fn recovered_after(&self, expiry: &Expiry) -> Option<Duration> {
        self.shared
            .state()
            .records
            .iter()
            .find(|r| {
                r.at > expiry.at
                    && r.kind == Kind::Call
                    && r.session != expiry.session
                    && (200..300).contains(&r.status)
            })
            .map(|r| r.at - expiry.at)
    }
}

impl Drop for VcenterProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Hop-by-hop headers and the ones the HTTP libraries set themselves.
fn forwarded(name: &HeaderName) -> bool {
    !matches!(
        name.as_str(),
        "host" | "connection" | "keep-alive" | "transfer-encoding" | "te" | "upgrade"
    )
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let headers: HeaderMap = req.headers().clone();
    let session = headers
        .get(SESSION_HEADER)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    let login = method == axum::http::Method::POST
        && path == SESSION_PATH
        && !query.as_deref().unwrap_or("").contains("~action");
    let record = |status: u16, kind: Kind| Record {
        at: Instant::now(),
        method: method.to_string(),
        path: path.clone(),
        session: session.clone(),
        status,
        kind,
    };

    // Decide under the lock, act after it.
    let mut end_session = false;
    {
        let mut state = shared.state();
        if login && state.refuse_logins {
            state.records.push(record(401, Kind::RefusedLogin));
            return StatusCode::UNAUTHORIZED.into_response();
        }
        if !login
            && !session.is_empty()
            && let Some(i) = state
                .triggers
                .iter()
                .position(|t| path.starts_with(&t.prefix))
        {
            if state.triggers[i].pass == 0 {
                state.triggers.remove(i);
                end_session = true;
            } else {
                state.triggers[i].pass -= 1;
            }
        }
    }
    if end_session {
        let mut url = shared.upstream.clone();
        url.set_path(SESSION_PATH);
        let ended = shared
            .http
            .delete(url)
            .header(SESSION_HEADER, &session)
            .send()
            .await
            .map(|r| r.status().as_u16());
        match ended {
            // No expiry recorded: the test waiting for it fails and says so.
            Ok(200) => shared.state().expiries.push(Expiry {
                at: Instant::now(),
                wall: std::time::SystemTime::now(),
                session: session.clone(),
                path: path.clone(),
            }),
            other => eprintln!("vcenter proxy: vcsim did not end session {session}: {other:?}"),
        }
    }

    let mut url = shared.upstream.clone();
    url.set_path(&path);
    url.set_query(query.as_deref());
    let body = match axum::body::to_bytes(req.into_body(), 16 << 20).await {
        Ok(b) => b,
        Err(_) => return StatusCode::BAD_REQUEST.into_response(),
    };
    let mut out = shared.http.request(method.clone(), url).body(body);
    for (name, value) in &headers {
        if forwarded(name) {
            out = out.header(name, value);
        }
    }
    let resp = match out.send().await {
        Ok(r) => r,
        Err(e) => {
            shared.state().records.push(record(502, Kind::Call));
            return (StatusCode::BAD_GATEWAY, e.to_string()).into_response();
        }
    };
    let status = resp.status();
    shared.state().records.push(record(
        status.as_u16(),
        if login { Kind::Login } else { Kind::Call },
    ));
    let mut answer = Response::builder().status(status);
    for (name, value) in resp.headers() {
        if forwarded(name) {
            answer = answer.header(name, value);
        }
    }
    answer
        .body(Body::from_stream(resp.bytes_stream()))
        .unwrap_or_else(|e| (StatusCode::BAD_GATEWAY, e.to_string()).into_response())
}
