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
