//! The command line, and where the files go.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;
use vmi_test_support::repo_root;

use crate::phases::CONCURRENCY;

#[derive(Clone, Debug)]
pub(crate) struct Args {
    pub(crate) command: Option<String>,
    pub(crate) sizes: Vec<usize>,
    pub(crate) binary: PathBuf,
    pub(crate) tag: String,
    pub(crate) out: Option<PathBuf>,
    pub(crate) mode: String,
    pub(crate) startup: bool,
    pub(crate) floor_concurrency: Vec<usize>,
    /// Which floors: `apply` (server-side apply, as the operator writes) and `create` (create,
    /// then PUT /status: the cheapest writes, a figure beside it).
    pub(crate) floor_kinds: Vec<String>,
    /// Runs per floor size (the report takes the fastest).
    pub(crate) floor_repeat: usize,
    /// Open-loop rates (a second) at which the operator's own webhook is probed once its images
    /// are synced; none by default.
    pub(crate) webhook_rates: Vec<f64>,
    pub(crate) webhook_seconds: f64,
    /// The cargo features the operator binary was built with (recorded, not used).
    pub(crate) operator_features: String,
    /// Bounds each sync (and the restart) below the phase's own timeout, so that a slow run
    /// still writes its part; by default 2 minutes + 60 ms an item.
    pub(crate) sync_timeout: Option<Duration>,
    /// `report --strict`: exit 1 when the report has findings (CI's regression check).
    pub(crate) strict: bool,
}

impl Args {
    pub(crate) fn parse() -> Args {
        let mut args = Args {
            command: None,
            sizes: vec![200, 1000],
            binary: repo_root().join("target/release/vmi-operator"),
            tag: "main".into(),
            out: None,
            mode: "quick".into(),
            startup: true,
            floor_concurrency: vec![CONCURRENCY, 2 * CONCURRENCY],
            floor_kinds: vec!["apply".into(), "create".into()],
            floor_repeat: 2,
            webhook_rates: Vec::new(),
            webhook_seconds: 10.0,
            operator_features: String::new(),
            sync_timeout: None,
            strict: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(a) = it.next() {
            let mut value =
                |name: &str| it.next().unwrap_or_else(|| panic!("{name} needs a value"));
            match a.as_str() {
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
                "--floor-kinds" => {
                    args.floor_kinds = value("--floor-kinds")
                        .split(',')
                        .map(|k| k.trim().to_string())
                        .filter(|k| !k.is_empty())
                        .collect();
                    for k in &args.floor_kinds {
                        assert!(
                            k == "apply" || k == "create",
                            "--floor-kinds: apply, create"
                        );
                    }
                }
                "--floor-repeat" => {
                    args.floor_repeat = value("--floor-repeat").parse().expect("--floor-repeat")
                }
                "--webhook-rates" => {
                    args.webhook_rates = value("--webhook-rates")
                        .split(',')
                        .filter(|r| !r.trim().is_empty())
                        .map(|r| r.trim().parse().expect("--webhook-rates: numbers"))
                        .collect()
                }
                "--webhook-seconds" => {
                    args.webhook_seconds = value("--webhook-seconds").parse().expect("seconds")
                }
                "--sync-timeout" => {
                    args.sync_timeout = Some(Duration::from_secs(
                        value("--sync-timeout")
                            .parse()
                            .expect("--sync-timeout: seconds"),
                    ))
                }
                "--operator-features" => args.operator_features = value("--operator-features"),
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
pub(crate) fn bench_dir() -> PathBuf {
    std::env::var_os("VMI_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/bench"))
}

pub(crate) fn write_json(path: &Path, value: &Value) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("create output dir");
    }
    std::fs::write(path, serde_json::to_string_pretty(value).unwrap() + "\n")
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

pub(crate) fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

pub(crate) fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
