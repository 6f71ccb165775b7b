//! HTTP plumbing shared by both sources: a reqwest client with our TLS rules and timeouts,
//! size-limited body reads, and error messages that never carry credentials.

use std::fmt;
use std::time::Duration;

use futures::StreamExt;
use reqwest::{Response, StatusCode};
use url::Url;

use super::SourceError;

pub(crate) use super::limits::{
    API_TIMEOUT, CONNECT_TIMEOUT, DOWNLOAD_TIMEOUT, OVA_TIMEOUT, READ_TIMEOUT,
};
pub(crate) use super::redact::redact;

/// How much of an error body we quote in a message.
const ERROR_BODY_QUOTE: usize = 300;

/// How a source verifies the TLS certificate of its server.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM bundle of the CA certificates to trust. None: the system's roots
    /// (`SSL_CERT_FILE`/`SSL_CERT_DIR` or the platform's store).
    pub ca_bundle_pem: Option<Vec<u8>>,
    /// Accept any certificate. Only ever set because a user asked for it explicitly.
    pub insecure_skip_verify: bool,
}

impl fmt::Debug for TlsOptions {
    // A CA bundle is public, but thousands of bytes of it make logs unreadable.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsOptions")
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

/// Builds a client with our TLS rules. `redirect` is the caller's redirect policy (the vSphere
/// client follows none, a published library only same-origin ones).
pub(crate) fn build_client(
    tls: &TlsOptions,
    redirect: reqwest::redirect::Policy,
) -> Result<reqwest::Client, SourceError> {
    build_client_with(tls, redirect, CONNECT_TIMEOUT, READ_TIMEOUT, None)
}

/// [`build_client`] with other timeouts, and a resolver (the source policy's, which lets the
/// client connect only to addresses it checked).
pub(crate) fn build_client_with(
    tls: &TlsOptions,
    redirect: reqwest::redirect::Policy,
    connect_timeout: Duration,
    read_timeout: Duration,
    resolver: Option<std::sync::Arc<super::policy::PolicyResolver>>,
) -> Result<reqwest::Client, SourceError> {
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .connect_timeout(connect_timeout)
        .read_timeout(read_timeout)
        .redirect(redirect)
        .user_agent(concat!("vmi-operator/", env!("CARGO_PKG_VERSION")));
    if let Some(resolver) = resolver {
        builder = builder.dns_resolver(resolver);
    }
    if tls.insecure_skip_verify {
        tracing::warn!(
            "TLS certificate verification is off for a library source (insecure_skip_verify)"
        );
        builder = builder.danger_accept_invalid_certs(true);
    } else if let Some(pem) = &tls.ca_bundle_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
            SourceError::Config(format!("CA bundle is not valid PEM: {}", chain(&e)))
        })?;
        if certs.is_empty() {
            return Err(SourceError::Config("CA bundle holds no certificate".into()));
        }
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    } else {
        // reqwest is built with manual roots only: without this an https source would trust
        // nothing. An unreadable system store is not fatal here; the TLS handshake then fails
        // with UnknownIssuer, which names the problem better than we could now.
        let native = rustls_native_certs::load_native_certs();
        for der in native.certs {
            if let Ok(cert) = reqwest::Certificate::from_der(&der) {
                builder = builder.add_root_certificate(cert);
            }
        }
    }
    builder
        .build()
        .map_err(|e| SourceError::Config(format!("cannot build HTTP client: {}", chain(&e))))
}

/// A transport failure as a source error. reqwest's own message names the URL it was given;
/// we drop that and name the redacted one.
pub(crate) fn unreachable(url: &Url, err: reqwest::Error) -> SourceError {
    // A refusal of the source policy's resolver or redirect check, wrapped by reqwest.
    if let Some(refused) = super::PolicyError::find(&err) {
        return SourceError::Policy(refused);
    }
    let timeout = err.is_timeout();
    let err = err.without_url();
    let mut message = chain(&err);
    if timeout && !message.contains("timed out") {
        message.push_str(" (timed out)");
    }
    SourceError::Unreachable {
        url: redact(url),
        message,
    }
}

/// An error and its sources, joined with ": " (reqwest hides the useful part, e.g. the TLS
/// verification failure, a few levels down).
pub(crate) fn chain(err: &dyn std::error::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut next = err.source();
    while let Some(e) = next {
        let s = e.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// Fails on any non-success status, quoting the start of the body (one line, bounded).
pub(crate) async fn check_status(url: &Url, resp: Response) -> Result<Response, SourceError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    Err(SourceError::Http {
        url: redact(url),
        status: status.as_u16(),
        message: error_quote(resp).await,
    })
}

/// The start of an error response's body, or the status' reason phrase when it is empty.
pub(crate) async fn error_quote(resp: Response) -> String {
    let status = resp.status();
    let body = read_limited(resp, 4096, "error body")
        .await
        .unwrap_or_default();
    let text: String = String::from_utf8_lossy(&body)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(ERROR_BODY_QUOTE)
        .collect();
    if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        text
    }
}

/// Reads a whole body, failing as soon as it grows past `limit` (before buffering it all).
pub(crate) async fn read_limited(
    resp: Response,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, SourceError> {
    if resp.content_length().is_some_and(|len| len > limit) {
        return Err(SourceError::TooLarge {
            what: what.to_string(),
            limit,
        });
    }
    let url = resp.url().clone();
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| unreachable(&url, e))?;
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(SourceError::TooLarge {
                what: what.to_string(),
                limit,
            });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Whether two URLs share scheme, host and port.
pub(crate) fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

/// 404 as a distinct outcome, since the callers map it onto LibraryNotFound/ItemNotFound.
pub(crate) fn is_not_found(resp: &Response) -> bool {
    resp.status() == StatusCode::NOT_FOUND
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_drops_user_info() {
        let url = Url::parse("https://admin:s3cret@vc.example.com/rest/x?library_id=1").unwrap();
        let shown = redact(&url);
        assert_eq!(shown, "https://vc.example.com/rest/x?library_id=1");
    }

    #[test]
    fn tls_debug_hides_bundle() {
        let tls = TlsOptions {
            ca_bundle_pem: Some(b"-----BEGIN CERTIFICATE-----".to_vec()),
            insecure_skip_verify: false,
        };
        let shown = format!("{tls:?}");
        assert!(shown.contains("<27 bytes>"), "{shown}");
        assert!(!shown.contains("BEGIN"));
    }

    #[test]
    fn bad_ca_bundle_is_config_error() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = TlsOptions {
            ca_bundle_pem: Some(b"not pem".to_vec()),
            insecure_skip_verify: false,
        };
        let err = build_client(&tls, reqwest::redirect::Policy::none()).unwrap_err();
        assert_eq!(err.reason(), "SourceMisconfigured", "{err}");
    }

    #[test]
    fn origin_compares_default_ports() {
        let a = Url::parse("https://h/x").unwrap();
        assert!(same_origin(&a, &Url::parse("https://h:443/y").unwrap()));
        assert!(!same_origin(&a, &Url::parse("http://h/x").unwrap()));
        assert!(!same_origin(&a, &Url::parse("https://h:8443/x").unwrap()));
        assert!(!same_origin(&a, &Url::parse("https://other/x").unwrap()));
    }
}
