//! A vCenter's content libraries through the vSphere Automation REST API (`/rest/com/vmware`).
//!
//! One [`VsphereClient`] per vCenter holds one API session for all its libraries: it logs in
//! lazily (`POST /rest/com/vmware/cis/session` with basic auth), sends the session id in the
//! `vmware-api-session-id` header, and logs in again once when an answer is 401 (sessions
//! expire after idling, or are ended by an admin or a vCenter restart). Callers share one login:
//! those that saw the same session expire wait for one new login, and a failed login is
//! answered to every caller for [`LOGIN_RETRY_AFTER`] instead of being tried by each. The
//! password is only ever sent in that login's Authorization header.
//!
//! Checked against vcsim (govmomi v0.46.3, `vapi/simulator`): paths, the `{"value": ...}`
//! envelope and the download session flow are the same as vCenter's.

mod api;
pub(crate) mod download;
mod library;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

pub use library::VsphereLibrary;

use super::http::{self, API_TIMEOUT, TlsOptions};
use super::{MAX_LISTING_BYTES, SourceError};

const SESSION_PATH: &str = "/rest/com/vmware/cis/session";
const SESSION_HEADER: &str = "vmware-api-session-id";
/// Asks vCenter for the session id in the body only, not also as a cookie we would ignore.
const HEADER_AUTHN: &str = "vmware-use-header-authn";
/// After a failed login, callers get its error for this long instead of logging in again. A
/// session that expires mid-sync meets a burst of callers (a listing's concurrent item loads,
/// every image being fetched, other libraries): each would send the credentials once more
/// (vCenter's SSO counts every failure towards locking the account), and each would wait out
/// its own login timeout in turn behind the session lock.
pub const LOGIN_RETRY_AFTER: Duration = Duration::from_secs(10);

/// How the operator reaches its vCenter.
#[derive(Clone)]
pub struct VsphereConfig {
    /// Base URL of the vCenter, e.g. `https://vc.example.com` (any path is ignored).
    pub url: Url,
    pub username: String,
    pub password: String,
    /// PEM bundle of the CAs to trust for the vCenter's certificate. None: the system's roots.
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Accept any certificate; only when set explicitly.
    pub insecure_skip_verify: bool,
}

impl fmt::Debug for VsphereConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VsphereConfig")
            .field("url", &http::redact(&self.url))
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field(
                "ca_bundle_pem",
                &self
                    .ca_bundle_pem
                    .as_ref()
                    .map(|b| format!("<{} bytes>", b.len())),
            )
            .field("insecure_skip_verify", &self.insecure_skip_verify)
            .finish()
    }
}

/// A vCenter connection shared by all libraries read from it. Cheap to clone.
#[derive(Clone)]
pub struct VsphereClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// scheme://host:port/ only: user info and path of the configured URL are dropped.
    base: Url,
    username: String,
    password: String,
    /// The current session; the lock also makes concurrent callers share one login.
    session: tokio::sync::Mutex<SessionState>,
}

#[derive(Default)]
struct SessionState {
    id: Option<Arc<str>>,
    /// The last login's failure, while no session is open.
    failed: Option<(Instant, SourceError)>,
}

impl fmt::Debug for VsphereClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VsphereClient")
            .field("base", &self.inner.base.as_str())
            .finish_non_exhaustive()
    }
}

