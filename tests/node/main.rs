//! The operator as pods on a real node (hack/node.sh: kubelet, containerd + runc, kube-proxy, the
//! control plane, all in a network and mount namespace of their own), installed from its Helm
//! chart with the image of `make image`.
//!
//! One node for the whole binary, brought up here (state in target/node-test) and torn down at the
//! end whatever happens; the steps share it and run in order, each building on the one before
//! (install, then the webhook, the sync, the rollout, the takeover, vcsim, 5,000 images,
//! kustomize). `harness = false`: libtest has no hook to tear a shared node down, and the order
//! matters.
//!
//! Skipped (saying why) only when not root: a node needs network and mount namespaces and cgroups.
//! VMI_NODE_KEEP=1 leaves the node running for a look (`VMI_NODE_DIR=target/node-test hack/node.sh
//! kubectl ...`).

mod chart;
mod image;
mod kustomize;
mod rollout;
mod scale;
mod sync;
mod vcenter;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub type R<T = ()> = Result<T, String>;

pub const ROOT: &str = env!("CARGO_MANIFEST_DIR");
pub const NS: &str = "vmware-system-vmop";
pub const RELEASE: &str = "vmware-system-vmop";
pub const DEPLOYMENT: &str = "vmware-system-vmop-controller-manager";
pub const LEASE: &str = "vmware-system-vmop-leader";
pub const IMAGE_REPO: &str = "localhost/vmi-operator";
pub const NODE_IP: &str = "10.210.0.2";

/// The node of hack/node.sh, with its state folder.
pub struct Node {
    pub dir: PathBuf,
    keep: bool,
}

impl Node {
    fn up(dir: PathBuf) -> R<Node> {
        let node = Node {
            dir,
            keep: std::env::var_os("VMI_NODE_KEEP").is_some(),
        };
        node.script(&["up"]).map(|_| node)
    }

    pub fn script(&self, args: &[&str]) -> R<String> {
        let mut c = Command::new(Path::new(ROOT).join("hack/node.sh"));
        c.args(args).env("VMI_NODE_DIR", &self.dir);
        run(c, None)
    }

    pub fn kubectl(&self, args: &[&str]) -> R<String> {
        self.script(&[&["kubectl"], args].concat())
    }

    pub fn kubectl_in(&self, args: &[&str], stdin: &str) -> R<String> {
        let mut c = Command::new(Path::new(ROOT).join("hack/node.sh"));
        c.arg("kubectl").args(args).env("VMI_NODE_DIR", &self.dir);
        run(c, Some(stdin))
    }

    pub fn apply(&self, yaml: &str) -> R<String> {
        self.kubectl_in(&["apply", "-f", "-"], yaml)
    }

    /// `kubectl get ARGS -o json`, parsed.
    pub fn get(&self, args: &[&str]) -> R<Value> {
        let out = self.kubectl(&[&["get"], args, &["-o", "json"]].concat())?;
        serde_json::from_str(&out).map_err(|e| format!("kubectl get {args:?}: {e}"))
    }

    pub fn helm(&self, args: &[&str]) -> R<String> {
        self.script(&[&["helm"], args].concat())
    }

    pub fn ctr(&self, args: &[&str]) -> R<String> {
        self.script(&[&["ctr"], args].concat())
    }

    /// A long-running process inside the node's namespaces (a server on the node IP).
    pub fn spawn(&self, args: &[&str], cwd: &Path, log: &Path) -> R<Guard> {
        let log = std::fs::File::create(log).map_err(|e| e.to_string())?;
        let child = Command::new(Path::new(ROOT).join("hack/node.sh"))
            .arg("exec")
            .args(args)
            .env("VMI_NODE_DIR", &self.dir)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn {args:?}: {e}"))?;
        Ok(Guard(child))
    }

    /// `helm install` (or upgrade) of the chart with the local image at TAG; returns how long it
    /// took to be Ready (--wait).
    pub fn helm_install(&self, tag: &str) -> R<Duration> {
        self.helm_install_with(tag, &[])
    }

    /// [`Node::helm_install`] with more values (`--set`, `--set-file` ...).
    pub fn helm_install_with(&self, tag: &str, values: &[&str]) -> R<Duration> {
        let t = Instant::now();
        let chart = format!("{ROOT}/charts/vmi-operator");
        let (repo, tag) = (
            format!("image.repository={IMAGE_REPO}"),
            format!("image.tag={tag}"),
        );
        let mut args = vec![
            "upgrade",
            "--install",
            RELEASE,
            &chart,
            "-n",
            NS,
            "--create-namespace",
            "--set",
            &repo,
            "--set",
            &tag,
            "--set",
            "image.pullPolicy=Never",
            // The node has no VM Operator: the chart brings the VirtualMachine CRD.
            "--set",
            "crds.virtualMachine=true",
            "--wait",
            "--timeout",
            "4m",
        ];
        args.extend_from_slice(values);
        self.helm(&args)?;
        Ok(t.elapsed())
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if self.keep {
            eprintln!(
                "VMI_NODE_KEEP: the node keeps running (VMI_NODE_DIR={})",
                self.dir.display()
            );
            return;
        }
        if let Err(e) = self.script(&["down"]) {
            eprintln!("hack/node.sh down: {e}");
        }
    }
}

