//! The bad-input sweep through the running operator (under its installed RBAC, on a control plane
//! of this test's own): each kind of bad input ends as a clear error on the resource it
//! concerns (a condition reason and message, or a Warning event), and nothing else changes.
//!
//! - Items with bad content (hostile or malformed OVF descriptors and OVAs, missing or refused
//!   files, manifest mismatches) in a library of good ones: each bad item's image is not Ready
//!   and says why; the good images are Ready; the library is Ready.
//! - Library resources that cannot be read (a source that is no URL, an unsupported scheme, a
//!   folder that does not exist, a source serving another library) and an item resource whose
//!   UUID is malformed: a condition reason and message, or a Warning event; no image is made.
//! - A library that was synced turns bad (documents that are not JSON, of the wrong types,
//!   missing, too large, hrefs leaving the folder, another library's id): its Ready condition
//!   goes False with the reason, every item and image stays as it was (same UIDs, still Ready),
//!   and it recovers when the documents are good again.
//!
//! The entry points one by one, without a cluster, are in tests/bad_input_sweep.rs.

use std::path::Path;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, PostParams};
use serde_json::Value;
use vmi_operator::api::ContentLibrary;
use vmi_test_support::{
    archive::sha1_line, archive::tar, cluster, converge, converge::Snapshot, fault,
    fault::FaultCluster, kubectl, library, library::ItemSpec, library::LibraryWriter, operator,
    yaml,
};

const LIB_UUID: &str = "5d6f1e2a-0b3c-4d5e-8f90-a1b2c3d4e5f6";
const WAIT: Duration = Duration::from_secs(60);

