//! VMware's API as VMware serves it. The same suite runs on a control plane of its own twice:
//! once with VMware's own CRDs (`../shared/fixtures/vmware-crds/`, unchanged but for their
//! conversion, pointed at the operator's webhook), once with the project's. On each:
//! - a vCenter library (vcsim) and a published library (named by the source annotation, which
//!   VMware's schema keeps) become Ready images;
//! - an item written as VMware's registry writes it (v1alpha2, type OVF, a Ready condition, a
//!   library by `spec.libraryName`) becomes an image;
//! - every served version lists the same images (and items), and writing an object back at any
//!   version loses nothing of the stored one;
//! - a library the operator cannot use says why, and an item it cannot decode gets a Warning
//!   event without holding the others back.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use vmi_operator::api::{IMAGE_REGISTRY_VERSIONS, VMOP_VERSIONS};
use vmi_operator::vmi_id;
use vmi_test_support::fault::FaultCluster;
use vmi_test_support::webhook::TestPki;
use vmi_test_support::{
    cluster, kubectl, library, namespaces, operator, repo_root, serve, vcsim::Vcsim, wait, yaml,
};

const WAIT: Duration = Duration::from_secs(90);
const PUBLISHED_ID: &str = "6f1a9a46-0c2b-4c1e-9d0a-1f5c3c1e0a77";

/// The CRDs that convert (every one but the VirtualMachine CRD).
const CONVERTED: [&str; 6] = [
    "contentlibraries.imageregistry.vmware.com",
    "clustercontentlibraries.imageregistry.vmware.com",
    "contentlibraryitems.imageregistry.vmware.com",
    "clustercontentlibraryitems.imageregistry.vmware.com",
    "virtualmachineimages.vmoperator.vmware.com",
    "clustervirtualmachineimages.vmoperator.vmware.com",
];

