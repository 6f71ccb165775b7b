//! Leader election: two replicas, one reconciles; when it dies (SIGKILL, no lease release) the
//! other takes over within the lease duration.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use vmi_test_support::{cluster, kubectl, library, operator, repo_root, wait, yaml};

fn reconciles(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("vmi_operator_reconciles_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    leases
        .get_opt("vmi-operator-leader")
        .await
        .ok()??
        .spec?
        .holder_identity
}

#[tokio::test]
async fn a_standby_replica_takes_over_when_the_leader_dies() {
    let _alone = operator::one_operator_test();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "ha").await;

    let lib_dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        repo_root().join("tests/data/photon-5.0.ovf"),
        lib_dir.path().join("photon.ovf"),
    )
    .unwrap();
    let lib_id = uuid::Uuid::new_v4().to_string();
    library::publish(lib_dir.path(), &lib_id);
    let source = format!("file://{}/lib.json", lib_dir.path().display());
    yaml::apply_yaml(&client, &ns, &format!(
        "apiVersion: imageregistry.vmware.com/v1alpha2\nkind: ContentLibrary\nmetadata: {{ name: ha, namespace: {ns} }}\nspec: {{ id: \"{lib_id}\", source: \"{source}\" }}\n"
    )).await;

    let flags = |name: &str| -> Vec<String> {
        [
            "--disable-webhook",
            "--sync-interval",
            "2s",
            "--leader-elect",
            "--leader-election-namespace",
            &ns,
            "--lease-duration",
            "6s",
            "--watch-namespace",
            &ns,
            "--instance",
            name,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a_flags = flags("replica-a");
    let b_flags = flags("replica-b");
    let mut a = operator::OperatorProcess::start(
        &format!("ha-a-{ns}"),
        &kubeconfig,
        &a_flags.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    a.wait_ready().await;
    let mut b = operator::OperatorProcess::start(
        &format!("ha-b-{ns}"),
        &kubeconfig,
        &b_flags.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    b.wait_ready().await;

    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    wait::wait_until(Duration::from_secs(60), "a replica holds the lease", || {
        let leases = leases.clone();
        async move { holder(&leases).await.is_some() }
    })
    .await;
    let first = holder(&leases).await.unwrap();
    let (leader, standby) = if first == "replica-a" {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };

    wait::wait_until(
        Duration::from_secs(60),
        "the leader makes the image",
        || {
            let ns = ns.clone();
            async move {
                kubectl::kubectl_ok(&["get", "vmi", "-n", &ns, "-o", "name"])
                    .lines()
                    .count()
                    == 1
            }
        },
    )
    .await;
    let (_, leader_metrics) = leader.get("/metrics").await.unwrap();
    let (_, standby_metrics) = standby.get("/metrics").await.unwrap();
    assert!(reconciles(&leader_metrics) > 0, "the leader reconciles");
    assert_eq!(
        reconciles(&standby_metrics),
        0,
        "the standby does not reconcile:\n{standby_metrics}"
    );

    // The leader dies without releasing its lease.
    leader.kill();
    let killed_at = Instant::now();
    let standby_name = if first == "replica-a" {
        "replica-b"
    } else {
        "replica-a"
    };
    wait::wait_until(
        Duration::from_secs(30),
        "the standby takes the lease",
        || {
            let leases = leases.clone();
            async move { holder(&leases).await.as_deref() == Some(standby_name) }
        },
    )
    .await;
    let takeover = killed_at.elapsed();
    eprintln!("takeover after {takeover:?}");
    assert!(
        takeover < Duration::from_secs(20),
        "takeover took {takeover:?}"
    );

    // And reconciles: a new template shows up as an image.
    std::fs::copy(
        library::fixture("govmomi/ovf/fixtures/photon5.ovf"),
        lib_dir.path().join("photon5.ovf"),
    )
    .unwrap();
    library::publish(lib_dir.path(), &lib_id);
    wait::wait_until(
        Duration::from_secs(60),
        "the new leader makes the new image",
        || {
            let ns = ns.clone();
            async move {
                kubectl::kubectl_ok(&["get", "vmi", "-n", &ns, "-o", "name"])
                    .lines()
                    .count()
                    == 2
            }
        },
    )
    .await;
    let (_, metrics) = standby.get("/metrics").await.unwrap();
    assert!(reconciles(&metrics) > 0, "the new leader reconciles");

    // A clean shutdown releases the lease, and a standby takes it within about a second (its
    // read of the Lease), not when the 6 s lease would have expired.
    let c_flags = flags("replica-c");
    let mut c = operator::OperatorProcess::start(
        &format!("ha-c-{ns}"),
        &kubeconfig,
        &c_flags.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    c.wait_ready().await;
    let status = standby.terminate();
    let stopped_at = Instant::now();
    assert!(status.success());
    wait::wait_until(
        Duration::from_secs(10),
        "the standby takes the released lease",
        || {
            let leases = leases.clone();
            async move { holder(&leases).await.as_deref() == Some("replica-c") }
        },
    )
    .await;
    let handover = stopped_at.elapsed();
    eprintln!("handover after a clean shutdown: {handover:?}");
    assert!(
        handover < Duration::from_secs(3),
        "the released lease was taken after {handover:?}"
    );

    // The last one releases it too.
    assert!(c.terminate().success());
    wait::wait_until(Duration::from_secs(10), "the lease is released", || {
        let leases = leases.clone();
        async move { holder(&leases).await.is_none_or(|h| h.is_empty()) }
    })
    .await;
}
