//! Shared helpers of the end-to-end tests: each `tests/*.rs` file that needs a cluster says `mod common;`.
//!
//! The tests run against the loopback control plane of `hack/cluster.sh` (etcd, kube-apiserver with
//! RBAC, kube-controller-manager with the garbage collector and namespace controller). `make test`
//! starts it before `cargo test` and stops it afterwards; a plain `cargo test` starts it on first use
//! (`hack/cluster.sh up`, which is a no-op when it already runs) and leaves it running for the next
//! run (`make cluster-down` stops it).
//!
//! The admin kubeconfig is `target/cluster/kubeconfig` (`$VMI_CLUSTER_DIR/kubeconfig`). An ambient
//! `KUBECONFIG` is deliberately ignored, so that a developer's own cluster is never touched; to run
//! against another cluster on purpose, set `VMI_E2E_KUBECONFIG` (then nothing is started).
//!
//! Every test works in its own namespace ([`test_namespace`]), so tests run in parallel. Namespaces
//! are left behind on purpose (to look at after a failure, `kubectl get ns -l vmi-operator.e2e/test`);
//! the whole cluster is thrown away by `hack/cluster.sh down` (the next `up` starts from empty etcd).
//! Cluster-scoped objects a test creates should carry the namespace in their name.
//!
//! All helpers panic with a clear message on failure: they are for tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, Patch, PatchParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use kube::runtime::wait::{await_condition, conditions};
use kube::{Client, Config};
use serde_json::{Value, json};

/// Field manager of every server-side apply the helpers do.
pub const FIELD_MANAGER: &str = "vmi-e2e";

/// The repository root (where `Cargo.toml`, `crds/` and `hack/` are).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The state directory of `hack/cluster.sh`.
pub fn cluster_dir() -> PathBuf {
    std::env::var_os("VMI_CLUSTER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/cluster"))
}

/// True when the tests use the cluster of `hack/cluster.sh` (not `VMI_E2E_KUBECONFIG`).
pub fn own_cluster() -> bool {
    std::env::var_os("VMI_E2E_KUBECONFIG").is_none()
}

/// The admin kubeconfig; on first use (once per test binary) makes sure the cluster runs.
pub fn kubeconfig_path() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if let Some(path) = std::env::var_os("VMI_E2E_KUBECONFIG") {
            return PathBuf::from(path);
        }
        // Idempotent and fast when the cluster is healthy; the script holds a file lock, so test
        // binaries started at the same time do not race.
        cluster_sh("up");
        cluster_dir().join("kubeconfig")
    })
}

/// Runs `hack/cluster.sh <command>` (output goes straight to the terminal) and panics if it fails.
pub fn cluster_sh(command: &str) {
    let script = repo_root().join("hack/cluster.sh");
    let status = Command::new(&script)
        .arg(command)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        status.success(),
        "hack/cluster.sh {command} failed ({status}); logs in {}/logs/",
        cluster_dir().display()
    );
}

/// The assignments of `target/cluster/env` (KUBECONFIG, APISERVER_URL, CLUSTER_CA, VMI_KUBECTL, ...).
pub fn cluster_env() -> BTreeMap<String, String> {
    let path = cluster_dir().join("env");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("PATH="))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), unquote(v)))
        .collect()
}

/// Undoes the quoting of bash's `printf %q` for the plain values the env file holds.
fn unquote(v: &str) -> String {
    let v = v.trim();
    if let Some(inner) = v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')) {
        return inner.to_string();
    }
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

/// An admin client (system:masters).
pub async fn client() -> Client {
    client_from(kubeconfig_path()).await
}

/// A client for the identity of any kubeconfig file, e.g. one of [`service_account_kubeconfig`].
pub async fn client_from(kubeconfig: &Path) -> Client {
    let kc = Kubeconfig::read_from(kubeconfig)
        .unwrap_or_else(|e| panic!("cannot read kubeconfig {}: {e}", kubeconfig.display()));
    let config = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .unwrap_or_else(|e| panic!("bad kubeconfig {}: {e}", kubeconfig.display()));
    Client::try_from(config).unwrap_or_else(|e| panic!("cannot build a client: {e}"))
}

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

/// Polls `f` (every 200 ms) until it returns `Some`, and returns that; panics after `timeout`
/// with "timed out after ... waiting for {what}".
pub async fn wait_for<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Polls `f` until it returns true; panics after `timeout` naming `what`.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_for(timeout, what, || {
        let fut = f();
        async move { fut.await.then_some(()) }
    })
    .await
}