/// Kills its process when dropped.
pub struct Guard(Child);
impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn run(mut c: Command, stdin: Option<&str>) -> R<String> {
    let what = format!("{c:?}");
    c.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| format!("{what}: {e}"))?;
    if let Some(s) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(s.as_bytes())
            .map_err(|e| format!("{what}: stdin: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

/// Polls F every 300 ms until it gives Some, or fails after TIMEOUT with the last error.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> R<Option<T>>) -> R<T> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    loop {
        match f() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = e,
        }
        if Instant::now() >= deadline {
            return Err(format!("{what}: not after {timeout:?} {last}"));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

pub fn ensure(cond: bool, msg: impl FnOnce() -> String) -> R {
    if cond { Ok(()) } else { Err(msg()) }
}

/// Figures measured on the way, printed at the end (the numbers of the note).
#[derive(Default)]
pub struct Figures(Vec<(String, String)>);
impl Figures {
    pub fn add(&mut self, k: &str, v: String) {
        eprintln!("  figure: {k}: {v}");
        self.0.push((k.to_string(), v));
    }
}

type Step = (&'static str, fn(&Node, &mut Figures) -> R);

fn main() {
    // `cargo test FILTER` and `--list` reach every binary: run the node only when asked for.
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    if !filters.is_empty()
        && !filters
            .iter()
            .any(|f| "node::".contains(f.as_str()) || f.starts_with("node"))
    {
        return;
    }
    if euid() != 0 {
        println!(
            "node tests skipped: a node needs root (network and mount namespaces, cgroups); running as uid {}",
            euid()
        );
        return;
    }
    let started = Instant::now();
    let mut figures = Figures::default();
    // The images first: hack/image.sh is a no-op when the archives are newer than their sources.
    let t = Instant::now();
    let mut c = Command::new(Path::new(ROOT).join("hack/image.sh"));
    c.env(
        "VMI_IMAGE_DIR",
        Path::new(ROOT).join("target/image").as_os_str(),
    );
    if let Err(e) = run(c, None) {
        println!("test node::images ... FAILED\n{e}");
        std::process::exit(1);
    }
    figures.add(
        "make image (cached when fresh)",
        format!("{:.1?}", t.elapsed()),
    );
    if let Err(e) = image::archive_config() {
        println!("test node::image_archive ... FAILED\n{e}");
        std::process::exit(1);
    }
    println!("test node::image_archive ... ok");
    match image::same_as_docker_build() {
        Ok(true) => println!("test node::image_same_as_docker_build ... ok"),
        Ok(false) => {
            println!("test node::image_same_as_docker_build ... skipped (no Docker engine)")
        }
        Err(e) => {
            println!("test node::image_same_as_docker_build ... FAILED\n{e}");
            std::process::exit(1);
        }
    }

    let t = Instant::now();
    let node = match Node::up(Path::new(ROOT).join("target/node-test")) {
        Ok(n) => n,
        Err(e) => {
            println!("test node::up ... FAILED\n{e}");
            // Whatever came up goes down.
            let _ = Node {
                dir: Path::new(ROOT).join("target/node-test"),
                keep: false,
            }
            .script(&["down"]);
            std::process::exit(1);
        }
    };
    figures.add("node up to Ready", format!("{:.1?}", t.elapsed()));

    // In order; a failed step stops the steps after it that need its state.
    let steps: &[Step] = &[
        (
            "chart_two_replicas_one_lease",
            chart::two_replicas_one_lease,
        ),
        ("chart_probes_and_json_logs", chart::probes_and_json_logs),
        (
            "webhook_through_its_service",
            chart::webhook_through_its_service,
        ),
        (
            "sync_published_library_in_the_node",
            sync::published_library,
        ),
        (
            "rollout_no_refused_admission",
            rollout::upgrade_rolls_both_pods,
        ),
        ("leader_takeover", rollout::leader_takeover),
        (
            "vcenter_library_from_vcsim_in_the_node",
            vcenter::vcsim_library,
        ),
        (
            "five_thousand_images_inside_the_memory_limit",
            scale::five_thousand_images,
        ),
        ("kustomize_config_default", kustomize::config_default_ready),
    ];
    let mut failed = Vec::new();
    for (i, (name, step)) in steps.iter().enumerate() {
        let t = Instant::now();
        let r =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| step(&node, &mut figures)))
                .unwrap_or_else(|p| {
                    Err(p
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panic".into()))
                });
        match r {
            Ok(()) => println!("test node::{name} ... ok ({:.1?})", t.elapsed()),
            Err(e) => {
                println!("test node::{name} ... FAILED ({:.1?})\n{e}", t.elapsed());
                failed.push(*name);
                // The first three are what every later step stands on.
                if i < 3 {
                    break;
                }
            }
        }
    }
    if !failed.is_empty() {
        let _ = node
            .kubectl(&["get", "pods", "-A", "-o", "wide"])
            .map(|s| eprintln!("{s}"));
        let logs = node.dir.join("logs");
        eprintln!("node logs: {} (kept until the next start)", logs.display());
    }
    drop(node);
    println!("\nnode figures:");
    for (k, v) in &figures.0 {
        println!("  {k}: {v}");
    }
    println!("node tests took {:.1?}", started.elapsed());
    if failed.is_empty() {
        println!("test result: ok");
    } else {
        println!("test result: FAILED: {}", failed.join(", "));
        std::process::exit(1);
    }
}

fn euid() -> u32 {
    // No libc crate: the owner of /proc/self is the effective uid.
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self")
        .map(|m| m.uid())
        .unwrap_or(u32::MAX)
}
