//! Real vendor templates: for each, the row `kubectl get vmi` prints and the labels the image
//! gets. The row is the VirtualMachineImage CRD's printer columns (as generated from the Rust
//! types) evaluated against the status `vmi-operator inspect` prints, which is the OVF part of
//! the status the operator writes (the operator's Display Name is the item's name instead of
//! the OVF's).
//!
//! Descriptors: the real ones in the shared corpus (`../shared/fixtures/ovf`, see its
//! SOURCES.md; VMI_FIXTURES overrides) and the same vendor templates rebuilt for the other
//! releases the seed names (`tests/data/vendor`, see its SOURCES.md). Without the corpus the
//! shared rows fail under CI (`CI=true`) and are skipped, loudly, elsewhere.

use std::path::{Path, PathBuf};

use kube::CustomResourceExt;
use serde_json::Value;
use vmi_operator::api::{VirtualMachineImage, VirtualMachineImageStatus};
use vmi_operator::ovf::parse_envelope;
use vmi_test_support::{library, repo_root};

/// Where a descriptor is.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// Relative to the shared corpus.
    Shared(&'static str),
    /// Relative to tests/data/vendor.
    Rebuilt(&'static str),
}

struct Case {
    from: Source,
    /// DISPLAY NAME, TYPE, IMAGE VERSION, OS NAME, OS VERSION, HARDWARE VERSION, CAPABILITIES.
    row: [&'static str; 7],
    /// Every label but `app.kubernetes.io/managed-by`, as `key=value`, sorted.
    labels: Vec<String>,
}

const HEADER: [&str; 7] = [
    "DISPLAY NAME",
    "TYPE",
    "IMAGE VERSION",
    "OS NAME",
    "OS VERSION",
    "HARDWARE VERSION",
    "CAPABILITIES",
];

/// The labels of an OVF image with this guest id, family and OS version (`""`: no label).
fn labels(id: &str, family: &str, version: &str) -> Vec<String> {
    let mut l = vec!["image.vmoperator.vmware.com/type=OVF".to_string()];
    for (key, value) in [("id", id), ("type", family), ("version", version)] {
        if !value.is_empty() {
            l.push(format!("os.image.vmoperator.vmware.com/{key}={value}"));
        }
    }
    l.sort();
    l
}

fn cases() -> Vec<Case> {
    use Source::{Rebuilt, Shared};
    let photon = |from, v: &'static str, row| Case {
        from,
        row,
        labels: labels("vmwarePhoton64Guest", "Linux", v),
    };
    let other = |from, row, labels| Case { from, row, labels };
    let ubuntu = |from, v: &'static str, row| Case {
        from,
        row,
        labels: labels("ubuntu64Guest", "Linux", v),
    };
    vec![
        // Photon OS: VMware's own descriptor (5) and the same template for 3 and 4.
        photon(
            Shared("govmomi/ovf/fixtures/photon5.ovf"),
            "5.0",
            ["Photon OS", "OVF", "5.0", "Linux", "5.0", "15", "<none>"],
        ),
        photon(
            Rebuilt("photon4.ovf"),
            "4.0",
            ["Photon OS", "OVF", "4.0", "Linux", "4.0", "15", "<none>"],
        ),
        photon(
            Rebuilt("photon3.ovf"),
            "3.0",
            ["Photon OS", "OVF", "3.0", "Linux", "3.0", "15", "<none>"],
        ),
        // Ubuntu: Canonical's cloud-image descriptor (24.10) and the same template for the
        // other releases; the version is only in the product name.
        ubuntu(
            Shared("govmomi/ovf/fixtures/ubuntu24.10.ovf"),
            "24.10",
            [
                "ubuntu-oracular-24.10-cloudimg-20241109",
                "OVF",
                "24.10",
                "Linux",
                "24.10",
                "10",
                "<none>",
            ],
        ),
        ubuntu(
            Rebuilt("ubuntu24.04.ovf"),
            "24.04",
            [
                "ubuntu-noble-24.04-cloudimg-20241004",
                "OVF",
                "24.04",
                "Linux",
                "24.04",
                "10",
                "<none>",
            ],
        ),
        ubuntu(
            Rebuilt("ubuntu22.10.ovf"),
            "22.10",
            [
                "ubuntu-kinetic-22.10-cloudimg-20230716",
                "OVF",
                "22.10",
                "Linux",
                "22.10",
                "10",
                "<none>",
            ],
        ),
        ubuntu(
            Rebuilt("ubuntu22.04.ovf"),
            "22.04",
            [
                "ubuntu-jammy-22.04-cloudimg-20241002",
                "OVF",
                "22.04",
                "Linux",
                "22.04",
                "10",
                "<none>",
            ],
        ),
        ubuntu(
            Rebuilt("ubuntu20.04.ovf"),
            "20.04",
            [
                "ubuntu-focal-20.04-cloudimg-20240821",
                "OVF",
                "20.04",
                "Linux",
                "20.04",
                "10",
                "<none>",
            ],
        ),
        // Other real vendor templates of the corpus, as they are.
        other(
            Shared("govmomi/ovf/fixtures/ttylinux.ovf"),
            [
                "ttylinux-pc_i486-16.1",
                "OVF",
                "<none>",
                "Linux",
                "<none>",
                "9",
                "<none>",
            ],
            labels("otherLinuxGuest", "Linux", ""),
        ),
        other(
            Shared("govmomi/vapi/library/testdata/ttylinux-pc_i486-16.1.ova"),
            [
                "ttylinux-pc_i486-16.1",
                "OVF",
                "<none>",
                "Linux",
                "<none>",
                "9",
                "<none>",
            ],
            labels("otherLinuxGuest", "Linux", ""),
        ),
        other(
            Shared("extra/ttylinux-pc_i486-16.1.ova"),
            [
                "ttylinux-pc_i486-16.1",
                "OVF",
                "v1",
                "Linux",
                "<none>",
                "9",
                "<none>",
            ],
            labels("otherLinuxGuest", "Linux", ""),
        ),
        other(
            Shared("extra/virtualbox-4.3-ovf2.0-export-vbox-machine.ovf"),
            [
                "ubuntu", "OVF", "<none>", "Linux", "<none>", "<none>", "<none>",
            ],
            labels("ubuntu64Guest", "Linux", ""),
        ),
        // VMware appliances: the product is the appliance, not its OS, so the OS version is
        // only what the OperatingSystemSection says.
        other(
            Shared(VCSA),
            [
                "VMware-vCenter-Server-Appliance",
                "OVF",
                "9.1.0.0",
                "Linux",
                "1",
                "17",
                "<none>",
            ],
            labels("other3xLinux64Guest", "Linux", "1"),
        ),
        other(
            Shared("govmomi/ovf/fixtures/vmware/nsx-unified-appliance-9.1.0.0.25262063.ovf"),
            [
                "nsx-unified-appliance",
                "OVF",
                "9.1.0.0",
                "Linux",
                "16.04",
                "13",
                "<none>",
            ],
            labels("ubuntu64Guest", "Linux", "16.04"),
        ),
        other(
            Shared("govmomi/ovf/fixtures/vmware/O11N_VA-9.1.0.0.25262048.ovf"),
            [
                "VMware VCF Operations orchestrator",
                "OVF",
                "9.1.0.0.25262048",
                "Linux",
                "<none>",
                "13",
                "<none>",
            ],
            labels("vmwarePhoton64Guest", "Linux", ""),
        ),
        other(
            Shared("govmomi/ovf/fixtures/vmware/Vcf-License-Server-9.1.0.0.25262073.ovf"),
            VCF_LICENSE,
            labels("vmwarePhoton64Guest", "Linux", ""),
        ),
        other(
            Shared("extra/Vcf-License-Server-9.1.0.0.25262073.ova"),
            VCF_LICENSE,
            labels("vmwarePhoton64Guest", "Linux", ""),
        ),
        other(
            Shared("govmomi/ovf/fixtures/vmware/Operations-Cloud-Proxy-9.1.0.0.25262086.ovf"),
            [
                "VMware_Aria_Operations_Cloud_Proxy",
                "OVF",
                "9.1.0.0",
                "Linux",
                "1",
                "11",
                "<none>",
            ],
            labels("other3xLinux64Guest", "Linux", "1"),
        ),
        other(
            Shared("govmomi/ovf/fixtures/vmware/Operations-Appliance-9.1.0.0.25262067.ovf"),
            [
                "vRealize_Operations_Appliance",
                "OVF",
                "9.1.0.0.25262067",
                "Linux",
                "1",
                "11",
                "<none>",
            ],
            labels("other3xLinux64Guest", "Linux", "1"),
        ),
        other(
            Shared("govmomi/ovf/fixtures/vmware/esxvmovf-25262174.ovf"),
            [
                "esxvm-sb-62272164-rZ0",
                "OVF",
                "<none>",
                "Other",
                "8",
                "20",
                "<none>",
            ],
            labels("vmkernel8Guest", "Other", "8"),
        ),
    ]
}

