//! The benchmark report of `make bench` / `make bench-quick` (issue 8, item 1). `hack/bench.sh`
//! drives it, one phase per fresh loopback control plane (`hack/cluster.sh` with its own
//! `VMI_CLUSTER_DIR`), and this binary does the measuring:
//!
//! - `floor --sizes 1000,5000 [--floor-concurrency 16,32] --out F`: the apiserver's floor for a
//!   sync. A plain kube client, under the operator's own ServiceAccount and RBAC (so API Priority
//!   and Fairness treats it like the operator), writes exactly the objects the operator would
//!   write for a library of N items (payloads computed with the operator's own pure functions):
//!   per item, apply the item, its status, the image and its status, 16 (or 32) items at once,
//!   after an untimed warm-up of 100 items; each run twice (the report takes the faster). No
//!   operator runs in that cluster.
//! - `operator --sizes 1000,5000 --binary B --tag T --out F`: the release binary as a child
//!   process under that same identity, with its webhook serving (the webhook's image index is
//!   part of the memory it needs). Idle RSS on an empty cluster; then per N, a published library
//!   of N items (one small OVF, hard-linked N times under distinct names) and the wall time from
//!   creating the ContentLibrary to N items and to N Ready images (watches, not the 60 s gauge),
//!   the operator's writes (`vmi_operator_writes_total`), the writes the apiserver saw
//!   (`apiserver_request_total`, events included), CPU seconds of each process, RSS; then a
//!   restart with every image present: time to `/readyz`, to the first library sync and to the
//!   image controller's first pass, and how many descriptors it fetched again (should be 0).
//! - `report --mode quick|full`: folds the parts, `target/bench/ovf.json` and
//!   `target/bench/webhook.json` (the other two benchmarks) into `target/bench/report.md` and
//!   `report.json`, and prints the table.
//!
//! Run without a command (e.g. by a bare `cargo bench`), it prints a hint and does nothing.
//! Everything is loopback-only and bounded by deadlines.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/webhook_support/mod.rs"]
mod webhook_support;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, ObjectMeta, Patch, PatchParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use tokio::sync::watch;
use vmi_operator::api::{
    ContentLibrary, ContentLibraryItem, ContentLibraryRef, ContentLibrarySpec, ProviderRef,
    VirtualMachineImage,
};
use vmi_operator::image::desired::{Descriptor, ItemFacts, image_labels};
use vmi_operator::kinds::ImageKind;
use vmi_operator::publish::{PublishOptions, publish_dir};
use vmi_operator::source::{LibrarySource, PublishedSource, TlsOptions};
use vmi_operator::sync::plan;

/// Reconciles (and writes) in flight at once: the operator's default `--concurrency` and
/// write concurrency, used by the floor too.
const CONCURRENCY: usize = 16;
/// How long the operator's counters must stay still before a run counts as settled.
const QUIET: Duration = Duration::from_secs(5);

fn main() {
    let args = Args::parse();
    let Some(command) = args.command.clone() else {
        eprintln!(
            "bench_report: run it through hack/bench.sh (make bench, make bench-quick); nothing to do"
        );
        return;
    };
    if command == "report" {
        report(&args);
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let out = match command.as_str() {
        "floor" => runtime.block_on(floor_phase(&args)),
        "operator" => runtime.block_on(operator_phase(&args)),
        other => {
            eprintln!("bench_report: unknown command {other:?} (floor, operator, report)");
            std::process::exit(2);
        }
    };
    let path = args.out.clone().unwrap_or_else(|| {
        bench_dir()
            .join("parts")
            .join(format!("{command}-{}.json", args.tag))
    });
    write_json(&path, &out);
    eprintln!("[bench] wrote {}", path.display());
}

// ---------------------------------------------------------------------------------------------
// Arguments and paths

#[derive(Clone, Debug)]
struct Args {
    command: Option<String>,
    sizes: Vec<usize>,
    binary: PathBuf,
    tag: String,
    out: Option<PathBuf>,
    mode: String,
    startup: bool,
    floor_concurrency: Vec<usize>,
    /// `report --strict`: exit 1 when the report has findings (CI's regression check).
    strict: bool,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            command: None,
            sizes: vec![200, 1000],
            binary: common::repo_root().join("target/release/vmi-operator"),
            tag: "main".into(),
            out: None,
            mode: "quick".into(),
            startup: true,
            floor_concurrency: vec![CONCURRENCY, 2 * CONCURRENCY],
            strict: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            let mut value =
                |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
            match a.as_str() {
                // `cargo bench` adds --bench to harness-less benches.
                "--bench" => {}
                "--sizes" => {
                    args.sizes = value("--sizes")
                        .split(',')
                        .map(|s| s.trim().parse().expect("--sizes: numbers, comma-separated"))
                        .collect()
                }
                "--floor-concurrency" => {
                    args.floor_concurrency = value("--floor-concurrency")
                        .split(',')
                        .map(|s| s.trim().parse().expect("--floor-concurrency: numbers"))
                        .collect()
                }
                "--binary" => args.binary = value("--binary").into(),
                "--tag" => args.tag = value("--tag"),
                "--out" => args.out = Some(value("--out").into()),
                "--mode" => args.mode = value("--mode"),
                "--no-startup" => args.startup = false,
                "--strict" => args.strict = true,
                other if !other.starts_with('-') && args.command.is_none() => {
                    args.command = Some(other.to_string())
                }
                other => panic!("unknown argument {other:?}"),
            }
        }
        args
    }
}

/// Where everything goes: `target/bench` (`VMI_BENCH_DIR` overrides).
fn bench_dir() -> PathBuf {
    std::env::var_os("VMI_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::repo_root().join("target/bench"))
}

fn write_json(path: &Path, value: &Value) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create output dir");
    }
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap() + "\n")
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

/// The operator's RBAC as installed (config/rbac/role.yaml and leader_election_role.yaml),
/// bound to `${SERVICE_ACCOUNT}` in `${NAMESPACE}` (as tests/support does for the e2e tests).
fn operator_rbac_yaml() -> String {
    let read = |file: &str| -> Value {
        let path = common::repo_root().join("config/rbac").join(file);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        common::yaml_documents(&text, &path).remove(0)
    };
    let subject = json!([{ "kind": "ServiceAccount", "name": "${SERVICE_ACCOUNT}", "namespace": "${NAMESPACE}" }]);
    let docs = [
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                "metadata": { "name": "vmi-operator-${NAMESPACE}" }, "rules": read("role.yaml")["rules"] }),
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                "metadata": { "name": "vmi-operator-${NAMESPACE}" },
                "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "vmi-operator-${NAMESPACE}" },
                "subjects": subject }),
        json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": { "name": "vmi-operator-leader-election", "namespace": "${NAMESPACE}" },
                "rules": read("leader_election_role.yaml")["rules"] }),
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
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

// ---------------------------------------------------------------------------------------------
// Libraries

