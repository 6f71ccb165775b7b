//! Fault injection on the library source: the source goes away for a while and comes back.
//!
//! - A `file://` library whose folder is moved away, and an `http://` library whose web server
//!   is stopped (connections refused), each with a few hundred synced items.
//! - While the source is down: the library's Ready condition goes False with a reason and a
//!   message that say why, no item and no image is deleted or recreated (same UIDs), and the
//!   images stay Ready; an operator restarted (kill -9) during the outage changes nothing either.
//! - When the source is back: Ready again, with the same items and images.
//!
//! Runs on a control plane of its own (`target/fault-cluster/source`), stopped at the end.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::Client;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use vmi_test_support::{
    cluster, converge, converge::Snapshot, fault, fault::FaultCluster, library,
    library::LibraryWriter, operator, serve, wait,
};

const FILE_ITEMS: usize = 300;
const HTTP_ITEMS: usize = 100;
const WAIT: Duration = Duration::from_secs(90);
/// How long each outage lasts: several sync rounds (the operator lists every 2 s).
const OUTAGE: Duration = Duration::from_secs(10);

/// A static web server for one folder on a fixed loopback port that can be stopped (every
/// connection dropped, the port closed) and started again. One request per connection, so no
/// kept-alive connection outlives a stop.
struct WebServer {
    dir: PathBuf,
    port: u16,
    tasks: Option<JoinSet<()>>,
}

impl WebServer {
    async fn start(dir: &Path) -> WebServer {
        let mut server = WebServer {
            dir: dir.to_path_buf(),
            port: serve::free_port(),
            tasks: None,
        };
        server.up().await;
        server
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/lib.json", self.port)
    }

    async fn up(&mut self) {
        let listener = TcpListener::bind(("127.0.0.1", self.port))
            .await
            .expect("bind the web server's port");
        let dir = Arc::new(self.dir.clone());
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                connections.spawn(serve(stream, dir.clone()));
                while connections.try_join_next().is_some() {}
            }
        });
        self.tasks = Some(tasks);
    }

    /// Stops serving: aborting the accept task drops the listener and, with it, the set of
    /// connection tasks (a JoinSet aborts its tasks when dropped).
    async fn down(&mut self) {
        if let Some(mut tasks) = self.tasks.take() {
            tasks.shutdown().await;
        }
    }
}

async fn serve(mut stream: tokio::net::TcpStream, dir: Arc<PathBuf>) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65536 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request);
    let path = text.split_whitespace().nth(1).unwrap_or("/").to_string();
    let path = percent_encoding::percent_decode_str(&path)
        .decode_utf8_lossy()
        .into_owned();
    let file = (!path.split('/').any(|s| s == ".."))
        .then(|| std::fs::read(dir.join(path.trim_start_matches('/'))).ok())
        .flatten();
    let response = match file {
        Some(body) => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend(body);
            r
        }
        None => {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    };
    let _ = stream.write_all(&response).await;
    let _ = stream.shutdown().await;
}

