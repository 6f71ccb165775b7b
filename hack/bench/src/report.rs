//! The report: the parts folded into report.md and report.json, and its findings.

use serde_json::{Value, json};

use crate::args::*;
use crate::phases::CONCURRENCY;
use crate::probes::metrics::*;
use crate::probes::proc::*;

pub(crate) fn report(args: &Args) {
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

pub(crate) fn num(v: &Value, digits: usize) -> String {
    // + 0.0 turns the -0.0 of an empty float sum into 0.
    match v.as_f64().map(|f| f + 0.0) {
        Some(f) => format!("{f:.digits$}"),
        None => "n/a".to_string(),
    }
}

pub(crate) fn thousands(v: &Value) -> String {
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
pub(crate) fn findings(r: &Value) -> Vec<String> {
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

pub(crate) fn markdown(r: &Value) -> String {
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