/// Creates a namespace `<prefix>-<8 random hex>` labelled `vmi-operator.e2e/test=true` and returns
/// its name. It is not deleted (see the module documentation).
pub async fn test_namespace(client: &Client, prefix: &str) -> String {
    let prefix: String = prefix
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(40)
        .collect();
    let prefix = prefix.trim_matches('-');
    let prefix = if prefix.is_empty() { "e2e" } else { prefix };
    let name = format!(
        "{prefix}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let ns: Namespace = serde_json::from_value(json!({
        "metadata": { "name": name, "labels": { "vmi-operator.e2e/test": "true" } }
    }))
    .expect("namespace object");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .unwrap_or_else(|e| panic!("cannot create namespace {name}: {e}"));
    name
}

/// Applies every `crds/*.yaml` (server-side apply) and waits until each CRD is Established.
/// Done once per test binary; parallel callers wait for the first. If a CRD was new to the cluster
/// (it changed since `hack/cluster.sh up` applied crds/), kube-controller-manager is restarted so
/// that its garbage collector knows the new kinds at once.
pub async fn install_crds(client: &Client) {
    static DONE: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    DONE.get_or_init(|| apply_crds(client.clone())).await;
}

async fn apply_crds(client: Client) {
    let dir = repo_root().join("crds");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"));
    files.sort();
    assert!(
        !files.is_empty(),
        "no CRDs in {} (make crds)",
        dir.display()
    );

    let api: Api<CustomResourceDefinition> = Api::all(client);
    let mut names = Vec::new();
    let mut created = false;
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read CRD file");
        for doc in yaml_documents(&text, file) {
            let crd: CustomResourceDefinition = serde_json::from_value(doc).unwrap_or_else(|e| {
                panic!("{}: not a CustomResourceDefinition: {e}", file.display())
            });
            let name = crd.metadata.name.clone().expect("CRD without a name");
            created |= api.get_opt(&name).await.expect("get CRD").is_none();
            api.patch(
                &name,
                &PatchParams::apply(FIELD_MANAGER).force(),
                &Patch::Apply(&crd),
            )
            .await
            .unwrap_or_else(|e| panic!("cannot apply CRD {name}: {e}"));
            names.push(name);
        }
    }
    for name in &names {
        let established = await_condition(api.clone(), name, conditions::is_crd_established());
        tokio::time::timeout(Duration::from_secs(60), established)
            .await
            .unwrap_or_else(|_| panic!("CRD {name} not Established after 60s"))
            .unwrap_or_else(|e| panic!("watching CRD {name}: {e}"));
    }
    if created && own_cluster() {
        tokio::task::spawn_blocking(|| cluster_sh("restart-kcm"))
            .await
            .expect("restart-kcm");
    }
}

/// The non-empty documents of a YAML stream, as JSON values.
pub fn yaml_documents(text: &str, origin: &Path) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text)
        .unwrap_or_else(|e| panic!("{}: invalid YAML: {e}", origin.display()));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// Server-side applies every object of a YAML stream (any kind the cluster serves); namespaced
/// objects without a namespace go to `namespace`.
pub async fn apply_yaml(client: &Client, namespace: &str, yaml: &str) {
    for doc in yaml_documents(yaml, Path::new("<yaml>")) {
        let obj: DynamicObject =
            serde_json::from_value(doc).unwrap_or_else(|e| panic!("not a Kubernetes object: {e}"));
        let types = obj.types.as_ref().expect("object without apiVersion/kind");
        let gvk = GroupVersionKind::try_from(types).expect("bad apiVersion");
        let (resource, caps) = discovery::pinned_kind(client, &gvk)
            .await
            .unwrap_or_else(|e| panic!("the cluster does not serve {gvk:?}: {e}"));
        let name = obj
            .metadata
            .name
            .clone()
            .expect("object without metadata.name");
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => {
                let ns = obj.metadata.namespace.as_deref().unwrap_or(namespace);
                Api::namespaced_with(client.clone(), ns, &resource)
            }
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&obj),
        )
        .await
        .unwrap_or_else(|e| panic!("cannot apply {} {name}: {e}", gvk.kind));
    }
}

