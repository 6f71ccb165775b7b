//! 5,000 images on the node: the pods stay inside the chart's memory limit (no restart, no OOM
//! kill), and the leader's memory is measured against that limit from its container's cgroup.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use serde_json::Value;
use vmi_test_support::library::LibraryWriter;

use crate::chart::{items, lease_holder, manager_pods};
use crate::{Figures, Guard, NS, Node, R, RELEASE, ROOT, ensure};

const N: usize = 5_000;
const SCALE_NS: &str = "node-scale";
const PORT: u16 = 8001;
const MIB: f64 = 1024.0 * 1024.0;

/// `256Mi` and the like, in bytes.
fn quantity(q: &str) -> R<u64> {
    let units = [
        ("Ki", 1 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("k", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
    ];
    let (num, mult) = units
        .iter()
        .find_map(|(u, m)| q.strip_suffix(u).map(|n| (n, *m)))
        .unwrap_or((q, 1));
    num.parse::<u64>()
        .map(|n| n * mult)
        .map_err(|e| format!("quantity {q:?}: {e}"))
}

/// The cgroup folder of a container in a hierarchy of the node (kubelet's cgroupfs layout:
/// <cgroupRoot>/kubepods/<qos>/pod<uid>/<container id>).
fn container_cgroup(root: &Path, id: &str) -> Option<PathBuf> {
    let entries = std::fs::read_dir(root).ok()?;
    for e in entries.flatten() {
        let path = e.path();
        if !path.is_dir() {
            continue;
        }
        if e.file_name() == id {
            return Some(path);
        }
        if let Some(p) = container_cgroup(&path, id) {
            return Some(p);
        }
    }
    None
}

/// hack/node.sh's cgroup root for the kubelet (in its env file).
fn cgroup_root(node: &Node) -> R<String> {
    let env = std::fs::read_to_string(node.dir.join("env")).map_err(|e| e.to_string())?;
    env.lines()
        .find_map(|l| l.strip_prefix("VMI_NODE_CGROUP_ROOT="))
        .map(String::from)
        .ok_or_else(|| "no VMI_NODE_CGROUP_ROOT in the node's env".into())
}

fn read_u64(path: &Path) -> R<u64> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .trim()
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A field of /proc/PID/status in bytes (VmRSS, VmHWM: given in kB).
fn proc_status(pid: &str, field: &str) -> R<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map(|kb| kb * 1024)
        .ok_or_else(|| format!("no {field} in /proc/{pid}/status"))
}

/// What a pod's container used, from its memory cgroup and its process.
struct Memory {
    rss: u64,
    hwm: u64,
    usage: u64,
    peak: u64,
    limit: u64,
    oom_kills: u64,
}

fn memory(node: &Node, pod: &Value) -> R<Memory> {
    let id = pod["status"]["containerStatuses"][0]["containerID"]
        .as_str()
        .and_then(|c| c.split("://").nth(1))
        .ok_or("no containerID")?;
    let v1 = Path::new("/sys/fs/cgroup/memory").join(cgroup_root(node)?);
    let v2 = Path::new("/sys/fs/cgroup").join(cgroup_root(node)?);
    let (dir, v1) = match container_cgroup(&v1, id) {
        Some(d) => (d, true),
        None => (
            container_cgroup(&v2, id).ok_or(format!("no cgroup of container {id}"))?,
            false,
        ),
    };
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).map_err(|e| e.to_string())?;
    // The image's entrypoint is the operator itself: one process.
    let pid = procs.split_whitespace().next().ok_or("no process")?;
    let oom_kills = |file: &str| -> R<u64> {
        let text = std::fs::read_to_string(dir.join(file)).map_err(|e| e.to_string())?;
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0))
    };
    Ok(if v1 {
        Memory {
            rss: proc_status(pid, "VmRSS")?,
            hwm: proc_status(pid, "VmHWM")?,
            usage: read_u64(&dir.join("memory.usage_in_bytes"))?,
            peak: read_u64(&dir.join("memory.max_usage_in_bytes"))?,
            limit: read_u64(&dir.join("memory.limit_in_bytes"))?,
            oom_kills: oom_kills("memory.oom_control")?,
        }
    } else {
        Memory {
            rss: proc_status(pid, "VmRSS")?,
            hwm: proc_status(pid, "VmHWM")?,
            usage: read_u64(&dir.join("memory.current"))?,
            peak: read_u64(&dir.join("memory.peak"))?,
            limit: read_u64(&dir.join("memory.max"))?,
            oom_kills: oom_kills("memory.events")?,
        }
    })
}

