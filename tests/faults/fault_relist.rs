//! Fault injection, the deterministic form of what tests/fault_apiserver.rs hits by chance: the
//! apiserver restarts while the library gains items, so the image controller's item watcher
//! resumes from a resourceVersion the new apiserver no longer has (410 Gone) and lists again.
//! Items created while it was away arrive as `InitApply` events: they must get their images like
//! any other new item. More items than one list page (the watcher lists 500 at a time), so the
//! controller runs reconciles between two pages, before the store holds the new list.
//!
//! Runs on a control plane of its own (`target/fault-cluster/relist`), stopped at the end.

use std::time::{Duration, Instant};
use vmi_test_support::{
    cluster, converge, fault, fault::Component, fault::FaultCluster, library,
    library::LibraryWriter, operator,
};

#[tokio::test]
async fn items_created_while_the_watch_is_away_get_images() {
    let cluster = FaultCluster::start("relist");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let started = Instant::now();
    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "fault-relist").await;
    let dir = tempfile::tempdir().unwrap();
    let mut library = LibraryWriter::new(dir.path());
    let (href, size) = library.file("shared/photon.ovf", &library::photon_descriptor());
    let mut uuids = library.ovf_items("first", 10, &href, size);
    library.write();
    library::create_library(&client, &ns, "lib", &library.id, &library.source()).await;
    let mut operator = operator::OperatorProcess::start(
        &format!("fault-relist-{ns}"),
        &kubeconfig,
        fault::OPERATOR_FLAGS,
    );
    operator.wait_ready().await;
    converge::wait_converged(&client, &ns, &uuids, Duration::from_secs(60)).await;

    // The apiserver goes away long enough for the watchers to back off for several seconds;
    // meanwhile the library gains 600 items, which the sync writes as soon as the apiserver is
    // back, before the image controller's watcher tries again.
    let argv = cluster.kill(Component::KubeApiserver);
    uuids.extend(library.ovf_items("second", 600, &href, size));
    library.write();
    std::thread::sleep(Duration::from_secs(15));
    cluster.restart(Component::KubeApiserver, &argv);

    let took = converge::wait_converged(&client, &ns, &uuids, Duration::from_secs(150)).await;
    eprintln!("610 images Ready {took:?} after the apiserver came back");
    let not_found = operator
        .logs()
        .matches("that was not found in local store")
        .count();
    // Nothing was deleted: a reconcile that finds no object in the store lost its trigger (the
    // images above only came because the sync happened to rewrite those items afterwards).
    assert_eq!(
        not_found, 0,
        "{not_found} reconciles ran before their item was in the store and were dropped"
    );
    let status = operator.terminate();
    assert!(status.success(), "operator exit status {status}");
    eprintln!("test took {:?}", started.elapsed());
    drop(cluster);
}
