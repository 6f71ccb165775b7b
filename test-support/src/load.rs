//! Open-loop HTTP load: requests sent at a fixed rate whatever the answers take, each timed from
//! the moment it was due to be sent (not from when it went out), so a stalled server cannot hide
//! its stall by holding the sender back (coordinated omission). Used by `benches/webhook.rs` and
//! by `vmi-bench` against the running operator's webhook.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// What one open-loop run measured.
#[derive(Clone, Debug)]
pub struct OpenLoopResult {
    pub rate: f64,
    pub duration: Duration,
    pub sent: usize,
    pub errors: usize,
    /// From the intended send time to the full answer: what the caller waited.
    pub latencies: Vec<Duration>,
    /// From the actual send (a connection free) to the answer: the server alone (plus the
    /// client's own work).
    pub service: Vec<Duration>,
    /// How late each request's task started; large values mean the client machine, not the
    /// server, fell behind.
    pub pacer_lag: Vec<Duration>,
}

/// The `p`th percentile (nearest rank) of sorted durations, in milliseconds.
pub fn percentile_ms(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// p50, p90, p99, p99.9 and max of sorted durations, in ms (3 decimals).
pub fn summary_ms(sorted: &[Duration]) -> Value {
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "p50": r(percentile_ms(sorted, 50.0)),
        "p90": r(percentile_ms(sorted, 90.0)),
        "p99": r(percentile_ms(sorted, 99.0)),
        "p999": r(percentile_ms(sorted, 99.9)),
        "max": r(sorted.last().map(|d| d.as_secs_f64() * 1000.0).unwrap_or(0.0)),
    })
}

impl OpenLoopResult {
    pub fn to_json(&self) -> Value {
        json!({
            "rate": self.rate,
            "duration_s": self.duration.as_secs_f64(),
            "sent": self.sent,
            "completed": self.latencies.len(),
            "errors": self.errors,
            "latency_ms": summary_ms(&self.latencies),
            "service_ms": summary_ms(&self.service),
            "pacer_lag_ms": summary_ms(&self.pacer_lag),
            "max_in_flight": MAX_IN_FLIGHT,
            "timed_from": "the intended send time (open loop, no coordinated omission)",
        })
    }
}

/// Requests in flight at most (and so keep-alive connections), as a webhook client's bounded
/// connection pool has. Unbounded, every slow moment opens new connections, whose TLS
/// handshakes cost more CPU than the requests and make the client, not the server, collapse.
pub const MAX_IN_FLIGHT: usize = 64;

/// Sends POSTs of `requests` (url, body; round-robin) at `rate` a second for `duration`, at
/// most [`MAX_IN_FLIGHT`] at once (a request due while all are busy waits, and its wait counts
/// in its latency). An answer counts as an error unless it is 2xx and contains `expect`. The
/// pacer is an OS thread of its own sleeping to each due time (tokio's timer rounds to whole
/// milliseconds, which at 5,000 a second would send in bursts and add up to a millisecond to
/// the figures).
pub async fn open_loop(
    client: &reqwest::Client,
    requests: Arc<Vec<(String, Vec<u8>)>>,
    expect: &'static [u8],
    rate: f64,
    duration: Duration,
) -> OpenLoopResult {
    assert!(rate > 0.0 && !requests.is_empty());
    let total = (rate * duration.as_secs_f64()).round() as usize;
    let handle = tokio::runtime::Handle::current();
    let client = client.clone();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    let pacer = std::thread::spawn(move || {
        let start = Instant::now() + Duration::from_millis(5);
        let mut tasks = Vec::with_capacity(total);
        for i in 0..total {
            let due = start + Duration::from_secs_f64(i as f64 / rate);
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            let (url, body) = &requests[i % requests.len()];
            let request = client
                .post(url)
                .header("content-type", "application/json")
                .body(body.clone());
            let slots = slots.clone();
            tasks.push(handle.spawn(async move {
                let started = Instant::now();
                let _slot = slots.acquire_owned().await.expect("semaphore");
                let sent = Instant::now();
                let ok = match request.send().await {
                    Ok(r) if r.status().is_success() => match r.bytes().await {
                        Ok(b) => contains(expect, &b),
                        Err(_) => false,
                    },
                    _ => false,
                };
                let done = Instant::now();
                (
                    done - due,
                    done - sent,
                    started.saturating_duration_since(due),
                    ok,
                )
            }));
        }
        (tasks, start)
    });
    let (tasks, start) = tokio::task::spawn_blocking(move || pacer.join().expect("pacer"))
        .await
        .expect("pacer thread");
    let mut result = OpenLoopResult {
        rate,
        duration: Duration::ZERO,
        sent: tasks.len(),
        errors: 0,
        latencies: Vec::with_capacity(total),
        service: Vec::with_capacity(total),
        pacer_lag: Vec::with_capacity(total),
    };
    for t in tasks {
        match t.await {
            Ok((latency, service, lag, ok)) => {
                result.latencies.push(latency);
                result.service.push(service);
                result.pacer_lag.push(lag);
                if !ok {
                    result.errors += 1;
                }
            }
            Err(_) => result.errors += 1,
        }
    }
    result.duration = start.elapsed();
    result.latencies.sort();
    result.service.sort();
    result.pacer_lag.sort();
    result
}

/// Opens `connections` keep-alive connections at once (each POSTs a request), so an open-loop
/// run does not pay TLS handshakes in its first figures.
pub async fn warm_up(client: &reqwest::Client, requests: &[(String, Vec<u8>)], connections: usize) {
    let tasks: Vec<_> = (0..connections)
        .map(|k| {
            let (url, body) = &requests[k % requests.len()];
            tokio::spawn(client.post(url).body(body.clone()).send())
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
}

pub fn contains(needle: &[u8], haystack: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
