//! Helpers of the fault-injection tests (`tests/fault_*.rs`, and tests/bad_input_operator.rs): a
//! control plane of their own that they may kill, large published libraries written in
//! milliseconds, and the end-state checks.
//!
//! Each binary that uses it holds exactly one test and starts its own control plane with
//! `hack/cluster.sh up` in `target/fault-cluster/<name>` (own ports, own etcd): killing an
//! apiserver that other test binaries, or other engineers' runs, share would fail them for no
//! reason, and an operator of another run would reconcile this run's libraries. The
//! [`FaultCluster`] guard stops it again when it is dropped, also when the test panics (etcd's
//! data is removed after a passing test; logs stay in `target/fault-cluster/<name>/logs/`).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kube::api::{Api, ListParams};
use kube::{Client, ResourceExt};
use serde_json::json;
use vmi_operator::api::{ContentLibrary, ContentLibraryItem, VirtualMachineImage};
use vmi_operator::kinds::LABEL_LIBRARY;

use crate::common;

/// A component of the control plane, by the name of its pid and log files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Component {
    Etcd,
    KubeApiserver,
}

impl Component {
    fn name(self) -> &'static str {
        match self {
            Component::Etcd => "etcd",
            Component::KubeApiserver => "kube-apiserver",
        }
    }
}

/// A control plane of this test binary alone; stopped (`hack/cluster.sh down`) when dropped.
pub struct FaultCluster {
    dir: PathBuf,
}

impl FaultCluster {
    /// Starts a control plane in `target/fault-cluster/<name>` and points the shared helpers of
    /// `common` (admin client, kubectl, service-account kubeconfigs) at it.
    ///
    /// Call it first thing in the binary's only test: it sets `VMI_CLUSTER_DIR` for the process.
    pub fn start(name: &str) -> FaultCluster {
        let dir = common::repo_root().join("target/fault-cluster").join(name);
        std::fs::create_dir_all(&dir).expect("create the fault cluster's state dir");
        // SAFETY: the binary runs a single test and this is its first statement: no other
        // thread of ours reads the environment yet (libtest's main thread only waits).
        unsafe {
            std::env::set_var("VMI_CLUSTER_DIR", &dir);
            std::env::remove_var("VMI_E2E_KUBECONFIG");
        }
        // The guard exists before `up`, so a half-started control plane is stopped too.
        let cluster = FaultCluster { dir };
        let started = Instant::now();
        cluster.script("up");
        eprintln!(
            "fault cluster {} up in {:?}",
            cluster.dir.display(),
            started.elapsed()
        );
        cluster
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn script(&self, command: &str) {
        let status = Command::new(common::repo_root().join("hack/cluster.sh"))
            .arg(command)
            .env("VMI_CLUSTER_DIR", &self.dir)
            .status()
            .expect("run hack/cluster.sh");
        assert!(
            status.success(),
            "hack/cluster.sh {command} failed for {}; logs in {}/logs/",
            self.dir.display(),
            self.dir.display()
        );
    }

    fn pid_file(&self, component: Component) -> PathBuf {
        self.dir
            .join("pids")
            .join(format!("{}.pid", component.name()))
    }

    fn pid(&self, component: Component) -> u32 {
        let path = self.pid_file(component);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("{}: not a pid: {e}", path.display()))
    }

    /// SIGKILLs a component (no shutdown of any kind) and waits until it is gone. Returns its
    /// command line, for [`FaultCluster::restart`].
    pub fn kill(&self, component: Component) -> Vec<OsString> {
        let pid = self.pid(component);
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
            .unwrap_or_else(|e| panic!("{} (pid {pid}) is not running: {e}", component.name()));
        let argv: Vec<OsString> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| OsString::from_vec(a.to_vec()))
            .collect();
        let status = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -KILL {pid} failed");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !gone(pid) {
            assert!(
                Instant::now() < deadline,
                "{} (pid {pid}) survived SIGKILL for 10s",
                component.name()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        argv
    }

