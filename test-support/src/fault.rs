//! Control planes of a test's own, which it may kill.
//!
//! A fault test starts one with `hack/cluster.sh up` in `target/fault-cluster/<name>` (own ports,
//! own etcd): killing an apiserver that other tests, or other engineers' runs, share would fail
//! them for no reason, and an operator of another run would reconcile this run's libraries. The
//! [`FaultCluster`] guard stops it again when it is dropped, also when the test panics (etcd's
//! data is removed after a passing test; logs stay in `target/fault-cluster/<name>/logs/`).
//!
//! While a [`FaultCluster`] runs, every helper of [`crate::cluster`] (admin client, kubectl,
//! service-account kubeconfigs) talks to it, and no other fault test of the process runs: they
//! take turns on one lock, as they did when each was a test binary of its own. So a binary that
//! holds fault tests holds nothing that uses the shared control plane.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::{cluster, repo_root};

/// Flags of every operator the fault tests run: no webhook, a short sync interval.
pub const OPERATOR_FLAGS: &[&str] = &["--disable-webhook", "--sync-interval", "2s"];

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

/// A control plane of one test alone; stopped (`hack/cluster.sh down`) when dropped.
pub struct FaultCluster {
    dir: PathBuf,
    crds: Option<PathBuf>,
    _turn: MutexGuard<'static, ()>,
}

impl FaultCluster {
    /// Waits for the other fault tests of the process to finish, starts a control plane in
    /// `target/fault-cluster/<name>` and points the helpers of [`crate::cluster`] at it.
    ///
    /// Call it first thing in the test.
    pub fn start(name: &str) -> FaultCluster {
        Self::start_with_crds(name, None)
    }

    /// [`FaultCluster::start`] with the CRDs of `crds` (a folder of YAML files, e.g. VMware's own)
    /// in place of the project's `crds/`.
    pub fn start_with_crds(name: &str, crds: Option<&Path>) -> FaultCluster {
        static TURN: Mutex<()> = Mutex::new(());
        let turn = TURN.lock().unwrap_or_else(PoisonError::into_inner);
        let dir = repo_root().join("target/fault-cluster").join(name);
        std::fs::create_dir_all(&dir).expect("create the fault cluster's state dir");
        cluster::set_fault_dir(Some(dir.clone()));
        // The guard exists before `up`, so a half-started control plane is stopped too.
        let cluster = FaultCluster {
            dir,
            crds: crds.map(Path::to_path_buf),
            _turn: turn,
        };
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
        let mut cmd = Command::new(repo_root().join("hack/cluster.sh"));
        cmd.arg(command).env("VMI_CLUSTER_DIR", &self.dir);
        if let Some(crds) = &self.crds {
            cmd.env("VMI_CLUSTER_CRDS", crds);
        }
        let status = cmd.status().expect("run hack/cluster.sh");
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
        cluster::set_fault_dir(None);
        let status = Command::new(repo_root().join("hack/cluster.sh"))
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
