//! The operator itself: its RBAC from `config/rbac/`, the binary as a child process under that
//! identity, and a namespace to run it in.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use kube::Client;
use serde_json::{Value, json};

use crate::serve::free_port;
use crate::{cluster, namespaces, repo_root, yaml};

/// The `vmi-operator` binary: `$VMI_OPERATOR_BIN`, else the one cargo built beside the running
/// test binary (`target/<profile>/vmi-operator`; cargo builds a package's binaries before its
/// integration tests, and a test in `target/<profile>/deps/` has it one folder up).
pub fn operator_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os("VMI_OPERATOR_BIN") {
        return PathBuf::from(bin);
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut dir = exe.parent().expect("the test binary's folder");
    if dir.file_name().is_some_and(|n| n == "deps") {
        dir = dir.parent().expect("target/<profile>");
    }
    let bin = dir.join("vmi-operator");
    assert!(
        bin.is_file(),
        "{} is missing (cargo test builds it; else set VMI_OPERATOR_BIN)",
        bin.display()
    );
    bin
}

/// The operator's RBAC as installed (config/rbac/role.yaml and leader_election_role.yaml), bound to
/// `${SERVICE_ACCOUNT}` in `${NAMESPACE}`, with per-namespace names so parallel tests don't share.
pub fn operator_rbac_yaml() -> String {
    let read = |file: &str| -> Value {
        let path = repo_root().join("config/rbac").join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        yaml::yaml_documents(&text, &path).remove(0)
    };
    let cluster_rules = read("role.yaml")["rules"].clone();
    let lease_rules = read("leader_election_role.yaml")["rules"].clone();
    let subject = json!([{ "kind": "ServiceAccount", "name": "${SERVICE_ACCOUNT}", "namespace": "${NAMESPACE}" }]);
    let docs = [
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": { "name": "vmi-operator-${NAMESPACE}" }, "rules": cluster_rules }),
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": { "name": "vmi-operator-${NAMESPACE}" },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "vmi-operator-${NAMESPACE}" },
                "subjects": subject }),
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": { "name": "vmi-operator-leader-election", "namespace": "${NAMESPACE}" }, "rules": lease_rules }),
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": { "name": "vmi-operator-leader-election", "namespace": "${NAMESPACE}" },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "vmi-operator-leader-election" },
                "subjects": subject }),
    ];
    docs.iter()
        .map(|d| format!("---\n{}\n", serde_json::to_string(d).unwrap()))
        .collect()
}

/// A namespace with the operator's service account and RBAC; returns it and the kubeconfig of
/// that identity.
pub async fn operator_namespace(client: &Client, prefix: &str) -> (String, PathBuf) {
    cluster::install_crds(client).await;
    let ns = namespaces::test_namespace(client, prefix).await;
    let kubeconfig =
        namespaces::service_account_kubeconfig(client, &ns, "vmi-operator", &operator_rbac_yaml())
            .await;
    (ns, kubeconfig)
}

/// Held by each test that runs the operator on the shared control plane. An operator watches
/// every namespace, so two of them (of two tests) would reconcile each other's libraries: such
/// tests run one at a time, as they did when each was a test binary of its own.
#[must_use = "the test runs alone only while this is held"]
pub struct OneOperatorTest {
    _guard: MutexGuard<'static, ()>,
}

/// Waits until no other test of this process runs the operator on the shared control plane.
pub fn one_operator_test() -> OneOperatorTest {
    static LOCK: Mutex<()> = Mutex::new(());
    OneOperatorTest {
        _guard: LOCK.lock().unwrap_or_else(PoisonError::into_inner),
    }
}

/// The source policy of the operators the tests run: their namespaced libraries are folders
/// (file://) and web servers on loopback, which the default policy refuses to tenants.
pub const TEST_SOURCE_POLICY: &[&str] = &[
    "--source-namespaced-schemes",
    "file,http,https",
    "--source-allow-loopback",
];

/// The operator binary running as a child process; killed when dropped.
pub struct OperatorProcess {
    pub child: Child,
    pub metrics_port: u16,
    pub log: PathBuf,
}

impl OperatorProcess {
    /// Starts `vmi-operator run` with `kubeconfig` and extra flags; logs go to a file in
    /// cargo's target/tmp (printed when a test fails).
    pub fn start(name: &str, kubeconfig: &Path, extra: &[&str]) -> Self {
        let metrics_port = free_port();
        let log = crate::scratch_dir().join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("create operator log");
        let metrics_addr = format!("127.0.0.1:{metrics_port}");
        let child = Command::new(operator_bin())
            .args([
                "run",
                "--metrics-addr",
                &metrics_addr,
                "--log-level",
                "info,vmi_operator=debug,kube_runtime=debug",
            ])
            .args(TEST_SOURCE_POLICY)
            .args(extra)
            .env("KUBECONFIG", kubeconfig)
            .env_remove("VMI_VCENTER_URL")
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .expect("start vmi-operator");
        OperatorProcess {
            child,
            metrics_port,
            log,
        }
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GETs a path of the metrics/health server; None while it does not answer.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{}{path}", self.metrics_port);
        let response = reqwest::get(&url).await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    pub async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            if let Some((200, _)) = self.get("/readyz").await {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "operator not ready after 60s; log:\n{}",
                self.logs()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "operator did not exit within 20s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OperatorProcess {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "---- operator log {} ----\n{}",
                self.log.display(),
                self.logs()
            );
        }
    }
}
