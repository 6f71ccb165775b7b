//! Fault injection with special files: named pipes (FIFOs) in a `file://` library, where an
//! `items.json`, an `.ovf` or an `.ova` should be. Opening a FIFO for reading blocks until a
//! writer appears; the operator must refuse it like any other non-regular file and carry on:
//! the good items' images become Ready, the health endpoints keep answering.
//!
//! Runs on a control plane of its own (`target/fault-cluster/fifo`), stopped at the end.

use std::os::unix::fs::OpenOptionsExt;
use std::time::{Duration, Instant};
use vmi_test_support::{
    cluster, converge, fault, fault::FaultCluster, library, library::ItemSpec,
    library::LibraryWriter, operator, wait,
};

#[tokio::test]
async fn named_pipes_in_a_library_do_not_stall_the_operator() {
    let cluster = FaultCluster::start("fifo");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "fault-fifo").await;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("lib");
    let mut lib = LibraryWriter::new(&dir);
    let (href, size) = lib.file("shared/photon.ovf", &library::photon_descriptor());
    let good = lib.ovf_items("good", 20, &href, size);
    // More FIFO items than the operator has runtime threads and listing slots.
    for (i, file) in ["a.ova", "b.ova", "c.ova", "d.ovf", "e.ovf"]
        .iter()
        .enumerate()
    {
        let rel = format!("fifo-{i}/{file}");
        library::mkfifo(&dir.join(&rel));
        lib.item(ItemSpec {
            uuid: uuid::Uuid::new_v4().to_string(),
            name: format!("fifo-{i}"),
            files: vec![(file.to_string(), rel, 1)],
            item_type: "vcsp.ovf".into(),
        });
    }
    lib.write();
    library::create_library(&client, &ns, "fifo", &lib.id, &lib.source()).await;
    let operator = operator::OperatorProcess::start(
        &format!("fault-fifo-{ns}"),
        &kubeconfig,
        fault::OPERATOR_FLAGS,
    );
    operator.wait_ready().await;

    let started = Instant::now();
    let mut unanswered = 0;
    loop {
        // The health server shares the operator's runtime: it must keep answering.
        let health = tokio::time::timeout(Duration::from_secs(2), operator.get("/healthz")).await;
        if !matches!(health, Ok(Some((200, _)))) {
            unanswered += 1;
        }
        let ready = converge::snapshot_of(&client, &ns, "fifo")
            .await
            .map(|s| {
                good.iter()
                    .filter(|u| {
                        let name = vmi_operator::vmi_id::vmi_id(u).unwrap();
                        s.images.get(&name).is_some_and(|i| i.ready == "True")
                    })
                    .count()
            })
            .unwrap_or(0);
        if ready == good.len() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {ready} of {} good images Ready after 60s; /healthz unanswered {unanswered} \
             times",
            good.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(unanswered, 0, "/healthz stopped answering");
    wait::wait_until(Duration::from_secs(30), "the library is Ready", || async {
        converge::library_ready(&client, &ns, "fifo")
            .await
            .is_some_and(|c| c.0 == "True")
    })
    .await;
    // Let blocked readers go before the operator stops.
    for (i, file) in ["a.ova", "b.ova", "c.ova", "d.ovf", "e.ovf"]
        .iter()
        .enumerate()
    {
        let _ = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(0o4000) // O_NONBLOCK: fails at once when nobody reads
            .open(dir.join(format!("fifo-{i}/{file}")));
    }
    drop(operator);
    drop(cluster);
}
