//! The operator as a child process.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vmi_test_support::serve;

use crate::probes::metrics::*;

/// How long the operator's counters must stay still before a run counts as settled.
pub(crate) const QUIET: Duration = Duration::from_secs(5);

pub(crate) struct Operator {
    pub(crate) child: Child,
    pub(crate) metrics_port: u16,
    pub(crate) webhook_port: u16,
    pub(crate) spawned: Instant,
    pub(crate) log: PathBuf,
}

impl Operator {
    /// `vmi-operator run` under `kubeconfig` with its webhook serving from `cert_dir`.
    /// `--sync-interval 1h` keeps periodic re-listings out of the counts.
    pub(crate) fn start(
        binary: &Path,
        kubeconfig: &Path,
        cert_dir: &Path,
        log: PathBuf,
    ) -> Operator {
        let metrics_port = serve::free_port();
        let webhook_port = serve::free_port();
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
            // The bench serves its namespaced libraries from loopback, which tenants may not.
            .args(vmi_test_support::operator::TEST_SOURCE_POLICY)
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
            webhook_port,
            spawned,
            log,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub(crate) fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    pub(crate) async fn get(&self, http: &reqwest::Client, path: &str) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{}{path}", self.metrics_port);
        let response = http.get(&url).send().await.ok()?;
        let status = response.status().as_u16();
        Some((status, response.text().await.ok()?))
    }

    pub(crate) async fn metrics(&self, http: &reqwest::Client) -> Option<Samples> {
        match self.get(http, "/metrics").await? {
            (200, text) => Some(parse_prometheus(&text)),
            _ => None,
        }
    }

    /// Waits for `/readyz` 200; the time since the process was spawned.
    pub(crate) async fn wait_ready(
        &mut self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Duration {
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
    pub(crate) async fn terminate(&mut self) -> (Duration, bool) {
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
pub(crate) fn operator_counters(samples: &Samples) -> Value {
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
pub(crate) async fn settle(
    op: &Operator,
    http: &reqwest::Client,
    max: Duration,
) -> (Samples, Duration) {
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
