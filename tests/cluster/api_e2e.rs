//! The API types on the real apiserver: printer columns as `kubectl get vmi` shows them, label
//! selection, `kubectl explain`, and validation the apiserver enforces.

use serde_json::json;
use vmi_test_support::{cluster, kubectl, namespaces};

fn columns(line: &str) -> Vec<String> {
    line.split("  ")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn seed_status(name: &str, version: &str) -> serde_json::Value {
    json!({
        "name": name, "type": "OVF", "firmware": "EFI", "hardwareVersion": 19,
        "capabilities": ["cloud-init", "nvidia-gpu"],
        "osInfo": { "id": "photon64Guest", "type": "Linux", "version": version },
        "productInfo": { "product": "Photon OS", "vendor": "VMware", "version": version, "fullVersion": "5.0.0-20230629" },
        "disks": [{ "name": "vmdisk1", "capacity": "20Gi", "size": "2Gi" }],
        "ovfProperties": [{ "key": "hostname", "type": "string", "default": "photon-vm" }],
        "providerItemID": "e1968c25-dd84-4506-8dc7-9beacb6b688e",
        "providerContentVersion": "1",
        "conditions": [{ "type": "Ready", "status": "True", "reason": "Ready", "message": "", "lastTransitionTime": "2024-01-15T10:00:00Z" }],
    })
}

/// Creates an object with kubectl, then writes its status through the status subresource.
fn create_with_status(
    kind: &str,
    name: &str,
    ns: Option<&str>,
    labels: serde_json::Value,
    status: serde_json::Value,
) {
    let mut meta = json!({ "name": name, "labels": labels });
    if let Some(ns) = ns {
        meta["namespace"] = json!(ns);
    }
    let obj = json!({ "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": kind, "metadata": meta,
        "spec": { "providerRef": { "apiVersion": "imageregistry.vmware.com/v1alpha1", "kind": "ContentLibraryItem", "name": "photon-os-item" } } });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), obj.to_string()).unwrap();
    kubectl::kubectl_ok(&["create", "-f", file.path().to_str().unwrap()]);
    let plural = if kind == "VirtualMachineImage" {
        "vmi"
    } else {
        "cvmi"
    };
    let patch = json!({ "status": status }).to_string();
    let mut args = vec![
        "patch",
        plural,
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ];
    if let Some(ns) = ns {
        args.extend(["-n", ns]);
    }
    kubectl::kubectl_ok(&args);
}