impl VsphereClient {
    /// Builds the client. Nothing is sent until the first call.
    pub fn new(config: VsphereConfig) -> Result<Self, SourceError> {
        let url = config.url;
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
            return Err(SourceError::Config(format!(
                "vCenter URL {} is not an http(s) URL",
                http::redact(&url)
            )));
        }
        let mut base = url.clone();
        base.set_path("/");
        base.set_query(None);
        base.set_fragment(None);
        let _ = base.set_username("");
        let _ = base.set_password(None);
        let tls = TlsOptions {
            ca_bundle_pem: config.ca_bundle_pem,
            insecure_skip_verify: config.insecure_skip_verify,
        };
        // vCenter answers API calls directly; a redirect would be a misconfiguration (and
        // following it could carry the session header elsewhere).
        let http = http::build_client(&tls, reqwest::redirect::Policy::none())?;
        Ok(VsphereClient {
            inner: Arc::new(Inner {
                http,
                base,
                username: config.username,
                password: config.password,
                session: tokio::sync::Mutex::default(),
            }),
        })
    }

    /// One library of this vCenter, by UUID.
    pub fn library(&self, library_id: &str) -> VsphereLibrary {
        VsphereLibrary::new(self.clone(), library_id)
    }

    /// Ends the API session, if one is open (best effort: vCenter expires it anyway).
    pub async fn logout(&self) {
        let Some(id) = self.inner.session.lock().await.id.take() else {
            return;
        };
        let url = self.url(SESSION_PATH, &[]);
        let _ = self
            .inner
            .http
            .delete(url)
            .header(SESSION_HEADER, &*id)
            .timeout(API_TIMEOUT)
            .send()
            .await;
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Url {
        let mut url = self.inner.base.clone();
        url.set_path(path);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    /// The current session id, logging in when there is none (unless a login failed less than
    /// [`LOGIN_RETRY_AFTER`] ago: then that failure).
    async fn session(&self) -> Result<Arc<str>, SourceError> {
        let mut guard = self.inner.session.lock().await;
        if let Some(id) = guard.id.as_ref() {
            return Ok(id.clone());
        }
        if let Some((at, error)) = &guard.failed
            && at.elapsed() < LOGIN_RETRY_AFTER
        {
            return Err(error.clone());
        }
        match self.login().await {
            Ok(id) => {
                let id: Arc<str> = id.into();
                guard.id = Some(id.clone());
                guard.failed = None;
                Ok(id)
            }
            Err(e) => {
                tracing::debug!(error = %e, "vCenter login failed");
                guard.failed = Some((Instant::now(), e.clone()));
                Err(e)
            }
        }
    }

    async fn login(&self) -> Result<String, SourceError> {
        let url = self.url(SESSION_PATH, &[]);
        let resp = self
            .inner
            .http
            .post(url.clone())
            .basic_auth(&self.inner.username, Some(&self.inner.password))
            .header(HEADER_AUTHN, "true")
            .timeout(API_TIMEOUT)
            .send()
            .await
            .map_err(|e| http::unreachable(&url, e))?;
        if matches!(
            resp.status(),
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN
        ) {
            // Neither the user name nor the password goes into the message.
            return Err(SourceError::Auth(format!(
                "vCenter {} rejected the configured credentials (HTTP {})",
                self.inner.base.as_str().trim_end_matches('/'),
                resp.status().as_u16()
            )));
        }
        let resp = http::check_status(&url, resp).await?;
        let body = http::read_limited(resp, 64 * 1024, "session answer").await?;
        let value: api::Value<String> = serde_json::from_slice(&body).map_err(|e| {
            SourceError::InvalidResponse(format!("login answer of {}: {e}", http::redact(&url)))
        })?;
        value
            .value
            .filter(|id| !id.is_empty())
            .ok_or_else(|| SourceError::InvalidResponse("login answer holds no session id".into()))
    }

    /// Forgets `stale` unless another caller already replaced it.
    async fn invalidate(&self, stale: &Arc<str>) {
        let mut guard = self.inner.session.lock().await;
        if guard.id.as_ref().is_some_and(|id| Arc::ptr_eq(id, stale)) {
            guard.id = None;
        }
    }

    /// Sends a request with the session header; on 401 logs in again and retries once.
    async fn send(
        &self,
        url: &Url,
        build: impl Fn(&reqwest::Client) -> RequestBuilder,
    ) -> Result<Response, SourceError> {
        for attempt in 0..2 {
            let id = self.session().await?;
            let resp = build(&self.inner.http)
                .header(SESSION_HEADER, &*id)
                .send()
                .await
                .map_err(|e| http::unreachable(url, e))?;
            if resp.status() != StatusCode::UNAUTHORIZED {
                return Ok(resp);
            }
            self.invalidate(&id).await;
            if attempt == 1 {
                break;
            }
            tracing::debug!(url = %http::redact(url), "vCenter session expired; logging in again");
        }
        Err(SourceError::Auth(
            "vCenter rejected a fresh session (HTTP 401)".into(),
        ))
    }

    /// A JSON API call. 404 is an answer of its own: callers name what was not found.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&serde_json::Value>,
    ) -> Result<Answer<T>, SourceError> {
        let url = self.url(path, query);
        let resp = self
            .send(&url, |c| {
                let req = c.request(method.clone(), url.clone()).timeout(API_TIMEOUT);
                match body {
                    Some(b) => req.json(b),
                    None => req,
                }
            })
            .await?;
        if http::is_not_found(&resp) {
            return Ok(Answer::NotFound);
        }
        let resp = http::check_status(&url, resp).await?;
        let bytes =
            http::read_limited(resp, MAX_LISTING_BYTES, &format!("answer of {path}")).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            // vcsim answers some calls with an empty 200.
            return Ok(Answer::Empty);
        }
        let value: api::Value<T> = serde_json::from_slice(&bytes).map_err(|e| {
            SourceError::InvalidResponse(format!("{} answered {e}", http::redact(&url)))
        })?;
        Ok(value.value.map_or(Answer::Empty, Answer::Value))
    }

    /// GET of one object; 404 becomes `not_found`.
    async fn get_one<T: DeserializeOwned>(
        &self,
        path: &str,
        not_found: impl FnOnce() -> SourceError,
    ) -> Result<T, SourceError> {
        match self.call(Method::GET, path, &[], None).await? {
            Answer::Value(v) => Ok(v),
            Answer::NotFound => Err(not_found()),
            Answer::Empty => Err(SourceError::InvalidResponse(format!(
                "{path} answered no value"
            ))),
        }
    }

    /// GET of a list; 404 becomes `not_found`, a null list is empty.
    async fn get_list<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
        not_found: impl FnOnce() -> SourceError,
    ) -> Result<Vec<T>, SourceError> {
        match self.call(Method::GET, path, query, None).await? {
            Answer::Value(v) => Ok(v),
            Answer::NotFound => Err(not_found()),
            Answer::Empty => Ok(Vec::new()),
        }
    }
}