/// Follows the images of the namespace with `kubectl get --watch` until `n` are Ready: lists
/// of 5,000 objects every few seconds would cost the apiserver a good part of the sync they wait
/// for (on 2 shared cores). Returns how many were Ready when it gave up.
fn wait_ready(node: &Node, n: usize, timeout: Duration) -> Result<(), usize> {
    let deadline = Instant::now() + timeout;
    let mut ready = HashSet::new();
    // The apiserver closes a watch that falls behind (10,000 events in a minute or two), and
    // kubectl then exits: another one starts, and its list brings the whole state again.
    while Instant::now() < deadline {
        let child = Command::new(Path::new(ROOT).join("hack/node.sh"))
            .args(["kubectl", "get", "vmi", "-n", SCALE_NS, "--watch", "-o"])
            .arg(r#"jsonpath={.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\n"}"#)
            .env("VMI_NODE_DIR", &node.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn();
        let Ok(mut child) = child else {
            std::thread::sleep(Duration::from_secs(1));
            continue;
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let _kubectl = Guard(child);
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        loop {
            let line = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => return Err(ready.len()),
                Err(RecvTimeoutError::Disconnected) => break,
            };
            let mut words = line.split_whitespace();
            let (Some(name), status) = (words.next(), words.next()) else {
                continue;
            };
            if status == Some("True") {
                ready.insert(name.to_string());
            } else {
                ready.remove(name);
            }
            if ready.len() >= n {
                return Ok(());
            }
        }
        eprintln!("  kubectl --watch ended with {} Ready: again", ready.len());
    }
    Err(ready.len())
}

pub fn five_thousand_images(node: &Node, f: &mut Figures) -> R {
    // The library: N items with a descriptor each (hard links of one), written as JSON.
    let dir = node.dir.join("scale-library");
    let _ = std::fs::remove_dir_all(&dir);
    let mut lib = LibraryWriter::new(&dir);
    lib.ovf_items_linked(
        "scale",
        N,
        &Path::new(ROOT).join("tests/data/photon-5.0.ovf"),
    );
    lib.write();
    let (_server, url) = crate::sync::serve_library(node, &dir, PORT, "scale-http.log")?;

    let t = Instant::now();
    node.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {SCALE_NS}}}\n---\n\
         apiVersion: imageregistry.vmware.com/v1alpha2\nkind: ContentLibrary\n\
         metadata: {{name: scale, namespace: {SCALE_NS}}}\nspec: {{id: \"{}\", source: \"{url}\"}}\n",
        lib.id
    ))?;
    wait_ready(node, N, Duration::from_secs(360))
        .map_err(|ready| format!("{ready} of {N} images Ready after {:.0?}", t.elapsed()))?;
    let took = t.elapsed();
    f.add(
        "5,000 images: ContentLibrary applied to all Ready",
        format!("{took:.1?}"),
    );

    // The chart's limit as installed, the pods' status, and what the leader's container used.
    let values: Value = serde_json::from_str(
        &node.helm(&["get", "values", RELEASE, "-n", NS, "--all", "-o", "json"])?,
    )
    .map_err(|e| e.to_string())?;
    let limit_q = values["resources"]["limits"]["memory"]
        .as_str()
        .ok_or("no resources.limits.memory in the release's values")?
        .to_string();
    let limit = quantity(&limit_q)?;
    let leader = lease_holder(node)?;
    let pods = manager_pods(node)?;
    let mut leader_seen = false;
    for pod in items(&pods) {
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        let cs = &pod["status"]["containerStatuses"][0];
        ensure(
            cs["restartCount"] == 0 && cs["state"]["running"].is_object(),
            || format!("{name} restarted or is not running: {cs}"),
        )?;
        ensure(
            cs["lastState"]["terminated"]["reason"] != "OOMKilled",
            || format!("{name} was OOMKilled: {cs}"),
        )?;
        let spec_limit = pod["spec"]["containers"][0]["resources"]["limits"]["memory"]
            .as_str()
            .unwrap_or_default();
        ensure(spec_limit == limit_q, || {
            format!("{name} has memory limit {spec_limit:?}, the chart {limit_q:?}")
        })?;
        let m = memory(node, &pod)?;
        ensure(m.limit == limit, || {
            format!("{name}'s cgroup limit is {} bytes, not {limit_q}", m.limit)
        })?;
        ensure(m.oom_kills == 0 && m.peak < limit, || {
            format!(
                "{name}: {} OOM kills, peak {:.1} MiB of {limit_q}",
                m.oom_kills,
                m.peak as f64 / MIB
            )
        })?;
        let role = if name == leader {
            leader_seen = true;
            "leader"
        } else {
            "other replica"
        };
        f.add(
            &format!("pod memory with 5,000 images ({role})"),
            format!(
                "RSS {:.1} MiB (peak {:.1}), cgroup {:.1} MiB (peak {:.1}), limit {limit_q}: peak {:.0}% of it, 0 restarts, 0 OOM kills",
                m.rss as f64 / MIB,
                m.hwm as f64 / MIB,
                m.usage as f64 / MIB,
                m.peak as f64 / MIB,
                100.0 * m.peak as f64 / limit as f64
            ),
        );
    }
    ensure(leader_seen, || {
        format!("the Lease holder {leader:?} is not a pod of the Deployment")
    })
}
