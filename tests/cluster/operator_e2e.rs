//! The operator end to end: published libraries on disk -> ContentLibraryItems ->
//! VirtualMachineImages, on the real control plane, with the operator binary running under the
//! RBAC it is installed with. Additions, changes, removals, a broken OVF and a source outage.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use vmi_test_support::{cluster, kubectl, library, operator, repo_root, serve, wait, yaml};

const WAIT: Duration = Duration::from_secs(90);

fn get_json(args: &[&str]) -> Value {
    let mut full = args.to_vec();
    full.extend(["-o", "json"]);
    serde_json::from_str(&kubectl::kubectl_ok(&full)).expect("kubectl json")
}

fn items_of(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

fn ready(obj: &Value) -> Option<(String, String, String)> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == "Ready")
        .map(|c| {
            (
                c["status"].as_str().unwrap_or("").into(),
                c["reason"].as_str().unwrap_or("").into(),
                c["message"].as_str().unwrap_or("").into(),
            )
        })
}

fn image_by_display_name(list: &Value, name: &str) -> Option<Value> {
    items_of(list)
        .into_iter()
        .find(|i| i["status"]["name"] == name)
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to)
        .unwrap_or_else(|e| panic!("copy {} -> {}: {e}", from.display(), to.display()));
}

#[tokio::test]
async fn libraries_become_items_and_images_and_follow_their_source() {
    let _alone = operator::one_operator_test();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "operator").await;

    // A namespaced library of three templates, and a cluster library of one.
    let lib_dir = tempfile::tempdir().unwrap();
    let seed_ovf = repo_root().join("tests/data/photon-5.0.ovf");
    copy(&seed_ovf, &lib_dir.path().join("Photon OS 5.0.ovf"));
    copy(
        &library::fixture("govmomi/ovf/fixtures/ubuntu24.10.ovf"),
        &lib_dir.path().join("ubuntu-24.10.ovf"),
    );
    copy(
        &library::fixture("extra/ttylinux-pc_i486-16.1.ova"),
        &lib_dir.path().join("ttylinux.ova"),
    );
    let lib_id = uuid::Uuid::new_v4().to_string();
    library::publish(lib_dir.path(), &lib_id);

    let cluster_dir = tempfile::tempdir().unwrap();
    copy(
        &library::fixture("govmomi/ovf/fixtures/photon5.ovf"),
        &cluster_dir.path().join("photon5-shared.ovf"),
    );
    let cluster_lib_id = uuid::Uuid::new_v4().to_string();
    library::publish(cluster_dir.path(), &cluster_lib_id);
    let ccl_name = format!("ccl-{ns}");

    // The namespaced library is served over HTTP on loopback, the cluster one read from a folder.
    let source = serve::serve_dir(lib_dir.path().to_path_buf())
        .await
        .to_string();
    let cluster_source = format!("file://{}/lib.json", cluster_dir.path().display());
    yaml::apply_yaml(
        &client,
        &ns,
        &format!(
            r#"
apiVersion: imageregistry.vmware.com/v1alpha2
kind: ContentLibrary
metadata: {{ name: images, namespace: {ns} }}
spec: {{ id: "{lib_id}", source: "{source}" }}
---
apiVersion: imageregistry.vmware.com/v1alpha2
kind: ClusterContentLibrary
metadata: {{ name: {ccl_name} }}
spec: {{ id: "{cluster_lib_id}", source: "{cluster_source}" }}
"#
        ),
    )
    .await;

    let mut operator = operator::OperatorProcess::start(
        &format!("operator-{ns}"),
        &kubeconfig,
        &["--disable-webhook", "--sync-interval", "2s"],
    );
    operator.wait_ready().await;

    // Three items and three Ready images in the namespace.
    wait::wait_until(WAIT, "3 Ready images in the namespace", || {
        let ns = ns.clone();
        async move {
            let images = get_json(&["get", "vmi", "-n", &ns]);
            let list = items_of(&images);
            list.len() == 3 && list.iter().all(|i| ready(i).is_some_and(|r| r.0 == "True"))
        }
    })
    .await;
    let items = get_json(&["get", "clitem", "-n", &ns]);
    assert_eq!(items_of(&items).len(), 3);
    for item in items_of(&items) {
        let uuid = item["spec"]["id"].as_str().unwrap();
        let expected = vmoperator_vmi_id(uuid);
        assert_eq!(
            item["metadata"]["name"].as_str().unwrap(),
            expected.replace("vmi-", "clitem-")
        );
        assert_eq!(item["spec"]["libraryName"], "images");
        // Valid on VMware's CRDs: the enum's spelling, complete file entries, readiness in
        // the condition.
        assert_eq!(item["status"]["type"], "OVF");
        assert!(item["status"]["sizeInBytes"].is_string());
        for file in item["status"]["fileInfo"].as_array().unwrap() {
            assert!(
                file["sizeInBytes"].is_string() && file["version"].is_string(),
                "{file}"
            );
        }
        assert!(ready(&item).is_some_and(|r| r.0 == "True"));
    }

    // The seed's `kubectl get vmi` columns and values.
    let table = kubectl::kubectl_ok(&["get", "vmi", "-n", &ns]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        header,
        [
            "NAME",
            "DISPLAY NAME",
            "TYPE",
            "IMAGE VERSION",
            "OS NAME",
            "OS VERSION",
            "HARDWARE VERSION",
            "CAPABILITIES"
        ]
    );
    let photon_row = table
        .lines()
        .find(|l| l.contains("Photon OS 5.0"))
        .unwrap_or_else(|| panic!("no Photon row in\n{table}"));
    let cells: Vec<&str> = photon_row
        .split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    assert_eq!(
        &cells[1..7],
        ["Photon OS 5.0", "OVF", "5.0", "Linux", "5.0", "19"],
        "row: {photon_row}"
    );
    assert!(cells[0].starts_with("vmi-") && cells[0].len() == 21);
    let images = get_json(&["get", "vmi", "-n", &ns]);
    let photon = image_by_display_name(&images, "Photon OS 5.0").unwrap();
    let status = &photon["status"];
    assert_eq!(status["firmware"], "EFI");
    assert_eq!(status["capabilities"], json!(["cloud-init", "nvidia-gpu"]));
    // The seed's capacity and size, beside VMware's name, requested/limit and controller.
    assert_eq!(
        status["disks"],
        json!([{ "name": "vmdisk1", "requested": "20Gi", "limit": "20Gi",
                 "controllerType": "SCSI", "controllerBusNumber": 0, "unitNumber": 0,
                 "capacity": "20Gi", "size": "2Gi" }])
    );
    assert_eq!(
        photon["metadata"]["annotations"]["vmware.com/display-name"],
        "Photon OS 5.0"
    );
    assert_eq!(status["productInfo"]["fullVersion"], "5.0.0-20230629");
    assert_eq!(
        status["ovfProperties"],
        json!([{ "key": "hostname", "type": "string", "default": "photon-vm" }])
    );
    assert_eq!(status["providerContentVersion"], "1");
    assert_eq!(photon["spec"]["providerRef"]["kind"], "ContentLibraryItem");
    let photon_name = photon["metadata"]["name"].as_str().unwrap().to_string();
    assert_eq!(
        photon["metadata"]["ownerReferences"][0]["kind"],
        "ContentLibraryItem"
    );

    // Labels select as the page says.
    let gpu = kubectl::kubectl_ok(&[
        "get",
        "vmi",
        "-n",
        &ns,
        "-l",
        "capability.image.vmoperator.vmware.com/nvidia-gpu",
        "-o",
        "name",
    ]);
    assert_eq!(
        gpu.trim(),
        format!("virtualmachineimage.vmoperator.vmware.com/{photon_name}")
    );
    let linux = kubectl::kubectl_ok(&[
        "get",
        "vmi",
        "-n",
        &ns,
        "-l",
        "os.image.vmoperator.vmware.com/type=Linux",
        "-o",
        "name",
    ]);
    assert!(linux.contains(&photon_name), "{linux}");
    let caps = kubectl::kubectl_ok(&[
        "get",
        "vmi",
        &photon_name,
        "-n",
        &ns,
        "-o",
        "jsonpath={.status.capabilities}",
    ]);
    assert_eq!(caps, r#"["cloud-init","nvidia-gpu"]"#);

    // The cluster library gives a ClusterVirtualMachineImage.
    wait::wait_until(WAIT, "the cluster image is Ready", || {
        let ccl_name = ccl_name.clone();
        async move {
            let items = get_json(&[
                "get",
                "cclitem",
                "-l",
                &format!("imageregistry.vmware.com/content-library={ccl_name}"),
            ]);
            let Some(item) = items_of(&items).pop() else {
                return false;
            };
            let image_name = vmoperator_vmi_id(item["spec"]["id"].as_str().unwrap());
            let image = kubectl::kubectl(&["get", "cvmi", &image_name, "-o", "json"]);
            image.status.success()
                && ready(&serde_json::from_slice(&image.stdout).unwrap())
                    .is_some_and(|r| r.0 == "True")
        }
    })
    .await;
    let library = get_json(&["get", "cl", "images", "-n", &ns]);
    assert_eq!(library["status"]["itemCount"], 3);
    assert_eq!(ready(&library).unwrap().0, "True");

    // A second item with the same UUID (never made by the sync) must not take the image over.
    let photon_uuid = status["providerItemID"].as_str().unwrap().to_string();
    yaml::apply_yaml(
        &client,
        &ns,
        &format!(
            r#"
apiVersion: imageregistry.vmware.com/v1alpha2
kind: ContentLibraryItem
metadata: {{ name: impostor, namespace: {ns} }}
spec: {{ id: "{photon_uuid}", libraryName: images }}
"#
        ),
    )
    .await;
    let impostor_status = json!({ "status": { "name": "Impostor", "type": "OVF", "securityCompliance": true,
        "contentVersion": "9", "conditions": [{ "type": "Ready", "status": "True", "reason": "Synced",
            "message": "", "lastTransitionTime": "2026-01-02T03:04:05Z" }] } }).to_string();
    kubectl::kubectl_ok(&[
        "patch",
        "clitem",
        "impostor",
        "-n",
        &ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &impostor_status,
    ]);
    wait::wait_until(WAIT, "the impostor item gets a conflict condition", || {
        let ns = ns.clone();
        async move {
            let item = get_json(&["get", "clitem", "impostor", "-n", &ns]);
            item["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter().any(|c| {
                    c["type"] == "VirtualMachineImageConflict"
                        && c["message"]
                            .as_str()
                            .unwrap_or("")
                            .contains(&photon_name_for(&ns))
                })
            })
        }
    })
    .await;
    let image = get_json(&["get", "vmi", &photon_name, "-n", &ns]);
    assert_eq!(
        image["status"]["name"], "Photon OS 5.0",
        "the image is not overwritten"
    );
    let events = kubectl::kubectl_ok(&["get", "events", "-n", &ns, "-o", "json"]);
    assert!(
        events.contains("ItemNameMismatch"),
        "a name that does not match the UUID is reported"
    );
    kubectl::kubectl_ok(&["delete", "clitem", "impostor", "-n", &ns]);

    // A new content version updates the image.
    let changed = std::fs::read_to_string(&seed_ovf)
        .unwrap()
        .replace("<Version>5.0</Version>", "<Version>5.1</Version>");
    std::fs::write(lib_dir.path().join("Photon OS 5.0.ovf"), changed).unwrap();
    library::publish(lib_dir.path(), &lib_id);
    wait::wait_until(WAIT, "the image shows the new product version", || {
        let (ns, photon_name) = (ns.clone(), photon_name.clone());
        async move {
            let image = get_json(&["get", "vmi", &photon_name, "-n", &ns]);
            image["status"]["productInfo"]["version"] == "5.1"
                && image["status"]["providerContentVersion"] == "2"
        }
    })
    .await;

    // A broken OVF: its image says why, the others stay Ready.
    // Well-formed, but with disk units no parser knows: publish takes it, the image controller refuses it.
    let broken = std::fs::read_to_string(&seed_ovf)
        .unwrap()
        .replace("byte * 2^30", "furlong * 2^30");
    std::fs::write(lib_dir.path().join("broken.ovf"), broken).unwrap();
    library::publish(lib_dir.path(), &lib_id);
    wait::wait_until(WAIT, "the broken image is not Ready with a reason", || {
        let ns = ns.clone();
        async move {
            let images = get_json(&["get", "vmi", "-n", &ns]);
            image_by_display_name(&images, "broken")
                .and_then(|i| ready(&i))
                .is_some_and(|r| {
                    r.0 == "False"
                        && r.1 == "VirtualMachineImageNotSynced"
                        && r.2.contains("unknown capacity allocation units")
                })
        }
    })
    .await;
    let images = get_json(&["get", "vmi", "-n", &ns]);
    let ready_count = items_of(&images)
        .iter()
        .filter(|i| ready(i).is_some_and(|r| r.0 == "True"))
        .count();
    assert_eq!(ready_count, 3, "the other images stay Ready");
    let events = kubectl::kubectl_ok(&[
        "get",
        "events",
        "-n",
        &ns,
        "--field-selector",
        "type=Warning",
        "-o",
        "json",
    ]);
    let broken_name = image_by_display_name(&images, "broken").unwrap()["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();
    let describe = kubectl::kubectl_ok(&["describe", "vmi", &broken_name, "-n", &ns]);
    assert!(
        describe.contains("Warning") && describe.contains("VirtualMachineImageNotSynced"),
        "kubectl describe shows the failure as an event on the image:\n{describe}"
    );
    assert!(
        events.contains("VirtualMachineImageNotSynced"),
        "a Warning event names the reason: {events}"
    );

    // A removed template: item and image go.
    std::fs::remove_file(lib_dir.path().join("ttylinux.ova")).unwrap();
    library::publish(lib_dir.path(), &lib_id);
    wait::wait_until(
        WAIT,
        "the removed template's item and image are gone",
        || {
            let ns = ns.clone();
            async move {
                let images = get_json(&["get", "vmi", "-n", &ns]);
                let items = get_json(&["get", "clitem", "-n", &ns]);
                image_by_display_name(&images, "ttylinux").is_none()
                    && !items_of(&items)
                        .iter()
                        .any(|i| i["status"]["name"] == "ttylinux")
            }
        },
    )
    .await;

    // An outage keeps every item; the library says why; the sync recovers.
    let moved = lib_dir.path().with_extension("away");
    std::fs::rename(lib_dir.path(), &moved).unwrap();
    wait::wait_until(WAIT, "the library reports the outage", || {
        let ns = ns.clone();
        async move {
            ready(&get_json(&["get", "cl", "images", "-n", &ns])).is_some_and(|r| r.0 == "False")
        }
    })
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        items_of(&get_json(&["get", "clitem", "-n", &ns])).len(),
        3,
        "no item is lost in an outage"
    );
    assert_eq!(
        items_of(&get_json(&["get", "vmi", "-n", &ns])).len(),
        3,
        "no image is lost in an outage"
    );
    std::fs::rename(&moved, lib_dir.path()).unwrap();
    wait::wait_until(WAIT, "the library recovers", || {
        let ns = ns.clone();
        async move {
            ready(&get_json(&["get", "cl", "images", "-n", &ns])).is_some_and(|r| r.0 == "True")
        }
    })
    .await;

    // Metrics tell what happened.
    let (_, metrics) = operator.get("/metrics").await.expect("metrics");
    assert!(
        metrics.contains("vmi_operator_reconciles_total"),
        "{metrics}"
    );
    assert!(metrics.contains("vmi_operator_library_items"), "{metrics}");

    // SIGTERM: a clean exit.
    let status = operator.terminate();
    assert!(
        status.success(),
        "operator exit status {status}; log:\n{}",
        operator.logs()
    );
    // Cluster-scoped objects outlive the namespace: leave none behind for other tests.
    kubectl::kubectl_ok(&["delete", "ccl", &ccl_name, "--wait=false"]);
}

/// The Photon image's name, read back from the cluster (for messages that name it).
fn photon_name_for(ns: &str) -> String {
    let images = get_json(&["get", "vmi", "-n", ns]);
    image_by_display_name(&images, "Photon OS 5.0")
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

fn vmoperator_vmi_id(uuid: &str) -> String {
    vmi_operator::vmi_id::vmi_id(uuid).unwrap()
}
