//! The report: the parts folded into report.md and report.json, and its findings.

use serde_json::{Value, json};

use crate::args::*;
use crate::phases::CONCURRENCY;
use crate::probes::metrics::*;
use crate::probes::proc::*;

pub(crate) fn report(args: &Args) {
    let dir = bench_dir();
    let parts = dir.join("parts");
    // The 10,000 (and the huge) floor run on control planes of their own, as the operator's
    // runs of those sizes do.
    let mut floor = read_json(&parts.join("floor.json"));
    for name in ["floor-10k.json", "floor-huge.json"] {
        let Some(big) = read_json(&parts.join(name)) else {
            continue;
        };
        let big_runs = big["runs"].as_array().cloned().unwrap_or_default();
        match floor.as_mut().and_then(|f| f["runs"].as_array_mut()) {
            Some(runs) => runs.extend(big_runs),
            None => floor = Some(big),
        }
    }
    let operators: Vec<Value> = [
        "operator-main.json",
        "operator-10k.json",
        "operator-huge.json",
    ]
    .iter()
    .filter_map(|name| read_json(&parts.join(name)))
    .collect();
    // Idle memory from the main phase, else (VMI_BENCH_HUGE_ONLY=1) from the first one run.
    let main = operators
        .iter()
        .find(|o| o["tag"] == "main")
        .or(operators.first())
        .cloned();
    let ovf = read_json(&dir.join("ovf.json"));
    let webhook = read_json(&dir.join("webhook.json"));
    // `webhook-<N>.json`: the same benchmark with another number of images (the huge phase's).
    let mut webhook_more: Vec<Value> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.starts_with("webhook-") && name.ends_with(".json")
        })
        .filter_map(|e| read_json(&e.path()))
        .collect();
    webhook_more.sort_by_key(|w| indexed(w) as u64);
    let features: Vec<String> = operators
        .iter()
        .filter_map(|o| o["features"].as_str())
        .map(str::to_string)
        .collect();

    // The fastest run of a size, kind and concurrency (runs without a kind are apply runs,
    // from before the create floor existed).
    let floor_runs = |kind: &str| -> Vec<Value> {
        floor
            .as_ref()
            .and_then(|f| f["runs"].as_array())
            .into_iter()
            .flatten()
            .filter(|r| r["kind"].as_str().unwrap_or("apply") == kind)
            .cloned()
            .collect()
    };
    let (apply_runs, create_runs) = (floor_runs("apply"), floor_runs("create"));
    let fastest = |runs: &[Value], n: u64, concurrency: usize| -> Option<Value> {
        runs.iter()
            .filter(|r| {
                r["n"].as_u64() == Some(n)
                    && r["concurrency"].as_u64().unwrap_or(CONCURRENCY as u64) == concurrency as u64
            })
            .min_by(|a, b| {
                let secs = |r: &Value| r["seconds"].as_f64().unwrap_or(f64::MAX);
                secs(a).total_cmp(&secs(b))
            })
            .cloned()
    };
    let floor_of = |n: u64, concurrency: usize| fastest(&apply_runs, n, concurrency);
    // For writes a second, a size without a floor of its own (the huge one, unless
    // VMI_BENCH_HUGE_FLOOR=1) is compared with the largest floor below it.
    let nearest = |runs: &[Value], n: u64| -> Option<Value> {
        let below = runs
            .iter()
            .filter_map(|r| r["n"].as_u64())
            .filter(|&m| m <= n)
            .max()?;
        fastest(runs, below, CONCURRENCY)
    };
    let mut sync_rows = Vec::new();
    for op in &operators {
        for run in op["runs"].as_array().into_iter().flatten() {
            let n = run["n"].as_u64().unwrap_or(0);
            let floor_run = floor_of(n, CONCURRENCY);
            let floor_wide = floor_of(n, 2 * CONCURRENCY);
            let floor_near = nearest(&apply_runs, n);
            let create_near = nearest(&create_runs, n);
            let cpu = &run["cpu_seconds_to_ready"];
            let operator_wps = run["operator_writes"]
                .as_f64()
                .zip(run["ready_seconds"].as_f64())
                .map(|(w, t)| (w / t).round());
            let operator_s = run["ready_seconds"].as_f64();
            let floor_s = floor_run.as_ref().and_then(|f| f["seconds"].as_f64());
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
                "floor_writes_per_second": floor_run.as_ref().map(|f| f["writes_per_second"].clone()),
                "floor_32_seconds": floor_wide.as_ref().map(|f| f["seconds"].clone()),
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
                "floor_cpu_seconds": floor_run.as_ref().map(|f| f["cpu_seconds"].clone()),
                "load_before": run["load_before"],
                "control_plane_memory": run["control_plane_memory"],
                "apiserver_watch_cache": op["apiserver_watch_cache"],
                "cost": {
                    "operator_writes_per_second": operator_wps,
                    "floor_n": floor_near.as_ref().map(|f| f["n"].clone()),
                    "floor_writes_per_second": floor_near.as_ref().map(|f| f["writes_per_second"].clone()),
                    "create_floor_n": create_near.as_ref().map(|f| f["n"].clone()),
                    "create_floor_writes_per_second": create_near.as_ref().map(|f| f["writes_per_second"].clone()),
                    "apiserver_cpu_ms_per_write": per_write_ms(&cpu["kube-apiserver"], &run["apiserver_writes"]),
                    "floor_apiserver_cpu_ms_per_write": floor_near.as_ref().map(|f| per_write_ms(&f["cpu_seconds"]["kube-apiserver"], &f["writes"])),
                    "create_floor_apiserver_cpu_ms_per_write": create_near.as_ref().map(|f| per_write_ms(&f["cpu_seconds"]["kube-apiserver"], &f["writes"])),
                    "etcd_cpu_ms_per_write": per_write_ms(&cpu["etcd"], &run["apiserver_writes"]),
                    "operator_cpu_ms_per_write": per_write_ms(&cpu["vmi-operator"], &run["operator_writes"]),
                },
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
    // Bytes per image, by phase: RSS above the same process run's idle RSS (on its own empty
    // control plane), over the images present.
    let mut per_image = Vec::new();
    for o in &operators {
        let idle_rss = o["idle"]["memory"]["rss_mib"].as_f64();
        let images = o["loaded"]["images"].as_f64().unwrap_or(0.0);
        let mut row = |state: &str, mib: &Value| {
            let bytes = idle_rss
                .zip(mib.as_f64())
                .filter(|_| images > 0.0)
                .map(|(idle, m)| ((m - idle) * 1048576.0 / images).round());
            per_image.push(json!({
                "tag": o["tag"], "state": state, "images": images,
                "idle_rss_mib": idle_rss, "mib": mib, "bytes_per_image": bytes,
            }));
        };
        row("synced, steady (VmRSS)", &o["loaded"]["memory"]["rss_mib"]);
        row(
            "synced, peak (VmHWM)",
            &o["loaded"]["memory"]["peak_rss_mib"],
        );
        if o["startup"].is_object() {
            row(
                "restarted, steady (VmRSS)",
                &o["startup"]["memory"]["rss_mib"],
            );
            row(
                "restarted, peak (VmHWM)",
                &o["startup"]["memory"]["peak_rss_mib"],
            );
        }
    }
    // Open-loop webhook runs: the in-process benchmark's and the running operator's.
    let mut open_loop = Vec::new();
    for w in webhook.iter().chain(webhook_more.iter()) {
        for run in w["open_loop"].as_array().into_iter().flatten() {
            open_loop.push(json!({
                "where": "cargo bench --bench webhook (index in-process)",
                "images": indexed(w),
                "closed_loop_requests_per_second": w["requests_per_second"],
                "closed_loop_p99_ms": w["latency_ms"]["p99"],
                "run": run,
            }));
        }
    }
    for o in &operators {
        for run in o["webhook"]["open_loop"].as_array().into_iter().flatten() {
            open_loop.push(json!({
                "where": format!("the operator's webhook ({} phase)", o["tag"].as_str().unwrap_or("?")),
                "images": o["webhook"]["images_indexed"],
                "run": run,
            }));
        }
    }
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
        "operator_build": match features.first().map(String::as_str) {
            None | Some("") => "cargo build --release (profile.release: lto = \"thin\", codegen-units = 4)".to_string(),
            Some(f) => format!("cargo build --release --features {f} (profile.release: lto = \"thin\", codegen-units = 4)"),
        },
        "operator_features": features.first(),
        "control_plane": "loopback etcd (--unsafe-no-fsync) + kube-apiserver + kube-controller-manager from hack/cluster.sh, a fresh one per phase",
        "sync": sync_rows,
        "idle": idle,
        "loaded": loaded,
        "startup": startups,
        "bytes_per_image": per_image,
        "webhook": webhook,
        "webhook_more": webhook_more,
        "webhook_open_loop": open_loop,
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

/// Images a webhook benchmark indexed.
fn indexed(w: &Value) -> f64 {
    w["images"]["virtualMachineImages"].as_f64().unwrap_or(0.0)
        + w["images"]["clusterVirtualMachineImages"]
            .as_f64()
            .unwrap_or(0.0)
}

/// CPU seconds over writes, in ms a write.
fn per_write_ms(cpu_seconds: &Value, writes: &Value) -> Value {
    match (cpu_seconds.as_f64(), writes.as_f64()) {
        (Some(c), Some(w)) if w > 0.0 => json!((c / w * 1000.0 * 100.0).round() / 100.0),
        _ => Value::Null,
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
    for f in r["parts"]["floor"]["runs"].as_array().into_iter().flatten() {
        if f["errors"].as_f64().unwrap_or(0.0) > 0.0 {
            out.push(format!(
                "Floor N = {} ({}): {} of {} items failed, e.g. {}",
                thousands(&f["n"]),
                f["kind"].as_str().unwrap_or("apply"),
                thousands(&f["errors"]),
                thousands(&f["n"]),
                f["first_errors"][0].as_str().unwrap_or("?"),
            ));
        }
    }
    // VMI_BENCH_HUGE_ONLY=1 (mode "huge") runs neither of the other benchmarks at 10,000.
    for (key, what) in [("webhook", "webhook"), ("ovf_parse", "OVF parsing")] {
        if r["mode"] != "huge" && !r[key].is_object() {
            out.push(format!("The {what} benchmark is missing from the report."));
        }
    }
    // Every probe asks about images that exist: a refusal or a failed request is a finding.
    for o in r["webhook_open_loop"].as_array().into_iter().flatten() {
        let errors = o["run"]["errors"].as_f64().unwrap_or(0.0);
        if errors > 0.0 {
            out.push(format!(
                "Webhook at {}/s ({}, {} images): {} of {} requests failed or were refused.",
                thousands(&o["run"]["rate"]),
                o["where"].as_str().unwrap_or("?"),
                thousands(&o["images"]),
                thousands(&json!(errors)),
                thousands(&o["run"]["sent"]),
            ));
        }
    }
    for o in r["parts"]["operator"].as_array().into_iter().flatten() {
        if let Some(e) = o["webhook"]["error"].as_str() {
            out.push(format!("The {} phase's webhook probe: {e}.", o["tag"]));
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
        "| N | writes | at once | seconds | writes/s | apiserver CPU ms a write | CPU s apiserver / etcd / other processes |"
    );
    let _ = writeln!(s, "|---:|---|---:|---:|---:|---:|---|");
    for f in r["parts"]["floor"]["runs"].as_array().into_iter().flatten() {
        let cpu = &f["cpu_seconds"];
        let kind = match f["kind"].as_str().unwrap_or("apply") {
            "create" => "create + PUT status",
            _ => "server-side apply",
        };
        let _ = writeln!(
            s,
            "| {} | {kind} | {} | {} | {} | {} | {} / {} / {} |",
            thousands(&f["n"]),
            num(&f["concurrency"], 0),
            num(&f["seconds"], 1),
            thousands(&f["writes_per_second"]),
            num(&per_write_ms(&cpu["kube-apiserver"], &f["writes"]), 2),
            num(&cpu["kube-apiserver"], 1),
            num(&cpu["etcd"], 1),
            num(&cpu["others"], 1),
        );
    }

    control_plane_memory(&mut s, r);

    let _ = writeln!(s, "\n## Cost of the writes\n");
    let _ = writeln!(
        s,
        "Writes a second from creating the library to every image Ready, against the floors \
         (16 items at once; a size without a floor of its own is compared with the largest \
         floor below it, named in brackets). The create + PUT status floor writes the same \
         payloads without server-side apply: what apply costs the apiserver, a figure, not a \
         target. CPU ms a write: the process's CPU seconds over the writes the apiserver \
         counted (the operator's over its own writes).\n"
    );
    let _ = writeln!(
        s,
        "| N | operator writes/s | floor, apply writes/s | floor, create + status writes/s | apiserver CPU ms a write: operator run / apply floor / create floor | etcd CPU ms a write | operator CPU ms a write |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---|---:|---:|");
    for row in r["sync"].as_array().into_iter().flatten() {
        let c = &row["cost"];
        let at = |wps: &Value, n: &Value| -> String {
            if wps.is_null() {
                return "-".into();
            }
            if n == &row["n"] {
                thousands(wps)
            } else {
                format!("{} (at {})", thousands(wps), thousands(n))
            }
        };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} / {} / {} | {} | {} |",
            thousands(&row["n"]),
            thousands(&c["operator_writes_per_second"]),
            at(&c["floor_writes_per_second"], &c["floor_n"]),
            at(&c["create_floor_writes_per_second"], &c["create_floor_n"]),
            num(&c["apiserver_cpu_ms_per_write"], 2),
            num(&c["floor_apiserver_cpu_ms_per_write"], 2),
            num(&c["create_floor_apiserver_cpu_ms_per_write"], 2),
            num(&c["etcd_cpu_ms_per_write"], 2),
            num(&c["operator_cpu_ms_per_write"], 2),
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

    let _ = writeln!(
        s,
        "\nBytes per image: RSS above the idle RSS of the same phase's process (on its own empty \
         control plane), over the images present.\n"
    );
    let _ = writeln!(
        s,
        "| phase | images | state | RSS (MiB) | idle (MiB) | bytes per image |"
    );
    let _ = writeln!(s, "|---|---:|---|---:|---:|---:|");
    for p in r["bytes_per_image"].as_array().into_iter().flatten() {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} |",
            p["tag"].as_str().unwrap_or("?"),
            thousands(&p["images"]),
            p["state"].as_str().unwrap_or("?"),
            num(&p["mib"], 1),
            num(&p["idle_rss_mib"], 1),
            thousands(&p["bytes_per_image"]),
        );
    }

    let _ = writeln!(s, "\n## Start-up\n");
    let _ = writeln!(
        s,
        "| images present | /readyz 200 (s) | first reconcile done (s) | libraries synced (s) | every item reconciled (s) | OVF fetches | writes | CPU s to every item reconciled: operator / apiserver / etcd |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|---:|---:|---|");
    if let Some(idle) = r["idle"].as_object() {
        let _ = writeln!(
            s,
            "| 0 | {} | - | - | - | - | - | - |",
            num(&idle["ready_seconds"], 2)
        );
    }
    for st in r["startup"].as_array().into_iter().flatten() {
        let cpu = &st["cpu_seconds_to_reconciled"];
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} / {} |",
            thousands(&st["images"]),
            num(&st["readyz_seconds"], 2),
            num(&st["first_reconcile_seconds"], 2),
            num(&st["libraries_synced_seconds"], 2),
            num(&st["images_reconciled_seconds"], 2),
            thousands(&st["ovf_fetches"]),
            thousands(&st["writes"]),
            num(&cpu["vmi-operator"], 1),
            num(&cpu["kube-apiserver"], 1),
            num(&cpu["etcd"], 1),
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
            thousands(&json!(indexed(w))),
            thousands(&w["errors"]),
        );
    } else {
        let _ = writeln!(s, "- Webhook: not available.");
    }
    for w in r["webhook_more"].as_array().into_iter().flatten() {
        let lat = &w["latency_ms"];
        let _ = writeln!(
            s,
            "- Webhook with {} images indexed: p50 {} ms, p99 {} ms, {} req/s, {} errors.",
            thousands(&json!(indexed(w))),
            num(&lat["p50"], 3),
            num(&lat["p99"], 3),
            thousands(&w["requests_per_second"]),
            thousands(&w["errors"]),
        );
    }
    let open = r["webhook_open_loop"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !open.is_empty() {
        let _ = writeln!(
            s,
            "\nWebhook at a fixed rate (open loop): each request timed from when it was due, so a \
             stall counts for every request it delayed; beside it, the closed-loop maximum above \
             (32 workers as fast as the server answers). \"Server alone\": from the actual send. \
             Load generator and server share the machine's CPUs.\n"
        );
        let _ = writeln!(
            s,
            "| where | images | rate/s | sent | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | server alone p99 (ms) | pacer late p99 (ms) | errors |"
        );
        let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for o in &open {
            let run = &o["run"];
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                o["where"].as_str().unwrap_or("?"),
                thousands(&o["images"]),
                thousands(&run["rate"]),
                thousands(&run["sent"]),
                num(&run["latency_ms"]["p50"], 3),
                num(&run["latency_ms"]["p99"], 3),
                num(&run["latency_ms"]["p999"], 3),
                num(&run["latency_ms"]["max"], 3),
                num(&run["service_ms"]["p99"], 3),
                num(&run["pacer_lag_ms"]["p99"], 3),
                thousands(&run["errors"]),
            );
        }
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

/// The apiserver's and etcd's memory at the end of each run: what a size costs the control
/// plane, the operator's or the floor's writes alike (floors of one phase share a control plane).
fn control_plane_memory(s: &mut String, r: &Value) {
    use std::fmt::Write as _;
    let mib = |m: &Value, c: &str| {
        format!(
            "{} ({})",
            num(&m[c]["rss_mib"], 0),
            num(&m[c]["peak_rss_mib"], 0)
        )
    };
    let mut rows = Vec::new();
    for row in r["sync"].as_array().into_iter().flatten() {
        let cache = watch_cache(&row["apiserver_watch_cache"]);
        rows.push((
            format!("operator, N = {}", thousands(&row["n"])),
            cache,
            row["control_plane_memory"].clone(),
        ));
    }
    for f in r["parts"]["floor"]["runs"].as_array().into_iter().flatten() {
        let what = format!(
            "floor ({}), N = {}",
            f["kind"].as_str().unwrap_or("apply"),
            thousands(&f["n"])
        );
        rows.push((
            what,
            watch_cache(&f["apiserver_watch_cache"]),
            f["control_plane_memory"].clone(),
        ));
    }
    if rows.iter().all(|(_, _, m)| m.is_null()) {
        return;
    }
    let _ = writeln!(
        s,
        "\nControl plane memory at the end of each run, RSS (peak) in MiB. The apiserver holds \
         every custom resource decoded (managedFields included) in its watch cache; with the \
         cache off, lists and watches are served from etcd.\n"
    );
    let _ = writeln!(s, "| run | watch cache | kube-apiserver | etcd |");
    let _ = writeln!(s, "|---|---|---:|---:|");
    for (what, cache, m) in rows.into_iter().filter(|(_, _, m)| !m.is_null()) {
        let _ = writeln!(
            s,
            "| {what} | {cache} | {} | {} |",
            mib(&m, "kube-apiserver"),
            mib(&m, "etcd")
        );
    }
}

fn watch_cache(flag: &Value) -> &'static str {
    match flag.as_str() {
        Some("false") => "off",
        _ => "on",
    }
}
