//! The webhook server over real TLS on loopback, without a cluster: answers, readiness, limits,
//! and the certificate reload when the files change.

use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};
use vmi_operator::webhook::{ImageIndex, ImageInfo, IndexedKind, MUTATE_PATH, VALIDATE_PATH};
use vmi_test_support::{admission::*, webhook::*};

fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn index() -> ImageIndex {
    ImageIndex::from_objects(
        [
            vmi(
                "ns",
                "vmi-0a0044d7c690bcbea",
                "Photon OS 5.0",
                true,
                &["cloud-init"],
            ),
            vmi("ns", "vmi-1111111111111111a", "Broken", false, &[]),
        ],
        [cvmi("vmi-2222222222222222c", "Ubuntu 24.04", true, &[])],
    )
}

async fn post(client: &reqwest::Client, url: &str, body: Vec<u8>) -> reqwest::Response {
    client
        .post(url)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("request")
}

#[tokio::test]
async fn answers_over_tls() {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let webhook = RunningWebhook::start(&pki, index(), Duration::from_secs(5)).await;
    let client = https_client(&pki.ca_pem);

    let review = create_review("uid-1", "ns", "vm", json!({ "imageName": "Ubuntu 24.04" }));
    let resp = post(&client, &webhook.url(MUTATE_PATH), review).await;
    assert_eq!(resp.status(), 200);
    let out: Value = resp.json().await.unwrap();
    assert_eq!(out["response"]["uid"], "uid-1");
    assert_eq!(out["response"]["allowed"], true);
    let patch = base64::engine::general_purpose::STANDARD
        .decode(out["response"]["patch"].as_str().unwrap())
        .unwrap();
    let patch: Value = serde_json::from_slice(&patch).unwrap();
    assert_eq!(
        patch,
        json!([
            { "op": "add", "path": "/spec/image", "value": { "kind": "ClusterVirtualMachineImage", "name": "vmi-2222222222222222c" } },
            { "op": "add", "path": "/spec/imageName", "value": "vmi-2222222222222222c" }
        ])
    );

    let review = create_review("uid-2", "ns", "vm", json!({ "imageName": "Broken" }));
    let out: Value = post(&client, &webhook.url(VALIDATE_PATH), review)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(out["response"]["allowed"], false);
    assert_eq!(out["response"]["status"]["code"], 403);
    assert!(
        out["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .contains("is not ready: Ready=False, VirtualMachineImageNotSynced"),
        "{out}"
    );

    // Readiness and liveness on the same port.
    let ready = client.get(webhook.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        client
            .get(webhook.url("/livez"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Limits and methods.
    let huge = vec![b' '; 4 * 1024 * 1024];
    assert_eq!(
        post(&client, &webhook.url(MUTATE_PATH), huge)
            .await
            .status(),
        413
    );
    assert_eq!(
        post(&client, &webhook.url(MUTATE_PATH), b"{}".to_vec())
            .await
            .status(),
        400
    );
    assert_eq!(
        client
            .get(webhook.url(MUTATE_PATH))
            .send()
            .await
            .unwrap()
            .status(),
        405
    );

    // HTTPS only: plain HTTP on the port gets no answer.
    let plain = reqwest::Client::new();
    assert!(
        plain
            .get(format!("http://{}/readyz", webhook.addr))
            .send()
            .await
            .is_err()
    );

    assert_eq!(webhook.metrics.requests(MUTATE_PATH, "patched"), 1);
    assert_eq!(webhook.metrics.requests(VALIDATE_PATH, "denied"), 1);
    webhook.stop().await;
}

#[tokio::test]
async fn not_ready_until_the_index_has_synced() {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    let index = ImageIndex::empty();
    let webhook = RunningWebhook::start(&pki, index.clone(), Duration::from_secs(5)).await;
    let client = https_client(&pki.ca_pem);

    assert_eq!(
        client
            .get(webhook.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        503
    );
    let review = create_review("uid", "ns", "vm", json!({ "imageName": "Photon OS 5.0" }));
    // Admission requests get an HTTP error, so the configuration's failurePolicy decides.
    assert_eq!(
        post(&client, &webhook.url(MUTATE_PATH), review.clone())
            .await
            .status(),
        503
    );

    index.upsert(ImageInfo::of(&vmi(
        "ns",
        "vmi-0a0044d7c690bcbea",
        "Photon OS 5.0",
        true,
        &[],
    )));
    index.mark_synced(IndexedKind::VirtualMachineImage);
    index.mark_synced(IndexedKind::ClusterVirtualMachineImage);
    assert_eq!(
        client
            .get(webhook.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        post(&client, &webhook.url(MUTATE_PATH), review)
            .await
            .status(),
        200
    );
    webhook.stop().await;
}

#[tokio::test]
async fn reloads_the_certificate_when_the_files_change() {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let old = TestPki::generate(dir.path());
    let old_ca = old.ca_pem.clone();
    let webhook = RunningWebhook::start(&old, index(), Duration::from_millis(200)).await;
    let old_client = https_client(&old_ca);
    assert_eq!(
        old_client
            .get(webhook.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // cert-manager writes a certificate from another CA.
    let new = old.rotate();
    let new_client = https_client(&new.ca_pem);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        // A new connection each time (reqwest pools them; the old one would keep the old cert).
        let fresh = https_client(&new.ca_pem);
        if fresh.get(webhook.url("/readyz")).send().await.is_ok() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new certificate was not served within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        new_client
            .get(webhook.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // New connections trusting only the old CA now fail.
    assert!(
        https_client(&old_ca)
            .get(webhook.url("/readyz"))
            .send()
            .await
            .is_err()
    );

    // A broken file is not loaded; the current certificate keeps being served.
    std::fs::write(&new.cert_path, "not a certificate").unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        https_client(&new.ca_pem)
            .get(webhook.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    webhook.stop().await;
}

#[tokio::test]
async fn refuses_to_start_without_a_usable_certificate() {
    install_crypto();
    let dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(dir.path());
    std::fs::write(&pki.key_path, "garbage").unwrap();
    let err = vmi_operator::webhook::WebhookServer::bind(
        pki.webhook_config("127.0.0.1:0".parse().unwrap()),
    )
    .await
    .err()
    .expect("an unusable key is refused");
    assert_eq!(err.reason(), "TlsInvalid", "{err}");
    std::fs::remove_file(&pki.cert_path).unwrap();
    let err = vmi_operator::webhook::WebhookServer::bind(
        pki.webhook_config("127.0.0.1:0".parse().unwrap()),
    )
    .await
    .err()
    .unwrap();
    assert_eq!(err.reason(), "TlsFilesUnreadable", "{err}");
}