async fn snapshot(client: &Client, ns: &str, library: &str) -> Snapshot {
    for _ in 0..50 {
        if let Some(s) = converge::snapshot_of(client, ns, library).await {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("cannot list the items of {ns}/{library}");
}

/// [`hold_outage`] for both libraries at once: the folder one (gone, or its source unreachable)
/// and the web one.
async fn hold_both_outages(
    client: &Client,
    ns: &str,
    files_before: &Snapshot,
    web_before: &Snapshot,
) -> ((String, String, String), (String, String, String)) {
    tokio::join!(
        hold_outage(
            client,
            ns,
            "files",
            files_before,
            &["LibraryNotFound", "SourceUnreachable"],
            OUTAGE,
        ),
        hold_outage(
            client,
            ns,
            "web",
            web_before,
            &["SourceUnreachable"],
            OUTAGE
        ),
    )
}

/// Checks, for `duration`, that the library keeps exactly the items and images of `good`, all
/// Ready, and that its Ready condition is False with a reason in `reasons`. Returns the
/// condition.
async fn hold_outage(
    client: &Client,
    ns: &str,
    library: &str,
    good: &Snapshot,
    reasons: &[&str],
    duration: Duration,
) -> (String, String, String) {
    let started = Instant::now();
    let mut condition = None;
    while started.elapsed() < duration {
        let now = snapshot(client, ns, library).await;
        assert_eq!(
            now.item_uids, good.item_uids,
            "{library}: items changed during the outage"
        );
        assert_eq!(
            now.images, good.images,
            "{library}: images changed during the outage"
        );
        if let Some(c) = converge::library_ready(client, ns, library).await
            && c.0 == "False"
        {
            assert!(reasons.contains(&c.1.as_str()), "{library}: {c:?}");
            condition = Some(c);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    condition.unwrap_or_else(|| panic!("{library}: Ready never went False during the outage"))
}

async fn wait_ready(client: &Client, ns: &str, library: &str) {
    wait::wait_until(WAIT, &format!("{library} Ready again"), || async {
        converge::library_ready(client, ns, library)
            .await
            .is_some_and(|c| c.0 == "True")
    })
    .await;
}

#[tokio::test]
async fn a_source_outage_deletes_nothing_and_says_why() {
    let cluster = FaultCluster::start("source");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let started = Instant::now();
    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "fault-source").await;
    let descriptor = library::photon_descriptor();

    // A file:// library and an http:// one.
    let root = tempfile::tempdir().unwrap();
    let file_dir = root.path().join("file-library");
    let mut file_lib = LibraryWriter::new(&file_dir);
    let (href, size) = file_lib.file("shared/photon.ovf", &descriptor);
    let file_uuids = file_lib.ovf_items("file", FILE_ITEMS, &href, size);
    file_lib.write();
    library::create_library(&client, &ns, "files", &file_lib.id, &file_lib.source()).await;

    let http_dir = root.path().join("http-library");
    let mut http_lib = LibraryWriter::new(&http_dir);
    let (href, size) = http_lib.file("shared/photon.ovf", &descriptor);
    let http_uuids = http_lib.ovf_items("web", HTTP_ITEMS, &href, size);
    http_lib.write();
    let mut web = WebServer::start(&http_dir).await;
    library::create_library(&client, &ns, "web", &http_lib.id, &web.url()).await;

    let mut operator = operator::OperatorProcess::start(
        &format!("fault-source-1-{ns}"),
        &kubeconfig,
        fault::OPERATOR_FLAGS,
    );
    operator.wait_ready().await;
    converge::wait_converged_for(&client, &ns, "files", &file_uuids, WAIT).await;
    converge::wait_converged_for(&client, &ns, "web", &http_uuids, WAIT).await;
    let files_before = snapshot(&client, &ns, "files").await;
    let web_before = snapshot(&client, &ns, "web").await;
    eprintln!("both libraries synced after {:?}", started.elapsed());

    // The folder moves away and the web server stops.
    let moved = root.path().join("file-library.away");
    std::fs::rename(&file_dir, &moved).unwrap();
    web.down().await;
    let outage = Instant::now();
    let (files, web_condition) = hold_both_outages(&client, &ns, &files_before, &web_before).await;
    eprintln!("during the outage: files {files:?}, web {web_condition:?}");
    assert!(
        files
            .2
            .contains(&format!("{}/lib.json", file_dir.display())),
        "{files:?}"
    );
    assert!(
        web_condition.2.contains(&web.url()) && web_condition.2.contains("cannot reach"),
        "{web_condition:?}"
    );

    // An operator restarted during the outage does not touch anything either (it finds every
    // image's content version already read, and nothing to fetch).
    operator.kill();
    let mut operator = operator::OperatorProcess::start(
        &format!("fault-source-2-{ns}"),
        &kubeconfig,
        fault::OPERATOR_FLAGS,
    );
    operator.wait_ready().await;
    hold_both_outages(&client, &ns, &files_before, &web_before).await;
    eprintln!("outage held for {:?}", outage.elapsed());

    // Back.
    std::fs::rename(&moved, &file_dir).unwrap();
    web.up().await;
    let back = Instant::now();
    tokio::join!(
        wait_ready(&client, &ns, "files"),
        wait_ready(&client, &ns, "web")
    );
    eprintln!("recovered {:?} after the source came back", back.elapsed());
    let files_after = snapshot(&client, &ns, "files").await;
    let web_after = snapshot(&client, &ns, "web").await;
    assert_eq!(converge::difference(&files_after, &file_uuids), None);
    assert_eq!(converge::difference(&web_after, &http_uuids), None);
    assert_eq!(files_after.item_uids, files_before.item_uids);
    assert_eq!(files_after.images, files_before.images);
    assert_eq!(web_after.item_uids, web_before.item_uids);
    assert_eq!(web_after.images, web_before.images);

    let status = operator.terminate();
    assert!(status.success(), "operator exit status {status}");
    web.down().await;
    eprintln!("test took {:?}", started.elapsed());
    drop(cluster);
}
