//! The source policy on real sockets, through `SourceRegistry::source_for` as the controllers
//! call it.

use std::ffi::CString;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use vmi_operator::source::policy::AllowEntry;
use vmi_operator::source::{Scope, SourceError, SourcePolicy, SourceRegistry, TlsOptions};

use super::netns::NetPair;
use super::server::{FaultServer, Stats};
use vmi_test_support::library::{self, ItemSpec, LibraryWriter};

const UUID: &str = "6f1a9a46-0c2b-4c1e-9d0a-1f5c3c1e0a01";

fn registry(policy: SourcePolicy) -> SourceRegistry {
    SourceRegistry::new(None, TlsOptions::default()).with_policy(policy)
}

fn short(policy: SourcePolicy) -> SourcePolicy {
    SourcePolicy {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_secs(2),
        ..policy
    }
}

/// Lists a library through a registry; the error's reason, or the item count.
async fn list(registry: &SourceRegistry, scope: Scope, url: &str) -> Result<usize, SourceError> {
    let source = registry.source_for(scope, UUID, Some(url))?;
    Ok(source.list_items().await?.len())
}

fn reason(r: Result<usize, SourceError>) -> String {
    match r {
        Ok(n) => format!("Ok({n} items)"),
        Err(e) => format!("{}: {e}", e.reason()),
    }
}

/// Whether some process holds the FIFO open for reading (a writer's non-blocking open fails
/// with ENXIO when none does).
pub fn fifo_has_reader(path: &Path) -> bool {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid path; the fd is closed at once.
    let fd = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_NONBLOCK) };
    if fd >= 0 {
        unsafe { libc::close(fd) };
        return true;
    }
    false
}

#[tokio::test]
async fn a_namespaced_file_library_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("lib.json");
    library::mkfifo(&fifo);
    let url = format!("file://{}", fifo.display());
    let registry = registry(SourcePolicy::default());
    let err = registry
        .source_for(Scope::Namespaced, UUID, Some(&url))
        .err()
        .expect("refused");
    assert_eq!(err.reason(), "SourceSchemeNotAllowed", "{err}");
    assert!(
        err.to_string()
            .contains("file:// sources are not allowed for namespaced libraries"),
        "{err}"
    );
    assert!(!fifo_has_reader(&fifo));
    // The same URL for a cluster-scoped library is the admin's choice: allowed (and the FIFO
    // is refused as not a regular file, without being opened).
    let source = registry
        .source_for(Scope::Cluster, UUID, Some(&url))
        .unwrap();
    let err = source.list_items().await.unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

/// An allowed `file://` prefix is held after symlinks are resolved: a library folder inside
/// team-a's prefix that is a symlink to team-b's library is refused with the prefix rule's
/// reason, naming where it leads; so is a file of a team-a library that is a symlink into
/// team-b's, which is never read.
#[tokio::test]
async fn file_prefixes_hold_after_symlinks() {
    let base = tempfile::tempdir().unwrap();
    let real = std::fs::canonicalize(base.path()).unwrap();
    let (a, b) = (real.join("team-a"), real.join("team-b"));
    let (mine, _) = super::one_item_library(&a.join("mine"), "p");
    let (_, _) = super::one_item_library(&b.join("theirs"), "q");
    std::os::unix::fs::symlink(b.join("theirs"), a.join("theirs")).unwrap();
    // A team-a library whose item folder is a symlink to team-b's.
    let (_, _) = super::one_item_library(&a.join("mixed"), "q");
    std::fs::remove_dir_all(a.join("mixed/q")).unwrap();
    std::os::unix::fs::symlink(b.join("theirs/q"), a.join("mixed/q")).unwrap();

    let prefix = url::Url::from_directory_path(&a).unwrap();
    let registry = registry(SourcePolicy {
        namespaced_schemes: vec!["file".into()],
        namespaced_allowed: vec![AllowEntry::parse(prefix.as_str()).unwrap()],
        ..SourcePolicy::default()
    });
    let dir_url = |p: &Path| url::Url::from_directory_path(p).unwrap().to_string();
    assert_eq!(
        reason(list(&registry, Scope::Namespaced, &dir_url(&a.join("mine"))).await),
        "Ok(1 items)"
    );
    let _ = mine;
    let err = list(&registry, Scope::Namespaced, &dir_url(&a.join("theirs")))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), "SourceHostNotAllowed", "{err}");
    let shown = err.to_string();
    assert!(shown.contains("--source-allowed-prefixes"), "{shown}");
    assert!(shown.contains("team-b/theirs/lib.json"), "{shown}");
    // Listed (its item documents are team-a's), but the descriptor is not read.
    let source = registry
        .source_for(Scope::Namespaced, UUID, Some(&dir_url(&a.join("mixed"))))
        .unwrap();
    let items = source.list_items().await.unwrap();
    let err = source.fetch_ovf(&items[0]).await.unwrap_err();
    assert_eq!(err.reason(), "SourceHostNotAllowed", "{err}");
    assert!(
        err.to_string().contains("team-b/theirs/q/photon.ovf"),
        "{err}"
    );
}

