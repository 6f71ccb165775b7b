//! Fault injection on the control plane: while the operator syncs a library of 1,000 items, the
//! kube-apiserver and then etcd are SIGKILLed and started again. Afterwards the namespace holds
//! exactly 1,000 items and 1,000 Ready images, named by the VMI IDs of the item UUIDs: none
//! missing, none extra, and they stay that way (no delete-and-recreate churn).
//!
//! Runs on a control plane of its own (`target/fault-cluster/apiserver`), stopped at the end.

use std::time::{Duration, Instant};
use vmi_test_support::{
    cluster, converge, fault, fault::Component, fault::FaultCluster, library,
    library::LibraryWriter, operator,
};

const ITEMS: usize = 1000;
/// How long an outage lasts: longer than the operator's 2 s sync interval and its first backoffs.
const OUTAGE: Duration = Duration::from_secs(4);

#[tokio::test]
async fn a_1000_item_sync_survives_apiserver_and_etcd_kills() {
    let cluster = FaultCluster::start("apiserver");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let started = Instant::now();
    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "fault-apiserver").await;

    let dir = tempfile::tempdir().unwrap();
    let written = Instant::now();
    let mut library = LibraryWriter::new(dir.path());
    let descriptor = library::photon_descriptor();
    let (href, size) = library.file("shared/photon.ovf", &descriptor);
    let uuids = library.ovf_items("template", ITEMS, &href, size);
    library.write();
    eprintln!(
        "library of {ITEMS} items written in {:?}",
        written.elapsed()
    );
    library::create_library(&client, &ns, "big", &library.id, &library.source()).await;

    let operator = operator::OperatorProcess::start(
        &format!("fault-apiserver-{ns}"),
        &kubeconfig,
        fault::OPERATOR_FLAGS,
    );
    operator.wait_ready().await;
    let sync_started = Instant::now();

    // 1. The apiserver dies while the sync writes items.
    let at_kill = converge::wait_counts(
        &client,
        &ns,
        "the sync to start writing items",
        Duration::from_secs(60),
        |items, _| items >= 50,
    )
    .await;
    let argv = cluster.kill(Component::KubeApiserver);
    eprintln!(
        "kube-apiserver SIGKILLed {:?} into the sync at (items, images) = {at_kill:?}",
        sync_started.elapsed()
    );
    std::thread::sleep(OUTAGE);
    cluster.restart(Component::KubeApiserver, &argv);
    eprintln!("kube-apiserver back");

    // 2. etcd dies while the image controller writes images (the apiserver stays up and fails
    //    every request until etcd is back).
    let at_kill = converge::wait_counts(
        &client,
        &ns,
        "the image controller to write images",
        Duration::from_secs(90),
        |_, images| images >= 50,
    )
    .await;
    let argv = cluster.kill(Component::Etcd);
    eprintln!(
        "etcd SIGKILLed {:?} into the sync at (items, images) = {at_kill:?}",
        sync_started.elapsed()
    );
    std::thread::sleep(OUTAGE);
    cluster.restart(Component::Etcd, &argv);
    cluster.wait_healthy(Component::KubeApiserver, Duration::from_secs(60));
    eprintln!("etcd back");

    // 3. Both at once, whatever the sync is doing by now.
    let etcd = cluster.kill(Component::Etcd);
    let apiserver = cluster.kill(Component::KubeApiserver);
    std::thread::sleep(OUTAGE);
    cluster.restart(Component::Etcd, &etcd);
    cluster.restart(Component::KubeApiserver, &apiserver);
    eprintln!("etcd and kube-apiserver back");

    let took = converge::wait_converged(&client, &ns, &uuids, Duration::from_secs(150)).await;
    eprintln!(
        "converged {took:?} after the last restart, {:?} after the sync started",
        sync_started.elapsed()
    );

    // The end state holds: two more sync rounds change nothing (same objects, same UIDs).
    let before = converge::snapshot(&client, &ns).await.expect("snapshot");
    tokio::time::sleep(Duration::from_secs(6)).await;
    let after = converge::snapshot(&client, &ns).await.expect("snapshot");
    assert_eq!(converge::difference(&after, &uuids), None);
    assert_eq!(before.item_uids, after.item_uids, "items were recreated");
    let uids = |s: &converge::Snapshot| {
        s.images
            .iter()
            .map(|(n, i)| (n.clone(), i.uid.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(uids(&before), uids(&after), "images were recreated");
    let ready = converge::library_ready(&client, &ns, "big").await;
    assert_eq!(
        ready.as_ref().map(|r| r.0.as_str()),
        Some("True"),
        "library: {ready:?}"
    );

    let mut operator = operator;
    assert!(
        operator.child.try_wait().expect("wait").is_none(),
        "the operator exited during the outages; log:\n{}",
        operator.logs()
    );
    let status = operator.terminate();
    assert!(status.success(), "operator exit status {status}");
    eprintln!("test took {:?}", started.elapsed());
    drop(cluster);
}
