//! The vSphere source against a real vcsim (govmomi v0.46.3) on loopback, started by
//! `hack/vcsim.sh` with a CA of its own and filled with `govc library.import`.
//!
//! Each test starts and stops its own vcsim (random port, own state directory). vcsim is
//! started with its stdin on a pipe we hold, so it exits with this process even if the test is
//! killed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use vmi_operator::source::{LibrarySource, SourceError, VsphereClient};
use vmi_test_support::archive;
use vmi_test_support::vcsim::Vcsim;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/ovf");

/// A folder with a copy of photon5.ovf and a placeholder for the disk it references (govc
/// uploads referenced files; the fixture comes without its 300 MiB disk).
fn photon_dir(descriptor: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let ovf = dir.path().join("photon5.ovf");
    std::fs::write(&ovf, descriptor).unwrap();
    std::fs::write(dir.path().join("photon-ova-disk1.vmdk"), vec![0u8; 4096]).unwrap();
    (dir, ovf)
}

fn photon_fixture() -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/govmomi/ovf/fixtures/photon5.ovf")).unwrap()
}

fn ova_path() -> String {
    format!("{FIXTURES}/extra/ttylinux-pc_i486-16.1.ova")
}

/// The descriptor inside the OVA fixture, read with tar directly (not with the code under test).
fn ova_descriptor() -> Vec<u8> {
    archive::descriptor_in(&std::fs::read(ova_path()).unwrap())
}

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[tokio::test]
async fn lists_fetches_and_follows_changes() {
    let sim = Vcsim::start();
    let library_id = sim.create_library("images");
    let (_photon, photon_ovf) = photon_dir(&photon_fixture());
    sim.govc(&["library.import", "images", path_str(&photon_ovf)]);
    sim.govc(&["library.import", "images", &ova_path()]);

    let client = VsphereClient::new(sim.config()).unwrap();
    let lib = client.library(&library_id);
    let info = lib.library().await.unwrap();
    assert_eq!(info.id, library_id);
    assert_eq!(info.name, "images");
    assert_eq!(info.library_type, "Local");
    assert!(info.creation_time.is_some());

    let items = lib.list_items().await.unwrap();
    let names: Vec<&str> = items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["photon5", "ttylinux-pc_i486-16.1"]);
    for item in &items {
        assert_eq!(item.item_type, "Ovf");
        assert!(!item.content_version.is_empty(), "{item:?}");
        assert!(item.cached && item.security_compliance, "{item:?}");
        assert!(item.creation_time.is_some());
    }
    let photon = &items[0];
    let file_names: Vec<&str> = photon.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(file_names, ["photon5.ovf", "photon-ova-disk1.vmdk"]);
    assert_eq!(photon.files[0].size, photon_fixture().len() as u64);
    assert_eq!(photon.size, photon_fixture().len() as u64 + 4096);
    // govc unpacks an OVA into the descriptor and its files; vcsim stores those.
    let tty = &items[1];
    assert!(
        tty.files
            .iter()
            .any(|f| f.name == "ttylinux-pc_i486-16.1.ovf"),
        "{tty:?}"
    );

    assert_eq!(lib.fetch_ovf(photon).await.unwrap(), photon_fixture());
    assert_eq!(lib.fetch_ovf(tty).await.unwrap(), ova_descriptor());
    assert_eq!(lib.item(&photon.id).await.unwrap(), *photon);

    // Update photon5 with a changed descriptor: the content version and the bytes follow.
    let mut changed = photon_fixture();
    changed.extend_from_slice(b"<!-- rebuilt -->\n");
    let (_photon2, photon2_ovf) = photon_dir(&changed);
    sim.govc(&["library.import", "images/photon5", path_str(&photon2_ovf)]);
    let updated = lib.item(&photon.id).await.unwrap();
    assert_ne!(updated.content_version, photon.content_version);
    assert_eq!(lib.fetch_ovf(&updated).await.unwrap(), changed);

    // Remove the OVA's item: it disappears from the listing, and asking for it is ItemNotFound.
    sim.govc(&["library.rm", "images/ttylinux-pc_i486-16.1"]);
    let items = lib.list_items().await.unwrap();
    assert_eq!(
        items.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
        ["photon5"]
    );
    let err = lib.item(&tty.id).await.unwrap_err();
    assert!(matches!(err, SourceError::ItemNotFound(_)), "{err}");

    let err = client
        .library("00000000-0000-4000-8000-000000000000")
        .list_items()
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::LibraryNotFound(_)), "{err}");
    let err = client
        .library("00000000-0000-4000-8000-000000000000")
        .library()
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::LibraryNotFound(_)), "{err}");
    client.logout().await;
}

