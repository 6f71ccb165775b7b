//! Fault injection with malformed input: a stream of bad items (hostile or broken OVF
//! descriptors and OVAs, missing files) interleaved with good ones, plus malformed resources
//! (items with UUIDs that are none, libraries whose source does not exist), must not stall the
//! good ones: their images become Ready in about the time the same number of good items takes
//! alone, every bad image says it is not Ready, and the failing ones retry with backoff instead
//! of keeping the controllers busy.
//!
//! Runs on a control plane of its own (`target/fault-cluster/malformed`), stopped at the end.

use std::time::{Duration, Instant};

use kube::Client;
use vmi_test_support::{
    archive::tar, cluster, converge, fault, fault::FaultCluster, kubectl, library,
    library::ItemSpec, library::LibraryWriter, operator, yaml,
};

const GOOD: usize = 200;
/// Bad items per good one.
const BAD_PER_GOOD: usize = 2;
const WAIT: Duration = Duration::from_secs(120);

/// Kinds of bad content: (folder, file name, bytes). Each is written once; bad items point at
/// them in turn. `None` bytes: the file is listed but does not exist.
fn bad_contents(photon: &str) -> Vec<(&'static str, &'static str, Option<Vec<u8>>)> {
    let ns = r#"xmlns="http://schemas.dmtf.org/ovf/envelope/1""#;
    let small = format!("<Envelope {ns}/>").into_bytes();
    let mut laughs = String::from("<!ENTITY l0 \"lol\">");
    for i in 1..10 {
        let refs = format!("&l{};", i - 1).repeat(10);
        laughs.push_str(&format!("<!ENTITY l{i} \"{refs}\">"));
    }
    let deep = format!(
        "<Envelope {ns}>{}{}</Envelope>",
        "<a>".repeat(20_000),
        "</a>".repeat(20_000)
    );
    vec![
        ("not-xml", "a.ovf", Some(b"\x00\x01 not XML".to_vec())),
        (
            "laughs",
            "a.ovf",
            Some(
                format!("<!DOCTYPE Envelope [{laughs}]><Envelope {ns}>&l9;</Envelope>")
                    .into_bytes(),
            ),
        ),
        ("deep", "a.ovf", Some(deep.into_bytes())),
        (
            "units",
            "a.ovf",
            Some(photon.replace("byte * 2^30", "furlong * 2^30").into_bytes()),
        ),
        ("dotdot", "a.ova", Some(tar(&[("../evil.ovf", &small)]))),
        ("not-tar", "a.ova", Some(photon.as_bytes().to_vec())),
        ("missing", "a.ovf", None),
    ]
}

/// Creates a library of `good` good items (and `bad` bad ones interleaved by name) in `ns`;
/// returns the good items' UUIDs.
async fn library(
    client: &Client,
    ns: &str,
    name: &str,
    dir: &std::path::Path,
    good: usize,
    bad: usize,
) -> Vec<String> {
    let photon = String::from_utf8(library::photon_descriptor()).unwrap();
    let mut lib = LibraryWriter::new(dir);
    let (href, size) = lib.file("shared/photon.ovf", photon.as_bytes());
    let good_uuids = lib.ovf_items("item", good, &href, size);
    let contents = bad_contents(&photon);
    let files: Vec<(String, String, u64)> = contents
        .iter()
        .map(|(folder, file, bytes)| {
            let rel = format!("bad-{folder}/{file}");
            let size = match bytes {
                Some(b) => lib.file(&rel, b).1,
                None => 1,
            };
            (file.to_string(), rel, size)
        })
        .collect();
    for i in 0..bad {
        // Named like the good ones, so the two kinds interleave in every listing and queue.
        lib.item(ItemSpec {
            uuid: uuid::Uuid::new_v4().to_string(),
            name: format!("item-{:04}-bad-{i}", i / BAD_PER_GOOD),
            files: vec![files[i % files.len()].clone()],
            item_type: "vcsp.ovf".into(),
        });
    }
    lib.write();
    library::create_library(client, ns, name, &lib.id, &lib.source()).await;
    good_uuids
}

