//! The control plane the tests talk to and admin clients for it.
//!
//! That is the shared one of `hack/cluster.sh` (`$VMI_CLUSTER_DIR`, default `target/cluster`), or
//! `VMI_E2E_KUBECONFIG`'s, or, while a [`crate::fault::FaultCluster`] runs, that test's own: the
//! choice is made on every call, not once per process, so that one binary can hold the fault tests
//! that start control planes of their own one after another.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config};
use tokio::sync::OnceCell;

use crate::repo_root;
use crate::yaml::{FIELD_MANAGER, yaml_documents};

/// The state directory of a [`crate::fault::FaultCluster`] while one runs.
static FAULT_DIR: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Points every helper at the control plane in `dir` (`Some`) or back at the shared one (`None`).
/// Only [`crate::fault::FaultCluster`] calls it, holding the lock that makes it the only test of the
/// process talking to a cluster.
pub(crate) fn set_fault_dir(dir: Option<PathBuf>) {
    *FAULT_DIR.lock().unwrap_or_else(PoisonError::into_inner) = dir;
}

fn fault_dir() -> Option<PathBuf> {
    FAULT_DIR
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone()
}

/// The state directory of `hack/cluster.sh`.
pub fn cluster_dir() -> PathBuf {
    fault_dir()
        .or_else(|| std::env::var_os("VMI_CLUSTER_DIR").map(PathBuf::from))
        .unwrap_or_else(|| repo_root().join("target/cluster"))
}

/// True when the tests use a cluster of `hack/cluster.sh` (not `VMI_E2E_KUBECONFIG`).
pub fn own_cluster() -> bool {
    fault_dir().is_some() || std::env::var_os("VMI_E2E_KUBECONFIG").is_none()
}

/// The admin kubeconfig; on first use for a cluster makes sure it runs.
pub fn kubeconfig_path() -> &'static Path {
    static PATHS: Mutex<BTreeMap<PathBuf, &'static Path>> = Mutex::new(BTreeMap::new());
    let own = own_cluster();
    let key = if own {
        cluster_dir()
    } else {
        PathBuf::from(std::env::var_os("VMI_E2E_KUBECONFIG").unwrap_or_default())
    };
    // Held while `up` runs, so parallel tests wait for the first instead of racing it.
    let mut paths = PATHS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(path) = paths.get(&key) {
        return path;
    }
    let path = if own {
        // Idempotent and fast when the cluster is healthy; the script holds a file lock, so test
        // binaries started at the same time do not race.
        cluster_sh("up");
        key.join("kubeconfig")
    } else {
        key.clone()
    };
    // One small leak per cluster a process uses (one, or one per fault test).
    let path: &'static Path = Box::leak(path.into_boxed_path());
    paths.insert(key, path);
    path
}

/// Runs `hack/cluster.sh <command>` for [`cluster_dir`] (output goes straight to the terminal)
/// and panics if it fails.
pub fn cluster_sh(command: &str) {
    let script = repo_root().join("hack/cluster.sh");
    let dir = cluster_dir();
    let status = Command::new(&script)
        .arg(command)
        .env("VMI_CLUSTER_DIR", &dir)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        status.success(),
        "hack/cluster.sh {command} failed ({status}); logs in {}/logs/",
        dir.display()
    );
}

/// The assignments of `target/cluster/env` (KUBECONFIG, APISERVER_URL, CLUSTER_CA, VMI_KUBECTL, ...).
pub fn cluster_env() -> BTreeMap<String, String> {
    let path = cluster_dir().join("env");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("PATH="))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), unquote(v)))
        .collect()
}

/// Undoes the quoting of bash's `printf %q` for the plain values the env file holds.
fn unquote(v: &str) -> String {
    let v = v.trim();
    if let Some(inner) = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_string();
    }
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

/// An admin client (system:masters).
pub async fn client() -> Client {
    client_from(kubeconfig_path()).await
}

/// A client for the identity of any kubeconfig file, e.g. one of
/// [`crate::namespaces::service_account_kubeconfig`].
pub async fn client_from(kubeconfig: &Path) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig)
        .unwrap_or_else(|e| panic!("cannot read kubeconfig {}: {e}", kubeconfig.display()));
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("bad kubeconfig {}: {e}", kubeconfig.display()));
    Client::try_from(config).unwrap_or_else(|e| panic!("cannot build a client: {e}"))
}

/// Applies every `crds/*.yaml` (server-side apply) and waits until each CRD is Established.
/// Done once per process and cluster; parallel callers wait for the first. If a CRD was new to the
/// cluster (it changed since `hack/cluster.sh up` applied crds/), kube-controller-manager is
/// restarted so that its garbage collector knows the new kinds at once.
pub async fn install_crds(client: &Client) {
    static DONE: Mutex<BTreeMap<PathBuf, Arc<OnceCell<()>>>> = Mutex::new(BTreeMap::new());
    let cell = DONE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .entry(kubeconfig_path().to_path_buf())
        .or_default()
        .clone();
    cell.get_or_init(|| apply_crds(client.clone())).await;
}

async fn apply_crds(client: Client) {
    let dir = repo_root().join("crds");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    files.sort();
    assert!(
        !files.is_empty(),
        "no CRDs in {} (make crds)",
        dir.display()
    );

    let api: Api<CustomResourceDefinition> = Api::all(client);
    let mut names = Vec::new();
    let mut created = false;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read CRD file");
        for doc in yaml_documents(&text, file) {
            let crd: CustomResourceDefinition = serde_json::from_value(doc).unwrap_or_else(|e| {
                panic!("{}: not a CustomResourceDefinition: {e}", file.display())
            });
            let name = crd.metadata.name.clone().expect("CRD without a name");
            created |= api.get_opt(&name).await.expect("get CRD").is_none();
            api.patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&crd),
            )
            .await
            .unwrap_or_else(|e| panic!("cannot apply CRD {name}: {e}"));
            names.push(name);
        }
    }
    for name in &names {
        let established = await_condition(api.clone(), name, conditions::is_crd_established());
        tokio::time::timeout(Duration::from_secs(60), established)
            .await
            .unwrap_or_else(|_| panic!("CRD {name} not Established after 60s"))
            .unwrap_or_else(|e| panic!("watching CRD {name}: {e}"));
    }
    if created && own_cluster() {
        tokio::task::spawn_blocking(|| cluster_sh("restart-kcm"))
            .await
            .expect("restart-kcm");
    }
}
