//! Webhook benchmark: 10,000 images indexed (no cluster), `serve` on loopback with a test
//! certificate, concurrent AdmissionReview POSTs over TLS. Prints p50/p90/p99 latency and
//! requests/s and writes `target/bench/webhook.json`.
//!
//! `cargo bench --bench webhook` (add `-- --quick` for a short run). Bounded: at most
//! `REQUESTS` requests and `MAX_DURATION`, to 127.0.0.1 only.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vmi_operator::webhook::{ImageIndex, MUTATE_PATH, VALIDATE_PATH};
use vmi_test_support::{admission::*, webhook::*};

const NAMESPACES: usize = 40;
const IMAGES_PER_NAMESPACE: usize = 200; // 8,000 VirtualMachineImages
const CLUSTER_IMAGES: usize = 2_000; // + 2,000 ClusterVirtualMachineImages = 10,000
const CONCURRENCY: usize = 32;

struct Plan {
    requests: usize,
    max_duration: Duration,
    warmup: usize,
}

fn main() {
    let quick =
        std::env::args().any(|a| a == "--quick") || std::env::var_os("VMI_BENCH_QUICK").is_some();
    let plan = if quick {
        Plan {
            requests: 3_000,
            max_duration: Duration::from_secs(10),
            warmup: 200,
        }
    } else {
        Plan {
            requests: 100_000,
            max_duration: Duration::from_secs(30),
            warmup: 1_000,
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

fn vmi_name(n: usize, i: usize) -> String {
    format!(
        "vmi-{:017x}",
        (n * IMAGES_PER_NAMESPACE + i) as u64 + 0x1_0000_0000
    )
}

fn cvmi_name(j: usize) -> String {
    format!("vmi-{:017x}", j as u64 + 0xc_0000_0000)
}

/// A request body of each kind the apiserver sends, round-robin over the images.
fn bodies() -> Vec<(&'static str, Vec<u8>)> {
    let mut out = Vec::new();
    for k in 0..2_000usize {
        let n = k % NAMESPACES;
        let i = (k * 7) % IMAGES_PER_NAMESPACE;
        let j = (k * 13) % CLUSTER_IMAGES;
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

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

async fn run(plan: Plan) {
    let _ = rustls::crypto::ring::default_provider().install_default();

    let build = Instant::now();
    let vmis = (0..NAMESPACES).flat_map(|n| {
        (0..IMAGES_PER_NAMESPACE).map(move |i| {
            vmi(
                &ns_name(n),
                &vmi_name(n, i),
                &format!("Image {i}"),
                true,
                &["cloud-init"],
            )
        })
    });
    let cvmis =
        (0..CLUSTER_IMAGES).map(|j| cvmi(&cvmi_name(j), &format!("Cluster Image {j}"), true, &[]));
    let index = ImageIndex::from_objects(vmis, cvmis);
    let index_build = build.elapsed();
    let (n_vmis, n_cvmis) = index.len();
    assert_eq!(n_vmis + n_cvmis, 10_000);

    let dir = std::env::temp_dir().join(format!("vmi-webhook-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let pki = TestPki::generate(&dir);
    let webhook = RunningWebhook::start(&pki, index, Duration::from_secs(5)).await;
    let client = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(pki.ca_pem.as_bytes()).unwrap())
        .pool_max_idle_per_host(CONCURRENCY)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let bodies: Arc<Vec<(String, Vec<u8>)>> = Arc::new(
        bodies()
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
                        Ok(b) => memchr(b"\"allowed\":true", &b),
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
    webhook.stop().await;
    let _ = std::fs::remove_dir_all(&dir);

    latencies.sort();
    let count = latencies.len();
    let rps = count as f64 / elapsed.as_secs_f64();
    let (p50, p90, p99) = (
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        percentile(&latencies, 99.0),
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
        "transport": "HTTPS (rustls, ring) over 127.0.0.1, HTTP/1.1 keep-alive",
    });
    let out_dir = vmi_test_support::bench_dir();
    std::fs::create_dir_all(&out_dir).expect("create target/bench");
    let path = out_dir.join("webhook.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&report).unwrap()).expect("write report");
    println!("  wrote {}", path.display());
    assert_eq!(errors, 0, "some requests failed");
}

fn memchr(needle: &[u8], haystack: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
