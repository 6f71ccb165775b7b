//! Webhook benchmark: images indexed in-process (no cluster), `serve` on loopback with a test
//! certificate, AdmissionReview POSTs over TLS. Two loads:
//!
//! - closed loop: 32 workers, each sending its next request when the last is answered, as fast
//!   as the server goes (the maximum throughput, and its latencies);
//! - open loop (`--rate 1000,5000`): requests at a fixed rate, each timed from when it was due
//!   (`vmi_test_support::load`), which is the latency the apiserver would see at that rate.
//!
//! Prints p50/p90/p99 and requests/s and writes `target/bench/webhook.json`
//! (`webhook-<N>.json` with `--images N` other than 10,000; `--out` names another file).
//!
//! `cargo bench --bench webhook [-- --quick] [--images 100000] [--rate 1000,5000]
//! [--rate-seconds 10]`. Bounded: at most `requests` closed-loop requests and `max_duration`,
//! open-loop runs of `--rate-seconds`, to 127.0.0.1 only.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vmi_operator::webhook::{ImageIndex, MUTATE_PATH, VALIDATE_PATH};
use vmi_test_support::load::{MAX_IN_FLIGHT, contains, open_loop, percentile_ms, warm_up};
use vmi_test_support::{admission::*, webhook::*};

/// Namespaced images per namespace: "hundreds of namespaces times tens to hundreds of images".
const IMAGES_PER_NAMESPACE: usize = 200;
const CONCURRENCY: usize = 32;

struct Plan {
    requests: usize,
    max_duration: Duration,
    warmup: usize,
    /// Indexed images: four fifths VirtualMachineImages (200 a namespace), one fifth
    /// ClusterVirtualMachineImages (10,000: 40 namespaces, 8,000 + 2,000, as before).
    images: usize,
    rates: Vec<f64>,
    rate_duration: Duration,
    out: Option<PathBuf>,
}

