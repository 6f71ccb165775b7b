//! HTTPS serving of the webhook: axum on axum-server with rustls, the certificate reloaded from
//! disk when it changes (cert-manager rotates it), `/readyz` on the same port.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use kube::core::DynamicObject;
use kube::core::Status;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;

use super::index::ImageIndex;
use super::metrics::{WebhookMetrics, result};
use super::resolve::{self, Refusal, VmImageFields};

/// Path of the mutating webhook.
pub const MUTATE_PATH: &str = "/mutate-vmoperator-vmware-com-v1alpha5-virtualmachine";
/// Path of the validating webhook.
pub const VALIDATE_PATH: &str = "/validate-vmoperator-vmware-com-v1alpha5-virtualmachine";
/// Readiness: 200 once the image index has synced, 503 before.
pub const READYZ_PATH: &str = "/readyz";
/// Liveness: 200 while the server answers.
pub const LIVEZ_PATH: &str = "/livez";

/// Largest AdmissionReview accepted (the apiserver's own request limit is 3 MiB).
pub const BODY_LIMIT: usize = 3 * 1024 * 1024;
/// Path of the CRDs' conversion webhook (`spec.conversion.webhook.clientConfig`).
pub const CONVERT_PATH: &str = "/convert";
/// Largest ConversionReview accepted: the apiserver sends a page of a list in one review.
pub const CONVERT_BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Longest a request may take, body included (the apiserver gives up after the webhook's
/// `timeoutSeconds`, at most 30 s, 10 s by default).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a client may take to send its request headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the certificate files are checked for changes.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(5);
/// How long in-flight requests may finish after shutdown was asked for.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Where the webhook listens and where its serving certificate is.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    pub addr: SocketAddr,
    /// PEM certificate chain (leaf first), e.g. `/tmp/k8s-webhook-server/serving-certs/tls.crt`.
    pub cert_path: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_path: PathBuf,
}

/// Why the webhook server could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: io::Error },
    #[error("cannot read {}: {source}", .path.display())]
    ReadTls { path: PathBuf, source: io::Error },
    #[error("invalid TLS certificate or key ({}): {message}", .path.display())]
    InvalidTls { path: PathBuf, message: String },
    #[error("webhook server failed: {0}")]
    Serve(#[source] io::Error),
}

impl WebhookError {
    /// A stable reason string, for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            WebhookError::Bind { .. } => "BindFailed",
            WebhookError::ReadTls { .. } => "TlsFilesUnreadable",
            WebhookError::InvalidTls { .. } => "TlsInvalid",
            WebhookError::Serve(_) => "ServeFailed",
        }
    }
}

/// Runs the webhook until `shutdown` completes (then finishes in-flight requests).
pub async fn serve(
    config: WebhookConfig,
    index: ImageIndex,
    metrics: WebhookMetrics,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), WebhookError> {
    WebhookServer::bind(config)
        .await?
        .run(index, metrics, shutdown)
        .await
}

/// A webhook server that is bound and has loaded its certificate, not yet serving. Lets the
/// caller learn the port (bind to port 0 in tests) before requests can arrive.
pub struct WebhookServer {
    listener: std::net::TcpListener,
    tls: RustlsConfig,
    cert_path: PathBuf,
    key_path: PathBuf,
    reload_interval: Duration,
}

impl WebhookServer {
    /// Loads the certificate (failing fast when it is unusable) and binds the address.
    pub async fn bind(config: WebhookConfig) -> Result<Self, WebhookError> {
        let tls =
            RustlsConfig::from_config(load_server_config(&config.cert_path, &config.key_path)?);
        let listener = std::net::TcpListener::bind(config.addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|source| WebhookError::Bind {
                addr: config.addr,
                source,
            })?;
        Ok(WebhookServer {
            listener,
            tls,
            cert_path: config.cert_path,
            key_path: config.key_path,
            reload_interval: RELOAD_INTERVAL,
        })
    }

    /// Changes how often the certificate files are checked (default [`RELOAD_INTERVAL`]).
    pub fn with_reload_interval(mut self, interval: Duration) -> Self {
        self.reload_interval = interval;
        self
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound TCP listener has a local address")
    }

