//! The whole path: the operator binary against the shared control plane, one namespace per
//! test and an operator watching only that namespace.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Event;
use kube::Client;
use kube::api::{Api, ListParams};

use super::policy::fifo_has_reader;
use super::server::{FaultServer, Mode};
use vmi_test_support::converge::{self, Snapshot};
use vmi_test_support::library;
use vmi_test_support::{cluster, operator, serve, wait};

const WAIT: Duration = Duration::from_secs(60);

/// `vmi-operator run` with exactly the given flags (no test defaults), killed when dropped.
struct Operator {
    child: Child,
    log: PathBuf,
    metrics_port: u16,
}

impl Operator {
    fn start(name: &str, kubeconfig: &Path, ns: &str, flags: &[&str]) -> Operator {
        let metrics_port = serve::free_port();
        let log = vmi_test_support::scratch_dir().join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new(operator::operator_bin())
            .args(["run", "--disable-webhook", "--watch-namespace", ns])
            .arg("--metrics-addr")
            .arg(format!("127.0.0.1:{metrics_port}"))
            .args(["--log-level", "info,vmi_operator=debug"])
            .args(flags)
            .env("KUBECONFIG", kubeconfig)
            .env_remove("VMI_VCENTER_URL")
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start vmi-operator");
        Operator {
            child,
            log,
            metrics_port,
        }
    }