/// Serves `root` from a thread inside namespace `ns` until the returned sender is dropped.
fn serve_in(
    ns: &str,
    bind: SocketAddr,
    root: &Path,
    redirects: Vec<(String, String)>,
) -> (SocketAddr, Arc<Stats>, std::sync::mpsc::Sender<()>) {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let root = root.to_path_buf();
    NetPair::spawn_in(ns, move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = FaultServer::start(bind, &root).await;
            for (path, to) in &redirects {
                server.redirect(path, to);
            }
            addr_tx.send((server.addr, server.stats())).unwrap();
            let _ = tokio::task::spawn_blocking(move || stop_rx.recv()).await;
        });
    });
    let (addr, stats) = addr_rx.recv().expect("server started");
    (addr, stats, stop_tx)
}

/// Two namespaces: the operator's side `a` (its own address, loopback servers that must never
/// be contacted) and a test host `b` with the libraries and the redirects.
#[test]
fn prefixes_and_addresses_on_real_sockets() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let net = NetPair::create();
    let root = tempfile::tempdir().unwrap();
    let (team_a, _) = super::one_item_library(&root.path().join("team-a"), "a");
    let (team_b, _) = super::one_item_library(&root.path().join("team-b"), "b");
    // A library under the allowed prefix whose item names a file of another team's folder.
    let mut escape = LibraryWriter::new(&root.path().join("team-a/escape"));
    let size = library::photon_descriptor().len() as u64;
    escape.item(ItemSpec {
        uuid: uuid::Uuid::new_v4().to_string(),
        name: "escape".into(),
        files: vec![("photon.ovf".into(), "/team-b/b/photon.ovf".into(), size)],
        item_type: "vcsp.ovf".into(),
    });
    escape.write();
    drop((team_a, team_b));

    let (addr_a, addr_b) = (IpAddr::V4(net.addr_a), IpAddr::V4(net.addr_b));
    // Servers on the operator's side: on loopback, and on its own address.
    let (loopback, loopback_stats, _stop_loopback) =
        serve_in(&net.a, "127.0.0.1:0".parse().unwrap(), root.path(), vec![]);
    let (own, own_stats, _stop_own) =
        serve_in(&net.a, SocketAddr::new(addr_a, 0), root.path(), vec![]);
    let redirects = vec![
        (
            "/to-loopback/lib.json".to_string(),
            format!("http://{loopback}/team-a/lib.json"),
        ),
        (
            "/to-link-local/lib.json".to_string(),
            "http://169.254.169.254/latest/lib.json".to_string(),
        ),
        (
            "/to-localhost/lib.json".to_string(),
            format!("http://localhost:{}/team-a/lib.json", loopback.port()),
        ),
    ];
    let (host, _, _stop_host) =
        serve_in(&net.b, SocketAddr::new(addr_b, 0), root.path(), redirects);

    let results = NetPair::block_in(&net.a, move || async move {
        let mut out = Vec::new();
        let base = format!("http://{host}");
        // Default address rules, one allowed prefix on the test host.
        let prefixed = registry(short(SourcePolicy {
            namespaced_allowed: vec![AllowEntry::parse(&format!("{base}/team-a/")).unwrap()],
            ..SourcePolicy::default()
        }));
        out.push((
            "allowed prefix",
            reason(
                list(
                    &prefixed,
                    Scope::Namespaced,
                    &format!("{base}/team-a/lib.json"),
                )
                .await,
            ),
        ));
        let source = prefixed
            .source_for(
                Scope::Namespaced,
                UUID,
                Some(&format!("{base}/team-a/lib.json")),
            )
            .unwrap();
        let items = source.list_items().await.unwrap();
        let fetched = source.fetch_ovf(&items[0]).await.map(|b| b.len());
        out.push((
            "allowed prefix descriptor",
            format!("{:?}", fetched.map_err(|e| e.reason())),
        ));
        out.push((
            "other prefix",
            reason(
                list(
                    &prefixed,
                    Scope::Namespaced,
                    &format!("{base}/team-b/lib.json"),
                )
                .await,
            ),
        ));
        let escape = prefixed
            .source_for(
                Scope::Namespaced,
                UUID,
                Some(&format!("{base}/team-a/escape/lib.json")),
            )
            .unwrap();
        let items = escape.list_items().await.unwrap();
        out.push((
            "href out of the prefix",
            reason(escape.fetch_ovf(&items[0]).await.map(|b| b.len())),
        ));

        // Default policy, any host.
        let mut policy = short(SourcePolicy::default());
        policy.static_hosts.insert(
            "metadata.test".into(),
            vec!["169.254.169.254".parse().unwrap()],
        );
        policy
            .static_hosts
            .insert("images.test".into(), vec![addr_b]);
        let open = registry(policy.clone());
        let ns = Scope::Namespaced;
        let cases = [
            ("test host", format!("{base}/team-b/lib.json")),
            (
                "name of the test host",
                format!("http://images.test:{}/team-b/lib.json", host.port()),
            ),
            ("loopback", format!("http://{loopback}/team-a/lib.json")),
            (
                "localhost",
                format!("http://localhost:{}/team-a/lib.json", loopback.port()),
            ),
            ("own address", format!("http://{own}/team-a/lib.json")),
            (
                "link-local",
                "http://169.254.169.254/latest/lib.json".to_string(),
            ),
            (
                "name of link-local",
                "http://metadata.test/latest/lib.json".to_string(),
            ),
            (
                "redirect to loopback",
                format!("{base}/to-loopback/lib.json"),
            ),
            (
                "redirect to link-local",
                format!("{base}/to-link-local/lib.json"),
            ),
            (
                "redirect to localhost",
                format!("{base}/to-localhost/lib.json"),
            ),
        ];
        for (what, url) in cases {
            out.push((what, reason(list(&open, ns, &url).await)));
        }
        // Nothing refused was ever contacted.
        out.push((
            "connections to refused servers",
            format!(
                "{} {}",
                loopback_stats.connections.load(Ordering::SeqCst),
                own_stats.connections.load(Ordering::SeqCst)
            ),
        ));
        // The flags that allow them.
        let allowing = registry(SourcePolicy {
            allow_pod_addresses: true,
            allow_loopback: true,
            ..policy
        });
        out.push((
            "own address, allowed",
            reason(list(&allowing, ns, &format!("http://{own}/team-a/lib.json")).await),
        ));
        out.push((
            "localhost, allowed",
            reason(
                list(
                    &allowing,
                    ns,
                    &format!("http://localhost:{}/team-a/lib.json", loopback.port()),
                )
                .await,
            ),
        ));
        out
    });
    let got: std::collections::BTreeMap<_, _> = results.into_iter().collect();
    eprintln!("{got:#?}");
    let want = [
        ("allowed prefix", "Ok(1 items)"),
        ("allowed prefix descriptor", "Ok("),
        ("other prefix", "SourceHostNotAllowed"),
        ("href out of the prefix", "SourceHostNotAllowed"),
        ("test host", "Ok(1 items)"),
        ("name of the test host", "Ok(1 items)"),
        ("loopback", "SourceAddressNotAllowed"),
        ("localhost", "SourceAddressNotAllowed"),
        ("own address", "SourceAddressNotAllowed"),
        ("link-local", "SourceAddressNotAllowed"),
        ("name of link-local", "SourceAddressNotAllowed"),
        ("redirect to loopback", "SourceAddressNotAllowed"),
        ("redirect to link-local", "SourceAddressNotAllowed"),
        // A name in a redirect is resolved when connecting; the redirect leaves the origin
        // first, which is refused as well.
        ("redirect to localhost", "Source"),
        ("connections to refused servers", "0 0"),
        ("own address, allowed", "Ok(1 items)"),
        ("localhost, allowed", "Ok(1 items)"),
    ];
    let mut wrong = Vec::new();
    for (what, prefix) in want {
        let have = &got[what];
        if !have.starts_with(prefix) || (prefix == "Source" && have.starts_with("Ok")) {
            wrong.push(format!("{what}: want {prefix}.., have {have}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    for (what, message) in [
        ("loopback", "a loopback address"),
        ("link-local", "a link-local address"),
        ("own address", "an address of the operator's own pod"),
        ("localhost", "--source-allow-loopback"),
    ] {
        assert!(got[what].contains(message), "{what}: {}", got[what]);
    }
    drop(net);
}
