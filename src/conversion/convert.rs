//! [`convert`]: any served version of the six kinds to any other, through the hub.

use serde_json::Value;

use super::error::ConversionError;
use super::json::{self, Result};
use super::kind::Kind;
use super::{images, lossless, registry};

const KINDS: [&Kind; 6] = [
    &images::VIRTUAL_MACHINE_IMAGE,
    &images::CLUSTER_VIRTUAL_MACHINE_IMAGE,
    &registry::CONTENT_LIBRARY,
    &registry::CLUSTER_CONTENT_LIBRARY,
    &registry::CONTENT_LIBRARY_ITEM,
    &registry::CLUSTER_CONTENT_LIBRARY_ITEM,
];

/// Converts `object` (any served version of the six kinds) to `desired_api_version` of its
/// group. `metadata` is kept, except the conversion annotation, which is added or consumed so
/// that nothing is lost. The same version returns the input unchanged.
pub fn convert(object: &Value, desired_api_version: &str) -> Result<Value> {
    let root = json::as_obj(object, "")?;
    let api_version = json::string(root, "apiVersion", "")?
        .ok_or_else(|| ConversionError::MalformedObject("apiVersion is missing".into()))?;
    let kind_name = json::string(root, "kind", "")?
        .ok_or_else(|| ConversionError::MalformedObject("kind is missing".into()))?;
    let unknown = || ConversionError::UnknownKind {
        api_version: api_version.into(),
        kind: kind_name.into(),
    };
    let (group, version) = api_version.split_once('/').ok_or_else(unknown)?;
    let kind = KINDS
        .into_iter()
        .find(|k| k.group == group && k.kind == kind_name)
        .ok_or_else(unknown)?;
    let unsupported = |api_version: &str| ConversionError::UnsupportedVersion {
        kind: kind.kind.into(),
        api_version: api_version.into(),
    };
    if !kind.serves(version) {
        return Err(unsupported(api_version));
    }
    let desired = match desired_api_version.split_once('/') {
        Some((g, v)) if g == group && kind.serves(v) => v,
        _ => return Err(unsupported(desired_api_version)),
    };
    if desired == version {
        return Ok(object.clone());
    }
    let hub = match kind.spoke(version) {
        Some(spoke) => lossless::to_hub(object, kind, spoke)?,
        None => object.clone(),
    };
    match kind.spoke(desired) {
        Some(spoke) => lossless::from_hub(&hub, kind, spoke),
        None => Ok(hub),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::conversion::{IMAGE_REGISTRY_KEY, VM_OPERATOR_KEY};

    #[test]
    fn same_version_is_unchanged() {
        let o = json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachineImage",
            "metadata": {"name": "a", "annotations": {VM_OPERATOR_KEY: "junk"}}});
        assert_eq!(convert(&o, "vmoperator.vmware.com/v1alpha3"), Ok(o));
    }

    #[test]
    fn errors_have_stable_reasons() {
        let o = json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachine"});
        let e = convert(&o, "vmoperator.vmware.com/v1alpha6").expect_err("not converted here");
        assert_eq!(e.reason(), "UnknownKind");

        let o =
            json!({"apiVersion": "vmoperator.vmware.com/v1alpha7", "kind": "VirtualMachineImage"});
        let e = convert(&o, "vmoperator.vmware.com/v1alpha6").expect_err("not served");
        assert_eq!(e.reason(), "UnsupportedVersion");

        let o =
            json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachineImage"});
        let e = convert(&o, "imageregistry.vmware.com/v1alpha2").expect_err("other group");
        assert_eq!(e.reason(), "UnsupportedVersion");

        let e = convert(&json!([1]), "imageregistry.vmware.com/v1alpha2").expect_err("no object");
        assert_eq!(e.reason(), "MalformedObject");

        let o = json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachineImage",
            "status": {"disks": "many"}});
        let e = convert(&o, "vmoperator.vmware.com/v1alpha6").expect_err("disks not a list");
        assert_eq!(e.reason(), "MalformedObject");

        let o = json!({"apiVersion": "imageregistry.vmware.com/v1alpha1", "kind": "ContentLibrary",
            "metadata": {"annotations": {IMAGE_REGISTRY_KEY: "{not json"}},
            "spec": {"uuid": "u", "writable": true}});
        let e = convert(&o, "imageregistry.vmware.com/v1alpha2").expect_err("bad data");
        assert_eq!(e.reason(), "MalformedConversionData");
    }

    #[test]
    fn spoke_to_spoke_goes_through_the_hub() {
        let o = json!({"apiVersion": "vmoperator.vmware.com/v1alpha3", "kind": "VirtualMachineImage",
            "metadata": {"name": "a"},
            "status": {"disks": [{"capacity": "10Gi", "size": "1Gi"}], "type": "OVF"}});
        let v5 = convert(&o, "vmoperator.vmware.com/v1alpha5").expect("converts");
        assert_eq!(
            v5["status"]["disks"],
            json!([{"name": "disk-0", "capacity": "10Gi", "size": "1Gi"}])
        );
        assert_eq!(convert(&v5, "vmoperator.vmware.com/v1alpha3"), Ok(o));
    }
}
