//! vcsim (govmomi's vSphere simulator) on loopback for tests, started by `hack/vcsim.sh` with a
//! CA of its own; or on another address inside a network namespace ([`Vcsim::start_in`]: the
//! node of tests/node). vcsim gets its stdin on a pipe we hold, so it exits with the test process
//! even if the test is killed.

use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::{ChildStdin, Command, Stdio};

use url::Url;
use vmi_operator::source::VsphereConfig;

fn script() -> PathBuf {
    crate::repo_root().join("hack/vcsim.sh")
}

pub struct Vcsim {
    pub state: tempfile::TempDir,
    env: HashMap<String, String>,
    _stdin: Option<ChildStdin>,
    /// The command that runs govc where vcsim listens (empty: here).
    wrap: Vec<String>,
}

impl Vcsim {
    pub fn start() -> Vcsim {
        Self::start_in(&[], "127.0.0.1")
    }

    /// vcsim serving on `addr`, started (and govc run) through `wrap`, a command that runs its
    /// arguments in another network namespace, e.g. `hack/node.sh exec`. Its state folder is on
    /// this machine's file system, which the wrapped commands must see too.
    pub fn start_in(wrap: &[String], addr: &str) -> Vcsim {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let state = tempfile::tempdir().unwrap();
        let mut cmd = wrapped(wrap, "bash");
        let mut child = cmd
            .arg(script())
            .arg("start")
            .env("VCSIM_STATE_DIR", state.path())
            .env("VCSIM_ADDR", addr)
            .env("VCSIM_STDIN_EXIT", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run hack/vcsim.sh");
        let stdin = child.stdin.take();
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(
            child.wait().unwrap().success(),
            "hack/vcsim.sh start failed"
        );
        let env = out
            .lines()
            .filter_map(|l| l.strip_prefix("export "))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.trim_matches('\'').to_string()))
            .collect();
        Vcsim {
            state,
            env,
            _stdin: stdin,
            wrap: wrap.to_vec(),
        }
    }

    pub fn var(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("{key} missing from hack/vcsim.sh env"))
    }

    pub fn config(&self) -> VsphereConfig {
        VsphereConfig {
            url: Url::parse(self.var("VMI_VCSIM_URL")).unwrap(),
            username: self.var("VMI_VCSIM_USERNAME").into(),
            password: self.var("VMI_VCSIM_PASSWORD").into(),
            ca_bundle_pem: Some(std::fs::read(self.var("VMI_VCSIM_CA")).unwrap()),
            insecure_skip_verify: false,
        }
    }

    /// Creates a local content library on vcsim's datastore; returns its id.
    pub fn create_library(&self, name: &str) -> String {
        self.govc(&[
            "library.create",
            "-ds",
            self.var("VMI_VCSIM_DATASTORE"),
            name,
        ])
    }

    pub fn govc(&self, args: &[&str]) -> String {
        let mut cmd = wrapped(&self.wrap, self.var("VMI_GOVC"));
        cmd.args(args);
        for (k, v) in &self.env {
            if k.starts_with("GOVC_") {
                cmd.env(k, v);
            }
        }
        let out = cmd.output().expect("run govc");
        assert!(
            out.status.success(),
            "govc {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }
}

/// `program`, or `wrap` running it.
fn wrapped(wrap: &[String], program: &str) -> Command {
    match wrap.split_first() {
        None => Command::new(program),
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(program);
            c
        }
    }
}

impl Drop for Vcsim {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .env("VCSIM_STATE_DIR", self.state.path())
            .status();
    }
}