    /// Serves until `shutdown` completes.
    pub async fn run(
        self,
        index: ImageIndex,
        metrics: WebhookMetrics,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), WebhookError> {
        let addr = self.local_addr();
        let handle: Handle<SocketAddr> = Handle::new();
        let stopper = tokio::spawn({
            let handle = handle.clone();
            async move {
                shutdown.await;
                tracing::info!("webhook server shutting down");
                handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
            }
        });
        let reloader = tokio::spawn(reload_on_change(
            self.tls.clone(),
            self.cert_path.clone(),
            self.key_path.clone(),
            self.reload_interval,
        ));

        let mut server = axum_server::from_tcp_rustls(self.listener, self.tls)
            .map_err(WebhookError::Serve)?
            .handle(handle);
        server
            .http_builder()
            .http1()
            .header_read_timeout(Some(HEADER_READ_TIMEOUT));
        tracing::info!(%addr, "webhook server listening");
        let served = server
            .serve(router(index, metrics).into_make_service())
            .await
            .map_err(WebhookError::Serve);
        reloader.abort();
        stopper.abort();
        served
    }
}

/// Reads the PEM certificate chain and key into a rustls server configuration, with the
/// process's default crypto provider (ring when none was installed).
pub fn load_server_config(
    cert_path: &Path,
    key_path: &Path,
) -> Result<Arc<ServerConfig>, WebhookError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| WebhookError::ReadTls {
            path: path.to_path_buf(),
            source,
        })
    };
    let invalid = |path: &Path, message: String| WebhookError::InvalidTls {
        path: path.to_path_buf(),
        message,
    };
    let (cert_pem, key_pem) = (read(cert_path)?, read(key_path)?);
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(cert_path, e.to_string()))?;
    if certs.is_empty() {
        return Err(invalid(cert_path, "no CERTIFICATE in the file".into()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| invalid(key_path, e.to_string()))?;
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(cert_path, e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(cert_path, e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// What identifies a version of a file on disk: modification time, length and inode (a
/// Secret volume swaps a symlink, so the inode changes even when the size does not).
#[derive(Clone, Debug, PartialEq, Eq)]
struct FileStamp(Option<SystemTime>, u64, u64);

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let ino = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let ino = 0;
    Some(FileStamp(meta.modified().ok(), meta.len(), ino))
}

/// Polls the certificate files and swaps the served configuration when they changed and load.
/// A half-written pair fails to load and is retried at the next tick; the old certificate is
/// served meanwhile.
async fn reload_on_change(tls: RustlsConfig, cert: PathBuf, key: PathBuf, interval: Duration) {
    let mut served = (stamp(&cert), stamp(&key));
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let now = (stamp(&cert), stamp(&key));
        if now == served || now.0.is_none() || now.1.is_none() {
            continue;
        }
        let (c, k) = (cert.clone(), key.clone());
        match tokio::task::spawn_blocking(move || load_server_config(&c, &k)).await {
            Ok(Ok(config)) => {
                tls.reload_from_config(config);
                served = now;
                tracing::info!(cert = %cert.display(), "webhook serving certificate reloaded");
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "webhook certificate changed but cannot be loaded yet; keeping the old one");
            }
            Err(error) => tracing::warn!(%error, "webhook certificate reload task failed"),
        }
    }
}

#[derive(Clone)]
struct AppState {
    index: ImageIndex,
    metrics: WebhookMetrics,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hook {
    Mutate,
    Validate,
}

impl Hook {
    fn path(self) -> &'static str {
        match self {
            Hook::Mutate => MUTATE_PATH,
            Hook::Validate => VALIDATE_PATH,
        }
    }
}

/// The webhook's routes, without TLS: the two admission paths, the conversion path, `/readyz`
/// and `/livez`, with the body limits and the request timeout.
pub fn router(index: ImageIndex, metrics: WebhookMetrics) -> Router {
    Router::new()
        .route(MUTATE_PATH, post(mutate_handler))
        .route(VALIDATE_PATH, post(validate_handler))
        .route(
            CONVERT_PATH,
            post(convert_handler).layer(DefaultBodyLimit::max(CONVERT_BODY_LIMIT)),
        )
        .route(READYZ_PATH, get(readyz))
        .route(LIVEZ_PATH, get(|| async { "ok" }))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(request_timeout))
        .with_state(AppState { index, metrics })
}

async fn request_timeout(request: Request, next: Next) -> Response {
    match tokio::time::timeout(REQUEST_TIMEOUT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "request timed out\n").into_response(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    if state.index.is_synced() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "image index not synced yet\n",
        )
            .into_response()
    }
}

