//! A namespace per test, and identities with exactly the RBAC a test grants them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::config::Kubeconfig;
use serde_json::{Value, json};

use crate::cluster::kubeconfig_path;
use crate::yaml::{FIELD_MANAGER, apply_yaml, yaml_documents};

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
    let dir = crate::scratch_dir().join("kubeconfigs");
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
