//! Fault injection on the operator: `kill -9` while it syncs a library of 1,000 items (once while
//! the sync writes items, once while the image controller writes images), then a new process.
//! Afterwards the namespace holds exactly 1,000 items and 1,000 Ready images, named by the VMI
//! IDs of the item UUIDs, and two more sync rounds change nothing.
//!
//! Runs on a control plane of its own (`target/fault-cluster/operator`), stopped at the end: an
//! operator of another test would otherwise reconcile this library too.

use std::time::{Duration, Instant};
use vmi_test_support::{
    cluster, converge, fault, fault::FaultCluster, library, library::LibraryWriter, operator,
};

const ITEMS: usize = 1000;

#[tokio::test]
async fn a_1000_item_sync_survives_kill_9_of_the_operator() {
    let cluster = FaultCluster::start("operator");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let started = Instant::now();
    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "fault-operator").await;

    let dir = tempfile::tempdir().unwrap();
    let mut library = LibraryWriter::new(dir.path());
    let descriptor = library::photon_descriptor();
    let (href, size) = library.file("shared/photon.ovf", &descriptor);
    let uuids = library.ovf_items("template", ITEMS, &href, size);
    library.write();
    library::create_library(&client, &ns, "big", &library.id, &library.source()).await;

    let start = |n: u32| {
        operator::OperatorProcess::start(
            &format!("fault-operator-{n}-{ns}"),
            &kubeconfig,
            fault::OPERATOR_FLAGS,
        )
    };

    // 1. Killed while the sync writes items.
    let mut first = start(1);
    first.wait_ready().await;
    let at_kill = converge::wait_counts(
        &client,
        &ns,
        "the sync to write items",
        Duration::from_secs(60),
        |items, _| items >= 50,
    )
    .await;
    first.kill();
    eprintln!("operator 1 killed at (items, images) = {at_kill:?}");
    let (items, images) = converge::counts(&client, &ns).await.unwrap();
    assert!(
        items < ITEMS || images < ITEMS,
        "the first operator finished before it was killed ({items} items, {images} images)"
    );

    // 2. Killed while the image controller writes images.
    let mut second = start(2);
    second.wait_ready().await;
    let at_kill = converge::wait_counts(
        &client,
        &ns,
        "the image controller to write more images",
        Duration::from_secs(90),
        |_, i| i >= (images + 100).min(ITEMS - 100),
    )
    .await;
    second.kill();
    eprintln!("operator 2 killed at (items, images) = {at_kill:?}");
    let snap = converge::snapshot(&client, &ns).await.unwrap();
    assert!(
        converge::difference(&snap, &uuids).is_some(),
        "the second operator finished before it was killed"
    );

    // 3. A third process finishes the job.
    let mut third = start(3);
    third.wait_ready().await;
    let took = converge::wait_converged(&client, &ns, &uuids, Duration::from_secs(120)).await;
    eprintln!("converged {took:?} after the third operator became ready");

    let before = converge::snapshot(&client, &ns).await.expect("snapshot");
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = converge::snapshot(&client, &ns).await.expect("snapshot");
    assert_eq!(converge::difference(&after, &uuids), None);
    assert_eq!(before.item_uids, after.item_uids, "items were recreated");
    assert_eq!(
        before.images, after.images,
        "images changed after convergence"
    );

    let status = third.terminate();
    assert!(status.success(), "operator exit status {status}");
    eprintln!("test took {:?}", started.elapsed());
    drop(cluster);
}
