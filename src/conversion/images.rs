//! VirtualMachineImage and ClusterVirtualMachineImage (`vmoperator.vmware.com`), hub v1alpha6.
//! v1alpha2..v1alpha5 are field-for-field copies (conversion-gen's `autoConvert_*`) except for
//! `status.disks` and `status.type`; v1alpha1 is in [`super::images_v1alpha1`].
//!
//! Disks: the hub's (VMware's `name`, `limit`, `requested`, controller fields, and the project's
//! `capacity` and `size`) and v1alpha3/v1alpha4's `{capacity, size}`. Down, VMware's rule
//! (`Convert_v1alpha6_VirtualMachineImageDiskInfo_To_v1alpha3_*`): capacity = limit, size =
//! requested; without them, the project's capacity and size. Up, VMware drops both; here they go
//! to the project's `capacity` and `size`, the disk named `disk-<index>` (the hub requires a
//! unique name).

use serde_json::Value;

use super::annotation::VM_OPERATOR_KEY;
use super::images_v1alpha1;
use super::json::{Map, Result, as_obj, copy, header, obj, objs, pick};
use super::kind::{Kind, Restore, Spoke};

const GROUP: &str = "vmoperator.vmware.com";

const SPOKES: [Spoke; 5] = [
    Spoke {
        version: "v1alpha1",
        up: images_v1alpha1::up,
        down: images_v1alpha1::down,
    },
    Spoke {
        version: "v1alpha2",
        up,
        down,
    },
    Spoke {
        version: "v1alpha3",
        up,
        down,
    },
    Spoke {
        version: "v1alpha4",
        up,
        down,
    },
    Spoke {
        version: "v1alpha5",
        up,
        down,
    },
];

pub(crate) const VIRTUAL_MACHINE_IMAGE: Kind = Kind {
    group: GROUP,
    kind: "VirtualMachineImage",
    namespaced: true,
    hub: "v1alpha6",
    spokes: &SPOKES,
    annotation: VM_OPERATOR_KEY,
    restore: Restore::MergeEdits,
};

pub(crate) const CLUSTER_VIRTUAL_MACHINE_IMAGE: Kind = Kind {
    kind: "ClusterVirtualMachineImage",
    namespaced: false,
    ..VIRTUAL_MACHINE_IMAGE
};

/// Status fields every version from v1alpha2 has, the same way.
const STATUS_COMMON: [&str; 11] = [
    "name",
    "capabilities",
    "firmware",
    "hardwareVersion",
    "osInfo",
    "ovfProperties",
    "vmwareSystemProperties",
    "productInfo",
    "providerContentVersion",
    "providerItemID",
    "conditions",
];

/// The disk fields of v1alpha5 and the hub on the project's CRDs: VMware's, and the seed's
/// `capacity` and `size` (VMware's CRDs prune those at both versions).
const DISK_V1ALPHA5: [&str; 8] = [
    "name",
    "limit",
    "requested",
    "controllerType",
    "controllerBusNumber",
    "unitNumber",
    "capacity",
    "size",
];

/// Hub to v1alpha2..v1alpha5.
fn down(hub: &Value, kind: &Kind, version: &'static str) -> Result<Value> {
    let root = as_obj(hub, "")?;
    let mut out = header(root, &kind.api_version(version));
    if let Some(spec) = obj(root, "spec", "")? {
        out.insert("spec".into(), Value::Object(pick(spec, &["providerRef"])));
    }
    if let Some(status) = obj(root, "status", "")? {
        let mut s = pick(status, &STATUS_COMMON);
        // v1alpha2 has neither disks nor type.
        if version != "v1alpha2" {
            copy(status, &mut s, &["type"]);
            if status.contains_key("disks") {
                let disks = objs(status, "disks", "status")?
                    .into_iter()
                    .map(|(d, _)| match version {
                        "v1alpha3" | "v1alpha4" => disk_to_v1alpha3(d),
                        _ => pick(d, &DISK_V1ALPHA5),
                    })
                    .map(Value::Object)
                    .collect();
                s.insert("disks".into(), Value::Array(disks));
            }
        }
        out.insert("status".into(), Value::Object(s));
    }
    Ok(Value::Object(out))
}

/// v1alpha2..v1alpha5 to the hub.
fn up(spoke: &Value, kind: &Kind, version: &'static str) -> Result<Value> {
    let root = as_obj(spoke, "")?;
    let mut out = header(root, &kind.api_version(kind.hub));
    if let Some(spec) = obj(root, "spec", "")? {
        out.insert("spec".into(), Value::Object(pick(spec, &["providerRef"])));
    }
    if let Some(status) = obj(root, "status", "")? {
        let mut s = pick(status, &STATUS_COMMON);
        copy(status, &mut s, &["type"]);
        if status.contains_key("disks") {
            let disks = objs(status, "disks", "status")?
                .into_iter()
                .enumerate()
                .map(|(i, (d, _))| match version {
                    "v1alpha3" | "v1alpha4" => disk_from_v1alpha3(i, d),
                    _ => pick(d, &DISK_V1ALPHA5),
                })
                .map(Value::Object)
                .collect();
            s.insert("disks".into(), Value::Array(disks));
        }
        out.insert("status".into(), Value::Object(s));
    }
    Ok(Value::Object(out))
}

