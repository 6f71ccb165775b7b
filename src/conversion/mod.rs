//! The conversion core of a CRD conversion webhook: every version VMware serves of
//! VirtualMachineImage/ClusterVirtualMachineImage (v1alpha1..v1alpha6, hub v1alpha6) and of
//! ContentLibrary/ClusterContentLibrary/ContentLibraryItem/ClusterContentLibraryItem
//! (v1alpha1..v1alpha2, hub v1alpha2), to any other, through the hub, by VMware's own conversion
//! rules (vm-operator `api/v1alpha*/virtualmachineimage_conversion.go`, image-registry-operator-api
//! `api/v1alpha1/*_conversion.go`).
//!
//! Objects are JSON (`serde_json::Value`): what reaches a conversion webhook is valid under its
//! version's schema, so JSON rules per version suffice, and this module does not depend on the
//! operator's API types. Conversions are lossless both ways ([`lossless`]): hub -> spoke -> hub
//! and spoke -> hub -> spoke give back the input exactly.

mod annotation;
mod conditions;
mod images;
mod images_v1alpha1;
mod json;
mod lossless;
mod registry;
mod review;

use serde_json::Value;

pub use annotation::{CONTENT_LIB_REF_KEY, IMAGE_REGISTRY_KEY, VM_OPERATOR_KEY};
pub use review::review;

use json::Result;

/// Why an object could not be converted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConversionError {
    #[error("kind {kind} of {api_version} is not converted here")]
    UnknownKind { api_version: String, kind: String },
    #[error("{kind} is not served at {api_version}")]
    UnsupportedVersion { kind: String, api_version: String },
    #[error("malformed object: {0}")]
    MalformedObject(String),
    #[error("malformed conversion data in annotation {key}: {message}")]
    MalformedConversionData { key: &'static str, message: String },
    #[error("malformed ConversionReview: {0}")]
    MalformedReview(String),
}

impl ConversionError {
    /// A stable reason string, for logs, metrics and review responses.
    pub fn reason(&self) -> &'static str {
        match self {
            ConversionError::UnknownKind { .. } => "UnknownKind",
            ConversionError::UnsupportedVersion { .. } => "UnsupportedVersion",
            ConversionError::MalformedObject(_) => "MalformedObject",
            ConversionError::MalformedConversionData { .. } => "MalformedConversionData",
            ConversionError::MalformedReview(_) => "MalformedReview",
        }
    }
}

/// A spoke-to-hub or hub-to-spoke mapping of whole objects (the spoke's version given), without
/// the conversion annotation.
type Mapping = fn(&Value, &Kind, &'static str) -> Result<Value>;

/// A served version other than the hub.
pub(crate) struct Spoke {
    pub version: &'static str,
    /// Spoke to hub (VMware's `ConvertTo`).
    pub up: Mapping,
    /// Hub to spoke (VMware's `ConvertFrom`).
    pub down: Mapping,
}

/// How a spoke edited since its down-conversion is merged with the hub kept in its annotation.
pub(crate) enum Restore {
    /// VMware's `// BEGIN RESTORE` rules: these hub fields from the annotation, into the hub the
    /// spoke maps to.
    Fields(fn(&mut json::Map, &json::Map)),
    /// VMware's image conversions keep nothing: the spoke's changes (the hub it maps to against
    /// the hub the unedited spoke maps to) are applied to the kept hub as a merge patch.
    MergeEdits,
}

/// A kind converted here.
pub(crate) struct Kind {
    pub group: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub hub: &'static str,
    pub spokes: &'static [Spoke],
    pub annotation: &'static str,
    pub restore: Restore,
}

impl Kind {
    pub fn api_version(&self, version: &str) -> String {
        format!("{}/{version}", self.group)
    }

    fn spoke(&self, version: &str) -> Option<&Spoke> {
        self.spokes.iter().find(|s| s.version == version)
    }

    fn serves(&self, version: &str) -> bool {
        version == self.hub || self.spoke(version).is_some()
    }
}

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
        assert_eq!(v5["status"]["disks"], json!([{"name": "disk-0"}]));
        assert_eq!(convert(&v5, "vmoperator.vmware.com/v1alpha3"), Ok(o));
    }
}