/// Waits until every good image of `library` is Ready; returns how long it took.
async fn good_ready(client: &Client, ns: &str, library: &str, good: &[String]) -> Duration {
    let wanted: std::collections::BTreeSet<String> = good
        .iter()
        .map(|u| vmi_operator::vmi_id::vmi_id(u).unwrap())
        .collect();
    let started = Instant::now();
    let mut last = 0;
    while started.elapsed() < WAIT {
        if let Some(snap) = converge::snapshot_of(client, ns, library).await {
            last = snap
                .images
                .iter()
                .filter(|(n, i)| wanted.contains(*n) && i.ready == "True")
                .count();
            if last == wanted.len() {
                return started.elapsed();
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!(
        "{library}: only {last} of {} good images Ready after {WAIT:?}",
        wanted.len()
    );
}

#[tokio::test]
async fn malformed_items_do_not_stall_the_good_ones() {
    let cluster = FaultCluster::start("malformed");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let started = Instant::now();
    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "fault-malformed").await;
    let root = tempfile::tempdir().unwrap();
    let operator = operator::OperatorProcess::start(
        &format!("fault-malformed-{ns}"),
        &kubeconfig,
        fault::OPERATOR_FLAGS,
    );
    operator.wait_ready().await;

    // The baseline: good items alone.
    let baseline = library(
        &client,
        &ns,
        "baseline",
        &root.path().join("baseline"),
        GOOD,
        0,
    )
    .await;
    let alone = good_ready(&client, &ns, "baseline", &baseline).await;
    eprintln!("{GOOD} good items alone: Ready in {alone:?}");

    // Malformed resources that keep failing: items whose UUID is none, libraries whose source
    // does not exist.
    let mut yaml = String::new();
    for i in 0..50 {
        yaml.push_str(&format!(
            "---\napiVersion: imageregistry.vmware.com/v1alpha2\nkind: ContentLibraryItem\n\
             metadata: {{ name: handmade-{i} }}\nspec: {{ id: not-a-uuid-{i}, libraryName: nowhere }}\n"
        ));
    }
    for i in 0..20 {
        yaml.push_str(&format!(
            "---\napiVersion: imageregistry.vmware.com/v1alpha2\nkind: ContentLibrary\n\
             metadata: {{ name: nowhere-{i} }}\n\
             spec: {{ id: \"{}\", source: \"file:///nonexistent-{ns}/{i}/lib.json\" }}\n",
            uuid::Uuid::new_v4()
        ));
    }
    yaml::apply_yaml(&client, &ns, &yaml).await;

    // The same number of good items among twice as many bad ones.
    let bad = GOOD * BAD_PER_GOOD;
    let mixed = library(&client, &ns, "mixed", &root.path().join("mixed"), GOOD, bad).await;
    let among_bad = good_ready(&client, &ns, "mixed", &mixed).await;
    eprintln!("{GOOD} good items among {bad} bad ones: Ready in {among_bad:?}");
    // Three times the items (two bad per good one, each failing as fast as a good one succeeds):
    // about three times as long, with room for a busy machine.
    let bound = (alone * 4).max(alone + Duration::from_secs(30));
    assert!(
        among_bad <= bound,
        "the bad items slowed the good ones down: {among_bad:?}, alone {alone:?}"
    );

    // Every bad image says it is not Ready.
    let settle = Instant::now();
    loop {
        let snap = converge::snapshot_of(&client, &ns, "mixed")
            .await
            .unwrap_or_default();
        let not_ready = snap.images.values().filter(|i| i.ready == "False").count();
        if snap.images.len() == GOOD + bad && not_ready == bad {
            assert!(
                snap.images
                    .values()
                    .filter(|i| i.ready == "False")
                    .all(|i| i.reason == "VirtualMachineImageNotSynced" && !i.message.is_empty()),
                "bad images without a reason"
            );
            break;
        }
        assert!(
            settle.elapsed() < WAIT,
            "{} images, {not_ready} not Ready; want {} and {bad}",
            snap.images.len(),
            GOOD + bad
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "bad images settled {:?} after the good ones",
        settle.elapsed()
    );

    // The failing ones back off: over 10 s, the image controller reconciles far fewer times
    // than once per bad item per second, and writes nothing (their status does not change).
    let (_, before) = operator.get("/metrics").await.expect("metrics");
    tokio::time::sleep(Duration::from_secs(10)).await;
    let (_, after) = operator.get("/metrics").await.expect("metrics");
    let reconciles = |m: &str, controller: &str| -> u64 {
        m.lines()
            .filter(|l| l.starts_with("vmi_operator_reconciles_total{") && l.contains(controller))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    let image_reconciles = reconciles(&after, "image-contentlibraryitem")
        - reconciles(&before, "image-contentlibraryitem");
    eprintln!("image reconciles in 10 s with {bad} failing items: {image_reconciles}");
    assert!(
        image_reconciles < (bad as u64) * 10 / 2,
        "failing items are retried too often: {image_reconciles} reconciles in 10 s"
    );
    let handmade = kubectl::kubectl_ok(&["get", "vmi", "-n", &ns, "-o", "name"]);
    assert_eq!(
        handmade.lines().count(),
        2 * GOOD + bad,
        "the hand-made items got images"
    );

    let mut operator = operator;
    let status = operator.terminate();
    assert!(status.success(), "operator exit status {status}");
    eprintln!("test took {:?}", started.elapsed());
    drop(cluster);
}