fn disk_to_v1alpha3(disk: &Map) -> Map {
    let mut out = Map::new();
    for (to, vmware, project) in [
        ("capacity", "limit", "capacity"),
        ("size", "requested", "size"),
    ] {
        if let Some(v) = disk.get(vmware).or_else(|| disk.get(project)) {
            out.insert(to.into(), v.clone());
        }
    }
    out
}

fn disk_from_v1alpha3(index: usize, disk: &Map) -> Map {
    let mut out = Map::new();
    out.insert("name".into(), Value::String(format!("disk-{index}")));
    copy(disk, &mut out, &["capacity", "size"]);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::conversion::convert;

    fn hub(status: Value) -> Value {
        json!({"apiVersion": "vmoperator.vmware.com/v1alpha6", "kind": "VirtualMachineImage",
            "metadata": {"name": "img", "namespace": "ns"}, "status": status})
    }

    #[test]
    fn disks_follow_vmware_limit_and_requested_down_to_v1alpha3() {
        let h = hub(json!({"disks": [
            {"name": "d0", "limit": "20Gi", "requested": "2Gi", "controllerType": "SCSI"},
            {"name": "d1", "capacity": "8Gi", "size": 1024}
        ]}));
        for v in ["v1alpha3", "v1alpha4"] {
            let s = convert(&h, &format!("vmoperator.vmware.com/{v}")).expect("converts");
            assert_eq!(
                s["status"]["disks"],
                json!([{"capacity": "20Gi", "size": "2Gi"}, {"capacity": "8Gi", "size": 1024}])
            );
            // Names and controller fields are lost at v1alpha3: kept in the annotation.
            assert!(s["metadata"]["annotations"][VM_OPERATOR_KEY].is_string());
            assert_eq!(convert(&s, "vmoperator.vmware.com/v1alpha6"), Ok(h.clone()));
        }
    }

    #[test]
    fn v1alpha3_disks_keep_capacity_and_size_in_the_hub() {
        let s = json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachineImage",
            "metadata": {"name": "img"}, "status": {"disks": [{"capacity": "8Gi"}, {"size": "1Gi"}]}});
        let h = convert(&s, "vmoperator.vmware.com/v1alpha6").expect("converts");
        assert_eq!(
            h["status"]["disks"],
            json!([{"name": "disk-0", "capacity": "8Gi"}, {"name": "disk-1", "size": "1Gi"}])
        );
        assert!(
            h["metadata"].get("annotations").is_none(),
            "nothing lost: {h}"
        );
        assert_eq!(convert(&h, "vmoperator.vmware.com/v1alpha3"), Ok(s));
    }

    #[test]
    fn v1alpha2_has_no_disks_nor_type() {
        let h = hub(json!({"type": "OVF", "name": "n", "disks": [{"name": "d"}]}));
        let s = convert(&h, "vmoperator.vmware.com/v1alpha2").expect("converts");
        assert_eq!(s["status"], json!({"name": "n"}));
        assert_eq!(s["apiVersion"], "vmoperator.vmware.com/v1alpha2");
        assert_eq!(convert(&s, "vmoperator.vmware.com/v1alpha6"), Ok(h));
    }

    #[test]
    fn project_disk_fields_survive_v1alpha5() {
        let h = hub(
            json!({"disks": [{"name": "d", "limit": "1Gi", "capacity": "2Gi", "size": "1Gi"}]}),
        );
        let s = convert(&h, "vmoperator.vmware.com/v1alpha5").expect("converts");
        // The seed's v1alpha5 shows capacity and size.
        assert_eq!(
            s["status"]["disks"],
            json!([{"name": "d", "limit": "1Gi", "capacity": "2Gi", "size": "1Gi"}])
        );
        assert_eq!(convert(&s, "vmoperator.vmware.com/v1alpha6"), Ok(h));
    }

    #[test]
    fn an_edited_spoke_keeps_the_hub_fields_it_cannot_show() {
        let h = hub(json!({"type": "OVF", "name": "n", "disks": [{"name": "d"}]}));
        let mut s = convert(&h, "vmoperator.vmware.com/v1alpha2").expect("converts");
        s["status"]["name"] = json!("renamed");
        let back = convert(&s, "vmoperator.vmware.com/v1alpha6").expect("converts");
        assert_eq!(
            back["status"],
            json!({"type": "OVF", "name": "renamed", "disks": [{"name": "d"}]})
        );
        assert!(back["metadata"].get("annotations").is_none(), "{back}");
    }
}
