//! The Helm chart `charts/vmi-operator`: `helm lint --strict` with the main value combinations, the
//! values schema, the same object names as `config/default` for release `vmware-system-vmop`, the
//! exact RBAC rules of `config/rbac`, CRD templates equal to `crds/`, and against the loopback
//! apiserver: rendered objects accepted (server-side dry-run), a real install / upgrade / uninstall,
//! and the CRD templates' life cycle (installed, updated by `helm upgrade`, kept by `helm uninstall`).
//!
//! helm is `$VMI_HELM` or the one `hack/tools.sh helm` builds; kubectl (kustomize) is `$VMI_KUBECTL`
//! or the one of `hack/tools.sh env`. Helm keeps its state under cargo's target/tmp, never in ~.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Secret, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;
use serde_json::{Value, json};
use vmi_test_support::{cluster::*, kubectl::*, namespaces::*, repo_root, wait::*, yaml::*};

const CHART: &str = "charts/vmi-operator";

// ---------------------------------------------------------------------------------------------
// Tools

/// `NAME=value` lines of `hack/tools.sh env`.
fn tools_env() -> &'static BTreeMap<String, String> {
    static ENV: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let out = Command::new(repo_root().join("hack/tools.sh"))
            .arg("env")
            .output()
            .expect("run hack/tools.sh env");
        assert!(out.status.success(), "hack/tools.sh env failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    })
}

/// A tool's path: the environment variable, else `hack/tools.sh env`.
fn tool(var: &str) -> PathBuf {
    std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| tools_env().get(var).map(PathBuf::from))
        .unwrap_or_else(|| panic!("{var} is neither set nor printed by hack/tools.sh env"))
}

/// helm; built (or rebuilt without the version ldflags) by `hack/tools.sh helm` unless `$VMI_HELM`.
fn helm_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if std::env::var_os("VMI_HELM").is_none() {
            let status = Command::new(repo_root().join("hack/tools.sh"))
                .arg("helm")
                .status()
                .expect("run hack/tools.sh helm");
            assert!(status.success(), "hack/tools.sh helm failed");
        }
        let bin = tool("VMI_HELM");
        assert!(bin.is_file(), "no helm at {}", bin.display());
        bin
    })
}

fn tmp_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::create_dir_all(&dir).expect("create tmp dir");
    dir
}

/// Runs helm in the repository root with its own cache/config/data folders. Without `cluster`,
/// KUBECONFIG names a file that does not exist, so nothing can reach a cluster by accident.
fn helm(args: &[&str], cluster: bool) -> Output {
    let home = tmp_dir("helm-home");
    let kubeconfig = if cluster {
        kubeconfig_path().to_path_buf()
    } else {
        home.join("no-cluster.kubeconfig")
    };
    Command::new(helm_bin())
        .args(args)
        .current_dir(repo_root())
        .env("HELM_CACHE_HOME", home.join("cache"))
        .env("HELM_CONFIG_HOME", home.join("config"))
        .env("HELM_DATA_HOME", home.join("data"))
        .env("KUBECONFIG", kubeconfig)
        .env_remove("HELM_KUBECONTEXT")
        .env_remove("HELM_NAMESPACE")
        .output()
        .expect("run helm")
}