    async fn wait_ready(&self) {
        let url = format!("http://127.0.0.1:{}/readyz", self.metrics_port);
        wait::wait_until(WAIT, "operator ready", || async {
            reqwest::get(&url)
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- operator log {} ----\n{}",
                self.log.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

async fn ready(client: &Client, ns: &str, lib: &str) -> Option<(String, String, String)> {
    converge::library_ready(client, ns, lib).await
}

async fn wait_reason(
    client: &Client,
    ns: &str,
    lib: &str,
    status: &str,
    reasons: &[&str],
) -> (String, String, String) {
    wait::wait_for(
        WAIT,
        &format!("{lib} Ready={status} {reasons:?}"),
        || async {
            ready(client, ns, lib).await.filter(|c| {
                c.0 == status && (reasons.is_empty() || reasons.contains(&c.1.as_str()))
            })
        },
    )
    .await
}

async fn warning_reasons(client: &Client, ns: &str, lib: &str) -> Vec<String> {
    let api: Api<Event> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().fields(&format!("involvedObject.name={lib}"));
    api.list(&lp)
        .await
        .map(|l| l.items.into_iter().filter_map(|e| e.reason).collect())
        .unwrap_or_default()
}

/// With the default policy: refused libraries say which rule refused them, with a Warning event
/// of the same reason, and nothing is read (the FIFO never gets a reader, the loopback server
/// never a connection).
#[tokio::test]
async fn refusals_of_the_default_policy_are_conditions_and_events() {
    // Other operator tests of this binary watch every namespace, this one's too.
    let _alone = operator::one_operator_test();
    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "srcpolicy").await;
    let root = tempfile::tempdir().unwrap();
    let fifo = root.path().join("lib.json");
    library::mkfifo(&fifo);
    let served = tempfile::tempdir().unwrap();
    let (lib, _) = super::one_item_library(served.path(), "p");
    let server = FaultServer::start("127.0.0.1:0".parse().unwrap(), served.path()).await;
    let stats = server.stats();
    let cases = [
        (
            "fifo",
            format!("file://{}", fifo.display()),
            "SourceSchemeNotAllowed",
        ),
        (
            "loopback",
            server.url("lib.json"),
            "SourceAddressNotAllowed",
        ),
        (
            "localhost",
            format!("http://localhost:{}/lib.json", server.addr.port()),
            "SourceAddressNotAllowed",
        ),
        (
            "metadata",
            "http://169.254.169.254/latest/lib.json".to_string(),
            "SourceAddressNotAllowed",
        ),
    ];
    for (name, source, _) in &cases {
        library::create_library(&client, &ns, name, &lib.id, source).await;
    }
    let operator = Operator::start(
        &format!("srcpolicy-{ns}"),
        &kubeconfig,
        &ns,
        &["--sync-interval", "2s"],
    );
    operator.wait_ready().await;
    for (name, _, reason) in &cases {
        let c = wait_reason(&client, &ns, name, "False", &[reason]).await;
        eprintln!("{name}: {c:?}");
        wait::wait_until(WAIT, &format!("{name}: a {reason} event"), || async {
            warning_reasons(&client, &ns, name)
                .await
                .iter()
                .any(|r| r == reason)
        })
        .await;
        assert!(!fifo_has_reader(&fifo), "the FIFO was opened");
    }
    // A few more sync rounds: still nothing read.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!fifo_has_reader(&fifo), "the FIFO was opened");
    assert_eq!(
        stats.connections.load(Ordering::SeqCst),
        0,
        "a refused server was contacted"
    );
    let items = converge::counts(&client, &ns).await.unwrap();
    assert_eq!(items, (0, 0), "refused libraries made items");
    drop(operator);
}

async fn snapshot(client: &Client, ns: &str, lib: &str) -> Snapshot {
    wait::wait_for(WAIT, "a snapshot", || {
        converge::snapshot_of(client, ns, lib)
    })
    .await
}

/// Faults of the sources of synced libraries: no item or image is deleted or recreated, the
/// library says why within the timeouts, and it recovers when the source does. A library whose
/// listing takes longer than its sync interval is listed by one sync at a time.
#[tokio::test]
async fn source_faults_delete_nothing_say_why_and_recover() {
    // Other operator tests of this binary watch every namespace, this one's too.
    let _alone = operator::one_operator_test();
    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "srcfaults").await;
    let root = tempfile::tempdir().unwrap();
    let names = ["hang", "loris", "reset", "vanish", "slow"];
    let mut servers = Vec::new();
    let mut uuids = Vec::new();
    for name in names {
        let dir = root.path().join(name);
        let (lib, uuid) = super::one_item_library(&dir, name);
        let server = FaultServer::start("127.0.0.1:0".parse().unwrap(), &dir).await;
        library::create_library(&client, &ns, name, &lib.id, &server.url("lib.json")).await;
        servers.push(server);
        uuids.push(uuid);
    }
    let flags = [
        "--sync-interval",
        "1s",
        "--list-timeout",
        "4s",
        "--fetch-timeout",
        "4s",
        "--source-read-timeout",
        "2s",
        "--source-connect-timeout",
        "1s",
        "--source-allow-loopback",
    ];
    let operator = Operator::start(&format!("srcfaults-{ns}"), &kubeconfig, &ns, &flags);
    operator.wait_ready().await;
    let mut before = Vec::new();
    for (name, uuid) in names.iter().zip(&uuids) {
        converge::wait_converged_for(&client, &ns, name, std::slice::from_ref(uuid), WAIT).await;
        wait_reason(&client, &ns, name, "True", &[]).await;
        before.push(snapshot(&client, &ns, name).await);
    }

    // The faults.
    servers[0].set(Mode::Hang);
    servers[1].set(Mode::SlowLoris);
    servers[2].set(Mode::Reset);
    servers[3].down().await;
    // Three requests per listing (lib.json twice, items.json) of a second each: 3 s, three
    // sync intervals.
    servers[4].set(Mode::Slow(Duration::from_secs(1)));
    let slow_stats = servers[4].stats();
    let slow_before = slow_stats.lib_requests.load(Ordering::SeqCst);
    let fault_started = Instant::now();
    let expected: [(&str, &[&str], &str); 4] = [
        ("hang", &["SourceUnreachable"], "timed out"),
        ("loris", &["SourceTimeout"], "longer than 4s"),
        ("reset", &["SourceUnreachable"], ""),
        ("vanish", &["SourceUnreachable"], "cannot reach"),
    ];
    let conditions = futures::future::join_all(expected.iter().map(|(name, reasons, _)| {
        let client = client.clone();
        let ns = ns.clone();
        async move {
            let c = wait_reason(&client, &ns, name, "False", reasons).await;
            (c, fault_started.elapsed())
        }
    }))
    .await;
    for ((name, _, says), (c, after)) in expected.iter().zip(&conditions) {
        eprintln!("{name}: {c:?} after {after:?}");
        assert!(c.2.contains(says), "{name}: {c:?}");
        // Bounded by the flags' timeouts: list timeout 4 s plus a sync interval and backoff.
        assert!(*after < Duration::from_secs(20), "{name}: took {after:?}");
    }
    // Several more rounds of the faults: nothing deleted or recreated.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for (i, name) in names.iter().enumerate() {
        let now = snapshot(&client, &ns, name).await;
        assert_eq!(now.item_uids, before[i].item_uids, "{name}: items changed");
        assert_eq!(now.images, before[i].images, "{name}: images changed");
    }
    let window = fault_started.elapsed();
    let listings = (slow_stats.lib_requests.load(Ordering::SeqCst) - slow_before) / 2;
    let max_in_flight = slow_stats.lib_max_in_flight.load(Ordering::SeqCst);
    eprintln!("slow: {listings} listings in {window:?}, at most {max_in_flight} at once");
    assert_eq!(max_in_flight, 1, "overlapping listings of one library");
    // 3 s per listing: at most one per 3 s (plus the one in flight), not one per second.
    assert!(
        (listings as f64) <= window.as_secs_f64() / 3.0 + 1.0,
        "{listings} listings in {window:?}"
    );
    assert_eq!(ready(&client, &ns, "slow").await.unwrap().0, "True");

    // Back.
    for server in &servers {
        server.set(Mode::Serve);
    }
    servers[3].up().await;
    for (i, name) in names.iter().enumerate() {
        wait_reason(&client, &ns, name, "True", &[]).await;
        let now = snapshot(&client, &ns, name).await;
        assert_eq!(now.item_uids, before[i].item_uids, "{name}: items changed");
        assert_eq!(now.images, before[i].images, "{name}: images changed");
    }
    drop(operator);
}
