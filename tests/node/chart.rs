//! `helm install` of the chart as the README says, and what its pods do on a real node.

use std::time::Duration;

use serde_json::Value;

use crate::{DEPLOYMENT, Figures, LEASE, NS, Node, R, ensure, wait_for};

pub const WEBHOOK_NS: &str = "node-e2e";

/// The Deployment's pods, as `kubectl get -o json` lists them.
pub fn manager_pods(node: &Node) -> R<Value> {
    node.get(&[
        "pods",
        "-n",
        NS,
        "-l",
        "app.kubernetes.io/component=controller-manager",
    ])
}

/// The names of the Deployment's pods that are Ready (not terminating).
pub fn ready_pods(node: &Node) -> R<Vec<String>> {
    let pods = manager_pods(node)?;
    Ok(items(&pods)
        .iter()
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .filter(|p| is_ready(p))
        .filter_map(|p| p["metadata"]["name"].as_str().map(String::from))
        .collect())
}

pub fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Whether an object's `Ready` condition is `True` (pods and images alike).
pub fn is_ready(object: &Value) -> bool {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

pub fn lease_holder(node: &Node) -> R<String> {
    let lease = node.get(&["lease", "-n", NS, LEASE])?;
    Ok(lease["spec"]["holderIdentity"]
        .as_str()
        .unwrap_or_default()
        .to_string())
}

pub fn two_replicas_one_lease(node: &Node, f: &mut Figures) -> R {
    let took = node.helm_install("dev")?;
    f.add("helm install to Ready (--wait)", format!("{took:.1?}"));
    let deploy = node.get(&["deployment", "-n", NS, DEPLOYMENT])?;
    ensure(deploy["status"]["readyReplicas"] == 2, || {
        format!("readyReplicas: {}", deploy["status"])
    })?;
    let pods = ready_pods(node)?;
    ensure(pods.len() == 2, || format!("Ready pods: {pods:?}"))?;
    let holder = wait_for("a Lease holder", Duration::from_secs(60), || {
        let h = lease_holder(node)?;
        Ok((!h.is_empty()).then_some(h))
    })?;
    ensure(pods.contains(&holder), || {
        format!("Lease {LEASE} is held by {holder:?}, not by one of {pods:?}")
    })?;
    // The leader says so in its log; the other one does not.
    let log = node.kubectl(&["logs", "-n", NS, &holder])?;
    ensure(log.contains("became leader"), || {
        format!("the holder's log has no 'became leader':\n{log}")
    })
}

pub fn probes_and_json_logs(node: &Node, _f: &mut Figures) -> R {
    let deploy = node.get(&["deployment", "-n", NS, DEPLOYMENT])?;
    let c = &deploy["spec"]["template"]["spec"]["containers"][0];
    for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
        ensure(c[probe]["httpGet"]["path"] == path, || {
            format!("{probe}: {}", c[probe])
        })?;
    }
    for pod in ready_pods(node)? {
        // The endpoints the kubelet probes, fetched from the pod through the apiserver's proxy.
        for path in ["healthz", "readyz"] {
            let body = node.kubectl(&[
                "get",
                "--raw",
                &format!("/api/v1/namespaces/{NS}/pods/{pod}:8080/proxy/{path}"),
            ])?;
            ensure(!body.trim().is_empty(), || format!("{pod} /{path}: empty"))?;
        }
        let metrics = node.kubectl(&[
            "get",
            "--raw",
            &format!("/api/v1/namespaces/{NS}/pods/{pod}:8080/proxy/metrics"),
        ])?;
        // OpenMetrics text: ends with "# EOF" (a replica that does not lead may have no series yet).
        ensure(metrics.trim_end().ends_with("# EOF"), || {
            format!("{pod} /metrics is not OpenMetrics text: {metrics:.200}")
        })?;
        let p = node.get(&["pod", "-n", NS, &pod])?;
        let restarts = &p["status"]["containerStatuses"][0]["restartCount"];
        ensure(*restarts == 0, || {
            format!("{pod} restarted {restarts} times")
        })?;
    }
    // The README's troubleshooting command, as written.
    let logs = node.kubectl(&["logs", "-n", NS, &format!("deployment/{DEPLOYMENT}")])?;
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    ensure(!lines.is_empty(), || "no log lines".into())?;
    for l in &lines {
        let v: Value =
            serde_json::from_str(l).map_err(|e| format!("log line is not JSON ({e}): {l}"))?;
        ensure(v.is_object() && v.get("level").is_some(), || {
            format!("log line without a level: {l}")
        })?;
    }
    Ok(())
}

pub fn webhook_through_its_service(node: &Node, _f: &mut Figures) -> R {
    // The README's command, then the configuration's Service and caBundle: the chart's own CA.
    let listed = node.kubectl(&["get", "mutatingwebhookconfiguration"])?;
    let name = "vmware-system-vmop-mutating-webhook-configuration";
    ensure(listed.contains(name), || format!("not listed:\n{listed}"))?;
    let mwc = node.get(&["mutatingwebhookconfiguration", name])?;
    let cc = &mwc["webhooks"][0]["clientConfig"];
    ensure(
        cc["service"]["name"] == "vmware-system-vmop-webhook-service" && cc["url"].is_null(),
        || format!("clientConfig is not the Service: {cc}"),
    )?;
    let secrets = node.get(&[
        "secrets",
        "-n",
        NS,
        "--field-selector",
        "type=kubernetes.io/tls",
    ])?;
    let ca = items(&secrets)
        .iter()
        .find_map(|s| s["data"]["ca.crt"].as_str().map(String::from))
        .ok_or("no TLS Secret with a ca.crt in the release namespace")?;
    ensure(cc["caBundle"] == ca.as_str(), || {
        "the caBundle is not the chart's generated CA".into()
    })?;

    node.kubectl_in(
        &["apply", "-f", "-"],
        &format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {WEBHOOK_NS}}}\n"),
    )?;
    // A name that matches nothing: refused by the operator (its message), so the apiserver reached
    // it through the Service and trusted its certificate (failurePolicy Fail would say otherwise).
    let refused = wait_for("the webhook's answer", Duration::from_secs(30), || {
        match node.apply(&vm_yaml("no-such", "No Such Image")) {
            Ok(out) => Err(format!("admitted: {out}")),
            Err(e) if e.contains("no VM image exists for \"No Such Image\"") => Ok(Some(e)),
            // The Service can lag its endpoints by a second after the rollout: retry.
            Err(e) => Err(e),
        }
    })?;
    ensure(!refused.contains("failed calling webhook"), || refused)
}

pub fn vm_yaml(name: &str, image: &str) -> String {
    format!(
        "apiVersion: vmoperator.vmware.com/v1alpha5\nkind: VirtualMachine\nmetadata: {{name: {name}, namespace: {WEBHOOK_NS}}}\nspec: {{imageName: \"{image}\", className: best-effort-small}}\n"
    )
}