/// A bad item: its name, files (name, content), and what its image's Ready condition must say.
struct BadItem {
    name: &'static str,
    files: Vec<(&'static str, Vec<u8>)>,
    reason: &'static str,
    message: &'static str,
}

fn bad_items(photon: &str) -> Vec<BadItem> {
    let ns = r#"xmlns="http://schemas.dmtf.org/ovf/envelope/1""#;
    let small = format!("<Envelope {ns}/>").into_bytes();
    let deep = format!(
        "<Envelope {ns}>{}{}</Envelope>",
        "<a>".repeat(50_000),
        "</a>".repeat(50_000)
    );
    let xxe = format!(
        "<!DOCTYPE Envelope [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\
         <Envelope {ns}>&x;</Envelope>"
    );
    let mut entities = String::from("<!ENTITY l0 \"lol\">");
    for i in 1..10 {
        let refs = format!("&l{};", i - 1).repeat(10);
        entities.push_str(&format!("<!ENTITY l{i} \"{refs}\">"));
    }
    let laughs = format!("<!DOCTYPE Envelope [{entities}]><Envelope {ns}>&l9;</Envelope>");
    let wrong_mf = sha1_line("a.ovf", b"other").into_bytes();
    let mismatch_ova = tar(&[("a.ovf", &small), ("a.mf", &wrong_mf)]);
    let furlong = photon.replace("byte * 2^30", "furlong * 2^30");
    let not_synced = "VirtualMachineImageNotSynced";
    let bad = |name, files: Vec<(&'static str, Vec<u8>)>, reason, message| BadItem {
        name,
        files,
        reason,
        message,
    };
    vec![
        bad(
            "not-xml",
            vec![("a.ovf", b"this is not XML".to_vec())],
            not_synced,
            "is not well-formed XML",
        ),
        bad(
            "xxe",
            vec![("a.ovf", xxe.into_bytes())],
            not_synced,
            "DTDs are refused",
        ),
        bad(
            "billion-laughs",
            vec![("a.ovf", laughs.into_bytes())],
            not_synced,
            "DTDs are refused",
        ),
        bad(
            "deep",
            vec![("a.ovf", deep.into_bytes())],
            not_synced,
            "deeper than 256 levels",
        ),
        bad(
            "furlong",
            vec![("a.ovf", furlong.into_bytes())],
            not_synced,
            "unknown capacity allocation units",
        ),
        bad(
            "binary",
            vec![("a.ovf", (0u8..=255).collect())],
            not_synced,
            "not valid UTF-8",
        ),
        bad(
            "dotdot-ova",
            vec![("a.ova", tar(&[("../evil.ovf", &small)]))],
            not_synced,
            "OVA member name \"../evil.ovf\" is refused",
        ),
        bad(
            "mismatch-ova",
            vec![("a.ova", mismatch_ova)],
            not_synced,
            "is not security compliant",
        ),
        bad(
            "mismatch-mf",
            vec![("a.ovf", photon.as_bytes().to_vec()), ("a.mf", wrong_mf)],
            "VirtualMachineImageProviderSecurityNotCompliant",
            "a.ovf does not match its manifest",
        ),
        bad(
            "not-a-tar",
            vec![("a.ova", photon.as_bytes().to_vec())],
            not_synced,
            "not a readable tar stream",
        ),
        bad(
            "no-files",
            vec![],
            not_synced,
            "no .ovf or .ova file among []",
        ),
    ]
}

async fn snapshot(client: &Client, ns: &str, library: &str) -> Snapshot {
    for _ in 0..50 {
        if let Some(s) = converge::snapshot_of(client, ns, library).await {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("cannot list items and images of {ns}");
}

fn image_by_display<'a>(snap: &'a Snapshot, display: &str) -> Option<&'a converge::ImageState> {
    snap.images.values().find(|i| i.display_name == display)
}

/// Waits until the library's Ready condition has this status, its reason this value and its
/// message contains `message`; returns the condition.
async fn wait_library(
    client: &Client,
    ns: &str,
    name: &str,
    want: (&str, &str, &str),
) -> (String, String, String) {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < WAIT {
        last = converge::library_ready(client, ns, name).await;
        if let Some((s, r, m)) = &last
            && s == want.0
            && r == want.1
            && m.contains(want.2)
        {
            return last.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("library {ns}/{name}: want Ready {want:?}, last {last:?}");
}

/// Items with bad content among good ones.
async fn bad_items_among_good_ones(client: &Client, ns: &str, dir: &Path) {
    let photon = String::from_utf8(library::photon_descriptor()).unwrap();
    let mut lib = LibraryWriter::new(dir);
    let mut good = Vec::new();
    let photon_uuid = uuid::Uuid::new_v4().to_string();
    let (href, size) = lib.file("photon/photon.ovf", photon.as_bytes());
    lib.item(ItemSpec {
        uuid: photon_uuid.clone(),
        name: "photon".into(),
        files: vec![("photon.ovf".into(), href, size)],
        item_type: "vcsp.ovf".into(),
    });
    good.push("photon");
    let tty = std::fs::read(library::fixture("extra/ttylinux-pc_i486-16.1.ova")).unwrap();
    let (href, size) = lib.file("ttylinux/ttylinux.ova", &tty);
    lib.item(ItemSpec {
        uuid: uuid::Uuid::new_v4().to_string(),
        name: "ttylinux".into(),
        files: vec![("ttylinux.ova".into(), href, size)],
        item_type: "vcsp.ovf".into(),
    });
    good.push("ttylinux");
    let (href, size) = lib.file("iso/boot.iso", b"an ISO image");
    lib.item(ItemSpec {
        uuid: uuid::Uuid::new_v4().to_string(),
        name: "iso".into(),
        files: vec![("boot.iso".into(), href, size)],
        item_type: "vcsp.iso".into(),
    });
    good.push("iso");

    let bad = bad_items(&photon);
    let mut special: Vec<(&str, &str)> = Vec::new();
    for item in &bad {
        let files = item
            .files
            .iter()
            .map(|(name, bytes)| {
                let (href, size) = lib.file(&format!("{}/{name}", item.name), bytes);
                (name.to_string(), href, size)
            })
            .collect();
        lib.item(ItemSpec {
            uuid: uuid::Uuid::new_v4().to_string(),
            name: item.name.into(),
            files,
            item_type: "vcsp.ovf".into(),
        });
    }
    // Files that are missing, too large, a directory, or a symlink to a secret outside.
    let outside = dir.parent().unwrap().join(format!(
        "{}-outside",
        dir.file_name().unwrap().to_str().unwrap()
    ));
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.ovf"), "root:x:0:0:secret").unwrap();
    std::fs::create_dir_all(dir.join("huge")).unwrap();
    std::fs::File::create(dir.join("huge/a.ovf"))
        .unwrap()
        .set_len((32 << 20) + 1)
        .unwrap();
    std::fs::create_dir_all(dir.join("dir/a.ovf")).unwrap();
    std::fs::create_dir_all(dir.join("symlink-out")).unwrap();
    std::os::unix::fs::symlink(outside.join("secret.ovf"), dir.join("symlink-out/a.ovf")).unwrap();
    for (name, message) in [
        ("missing", "is listed but"),
        ("huge", "larger than the limit of 33554432 bytes"),
        ("dir", "is not a regular file"),
        ("symlink-out", "resolves outside the library directory"),
    ] {
        lib.item(ItemSpec {
            uuid: uuid::Uuid::new_v4().to_string(),
            name: name.into(),
            files: vec![("a.ovf".into(), format!("{name}/a.ovf"), 1)],
            item_type: "vcsp.ovf".into(),
        });
        special.push((name, message));
    }
    // Listed items that make no item resource: another type, a malformed id. (A duplicate id is
    // in tests/bad_input_sweep.rs: today it takes the first item's files away.)
    for (uuid, name, item_type) in [
        (uuid::Uuid::new_v4().to_string(), "vm-template", "vcsp.vmtx"),
        ("not-a-uuid".to_string(), "bad-uuid", "vcsp.ovf"),
    ] {
        lib.item(ItemSpec {
            uuid,
            name: name.into(),
            files: vec![],
            item_type: item_type.into(),
        });
    }
    lib.write();
    library::create_library(client, ns, "items", &lib.id, &lib.source()).await;

    let expected = good.len() + bad.len() + special.len();
    let started = Instant::now();
    let snap = loop {
        let snap = snapshot(client, ns, "items").await;
        let settled = snap.images.len() == expected
            && snap.images.values().all(|i| !i.ready.is_empty())
            && good
                .iter()
                .all(|g| image_by_display(&snap, g).is_some_and(|i| i.ready == "True"));
        if settled {
            break snap;
        }
        assert!(
            started.elapsed() < WAIT,
            "items library: want {expected} images, each with a Ready condition, the good ones \
             True; have {:#?}",
            snap.images
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    eprintln!("items library settled in {:?}", started.elapsed());
    assert_eq!(
        snap.items.len(),
        expected,
        "one item per listed OVF/ISO item: {:?}",
        snap.items
    );
    let mut failures = Vec::new();
    let wanted = bad.iter().map(|b| (b.name, b.reason, b.message)).chain(
        special
            .iter()
            .map(|(n, m)| (*n, "VirtualMachineImageNotSynced", *m)),
    );
    for (name, reason, message) in wanted {
        match image_by_display(&snap, name) {
            None => failures.push(format!("{name}: no image")),
            Some(i) if i.ready != "False" || i.reason != reason || !i.message.contains(message) => {
                failures.push(format!(
                    "{name}: Ready={} {} {:?}; want False {reason} containing {message:?}",
                    i.ready, i.reason, i.message
                ))
            }
            Some(i) if i.message.contains("root:") => failures.push(format!(
                "{name}: the message shows the secret: {}",
                i.message
            )),
            Some(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for skipped in ["vm-template", "bad-uuid"] {
        assert!(
            image_by_display(&snap, skipped).is_none(),
            "{skipped} got an image"
        );
    }
    let (status, reason, message) = wait_library(client, ns, "items", ("True", "Synced", "")).await;
    eprintln!("items library: Ready={status} {reason} {message:?}");
    assert!(
        message.contains("2 items are not synced")
            && message.contains("\"vm-template\": type")
            && message.contains("\"bad-uuid\""),
        "{message}"
    );
}

/// Library and item resources that cannot be used.
async fn bad_resources(client: &Client, ns: &str, good_source: &str, good_id: &str) {
    // Sources the CRD's schema refuses: the apiserver says why, nothing is stored.
    let libraries: Api<ContentLibrary> = Api::namespaced(client.clone(), ns);
    for (name, source) in [("no-url", "not a URL"), ("ftp", "ftp://127.0.0.1/lib.json")] {
        let lib: ContentLibrary = serde_json::from_value(serde_json::json!({
            "apiVersion": "imageregistry.vmware.com/v1alpha2", "kind": "ContentLibrary",
            "metadata": { "name": name }, "spec": { "id": LIB_UUID, "source": source }
        }))
        .unwrap();
        match libraries.create(&PostParams::default(), &lib).await {
            Err(kube::Error::Api(s)) if s.code == 422 && s.message.contains("spec.source") => {}
            other => panic!("ContentLibrary with spec.source {source:?}: {other:?}"),
        }
        assert!(libraries.get_opt(name).await.unwrap().is_none());
    }
    let missing = format!("file:///nonexistent-{ns}/lib.json");
    let other_id = uuid::Uuid::new_v4().to_string();
    let cases = [
        (
            "no-host",
            other_id.as_str(),
            "http://",
            "SourceMisconfigured",
            "is not a URL: empty host",
        ),
        (
            "relative-file",
            other_id.as_str(),
            "file://relative/lib.json",
            "SourceMisconfigured",
            "is not a local path",
        ),
        (
            "nowhere",
            other_id.as_str(),
            missing.as_str(),
            "LibraryNotFound",
            "not found in its source",
        ),
        (
            "other-library",
            other_id.as_str(),
            good_source,
            "LibraryMismatch",
            good_id,
        ),
    ];
    for (name, uuid, source, _, _) in &cases {
        library::create_library(client, ns, name, uuid, source).await;
    }
    yaml::apply_yaml(
        client,
        ns,
        "apiVersion: imageregistry.vmware.com/v1alpha2\nkind: ContentLibraryItem\n\
         metadata: { name: clitem-handmade }\nspec: { id: not-a-uuid, libraryName: nowhere }\n",
    )
    .await;
    for (name, _, _, reason, message) in &cases {
        let (_, _, text) = wait_library(client, ns, name, ("False", reason, message)).await;
        assert!(
            !text.contains(good_source) || *name == "other-library",
            "{text}"
        );
    }
    // The hand-made item: a Warning event, no image.
    let started = Instant::now();
    loop {
        let events: Value = serde_json::from_str(&kubectl::kubectl_ok(&[
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            "involvedObject.name=clitem-handmade",
            "-o",
            "json",
        ]))
        .unwrap();
        let found = events["items"].as_array().into_iter().flatten().any(|e| {
            e["reason"] == "InvalidItemUUID"
                && e["type"] == "Warning"
                && e["message"].as_str().is_some_and(|m| {
                    m.contains("\"not-a-uuid\" is not a content library item UUID")
                })
        });
        if found {
            break;
        }
        assert!(
            started.elapsed() < WAIT,
            "no InvalidItemUUID event for clitem-handmade: {events}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// One way a synced library's documents turn bad: given the library folder, a folder beside
/// it, and the good `lib.json` and `items.json`.
type Break = fn(&Path, &Path, &Value, &Value);

fn breakages() -> Vec<(&'static str, Break, &'static str, &'static str)> {
    fn put(dir: &Path, name: &str, doc: &Value) {
        std::fs::write(dir.join(name), serde_json::to_vec(doc).unwrap()).unwrap();
    }
    vec![
        (
            "lib.json not JSON",
            |d, _, _, _| std::fs::write(d.join("lib.json"), "<html>502</html>").unwrap(),
            "SourceInvalidResponse",
            "lib.json at file://",
        ),
        (
            "items.json cut short",
            |d, _, _, items| {
                let text = serde_json::to_vec(items).unwrap();
                std::fs::write(d.join("items.json"), &text[..text.len() / 2]).unwrap();
            },
            "SourceInvalidResponse",
            "EOF while parsing",
        ),
        (
            "items.json of wrong types",
            |d, _, _, _| std::fs::write(d.join("items.json"), r#"{"items": {"a": 1}}"#).unwrap(),
            "SourceInvalidResponse",
            "invalid type",
        ),
        (
            "items.json missing",
            |d, _, _, _| std::fs::remove_file(d.join("items.json")).unwrap(),
            "SourceInvalidResponse",
            "does not exist",
        ),
        (
            "items.json a directory",
            |d, _, _, _| {
                std::fs::remove_file(d.join("items.json")).unwrap();
                std::fs::create_dir(d.join("items.json")).unwrap();
            },
            "SourceInvalidResponse",
            "is not a regular file",
        ),
        (
            "items.json over the limit",
            |d, _, _, _| {
                std::fs::File::create(d.join("items.json"))
                    .unwrap()
                    .set_len((256 << 20) + 1)
                    .unwrap();
            },
            "SourceTooLarge",
            "larger than the limit of 268435456 bytes",
        ),
        (
            "itemsHref with ..",
            |d, o, lib, _| {
                let mut lib = lib.clone();
                lib["itemsHref"] =
                    format!("../{}/items.json", o.file_name().unwrap().to_str().unwrap()).into();
                put(d, "lib.json", &lib);
            },
            "SourceInvalidResponse",
            "`..` leaves the library",
        ),
        (
            "itemsHref absolute",
            |d, o, lib, _| {
                let mut lib = lib.clone();
                lib["itemsHref"] = o.join("items.json").to_str().unwrap().into();
                put(d, "lib.json", &lib);
            },
            "SourceInvalidResponse",
            "absolute hrefs are not followed",
        ),
        (
            "items.json a symlink out",
            |d, o, _, _| {
                std::fs::remove_file(d.join("items.json")).unwrap();
                std::os::unix::fs::symlink(o.join("items.json"), d.join("items.json")).unwrap();
            },
            "SourceInvalidResponse",
            "resolves outside the library directory",
        ),
        (
            "a file href with ..",
            |d, _, _, items| {
                let mut items = items.clone();
                items["items"][1]["files"][0]["hrefs"] = serde_json::json!(["../../../etc/passwd"]);
                put(d, "items.json", &items);
            },
            "SourceInvalidResponse",
            "`..` leaves the library",
        ),
        (
            "another library's id",
            |d, _, lib, _| {
                let mut lib = lib.clone();
                lib["id"] = format!("urn:uuid:{}", uuid::Uuid::new_v4()).into();
                put(d, "lib.json", &lib);
            },
            "LibraryMismatch",
            "(spec.id)",
        ),
    ]
}

/// A synced library whose documents turn bad (one library per way, all at once): Ready goes
/// False with the reason, its items and images stay as they were, and it recovers.
async fn synced_libraries_turn_bad(client: &Client, ns: &str, root: &Path) {
    let cases = breakages();
    let checks =
        cases
            .into_iter()
            .enumerate()
            .map(|(i, (case, break_it, reason, message))| async move {
                let name = format!("flip-{i}");
                let dir = root.join(&name);
                let mut lib = LibraryWriter::new(&dir);
                let descriptor = library::photon_descriptor();
                let (href, size) = lib.file("shared/photon.ovf", &descriptor);
                let uuids = lib.ovf_items(&name, 3, &href, size);
                lib.write();
                library::create_library(client, ns, &name, &lib.id, &lib.source()).await;
                converge::wait_converged_for(client, ns, &name, &uuids, WAIT).await;
                let good = snapshot(client, ns, &name).await;
                let lib_json: Value =
                    serde_json::from_slice(&std::fs::read(dir.join("lib.json")).unwrap()).unwrap();
                let items_json: Value =
                    serde_json::from_slice(&std::fs::read(dir.join("items.json")).unwrap())
                        .unwrap();
                let outside = root.join(format!("{name}-outside"));
                std::fs::create_dir_all(&outside).unwrap();
                std::fs::write(
                    outside.join("items.json"),
                    serde_json::to_vec(&items_json).unwrap(),
                )
                .unwrap();

                let started = Instant::now();
                break_it(&dir, &outside, &lib_json, &items_json);
                let (_, _, text) =
                    wait_library(client, ns, &name, ("False", reason, message)).await;
                // More sync rounds with the bad documents.
                tokio::time::sleep(Duration::from_secs(4)).await;
                let now = snapshot(client, ns, &name).await;
                assert_eq!(now.item_uids, good.item_uids, "{case}: items changed");
                assert_eq!(now.images, good.images, "{case}: images changed");
                assert!(!text.contains("root:"), "{case}: {text}");

                let _ = std::fs::remove_file(dir.join("items.json"));
                let _ = std::fs::remove_dir(dir.join("items.json"));
                std::fs::write(
                    dir.join("items.json"),
                    serde_json::to_vec(&items_json).unwrap(),
                )
                .unwrap();
                std::fs::write(dir.join("lib.json"), serde_json::to_vec(&lib_json).unwrap())
                    .unwrap();
                wait_library(client, ns, &name, ("True", "Synced", "")).await;
                let now = snapshot(client, ns, &name).await;
                assert_eq!(
                    now.item_uids, good.item_uids,
                    "{case}: items changed after recovery"
                );
                assert_eq!(
                    now.images, good.images,
                    "{case}: images changed after recovery"
                );
                eprintln!(
                    "{case}: {reason}, recovered ({:?}): {text}",
                    started.elapsed()
                );
            });
    futures::future::join_all(checks).await;
}

#[tokio::test]
async fn the_operator_reports_each_bad_input_on_its_resource() {
    let cluster = FaultCluster::start("bad-input");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let started = Instant::now();
    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "bad-input").await;
    let root = tempfile::tempdir().unwrap();
    let mut operator = operator::OperatorProcess::start(
        &format!("bad-input-{ns}"),
        &kubeconfig,
        fault::OPERATOR_FLAGS,
    );
    operator.wait_ready().await;

    let items_dir = root.path().join("items");
    let flip = synced_libraries_turn_bad(&client, &ns, root.path());
    let items = async {
        bad_items_among_good_ones(&client, &ns, &items_dir).await;
        let lib: Value =
            serde_json::from_slice(&std::fs::read(items_dir.join("lib.json")).unwrap()).unwrap();
        let id = lib["id"]
            .as_str()
            .unwrap()
            .trim_start_matches("urn:uuid:")
            .to_string();
        let source = format!("file://{}/lib.json", items_dir.display());
        bad_resources(&client, &ns, &source, &id).await;
    };
    tokio::join!(flip, items);

    assert!(
        operator.child.try_wait().expect("wait").is_none(),
        "the operator exited; log:\n{}",
        operator.logs()
    );
    let status = operator.terminate();
    assert!(status.success(), "operator exit status {status}");
    eprintln!("test took {:?}", started.elapsed());
    drop(cluster);
}