impl Plan {
    fn cluster_images(&self) -> usize {
        self.images / 5
    }
    fn namespaced_images(&self) -> usize {
        self.images - self.cluster_images()
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut quick = std::env::var_os("VMI_BENCH_QUICK").is_some();
    let (mut images, mut rates, mut rate_seconds, mut out) = (10_000, None, None, None);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match a.as_str() {
            "--quick" => quick = true,
            "--images" => images = value("--images").parse().expect("--images: a number"),
            "--rate" => {
                rates = Some(
                    value("--rate")
                        .split(',')
                        .filter(|r| !r.trim().is_empty())
                        .map(|r| r.trim().parse::<f64>().expect("--rate: numbers"))
                        .collect::<Vec<_>>(),
                )
            }
            "--rate-seconds" => {
                rate_seconds = Some(value("--rate-seconds").parse::<f64>().expect("seconds"))
            }
            "--out" => out = Some(PathBuf::from(value("--out"))),
            // cargo bench passes --bench to harness-less benches.
            "--bench" => {}
            other => panic!("unknown argument {other:?}"),
        }
    }
    assert!(images >= 5, "--images: at least 5");
    // Quick (CI): one short open-loop run, so the path is exercised without costing time.
    let plan = if quick {
        Plan {
            requests: 3_000,
            max_duration: Duration::from_secs(10),
            warmup: 200,
            images,
            rates: rates.unwrap_or_else(|| vec![1_000.0]),
            rate_duration: Duration::from_secs_f64(rate_seconds.unwrap_or(3.0)),
            out,
        }
    } else {
        Plan {
            requests: 100_000,
            max_duration: Duration::from_secs(30),
            warmup: 1_000,
            images,
            rates: rates.unwrap_or_else(|| vec![1_000.0, 5_000.0]),
            rate_duration: Duration::from_secs_f64(rate_seconds.unwrap_or(10.0)),
            out,
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(run(plan));
}

fn ns_name(n: usize) -> String {
    format!("team-{n:02}")
}

/// The `k`th namespaced image: (namespace number, number in it).
fn place(k: usize) -> (usize, usize) {
    (k / IMAGES_PER_NAMESPACE, k % IMAGES_PER_NAMESPACE)
}

fn vmi_name(n: usize, i: usize) -> String {
    format!(
        "vmi-{:017x}",
        (n * IMAGES_PER_NAMESPACE + i) as u64 + 0x1_0000_0000
    )
}

fn cvmi_name(j: usize) -> String {
    format!("vmi-{:017x}", j as u64 + 0xc_0000_0000)
}

/// A request body of each kind the apiserver sends, spread over the images.
fn bodies(plan: &Plan) -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for k in 0..2_000usize {
        // Strides coprime with the counts, so the 2,000 bodies reach every part of the index.
        let (n, i) = place((k * 7_919) % plan.namespaced_images());
        let j = (k * 13) % plan.cluster_images();
        let ns = ns_name(n);
        let uid = format!("bench-{k}");
        let (path, spec) = match k % 5 {
            // Display name found in the namespace.
            0 | 1 => (MUTATE_PATH, json!({ "imageName": format!("Image {i}") })),
            // Display name found in the cluster (namespace miss first).
            2 => (
                MUTATE_PATH,
                json!({ "imageName": format!("Cluster Image {j}") }),
            ),
            // A VMI ID.
            3 => (MUTATE_PATH, json!({ "imageName": vmi_name(n, i) })),
            // Validation of a mutated VM.
            _ => (
                VALIDATE_PATH,
                json!({ "imageName": vmi_name(n, i), "image": { "kind": "VirtualMachineImage", "name": vmi_name(n, i) } }),
            ),
        };
        out.push((path, create_review(&uid, &ns, &format!("vm-{k}"), spec)));
    }
    out
}

async fn run(plan: Plan) {
    let _ = rustls::crypto::ring::default_provider().install_default();

    let build = Instant::now();
    let vmis = (0..plan.namespaced_images()).map(|k| {
        let (n, i) = place(k);
        vmi(
            &ns_name(n),
            &vmi_name(n, i),
            &format!("Image {i}"),
            true,
            &["cloud-init"],
        )
    });
    let cvmis = (0..plan.cluster_images())
        .map(|j| cvmi(&cvmi_name(j), &format!("Cluster Image {j}"), true, &[]));
    let index = ImageIndex::from_objects(vmis, cvmis);
    let index_build = build.elapsed();
    let (n_vmis, n_cvmis) = index.len();
    assert_eq!(n_vmis + n_cvmis, plan.images);

    let dir = std::env::temp_dir().join(format!("vmi-webhook-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pki = TestPki::generate(&dir);
    let webhook = RunningWebhook::start(&pki, index, Duration::from_secs(5)).await;
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .pool_max_idle_per_host(MAX_IN_FLIGHT)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let bodies: Arc<Vec<(String, Vec<u8>)>> = Arc::new(
        bodies(&plan)
            .into_iter()
            .map(|(path, body)| (webhook.url(path), body))
            .collect(),
    );

    // Warm-up: connections, allocator, branch predictors.
    for k in 0..plan.warmup {
        let (url, body) = &bodies[k % bodies.len()];
        let resp = client
            .post(url)
            .body(body.clone())
            .send()
            .await
            .expect("warm-up request");
        let out: Value = resp.json().await.expect("AdmissionReview");
        assert_eq!(out["response"]["allowed"], true, "{out}");
    }

    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let deadline = start + plan.max_duration;
    let mut workers = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, bodies, next) = (client.clone(), bodies.clone(), next.clone());
        let total = plan.requests;
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0usize;
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= total || Instant::now() >= deadline {
                    break;
                }
                let (url, body) = &bodies[k % bodies.len()];
                let t = Instant::now();
                let ok = match client
                    .post(url)
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await
                {
                    Ok(resp) if resp.status().is_success() => match resp.bytes().await {
                        // Cheap check of every answer; the full JSON was checked in the warm-up.
                        Ok(b) => contains(ALLOWED, &b),
                        Err(_) => false,
                    },
                    _ => false,
                };
                latencies.push(t.elapsed());
                if !ok {
                    errors += 1;
                }
            }
            (latencies, errors)
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for w in workers {
        let (l, e) = w.await.expect("worker");
        latencies.extend(l);
        errors += e;
    }
    let elapsed = start.elapsed();

    // Open loop after the closed one: the index and connections are warm for both.
    let mut open = Vec::new();
    for &rate in &plan.rates {
        warm_up(&client, &bodies, MAX_IN_FLIGHT).await;
        let r = open_loop(&client, bodies.clone(), ALLOWED, rate, plan.rate_duration).await;
        println!(
            "  open loop {rate:.0}/s for {:.0} s: {} sent, {} errors, from the due time p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms (server alone p99 {:.3} ms, pacer late p99 {:.3} ms)",
            plan.rate_duration.as_secs_f64(),
            r.sent,
            r.errors,
            percentile_ms(&r.latencies, 50.0),
            percentile_ms(&r.latencies, 99.0),
            percentile_ms(&r.latencies, 100.0),
            percentile_ms(&r.service, 99.0),
            percentile_ms(&r.pacer_lag, 99.0),
        );
        open.push(r.to_json());
    }
    webhook.stop().await;
    let _ = std::fs::remove_dir_all(&dir);

    latencies.sort();
    let count = latencies.len();
    let rps = count as f64 / elapsed.as_secs_f64();
    let (p50, p90, p99) = (
        percentile_ms(&latencies, 50.0),
        percentile_ms(&latencies, 90.0),
        percentile_ms(&latencies, 99.0),
    );
    let max = latencies
        .last()
        .map(|d| d.as_secs_f64() * 1000.0)
        .unwrap_or(0.0);

    println!(
        "webhook bench: {n_vmis} VirtualMachineImages + {n_cvmis} ClusterVirtualMachineImages indexed in {:.1} ms",
        index_build.as_secs_f64() * 1000.0
    );
    println!(
        "  {count} requests, concurrency {CONCURRENCY}, {:.2} s, {errors} errors",
        elapsed.as_secs_f64()
    );
    println!("  latency p50 {p50:.3} ms  p90 {p90:.3} ms  p99 {p99:.3} ms  max {max:.3} ms");
    println!("  throughput {rps:.0} requests/s");

    let report = json!({
        "bench": "webhook",
        "images": { "virtualMachineImages": n_vmis, "clusterVirtualMachineImages": n_cvmis },
        "index_build_ms": index_build.as_secs_f64() * 1000.0,
        "concurrency": CONCURRENCY,
        "requests": count,
        "errors": errors,
        "duration_s": elapsed.as_secs_f64(),
        "requests_per_second": rps,
        "latency_ms": { "p50": p50, "p90": p90, "p99": p99, "max": max },
        "load": "closed loop: 32 workers, each sending when its last request is answered",
        "open_loop": open,
        "transport": "HTTPS (rustls, ring) over 127.0.0.1, HTTP/1.1 keep-alive",
    });
    let path = plan.out.clone().unwrap_or_else(|| {
        let dir = vmi_test_support::bench_dir();
        match plan.images {
            10_000 => dir.join("webhook.json"),
            n => dir.join(format!("webhook-{n}.json")),
        }
    });
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create target/bench");
    }
    std::fs::write(&path, serde_json::to_vec_pretty(&report).unwrap()).expect("write report");
    println!("  wrote {}", path.display());
    // Open-loop errors (a rate above what the machine sustains) are figures in the JSON, and
    // findings of the report; a closed-loop error is a broken webhook.
    assert_eq!(errors, 0, "some requests failed");
}

/// Every request is for an image that exists: each answer must allow.
const ALLOWED: &[u8] = b"\"allowed\":true";