    /// Starts a component again with the command line [`FaultCluster::kill`] returned, the way
    /// `hack/cluster.sh` does (own session, log appended, pid file), and waits until it answers.
    pub fn restart(&self, component: Component, argv: &[OsString]) {
        let log = self
            .dir
            .join("logs")
            .join(format!("{}.log", component.name()));
        let out = Command::new("bash")
            .arg("-c")
            .arg(r#"log=$1; shift; setsid "$@" </dev/null >>"$log" 2>&1 & echo $!"#)
            .arg("bash")
            .arg(&log)
            .args(argv)
            .output()
            .expect("run bash");
        assert!(out.status.success(), "cannot restart {}", component.name());
        let pid = String::from_utf8_lossy(&out.stdout).trim().to_string();
        std::fs::write(self.pid_file(component), format!("{pid}\n")).expect("write pid file");
        self.wait_healthy(component, Duration::from_secs(90));
    }

    /// Waits until a component answers its health endpoint.
    pub fn wait_healthy(&self, component: Component, timeout: Duration) {
        let ports = self.ports();
        let pki = self.dir.join("pki");
        let deadline = Instant::now() + timeout;
        loop {
            let out = match component {
                Component::Etcd => Command::new("curl")
                    .args(["-fsS", "--max-time", "2"])
                    .arg(format!("http://127.0.0.1:{}/health", ports["ETCD_PORT"]))
                    .output(),
                Component::KubeApiserver => Command::new("curl")
                    .args(["-fsS", "--max-time", "2", "--cacert"])
                    .arg(pki.join("ca.crt"))
                    .arg("--cert")
                    .arg(pki.join("admin.crt"))
                    .arg("--key")
                    .arg(pki.join("admin.key"))
                    .arg(format!(
                        "https://127.0.0.1:{}/readyz",
                        ports["APISERVER_PORT"]
                    ))
                    .output(),
            }
            .expect("run curl");
            let body = String::from_utf8_lossy(&out.stdout);
            let healthy = match component {
                Component::Etcd => body.contains(r#""health":"true""#),
                Component::KubeApiserver => body.trim() == "ok",
            };
            if out.status.success() && healthy {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{} not healthy {timeout:?} after its restart; see {}/logs/",
                component.name(),
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// `ETCD_PORT`, `ETCD_PEER_PORT`, `APISERVER_PORT` of `hack/cluster.sh`.
    fn ports(&self) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(self.dir.join("ports")).expect("read ports");
        text.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl Drop for FaultCluster {
    fn drop(&mut self) {
        let status = Command::new(common::repo_root().join("hack/cluster.sh"))
            .arg("down")
            .env("VMI_CLUSTER_DIR", &self.dir)
            .status();
        if !matches!(status, Ok(s) if s.success()) {
            eprintln!(
                "warning: hack/cluster.sh down failed for {}: {status:?}",
                self.dir.display()
            );
        } else if !std::thread::panicking() {
            // etcd's data (~70 MB) is wiped by the next `up` anyway; logs and PKI stay.
            let _ = std::fs::remove_dir_all(self.dir.join("etcd"));
        }
    }
}

/// Whether a process is gone (or a zombie nobody reaped yet).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // "pid (comm) S ...": the state follows the last ')'.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
    }
}

/// A published library written directly as JSON: `lib.json`, `items.json` listing every item
/// with its files, and the descriptors. Items may share one descriptor file, so 1,000 items cost
/// one small file and one `items.json`: about 10 ms. (`vmi-operator publish` of a folder of 1,000
/// hard links to one descriptor takes 2.5 s in a debug build, 0.8 s in a release one, and writes
/// 1,000 item folders.)
pub struct LibraryWriter {
    pub dir: PathBuf,
    pub id: String,
    items: Vec<serde_json::Value>,
}

/// One item of a [`LibraryWriter`].
#[derive(Clone, Debug)]
pub struct ItemSpec {
    pub uuid: String,
    pub name: String,
    /// (file name, href relative to the library, size)
    pub files: Vec<(String, String, u64)>,
    pub item_type: String,
}

impl LibraryWriter {
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("create library dir");
        LibraryWriter {
            dir: dir.to_path_buf(),
            id: uuid::Uuid::new_v4().to_string(),
            items: Vec::new(),
        }
    }

    /// Writes a file of the library (relative path) and returns its href and size.
    pub fn file(&self, rel: &str, bytes: &[u8]) -> (String, u64) {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).expect("create item folder");
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        (rel.to_string(), bytes.len() as u64)
    }

    /// Adds an item (not written until [`LibraryWriter::write`]).
    pub fn item(&mut self, item: ItemSpec) {
        let files: Vec<_> = item
            .files
            .iter()
            .map(|(name, href, size)| json!({ "name": name, "size": size, "hrefs": [href] }))
            .collect();
        self.items.push(json!({
            "id": format!("urn:uuid:{}", item.uuid),
            "name": item.name,
            "type": item.item_type,
            "version": "1",
            "contentVersion": "1",
            "created": "2024-01-02T03:04Z",
            "description": "",
            "selfHref": "",
            "files": files,
        }));
    }

    /// Adds `n` OVF items named `<prefix>-0000`.. that all point at `descriptor_href`.
    /// Returns their UUIDs.
    pub fn ovf_items(
        &mut self,
        prefix: &str,
        n: usize,
        descriptor_href: &str,
        size: u64,
    ) -> Vec<String> {
        (0..n)
            .map(|i| {
                let uuid = uuid::Uuid::new_v4().to_string();
                self.item(ItemSpec {
                    uuid: uuid.clone(),
                    name: format!("{prefix}-{i:04}"),
                    files: vec![("template.ovf".into(), descriptor_href.to_string(), size)],
                    item_type: "vcsp.ovf".into(),
                });
                uuid
            })
            .collect()
    }

    /// Writes `items.json` and `lib.json` (in that order, each by rename, as `publish` does).
    pub fn write(&self) {
        let items = json!({ "items": self.items });
        let lib = json!({
            "vcspVersion": "2", "version": "1", "contentVersion": "1", "name": "fault-library",
            "id": format!("urn:uuid:{}", self.id), "created": "2024-01-02T03:04Z",
            "capabilities": { "transferIn": ["httpGet"], "transferOut": ["httpGet"] },
            "itemsHref": "items.json",
        });
        for (name, doc) in [("items.json", items), ("lib.json", lib)] {
            let tmp = self.dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, serde_json::to_vec(&doc).unwrap()).expect("write listing");
            std::fs::rename(&tmp, self.dir.join(name)).expect("rename listing");
        }
    }

    /// The `spec.source` of a library resource reading this folder.
    pub fn source(&self) -> String {
        format!("file://{}/lib.json", self.dir.display())
    }
}

/// The photon descriptor of tests/data, the one every good item of the fault tests points at.
pub fn photon_descriptor() -> Vec<u8> {
    std::fs::read(common::repo_root().join("tests/data/photon-5.0.ovf")).expect("photon fixture")
}

/// Creates a ContentLibrary named `name` in `ns` reading `source`.
pub async fn create_library(client: &Client, ns: &str, name: &str, uuid: &str, source: &str) {
    common::apply_yaml(
        client,
        ns,
        &format!(
            "apiVersion: imageregistry.vmware.com/v1alpha1\nkind: ContentLibrary\n\
             metadata: {{ name: {name}, namespace: {ns} }}\n\
             spec: {{ uuid: \"{uuid}\", source: \"{source}\" }}\n"
        ),
    )
    .await;
}

/// A namespace with the operator's service account and RBAC; returns it and the kubeconfig of
/// that identity.
pub async fn operator_namespace(client: &Client, prefix: &str) -> (String, PathBuf) {
    common::install_crds(client).await;
    let ns = common::test_namespace(client, prefix).await;
    let kubeconfig = common::service_account_kubeconfig(
        client,
        &ns,
        "vmi-operator",
        &crate::support::operator_rbac_yaml(),
    )
    .await;
    (ns, kubeconfig)
}

/// Flags of every operator the fault tests run: no webhook, a short sync interval.
pub const OPERATOR_FLAGS: &[&str] = &["--disable-webhook", "--sync-interval", "2s"];

/// What the cluster holds for one namespace: item name -> UUID, image name -> (display name,
/// Ready status, Ready reason).
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub items: BTreeMap<String, String>,
    pub item_uids: BTreeMap<String, String>,
    pub images: BTreeMap<String, ImageState>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImageState {
    pub display_name: String,
    pub ready: String,
    pub reason: String,
    pub message: String,
    pub uid: String,
}

impl Snapshot {
    pub fn ready_images(&self) -> usize {
        self.images.values().filter(|i| i.ready == "True").count()
    }
}

/// Lists items and images of `ns`; `None` while the apiserver does not answer.
pub async fn snapshot(client: &Client, ns: &str) -> Option<Snapshot> {
    list(client, ns, None).await
}

/// Lists the items of one library of `ns` and their images.
pub async fn snapshot_of(client: &Client, ns: &str, library: &str) -> Option<Snapshot> {
    list(client, ns, Some(library)).await
}

async fn list(client: &Client, ns: &str, library: Option<&str>) -> Option<Snapshot> {
    let items: Api<ContentLibraryItem> = Api::namespaced(client.clone(), ns);
    let images: Api<VirtualMachineImage> = Api::namespaced(client.clone(), ns);
    let item_params = match library {
        Some(lib) => ListParams::default().labels(&format!("{LABEL_LIBRARY}={lib}")),
        None => ListParams::default(),
    };
    let image_params = ListParams::default();
    let (items, images) = tokio::join!(items.list(&item_params), images.list(&image_params));
    let (items, images) = (items.ok()?, images.ok()?);
    let mut snap = Snapshot::default();
    for item in items {
        snap.item_uids
            .insert(item.name_any(), item.uid().unwrap_or_default());
        snap.items.insert(item.name_any(), item.spec.uuid.clone());
    }
    for image in images {
        let of_listed_item = image
            .spec
            .provider_ref
            .as_ref()
            .is_some_and(|p| snap.items.contains_key(&p.name));
        if library.is_some() && !of_listed_item {
            continue;
        }
        let ready = image
            .status
            .as_ref()
            .and_then(|s| s.ready_condition().cloned());
        snap.images.insert(
            image.name_any(),
            ImageState {
                display_name: image
                    .status
                    .as_ref()
                    .and_then(|s| s.name.clone())
                    .unwrap_or_default(),
                ready: ready
                    .as_ref()
                    .map(|c| format!("{:?}", c.status))
                    .unwrap_or_default(),
                reason: ready.as_ref().map(|c| c.reason.clone()).unwrap_or_default(),
                message: ready.map(|c| c.message).unwrap_or_default(),
                uid: image.uid().unwrap_or_default(),
            },
        );
    }
    Some(snap)
}

/// Counts of items and images in `ns` from metadata-only lists (cheap enough to poll); `None`
/// while the apiserver does not answer.
pub async fn counts(client: &Client, ns: &str) -> Option<(usize, usize)> {
    let items: Api<ContentLibraryItem> = Api::namespaced(client.clone(), ns);
    let images: Api<VirtualMachineImage> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default();
    let (items, images) = tokio::join!(items.list_metadata(&lp), images.list_metadata(&lp));
    Some((items.ok()?.items.len(), images.ok()?.items.len()))
}

/// What is wrong with `snap` compared with exactly one item and one Ready image per UUID in
/// `expected` (names = VMI IDs), or `None` when it is exactly that.
pub fn difference(snap: &Snapshot, expected: &[String]) -> Option<String> {
    let want_items: BTreeSet<String> = expected
        .iter()
        .map(|u| vmi_operator::vmi_id::item_name(u).unwrap())
        .collect();
    let want_images: BTreeSet<String> = expected
        .iter()
        .map(|u| vmi_operator::vmi_id::vmi_id(u).unwrap())
        .collect();
    let have_items: BTreeSet<String> = snap.items.keys().cloned().collect();
    let have_images: BTreeSet<String> = snap.images.keys().cloned().collect();
    let mut problems = Vec::new();
    let sample = |set: Vec<&String>| {
        let n = set.len();
        let shown: Vec<_> = set.into_iter().take(5).collect();
        format!("{n} (e.g. {shown:?})")
    };
    let missing_items: Vec<_> = want_items.difference(&have_items).collect();
    let extra_items: Vec<_> = have_items.difference(&want_items).collect();
    let missing_images: Vec<_> = want_images.difference(&have_images).collect();
    let extra_images: Vec<_> = have_images.difference(&want_images).collect();
    if !missing_items.is_empty() {
        problems.push(format!("missing items: {}", sample(missing_items)));
    }
    if !extra_items.is_empty() {
        problems.push(format!("unexpected items: {}", sample(extra_items)));
    }
    if !missing_images.is_empty() {
        problems.push(format!("missing images: {}", sample(missing_images)));
    }
    if !extra_images.is_empty() {
        problems.push(format!("unexpected images: {}", sample(extra_images)));
    }
    let wrong_uuid: Vec<_> = snap
        .items
        .iter()
        .filter(|(name, uuid)| vmi_operator::vmi_id::item_name(uuid).ok().as_ref() != Some(*name))
        .map(|(name, _)| name)
        .collect();
    if !wrong_uuid.is_empty() {
        problems.push(format!(
            "items whose name is not their UUID's: {}",
            sample(wrong_uuid)
        ));
    }
    let not_ready: Vec<_> = snap
        .images
        .iter()
        .filter(|(_, i)| i.ready != "True")
        .map(|(name, _)| name)
        .collect();
    if !not_ready.is_empty() {
        let first = snap.images.values().find(|i| i.ready != "True").unwrap();
        problems.push(format!(
            "images not Ready: {}; first: Ready={:?} {} {}",
            sample(not_ready),
            first.ready,
            first.reason,
            first.message
        ));
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

/// Waits until `ns` holds exactly one item and one Ready image per UUID in `expected`; panics
/// with the last difference after `timeout`. Returns how long it took.
pub async fn wait_converged(
    client: &Client,
    ns: &str,
    expected: &[String],
    timeout: Duration,
) -> Duration {
    let started = Instant::now();
    let mut last = String::from("the apiserver never answered");
    while started.elapsed() < timeout {
        // Cheap counts first; the full lists only once the numbers add up.
        if let Some((items, images)) = counts(client, ns).await {
            last = format!("{items} items and {images} images");
            if items == expected.len()
                && images == expected.len()
                && let Some(snap) = snapshot(client, ns).await
            {
                match difference(&snap, expected) {
                    None => return started.elapsed(),
                    Some(d) => last = d,
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "namespace {ns} did not converge to {} items and Ready images within {timeout:?}: {last}",
        expected.len()
    );
}

/// Like [`wait_converged`], for the items of one library of `ns` and their images.
pub async fn wait_converged_for(
    client: &Client,
    ns: &str,
    library: &str,
    expected: &[String],
    timeout: Duration,
) -> Duration {
    let started = Instant::now();
    let mut last = String::from("the apiserver never answered");
    while started.elapsed() < timeout {
        if let Some(snap) = snapshot_of(client, ns, library).await {
            match difference(&snap, expected) {
                None => return started.elapsed(),
                Some(d) => last = d,
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("library {ns}/{library} did not converge within {timeout:?}: {last}");
}

/// Polls until `f` holds for the item and image counts of `ns` (unanswered polls are skipped);
/// panics after `timeout`.
pub async fn wait_counts(
    client: &Client,
    ns: &str,
    what: &str,
    timeout: Duration,
    f: impl Fn(usize, usize) -> bool,
) -> (usize, usize) {
    let started = Instant::now();
    let mut last = None;
    while started.elapsed() < timeout {
        if let Some((items, images)) = counts(client, ns).await {
            last = Some((items, images));
            if f(items, images) {
                return (items, images);
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out after {timeout:?} waiting for {what}; last counts (items, images): {last:?}");
}

/// The library's Ready condition: (status, reason, message).
pub async fn library_ready(
    client: &Client,
    ns: &str,
    name: &str,
) -> Option<(String, String, String)> {
    let api: Api<ContentLibrary> = Api::namespaced(client.clone(), ns);
    let lib = api.get(name).await.ok()?;
    let c = lib
        .status?
        .conditions
        .into_iter()
        .find(|c| c.type_ == "Ready")?;
    Some((format!("{:?}", c.status), c.reason, c.message))
}
