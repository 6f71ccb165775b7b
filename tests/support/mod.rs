//! Helpers for tests that run the operator itself: its RBAC from `config/rbac/`, the binary as
//! a child process under that identity, and published libraries in temp folders.
#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

use crate::common;

pub mod vcsim;

/// The operator's RBAC as installed (config/rbac/role.yaml and leader_election_role.yaml), bound to
/// `${SERVICE_ACCOUNT}` in `${NAMESPACE}`, with per-namespace names so parallel tests don't share.
pub fn operator_rbac_yaml() -> String {
    let read = |file: &str| -> Value {
        let path = common::repo_root().join("config/rbac").join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        common::yaml_documents(&text, &path).remove(0)
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

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
        let log = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}.log"));
        let out = std::fs::File::create(&log).expect("create operator log");
        let metrics_addr = format!("127.0.0.1:{metrics_port}");
        let child = Command::new(env!("CARGO_BIN_EXE_vmi-operator"))
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

/// Fixture paths.
pub fn fixture(rel: &str) -> PathBuf {
    let path = common::repo_root().join("../shared/fixtures/ovf").join(rel);
    assert!(
        path.exists(),
        "fixture {} is missing (shared/ must sit beside the repo)",
        path.display()
    );
    path
}

/// Runs `vmi-operator publish` on `dir` with a fixed library id; panics on failure.
pub fn publish(dir: &Path, library_id: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_vmi-operator"))
        .args([
            "publish",
            dir.to_str().unwrap(),
            "--library-id",
            library_id,
            "--name",
            "e2e-library",
        ])
        .output()
        .expect("run vmi-operator publish");
    assert!(
        out.status.success(),
        "publish failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Serves `dir` read-only on 127.0.0.1 (a stand-in for any static web server).
pub async fn serve_dir(dir: PathBuf) -> url::Url {
    use axum::extract::{Request, State};
    use axum::http::StatusCode;
    use axum::response::{IntoResponse, Response};
    async fn get(State(dir): State<PathBuf>, req: Request) -> Response {
        let path = percent_encoding::percent_decode_str(req.uri().path())
            .decode_utf8_lossy()
            .into_owned();
        if path.split('/').any(|s| s == "..") {
            return StatusCode::BAD_REQUEST.into_response();
        }
        match std::fs::read(dir.join(path.trim_start_matches('/'))) {
            Ok(bytes) => bytes.into_response(),
            Err(_) => StatusCode::NOT_FOUND.into_response(),
        }
    }
    let app = axum::Router::new().fallback(get).with_state(dir);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url::Url::parse(&format!("http://{addr}/lib.json")).unwrap()
}
