//! `vmi-operator run --watch-namespace`, through the CLI: namespaced libraries, items and images
//! outside the watched namespace are untouched (no sync, no image, no cleanup), those inside are
//! synced. The flag was once parsed and then dropped on its way to the controllers.

use std::time::Duration;

use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use vmi_operator::api::{ContentLibrary, ContentLibraryItem, VirtualMachineImage};
use vmi_test_support::{cluster, kubectl, library, namespaces, operator, serve, wait, yaml};

const WAIT: Duration = Duration::from_secs(90);

/// A library, a hand-written item with a status (as if synced before), and an image of ours
/// whose item is gone: everything the controllers would act on in `ns`.
async fn plant(client: &kube::Client, ns: &str, lib_id: &str, source: &str) {
    yaml::apply_yaml(
        client,
        ns,
        &format!(
            r#"
apiVersion: imageregistry.vmware.com/v1alpha2
kind: ContentLibrary
metadata: {{ name: images, namespace: {ns} }}
spec: {{ id: "{lib_id}", source: "{source}" }}
---
apiVersion: imageregistry.vmware.com/v1alpha2
kind: ContentLibraryItem
metadata: {{ name: clitem-0a0044d7c690bcbea, namespace: {ns} }}
spec: {{ id: e1968c25-dd84-4506-8dc7-9beacb6b688e, libraryName: images }}
---
apiVersion: vmoperator.vmware.com/v1alpha5
kind: VirtualMachineImage
metadata:
  name: vmi-orphan
  namespace: {ns}
  labels: {{ app.kubernetes.io/managed-by: vmi-operator }}
spec:
  providerRef: {{ apiVersion: imageregistry.vmware.com/v1alpha1, kind: ContentLibraryItem, name: clitem-gone }}
"#
        ),
    )
    .await;
    let items: Api<ContentLibraryItem> = Api::namespaced(client.clone(), ns);
    let status = json!({
        "apiVersion": "imageregistry.vmware.com/v1alpha2",
        "kind": "ContentLibraryItem",
        "status": {
            "name": "hand-made", "type": "ISO", "contentVersion": "1",
            "conditions": [{ "type": "Ready", "status": "True", "reason": "Synced", "message": "",
                             "lastTransitionTime": "2026-01-02T03:04:05Z" }],
        },
    });
    items
        .patch_status(
            "clitem-0a0044d7c690bcbea",
            &PatchParams::apply("e2e").force(),
            &Patch::Apply(&status),
        )
        .await
        .expect("write the item's status");
}

fn library_status(ns: &str) -> Value {
    let out = kubectl::kubectl_ok(&["get", "contentlibrary", "images", "-n", ns, "-o", "json"]);
    serde_json::from_str::<Value>(&out).unwrap()["status"].clone()
}

#[tokio::test]
async fn only_the_watched_namespace_is_synced() {
    let _alone = operator::one_operator_test();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = cluster::client().await;
    let (watched, kubeconfig) = operator::operator_namespace(&client, "watched").await;
    let other = namespaces::test_namespace(&client, "unwatched").await;

    let lib_dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        library::fixture("govmomi/ovf/fixtures/photon5.ovf"),
        lib_dir.path().join("photon5.ovf"),
    )
    .unwrap();
    let lib_id = uuid::Uuid::new_v4().to_string();
    library::publish(lib_dir.path(), &lib_id);
    let source = serve::serve_dir(lib_dir.path().to_path_buf())
        .await
        .to_string();
    plant(&client, &watched, &lib_id, &source).await;
    plant(&client, &other, &lib_id, &source).await;

    let mut operator = operator::OperatorProcess::start(
        &format!("operator-{watched}"),
        &kubeconfig,
        &[
            "--disable-webhook",
            "--sync-interval",
            "2s",
            "--watch-namespace",
            &watched,
        ],
    );
    operator.wait_ready().await;

    // Inside: the library is synced, its item gets an image, the orphan image is removed.
    let images: Api<VirtualMachineImage> = Api::namespaced(client.clone(), &watched);
    wait::wait_until(WAIT, "the watched library Ready with 1 item", || async {
        let s = library_status(&watched);
        s["itemCount"] == 1
            && s["conditions"].as_array().is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            })
    })
    .await;
    wait::wait_until(
        WAIT,
        "the hand-made item's image in the watched namespace",
        || async {
            images
                .get_opt("vmi-0a0044d7c690bcbea")
                .await
                .unwrap()
                .is_some()
        },
    )
    .await;
    wait::wait_until(
        WAIT,
        "the orphan image in the watched namespace removed",
        || async { images.get_opt("vmi-orphan").await.unwrap().is_none() },
    )
    .await;

    // Outside: nothing was touched, although the operator has had time to act on it.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let libraries: Api<ContentLibrary> = Api::namespaced(client.clone(), &other);
    let untouched = libraries.get("images").await.unwrap();
    assert!(
        untouched.status.is_none(),
        "the unwatched library was synced: {:?}",
        untouched.status
    );
    let other_images: Api<VirtualMachineImage> = Api::namespaced(client.clone(), &other);
    let names: Vec<String> = other_images
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|i| i.metadata.name)
        .collect();
    assert_eq!(
        names,
        ["vmi-orphan"],
        "images outside the watched namespace changed"
    );
    let logs = operator.logs();
    assert!(
        !logs.contains(&format!("{other}/")),
        "the operator logged the unwatched namespace:\n{logs}"
    );
    operator.terminate();
}
