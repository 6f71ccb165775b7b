//! The operator against a vCenter: vcsim on loopback over TLS with its own CA, a library filled
//! with govc, a ContentLibrary that names it by UUID only (the operator's configured vCenter).
//! Additions, changes and removals in vCenter show up as items and images.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use vmi_test_support::{cluster, kubectl, library, operator, repo_root, vcsim::Vcsim, wait, yaml};

const WAIT: Duration = Duration::from_secs(90);

fn list(args: &[&str]) -> Vec<Value> {
    let mut full = args.to_vec();
    full.extend(["-o", "json"]);
    let v: Value = serde_json::from_str(&kubectl::kubectl_ok(&full)).unwrap();
    v["items"].as_array().cloned().unwrap_or_default()
}

fn ready(obj: &Value) -> bool {
    obj["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// A folder with `name.ovf` (the given descriptor) and a small placeholder for the disk it names.
fn template(dir: &Path, name: &str, descriptor: &str, disk: &str) -> String {
    std::fs::write(dir.join(format!("{name}.ovf")), descriptor).unwrap();
    std::fs::write(dir.join(disk), vec![0u8; 4096]).unwrap();
    dir.join(format!("{name}.ovf"))
        .to_string_lossy()
        .into_owned()
}

#[tokio::test]
async fn a_vcenter_library_becomes_items_and_images() {
    let _alone = operator::one_operator_test();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let sim = Vcsim::start();
    let library_id = sim.create_library("images");
    let work = tempfile::tempdir().unwrap();
    let seed = std::fs::read_to_string(repo_root().join("tests/data/photon-5.0.ovf")).unwrap();
    let photon = template(work.path(), "Photon OS 5.0", &seed, "photon-disk1.vmdk");
    sim.govc(&["library.import", "images", &photon]);
    let ova = library::fixture("extra/ttylinux-pc_i486-16.1.ova");
    sim.govc(&["library.import", "images", ova.to_str().unwrap()]);

    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "vcsim").await;
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("username"), sim.var("VMI_VCSIM_USERNAME")).unwrap();
    std::fs::write(
        creds.path().join("password"),
        format!("{}\n", sim.var("VMI_VCSIM_PASSWORD")),
    )
    .unwrap();

    yaml::apply_yaml(&client, &ns, &format!(
        "apiVersion: imageregistry.vmware.com/v1alpha2\nkind: ContentLibrary\nmetadata: {{ name: vcenter, namespace: {ns} }}\nspec: {{ id: \"{library_id}\" }}\n"
    )).await;
    let mut operator = operator::OperatorProcess::start(
        &format!("vcsim-{ns}"),
        &kubeconfig,
        &[
            "--disable-webhook",
            "--sync-interval",
            "2s",
            "--vcenter-url",
            sim.var("VMI_VCSIM_URL"),
            "--vcenter-credentials-dir",
            creds.path().to_str().unwrap(),
            "--ca-bundle",
            sim.var("VMI_VCSIM_CA"),
        ],
    );
    operator.wait_ready().await;

    wait::wait_until(WAIT, "2 Ready images from vCenter", || {
        let ns = ns.clone();
        async move {
            let images = list(&["get", "vmi", "-n", &ns]);
            images.len() == 2 && images.iter().all(ready)
        }
    })
    .await;
    let images = list(&["get", "vmi", "-n", &ns]);
    let photon_image = images
        .iter()
        .find(|i| i["status"]["name"] == "Photon OS 5.0")
        .expect("the Photon image");
    assert_eq!(photon_image["status"]["osInfo"]["id"], "photon64Guest");
    assert_eq!(photon_image["status"]["hardwareVersion"], 19);
    assert_eq!(photon_image["status"]["firmware"], "EFI");
    let library = &list(&["get", "cl", "-n", &ns])[0];
    assert_eq!(library["status"]["name"], "images");
    assert_eq!(library["status"]["itemCount"], 2);
    let items = list(&["get", "clitem", "-n", &ns]);
    let photon_item = items
        .iter()
        .find(|i| i["status"]["name"] == "Photon OS 5.0")
        .unwrap();
    let first_version = photon_item["status"]["contentVersion"]
        .as_str()
        .unwrap()
        .to_string();
    let photon_name = photon_image["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string();

    // A new version of the template in vCenter updates the image.
    let newer = template(
        work.path(),
        "Photon OS 5.0",
        &seed.replace("<Version>5.0</Version>", "<Version>5.1</Version>"),
        "photon-disk1.vmdk",
    );
    sim.govc(&["library.import", "images/Photon OS 5.0", &newer]);
    wait::wait_until(WAIT, "the image follows the new version", || {
        let (ns, photon_name) = (ns.clone(), photon_name.clone());
        async move {
            let image: Value = serde_json::from_str(&kubectl::kubectl_ok(&[
                "get",
                "vmi",
                &photon_name,
                "-n",
                &ns,
                "-o",
                "json",
            ]))
            .unwrap();
            image["status"]["productInfo"]["version"] == "5.1"
        }
    })
    .await;
    let items = list(&["get", "clitem", "-n", &ns]);
    let photon_item = items
        .iter()
        .find(|i| i["status"]["name"] == "Photon OS 5.0")
        .unwrap();
    assert_ne!(
        photon_item["status"]["contentVersion"].as_str().unwrap(),
        first_version
    );

    // An item removed from vCenter goes, with its image.
    sim.govc(&["library.rm", "images/ttylinux-pc_i486-16.1"]);
    wait::wait_until(WAIT, "the removed item and its image are gone", || {
        let ns = ns.clone();
        async move {
            list(&["get", "vmi", "-n", &ns]).len() == 1
                && list(&["get", "clitem", "-n", &ns]).len() == 1
        }
    })
    .await;

    // The password never reaches the log.
    let password = sim.var("VMI_VCSIM_PASSWORD").to_string();
    let status = operator.terminate();
    assert!(status.success());
    assert!(
        !operator.logs().contains(&password),
        "the vCenter password appears in the operator log"
    );
}