#[tokio::test]
async fn wrong_password_is_an_auth_error_without_the_password() {
    let sim = Vcsim::start();
    let library_id = sim.create_library("images");
    let mut config = sim.config();
    let right = config.password.clone();
    config.password = "not-the-password-0xC0FFEE".into();
    let client = VsphereClient::new(config.clone()).unwrap();
    let err = client.library(&library_id).library().await.unwrap_err();
    assert!(matches!(err, SourceError::Auth(_)), "{err}");
    assert_eq!(err.reason(), "SourceAuthFailed");
    let shown = format!("{err} {err:?} {config:?}");
    assert!(
        !shown.contains("0xC0FFEE") && !shown.contains(&right),
        "{shown}"
    );
}

#[tokio::test]
async fn tls_is_verified_unless_told_otherwise() {
    let sim = Vcsim::start();
    let library_id = sim.create_library("images");

    // vcsim's certificate is signed by the test CA, which the system does not trust.
    let mut config = sim.config();
    config.ca_bundle_pem = None;
    let err = VsphereClient::new(config.clone())
        .unwrap()
        .library(&library_id)
        .library()
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Unreachable { .. }), "{err}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );

    // Another CA does not help either.
    let other_ca = sim.state.path().join("other");
    std::fs::create_dir(&other_ca).unwrap();
    let status = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
        ])
        .args([
            "-subj",
            "/CN=other",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ])
        .arg("-keyout")
        .arg(other_ca.join("k.pem"))
        .arg("-out")
        .arg(other_ca.join("c.pem"))
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    config.ca_bundle_pem = Some(std::fs::read(other_ca.join("c.pem")).unwrap());
    let err = VsphereClient::new(config.clone())
        .unwrap()
        .library(&library_id)
        .library()
        .await
        .unwrap_err();
    assert!(matches!(err, SourceError::Unreachable { .. }), "{err}");

    config.ca_bundle_pem = None;
    config.insecure_skip_verify = true;
    let info = VsphereClient::new(config)
        .unwrap()
        .library(&library_id)
        .library()
        .await
        .unwrap();
    assert_eq!(info.name, "images");
}

/// Items are created over REST (no files), then listed: the figure of the report.
#[tokio::test]
async fn lists_many_items() {
    const N: usize = 300;
    let sim = Vcsim::start();
    let library_id = sim.create_library("many");
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(sim.var("VMI_VCSIM_CA")).unwrap()).unwrap();
    let http = reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let base = sim.var("VMI_VCSIM_URL");
    let session: serde_json::Value = http
        .post(format!("{base}/rest/com/vmware/cis/session"))
        .basic_auth(
            sim.var("VMI_VCSIM_USERNAME"),
            Some(sim.var("VMI_VCSIM_PASSWORD")),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sid = session["value"].as_str().unwrap().to_string();
    for i in 0..N {
        let body = serde_json::json!({"create_spec": {"library_id": library_id, "name": format!("item-{i:04}"), "type": "ovf"}});
        let resp = http
            .post(format!("{base}/rest/com/vmware/content/library/item"))
            .header("vmware-api-session-id", &sid)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success());
    }
    let client = VsphereClient::new(sim.config()).unwrap();
    let lib = client.library(&library_id);
    let started = Instant::now();
    let items = lib.list_items().await.unwrap();
    let took = started.elapsed();
    assert_eq!(items.len(), N);
    assert_eq!(items[0].name, "item-0000");
    assert_eq!(items[N - 1].name, format!("item-{:04}", N - 1));
    eprintln!("listed {N} vcsim items (2 requests each, 8 in flight) in {took:?}");
}
