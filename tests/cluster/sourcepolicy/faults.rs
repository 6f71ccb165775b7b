//! Faults of a published library's server, on real sockets, at the source: each is bounded by
//! the timeouts the flags set (1-2 s here) and recovers when the server does.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum_server::tls_rustls::RustlsConfig;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair, date_time_ymd};
use vmi_operator::source::{LibrarySource, Scope, SourcePolicy, SourceRegistry, TlsOptions};

use super::server::{FaultServer, Mode};

const UUID: &str = "6f1a9a46-0c2b-4c1e-9d0a-1f5c3c1e0a02";

/// The policy of these tests: servers on loopback allowed, short timeouts.
fn policy() -> SourcePolicy {
    SourcePolicy {
        allow_loopback: true,
        connect_timeout: Duration::from_secs(1),
        read_timeout: Duration::from_secs(1),
        ..SourcePolicy::default()
    }
}

async fn list_once(source: &dyn LibrarySource) -> (Result<usize, String>, Duration) {
    let started = Instant::now();
    // Far above every bound under test, so a missing bound fails instead of hanging.
    let r = match tokio::time::timeout(Duration::from_secs(15), source.list_items()).await {
        Ok(r) => r
            .map(|i| i.len())
            .map_err(|e| format!("{}: {e}", e.reason())),
        Err(_) => Err("not bounded: still running after 15s".into()),
    };
    (r, started.elapsed())
}

#[tokio::test]
async fn hang_reset_and_vanish_are_bounded_and_recover() {
    let root = tempfile::tempdir().unwrap();
    let _lib = super::one_item_library(root.path(), "f");
    let mut server = FaultServer::start("127.0.0.1:0".parse().unwrap(), root.path()).await;
    let registry = SourceRegistry::new(None, TlsOptions::default()).with_policy(policy());
    let source = registry
        .source_for(Scope::Namespaced, UUID, Some(&server.url("lib.json")))
        .unwrap();
    assert_eq!(list_once(source.as_ref()).await.0, Ok(1));

    let mut failures = Vec::new();
    // A byte a second passes a read timeout above a second: the listing's deadline
    // (--list-timeout) bounds it, which the cluster test checks.
    for (mode, wants) in [
        (Mode::Hang, "timed out"),
        (Mode::Reset, "SourceUnreachable"),
    ] {
        server.set(mode);
        let (r, took) = list_once(source.as_ref()).await;
        eprintln!("{mode:?}: {r:?} after {took:?}");
        if !matches!(&r, Err(e) if e.contains(wants)) || took > Duration::from_secs(4) {
            failures.push(format!("{mode:?}: {r:?} after {took:?}"));
        }
    }
    server.down().await;
    let (r, took) = list_once(source.as_ref()).await;
    eprintln!("vanished: {r:?} after {took:?}");
    if !matches!(&r, Err(e) if e.starts_with("SourceUnreachable")) || took > Duration::from_secs(3)
    {
        failures.push(format!("vanished: {r:?} after {took:?}"));
    }
    server.up().await;
    server.set(Mode::Serve);
    assert_eq!(list_once(source.as_ref()).await.0, Ok(1), "recovery");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A CA and a server certificate for `name` valid from/to the given years.
fn chain(
    name: &str,
    from: i32,
    to: i32,
    ca: &(String, Issuer<'static, KeyPair>),
) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![name.to_string()]).unwrap();
    params.not_before = date_time_ymd(from, 1, 1);
    params.not_after = date_time_ymd(to, 1, 1);
    let cert = params.signed_by(&key, &ca.1).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn ca() -> (String, Issuer<'static, KeyPair>) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), Issuer::new(params, key))
}

#[tokio::test]
async fn tls_expired_and_wrong_host_are_refused_then_recover() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let root = tempfile::tempdir().unwrap();
    let _lib = super::one_item_library(root.path(), "t");
    let ca = ca();
    let expired = chain("127.0.0.1", 2020, 2021, &ca);
    let wrong_host = chain("other.example.com", 2024, 2099, &ca);
    let good = chain("127.0.0.1", 2024, 2099, &ca);

    let config = RustlsConfig::from_pem(expired.0.clone().into(), expired.1.clone().into())
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let dir = root.path().to_path_buf();
    let app = axum::Router::new().fallback(move |req: axum::extract::Request| {
        let dir = dir.clone();
        async move {
            let path = req.uri().path().trim_start_matches('/').to_string();
            match std::fs::read(dir.join(path)) {
                Ok(b) => axum::response::IntoResponse::into_response(b),
                Err(_) => {
                    axum::response::IntoResponse::into_response(axum::http::StatusCode::NOT_FOUND)
                }
            }
        }
    });
    let handle = axum_server::Handle::new();
    let server = axum_server::from_tcp_rustls(listener, config.clone())
        .unwrap()
        .handle(handle.clone());
    tokio::spawn(async move { server.serve(app.into_make_service()).await });

    let tls = TlsOptions {
        ca_bundle_pem: Some(ca.0.clone().into_bytes()),
        insecure_skip_verify: false,
    };
    let registry = SourceRegistry::new(None, tls).with_policy(policy());
    let source = registry
        .source_for(
            Scope::Namespaced,
            UUID,
            Some(&format!("https://{addr}/lib.json")),
        )
        .unwrap();
    let (r, took) = list_once(source.as_ref()).await;
    eprintln!("expired: {r:?} after {took:?}");
    assert!(
        matches!(&r, Err(e) if e.starts_with("SourceUnreachable") && e.contains("xpired")),
        "{r:?}"
    );
    config
        .reload_from_pem(wrong_host.0.into(), wrong_host.1.into())
        .await
        .unwrap();
    let (r, took) = list_once(source.as_ref()).await;
    eprintln!("wrong host: {r:?} after {took:?}");
    assert!(
        matches!(&r, Err(e) if e.starts_with("SourceUnreachable") && e.to_lowercase().contains("not valid for name")),
        "{r:?}"
    );
    config
        .reload_from_pem(good.0.into(), good.1.into())
        .await
        .unwrap();
    assert_eq!(list_once(source.as_ref()).await.0, Ok(1), "recovery");
    handle.shutdown();
}
