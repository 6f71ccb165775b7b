//! What vmi-operator's tests, benchmarks and the measurement program (`hack/bench/`) share, in the
//! way of Linkerd's `policy-test`: one library, no `#[path]` includes, no copies.
//!
//! - [`cluster`]: the loopback control plane of `hack/cluster.sh` and admin clients for it;
//!   [`kubectl`], [`yaml`] (server-side apply of YAML streams), [`namespaces`] (a namespace per
//!   test, service-account identities with exactly their RBAC), [`wait`] (polling with a deadline).
//! - [`operator`]: the operator binary as a child process under its installed RBAC.
//! - [`vcsim`]: govmomi's vSphere simulator on loopback; [`vcenter_proxy`]: a proxy in front of it
//!   that ends the operator's session on cue and can refuse logins.
//! - [`library`]: published libraries (fixtures, `vmi-operator publish`, libraries written as
//!   JSON in milliseconds); [`serve`]: serving them over HTTP on loopback.
//! - [`archive`]: tar/OVA builders that write member names raw, as an attacker would.
//! - [`webhook`]: a throwaway PKI and the webhook server on loopback; [`admission`]: images and
//!   AdmissionReviews to send it; [`load`]: open-loop load at a fixed rate, timed from each
//!   request's due time.
//! - [`fault`]: control planes of a test's own, to kill; [`converge`]: the end-state checks of
//!   tests that run the operator.
//! - [`schema_gen`]: random objects valid under a CRD's schema (a proptest strategy), and a
//!   structural validator for what conversions produce.
//!
//! The e2e tests run against the control plane of `hack/cluster.sh` (etcd, kube-apiserver with
//! RBAC, kube-controller-manager with the garbage collector and namespace controller). `make test`
//! starts it before `cargo test` and stops it afterwards; a plain `cargo test` starts it on first use
//! (`hack/cluster.sh up`, which is a no-op when it already runs) and leaves it running for the next
//! run (`make cluster-down` stops it).
//!
//! The admin kubeconfig is `target/cluster/kubeconfig` (`$VMI_CLUSTER_DIR/kubeconfig`). An ambient
//! `KUBECONFIG` is deliberately ignored, so that a developer's own cluster is never touched; to run
//! against another cluster on purpose, set `VMI_E2E_KUBECONFIG` (then nothing is started).
//!
//! Every test works in its own namespace ([`namespaces::test_namespace`]), so tests run in
//! parallel. Namespaces are left behind on purpose (to look at after a failure,
//! `kubectl get ns -l vmi-operator.e2e/test`); the whole cluster is thrown away by
//! `hack/cluster.sh down` (the next `up` starts from empty etcd). Cluster-scoped objects a test
//! creates should carry the namespace in their name.
//!
//! All helpers panic with a clear message on failure: they are for tests.

use std::path::{Path, PathBuf};

pub mod admission;
pub mod archive;
pub mod cluster;
pub mod converge;
pub mod fault;
pub mod kubectl;
pub mod library;
pub mod load;
pub mod namespaces;
pub mod operator;
pub mod schema_gen;
pub mod serve;
pub mod vcenter_proxy;
pub mod vcsim;
pub mod wait;
pub mod webhook;
pub mod yaml;

/// The repository root (where `Cargo.toml`, `crds/` and `hack/` are): this crate's parent.
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("test-support/ sits in the repository")
}

/// Cargo's target folder of the running binary: the first folder above it that holds cargo's
/// `CACHEDIR.TAG` (so a `CARGO_TARGET_DIR` elsewhere is found too), else `target/` of the repository.
pub fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .skip(1)
                .find(|d| d.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| repo_root().join("target"))
}

/// Scratch files of tests (logs, kubeconfigs): `<target>/tmp`, what cargo gives integration tests
/// as `CARGO_TARGET_TMPDIR`. Created on first use.
pub fn scratch_dir() -> PathBuf {
    let dir = target_dir().join("tmp");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Where benchmarks write their results: `$VMI_BENCH_DIR` (hack/bench.sh sets it), else
/// `bench/` in `$CARGO_TARGET_DIR` (make bench-ci's is outside the clone), else `target/bench`.
pub fn bench_dir() -> PathBuf {
    std::env::var_os("VMI_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| repo_root().join("target"))
                .join("bench")
        })
}