const VCSA: &str =
    "govmomi/ovf/fixtures/vmware/VMware-vCenter-Server-Appliance-9.1.0.0.25262036_OVF10.ovf";
const VCF_LICENSE: [&str; 7] = [
    "VCF License Server Appliance",
    "OVF",
    "9.1.0.0",
    "Linux",
    "<none>",
    "13",
    "<none>",
];

/// The shared corpus, or `None` (after saying so) when it is missing outside CI.
fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("VMI_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(library::fixtures_dir);
    if dir.join("SOURCES.md").is_file() {
        return Some(dir);
    }
    let message = format!(
        "OVF fixture corpus missing at {} (clone the shared repository beside this one, or set \
         VMI_FIXTURES)",
        dir.display()
    );
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}");
    eprintln!("SKIPPING the shared vendor templates: {message}");
    None
}

fn descriptor(from: Source, shared: Option<&Path>) -> Option<Vec<u8>> {
    let path = match from {
        Source::Shared(rel) => shared?.join(rel),
        Source::Rebuilt(rel) => repo_root().join("tests/data/vendor").join(rel),
    };
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if path.extension().is_some_and(|e| e == "ova") {
        return Some(
            vmi_operator::ovf::ova::read_ova(&bytes[..])
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .bytes,
        );
    }
    Some(bytes)
}

