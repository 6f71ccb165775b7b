//! The kustomize configuration `config/`: `kubectl kustomize config/default` renders VM Operator's
//! names (namespace vmware-system-vmop, prefix vmware-system-vmop-), its pieces fit together (Service
//! selectors, bindings, certificate, webhooks), `config/crd` is `crds/`, the RBAC is exactly
//! `config/rbac`'s, and the loopback apiserver accepts every rendered object (server-side dry-run).
//!
//! kubectl is `$VMI_KUBECTL` or the one of `hack/tools.sh env` (it embeds kustomize).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use vmi_test_support::{cluster::*, kubectl::*, namespaces::*, repo_root, yaml::*};

const NS: &str = "vmware-system-vmop";

fn kubectl_tool() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("VMI_KUBECTL") {
            return bin.into();
        }
        let out = Command::new(repo_root().join("hack/tools.sh"))
            .arg("env")
            .output()
            .expect("run hack/tools.sh env");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let bin = text
            .lines()
            .find_map(|l| l.strip_prefix("VMI_KUBECTL="))
            .expect("hack/tools.sh env prints VMI_KUBECTL");
        let bin = PathBuf::from(bin);
        if bin.is_file() {
            bin
        } else {
            // Not built yet: the kubectl that matches the cluster (common.rs builds nothing either).
            kubectl_bin()
        }
    })
}

/// `kubectl kustomize DIR` (offline; DIR relative to the repository root) as JSON documents.
fn kustomize(dir: &str) -> Vec<Value> {
    let out = Command::new(kubectl_tool())
        .args(["kustomize", dir])
        .current_dir(repo_root())
        .output()
        .expect("run kubectl kustomize");
    assert!(
        out.status.success(),
        "kubectl kustomize {dir} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    yaml_documents(&String::from_utf8_lossy(&out.stdout), Path::new(dir))
}

fn kind(o: &Value) -> &str {
    o["kind"].as_str().unwrap_or_default()
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or_default()
}

fn find<'a>(objects: &'a [Value], k: &str, n: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| kind(o) == k && name(o) == n)
        .unwrap_or_else(|| {
            let all: Vec<String> = objects
                .iter()
                .map(|o| format!("{}/{}", kind(o), name(o)))
                .collect();
            panic!("no {k} {n} among {all:?}")
        })
}

fn only<'a>(objects: &'a [Value], k: &str) -> &'a Value {
    let all: Vec<&Value> = objects.iter().filter(|o| kind(o) == k).collect();
    assert_eq!(all.len(), 1, "expected one {k}");
    all[0]
}

fn read_yaml(path: &str) -> Value {
    let file = repo_root().join(path);
    let text =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    yaml_documents(&text, &file).remove(0)
}

/// True when every label of `selector` is among `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    selector
        .as_object()
        .is_some_and(|s| !s.is_empty() && s.iter().all(|(k, v)| &labels[k] == v))
}

