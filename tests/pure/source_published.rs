//! `publish_dir` writes a library of real templates; the published source reads it back from
//! the directory (file://) and over http from a server on loopback, and follows republishing.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use url::Url;
use vmi_operator::publish::{ItemChange, PublishOptions, PublishSummary, publish_dir};
use vmi_operator::source::{ItemInfo, LibrarySource, PublishedSource, SourceError, TlsOptions};
use vmi_test_support::{archive, serve};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/ovf");
const TTY: &str = "ttylinux-pc_i486-16.1";
const VCF: &str = "Vcf-License-Server-9.1.0.0.25262073";

fn fixture(rel: &str) -> PathBuf {
    Path::new(FIXTURES).join(rel)
}

fn photon() -> Vec<u8> {
    std::fs::read(fixture("govmomi/ovf/fixtures/photon5.ovf")).unwrap()
}

/// The descriptor inside an OVA, read with tar directly (not with the code under test).
fn descriptor_in(ova: &Path) -> Vec<u8> {
    archive::descriptor_in(&std::fs::read(ova).unwrap())
}

fn sources(dir: &Path, http: &Url) -> [(&'static str, PublishedSource); 2] {
    let _ = rustls::crypto::ring::default_provider().install_default();
    [
        (
            "file",
            PublishedSource::new(
                Url::from_directory_path(dir).unwrap(),
                TlsOptions::default(),
            )
            .unwrap(),
        ),
        (
            "http",
            PublishedSource::new(http.clone(), TlsOptions::default()).unwrap(),
        ),
    ]
}

fn item<'a>(items: &'a [ItemInfo], name: &str) -> &'a ItemInfo {
    items
        .iter()
        .find(|i| i.name == name)
        .unwrap_or_else(|| panic!("no item {name} in {items:?}"))
}

fn summary_item<'a>(s: &'a PublishSummary, name: &str) -> &'a vmi_operator::publish::PublishedItem {
    s.items.iter().find(|i| i.name == name).unwrap()
}