/// Conversion needs no index: it answers from the first request on (the apiserver calls it for
/// any read at a version other than the stored one).
async fn convert_handler(State(state): State<AppState>, body: Bytes) -> Response {
    let start = Instant::now();
    let (outcome, response) = match serde_json::from_slice::<Value>(&body) {
        Ok(request) => {
            let answer = tokio::task::spawn_blocking(move || crate::conversion::review(&request))
                .await
                .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }));
            let failed = answer["response"]["result"]["status"] != "Success";
            let outcome = if failed {
                result::ERROR
            } else {
                result::ALLOWED
            };
            (outcome, axum::Json(answer).into_response())
        }
        Err(e) => (
            result::ERROR,
            (
                StatusCode::BAD_REQUEST,
                format!("not a ConversionReview: {e}\n"),
            )
                .into_response(),
        ),
    };
    state
        .metrics
        .observe(CONVERT_PATH, outcome, start.elapsed().as_secs_f64());
    response
}

async fn mutate_handler(State(state): State<AppState>, body: Bytes) -> Response {
    handle(&state, Hook::Mutate, &body)
}

async fn validate_handler(State(state): State<AppState>, body: Bytes) -> Response {
    handle(&state, Hook::Validate, &body)
}

fn handle(state: &AppState, hook: Hook, body: &[u8]) -> Response {
    let start = Instant::now();
    let (outcome, response) = match review(&state.index, hook, body) {
        Ok(Reviewed { response, outcome }) => {
            if let Outcome::Denied(reason) = outcome {
                state.metrics.denied(hook.path(), reason);
            }
            (outcome.label(), review_response(response))
        }
        Err((status, message)) => {
            tracing::warn!(path = hook.path(), %status, %message, "admission request not answered");
            (result::ERROR, (status, message).into_response())
        }
    };
    state
        .metrics
        .observe(hook.path(), outcome, start.elapsed().as_secs_f64());
    response
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Patched,
    Denied(&'static str),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Allowed => result::ALLOWED,
            Outcome::Patched => result::PATCHED,
            Outcome::Denied(_) => result::DENIED,
        }
    }
}

struct Reviewed {
    response: AdmissionResponse,
    outcome: Outcome,
}

/// Answers one AdmissionReview body. `Err` is an HTTP error (the apiserver then applies the
/// webhook's failurePolicy): a body that is not an AdmissionReview, or an index not synced yet.
fn review(index: &ImageIndex, hook: Hook, body: &[u8]) -> Result<Reviewed, (StatusCode, String)> {
    let review: AdmissionReview<DynamicObject> = serde_json::from_slice(body).map_err(|e| {
        (
            StatusCode::BAD_REQUEST,
            format!("not an AdmissionReview: {e}\n"),
        )
    })?;
    let request: AdmissionRequest<DynamicObject> = review.try_into().map_err(|_| {
        (
            StatusCode::BAD_REQUEST,
            "AdmissionReview without a request\n".to_string(),
        )
    })?;
    if !index.is_synced() {
        return Err((
            StatusCode::SERVICE_UNAVAILABLE,
            "image index not synced yet\n".to_string(),
        ));
    }
    let response = AdmissionResponse::from(&request);
    let allowed = |response| {
        Ok(Reviewed {
            response,
            outcome: Outcome::Allowed,
        })
    };

    let old = match request.operation {
        Operation::Create => None,
        Operation::Update => Some(request.old_object.as_ref().map(fields)),
        Operation::Delete | Operation::Connect => return allowed(response),
    };
    let Some(object) = &request.object else {
        return allowed(response);
    };
    let namespace = request
        .namespace
        .as_deref()
        .or(object.metadata.namespace.as_deref())
        .unwrap_or_default();
    let vm = fields(object);
    // An update without the old object (never sent by the apiserver) is treated as a create.
    let old = old.flatten();

    let decision = {
        let view = index.read();
        match hook {
            Hook::Mutate => resolve::mutate(&view, namespace, &vm, old.as_ref()),
            Hook::Validate => resolve::validate(&view, namespace, &vm, old.as_ref()),
        }
    };
    match decision {
        Ok(admit) => {
            let mut response = response;
            let mut outcome = Outcome::Allowed;
            if let (Hook::Mutate, Some(patch)) = (hook, admit.json_patch()) {
                response = response.with_patch(patch).map_err(|e| {
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        format!("cannot encode the patch: {e}\n"),
                    )
                })?;
                outcome = Outcome::Patched;
            }
            if !admit.warnings.is_empty() {
                response.warnings = Some(admit.warnings);
            }
            Ok(Reviewed { response, outcome })
        }
        Err(refusal) => {
            tracing::debug!(
                path = hook.path(),
                namespace,
                name = %request.name,
                reason = refusal.reason(),
                "admission refused: {refusal}"
            );
            Ok(Reviewed {
                response: deny(response, &refusal),
                outcome: Outcome::Denied(refusal.reason()),
            })
        }
    }
}