struct Library {
    n: usize,
    id: String,
    url: String,
}

/// A published library of `n` items in `target/bench/libs/n<N>/`: `n` hard links (distinct
/// names, so distinct item UUIDs) of one copy of `tests/data/photon-5.0.ovf` (its disk file is
/// left out: the descriptor is all the operator reads), published with `publish_dir`. Reused
/// when a previous run left one of the right size.
fn prepare_library(n: usize) -> Library {
    let root = bench_dir().join("libs");
    let dir = root.join(format!("n{n}"));
    let id = format!("b3e0c0de-0000-4000-8000-{n:012}");
    let listed =
        read_json(&dir.join("items.json")).and_then(|v| v["items"].as_array().map(Vec::len));
    if listed != Some(n) {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create library dir");
        // One seed per library keeps each inode's link count at 2n, far below ext4's 65,000.
        let seed = root.join(format!("seed-n{n}.ovf"));
        std::fs::copy(common::repo_root().join("tests/data/photon-5.0.ovf"), &seed)
            .expect("copy the seed OVF");
        for i in 0..n {
            let path = dir.join(format!("tmpl-{i:05}.ovf"));
            if std::fs::hard_link(&seed, &path).is_err() {
                std::fs::copy(&seed, &path).expect("copy template");
            }
        }
        let started = Instant::now();
        let summary = publish_dir(
            &dir,
            PublishOptions {
                name: Some(format!("bench-{n}")),
                library_id: Some(id.clone()),
                rehash: false,
            },
        )
        .unwrap_or_else(|e| panic!("publish {}: {e}", dir.display()));
        eprintln!(
            "[bench] published {} items in {:.1}s ({})",
            summary.items.len(),
            started.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    let dir = dir.canonicalize().expect("library dir");
    Library {
        n,
        id,
        url: format!("file://{}/lib.json", dir.display()),
    }
}

/// Creates (server-side applies) the ContentLibrary `images` of `lib` in `ns`.
async fn apply_library(client: &Client, ns: &str, lib: &Library) -> ContentLibrary {
    let object = ContentLibrary::new(
        "images",
        ContentLibrarySpec {
            uuid: lib.id.clone(),
            writable: false,
            source: Some(lib.url.clone()),
        },
    );
    Api::<ContentLibrary>::namespaced(client.clone(), ns)
        .patch(
            "images",
            &PatchParams::apply(common::FIELD_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .unwrap_or_else(|e| panic!("create ContentLibrary in {ns}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Processes: memory and CPU from /proc

fn proc_status_kb(pid: u32, key: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// (VmRSS, VmHWM) in MiB.
fn memory(pid: u32) -> Value {
    let mib = |key| proc_status_kb(pid, key).map(|kb| (kb as f64 / 1024.0 * 10.0).round() / 10.0);
    json!({ "rss_mib": mib("VmRSS"), "peak_rss_mib": mib("VmHWM") })
}

/// User + system CPU seconds of a process (USER_HZ is 100 on Linux).
fn cpu_seconds(pid: u32) -> Option<f64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = text.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn cluster_pid(component: &str) -> Option<u32> {
    std::fs::read_to_string(common::cluster_dir().join(format!("pids/{component}.pid")))
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// CPU seconds so far of the operator (when given) and the control plane's processes.
/// Busy CPU seconds of the whole machine (all CPUs), from the first line of /proc/stat.
fn machine_busy_seconds() -> Option<f64> {
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
fn cpu_snapshot(operator: Option<u32>) -> BTreeMap<String, f64> {
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
fn cpu_delta(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>) -> Value {
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

fn loadavg() -> Value {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let v: Vec<f64> = text
        .split_whitespace()
        .take(3)
        .filter_map(|s| s.parse().ok())
        .collect();
    json!(v)
}

fn machine() -> Value {
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

fn proc_meminfo_kb(key: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

// ---------------------------------------------------------------------------------------------
// Prometheus text

type Samples = Vec<(String, BTreeMap<String, String>, f64)>;

/// Parses Prometheus / OpenMetrics text: (name, labels, value) per sample line.
fn parse_prometheus(text: &str) -> Samples {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, labels, rest) = match line.find('{') {
            Some(open) => {
                let Some(close) = line.rfind('}') else {
                    continue;
                };
                (
                    &line[..open],
                    parse_labels(&line[open + 1..close]),
                    &line[close + 1..],
                )
            }
            None => match line.split_once(' ') {
                Some((name, rest)) => (name, BTreeMap::new(), rest),
                None => continue,
            },
        };
        if let Some(value) = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<f64>().ok())
        {
            out.push((name.to_string(), labels, value));
        }
    }
    out
}

fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_string();
        let after = &rest[eq + 1..];
        let Some(body) = after.strip_prefix('"') else {
            break;
        };
        let mut value = String::new();
        let mut chars = body.char_indices();
        let mut end = body.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, n)) = chars.next() {
                        value.push(if n == 'n' { '\n' } else { n });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(key, value);
        rest = &body[end..];
    }
    labels
}

/// Sum of a metric over the samples whose `label` starts with `prefix` (all when empty).
fn metric_sum(samples: &Samples, name: &str, label: &str, prefix: &str) -> f64 {
    samples
        .iter()
        .filter(|(n, labels, _)| {
            n == name
                && (prefix.is_empty() || labels.get(label).is_some_and(|v| v.starts_with(prefix)))
        })
        .map(|(_, _, v)| v)
        .sum::<f64>()
        + 0.0
}

/// A metric by one label's value.
fn metric_by(samples: &Samples, name: &str, label: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (n, labels, v) in samples {
        if n == name {
            *out.entry(labels.get(label).cloned().unwrap_or_default())
                .or_default() += v;
        }
    }
    out
}

/// The kube-apiserver's request counters, `VERB resource[/subresource]` (with the code when it
/// is not 2xx), resource requests only.
async fn apiserver_requests(client: &Client) -> BTreeMap<String, f64> {
    let request = http::Request::get("/metrics")
        .body(Vec::new())
        .expect("request");
    let text = match client.request_text(request).await {
        Ok(text) => text,
        Err(e) => {
            eprintln!("[bench] warning: cannot read the apiserver's /metrics: {e}");
            return BTreeMap::new();
        }
    };
    let mut out = BTreeMap::new();
    for (name, labels, value) in parse_prometheus(&text) {
        if name != "apiserver_request_total" {
            continue;
        }
        let get = |k: &str| labels.get(k).map(String::as_str).unwrap_or("");
        if get("resource").is_empty() {
            continue;
        }
        let mut key = format!("{} {}", get("verb"), get("resource"));
        if !get("subresource").is_empty() {
            key = format!("{key}/{}", get("subresource"));
        }
        if !get("code").starts_with('2') {
            key = format!("{key} code={}", get("code"));
        }
        *out.entry(key).or_default() += value;
    }
    out
}

fn requests_delta(
    before: &BTreeMap<String, f64>,
    after: &BTreeMap<String, f64>,
) -> BTreeMap<String, f64> {
    after
        .iter()
        .map(|(k, a)| (k.clone(), a - before.get(k).copied().unwrap_or(0.0)))
        .filter(|(_, d)| *d > 0.0)
        .collect()
}

fn is_write(key: &str) -> bool {
    matches!(
        key.split(' ').next(),
        Some("POST" | "PUT" | "PATCH" | "APPLY" | "DELETE" | "DELETECOLLECTION")
    )
}

fn writes_in(delta: &BTreeMap<String, f64>) -> f64 {
    delta
        .iter()
        .filter(|(k, _)| is_write(k))
        .map(|(_, v)| v)
        .sum()
}

fn event_writes_in(delta: &BTreeMap<String, f64>) -> f64 {
    delta
        .iter()
        .filter(|(k, _)| is_write(k) && k.split(' ').nth(1) == Some("events"))
        .map(|(_, v)| v)
        .sum::<f64>()
        + 0.0
}

// ---------------------------------------------------------------------------------------------
// The operator as a child process

struct Operator {
    child: Child,
    metrics_port: u16,
    spawned: Instant,
    log: PathBuf,
}

impl Operator {
    /// `vmi-operator run` under `kubeconfig` with its webhook serving from `cert_dir`.
    /// `--sync-interval 1h` keeps periodic re-listings out of the counts.
    fn start(binary: &Path, kubeconfig: &Path, cert_dir: &Path, log: PathBuf) -> Operator {
        let metrics_port = free_port();
        let webhook_port = free_port();
        let out = std::fs::File::create(&log).expect("create operator log");
        let spawned = Instant::now();
        let child = Command::new(binary)
            .args(["run", "--metrics-addr"])
            .arg(format!("127.0.0.1:{metrics_port}"))
            .arg("--webhook-addr")
            .arg(format!("127.0.0.1:{webhook_port}"))
            .arg("--webhook-cert-dir")
            .arg(cert_dir)
            .args(["--sync-interval", "1h", "--log-level", "info"])
            .env("KUBECONFIG", kubeconfig)
            .env_remove("VMI_VCENTER_URL")
            .env_remove("VMI_DISABLE_WEBHOOK")
            .env_remove("VMI_CONCURRENCY")
            .env_remove("VMI_LEADER_ELECT")
            .stdin(Stdio::null())
            .stdout(Stdio::from(out.try_clone().expect("log handle")))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        Operator {
            child,
            metrics_port,
            spawned,
            log,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    async fn get(&self, http: &reqwest::Client, path: &str) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{}{path}", self.metrics_port);
        let response = http.get(&url).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    async fn metrics(&self, http: &reqwest::Client) -> Option<Samples> {
        match self.get(http, "/metrics").await? {
            (200, text) => Some(parse_prometheus(&text)),
            _ => None,
        }
    }

    /// Waits for `/readyz` 200; the time since the process was spawned.
    async fn wait_ready(&mut self, http: &reqwest::Client, timeout: Duration) -> Duration {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((200, _)) = self.get(http, "/readyz").await {
                return self.spawned.elapsed();
            }
            assert!(
                self.alive(),
                "the operator exited; log {}:\n{}",
                self.log.display(),
                self.log_tail()
            );
            assert!(
                Instant::now() < deadline,
                "the operator is not ready after {timeout:?}; log {}:\n{}",
                self.log.display(),
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// SIGTERM and wait (30 s at most, then SIGKILL); how long it took and whether it was clean.
    async fn terminate(&mut self) -> (Duration, bool) {
        let started = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        while started.elapsed() < Duration::from_secs(30) {
            if let Ok(Some(status)) = self.child.try_wait() {
                return (started.elapsed(), status.success());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        (started.elapsed(), false)
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The operator's counters, by controller.
fn operator_counters(samples: &Samples) -> Value {
    json!({
        "writes": metric_by(samples, "vmi_operator_writes_total", "controller"),
        "reconciles": metric_by(samples, "vmi_operator_reconciles_total", "controller"),
        "ovf_fetches": metric_by(samples, "vmi_operator_ovf_fetches_total", "controller"),
        "reconcile_errors": metric_by(samples, "vmi_operator_reconcile_errors_total", "reason"),
    })
}

/// Polls the operator's metrics until its reconcile and write counters have not moved for
/// [`QUIET`] and nothing is in flight (at most `max`). Returns the last sample and the time it
/// waited.
async fn settle(op: &Operator, http: &reqwest::Client, max: Duration) -> (Samples, Duration) {
    let started = Instant::now();
    let mut last = (f64::NAN, f64::NAN);
    let mut still_since = Instant::now();
    let mut samples = Vec::new();
    while started.elapsed() < max {
        if let Some(s) = op.metrics(http).await {
            let now = (
                metric_sum(&s, "vmi_operator_writes_total", "", ""),
                metric_sum(&s, "vmi_operator_reconciles_total", "", ""),
            );
            let in_flight = metric_sum(&s, "vmi_operator_reconciles_in_flight", "", "");
            if now != last || in_flight > 0.0 {
                last = now;
                still_since = Instant::now();
            }
            samples = s;
            if still_since.elapsed() >= QUIET {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    (samples, started.elapsed())
}

// ---------------------------------------------------------------------------------------------
// Counting objects with a watch

#[derive(Clone, Debug, Default)]
struct Count {
    synced: bool,
    count: usize,
    /// When `count` first reached the target.
    reached: Option<Instant>,
}

fn is_ready(obj: &DynamicObject) -> bool {
    obj.data["status"]["conditions"]
        .as_array()
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Watches `api` and counts its objects (only Ready ones with `ready_only`); records when the
/// count first reaches `target`.
fn count_objects(
    api: Api<DynamicObject>,
    ready_only: bool,
    target: usize,
) -> (watch::Receiver<Count>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(Count::default());
    let task = tokio::spawn(async move {
        let mut seen: HashMap<String, bool> = HashMap::new();
        let mut initial: HashMap<String, bool> = HashMap::new();
        let mut synced = false;
        let counted = |o: &DynamicObject| !ready_only || is_ready(o);
        let mut stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(event) = stream.next().await {
            match event {
                Ok(watcher::Event::Init) => initial.clear(),
                Ok(watcher::Event::InitApply(o)) => {
                    initial.insert(o.name_any(), counted(&o));
                }
                Ok(watcher::Event::InitDone) => {
                    seen = std::mem::take(&mut initial);
                    synced = true;
                }
                Ok(watcher::Event::Apply(o)) => {
                    seen.insert(o.name_any(), counted(&o));
                }
                Ok(watcher::Event::Delete(o)) => {
                    seen.remove(&o.name_any());
                }
                Err(_) => continue,
            }
            let count = seen.values().filter(|c| **c).count();
            tx.send_modify(|c| {
                c.synced = synced;
                c.count = count;
                if synced && count >= target && c.reached.is_none() {
                    c.reached = Some(Instant::now());
                }
            });
        }
    });
    (rx, task)
}

async fn wait_synced(rx: &mut watch::Receiver<Count>, what: &str) {
    let synced = tokio::time::timeout(Duration::from_secs(60), rx.wait_for(|c| c.synced)).await;
    assert!(
        matches!(synced, Ok(Ok(_))),
        "the watch of {what} did not sync in 60s"
    );
}

fn timeout_for(n: usize) -> Duration {
    Duration::from_secs(120) + Duration::from_millis(60 * n as u64)
}

// ---------------------------------------------------------------------------------------------
// Phase: the floor

async fn floor_phase(args: &Args) -> Value {
    let client = common::client().await;
    common::install_crds(&client).await;
    let version = client.apiserver_version().await.map(|v| v.git_version).ok();
    let sa_ns = common::test_namespace(&client, "bench-floor-sa").await;
    let kubeconfig =
        common::service_account_kubeconfig(&client, &sa_ns, "vmi-operator", &operator_rbac_yaml())
            .await;
    let identity = common::client_from(&kubeconfig).await;
    let libraries: Vec<Library> = args.sizes.iter().map(|&n| prepare_library(n)).collect();
    // A fresh apiserver is slower for its first writes of a kind (connections, caches, the
    // field managers' type converters): a small untimed round first, so the floor is a floor.
    let warmup = floor_run(&client, &identity, &prepare_library(100), CONCURRENCY).await;
    // Every size at the first concurrency, then at the next: the runs at 16 then find the
    // same objects already stored as the operator's runs of the same sizes do. (The operator's
    // sync and image controllers run side by side, 16 each: up to 32 writes in flight; the same
    // writes with 32 items at once show what that buys.)
    // Each run twice: the machine's other work only ever slows a run down, so the faster of
    // the two is the floor (both are kept in the JSON).
    let mut runs = Vec::new();
    for &concurrency in &args.floor_concurrency {
        for lib in &libraries {
            for _ in 0..2 {
                runs.push(floor_run(&client, &identity, lib, concurrency).await);
            }
        }
    }
    json!({
        "phase": "floor",
        "kubernetes": version,
        "machine": machine(),
        "concurrency": CONCURRENCY,
        "warmup": warmup,
        "identity": "the operator's ServiceAccount and ClusterRole (config/rbac)",
        "runs": runs,
    })
}

/// One item's four writes, prepared.
struct FloorItem {
    item_name: String,
    image_name: String,
    item: Value,
    item_status: Value,
    image_labels: BTreeMap<String, String>,
    provider_ref: ProviderRef,
    image_status: Value,
}

async fn floor_run(admin: &Client, identity: &Client, lib: &Library, concurrency: usize) -> Value {
    let n = lib.n;
    let ns = common::test_namespace(admin, &format!("floor-n{n}-c{concurrency}")).await;
    let library = apply_library(admin, &ns, lib).await;

    // The payloads the operator would write, from its own pure functions (not timed).
    let source = PublishedSource::new(
        url::Url::parse(&lib.url).expect("library URL"),
        TlsOptions::default(),
    )
    .expect("published source");
    let listing = source.list_items().await.expect("list the library");
    assert_eq!(listing.len(), n, "items in {}", lib.url);
    let bytes = source.fetch_ovf(&listing[0]).await.expect("fetch the OVF");
    let ovf = vmi_operator::ovf::parse_descriptor(&bytes).expect("parse the OVF");
    let library_ref = ContentLibraryRef {
        name: library.name_any(),
        namespace: Some(ns.clone()),
    };
    let owner = library.controller_owner_ref(&());
    let labels = plan::item_labels(&library.name_any());
    let now = vmi_operator::api::now_rfc3339();
    let item_type = (
        ContentLibraryItem::api_version(&()),
        ContentLibraryItem::kind(&()),
    );
    let image_type = (
        VirtualMachineImage::api_version(&()),
        VirtualMachineImage::kind(&()),
    );
    let work: Vec<FloorItem> = listing
        .iter()
        .map(|info| {
            let type_ = plan::item_type(&info.item_type).expect("an OVF item");
            let item_name = vmi_operator::vmi_id::item_name(&info.id).expect("item UUID");
            let status = plan::item_status(info, type_, &library_ref, None, &now);
            let facts = ItemFacts::from_status(&item_name, &info.id, &status);
            let image_status = vmi_operator::image::desired::image_status(
                &facts,
                Descriptor::Parsed(&ovf),
                None,
            );
            FloorItem {
                image_name: vmi_operator::vmi_id::vmi_id(&info.id).expect("item UUID"),
                item: json!({
                    "apiVersion": item_type.0, "kind": item_type.1,
                    "metadata": { "name": item_name, "labels": labels, "ownerReferences": owner.iter().collect::<Vec<_>>() },
                    "spec": { "uuid": info.id },
                }),
                item_status: json!({ "apiVersion": item_type.0, "kind": item_type.1, "status": status }),
                image_labels: image_labels(&image_status),
                provider_ref: ProviderRef {
                    api_version: item_type.0.to_string(),
                    kind: item_type.1.to_string(),
                    name: item_name.clone(),
                },
                image_status: json!({ "apiVersion": image_type.0, "kind": image_type.1, "status": image_status }),
                item_name,
            }
        })
        .collect();

    let items: Api<ContentLibraryItem> = Api::namespaced(identity.clone(), &ns);
    let images: Api<VirtualMachineImage> = Api::namespaced(identity.clone(), &ns);
    let sync_params = PatchParams::apply(vmi_operator::sync::FIELD_MANAGER).force();
    let image_params = PatchParams::apply(vmi_operator::image::FIELD_MANAGER).force();
    let requests_before = apiserver_requests(admin).await;
    let cpu_before = cpu_snapshot(None);
    let load_before = loadavg();
    eprintln!(
        "[bench] floor N={n}: {} writes, {concurrency} items at once",
        4 * n
    );
    let started = Instant::now();
    let results: Vec<Result<(), kube::Error>> = futures::stream::iter(work.into_iter().map(|w| {
        let (items, images) = (items.clone(), images.clone());
        let (sync_params, image_params) = (&sync_params, &image_params);
        async move {
            let item = items
                .patch(&w.item_name, sync_params, &Patch::Apply(&w.item))
                .await?;
            items
                .patch_status(&w.item_name, sync_params, &Patch::Apply(&w.item_status))
                .await?;
            let meta = ObjectMeta {
                name: Some(w.image_name.clone()),
                labels: Some(w.image_labels),
                owner_references: item.controller_owner_ref(&()).map(|o| vec![o]),
                ..Default::default()
            };
            let image = VirtualMachineImage::new_image(meta, Some(w.provider_ref), None);
            images
                .patch(&w.image_name, image_params, &Patch::Apply(&image))
                .await?;
            images
                .patch_status(&w.image_name, image_params, &Patch::Apply(&w.image_status))
                .await?;
            Ok(())
        }
    }))
    .buffer_unordered(concurrency)
    .collect()
    .await;
    let elapsed = started.elapsed();
    let cpu_after = cpu_snapshot(None);
    let requests = requests_delta(&requests_before, &apiserver_requests(admin).await);
    let errors: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    eprintln!(
        "[bench] floor N={n}: {:.1}s ({:.0} writes/s), {} errors",
        elapsed.as_secs_f64(),
        (4 * n) as f64 / elapsed.as_secs_f64(),
        errors.len()
    );
    json!({
        "n": n,
        "concurrency": concurrency,
        "namespace": ns,
        "seconds": secs(elapsed),
        "writes": 4 * n,
        "writes_per_second": ((4 * n) as f64 / elapsed.as_secs_f64()).round(),
        "errors": errors.len(),
        "first_errors": errors.iter().take(3).collect::<Vec<_>>(),
        "apiserver_writes": writes_in(&requests),
        "apiserver_requests": requests,
        "cpu_seconds": cpu_delta(&cpu_before, &cpu_after),
        "load_before": load_before,
        "load_after": loadavg(),
    })
}

// ---------------------------------------------------------------------------------------------
// Phase: the operator

async fn operator_phase(args: &Args) -> Value {
    assert!(
        args.binary.is_file(),
        "no operator binary at {} (cargo build --release)",
        args.binary.display()
    );
    let client = common::client().await;
    common::install_crds(&client).await;
    let version = client.apiserver_version().await.map(|v| v.git_version).ok();
    let sa_ns = common::test_namespace(&client, "bench-operator").await;
    let kubeconfig =
        common::service_account_kubeconfig(&client, &sa_ns, "vmi-operator", &operator_rbac_yaml())
            .await;
    let cert_dir = bench_dir().join(format!("pki-{}", args.tag));
    std::fs::create_dir_all(&cert_dir).expect("create cert dir");
    webhook_support::TestPki::generate(&cert_dir);
    let log_dir = bench_dir().join("logs");
    std::fs::create_dir_all(&log_dir).expect("create log dir");
    let libraries: Vec<Library> = args.sizes.iter().map(|&n| prepare_library(n)).collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client");

    // Start-up on an empty cluster, and idle memory.
    let mut op = Operator::start(
        &args.binary,
        &kubeconfig,
        &cert_dir,
        log_dir.join(format!("operator-{}.log", args.tag)),
    );
    let ready_empty = op.wait_ready(&http, Duration::from_secs(120)).await;
    eprintln!(
        "[bench] operator ready in {:.2}s on an empty cluster",
        ready_empty.as_secs_f64()
    );
    let (_, idle_wait) = settle(&op, &http, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let idle = json!({
        "ready_seconds": secs(ready_empty),
        "memory": memory(op.pid()),
        "measured_after_ready_seconds": secs(op.spawned.elapsed() - ready_empty),
        "settle_seconds": secs(idle_wait),
    });
    eprintln!("[bench] idle: {idle}");

    let mut runs = Vec::new();
    for lib in &libraries {
        runs.push(sync_run(&client, &mut op, &http, lib).await);
    }
    let images: usize = runs
        .iter()
        .map(|r| r["ready_images"].as_u64().unwrap_or(0) as usize)
        .sum();
    let loaded = json!({ "images": images, "memory": memory(op.pid()) });
    eprintln!("[bench] with {images} images: {loaded}");

    let startup = if args.startup {
        // The new process starts once the old one is gone, as a pod restart does.
        let (stop, clean) = op.terminate().await;
        drop(op);
        let mut restarted = Operator::start(
            &args.binary,
            &kubeconfig,
            &cert_dir,
            log_dir.join(format!("operator-{}-restart.log", args.tag)),
        );
        let mut result = startup_run(&mut restarted, &http, libraries.len(), images).await;
        result["previous_stop_seconds"] = json!(secs(stop));
        result["previous_exit_clean"] = json!(clean);
        let _ = restarted.terminate().await;
        Some(result)
    } else {
        let _ = op.terminate().await;
        None
    };

    json!({
        "phase": "operator",
        "tag": args.tag,
        "kubernetes": version,
        "machine": machine(),
        "binary": args.binary,
        "flags": "run --sync-interval 1h --log-level info, webhook serving (its index holds every image), default --concurrency 16",
        "idle": idle,
        "runs": runs,
        "loaded": loaded,
        "startup": startup,
    })
}

/// One library of `lib.n` items, from creating the ContentLibrary to every image Ready.
async fn sync_run(
    client: &Client,
    op: &mut Operator,
    http: &reqwest::Client,
    lib: &Library,
) -> Value {
    let n = lib.n;
    let ns = common::test_namespace(client, &format!("bench-n{n}")).await;
    let item_resource = ApiResource::erase::<ContentLibraryItem>(&());
    let image_resource = ApiResource::erase::<VirtualMachineImage>(&());
    let (mut items_rx, items_task) = count_objects(
        Api::namespaced_with(client.clone(), &ns, &item_resource),
        false,
        n,
    );
    let (mut images_rx, images_task) = count_objects(
        Api::namespaced_with(client.clone(), &ns, &image_resource),
        true,
        n,
    );
    wait_synced(&mut items_rx, "items").await;
    wait_synced(&mut images_rx, "images").await;

    let counters_before = op.metrics(http).await.expect("operator metrics");
    let requests_before = apiserver_requests(client).await;
    let cpu_before = cpu_snapshot(Some(op.pid()));
    let load_before = loadavg();
    let timeout = timeout_for(n);
    eprintln!("[bench] operator N={n}: creating the library (namespace {ns}, timeout {timeout:?})");
    let started = Instant::now();
    apply_library(client, &ns, lib).await;
    let mut timed_out = false;
    loop {
        let done = matches!(
            tokio::time::timeout(
                Duration::from_secs(10),
                images_rx.wait_for(|c| c.reached.is_some())
            )
            .await,
            Ok(Ok(_))
        );
        if done {
            break;
        }
        let (items, ready) = (items_rx.borrow().count, images_rx.borrow().count);
        eprintln!(
            "[bench]   {:>5.0}s: {items}/{n} items, {ready}/{n} images Ready",
            started.elapsed().as_secs_f64()
        );
        if !op.alive() {
            panic!(
                "the operator exited; log {}:\n{}",
                op.log.display(),
                op.log_tail()
            );
        }
        if started.elapsed() > timeout {
            timed_out = true;
            break;
        }
    }
    let at_ready = Instant::now();
    let cpu_at_ready = cpu_snapshot(Some(op.pid()));
    let counters_at_ready = op.metrics(http).await.unwrap_or_default();
    let (counters_settled, settle_wait) = settle(op, http, Duration::from_secs(60)).await;
    let requests = requests_delta(&requests_before, &apiserver_requests(client).await);
    let (items, images) = (items_rx.borrow().clone(), images_rx.borrow().clone());
    items_task.abort();
    images_task.abort();

    let since = |t: Option<Instant>| t.map(|t| secs(t.duration_since(started)));
    let writes = |s: &Samples| {
        metric_sum(s, "vmi_operator_writes_total", "", "")
            - metric_sum(&counters_before, "vmi_operator_writes_total", "", "")
    };
    let diff = |name: &str, label: &str| -> BTreeMap<String, f64> {
        let before = metric_by(&counters_before, name, label);
        metric_by(&counters_settled, name, label)
            .into_iter()
            .map(|(k, v)| {
                let d = v - before.get(&k).copied().unwrap_or(0.0);
                (k, d)
            })
            .filter(|(_, d)| *d != 0.0)
            .collect()
    };
    let result = json!({
        "n": n,
        "namespace": ns,
        "completed": !timed_out,
        "items_seconds": since(items.reached),
        "ready_seconds": since(images.reached),
        "observed_seconds": secs(at_ready.duration_since(started)),
        "items": items.count,
        "ready_images": images.count,
        "operator_writes_at_ready": writes(&counters_at_ready),
        "operator_writes": writes(&counters_settled),
        "operator_writes_by_controller": diff("vmi_operator_writes_total", "controller"),
        "reconciles_by_controller": diff("vmi_operator_reconciles_total", "controller"),
        "ovf_fetches": diff("vmi_operator_ovf_fetches_total", "controller").values().sum::<f64>() + 0.0,
        "reconcile_errors": diff("vmi_operator_reconcile_errors_total", "reason"),
        "expected_writes": 4 * n + 1,
        "apiserver_writes": writes_in(&requests),
        "apiserver_event_writes": event_writes_in(&requests),
        "apiserver_requests": requests,
        "settle_seconds": secs(settle_wait),
        "cpu_seconds_to_ready": cpu_delta(&cpu_before, &cpu_at_ready),
        "operator_memory": memory(op.pid()),
        "load_before": load_before,
        "load_after": loadavg(),
    });
    eprintln!(
        "[bench] operator N={n}: items in {}s, {} Ready in {}s; operator writes {} (4N+1 = {}), apiserver writes {}",
        num(&result["items_seconds"], 1),
        images.count,
        num(&result["ready_seconds"], 1),
        result["operator_writes"],
        4 * n + 1,
        result["apiserver_writes"]
    );
    result
}

/// A restart with every image present: `/readyz`, the first finished reconcile, every library's
/// first sync, and the image controller's first pass over every item; then what it wrote and
/// fetched.
async fn startup_run(
    op: &mut Operator,
    http: &reqwest::Client,
    libraries: usize,
    images: usize,
) -> Value {
    let deadline = op.spawned + timeout_for(images);
    let (mut readyz, mut first, mut synced, mut imaged) = (None, None, None, None);
    let mut last_started = -1.0;
    let mut last_change = op.spawned;
    let mut samples = Vec::new();
    while Instant::now() < deadline {
        if readyz.is_none() && matches!(op.get(http, "/readyz").await, Some((200, _))) {
            readyz = Some(op.spawned.elapsed());
        }
        if let Some(s) = op.metrics(http).await {
            let started = |p| metric_sum(&s, "vmi_operator_reconciles_total", "controller", p);
            let running = |p| metric_sum(&s, "vmi_operator_reconciles_in_flight", "controller", p);
            let done_sync = started("sync-") - running("sync-");
            let done_image = started("image-") - running("image-");
            let now = op.spawned.elapsed();
            if first.is_none() && done_sync + done_image >= 1.0 {
                first = Some(now);
            }
            if synced.is_none() && done_sync >= libraries as f64 {
                synced = Some(now);
            }
            if imaged.is_none() && done_image >= images as f64 {
                imaged = Some(now);
            }
            let total = started("");
            if total != last_started || running("") > 0.0 {
                last_started = total;
                last_change = Instant::now();
            }
            samples = s;
            if readyz.is_some()
                && synced.is_some()
                && imaged.is_some()
                && last_change.elapsed() >= QUIET
            {
                break;
            }
        }
        if !op.alive() {
            panic!(
                "the restarted operator exited; log {}:\n{}",
                op.log.display(),
                op.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let result = json!({
        "images": images,
        "libraries": libraries,
        "readyz_seconds": readyz.map(secs),
        "first_reconcile_seconds": first.map(secs),
        "libraries_synced_seconds": synced.map(secs),
        "images_reconciled_seconds": imaged.map(secs),
        "counters": operator_counters(&samples),
        "ovf_fetches": metric_sum(&samples, "vmi_operator_ovf_fetches_total", "", ""),
        "writes": metric_sum(&samples, "vmi_operator_writes_total", "", ""),
        "memory": memory(op.pid()),
    });
    eprintln!("[bench] restart with {images} images: {result}");
    result
}

// ---------------------------------------------------------------------------------------------
// The report

fn report(args: &Args) {
    let dir = bench_dir();
    let parts = dir.join("parts");
    // The 10,000 floor runs on a control plane of its own, as the operator's 10,000 run does.
    let mut floor = read_json(&parts.join("floor.json"));
    if let Some(big) = read_json(&parts.join("floor-10k.json")) {
        let big_runs = big["runs"].as_array().cloned().unwrap_or_default();
        match floor.as_mut().and_then(|f| f["runs"].as_array_mut()) {
            Some(runs) => runs.extend(big_runs),
            None => floor = Some(big),
        }
    }
    let main = read_json(&parts.join("operator-main.json"));
    let big = read_json(&parts.join("operator-10k.json"));
    let ovf = read_json(&dir.join("ovf.json"));
    let webhook = read_json(&dir.join("webhook.json"));
    let operators: Vec<&Value> = [main.as_ref(), big.as_ref()]
        .into_iter()
        .flatten()
        .collect();

    // The fastest run of a size and concurrency.
    let floor_of = |n: u64, concurrency: usize| -> Option<&Value> {
        floor.as_ref()?["runs"]
            .as_array()?
            .iter()
            .filter(|r| {
                r["n"].as_u64() == Some(n)
                    && r["concurrency"].as_u64().unwrap_or(CONCURRENCY as u64) == concurrency as u64
            })
            .min_by(|a, b| {
                let secs = |r: &Value| r["seconds"].as_f64().unwrap_or(f64::MAX);
                secs(a).total_cmp(&secs(b))
            })
    };
    let mut sync_rows = Vec::new();
    for op in &operators {
        for run in op["runs"].as_array().into_iter().flatten() {
            let n = run["n"].as_u64().unwrap_or(0);
            let floor_run = floor_of(n, CONCURRENCY);
            let floor_wide = floor_of(n, 2 * CONCURRENCY);
            let operator_s = run["ready_seconds"].as_f64();
            let floor_s = floor_run.and_then(|f| f["seconds"].as_f64());
            let ratio = operator_s
                .zip(floor_s)
                .map(|(o, f)| (o / f * 100.0).round() / 100.0);
            sync_rows.push(json!({
                "n": n,
                "completed": run["completed"],
                "ready_images": run["ready_images"],
                "operator_seconds": operator_s,
                "items_seconds": run["items_seconds"],
                "floor_seconds": floor_s,
                "floor_writes_per_second": floor_run.map(|f| f["writes_per_second"].clone()),
                "floor_32_seconds": floor_wide.map(|f| f["seconds"].clone()),
                "ratio": ratio,
                "operator_writes": run["operator_writes"],
                "operator_writes_by_controller": run["operator_writes_by_controller"],
                "expected_writes": run["expected_writes"],
                "apiserver_writes": run["apiserver_writes"],
                "apiserver_event_writes": run["apiserver_event_writes"],
                "ovf_fetches": run["ovf_fetches"],
                "reconciles_by_controller": run["reconciles_by_controller"],
                "apiserver_requests": run["apiserver_requests"],
                "cpu_seconds_to_ready": run["cpu_seconds_to_ready"],
                "floor_cpu_seconds": floor_run.map(|f| f["cpu_seconds"].clone()),
                "load_before": run["load_before"],
            }));
        }
    }
    let idle = main.as_ref().map(|m| m["idle"].clone());
    let loaded: Vec<Value> = operators.iter().map(|o| o["loaded"].clone()).collect();
    let startups: Vec<Value> = operators
        .iter()
        .filter(|o| !o["startup"].is_null())
        .map(|o| o["startup"].clone())
        .collect();
    let machine = operators
        .first()
        .map(|o| o["machine"].clone())
        .or_else(|| floor.as_ref().map(|f| f["machine"].clone()))
        .unwrap_or_else(machine);
    let kubernetes = operators
        .first()
        .map(|o| o["kubernetes"].clone())
        .unwrap_or(Value::Null);

    let report = json!({
        "mode": args.mode,
        "generated": vmi_operator::api::now_rfc3339(),
        "machine": machine,
        "kubernetes": kubernetes,
        "operator_build": "cargo build --release (profile.release: lto = \"thin\", codegen-units = 4)",
        "control_plane": "loopback etcd (--unsafe-no-fsync) + kube-apiserver + kube-controller-manager from hack/cluster.sh, a fresh one per phase",
        "sync": sync_rows,
        "idle": idle,
        "loaded": loaded,
        "startup": startups,
        "webhook": webhook,
        "ovf_parse": ovf,
        "parts": { "floor": floor, "operator": operators },
    });
    write_json(&dir.join("report.json"), &report);
    let md = markdown(&report);
    std::fs::write(dir.join("report.md"), &md).expect("write report.md");
    println!("{md}");
    eprintln!(
        "[bench] wrote {} and {}",
        dir.join("report.md").display(),
        dir.join("report.json").display()
    );
    let found = findings(&report);
    if args.strict && !found.is_empty() {
        eprintln!(
            "[bench] --strict: {} finding(s) in the report:",
            found.len()
        );
        for f in &found {
            eprintln!("[bench]   {f}");
        }
        std::process::exit(1);
    }
}

fn num(v: &Value, digits: usize) -> String {
    // + 0.0 turns the -0.0 of an empty float sum into 0.
    match v.as_f64().map(|f| f + 0.0) {
        Some(f) => format!("{f:.digits$}"),
        None => "n/a".to_string(),
    }
}

fn thousands(v: &Value) -> String {
    let Some(f) = v.as_f64() else {
        return "n/a".into();
    };
    let s = format!("{:.0}", f.round() + 0.0);
    let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// What the report must point out: syncs that did not finish, writes above 4N + 1, descriptors
/// fetched again (or statuses rewritten) on a restart, and parts of the run that are missing.
fn findings(r: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let sync = r["sync"].as_array().cloned().unwrap_or_default();
    if sync.is_empty() {
        out.push("No sync run is in the report (see target/bench/logs/).".to_string());
    }
    for row in &sync {
        let n = row["n"].as_f64().unwrap_or(0.0);
        if row["completed"].as_bool() != Some(true) {
            out.push(format!(
                "N = {}: not every image was Ready within the time limit ({} were).",
                thousands(&row["n"]),
                thousands(&row["ready_images"])
            ));
        }
        let extra = row["operator_writes"].as_f64().unwrap_or(0.0)
            - row["expected_writes"].as_f64().unwrap_or(0.0);
        if extra > 0.0 {
            let status_writes =
                row["apiserver_requests"]["APPLY virtualmachineimages/status"].clone();
            out.push(format!(
                "N = {}: {} writes above 4N + 1 ({:.0}% more); the apiserver saw {} image status \
                 writes for {} images and the image controller ran {} reconciles.",
                thousands(&row["n"]),
                thousands(&json!(extra)),
                extra / (4.0 * n + 1.0) * 100.0,
                thousands(&status_writes),
                thousands(&row["n"]),
                thousands(&row["reconciles_by_controller"]["image-contentlibraryitem"]),
            ));
        }
    }
    let startups = r["startup"].as_array().cloned().unwrap_or_default();
    if !startups
        .iter()
        .any(|st| st["images"].as_f64().unwrap_or(0.0) > 0.0)
    {
        out.push("No restart with images present is in the report.".to_string());
    }
    for st in &startups {
        let fetches = st["ovf_fetches"].as_f64().unwrap_or(0.0);
        let writes = st["writes"].as_f64().unwrap_or(0.0);
        let libraries = st["libraries"].as_f64().unwrap_or(0.0);
        if fetches > 0.0 || writes > libraries {
            out.push(format!(
                "Restart with {} images: {} OVF descriptors fetched again and {} writes \
                 (expected 0 fetches and {} library status writes).",
                thousands(&st["images"]),
                thousands(&json!(fetches)),
                thousands(&json!(writes)),
                thousands(&json!(libraries)),
            ));
        }
    }
    for (key, what) in [("webhook", "webhook"), ("ovf_parse", "OVF parsing")] {
        if !r[key].is_object() {
            out.push(format!("The {what} benchmark is missing from the report."));
        }
    }
    out
}

fn markdown(r: &Value) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let m = &r["machine"];
    let _ = writeln!(
        s,
        "# vmi-operator benchmark ({})\n",
        r["mode"].as_str().unwrap_or("?")
    );
    let _ = writeln!(
        s,
        "Machine: {} CPUs ({}), {} GiB, Linux {}. Control plane: {} on loopback, etcd with \
         --unsafe-no-fsync, a fresh control plane per phase. Operator: {}. Other work on the machine (shared CPUs) shows in the load averages of report.json.\n",
        num(&m["cpus"], 0),
        m["cpu_model"].as_str().unwrap_or("?"),
        num(&m["memory_gib"], 1),
        m["kernel"].as_str().unwrap_or("?"),
        r["kubernetes"].as_str().unwrap_or("Kubernetes ?"),
        r["operator_build"].as_str().unwrap_or("?"),
    );

    let _ = writeln!(s, "## Sync to Ready\n");
    let _ = writeln!(
        s,
        "Wall time from creating the ContentLibrary to N items and to N Ready images (watched). \
         Floor: a plain kube client under the operator's identity writing the same objects \
         (apply item, item status, apply image, image status; 16 items at once, after an \
         untimed warm-up; the faster of two runs) into a fresh namespace with no operator \
         running. The operator's sync and image controllers work side by side, 16 each (up to \
         32 writes in flight), hence the floor with 32 items at once too. Writes: the operator's `vmi_operator_writes_total` \
         (expected 4N + 1 library status); the apiserver's count includes events.\n"
    );
    let _ = writeln!(
        s,
        "| N | items (s) | all Ready (s) | floor, 16 at once (s) | operator / floor | floor, 32 at once (s) | operator writes | 4N+1 | apiserver writes (events) | CPU s operator / apiserver / etcd / other processes |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for row in r["sync"].as_array().into_iter().flatten() {
        let cpu = &row["cpu_seconds_to_ready"];
        let ready = if row["completed"].as_bool() == Some(false) {
            format!("timed out at {} Ready", thousands(&row["ready_images"]))
        } else {
            num(&row["operator_seconds"], 1)
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} ({}) | {} / {} / {} / {} |",
            thousands(&row["n"]),
            num(&row["items_seconds"], 1),
            ready,
            num(&row["floor_seconds"], 1),
            num(&row["ratio"], 2),
            num(&row["floor_32_seconds"], 1),
            thousands(&row["operator_writes"]),
            thousands(&row["expected_writes"]),
            thousands(&row["apiserver_writes"]),
            thousands(&row["apiserver_event_writes"]),
            num(&cpu["vmi-operator"], 1),
            num(&cpu["kube-apiserver"], 1),
            num(&cpu["etcd"], 1),
            num(&cpu["others"], 1),
        );
    }

    let _ = writeln!(
        s,
        "\nFloor runs (CPU seconds of the apiserver, etcd and of other processes on the machine \
         meanwhile; the figures move with the machine's other work):\n"
    );
    let _ = writeln!(
        s,
        "| N | at once | seconds | writes/s | CPU s apiserver / etcd / other processes |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---|");
    for f in r["parts"]["floor"]["runs"].as_array().into_iter().flatten() {
        let cpu = &f["cpu_seconds"];
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} / {} / {} |",
            thousands(&f["n"]),
            num(&f["concurrency"], 0),
            num(&f["seconds"], 1),
            thousands(&f["writes_per_second"]),
            num(&cpu["kube-apiserver"], 1),
            num(&cpu["etcd"], 1),
            num(&cpu["others"], 1),
        );
    }
    let _ = writeln!(
        s,
        "\nWrites the apiserver counted during each operator run (`apiserver_request_total`, \
         every client; reads and watches left out):\n"
    );
    for row in r["sync"].as_array().into_iter().flatten() {
        let detail: Vec<String> = row["apiserver_requests"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| is_write(k))
            .map(|(k, v)| format!("{k} {}", thousands(v)))
            .collect();
        let _ = writeln!(
            s,
            "- N = {}: {}; operator reconciles {}",
            thousands(&row["n"]),
            detail.join(", "),
            row["reconciles_by_controller"]
        );
    }

    let _ = writeln!(s, "\n## Memory (operator RSS, webhook index included)\n");
    let _ = writeln!(s, "| state | RSS (MiB) | peak RSS, VmHWM (MiB) |");
    let _ = writeln!(s, "|---|---:|---:|");
    let mut memory_row = |state: String, memory: &Value| {
        let _ = writeln!(
            s,
            "| {state} | {} | {} |",
            num(&memory["rss_mib"], 1),
            num(&memory["peak_rss_mib"], 1)
        );
    };
    if r["idle"].is_object() {
        memory_row(
            "idle, empty cluster, after start-up".into(),
            &r["idle"]["memory"],
        );
    }
    for l in r["loaded"].as_array().into_iter().flatten() {
        let state = format!("{} images synced by this process", thousands(&l["images"]));
        memory_row(state, &l["memory"]);
    }
    for st in r["startup"].as_array().into_iter().flatten() {
        let state = format!("restarted with {} images present", thousands(&st["images"]));
        memory_row(state, &st["memory"]);
    }

    let _ = writeln!(s, "\n## Start-up\n");
    let _ = writeln!(
        s,
        "| images present | /readyz 200 (s) | first reconcile done (s) | libraries synced (s) | every item reconciled (s) | OVF fetches | writes |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|");
    if let Some(idle) = r["idle"].as_object() {
        let _ = writeln!(
            s,
            "| 0 | {} | - | - | - | - | - |",
            num(&idle["ready_seconds"], 2)
        );
    }
    for st in r["startup"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            thousands(&st["images"]),
            num(&st["readyz_seconds"], 2),
            num(&st["first_reconcile_seconds"], 2),
            num(&st["libraries_synced_seconds"], 2),
            num(&st["images_reconciled_seconds"], 2),
            thousands(&st["ovf_fetches"]),
            thousands(&st["writes"]),
        );
    }

    let _ = writeln!(s, "\n## Checks\n");
    let found = findings(r);
    if found.is_empty() {
        let _ = writeln!(
            s,
            "- Nothing to report: 4N + 1 writes per sync, no descriptor fetched again on restart."
        );
    }
    for f in &found {
        let _ = writeln!(s, "- {f}");
    }

    let _ = writeln!(s, "\n## Webhook and OVF parsing\n");
    let w = &r["webhook"];
    if w.is_object() {
        let lat = &w["latency_ms"];
        let _ = writeln!(
            s,
            "- Webhook (`cargo bench --bench webhook`): p50 {} ms, p99 {} ms, {} req/s, {} images indexed, {} errors.",
            num(&lat["p50"], 3),
            num(&lat["p99"], 3),
            thousands(&w["requests_per_second"]),
            thousands(&json!(
                w["images"]["virtualMachineImages"].as_f64().unwrap_or(0.0)
                    + w["images"]["clusterVirtualMachineImages"]
                        .as_f64()
                        .unwrap_or(0.0)
            )),
            thousands(&w["errors"]),
        );
    } else {
        let _ = writeln!(s, "- Webhook: not available.");
    }
    let o = &r["ovf_parse"];
    if o.is_object() {
        let _ = writeln!(
            s,
            "- OVF parsing (`cargo bench --bench ovf_parse`): {} MB/s, {} descriptors/s over {} files{}.",
            num(&o["mb_per_s"], 1),
            thousands(&o["descriptors_per_s"]),
            thousands(&o["files"]),
            o["ratio_vs_govmomi"]
                .as_f64()
                .map(|x| format!(" ({x:.2}x govmomi's unmarshal)"))
                .unwrap_or_default(),
        );
    } else {
        let _ = writeln!(s, "- OVF parsing: not available.");
    }
    s
}
