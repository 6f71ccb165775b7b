//! The benchmark report of `make bench` / `make bench-quick` (issue 8, item 1). `hack/bench.sh`
//! drives it, one phase per fresh loopback control plane (`hack/cluster.sh` with its own
//! `VMI_CLUSTER_DIR`), and this binary does the measuring:
//!
//! - `floor --sizes 1000,5000 [--floor-concurrency 16,32] [--floor-kinds apply,create]
//!   [--floor-repeat 2] --out F`: the apiserver's floor for a sync (`create`: the same payloads
//!   created and their statuses PUT, the cheapest writes, beside the apply floor). A plain kube
//!   client, under the operator's own ServiceAccount and RBAC (so API Priority and Fairness
//!   treats it like the operator; the create floor may also PUT statuses), writes exactly the objects the operator would
//!   write for a library of N items (payloads computed with the operator's own pure functions):
//!   per item, apply the item, its status, the image and its status, 16 (or 32) items at once,
//!   after an untimed warm-up of 100 items; each run twice (the report takes the faster). No
//!   operator runs in that cluster.
//! - `operator --sizes 1000,5000 --binary B --tag T --out F [--webhook-rates 1000,5000]
//!   [--webhook-seconds 10] [--sync-timeout S] [--operator-features F]`: the release binary as
//!   a child process under that same identity, with its webhook serving (the webhook's image index is
//!   part of the memory it needs). Idle RSS on an empty cluster; then per N, a published library
//!   of N items (one small OVF, hard-linked N times under distinct names) and the wall time from
//!   creating the ContentLibrary to N items and to N Ready images (watches, not the 60 s gauge),
//!   the operator's writes (`vmi_operator_writes_total`), the writes the apiserver saw
//!   (`apiserver_request_total`, events included), CPU seconds of each process, RSS; then a
//!   restart with every image present: time to `/readyz`, to the first library sync and to the
//!   image controller's first pass, and how many descriptors it fetched again (should be 0).
//!   With `--webhook-rates`, its webhook is probed at those rates (open loop) once the images
//!   are synced.
//! - `report --mode quick|full|huge`: folds the parts, `target/bench/ovf.json` and
//!   `target/bench/webhook.json` and `webhook-<N>.json` (the other two benchmarks) into `target/bench/report.md` and
//!   `report.json`, and prints the table.
//!
//! Run without a command, it prints a hint and does nothing.
//! Everything is loopback-only and bounded by deadlines.

mod args;
mod library;
mod phases;
mod probes;
mod process;
mod report;

use crate::args::{Args, bench_dir, write_json};
use crate::phases::{floor_phase, operator_phase};
use crate::report::report;

fn main() {
    let args = Args::parse();
    let Some(command) = args.command.clone() else {
        eprintln!(
            "vmi-bench: run it through hack/bench.sh (make bench, make bench-quick); nothing to do"
        );
        return;
    };
    if command == "report" {
        report(&args);
        return;
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let out = match command.as_str() {
        "floor" => runtime.block_on(floor_phase(&args)),
        "operator" => runtime.block_on(operator_phase(&args)),
        other => {
            eprintln!("vmi-bench: unknown command {other:?} (floor, operator, report)");
            std::process::exit(2);
        }
    };
    let path = args.out.clone().unwrap_or_else(|| {
        bench_dir()
            .join("parts")
            .join(format!("{command}-{}.json", args.tag))
    });
    write_json(&path, &out);
    eprintln!("[bench] wrote {}", path.display());
}
