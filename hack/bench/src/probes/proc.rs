//! Processes: memory and CPU from /proc.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use vmi_test_support::cluster;

pub(crate) fn proc_status_kb(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// (VmRSS, VmHWM) in MiB.
pub(crate) fn memory(pid: u32) -> Value {
    let mib = |key| proc_status_kb(pid, key).map(|kb| (kb as f64 / 1024.0 * 10.0).round() / 10.0);
    json!({ "rss_mib": mib("VmRSS"), "peak_rss_mib": mib("VmHWM") })
}

/// RSS and peak RSS of the control plane's processes: at 100,000 images the apiserver, not the
/// operator, is what the machine runs out of (floor and operator alike).
pub(crate) fn control_plane_memory() -> Value {
    let map: serde_json::Map<String, Value> = ["kube-apiserver", "etcd"]
        .iter()
        .filter_map(|c| Some((c.to_string(), memory(cluster_pid(c)?))))
        .collect();
    Value::Object(map)
}

/// User + system CPU seconds of a process (USER_HZ is 100 on Linux).
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

pub(crate) fn cluster_pid(component: &str) -> Option<u32> {
    std::fs::read_to_string(cluster::cluster_dir().join(format!("pids/{component}.pid")))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Busy CPU seconds of the whole machine (all CPUs), from the first line of /proc/stat.
pub(crate) fn machine_busy_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<f64> = text
        .lines()
        .next()?
        .strip_prefix("cpu ")?
        .split_whitespace()
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let busy = [0, 1, 2, 5, 6, 7]
        .iter()
        .filter_map(|&i| fields.get(i))
        .sum::<f64>();
    Some(busy / 100.0)
}

/// CPU seconds so far of the operator (when given), the control plane's processes, this
/// benchmark process, and the whole machine (`machine`).
pub(crate) fn cpu_snapshot(operator: Option<u32>) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    if let Some(s) = operator.and_then(cpu_seconds) {
        out.insert("vmi-operator".to_string(), s);
    }
    for c in ["kube-apiserver", "etcd", "kube-controller-manager"] {
        if let Some(s) = cluster_pid(c).and_then(cpu_seconds) {
            out.insert(c.to_string(), s);
        }
    }
    if let Some(s) = cpu_seconds(std::process::id()) {
        out.insert("bench".to_string(), s);
    }
    if let Some(s) = machine_busy_seconds() {
        out.insert("machine".to_string(), s);
    }
    out
}

/// CPU seconds used between two snapshots, per process; `others` is what the rest of the
/// machine used meanwhile (other people's builds and tests share these CPUs).
pub(crate) fn cpu_delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> Value {
    let round = |x: f64| (x * 100.0).round() / 100.0;
    let deltas: BTreeMap<String, f64> = after
        .iter()
        .filter_map(|(k, a)| Some((k.clone(), a - before.get(k)?)))
        .collect();
    let mut map: serde_json::Map<String, Value> = deltas
        .iter()
        .map(|(k, d)| (k.clone(), json!(round(*d))))
        .collect();
    if let Some(machine) = deltas.get("machine") {
        let ours: f64 = deltas
            .iter()
            .filter(|(k, _)| k.as_str() != "machine")
            .map(|(_, d)| d)
            .sum();
        map.insert("others".into(), json!(round((machine - ours).max(0.0))));
    }
    Value::Object(map)
}

pub(crate) fn loadavg() -> Value {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let v: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .filter_map(|s| s.parse().ok())
        .collect();
    json!(v)
}

pub(crate) fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name")?.split_once(':'))
        .map(|(_, m)| m.trim().to_string());
    let mem_gib =
        proc_meminfo_kb("MemTotal").map(|kb| (kb as f64 / 1048576.0 * 10.0).round() / 10.0);
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "cpu_model": model,
        "memory_gib": mem_gib,
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
    })
}

pub(crate) fn proc_meminfo_kb(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
