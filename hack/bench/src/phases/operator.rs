//! Phase `operator`: the release binary syncing libraries, and restarting with every image present.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube::Client;
use kube::api::{Api, ApiResource};
use serde_json::{Value, json};
use vmi_operator::api::{ContentLibraryItem, VirtualMachineImage};
use vmi_test_support::{cluster, namespaces, operator, webhook};

use crate::args::*;
use crate::library::*;
use crate::probes::count::*;
use crate::probes::metrics::*;
use crate::probes::proc::*;
use crate::probes::webhook::webhook_probe;
use crate::process::*;
use crate::report::num;

pub(crate) async fn operator_phase(args: &Args) -> Value {
    assert!(
        args.binary.is_file(),
        "no operator binary at {} (cargo build --release)",
        args.binary.display()
    );
    let client = cluster::client().await;
    let (_, kubeconfig) = operator::operator_namespace(&client, "bench-operator").await;
    let version = client.apiserver_version().await.map(|v| v.git_version).ok();
    let cert_dir = bench_dir().join(format!("pki-{}", args.tag));
    std::fs::create_dir_all(&cert_dir).expect("create cert dir");
    let pki = webhook::TestPki::generate(&cert_dir);
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
        let timeout = args.sync_timeout.unwrap_or_else(|| timeout_for(lib.n));
        runs.push(sync_run(&client, &mut op, &http, lib, timeout).await);
    }
    let images: usize = runs
        .iter()
        .map(|r| r["ready_images"].as_u64().unwrap_or(0) as usize)
        .sum();
    let loaded = json!({ "images": images, "memory": memory(op.pid()) });
    eprintln!("[bench] with {images} images: {loaded}");
    // After the memory reading, so the probe's connections are not in it.
    let webhook = if args.webhook_rates.is_empty() {
        None
    } else {
        Some(
            webhook_probe(
                &client,
                &op,
                &pki.ca_pem,
                images,
                &args.webhook_rates,
                args.webhook_seconds,
            )
            .await,
        )
    };

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
        let timeout = timeout_for(images).min(args.sync_timeout.unwrap_or(Duration::MAX));
        let mut result = startup_run(&mut restarted, &http, libraries.len(), images, timeout).await;
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
        "features": args.operator_features,
        "apiserver_watch_cache": std::env::var("VMI_APISERVER_WATCH_CACHE").ok(),
        "flags": "run --sync-interval 1h --log-level info, webhook serving (its index holds every image), default --concurrency 16",
        "idle": idle,
        "runs": runs,
        "loaded": loaded,
        "webhook": webhook,
        "startup": startup,
    })
}

/// One library of `lib.n` items, from creating the ContentLibrary to every image Ready.
pub(crate) async fn sync_run(
    client: &Client,
    op: &mut Operator,
    http: &reqwest::Client,
    lib: &Library,
    timeout: Duration,
) -> Value {
    let n = lib.n;
    let ns = namespaces::test_namespace(client, &format!("bench-n{n}")).await;
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
        "control_plane_memory": control_plane_memory(),
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
pub(crate) async fn startup_run(
    op: &mut Operator,
    http: &reqwest::Client,
    libraries: usize,
    images: usize,
    timeout: Duration,
) -> Value {
    let deadline = op.spawned + timeout;
    // Who works during a restart: the lists cost the apiserver (and etcd) as much as the operator.
    let cpu_before = cpu_snapshot(Some(op.pid()));
    let mut cpu_at_reconciled = None;
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
                cpu_at_reconciled = Some(cpu_snapshot(Some(op.pid())));
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
        "cpu_seconds_to_reconciled": cpu_at_reconciled.map(|after| cpu_delta(&cpu_before, &after)),
    });
    eprintln!("[bench] restart with {images} images: {result}");
    result
}
