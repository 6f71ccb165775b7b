//! Parse throughput over the whole OVF fixture corpus (../shared/fixtures/ovf): MB/s and
//! descriptors/s for `parse_descriptor`, and, when the govmomi parity harness is built
//! (hack/govmomi-parity/build.sh, or VMI_GOVMOMI_PARITY), govmomi's `ovf.Unmarshal` on the same
//! files and the ratio. Writes target/bench/ovf.json.
//!
//! `cargo bench --bench ovf_parse` (OVF_BENCH_ITERATIONS, default 20, sets the rounds).
//! Note what each side does: ours decodes, parses, reads the envelope and derives every
//! OvfInfo field; govmomi's figure is its XML unmarshal alone.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use serde_json::{Value, json};
use vmi_operator::ovf::parse_descriptor;
use vmi_test_support::library;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/ovf");
    assert!(
        root.join("SOURCES.md").is_file(),
        "OVF fixture corpus missing at {}",
        root.display()
    );
    let files = library::ovf_files(&root);
    let data: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(root.join(f)).unwrap())
        .collect();
    let bytes: usize = data.iter().map(Vec::len).sum();
    let iterations: usize = std::env::var("OVF_BENCH_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);

    // One round to warm caches and count outcomes.
    let ok = data.iter().filter(|d| parse_descriptor(d).is_ok()).count();
    let started = Instant::now();
    for _ in 0..iterations {
        for d in &data {
            std::hint::black_box(parse_descriptor(std::hint::black_box(d)).ok());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let rounds = (iterations * data.len()) as f64;
    let mb_per_s = (bytes * iterations) as f64 / seconds / 1e6;
    let descriptors_per_s = rounds / seconds;
    println!(
        "ovf_parse: {} descriptors, {:.1} MB, {iterations} rounds: {mb_per_s:.1} MB/s, {descriptors_per_s:.0} descriptors/s ({ok} parse, {} errors)",
        data.len(),
        bytes as f64 / 1e6,
        data.len() - ok
    );

    let govmomi = govmomi(&root, &files, iterations);
    let ratio = govmomi
        .as_ref()
        .and_then(|g| g["mb_per_s"].as_f64())
        .map(|g| mb_per_s / g);
    match (&govmomi, ratio) {
        (Some(g), Some(r)) => println!(
            "govmomi:   {:.1} MB/s, {:.0} descriptors/s ({}); ours/govmomi = {r:.2}x",
            g["mb_per_s"].as_f64().unwrap_or(0.0),
            g["descriptors_per_s"].as_f64().unwrap_or(0.0),
            g["parser"].as_str().unwrap_or("govmomi")
        ),
        _ => println!(
            "govmomi:   harness not built (hack/govmomi-parity/build.sh or VMI_GOVMOMI_PARITY); no comparison"
        ),
    }

    let report = json!({
        "files": data.len(),
        "bytes": bytes,
        "iterations": iterations,
        "parsed": ok,
        "errors": data.len() - ok,
        "seconds": seconds,
        "mb_per_s": mb_per_s,
        "descriptors_per_s": descriptors_per_s,
        "govmomi": govmomi,
        "ratio_vs_govmomi": ratio,
    });
    let dir = vmi_test_support::bench_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join("ovf.json");
    std::fs::write(&out, serde_json::to_string_pretty(&report).unwrap()).unwrap();
    println!("wrote {}", out.display());
}

/// The parity harness's `-bench` result on the same files, if the harness is built. The bench
/// does not build it (that needs Go and the network); the parity test or build.sh does.
fn govmomi(root: &Path, files: &[String], iterations: usize) -> Option<Value> {
    let binary = std::env::var_os("VMI_GOVMOMI_PARITY")
        .map(PathBuf::from)
        .or_else(cached_harness)?;
    if !binary.is_file() {
        return None;
    }
    let out = Command::new(&binary)
        .arg("-bench")
        .arg(iterations.to_string())
        .args(files)
        .current_dir(root)
        .output()
        .ok()?;
    if !out.status.success() {
        eprintln!(
            "govmomi harness failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// Where build.sh caches the harness: ~/.cache/vmi-operator/govmomi-parity-<version>/.
fn cached_harness() -> Option<PathBuf> {
    let go_mod = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("hack/govmomi-parity/go.mod"),
    )
    .ok()?;
    let version = go_mod
        .lines()
        .find_map(|l| l.strip_prefix("require github.com/vmware/govmomi "))?
        .trim()
        .to_string();
    let cache = std::env::var_os("VMI_TOOLS_CACHE")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/vmi-operator"))
        })?;
    Some(cache.join(format!("govmomi-parity-{version}/govmomi-parity")))
}