/// What an API call answered.
enum Answer<T> {
    NotFound,
    /// 200 without a value (an empty body, or `{"value": null}` for an empty list in vcsim).
    Empty,
    Value(T),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> VsphereConfig {
        VsphereConfig {
            url: Url::parse("https://admin:pw@vc.example.com:8443/sdk").unwrap(),
            username: "administrator@vsphere.local".into(),
            password: "hunter2-secret".into(),
            ca_bundle_pem: None,
            insecure_skip_verify: true,
        }
    }

    #[test]
    fn debug_redacts_the_password() {
        let shown = format!("{:?}", config());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains(":pw@"), "{shown}");
        assert!(shown.contains("<redacted>"));
    }

    #[test]
    fn base_url_keeps_origin_only() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = VsphereClient::new(config()).unwrap();
        assert_eq!(client.inner.base.as_str(), "https://vc.example.com:8443/");
        let url = client.url(
            "/rest/com/vmware/content/library/item",
            &[("library_id", "a b")],
        );
        assert_eq!(
            url.as_str(),
            "https://vc.example.com:8443/rest/com/vmware/content/library/item?library_id=a+b"
        );
        assert!(!format!("{client:?}").contains("hunter2"));
    }

    #[test]
    fn rejects_non_http_urls() {
        let mut c = config();
        c.url = Url::parse("file:///etc").unwrap();
        assert_eq!(
            VsphereClient::new(c).unwrap_err().reason(),
            "SourceMisconfigured"
        );
    }
}
