//! kubectl against the cluster of [`crate::cluster`], as the admin.

use std::path::PathBuf;
use std::process::{Command, Output};

use crate::cluster::{cluster_env, kubeconfig_path};

/// The kubectl that matches the apiserver: `$VMI_KUBECTL`, else the one `target/cluster/env` names,
/// else `kubectl` from PATH.
pub fn kubectl_bin() -> PathBuf {
    std::env::var_os("VMI_KUBECTL")
        .map(PathBuf::from)
        .or_else(|| cluster_env().get("VMI_KUBECTL").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("kubectl"))
}

/// Runs kubectl against the cluster as admin (`--kubeconfig` among `args` picks another identity).
/// It blocks the calling thread: fine for short commands in a test.
pub fn kubectl(args: &[&str]) -> Output {
    let kubeconfig = kubeconfig_path();
    Command::new(kubectl_bin())
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", kubectl_bin().display()))
}

/// Runs kubectl, panics with its stderr unless it succeeds, returns its stdout.
pub fn kubectl_ok(args: &[&str]) -> String {
    let out = kubectl(args);
    assert!(
        out.status.success(),
        "kubectl {} failed ({}):\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs kubectl, panics unless it fails, returns its stderr.
pub fn kubectl_err(args: &[&str]) -> String {
    let out = kubectl(args);
    assert!(
        !out.status.success(),
        "kubectl {} succeeded but was expected to fail; stdout:\n{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}