fn helm_ok(args: &[&str], cluster: bool) -> String {
    let out = helm(args, cluster);
    assert!(
        out.status.success(),
        "helm {} failed ({}):\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn helm_err(args: &[&str]) -> String {
    let out = helm(args, false);
    assert!(
        !out.status.success(),
        "helm {} succeeded but should have failed",
        args.join(" ")
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `helm template RELEASE charts/vmi-operator -n NAMESPACE EXTRA...` as JSON documents.
fn render(release: &str, namespace: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["template", release, CHART, "--namespace", namespace];
    args.extend_from_slice(extra);
    let text = helm_ok(&args, false);
    yaml_documents(&text, Path::new("helm template"))
}

/// `kubectl kustomize DIR` (offline) as JSON documents.
fn kustomize(dir: &str) -> Vec<Value> {
    let out = Command::new(tool("VMI_KUBECTL"))
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

// ---------------------------------------------------------------------------------------------
// Objects

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

fn of_kind<'a>(objects: &'a [Value], k: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| kind(o) == k).collect()
}

/// (kind, name, namespace) of every object.
fn identities(objects: &[Value]) -> BTreeSet<(String, String, String)> {
    objects
        .iter()
        .map(|o| {
            (
                kind(o).to_string(),
                name(o).to_string(),
                o["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            )
        })
        .collect()
}

fn read_yaml(path: &str) -> Vec<Value> {
    let file = repo_root().join(path);
    let text =
        std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("read {}: {e}", file.display()));
    yaml_documents(&text, &file)
}

/// The CRDs of `crds/`, by name.
fn crds_dir() -> BTreeMap<String, Value> {
    let dir = repo_root().join("crds");
    let mut crds = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("read crds/") {
        let path = entry.expect("dir entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).expect("read CRD");
            for doc in yaml_documents(&text, &path) {
                crds.insert(name(&doc).to_string(), doc);
            }
        }
    }
    assert!(!crds.is_empty(), "no CRDs in crds/");
    crds
}

fn env_of(deployment: &Value) -> BTreeMap<String, Value> {
    deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .expect("container env")
        .iter()
        .map(|e| {
            let value = e
                .get("value")
                .cloned()
                .unwrap_or_else(|| e["valueFrom"].clone());
            (e["name"].as_str().unwrap().to_string(), value)
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Offline: lint, schema, parity with config/ and crds/

#[test]
fn lint_is_clean_with_the_main_value_combinations() {
    let ca = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    let ca_arg = format!("vcenter.caBundle={ca}");
    let combinations: Vec<Vec<&str>> = vec![
        vec![],
        vec![
            "--set",
            "certManager.enabled=true",
            "--set",
            "serviceMonitor.enabled=true",
        ],
        vec![
            "--set",
            "certManager.enabled=true",
            "--set-json",
            r#"certManager.issuerRef={"kind":"ClusterIssuer","name":"corp-ca"}"#,
        ],
        vec![
            "--set",
            "vcenter.url=https://vcenter.example.com",
            "--set",
            "vcenter.credentialsSecret=vcenter-credentials",
            "--set-string",
            &ca_arg,
            "--set",
            "vcenter.insecureSkipVerify=true",
        ],
        vec![
            "--set",
            "webhook.enabled=false",
            "--set",
            "leaderElection.enabled=false",
            "--set",
            "replicaCount=1",
            "--set",
            "crds.install=false",
            "--set",
            "podDisruptionBudget.minAvailable=1",
            "--set",
            "serviceAccount.create=false",
            "--set",
            "serviceAccount.name=existing",
            "--set",
            "image.digest=sha256:0000000000000000000000000000000000000000000000000000000000000000",
        ],
    ];
    for extra in combinations {
        let mut args = vec!["lint", CHART, "--strict"];
        args.extend_from_slice(&extra);
        let out = helm_ok(&args, false);
        assert!(out.contains("0 chart(s) failed"), "{out}");
        assert!(
            !out.contains("[WARNING]") && !out.contains("[ERROR]"),
            "helm lint {extra:?}:\n{out}"
        );
    }
}

#[test]
fn values_are_checked() {
    let cases: [(&[&str], &str); 6] = [
        (&["--set", "operator.logFormat=xml"], "logFormat"),
        (&["--set", "replicas=3"], "replicas"),
        (&["--set", "webhook.failurePolicy=Never"], "failurePolicy"),
        (&["--set", "webhook.timeoutSeconds=60"], "timeoutSeconds"),
        (
            &["--set", "vcenter.url=https://vcenter.example.com"],
            "vcenter.credentialsSecret",
        ),
        (
            &[
                "--set",
                "fullnameOverride=a-name-that-is-far-too-long-for-the-service-names",
            ],
            "fullnameOverride",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["template", "x", CHART];
        args.extend_from_slice(extra);
        let err = helm_err(&args);
        assert!(
            err.contains(expected),
            "helm template {extra:?} failed without naming {expected}:\n{err}"
        );
    }
}

#[test]
fn chart_versions_follow_the_crate() {
    let chart = read_yaml("charts/vmi-operator/Chart.yaml").remove(0);
    assert_eq!(chart["appVersion"], env!("CARGO_PKG_VERSION"));
    let manager = read_yaml("config/manager/kustomization.yaml").remove(0);
    assert_eq!(manager["images"][0]["newTag"], env!("CARGO_PKG_VERSION"));
    let objects = render("x", "x", &[]);
    let image = find(&objects, "Deployment", "x-controller-manager")["spec"]["template"]["spec"]
        ["containers"][0]["image"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        image,
        format!(
            "{}:{}",
            manager["images"][0]["newName"].as_str().unwrap(),
            env!("CARGO_PKG_VERSION")
        ),
        "the chart and config/manager default to different images"
    );
}

/// `helm install vmware-system-vmop charts/vmi-operator -n vmware-system-vmop` gives the objects of
/// `kubectl apply -k config/default`, with the same names, webhooks and pod settings.
#[test]
fn release_vmware_system_vmop_matches_config_default() {
    let chart = render(
        "vmware-system-vmop",
        "vmware-system-vmop",
        &["--set", "certManager.enabled=true"],
    );
    let kustomized = kustomize("config/default");

    // The same objects, less the Namespace (helm install --create-namespace makes it).
    let helm_ids = identities(&chart);
    let kustomize_ids: BTreeSet<_> = identities(&kustomized)
        .into_iter()
        .filter(|(k, _, _)| k != "Namespace")
        .collect();
    assert_eq!(
        helm_ids, kustomize_ids,
        "chart (left) and config/default (right) differ"
    );

    let ns = "vmware-system-vmop";
    for (k, n) in [
        ("Deployment", "vmware-system-vmop-controller-manager"),
        ("ServiceAccount", "vmware-system-vmop-controller-manager"),
        ("Service", "vmware-system-vmop-webhook-service"),
        ("Service", "vmware-system-vmop-metrics-service"),
        (
            "PodDisruptionBudget",
            "vmware-system-vmop-controller-manager",
        ),
        ("Role", "vmware-system-vmop-leader-election-role"),
        ("Certificate", "vmware-system-vmop-serving-cert"),
    ] {
        assert!(
            helm_ids.contains(&(k.into(), n.into(), ns.into())),
            "no {k} {ns}/{n}"
        );
    }
    for (k, n) in [
        ("ClusterRole", "vmware-system-vmop-manager-role"),
        (
            "ClusterRoleBinding",
            "vmware-system-vmop-manager-rolebinding",
        ),
        (
            "MutatingWebhookConfiguration",
            "vmware-system-vmop-mutating-webhook-configuration",
        ),
        (
            "ValidatingWebhookConfiguration",
            "vmware-system-vmop-validating-webhook-configuration",
        ),
    ] {
        assert!(
            helm_ids.contains(&(k.into(), n.into(), String::new())),
            "no {k} {n}"
        );
    }

    // Webhooks: identical (clientConfig, rules, policies, selectors), and the same CA injection.
    for k in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        let from_chart = of_kind(&chart, k)[0];
        let from_config = of_kind(&kustomized, k)[0];
        assert_eq!(
            from_chart["webhooks"], from_config["webhooks"],
            "{k}: chart and config/webhook differ"
        );
        assert_eq!(
            from_chart["metadata"]["annotations"]["cert-manager.io/inject-ca-from"],
            from_config["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
        );
    }
    // The Certificate covers the webhook Service.
    let cert_chart = of_kind(&chart, "Certificate")[0];
    let cert_config = of_kind(&kustomized, "Certificate")[0];
    let dns = cert_config["spec"]["dnsNames"].as_array().unwrap();
    for d in dns {
        assert!(
            cert_chart["spec"]["dnsNames"]
                .as_array()
                .unwrap()
                .contains(d),
            "the chart's Certificate lacks {d}"
        );
    }

    // Services: same ports.
    for n in [
        "vmware-system-vmop-webhook-service",
        "vmware-system-vmop-metrics-service",
    ] {
        assert_eq!(
            find(&chart, "Service", n)["spec"]["ports"],
            find(&kustomized, "Service", n)["spec"]["ports"],
            "Service {n}"
        );
    }

    // The pod: same security, resources, probes, ports; every variable of config/manager with the
    // same value in the chart.
    let d_chart = find(
        &chart,
        "Deployment",
        "vmware-system-vmop-controller-manager",
    );
    let d_config = find(
        &kustomized,
        "Deployment",
        "vmware-system-vmop-controller-manager",
    );
    assert_eq!(d_chart["spec"]["replicas"], 2);
    assert_eq!(d_chart["spec"]["replicas"], d_config["spec"]["replicas"]);
    let pod = |d: &Value| d["spec"]["template"]["spec"].clone();
    let (p_chart, p_config) = (pod(d_chart), pod(d_config));
    assert_eq!(p_chart["securityContext"], p_config["securityContext"]);
    assert_eq!(
        p_chart["serviceAccountName"],
        "vmware-system-vmop-controller-manager"
    );
    assert_eq!(
        p_chart["serviceAccountName"],
        p_config["serviceAccountName"]
    );
    for field in [
        "securityContext",
        "resources",
        "livenessProbe",
        "readinessProbe",
        "ports",
        "args",
    ] {
        assert_eq!(
            p_chart["containers"][0][field], p_config["containers"][0][field],
            "container {field}"
        );
    }
    let (env_chart, env_config) = (env_of(d_chart), env_of(d_config));
    for (k, v) in &env_config {
        assert_eq!(env_chart.get(k), Some(v), "env {k}");
    }
    let volume = |p: &Value| p["volumes"][0]["secret"]["secretName"].clone();
    assert_eq!(
        volume(&p_chart),
        cert_chart["spec"]["secretName"],
        "the chart mounts another Secret than its Certificate writes"
    );
    assert_eq!(
        volume(&p_config),
        cert_config["spec"]["secretName"],
        "config/manager mounts another Secret than config/certmanager's Certificate writes"
    );
}

#[test]
fn pod_is_hardened_and_wired() {
    let objects = render("vmi", "vmi-system", &[]);
    let d = find(&objects, "Deployment", "vmi-controller-manager");
    let pod = &d["spec"]["template"]["spec"];
    let c = &pod["containers"][0];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(
        c["resources"],
        json!({"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
    );
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(c["args"], json!(["run"]));

    let env = env_of(d);
    assert_eq!(env["VMI_LEADER_ELECT"], "true");
    assert_eq!(env["VMI_LEASE_NAME"], "vmi-leader");
    assert_eq!(env["POD_NAME"]["fieldRef"]["fieldPath"], "metadata.name");
    assert_eq!(
        env["POD_NAMESPACE"]["fieldRef"]["fieldPath"],
        "metadata.namespace"
    );
    assert_eq!(env["VMI_METRICS_ADDR"], "0.0.0.0:8080");
    assert_eq!(env["VMI_WEBHOOK_ADDR"], "0.0.0.0:9443");
    let cert_dir = env["VMI_WEBHOOK_CERT_DIR"].as_str().unwrap();
    assert_eq!(c["volumeMounts"][0]["mountPath"], cert_dir);
    assert_eq!(
        pod["volumes"][0]["secret"]["secretName"],
        "vmi-webhook-server-cert"
    );
    assert!(!env.contains_key("VMI_VCENTER_URL"));

    // The generated Secret holds a certificate; the webhooks trust its CA.
    let secret = find(&objects, "Secret", "vmi-webhook-server-cert");
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let ca = secret["data"]["ca.crt"].as_str().unwrap();
    assert!(!secret["data"]["tls.crt"].as_str().unwrap().is_empty());
    assert!(!secret["data"]["tls.key"].as_str().unwrap().is_empty());
    for k in [
        "MutatingWebhookConfiguration",
        "ValidatingWebhookConfiguration",
    ] {
        let w = &of_kind(&objects, k)[0]["webhooks"][0];
        assert_eq!(w["clientConfig"]["caBundle"], ca, "{k} caBundle");
        assert_eq!(w["clientConfig"]["service"]["name"], "vmi-webhook-service");
        assert_eq!(w["clientConfig"]["service"]["namespace"], "vmi-system");
        assert_eq!(w["failurePolicy"], "Fail");
        assert_eq!(w["sideEffects"], "None");
        assert_eq!(w["timeoutSeconds"], 10);
        assert_eq!(w["admissionReviewVersions"], json!(["v1"]));
        assert_eq!(
            w["namespaceSelector"]["matchExpressions"][0]["values"],
            json!(["kube-system", "vmi-system"])
        );
    }
    assert_eq!(
        of_kind(&objects, "MutatingWebhookConfiguration")[0]["webhooks"][0]["clientConfig"]["service"]
            ["path"],
        "/mutate-vmoperator-vmware-com-v1alpha5-virtualmachine"
    );
    assert_eq!(
        of_kind(&objects, "ValidatingWebhookConfiguration")[0]["webhooks"][0]["clientConfig"]["service"]
            ["path"],
        "/validate-vmoperator-vmware-com-v1alpha5-virtualmachine"
    );

    // vCenter settings reach the pod; the webhook can be switched off.
    let objects = render(
        "vmi",
        "vmi-system",
        &[
            "--set",
            "vcenter.url=https://vcenter.example.com",
            "--set",
            "vcenter.credentialsSecret=vc-creds",
            "--set",
            "vcenter.caBundle=PEM",
            "--set",
            "webhook.enabled=false",
            "--set",
            "serviceMonitor.enabled=true",
            "--set",
            "operator.watchNamespace=team-a",
        ],
    );
    let d = find(&objects, "Deployment", "vmi-controller-manager");
    let env = env_of(d);
    assert_eq!(env["VMI_WATCH_NAMESPACE"], "team-a");
    assert_eq!(env["VMI_VCENTER_URL"], "https://vcenter.example.com");
    let dir = env["VMI_VCENTER_CREDENTIALS_DIR"].as_str().unwrap();
    let pod = &d["spec"]["template"]["spec"];
    let mounts = pod["containers"][0]["volumeMounts"].as_array().unwrap();
    let mount = mounts
        .iter()
        .find(|m| m["mountPath"] == dir)
        .expect("credentials mount");
    let volume = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("credentials volume");
    assert_eq!(volume["secret"]["secretName"], "vc-creds");
    assert!(env.contains_key("VMI_CA_BUNDLE"));
    assert!(!env.contains_key("VMI_WEBHOOK_CERT_DIR"));
    assert_eq!(
        find(&objects, "ConfigMap", "vmi-ca-bundle")["data"]["ca.crt"],
        "PEM\n"
    );
    assert!(of_kind(&objects, "MutatingWebhookConfiguration").is_empty());
    assert!(of_kind(&objects, "Secret").is_empty());
    let monitor = find(&objects, "ServiceMonitor", "vmi-metrics");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "http-metrics");
}

/// The chart's ClusterRole and Role carry exactly the rules of config/rbac (the operator's RBAC the
/// e2e tests run with), bound to the operator's ServiceAccount.
#[test]
fn chart_rbac_is_config_rbac() {
    let objects = render("vmi", "vmi-system", &[]);
    let role = read_yaml("config/rbac/role.yaml").remove(0);
    let election = read_yaml("config/rbac/leader_election_role.yaml").remove(0);
    assert_eq!(
        find(&objects, "ClusterRole", "vmi-manager-role")["rules"],
        role["rules"],
        "chart ClusterRole rules differ from config/rbac/role.yaml"
    );
    assert_eq!(
        find(&objects, "Role", "vmi-leader-election-role")["rules"],
        election["rules"],
        "chart Role rules differ from config/rbac/leader_election_role.yaml"
    );
    let subject = json!([{ "kind": "ServiceAccount", "name": "vmi-controller-manager", "namespace": "vmi-system" }]);
    let crb = find(&objects, "ClusterRoleBinding", "vmi-manager-rolebinding");
    assert_eq!(crb["roleRef"]["name"], "vmi-manager-role");
    assert_eq!(crb["subjects"], subject);
    let rb = find(&objects, "RoleBinding", "vmi-leader-election-rolebinding");
    assert_eq!(rb["roleRef"]["kind"], "Role");
    assert_eq!(rb["roleRef"]["name"], "vmi-leader-election-role");
    assert_eq!(rb["subjects"], subject);
    assert_eq!(
        find(&objects, "ServiceAccount", "vmi-controller-manager")["metadata"]["namespace"],
        "vmi-system"
    );
}

/// The chart's CRD templates are crds/ plus the keep policy and labels; `crds.install=false` drops
/// them; the copies are what `make chart-crds` writes.
#[test]
fn chart_crds_are_crds_dir() {
    let status = Command::new(repo_root().join("charts/sync-crds.sh"))
        .arg("--check")
        .status()
        .expect("run charts/sync-crds.sh --check");
    assert!(
        status.success(),
        "the chart's or config/crd's copies of crds/ are stale: run `make chart-crds`"
    );

    let objects = render(
        "vmi",
        "vmi-system",
        &[
            "--set-json",
            r#"crds.annotations={"example.com/note":"x"}"#,
            "--set",
            "crds.virtualMachine=true",
        ],
    );
    let expected = crds_dir();
    // The webhook configurations' CA: the CRDs' conversion must carry the same one.
    let webhook_ca = of_kind(&objects, "MutatingWebhookConfiguration")[0]["webhooks"][0]
        ["clientConfig"]["caBundle"]
        .clone();
    assert!(webhook_ca.is_string());
    let mut rendered = BTreeMap::new();
    for crd in of_kind(&objects, "CustomResourceDefinition") {
        let mut crd = crd.clone();
        let n = crd["metadata"]["name"].as_str().unwrap().to_string();
        let conversion = crd["spec"]
            .as_object_mut()
            .unwrap()
            .remove("conversion")
            .unwrap_or_default();
        if n.starts_with("virtualmachines.") {
            assert_eq!(
                conversion,
                Value::Null,
                "VM Operator's VirtualMachine CRD converts nothing here"
            );
        } else {
            let config = &conversion["webhook"]["clientConfig"];
            assert_eq!(conversion["strategy"], "Webhook", "{n}");
            assert_eq!(config["service"]["name"], "vmi-webhook-service", "{n}");
            assert_eq!(config["service"]["path"], "/convert", "{n}");
            assert_eq!(
                config["caBundle"], webhook_ca,
                "{n}: one CA for every webhook"
            );
        }
        let meta = crd["metadata"].as_object_mut().unwrap();
        let annotations = meta.remove("annotations").unwrap_or_default();
        let labels = meta.remove("labels").unwrap_or_default();
        assert_eq!(
            annotations,
            json!({"helm.sh/resource-policy": "keep", "example.com/note": "x"}),
            "{n}"
        );
        assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm", "{n}");
        rendered.insert(n, crd);
    }
    assert_eq!(
        rendered.keys().collect::<Vec<_>>(),
        expected.keys().collect::<Vec<_>>(),
        "the chart's CRDs are not those of crds/ (make chart-crds)"
    );
    for (n, crd) in &expected {
        assert!(
            &rendered[n] == crd,
            "the chart's CRD {n} differs from crds/ (make chart-crds)"
        );
    }

    let without = render("vmi", "vmi-system", &["--set", "crds.install=false"]);
    assert!(of_kind(&without, "CustomResourceDefinition").is_empty());
    // By default the VirtualMachine CRD is left to VM Operator.
    let default = render("vmi", "vmi-system", &[]);
    let names: Vec<&str> = of_kind(&default, "CustomResourceDefinition")
        .iter()
        .map(|c| c["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), expected.len() - 1, "{names:?}");
    assert!(!names.contains(&"virtualmachines.vmoperator.vmware.com"));
}

// ---------------------------------------------------------------------------------------------
// Against the loopback apiserver

/// Writes the objects as a YAML stream (JSON documents) to a file for kubectl.
fn write_stream(file: &str, objects: &[&Value]) -> PathBuf {
    let path = tmp_dir("packaging").join(file);
    let text: Vec<String> = objects.iter().map(|o| o.to_string()).collect();
    std::fs::write(&path, text.join("\n---\n")).expect("write manifest");
    path
}

/// `kubectl apply --dry-run=server --validate=strict`: the apiserver validates (schemas, unknown
/// fields, admission) and persists nothing. Returns the number of objects it accepted.
fn server_dry_run(file: &Path) -> usize {
    let out = kubectl_ok(&[
        "apply",
        "--dry-run=server",
        "--validate=strict",
        "-f",
        file.to_str().unwrap(),
    ]);
    out.lines()
        .filter(|l| l.ends_with("(server dry run)"))
        .count()
}

#[tokio::test]
async fn rendered_chart_is_accepted_by_the_apiserver() {
    let client = client().await;
    let ns = test_namespace(&client, "pkg-helm-dry").await;

    // Everything but cert-manager and Prometheus objects (their CRDs are not on this apiserver),
    // CRD templates included.
    for (label, extra) in [
        ("default", vec!["--set", "crds.install=true"]),
        (
            "cert-manager",
            vec![
                "--set",
                "certManager.enabled=true",
                "--set",
                "crds.install=true",
            ],
        ),
        (
            "vcenter",
            vec![
                "--set",
                "vcenter.url=https://vcenter.example.com",
                "--set",
                "vcenter.credentialsSecret=vc",
                "--set",
                "vcenter.caBundle=PEM",
                "--set",
                "webhook.enabled=false",
                "--set",
                "podDisruptionBudget.minAvailable=50%",
            ],
        ),
    ] {
        let fullname = format!("fullnameOverride={ns}");
        let mut args = vec!["--set", fullname.as_str()];
        args.extend(extra);
        let objects = render(&ns, &ns, &args);
        let served: Vec<&Value> = objects
            .iter()
            .filter(|o| {
                let api = o["apiVersion"].as_str().unwrap_or_default();
                !api.starts_with("cert-manager.io/") && !api.starts_with("monitoring.coreos.com/")
            })
            .collect();
        if label == "cert-manager" {
            assert_eq!(served.len() + 2, objects.len(), "Issuer and Certificate");
        }
        let file = write_stream(&format!("{ns}-{label}.yaml"), &served);
        let accepted = server_dry_run(&file);
        assert_eq!(accepted, served.len(), "{label}: objects accepted");
    }
}

fn webhook_selector_for(ns: &str) -> String {
    format!(
        r#"webhook.namespaceSelector={{"matchLabels":{{"kubernetes.io/metadata.name":"{ns}"}}}}"#
    )
}

async fn wait_gone<K>(api: Api<K>, name: &str)
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    wait_until(Duration::from_secs(30), &format!("{name} deleted"), || {
        let api = api.clone();
        let name = name.to_string();
        async move { api.get_opt(&name).await.expect("get").is_none() }
    })
    .await;
}

/// A real release in a test namespace: the objects exist as rendered (no pods run: there is no
/// kubelet), the webhooks are live for that namespace only, `helm upgrade` changes the Deployment and
/// keeps the generated certificate, `helm uninstall` removes everything, cluster-scoped objects too.
#[tokio::test]
async fn install_upgrade_uninstall() {
    let client = client().await;
    install_crds(&client).await;
    let ns = test_namespace(&client, "pkg-helm").await;
    let fullname = format!("fullnameOverride={ns}");
    let selector = webhook_selector_for(&ns);
    helm_ok(
        &[
            "install",
            "vmi",
            CHART,
            "--namespace",
            &ns,
            "--set",
            &fullname,
            "--set",
            "crds.install=false",
            "--set-json",
            &selector,
        ],
        true,
    );

    let deployments: Api<Deployment> = Api::namespaced(client.clone(), &ns);
    let d = deployments
        .get(&format!("{ns}-controller-manager"))
        .await
        .expect("Deployment");
    let spec = d.spec.as_ref().unwrap();
    assert_eq!(spec.replicas, Some(2));
    let pod = spec.template.spec.as_ref().unwrap();
    assert_eq!(
        pod.service_account_name.as_deref(),
        Some(format!("{ns}-controller-manager").as_str())
    );
    let c = &pod.containers[0];
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(
        pod.security_context.as_ref().unwrap().run_as_user,
        Some(65532)
    );

    Api::<ServiceAccount>::namespaced(client.clone(), &ns)
        .get(&format!("{ns}-controller-manager"))
        .await
        .expect("ServiceAccount");
    let services: Api<Service> = Api::namespaced(client.clone(), &ns);
    let webhook_svc = services
        .get(&format!("{ns}-webhook-service"))
        .await
        .expect("webhook Service");
    let port = &webhook_svc.spec.as_ref().unwrap().ports.as_ref().unwrap()[0];
    assert_eq!(port.port, 443);
    services
        .get(&format!("{ns}-metrics-service"))
        .await
        .expect("metrics Service");
    Api::<PodDisruptionBudget>::namespaced(client.clone(), &ns)
        .get(&format!("{ns}-controller-manager"))
        .await
        .expect("PodDisruptionBudget");
    let role = read_yaml("config/rbac/role.yaml").remove(0);
    let cluster_role = Api::<ClusterRole>::all(client.clone())
        .get(&format!("{ns}-manager-role"))
        .await
        .expect("ClusterRole");
    assert_eq!(
        serde_json::to_value(&cluster_role.rules).unwrap(),
        role["rules"]
    );
    let crb = Api::<ClusterRoleBinding>::all(client.clone())
        .get(&format!("{ns}-manager-rolebinding"))
        .await
        .expect("ClusterRoleBinding");
    assert_eq!(
        crb.subjects.unwrap()[0].namespace.as_deref(),
        Some(ns.as_str())
    );
    Api::<Role>::namespaced(client.clone(), &ns)
        .get(&format!("{ns}-leader-election-role"))
        .await
        .expect("Role");
    Api::<RoleBinding>::namespaced(client.clone(), &ns)
        .get(&format!("{ns}-leader-election-rolebinding"))
        .await
        .expect("RoleBinding");

    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    let secret_name = format!("{ns}-webhook-server-cert");
    let ca = secrets
        .get(&secret_name)
        .await
        .expect("webhook Secret")
        .data
        .unwrap()["ca.crt"]
        .clone();
    let mutating: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let validating: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let mutating_name = format!("{ns}-mutating-webhook-configuration");
    let validating_name = format!("{ns}-validating-webhook-configuration");
    let m = mutating
        .get(&mutating_name)
        .await
        .expect("mutating webhook");
    let v = validating
        .get(&validating_name)
        .await
        .expect("validating webhook");
    let m_hook = &m.webhooks.as_ref().unwrap()[0];
    let v_hook = &v.webhooks.as_ref().unwrap()[0];
    assert_eq!(m_hook.client_config.ca_bundle.as_ref(), Some(&ca));
    assert_eq!(v_hook.client_config.ca_bundle.as_ref(), Some(&ca));
    assert_eq!(
        m_hook.namespace_selector.as_ref().unwrap().match_labels,
        Some(BTreeMap::from([(
            "kubernetes.io/metadata.name".to_string(),
            ns.clone()
        )]))
    );

    // The apiserver calls the webhook for VirtualMachines of this namespace (and, with no pod behind
    // the Service, refuses them: failurePolicy Fail).
    let vm = write_stream(
        &format!("{ns}-vm.yaml"),
        &[&json!({
            "apiVersion": "vmoperator.vmware.com/v1alpha5",
            "kind": "VirtualMachine",
            "metadata": { "name": "vm", "namespace": ns },
            "spec": { "imageName": "photon-5" },
        })],
    );
    let vm_path = vm.to_str().unwrap().to_string();
    wait_until(
        Duration::from_secs(30),
        "the apiserver to call the webhook",
        || {
            let out = kubectl(&["create", "--dry-run=server", "-f", &vm_path]);
            let err = String::from_utf8_lossy(&out.stderr).into_owned();
            async move { !out.status.success() && err.contains("vmi-mutate.vmoperator.vmware.com") }
        },
    )
    .await;

    // Upgrade: the Deployment changes, the generated certificate stays.
    helm_ok(
        &[
            "upgrade",
            "vmi",
            CHART,
            "--namespace",
            &ns,
            "--reuse-values",
            "--set",
            "replicaCount=3",
            "--set",
            "operator.logLevel=debug",
        ],
        true,
    );
    let d = deployments
        .get(&format!("{ns}-controller-manager"))
        .await
        .unwrap();
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(3));
    let env = d.spec.unwrap().template.spec.unwrap().containers[0]
        .env
        .clone()
        .unwrap();
    let level = env.iter().find(|e| e.name == "VMI_LOG_LEVEL").unwrap();
    assert_eq!(level.value.as_deref(), Some("debug"));
    assert_eq!(
        secrets.get(&secret_name).await.unwrap().data.unwrap()["ca.crt"],
        ca,
        "helm upgrade replaced the webhook CA"
    );
    let m = mutating.get(&mutating_name).await.unwrap();
    assert_eq!(
        m.webhooks.unwrap()[0].client_config.ca_bundle.as_ref(),
        Some(&ca),
        "helm upgrade changed the caBundle"
    );
    let history = helm_ok(&["history", "vmi", "--namespace", &ns, "-o", "json"], true);
    let history: Value = serde_json::from_str(&history).unwrap();
    assert_eq!(history.as_array().unwrap().len(), 2);
    assert_eq!(history[1]["status"], "deployed");

    // Uninstall: namespaced and cluster-scoped objects go.
    helm_ok(&["uninstall", "vmi", "--namespace", &ns], true);
    wait_gone(deployments, &format!("{ns}-controller-manager")).await;
    wait_gone(secrets, &secret_name).await;
    wait_gone(mutating, &mutating_name).await;
    wait_gone(validating, &validating_name).await;
    wait_gone(
        Api::<ClusterRole>::all(client.clone()),
        &format!("{ns}-manager-role"),
    )
    .await;
    wait_gone(
        Api::<ClusterRoleBinding>::all(client.clone()),
        &format!("{ns}-manager-rolebinding"),
    )
    .await;
}

/// Deletes the test's renamed CRDs however the test ends.
struct DeleteCrds(Vec<String>);

impl Drop for DeleteCrds {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = kubectl(&["delete", "crd", name, "--ignore-not-found", "--wait=false"]);
        }
    }
}

/// The CRD templates' life cycle, on copies of the CRDs in groups of the test's own (a post-renderer
/// renames imageregistry.vmware.com and vmoperator.vmware.com to <group>.<namespace>.test and drops
/// shortNames and categories, so the shared CRDs of the other tests are never touched):
/// `helm install` creates them, `helm upgrade` updates them (which a chart's crds/ folder never
/// does), `helm uninstall` keeps them and the custom resources (helm.sh/resource-policy: keep).
#[tokio::test]
async fn crd_templates_install_upgrade_and_survive_uninstall() {
    let client = client().await;
    let ns = test_namespace(&client, "pkg-helm-crds").await;
    let suffix = format!("{ns}.test");
    let dir = tmp_dir("packaging");

    // The post-renderer; the upgrade's also adds a category, standing for a changed CRD.
    let write_renderer = |file: &str, extra: &str| {
        let path = dir.join(file);
        let script = format!(
            "#!/bin/sh\nexec sed -e 's/imageregistry\\.vmware\\.com/imageregistry.vmware.com.{suffix}/g' \
             -e 's/vmoperator\\.vmware\\.com/vmoperator.vmware.com.{suffix}/g' \
             -e '/^    shortNames:$/,/^    singular:/{{/^    singular:/!d}}' \
             -e '/^    categories:$/,/^    kind:/{{/^    kind:/!d}}' {extra}\n"
        );
        std::fs::write(&path, script).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        path
    };
    let install_renderer = write_renderer(&format!("{ns}-install.sh"), "");
    let upgrade_renderer = write_renderer(
        &format!("{ns}-upgrade.sh"),
        &format!("-e 's/^    kind: \\(.*\\)$/    categories:\\n    - {ns}\\n    kind: \\1/'"),
    );

    let crd_names: Vec<String> = crds_dir().keys().map(|n| format!("{n}.{suffix}")).collect();
    let _cleanup = DeleteCrds(crd_names.clone());

    let fullname = format!("fullnameOverride={ns}");
    helm_ok(
        &[
            "install",
            "vmi",
            CHART,
            "--namespace",
            &ns,
            "--set",
            &fullname,
            "--set",
            "webhook.enabled=false",
            "--set",
            "crds.virtualMachine=true",
            "--post-renderer",
            install_renderer.to_str().unwrap(),
        ],
        true,
    );
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for n in &crd_names {
        let crd = crds.get(n).await.unwrap_or_else(|e| panic!("CRD {n}: {e}"));
        let annotations = crd.metadata.annotations.unwrap_or_default();
        assert_eq!(annotations["helm.sh/resource-policy"], "keep", "{n}");
        assert_eq!(annotations["meta.helm.sh/release-name"], "vmi", "{n}");
        assert!(crd.spec.names.short_names.is_none(), "{n}");
    }
    kubectl_ok(&[
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        &format!("crd/virtualmachineimages.vmoperator.vmware.com.{suffix}"),
    ]);

    // A custom resource of the release's CRDs.
    let image = write_stream(
        &format!("{ns}-image.yaml"),
        &[&json!({
            "apiVersion": format!("vmoperator.vmware.com.{suffix}/v1alpha5"),
            "kind": "VirtualMachineImage",
            "metadata": { "name": "vmi-0a0044d7c690bcbea", "namespace": ns },
            "spec": {},
        })],
    );
    kubectl_ok(&["create", "-f", image.to_str().unwrap()]);

    // Upgrade: the CRDs follow the chart (new annotation from the values, new category from the
    // "new chart version").
    helm_ok(
        &[
            "upgrade",
            "vmi",
            CHART,
            "--namespace",
            &ns,
            "--reuse-values",
            "--set-json",
            r#"crds.annotations={"vmi-operator.e2e/revision":"2"}"#,
            "--post-renderer",
            upgrade_renderer.to_str().unwrap(),
        ],
        true,
    );
    for n in &crd_names {
        let crd = crds.get(n).await.unwrap();
        assert_eq!(
            crd.metadata.annotations.unwrap_or_default()["vmi-operator.e2e/revision"],
            "2",
            "helm upgrade did not update CRD {n}"
        );
        assert_eq!(
            crd.spec.names.categories,
            Some(vec![ns.clone()]),
            "helm upgrade did not update the spec of CRD {n}"
        );
    }

    // Uninstall: the release goes, the CRDs and the image stay.
    helm_ok(&["uninstall", "vmi", "--namespace", &ns], true);
    wait_gone(
        Api::<Deployment>::namespaced(client.clone(), &ns),
        &format!("{ns}-controller-manager"),
    )
    .await;
    for n in &crd_names {
        let crd = crds
            .get_opt(n)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("helm uninstall deleted CRD {n}"));
        assert!(
            crd.metadata.deletion_timestamp.is_none(),
            "{n} is being deleted"
        );
    }
    let out = kubectl_ok(&[
        "get",
        &format!("virtualmachineimages.vmoperator.vmware.com.{suffix}"),
        "-n",
        &ns,
        "-o",
        "name",
    ]);
    assert!(out.contains("vmi-0a0044d7c690bcbea"), "{out}");
    assert!(
        helm(&["status", "vmi", "--namespace", &ns], true)
            .status
            .code()
            != Some(0),
        "the release is still there"
    );
}
