//! Proves the e2e harness and the control plane of hack/cluster.sh: a v1.36 apiserver answers,
//! namespaces are created, kube-controller-manager garbage-collects dependents, RBAC is enforced for
//! the ServiceAccount kubeconfigs, and the CRDs of crds/ install.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use serde_json::json;
use vmi_test_support::{cluster::*, kubectl::*, namespaces::*, repo_root, wait::*};

fn config_map(value: serde_json::Value) -> ConfigMap {
    serde_json::from_value(value).expect("ConfigMap")
}

#[tokio::test]
async fn apiserver_and_kubectl_are_v1_36() {
    let client = client().await;
    let version = client.apiserver_version().await.expect("apiserver version");
    assert!(
        version.git_version.starts_with("v1.36."),
        "apiserver is {}",
        version.git_version
    );
    let out = kubectl_ok(&["version", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("kubectl version json");
    let client_version = v["clientVersion"]["gitVersion"]
        .as_str()
        .unwrap_or_default();
    assert!(
        client_version.starts_with("v1.36."),
        "kubectl is {client_version}"
    );
    assert!(
        v["serverVersion"]["gitVersion"]
            .as_str()
            .unwrap_or_default()
            .starts_with("v1.36.")
    );
}

#[tokio::test]
async fn creates_a_test_namespace() {
    let client = client().await;
    let ns = test_namespace(&client, "smoke-ns").await;
    assert!(ns.starts_with("smoke-ns-"));
    let got = Api::<Namespace>::all(client)
        .get(&ns)
        .await
        .expect("namespace exists");
    assert_eq!(
        got.metadata.labels.unwrap_or_default()["vmi-operator.e2e/test"],
        "true"
    );
    let out = kubectl_ok(&["get", "namespace", &ns, "-o", "name"]);
    assert_eq!(out.trim(), format!("namespace/{ns}"));
    let err = kubectl_err(&["get", "namespace", &format!("{ns}-missing")]);
    assert!(err.contains("NotFound"), "{err}");
}

#[tokio::test]
async fn garbage_collector_deletes_dependents() {
    let client = client().await;
    let ns = test_namespace(&client, "smoke-gc").await;
    let api: Api<ConfigMap> = Api::namespaced(client, &ns);
    let pp = PostParams::default();
    let owner = api
        .create(&pp, &config_map(json!({ "metadata": { "name": "owner" } })))
        .await
        .expect("create owner");
    let uid = owner.metadata.uid.expect("owner uid");
    let dependent = json!({ "metadata": { "name": "dependent", "ownerReferences": [
        { "apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": uid }
    ] } });
    api.create(&pp, &config_map(dependent))
        .await
        .expect("create dependent");

    api.delete("owner", &DeleteParams::background())
        .await
        .expect("delete owner");
    wait_until(
        Duration::from_secs(60),
        "the dependent ConfigMap to be garbage collected",
        || {
            let api = api.clone();
            async move {
                api.get_opt("dependent")
                    .await
                    .expect("get dependent")
                    .is_none()
            }
        },
    )
    .await;
}

const READ_CONFIGMAPS: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: configmap-reader
rules:
- apiGroups: [""]
  resources: ["configmaps"]
  verbs: ["get", "list", "watch"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: ${SERVICE_ACCOUNT}-configmap-reader
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: configmap-reader
subjects:
- kind: ServiceAccount
  name: ${SERVICE_ACCOUNT}
  namespace: ${NAMESPACE}
"#;

#[tokio::test]
async fn service_account_has_exactly_its_rbac() {
    let admin = client().await;
    let ns = test_namespace(&admin, "smoke-rbac").await;
    let kubeconfig = service_account_kubeconfig(&admin, &ns, "reader", READ_CONFIGMAPS).await;
    let sa = client_from(&kubeconfig).await;

    // Allowed by the Role.
    Api::<ConfigMap>::namespaced(sa.clone(), &ns)
        .list(&ListParams::default())
        .await
        .expect("the ServiceAccount may list configmaps");
    // Not granted: reading secrets, writing configmaps, anything in another namespace.
    let denied = [
        Api::<Secret>::namespaced(sa.clone(), &ns)
            .list(&ListParams::default())
            .await
            .err(),
        Api::<ConfigMap>::namespaced(sa.clone(), &ns)
            .create(
                &PostParams::default(),
                &config_map(json!({ "metadata": { "name": "x" } })),
            )
            .await
            .err(),
        Api::<ConfigMap>::namespaced(sa, "default")
            .list(&ListParams::default())
            .await
            .err(),
    ];
    for (i, err) in denied.into_iter().enumerate() {
        match err {
            Some(kube::Error::Api(status)) if status.code == 403 => {}
            other => panic!("request {i}: expected 403 Forbidden, got {other:?}"),
        }
    }

    let path = kubeconfig.to_str().unwrap();
    kubectl_ok(&["--kubeconfig", path, "-n", &ns, "get", "configmaps"]);
    let err = kubectl_err(&["--kubeconfig", path, "-n", &ns, "get", "secrets"]);
    assert!(err.contains("forbidden"), "{err}");
    let who = kubectl_ok(&[
        "--kubeconfig",
        path,
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    ]);
    assert_eq!(who, format!("system:serviceaccount:{ns}:reader"));
}

#[tokio::test]
async fn crds_install_and_are_established() {
    let has_crds = std::fs::read_dir(repo_root().join("crds"))
        .map(|d| {
            d.flatten()
                .any(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        })
        .unwrap_or(false);
    if !has_crds {
        eprintln!("no crds/*.yaml yet: nothing to install");
        return;
    }
    let client = client().await;
    install_crds(&client).await;
    install_crds(&client).await; // idempotent
    let out = kubectl_ok(&["get", "crd", "-o", "name"]);
    assert!(!out.trim().is_empty());
}