#[test]
fn default_overlay_has_vm_operator_names() {
    let objects = kustomize("config/default");

    let ns = only(&objects, "Namespace");
    assert_eq!(name(ns), NS);
    // Every namespaced object lands in vmware-system-vmop.
    for o in &objects {
        let cluster_scoped = matches!(
            kind(o),
            "Namespace"
                | "CustomResourceDefinition"
                | "ClusterRole"
                | "ClusterRoleBinding"
                | "MutatingWebhookConfiguration"
                | "ValidatingWebhookConfiguration"
        );
        let got = o["metadata"]["namespace"].as_str();
        if cluster_scoped {
            assert_eq!(got, None, "{} {} has a namespace", kind(o), name(o));
        } else {
            assert_eq!(got, Some(NS), "{} {}", kind(o), name(o));
        }
    }

    let deployment = find(
        &objects,
        "Deployment",
        "vmware-system-vmop-controller-manager",
    );
    find(
        &objects,
        "ServiceAccount",
        "vmware-system-vmop-controller-manager",
    );
    let webhook_svc = find(&objects, "Service", "vmware-system-vmop-webhook-service");
    let metrics_svc = find(&objects, "Service", "vmware-system-vmop-metrics-service");
    find(
        &objects,
        "PodDisruptionBudget",
        "vmware-system-vmop-controller-manager",
    );
    find(&objects, "ClusterRole", "vmware-system-vmop-manager-role");
    find(&objects, "Role", "vmware-system-vmop-leader-election-role");
    let mutating = find(
        &objects,
        "MutatingWebhookConfiguration",
        "vmware-system-vmop-mutating-webhook-configuration",
    );
    let validating = find(
        &objects,
        "ValidatingWebhookConfiguration",
        "vmware-system-vmop-validating-webhook-configuration",
    );
    let cert = find(&objects, "Certificate", "vmware-system-vmop-serving-cert");
    find(&objects, "Issuer", "vmware-system-vmop-selfsigned-issuer");

    // Services reach the pods: 443 -> 9443 (webhook-server), 8080 (metrics).
    let pod = &deployment["spec"]["template"];
    let pod_labels = &pod["metadata"]["labels"];
    assert!(selects(&webhook_svc["spec"]["selector"], pod_labels));
    assert!(selects(&metrics_svc["spec"]["selector"], pod_labels));
    assert!(selects(
        &deployment["spec"]["selector"]["matchLabels"],
        pod_labels
    ));
    assert_eq!(webhook_svc["spec"]["ports"][0]["port"], 443);
    assert_eq!(webhook_svc["spec"]["ports"][0]["targetPort"], 9443);
    assert_eq!(metrics_svc["spec"]["ports"][0]["port"], 8080);
    let container = &pod["spec"]["containers"][0];
    let ports: BTreeMap<&str, &Value> = container["ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), &p["containerPort"]))
        .collect();
    assert_eq!(ports["webhook-server"], 9443);
    assert_eq!(ports["metrics"], 8080);

    // The pod runs as the ServiceAccount the bindings name, with leader election and the webhook
    // certificate that cert-manager writes.
    assert_eq!(
        pod["spec"]["serviceAccountName"],
        "vmware-system-vmop-controller-manager"
    );
    let subject = json!([{ "kind": "ServiceAccount", "name": "vmware-system-vmop-controller-manager", "namespace": NS }]);
    assert_eq!(
        find(
            &objects,
            "ClusterRoleBinding",
            "vmware-system-vmop-manager-rolebinding"
        )["subjects"],
        subject
    );
    let rb = find(
        &objects,
        "RoleBinding",
        "vmware-system-vmop-leader-election-rolebinding",
    );
    assert_eq!(rb["subjects"], subject);
    assert_eq!(
        rb["roleRef"]["name"],
        "vmware-system-vmop-leader-election-role"
    );
    let env: BTreeMap<&str, &Value> = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap(), e))
        .collect();
    assert_eq!(env["VMI_LEADER_ELECT"]["value"], "true");
    assert_eq!(env["VMI_LEASE_NAME"]["value"], "vmware-system-vmop-leader");
    assert_eq!(
        env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.name"
    );
    assert_eq!(
        env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    let cert_dir = &env["VMI_WEBHOOK_CERT_DIR"]["value"];
    let mount = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| &m["mountPath"] == cert_dir)
        .expect("the webhook certificate is mounted at VMI_WEBHOOK_CERT_DIR");
    let volume = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("certificate volume");
    assert_eq!(volume["secret"]["secretName"], cert["spec"]["secretName"]);
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["spec"]["securityContext"]["runAsUser"], 65532);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);

    // The certificate is for the webhook Service; the webhooks call that Service and get their CA
    // from that certificate.
    assert_eq!(
        cert["spec"]["dnsNames"],
        json!([
            "vmware-system-vmop-webhook-service.vmware-system-vmop.svc",
            "vmware-system-vmop-webhook-service.vmware-system-vmop.svc.cluster.local"
        ])
    );
    assert_eq!(
        cert["spec"]["issuerRef"]["name"],
        "vmware-system-vmop-selfsigned-issuer"
    );
    for (config, path) in [
        (
            mutating,
            "/mutate-vmoperator-vmware-com-v1alpha5-virtualmachine",
        ),
        (
            validating,
            "/validate-vmoperator-vmware-com-v1alpha5-virtualmachine",
        ),
    ] {
        assert_eq!(
            config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            "vmware-system-vmop/vmware-system-vmop-serving-cert"
        );
        let hook = &config["webhooks"][0];
        assert_eq!(
            hook["clientConfig"]["service"],
            json!({ "name": "vmware-system-vmop-webhook-service", "namespace": NS, "path": path, "port": 443 })
        );
        assert_eq!(hook["failurePolicy"], "Fail");
        assert_eq!(hook["sideEffects"], "None");
    }
}