// Multi-threaded: the test serves the published library, which must keep answering while
// `terminate` waits (blocking) for the operator to finish its in-flight sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_vmwares_own_crds() {
    let crds = repo_root().join("../shared/fixtures/vmware-crds");
    assert!(
        crds.join("SOURCES.md").is_file(),
        "VMware's CRDs missing at {}: clone the shared repository beside this one",
        crds.display()
    );
    suite("vmware-crds", Some(&crds)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_the_projects_crds() {
    suite("own-crds", None).await;
}

fn get(args: &[&str]) -> Value {
    let mut full = args.to_vec();
    full.extend(["-o", "json"]);
    serde_json::from_str(&kubectl::kubectl_ok(&full)).unwrap()
}

fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

fn names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = items(list)
        .iter()
        .map(|o| {
            o["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    names.sort();
    names
}

fn ready(obj: &Value) -> bool {
    obj["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// A folder with `name.ovf` (the seed's Photon descriptor under another product name) and a
/// placeholder for its disk; returns the descriptor's path.
fn template(dir: &Path, name: &str) -> String {
    let seed = std::fs::read_to_string(repo_root().join("tests/data/photon-5.0.ovf")).unwrap();
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.ovf")), seed).unwrap();
    std::fs::write(dir.join("photon-disk1.vmdk"), vec![0u8; 4096]).unwrap();
    dir.join(format!("{name}.ovf"))
        .to_string_lossy()
        .into_owned()
}

/// Points the conversion of every converting CRD at the operator's webhook.
fn point_conversion(port: u16, pki: &TestPki) {
    for crd in CONVERTED {
        let patch = json!({ "spec": { "conversion": { "strategy": "Webhook", "webhook": {
            "conversionReviewVersions": ["v1"],
            "clientConfig": { "url": format!("https://127.0.0.1:{port}/convert"), "caBundle": pki.ca_bundle() }
        } } } });
        kubectl::kubectl_ok(&[
            "patch",
            "crd",
            crd,
            "--type=merge",
            "-p",
            &patch.to_string(),
        ]);
    }
}

/// The stored object as the hub shows it, without what the apiserver changes on every write.
fn stable(mut obj: Value) -> Value {
    let meta = obj["metadata"].as_object_mut().unwrap();
    for key in ["resourceVersion", "managedFields", "generation"] {
        meta.remove(key);
    }
    obj
}

async fn suite(name: &str, crds: Option<&Path>) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let _cluster = FaultCluster::start_with_crds(name, crds);
    let client = cluster::client().await;
    let ns = namespaces::test_namespace(&client, "vmware").await;
    let kubeconfig = namespaces::service_account_kubeconfig(
        &client,
        &ns,
        "vmi-operator",
        &operator::operator_rbac_yaml(),
    )
    .await;

    // vCenter: library "images" (synced), library "registry" (its item written by "VMware").
    let sim = Vcsim::start();
    let datastore = sim.var("VMI_VCSIM_DATASTORE").to_string();
    let images_id = sim.govc(&["library.create", "-ds", &datastore, "images"]);
    sim.govc(&["library.create", "-ds", &datastore, "registry"]);
    let work = tempfile::tempdir().unwrap();
    sim.govc(&[
        "library.import",
        "images",
        &template(work.path(), "Photon OS 5.0"),
    ]);
    sim.govc(&[
        "library.import",
        "registry",
        &template(work.path(), "Registry Photon"),
    ]);
    let registry_item: Value =
        serde_json::from_str(&sim.govc(&["library.info", "-json", "registry/Registry Photon"]))
            .unwrap();
    let registry_uuid = registry_item[0]["id"].as_str().unwrap().to_string();
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("username"), sim.var("VMI_VCSIM_USERNAME")).unwrap();
    std::fs::write(creds.path().join("password"), sim.var("VMI_VCSIM_PASSWORD")).unwrap();

    // A published library served on loopback.
    let published = tempfile::tempdir().unwrap();
    std::fs::copy(
        library::fixture("govmomi/ovf/fixtures/photon5.ovf"),
        published.path().join("photon5.ovf"),
    )
    .unwrap();
    library::publish(published.path(), PUBLISHED_ID);
    let url = serve::serve_dir(published.path().to_path_buf()).await;
    let source = url.join("lib.json").unwrap().to_string();

    // An item a VMware component wrote at v1alpha1 while conversion is None (as VMware's CRDs
    // install): its condition status "Maybe" (any string at v1alpha1) is stored as it is at
    // v1alpha2, where the operator cannot read it.
    let odd = vmi_id::item_name("11111111-2222-3333-4444-555555555555").unwrap();
    yaml::apply_yaml(
        &client,
        &ns,
        &format!(
            "apiVersion: imageregistry.vmware.com/v1alpha1\nkind: ContentLibraryItem\n\
             metadata: {{ name: {odd}, namespace: {ns} }}\n\
             spec: {{ uuid: 11111111-2222-3333-4444-555555555555 }}\n"
        ),
    )
    .await;
    let odd_status = json!({ "status": { "contentLibraryRef": { "kind": "ContentLibrary", "name": "vc" },
        "conditions": [{ "type": "Ready", "status": "Maybe", "lastTransitionTime": "2026-01-02T03:04:05Z" }] } });
    kubectl::kubectl_ok(&[
        "patch",
        "contentlibraryitems.v1alpha1.imageregistry.vmware.com",
        &odd,
        "-n",
        &ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &odd_status.to_string(),
    ]);

    // The operator, its webhook (admission and conversion) on loopback.
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = TestPki::generate(pki_dir.path());
    let port = serve::free_port();
    let webhook_addr = format!("127.0.0.1:{port}");
    let mut op = operator::OperatorProcess::start(
        &format!("{name}-{ns}"),
        &kubeconfig,
        &[
            "--sync-interval",
            "2s",
            "--webhook-addr",
            &webhook_addr,
            "--webhook-cert-dir",
            pki_dir.path().to_str().unwrap(),
            "--vcenter-url",
            sim.var("VMI_VCSIM_URL"),
            "--vcenter-credentials-dir",
            creds.path().to_str().unwrap(),
            "--ca-bundle",
            sim.var("VMI_VCSIM_CA"),
        ],
    );
    op.wait_ready().await;
    point_conversion(port, &pki);

    let registry_item_name = vmi_id::item_name(&registry_uuid).unwrap();
    yaml::apply_yaml(
        &client,
        &ns,
        &format!(
            r#"
apiVersion: imageregistry.vmware.com/v1alpha2
kind: ContentLibrary
metadata: {{ name: vc, namespace: {ns} }}
spec: {{ id: "{images_id}" }}
---
apiVersion: imageregistry.vmware.com/v1alpha2
kind: ContentLibrary
metadata:
  name: published
  namespace: {ns}
  annotations: {{ vmi-operator.vmware.com/source: "{source}" }}
spec: {{ id: "{PUBLISHED_ID}" }}
---
apiVersion: imageregistry.vmware.com/v1alpha2
kind: ContentLibrary
metadata:
  name: unusable
  namespace: {ns}
  annotations: {{ vmi-operator.vmware.com/source: "ftp://127.0.0.1/lib.json" }}
spec: {{ id: "{PUBLISHED_ID}" }}
---
apiVersion: imageregistry.vmware.com/v1alpha2
kind: ContentLibraryItem
metadata: {{ name: {registry_item_name}, namespace: {ns} }}
spec: {{ id: "{registry_uuid}", libraryName: vc }}
"#
        ),
    )
    .await;
    // Its status as VMware's registry writes it.
    let status = json!({ "status": {
        "name": "Registry Photon", "type": "OVF", "contentVersion": "2", "version": "1",
        "cached": true, "securityCompliance": true, "sizeInBytes": "8192",
        "fileInfo": [{ "name": "Registry Photon.ovf", "sizeInBytes": "4096", "version": "1", "cached": true }],
        "conditions": [{ "type": "Ready", "status": "True", "reason": "Ready", "message": "",
                         "lastTransitionTime": "2026-01-02T03:04:05Z" }]
    } });
    kubectl::kubectl_ok(&[
        "patch",
        "contentlibraryitems.v1alpha2.imageregistry.vmware.com",
        &registry_item_name,
        "-n",
        &ns,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status.to_string(),
    ]);
    // Three Ready images: vCenter, published, VMware's item.
    let expected: Vec<String> = {
        let mut v = vec![vmi_id::vmi_id(&registry_uuid).unwrap()];
        v.sort();
        v
    };
    wait::wait_until(WAIT, "3 Ready images", || {
        let ns = ns.clone();
        async move {
            let list = get(&[
                "get",
                "virtualmachineimages.v1alpha6.vmoperator.vmware.com",
                "-n",
                &ns,
            ]);
            let images = items(&list);
            images.len() == 3 && images.iter().all(ready)
        }
    })
    .await;
    let hub = get(&[
        "get",
        "virtualmachineimages.v1alpha6.vmoperator.vmware.com",
        "-n",
        &ns,
    ]);
    let displays: Vec<String> = items(&hub)
        .iter()
        .map(|i| i["status"]["name"].as_str().unwrap_or_default().to_string())
        .collect();
    for display in ["Photon OS 5.0", "Registry Photon"] {
        assert!(displays.iter().any(|d| d == display), "{displays:?}");
    }
    assert!(
        names(&hub).contains(&expected[0]),
        "VMware's item made its image"
    );
    for image in items(&hub) {
        let disks = image["status"]["disks"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(!disks.is_empty(), "{image}");
        assert!(
            disks
                .iter()
                .all(|d| d["name"].is_string() && d["requested"].is_string())
        );
    }

    // Every served version lists the same images and items.
    let hub_names = names(&hub);
    for version in VMOP_VERSIONS {
        let list = get(&[
            "get",
            &format!("virtualmachineimages.{version}.vmoperator.vmware.com"),
            "-n",
            &ns,
        ]);
        assert_eq!(names(&list), hub_names, "images at {version}");
        let display = if version == "v1alpha1" {
            "imageName"
        } else {
            "name"
        };
        for image in items(&list) {
            assert!(image["status"][display].is_string(), "{version}: {image}");
        }
    }
    let item_names = names(&get(&[
        "get",
        "contentlibraryitems.v1alpha2.imageregistry.vmware.com",
        "-n",
        &ns,
    ]));
    for version in IMAGE_REGISTRY_VERSIONS {
        let list = get(&[
            "get",
            &format!("contentlibraryitems.{version}.imageregistry.vmware.com"),
            "-n",
            &ns,
        ]);
        assert_eq!(names(&list), item_names, "items at {version}");
    }

    // Written back at any version, an image's stored object (spec and status) is unchanged.
    let image_name = expected[0].clone();
    let hub_of = || {
        stable(get(&[
            "get",
            "virtualmachineimages.v1alpha6.vmoperator.vmware.com",
            &image_name,
            "-n",
            &ns,
        ]))
    };
    let before = hub_of();
    for version in &VMOP_VERSIONS[..5] {
        let spoke = get(&[
            "get",
            &format!("virtualmachineimages.{version}.vmoperator.vmware.com"),
            &image_name,
            "-n",
            &ns,
        ]);
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), spoke.to_string()).unwrap();
        kubectl::kubectl_ok(&["replace", "-f", file.path().to_str().unwrap()]);
        kubectl::kubectl_ok(&[
            "replace",
            "--subresource=status",
            "-f",
            file.path().to_str().unwrap(),
        ]);
        assert_eq!(
            hub_of()["status"],
            before["status"],
            "status written back at {version}"
        );
        assert_eq!(
            hub_of()["spec"],
            before["spec"],
            "spec written back at {version}"
        );
    }
    // The same for the library VMware's item names, at v1alpha1.
    let library_at = |v: &str| {
        stable(get(&[
            "get",
            &format!("contentlibraries.{v}.imageregistry.vmware.com"),
            "vc",
            "-n",
            &ns,
        ]))
    };
    let lib_before = library_at("v1alpha2");
    assert_eq!(
        library_at("v1alpha1")["spec"]["uuid"],
        lib_before["spec"]["id"]
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), library_at("v1alpha1").to_string()).unwrap();
    kubectl::kubectl_ok(&["replace", "-f", file.path().to_str().unwrap()]);
    // Nothing lost; v1alpha1's schema defaults allowImport to false, so a v1alpha1 client writes
    // it, and it is kept.
    let mut expected = lib_before["spec"].clone();
    expected["allowImport"] = json!(false);
    assert_eq!(library_at("v1alpha2")["spec"], expected);

    // A library the operator cannot use says why.
    wait::wait_until(WAIT, "the unusable library says why", || {
        let ns = ns.clone();
        async move {
            let lib = get(&[
                "get",
                "contentlibraries.v1alpha2.imageregistry.vmware.com",
                "unusable",
                "-n",
                &ns,
            ]);
            lib["status"]["conditions"].as_array().is_some_and(|c| {
                c.iter().any(|c| {
                    c["type"] == "Ready"
                        && c["status"] == "False"
                        && c["message"].as_str().is_some_and(|m| m.contains("ftp"))
                })
            })
        }
    })
    .await;
    // The item the operator cannot read has a Warning event, and it held nothing back.
    wait::wait_until(WAIT, "a Warning event on the unreadable item", || {
        let (ns, odd) = (ns.clone(), odd.clone());
        async move {
            let events = get(&[
                "get",
                "events",
                "-n",
                &ns,
                "--field-selector",
                &format!("involvedObject.name={odd}"),
            ]);
            items(&events)
                .iter()
                .any(|e| e["reason"] == "ObjectInvalid" && e["type"] == "Warning")
        }
    })
    .await;
    let log_lines = op
        .logs()
        .lines()
        .filter(|l| l.contains("object cannot be read") && l.contains(&odd))
        .count();
    assert_eq!(log_lines, 1, "logged once per version of the object");
    assert!(op.terminate().success(), "the operator stops cleanly");
}
