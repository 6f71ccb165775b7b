//! `kubectl apply -k config/default` on the node, after `helm uninstall` (both give the same names).
//!
//! config/default takes its webhook certificate from cert-manager, which the node does not run: an
//! overlay sets the image (as `kustomize edit set image` would; config/manager names it ghcr.io/vmi-operator/vmi-operator) and drops the Certificate and
//! Issuer; the test then does cert-manager's two jobs itself, the Secret webhook-server-cert and the
//! caBundle of the webhook configurations.

use std::path::{Component, Path};
use std::process::Command;
use std::time::Duration;

use base64::Engine;

use crate::chart::vm_yaml;
use crate::{DEPLOYMENT, Figures, IMAGE_REPO, NS, Node, R, RELEASE, ROOT, ensure, run, wait_for};

fn openssl(dir: &Path, args: &[&str]) -> R {
    let mut c = Command::new("openssl");
    c.args(args).current_dir(dir);
    run(c, None).map(|_| ())
}

pub fn config_default_ready(node: &Node, f: &mut Figures) -> R {
    node.helm(&["uninstall", RELEASE, "-n", NS, "--wait", "--timeout", "2m"])?;
    wait_for("the chart's pods gone", Duration::from_secs(60), || {
        let pods = node.kubectl(&["get", "pods", "-n", NS, "-o", "name"])?;
        Ok(pods.trim().is_empty().then_some(()))
    })?;

    let dir = node.dir.join("kustomize");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    // Kustomize wants the base as a path relative to the overlay.
    let up = dir
        .strip_prefix(ROOT)
        .map_err(|e| e.to_string())?
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .count();
    let base = format!("{}config/default", "../".repeat(up));
    let drop = |kind: &str| {
        format!(
            "  - target: {{group: cert-manager.io, kind: {kind}}}\n    patch: |-\n      $patch: delete\n      apiVersion: cert-manager.io/v1\n      kind: {kind}\n      metadata: {{name: unused}}\n"
        )
    };
    std::fs::write(
        dir.join("kustomization.yaml"),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - {base}\nimages:\n  - name: ghcr.io/vmi-operator/vmi-operator\n    newName: {IMAGE_REPO}\n    newTag: dev\npatches:\n{}{}",
            drop("Certificate"),
            drop("Issuer")
        ),
    )
    .map_err(|e| e.to_string())?;

    // cert-manager's first job: the serving certificate for the webhook Service.
    let svc = format!("vmware-system-vmop-webhook-service.{NS}.svc");
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=kustomize-ca",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
        ],
    )?;
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            &format!("/CN={svc}"),
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-addext",
            &format!("subjectAltName=DNS:{svc},DNS:{svc}.cluster.local"),
            "-keyout",
            "tls.key",
            "-out",
            "tls.crt",
        ],
    )?;
    let d = dir.to_string_lossy();
    let secret = node.kubectl(&[
        "create",
        "secret",
        "generic",
        "webhook-server-cert",
        "-n",
        NS,
        "--type=kubernetes.io/tls",
        &format!("--from-file=tls.crt={d}/tls.crt"),
        &format!("--from-file=tls.key={d}/tls.key"),
        &format!("--from-file=ca.crt={d}/ca.crt"),
        "--dry-run=client",
        "-o",
        "yaml",
    ])?;
    node.apply(&secret)?;

    let t = std::time::Instant::now();
    node.kubectl(&["apply", "-k", &d])?;
    // cert-manager's second job: the CA injector's caBundle.
    let ca = base64::engine::general_purpose::STANDARD
        .encode(std::fs::read(dir.join("ca.crt")).map_err(|e| e.to_string())?);
    for kind in ["mutating", "validating"] {
        node.kubectl(&[
            "patch",
            &format!("{kind}webhookconfiguration"),
            &format!("vmware-system-vmop-{kind}-webhook-configuration"),
            "--type=json",
            "-p",
            &format!(
                r#"[{{"op":"add","path":"/webhooks/0/clientConfig/caBundle","value":"{ca}"}}]"#
            ),
        ])?;
    }
    node.kubectl(&[
        "rollout",
        "status",
        "-n",
        NS,
        &format!("deployment/{DEPLOYMENT}"),
        "--timeout=180s",
    ])?;
    f.add("kubectl apply -k to Ready", format!("{:.1?}", t.elapsed()));
    let deploy = node.get(&["deployment", "-n", NS, DEPLOYMENT])?;
    let s = &deploy["status"];
    ensure(
        s["readyReplicas"].as_u64().unwrap_or(0) >= 1
            && s["readyReplicas"] == deploy["spec"]["replicas"],
        || format!("status {s}"),
    )?;
    // Its webhook answers too.
    wait_for(
        "the kustomize webhook's answer",
        Duration::from_secs(30),
        || match node.apply(&vm_yaml("kustomize-no-such", "No Such Image")) {
            Ok(out) => Err(format!("admitted: {out}")),
            Err(e) if e.contains("no VM image exists") => Ok(Some(())),
            Err(e) => Err(e),
        },
    )?;
    Ok(())
}