#[tokio::test]
async fn publishes_reads_back_and_follows_changes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("templates");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("photon5.ovf"), photon()).unwrap();
    std::fs::copy(
        fixture(&format!("extra/{TTY}.ova")),
        dir.join(format!("{TTY}.ova")),
    )
    .unwrap();
    std::fs::write(dir.join("notes.txt"), b"not a template").unwrap();

    let first = publish_dir(
        &dir,
        PublishOptions {
            name: Some("fixtures".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert!(first.changed);
    assert_eq!(first.version, "1");
    assert_eq!(
        first
            .items
            .iter()
            .map(|i| i.name.as_str())
            .collect::<Vec<_>>(),
        ["photon5", TTY]
    );
    assert!(
        first
            .items
            .iter()
            .all(|i| i.change == ItemChange::Added && i.content_version == "1")
    );
    assert_eq!(summary_item(&first, TTY).files, [format!("{TTY}.ova")]);
    // photon5.ovf references a 300 MiB disk the fixture does not ship.
    assert!(
        first
            .warnings
            .iter()
            .any(|w| w.contains("photon-ova-disk1.vmdk")),
        "{:?}",
        first.warnings
    );
    assert!(dir.join("photon5/item.json").is_file() && dir.join("photon5/photon5.ovf").is_file());

    let http = serve::serve_dir(dir.clone()).await;
    for (how, source) in sources(&dir, &http) {
        let lib = source.library().await.unwrap();
        assert_eq!(lib.id, first.library_id, "{how}");
        assert_eq!(
            (lib.name.as_str(), lib.version.as_str()),
            ("fixtures", "1"),
            "{how}"
        );
        let items = source.list_items().await.unwrap();
        assert_eq!(items.len(), 2, "{how}");
        let p = item(&items, "photon5");
        assert_eq!(p.id, summary_item(&first, "photon5").id, "{how}");
        assert_eq!(
            (p.item_type.as_str(), p.content_version.as_str()),
            ("Ovf", "1"),
            "{how}"
        );
        assert_eq!(p.files.len(), 1);
        assert_eq!(p.size, photon().len() as u64);
        assert!(p.security_compliance && p.creation_time.is_some(), "{how}");
        assert_eq!(source.fetch_ovf(p).await.unwrap(), photon(), "{how}");
        let t = item(&items, TTY);
        assert_eq!(t.id, summary_item(&first, TTY).id);
        assert_eq!(
            source.fetch_ovf(t).await.unwrap(),
            descriptor_in(&fixture(&format!("extra/{TTY}.ova"))),
            "{how}"
        );
        assert_eq!(source.item(&p.id).await.unwrap(), *p, "{how}");
        let err = source
            .item("00000000-0000-4000-8000-000000000000")
            .await
            .unwrap_err();
        assert!(matches!(err, SourceError::ItemNotFound(_)), "{how}: {err}");
    }

    // Nothing changed: nothing moves.
    let again = publish_dir(&dir, PublishOptions::default()).unwrap();
    assert!(!again.changed);
    assert_eq!(
        (again.version.as_str(), again.name.as_str()),
        ("1", "fixtures")
    );
    assert_eq!(again.library_id, first.library_id);
    assert!(
        again
            .items
            .iter()
            .all(|i| i.change == ItemChange::Unchanged && i.content_version == "1")
    );

    // Change photon5, add the VCF appliance, drop ttylinux.
    let mut changed = photon();
    changed.extend_from_slice(b"<!-- rebuilt -->\n");
    std::fs::write(dir.join("photon5.ovf.new"), &changed).unwrap();
    std::fs::rename(dir.join("photon5.ovf.new"), dir.join("photon5.ovf")).unwrap();
    std::fs::copy(
        fixture(&format!("extra/{VCF}.ova")),
        dir.join(format!("{VCF}.ova")),
    )
    .unwrap();
    std::fs::remove_file(dir.join(format!("{TTY}.ova"))).unwrap();
    let second = publish_dir(&dir, PublishOptions::default()).unwrap();
    assert!(second.changed);
    assert_eq!(second.version, "2");
    let p = summary_item(&second, "photon5");
    assert_eq!(
        (p.change, p.version.as_str(), p.content_version.as_str()),
        (ItemChange::Changed, "2", "2")
    );
    assert_eq!(
        p.id,
        summary_item(&first, "photon5").id,
        "republishing keeps ids"
    );
    assert_eq!(summary_item(&second, VCF).change, ItemChange::Added);
    assert_eq!(
        second
            .removed
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        [TTY]
    );
    assert!(!dir.join(TTY).exists(), "the removed item's folder is gone");

    for (how, source) in sources(&dir, &http) {
        assert_eq!(source.library().await.unwrap().version, "2", "{how}");
        let items = source.list_items().await.unwrap();
        assert_eq!(
            items.iter().map(|i| i.name.as_str()).collect::<Vec<_>>(),
            [VCF, "photon5"],
            "{how}"
        );
        let p = item(&items, "photon5");
        assert_eq!(p.content_version, "2", "{how}");
        assert_eq!(source.fetch_ovf(p).await.unwrap(), changed, "{how}");
        let v = item(&items, VCF);
        assert_eq!(
            source.fetch_ovf(v).await.unwrap(),
            descriptor_in(&fixture(&format!("extra/{VCF}.ova"))),
            "{how}"
        );
    }
}

#[tokio::test]
async fn a_manifest_mismatch_is_non_compliance() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    std::fs::write(dir.join("photon5.ovf"), photon()).unwrap();
    std::fs::write(
        dir.join("photon5.mf"),
        format!(
            "SHA256(photon5.ovf)= {}\n",
            hex::encode(Sha256::digest(b"x"))
        ),
    )
    .unwrap();
    publish_dir(&dir, PublishOptions::default()).unwrap();
    let http = serve::serve_dir(dir.clone()).await;
    for (how, source) in sources(&dir, &http) {
        let items = source.list_items().await.unwrap();
        let p = item(&items, "photon5");
        assert_eq!(
            p.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
            ["photon5.ovf", "photon5.mf"]
        );
        if how == "file" {
            // Cheap locally: the listing says so already.
            assert!(!p.security_compliance);
            assert!(
                p.security_message
                    .as_deref()
                    .unwrap()
                    .contains("does not match"),
                "{p:?}"
            );
        }
        let err = source.fetch_ovf(p).await.unwrap_err();
        assert!(
            matches!(err, SourceError::NotCompliant { .. }),
            "{how}: {err}"
        );
    }

    std::fs::write(
        dir.join("photon5.mf"),
        format!(
            "SHA256(photon5.ovf)= {}\n",
            hex::encode(Sha256::digest(photon()))
        ),
    )
    .unwrap();
    let summary = publish_dir(&dir, PublishOptions::default()).unwrap();
    assert_eq!(summary.items[0].change, ItemChange::Changed);
    for (how, source) in sources(&dir, &http) {
        let items = source.list_items().await.unwrap();
        assert!(items[0].security_compliance, "{how}");
        assert_eq!(
            source.fetch_ovf(&items[0]).await.unwrap(),
            photon(),
            "{how}"
        );
    }
}

#[test]
fn item_ids_follow_the_library_id_and_file_name() {
    let lib = "aa465152-4ed2-44f5-8fb0-4fac5e03016a";
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    for d in [a.path(), b.path()] {
        std::fs::write(d.join("photon5.ovf"), photon()).unwrap();
    }
    let opts = PublishOptions {
        library_id: Some(lib.into()),
        ..Default::default()
    };
    let sa = publish_dir(a.path(), opts.clone()).unwrap();
    let sb = publish_dir(b.path(), opts).unwrap();
    assert_eq!(sa.library_id, lib);
    assert_eq!(sa.items[0].id, sb.items[0].id);
    assert_eq!(
        sa.items[0].id,
        vmi_operator::publish::item_uuid(lib, "photon5.ovf")
    );
    // An existing library keeps its id: asking for another one is a conflict.
    let other = PublishOptions {
        library_id: Some("5b3d4a5e-0000-4000-8000-000000000001".into()),
        ..Default::default()
    };
    let err = publish_dir(a.path(), other).unwrap_err();
    assert_eq!(err.reason(), "PublishConflict");
}

#[test]
fn refuses_what_it_must_not_touch() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("photon5.ovf"), photon()).unwrap();
    // A folder that is not an item folder of ours sits where the item would go.
    std::fs::create_dir(dir.join("photon5")).unwrap();
    std::fs::write(dir.join("photon5/precious.txt"), b"mine").unwrap();
    let err = publish_dir(dir, PublishOptions::default()).unwrap_err();
    assert_eq!(err.reason(), "PublishConflict", "{err}");
    assert!(dir.join("photon5/precious.txt").exists());
    std::fs::remove_dir_all(dir.join("photon5")).unwrap();

    // Two templates, one item name.
    std::fs::copy(
        fixture(&format!("extra/{TTY}.ova")),
        dir.join("photon5.ova"),
    )
    .unwrap();
    let err = publish_dir(dir, PublishOptions::default()).unwrap_err();
    assert_eq!(err.reason(), "PublishDuplicateName", "{err}");
    std::fs::remove_file(dir.join("photon5.ova")).unwrap();

    // A broken template is an error, not a silently shorter library.
    std::fs::write(dir.join("broken.ovf"), b"<not-an-envelope/>").unwrap();
    let err = publish_dir(dir, PublishOptions::default()).unwrap_err();
    assert_eq!(err.reason(), "PublishInvalidTemplate", "{err}");
    std::fs::remove_file(dir.join("broken.ovf")).unwrap();

    // Broken existing documents are not overwritten.
    std::fs::write(dir.join("lib.json"), b"{").unwrap();
    let err = publish_dir(dir, PublishOptions::default()).unwrap_err();
    assert_eq!(err.reason(), "PublishExistingInvalid", "{err}");
}