#[test]
fn rbac_is_exactly_config_rbac() {
    let objects = kustomize("config/default");
    assert_eq!(
        find(&objects, "ClusterRole", "vmware-system-vmop-manager-role")["rules"],
        read_yaml("config/rbac/role.yaml")["rules"]
    );
    assert_eq!(
        find(&objects, "Role", "vmware-system-vmop-leader-election-role")["rules"],
        read_yaml("config/rbac/leader_election_role.yaml")["rules"]
    );
}

/// config/crd/bases holds crds/ byte for byte, and its kustomization lists every file but the
/// VirtualMachine CRD (VM Operator's), each CRD's conversion pointed at the webhook Service.
#[test]
fn crd_bases_are_crds_dir() {
    let list = |dir: &str| -> BTreeSet<String> {
        std::fs::read_dir(repo_root().join(dir))
            .unwrap_or_else(|e| panic!("read {dir}: {e}"))
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".yaml"))
            .collect()
    };
    let crds = list("crds");
    assert_eq!(
        list("config/crd/bases"),
        crds,
        "config/crd/bases is stale: run `make chart-crds`"
    );
    for file in &crds {
        let a = std::fs::read(repo_root().join("crds").join(file)).unwrap();
        let b = std::fs::read(repo_root().join("config/crd/bases").join(file)).unwrap();
        assert!(
            a == b,
            "config/crd/bases/{file} differs from crds/: run `make chart-crds`"
        );
    }
    let kustomization = read_yaml("config/crd/kustomization.yaml");
    let listed: BTreeSet<String> = kustomization["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().trim_start_matches("bases/").to_string())
        .collect();
    let mut converted = crds.clone();
    converted.remove("vmoperator.vmware.com_virtualmachines.yaml");
    assert_eq!(listed, converted);
    let rendered = kustomize("config/crd");
    assert_eq!(rendered.len(), converted.len());
    for crd in &rendered {
        let conversion = &crd["spec"]["conversion"];
        assert_eq!(conversion["strategy"], "Webhook", "{}", name(crd));
        assert_eq!(
            conversion["webhook"]["clientConfig"]["service"]["path"],
            "/convert"
        );
    }
}

/// `kubectl apply -k config/default`, dry-run on the server, moved into a test namespace by an
/// overlay (the namespaced objects need an existing namespace). cert-manager's Issuer and
/// Certificate are left out: their CRDs are not on this apiserver.
#[tokio::test]
async fn default_overlay_is_accepted_by_the_apiserver() {
    let client = client().await;
    let ns = test_namespace(&client, "pkg-kustomize").await;

    // An overlay inside the repository (kustomize wants relative paths to its bases).
    let overlay = repo_root().join("target/tmp/packaging-kustomize").join(&ns);
    std::fs::create_dir_all(&overlay).unwrap();
    std::fs::write(
        overlay.join("kustomization.yaml"),
        format!("resources:\n  - ../../../../config/default\nnamespace: {ns}\n"),
    )
    .unwrap();
    let rel = format!("target/tmp/packaging-kustomize/{ns}");
    let objects = kustomize(&rel);
    let webhook = find(
        &objects,
        "MutatingWebhookConfiguration",
        "vmware-system-vmop-mutating-webhook-configuration",
    );
    assert_eq!(
        webhook["webhooks"][0]["clientConfig"]["service"]["namespace"],
        ns.as_str()
    );
    // The CRDs convert through the same Service, with the same injected CA.
    let crd = find(
        &objects,
        "CustomResourceDefinition",
        "virtualmachineimages.vmoperator.vmware.com",
    );
    let service = &crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"];
    assert_eq!(service["name"], "vmware-system-vmop-webhook-service");
    assert_eq!(service["namespace"], ns.as_str());
    assert_eq!(
        crd["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
        webhook["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
    );

    let served: Vec<&Value> = objects
        .iter()
        .filter(|o| {
            !o["apiVersion"]
                .as_str()
                .unwrap_or_default()
                .starts_with("cert-manager.io/")
        })
        .collect();
    assert_eq!(served.len() + 2, objects.len(), "Issuer and Certificate");
    let text: Vec<String> = served.iter().map(|o| o.to_string()).collect();
    let file = overlay.join("rendered.yaml");
    std::fs::write(&file, text.join("\n---\n")).unwrap();
    let out = kubectl_ok(&[
        "apply",
        "--dry-run=server",
        "--validate=strict",
        "-f",
        file.to_str().unwrap(),
    ]);
    let accepted = out
        .lines()
        .filter(|l| l.ends_with("(server dry run)"))
        .count();
    assert_eq!(accepted, served.len(), "{out}");
}