/// The `status` `vmi-operator inspect` prints for a descriptor.
fn inspect(bytes: &[u8], what: &str) -> Value {
    let doc =
        vmi_operator::cli::inspect_document(bytes, None).unwrap_or_else(|e| panic!("{what}: {e}"));
    doc["status"].clone()
}

/// The default `kubectl get` columns of the VirtualMachineImage CRD: (header, jsonPath).
fn columns() -> Vec<(String, String)> {
    let crd = VirtualMachineImage::crd();
    let version = &crd.spec.versions[0];
    version
        .additional_printer_columns
        .as_deref()
        .unwrap_or_default()
        .iter()
        .filter(|c| c.priority.unwrap_or(0) == 0 && c.type_ != "date")
        .map(|c| (c.name.to_uppercase(), c.json_path.clone()))
        .collect()
}

/// A printer column's cell as kubectl shows it: strings as they are, numbers as Go prints
/// them, lists and maps as compact JSON, `<none>` when the path finds nothing.
fn cell(object: &Value, json_path: &str) -> String {
    let path = json_path
        .strip_prefix('.')
        .filter(|p| {
            p.split('.')
                .all(|s| !s.is_empty() && !s.contains(['[', '?', '@']))
        })
        .unwrap_or_else(|| panic!("not a simple JSON path, teach cell() {json_path}"));
    let mut v = object;
    for key in path.split('.') {
        match v.get(key) {
            Some(next) => v = next,
            None => return "<none>".into(),
        }
    }
    match v {
        Value::Null => "<none>".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn row(status: &Value) -> Vec<String> {
    let object = serde_json::json!({ "status": status });
    columns().iter().map(|(_, p)| cell(&object, p)).collect()
}

fn label_list(status: &Value) -> Vec<String> {
    let status: VirtualMachineImageStatus = serde_json::from_value(status.clone()).unwrap();
    vmi_operator::image::desired::image_labels(&status)
        .into_iter()
        .filter(|(k, _)| k != "app.kubernetes.io/managed-by")
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

#[test]
fn the_printer_columns_are_the_ones_the_table_checks() {
    let headers: Vec<String> = columns().into_iter().map(|(h, _)| h).collect();
    assert_eq!(headers, HEADER);
}

#[test]
fn vendor_templates_give_the_seed_s_rows_and_labels() {
    let shared = shared();
    let mut failures = Vec::new();
    let mut table = vec![HEADER.join(" | ")];
    for case in cases() {
        let what = format!("{:?}", case.from);
        let Some(bytes) = descriptor(case.from, shared.as_deref()) else {
            continue;
        };
        let status = inspect(&bytes, &what);
        let got_row = row(&status);
        let got_labels = label_list(&status);
        table.push(format!("{} | {what}", got_row.join(" | ")));
        if got_row != case.row {
            failures.push(format!(
                "{what}: row\n  got  {got_row:?}\n  want {:?}",
                case.row
            ));
        }
        if got_labels != case.labels {
            failures.push(format!(
                "{what}: labels\n  got  {got_labels:?}\n  want {:?}",
                case.labels
            ));
        }
    }
    println!("{}", table.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Inference only fills what a descriptor leaves empty: over the whole corpus, a stated OS
/// version and a stated product version are always the ones reported.
#[test]
fn what_a_descriptor_states_always_wins() {
    let Some(root) = shared() else { return };
    let (mut checked, mut os_inferred, mut product_inferred) = (0, 0, 0);
    let mut failures = Vec::new();
    for rel in corpus(&root) {
        let bytes = std::fs::read(root.join(&rel)).unwrap();
        let (Ok(env), Ok(doc)) = (
            parse_envelope(&bytes),
            vmi_operator::cli::inspect_document(&bytes, None),
        ) else {
            continue;
        };
        checked += 1;
        let status = &doc["status"];
        let os_version = status["osInfo"]["version"].as_str().unwrap_or("");
        let stated_os = env
            .virtual_system
            .operating_system
            .as_ref()
            .and_then(|o| o.version.as_deref())
            .map(str::trim)
            .unwrap_or("");
        if !stated_os.is_empty() && stated_os != os_version {
            failures.push(format!(
                "{rel}: OS version {stated_os:?} reported as {os_version:?}"
            ));
        }
        if stated_os.is_empty() && !os_version.is_empty() {
            os_inferred += 1;
        }
        let product = status["productInfo"]["product"].as_str().unwrap_or("");
        let version = status["productInfo"]["version"].as_str().unwrap_or("");
        let sections = &env.virtual_system.products;
        let stated = sections
            .iter()
            .find(|s| s.product == product && !s.version.trim().is_empty())
            .map(|s| s.version.trim());
        match stated {
            Some(s) if s != version => {
                failures.push(format!(
                    "{rel}: product version {s:?} reported as {version:?}"
                ));
            }
            None if !version.is_empty() => product_inferred += 1,
            _ => {}
        }
    }
    println!(
        "{checked} descriptors: OS version inferred for {os_inferred}, product version for \
         {product_inferred}"
    );
    assert!(checked > 500, "only {checked} descriptors parsed");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

fn corpus(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "ovf") {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut files = Vec::new();
    walk(root, root, &mut files);
    files.sort();
    files
}

/// Canonical writes `ovf:populatedSize="0"`; the size shown is the vmdk's `ovf:size`
/// (595,726,336 bytes), an estimate.
#[test]
fn canonical_cloud_images_get_a_disk_size_estimate() {
    let shared = shared();
    for case in cases() {
        let (Source::Shared(name) | Source::Rebuilt(name)) = case.from;
        if !name.contains("ubuntu") || name.contains("virtualbox") {
            continue;
        }
        let Some(bytes) = descriptor(case.from, shared.as_deref()) else {
            continue;
        };
        let status = inspect(&bytes, name);
        assert_eq!(
            status["disks"],
            serde_json::json!([{
                "name": "vmdisk1", "requested": "10Gi", "limit": "10Gi",
                "controllerType": "SCSI", "controllerBusNumber": 0, "unitNumber": 0,
                "capacity": "10Gi", "size": "581764Ki"
            }]),
            "{name}"
        );
    }
}