/// The AdmissionReview answer. kube-core serialises `response.patch` (bytes) as a JSON array of
/// numbers; the API declares it `[]byte`, i.e. a base64 string, which is what is sent here.
fn review_response(response: AdmissionResponse) -> Response {
    let patch = response.patch.clone();
    let mut review = match serde_json::to_value(response.into_review()) {
        Ok(v) => v,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot encode the answer: {e}\n"),
            )
                .into_response();
        }
    };
    if let Some(patch) = patch {
        review["response"]["patch"] = Value::String(BASE64.encode(patch));
    }
    axum::Json(review).into_response()
}

fn fields(object: &DynamicObject) -> VmImageFields {
    VmImageFields::from_object(object.metadata.annotations.as_ref(), &object.data)
}

/// A refusal as VM Operator's webhooks answer one (403 Forbidden), so kubectl prints
/// `Error from server (Forbidden): ... denied the request: <message>`.
fn deny(mut response: AdmissionResponse, refusal: &Refusal) -> AdmissionResponse {
    response.allowed = false;
    response.result = Status::failure(&refusal.to_string(), "Forbidden").with_code(403);
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Condition, ConditionStatus, VirtualMachineImage, VirtualMachineImageStatus};
    use serde_json::json;

    fn index() -> ImageIndex {
        let mut vmi = VirtualMachineImage::new("vmi-0a0044d7c690bcbea", Default::default());
        vmi.metadata.namespace = Some("ns".into());
        vmi.status = Some(VirtualMachineImageStatus {
            name: Some("Photon OS 5.0".into()),
            conditions: vec![Condition::new(
                "Ready",
                ConditionStatus::False,
                "NotSynced",
                "later",
            )],
            ..Default::default()
        });
        ImageIndex::from_objects([vmi], [])
    }

    fn body(operation: &str, spec: Value, old_spec: Option<Value>) -> Vec<u8> {
        let vm = |spec: Value| {
            json!({
                "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachine",
                "metadata": { "name": "vm", "namespace": "ns" }, "spec": spec
            })
        };
        serde_json::to_vec(&json!({
            "apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {
                "uid": "0df28fbd-5f5f-11e8-bc74-36e6bb280816",
                "kind": { "group": "vmoperator.vmware.com", "version": "v1alpha5", "kind": "VirtualMachine" },
                "resource": { "group": "vmoperator.vmware.com", "version": "v1alpha5", "resource": "virtualmachines" },
                "name": "vm", "namespace": "ns", "operation": operation,
                "userInfo": { "username": "admin" },
                "object": vm(spec),
                "oldObject": old_spec.map(vm),
                "dryRun": false
            }
        }))
        .unwrap()
    }

    fn answer(hook: Hook, body: &[u8]) -> Value {
        answer_with_patch(hook, body).0
    }

    /// The review as JSON, and the decoded patch.
    fn answer_with_patch(hook: Hook, body: &[u8]) -> (Value, Option<Value>) {
        let reviewed = review(&index(), hook, body).expect("answered");
        let patch = reviewed
            .response
            .patch
            .as_ref()
            .map(|p| serde_json::from_slice(p).unwrap());
        (
            serde_json::to_value(reviewed.response.into_review()).unwrap(),
            patch,
        )
    }

    #[test]
    fn mutation_answers_with_a_json_patch() {
        let (out, patch) = answer_with_patch(
            Hook::Mutate,
            &body("CREATE", json!({ "imageName": "Photon OS 5.0" }), None),
        );
        assert_eq!(out["apiVersion"], "admission.k8s.io/v1");
        assert_eq!(out["kind"], "AdmissionReview");
        let response = &out["response"];
        assert_eq!(response["uid"], "0df28fbd-5f5f-11e8-bc74-36e6bb280816");
        assert_eq!(response["allowed"], true);
        assert_eq!(response["patchType"], "JSONPatch");
        assert_eq!(
            patch.unwrap(),
            json!([
                { "op": "add", "path": "/spec/image", "value": { "kind": "VirtualMachineImage", "name": "vmi-0a0044d7c690bcbea" } },
                { "op": "add", "path": "/spec/imageName", "value": "vmi-0a0044d7c690bcbea" }
            ])
        );
    }

    #[test]
    fn refusals_are_403_with_the_message() {
        let out = answer(
            Hook::Mutate,
            &body("CREATE", json!({ "imageName": "Nope" }), None),
        );
        let response = &out["response"];
        assert_eq!(response["allowed"], false);
        assert_eq!(response["status"]["code"], 403);
        assert_eq!(response["status"]["reason"], "Forbidden");
        assert_eq!(
            response["status"]["message"],
            "no VM image exists for \"Nope\" in namespace or cluster scope"
        );
        assert!(response.get("patch").is_none());

        let out = answer(
            Hook::Validate,
            &body("CREATE", json!({ "imageName": "Photon OS 5.0" }), None),
        );
        assert_eq!(out["response"]["allowed"], false);
        assert!(
            out["response"]["status"]["message"]
                .as_str()
                .unwrap()
                .contains("is not ready")
        );
    }

    #[test]
    fn updates_of_other_fields_pass() {
        let spec = json!({ "imageName": "vmi-gone00000000000000", "image": { "kind": "VirtualMachineImage", "name": "vmi-gone00000000000000" }, "className": "a" });
        let mut new = spec.clone();
        new["className"] = json!("b");
        let out = answer(Hook::Validate, &body("UPDATE", new, Some(spec)));
        assert_eq!(out["response"]["allowed"], true);
        let out = answer(Hook::Mutate, &body("DELETE", json!({}), None));
        assert_eq!(out["response"]["allowed"], true);
    }

    #[test]
    fn bad_bodies_and_unsynced_index_are_http_errors() {
        let err = review(&index(), Hook::Mutate, b"{").err().unwrap();
        assert_eq!(err.0, StatusCode::BAD_REQUEST);
        let err = review(
            &index(),
            Hook::Mutate,
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#,
        )
        .err()
        .unwrap();
        assert_eq!(err.0, StatusCode::BAD_REQUEST);
        let err = review(
            &ImageIndex::empty(),
            Hook::Mutate,
            &body("CREATE", json!({}), None),
        )
        .err()
        .unwrap();
        assert_eq!(err.0, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn the_patch_is_base64_on_the_wire() {
        let state = AppState {
            index: index(),
            metrics: WebhookMetrics::default(),
        };
        let response = handle(
            &state,
            Hook::Mutate,
            &body("CREATE", json!({ "imageName": "Photon OS 5.0" }), None),
        );
        let bytes = axum::body::to_bytes(response.into_body(), BODY_LIMIT)
            .await
            .unwrap();
        let out: Value = serde_json::from_slice(&bytes).unwrap();
        let patch = BASE64
            .decode(out["response"]["patch"].as_str().expect("a string"))
            .unwrap();
        let patch: Value = serde_json::from_slice(&patch).unwrap();
        assert_eq!(
            patch[1],
            json!({ "op": "add", "path": "/spec/imageName", "value": "vmi-0a0044d7c690bcbea" })
        );
        assert_eq!(out["response"]["patchType"], "JSONPatch");
    }

    #[test]
    fn handler_counts_requests() {
        let state = AppState {
            index: index(),
            metrics: WebhookMetrics::default(),
        };
        let response = handle(
            &state,
            Hook::Mutate,
            &body("CREATE", json!({ "imageName": "Photon OS 5.0" }), None),
        );
        assert_eq!(response.status(), StatusCode::OK);
        handle(
            &state,
            Hook::Mutate,
            &body("CREATE", json!({ "imageName": "Nope" }), None),
        );
        handle(&state, Hook::Mutate, b"junk");
        assert_eq!(state.metrics.requests(MUTATE_PATH, result::PATCHED), 1);
        assert_eq!(state.metrics.requests(MUTATE_PATH, result::DENIED), 1);
        assert_eq!(state.metrics.requests(MUTATE_PATH, result::ERROR), 1);
    }
}