#[tokio::test]
async fn kubectl_shows_images_as_the_vm_operator_page_does() {
    let client = cluster::client().await;
    cluster::install_crds(&client).await;
    let ns = namespaces::test_namespace(&client, "api").await;

    let labels = json!({
        "os.image.vmoperator.vmware.com/type": "Linux",
        "os.image.vmoperator.vmware.com/version": "5.0",
        "capability.image.vmoperator.vmware.com/cloud-init": "",
        "capability.image.vmoperator.vmware.com/nvidia-gpu": "",
    });
    create_with_status(
        "VirtualMachineImage",
        "vmi-0a0044d7c690bcbea",
        Some(&ns),
        labels,
        seed_status("Photon OS 5.0", "5.0"),
    );
    create_with_status(
        "VirtualMachineImage",
        "vmi-1234567890abcdef",
        Some(&ns),
        json!({ "os.image.vmoperator.vmware.com/type": "Windows" }),
        {
            let mut s = seed_status("Ubuntu 22.04 LTS", "22.04");
            s["capabilities"] = json!([]);
            s
        },
    );
    let cvmi_name = format!("vmi-{}", &ns[ns.len() - 8..]);
    create_with_status(
        "ClusterVirtualMachineImage",
        &cvmi_name,
        None,
        json!({}),
        seed_status("Photon OS 5.0", "5.0"),
    );

    // `kubectl get vmi`: the page's columns, then CAPABILITIES.
    let out = kubectl::kubectl_ok(&["get", "vmi", "-n", &ns]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        columns(lines[0]),
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
    assert_eq!(
        columns(lines[1]),
        [
            "vmi-0a0044d7c690bcbea",
            "Photon OS 5.0",
            "OVF",
            "5.0",
            "Linux",
            "5.0",
            "19",
            r#"["cloud-init","nvidia-gpu"]"#
        ]
    );
    assert_eq!(
        columns(lines[2])[..7],
        [
            "vmi-1234567890abcdef",
            "Ubuntu 22.04 LTS",
            "OVF",
            "22.04",
            "Linux",
            "22.04",
            "19"
        ]
    );

    // `kubectl get cvmi` (and its other short names).
    for short in ["cvmi", "clustervmi", "cvmimage", "clustervmimage"] {
        let out = kubectl::kubectl_ok(&["get", short, &cvmi_name]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            columns(lines[0]),
            [
                "NAME",
                "DISPLAY NAME",
                "TYPE",
                "IMAGE VERSION",
                "OS NAME",
                "OS VERSION",
                "HARDWARE VERSION"
            ]
        );
        assert_eq!(
            columns(lines[1]),
            [
                cvmi_name.as_str(),
                "Photon OS 5.0",
                "OVF",
                "5.0",
                "Linux",
                "5.0",
                "19"
            ]
        );
    }

    // `-o wide` adds READY; the troubleshooting recipes of the page work.
    let wide = kubectl::kubectl_ok(&["get", "vmi", "-n", &ns, "-o", "wide"]);
    assert!(
        columns(wide.lines().next().unwrap()).contains(&"READY".to_string()),
        "{wide}"
    );
    let custom = kubectl::kubectl_ok(&[
        "get",
        "vmi",
        "-n",
        &ns,
        "-o",
        "custom-columns=NAME:.metadata.name,DISPLAY:.status.name",
    ]);
    assert!(
        custom.contains("vmi-0a0044d7c690bcbea   Photon OS 5.0"),
        "{custom}"
    );
    let caps = kubectl::kubectl_ok(&[
        "get",
        "vmi",
        "vmi-0a0044d7c690bcbea",
        "-n",
        &ns,
        "-o",
        "jsonpath={.status.capabilities}",
    ]);
    assert_eq!(caps, r#"["cloud-init","nvidia-gpu"]"#);
    let conditions = kubectl::kubectl_ok(&[
        "get",
        "vmi",
        "vmi-0a0044d7c690bcbea",
        "-n",
        &ns,
        "-o",
        "jsonpath={.status.conditions[0].type}={.status.conditions[0].status}",
    ]);
    assert_eq!(conditions, "Ready=True");
    let describe = kubectl::kubectl_ok(&["describe", "vmi", "vmi-0a0044d7c690bcbea", "-n", &ns]);
    assert!(
        describe.contains("photon64Guest") && describe.contains("5.0.0-20230629"),
        "{describe}"
    );

    // Labels select.
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
    assert_eq!(
        linux.trim(),
        "virtualmachineimage.vmoperator.vmware.com/vmi-0a0044d7c690bcbea"
    );
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
        "virtualmachineimage.vmoperator.vmware.com/vmi-0a0044d7c690bcbea"
    );

    // Descriptions reach `kubectl explain`.
    let explain = kubectl::kubectl_ok(&["explain", "vmi.status.osInfo"]);
    assert!(explain.contains("vSphere guest OS identifier"), "{explain}");
    let explain = kubectl::kubectl_ok(&["explain", "cvmi.spec.providerRef"]);
    assert!(
        explain.contains("Kind of the referenced object"),
        "{explain}"
    );

    // The apiserver refuses what the schema forbids: VMware's enums (firmware and image type
    // are free strings there, and here too).
    let bad = json!({ "status": { "disks": [{ "name": "vmdisk1", "controllerType": "FLOPPY" }] } })
        .to_string();
    let err = kubectl::kubectl_err(&[
        "patch",
        "vmi",
        "vmi-0a0044d7c690bcbea",
        "-n",
        &ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &bad,
    ]);
    assert!(
        err.contains("Unsupported value") && err.contains("FLOPPY"),
        "{err}"
    );
    let lowercase = json!({ "status": { "firmware": "efi" } }).to_string();
    kubectl::kubectl_ok(&[
        "patch",
        "vmi",
        "vmi-0a0044d7c690bcbea",
        "-n",
        &ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &lowercase,
    ]);

    // A content library item's UUID cannot change.
    let item = json!({ "apiVersion": "imageregistry.vmware.com/v1alpha2", "kind": "ContentLibraryItem",
        "metadata": { "name": "clitem-0a0044d7c690bcbea", "namespace": ns }, "spec": { "id": "e1968c25-dd84-4506-8dc7-9beacb6b688e", "libraryName": "images" } });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), item.to_string()).unwrap();
    kubectl::kubectl_ok(&["create", "-f", file.path().to_str().unwrap()]);
    let change = json!({ "spec": { "id": "11111111-2222-3333-4444-555555555555" } }).to_string();
    let err = kubectl::kubectl_err(&[
        "patch",
        "clitem",
        "clitem-0a0044d7c690bcbea",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        &change,
    ]);
    assert!(err.contains("id is immutable"), "{err}");
    // A required field is required.
    let no_uuid = json!({ "apiVersion": "imageregistry.vmware.com/v1alpha2", "kind": "ContentLibrary",
        "metadata": { "name": "no-uuid", "namespace": ns }, "spec": {} });
    std::fs::write(file.path(), no_uuid.to_string()).unwrap();
    let err = kubectl::kubectl_err(&["create", "-f", file.path().to_str().unwrap()]);
    assert!(err.contains("spec.id: Required value"), "{err}");

    kubectl::kubectl_ok(&["delete", "cvmi", &cvmi_name, "--wait=false"]);
}