/// Creates ServiceAccount `name` in `namespace`, applies `rbac_yaml` (Roles, ClusterRoles and their
/// bindings: `${NAMESPACE}` and `${SERVICE_ACCOUNT}` in it are replaced first; give cluster-scoped
/// objects names that contain `${NAMESPACE}` so parallel tests don't share them), gets a token for
/// the account through the TokenRequest API and writes a kubeconfig for that identity. Code run with
/// it has exactly the permissions the YAML grants, so a missing RBAC rule fails the test.
/// Returns the kubeconfig's path (under cargo's target/tmp).
pub async fn service_account_kubeconfig(
    client: &Client,
    namespace: &str,
    name: &str,
    rbac_yaml: &str,
) -> PathBuf {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
    let sa = json!({ "apiVersion": "v1", "kind": "ServiceAccount", "metadata": { "name": name } });
    accounts
        .patch(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&sa),
        )
        .await
        .unwrap_or_else(|e| panic!("cannot create ServiceAccount {namespace}/{name}: {e}"));
    let rbac = rbac_yaml
        .replace("${NAMESPACE}", namespace)
        .replace("${SERVICE_ACCOUNT}", name);
    apply_yaml(client, namespace, &rbac).await;
    wait_for_rbac(client, namespace, name, &rbac).await;

    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(24 * 3600),
            ..Default::default()
        },
        ..Default::default()
    };
    let token = accounts
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("TokenRequest for {namespace}/{name}: {e}"))
        .status
        .expect("TokenRequest without status")
        .token;

    let (server, (ca_key, ca)) = admin_cluster();
    let mut cluster = json!({ "server": server });
    cluster[ca_key] = json!(ca);
    let kubeconfig = json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{ "name": "e2e", "cluster": cluster }],
        "users": [{ "name": name, "user": { "token": token } }],
        "contexts": [{ "name": "e2e", "context": { "cluster": "e2e", "user": name, "namespace": namespace } }],
        "current-context": "e2e",
    });
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kubeconfigs");
    std::fs::create_dir_all(&dir).expect("create kubeconfig dir");
    let path = dir.join(format!("{namespace}.{name}.kubeconfig"));
    std::fs::write(&path, serde_json::to_string_pretty(&kubeconfig).unwrap())
        .expect("write kubeconfig");
    path
}

/// The server URL and CA entry (`certificate-authority-data` or `certificate-authority`) of the
/// admin kubeconfig's current context.
fn admin_cluster() -> (String, (&'static str, String)) {
    let kc = Kubeconfig::read_from(kubeconfig_path()).expect("read admin kubeconfig");
    let context = kc.current_context.as_deref().unwrap_or_default();
    let cluster_name = kc
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .map(|c| c.cluster.clone())
        .expect("admin kubeconfig without a current context");
    let cluster = kc
        .clusters
        .into_iter()
        .find(|c| c.name == cluster_name)
        .and_then(|c| c.cluster)
        .expect("admin kubeconfig without its cluster");
    let ca = match (
        cluster.certificate_authority_data,
        cluster.certificate_authority,
    ) {
        (Some(data), _) => ("certificate-authority-data", data),
        (None, Some(file)) => ("certificate-authority", file),
        (None, None) => panic!("admin kubeconfig without a CA"),
    };
    (cluster.server.expect("cluster without server"), ca)
}

/// RBAC changes reach the apiserver's authorizer through an informer, a moment after the write.
/// For each binding in `rbac` that names the account and whose Role/ClusterRole is in `rbac` too,
/// waits (up to 10 s) until a SubjectAccessReview allows the role's first resource rule.
async fn wait_for_rbac(client: &Client, namespace: &str, name: &str, rbac: &str) {
    let docs = yaml_documents(rbac, Path::new("<rbac>"));
    let names_account = |binding: &Value| {
        binding["subjects"].as_array().is_some_and(|subjects| {
            subjects.iter().any(|s| {
                s["kind"] == "ServiceAccount"
                    && s["name"] == name
                    && s["namespace"].as_str().unwrap_or(namespace) == namespace
            })
        })
    };
    let bound_roles = docs
        .iter()
        .filter(|d| {
            matches!(
                d["kind"].as_str(),
                Some("RoleBinding" | "ClusterRoleBinding")
            )
        })
        .filter(|b| names_account(b))
        .filter_map(|b| {
            let binding_ns = b["metadata"]["namespace"].as_str().unwrap_or(namespace);
            docs.iter()
                .find(|r| {
                    r["kind"] == b["roleRef"]["kind"]
                        && r["metadata"]["name"] == b["roleRef"]["name"]
                        && (r["kind"] == "ClusterRole"
                            || r["metadata"]["namespace"].as_str().unwrap_or(namespace)
                                == binding_ns)
                })
                .map(|role| (role, binding_ns))
        });

    let user = format!("system:serviceaccount:{namespace}:{name}");
    let reviews: Api<SubjectAccessReview> = Api::all(client.clone());
    for (role, binding_ns) in bound_roles {
        let Some(rule) = role["rules"]
            .as_array()
            .and_then(|rules| rules.iter().find(|r| r["resources"].is_array()))
        else {
            continue;
        };
        let first = |key: &str| rule[key][0].as_str().map(str::to_string);
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: Some(user.clone()),
                groups: Some(vec![
                    "system:serviceaccounts".into(),
                    format!("system:serviceaccounts:{namespace}"),
                    "system:authenticated".into(),
                ]),
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(binding_ns.to_string()),
                    verb: first("verbs"),
                    group: first("apiGroups"),
                    resource: first("resources"),
                    name: first("resourceNames"),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::time::Instant::now() < deadline {
            let allowed = reviews
                .create(&PostParams::default(), &review)
                .await
                .ok()
                .and_then(|r| r.status)
                .is_some_and(|s| s.allowed);
            if allowed {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
