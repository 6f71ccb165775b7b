//! API types: the custom resources vmi-operator serves and reads.
//!
//! The hub versions, which the operator reads and writes: `vmoperator.vmware.com/v1alpha6`
//! [`VirtualMachineImage`], [`ClusterVirtualMachineImage`] and the parts of [`VirtualMachine`]
//! that image resolution needs; `imageregistry.vmware.com/v1alpha2` [`ContentLibrary`],
//! [`ClusterContentLibrary`], [`ContentLibraryItem`], [`ClusterContentLibraryItem`]. The other
//! versions VMware serves are in [`versions`], for the CRDs' schemas.

// `#[kube(printcolumn(..))]` repeats keys by design; clippy reads them as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

mod condition;
mod guard;
mod image;
mod item;
mod lenient;
mod library;
pub mod versions;
mod vm;
mod writable;

pub use condition::{
    Condition, ConditionStatus, format_time, is_ready, now_rfc3339, set_condition,
};
pub use guard::Guarded;
pub use image::*;
pub use item::*;
pub(crate) use lenient::lenient_enum;
pub use library::*;
pub use vm::*;
pub use writable::Writable;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, CustomResourceDefinitionVersion,
};
use kube::CustomResourceExt;

/// API group of the image and VM resources.
pub const VMOP_GROUP: &str = "vmoperator.vmware.com";
/// API version the operator reads and writes images at: the hub, and the storage version, as
/// VMware's (so objects stored by VMware's CRDs read as they are, and the operator's own reads
/// never wait on the conversion webhook it serves).
pub const VMOP_VERSION: &str = "v1alpha6";
/// API group of the content library resources.
pub const IMAGE_REGISTRY_GROUP: &str = "imageregistry.vmware.com";
/// API version the operator reads and writes libraries and items at (hub and storage).
pub const IMAGE_REGISTRY_VERSION: &str = "v1alpha2";
/// The `apiVersion` images name their item by in `spec.providerRef`, as the seed shows (every
/// served version names the same object).
pub const PROVIDER_REF_API_VERSION: &str = "imageregistry.vmware.com/v1alpha1";
/// Every version of the images VMware serves, oldest first.
pub const VMOP_VERSIONS: [&str; 6] = [
    "v1alpha1", "v1alpha2", "v1alpha3", "v1alpha4", "v1alpha5", "v1alpha6",
];
/// Every version of the libraries and items VMware serves, oldest first.
pub const IMAGE_REGISTRY_VERSIONS: [&str; 2] = ["v1alpha1", "v1alpha2"];

/// The names of the CRDs [`crds`] makes (`plural.group`), without generating their schemas.
pub fn crd_names() -> [String; 6] {
    fn name<K: kube::Resource<DynamicType = ()>>() -> String {
        format!("{}.{}", K::plural(&()), K::group(&()))
    }
    [
        name::<ContentLibrary>(),
        name::<ClusterContentLibrary>(),
        name::<ContentLibraryItem>(),
        name::<ClusterContentLibraryItem>(),
        name::<VirtualMachineImage>(),
        name::<ClusterVirtualMachineImage>(),
    ]
}

/// Every CRD this project defines, in install order: every version VMware serves, the hub
/// stored. The VirtualMachine CRD is apart ([`vm_crd`]): clusters with VM Operator have theirs.
pub fn crds() -> Vec<CustomResourceDefinition> {
    use versions::{image_v1alpha1, registry_v1alpha1, v1alpha2, v1alpha3, v1alpha4, v1alpha5};
    vec![
        merge(
            vec![
                registry_v1alpha1::ContentLibrary::crd(),
                ContentLibrary::crd(),
            ],
            IMAGE_REGISTRY_VERSION,
        ),
        merge(
            vec![
                registry_v1alpha1::ClusterContentLibrary::crd(),
                ClusterContentLibrary::crd(),
            ],
            IMAGE_REGISTRY_VERSION,
        ),
        merge(
            vec![
                registry_v1alpha1::ContentLibraryItem::crd(),
                ContentLibraryItem::crd(),
            ],
            IMAGE_REGISTRY_VERSION,
        ),
        merge(
            vec![
                registry_v1alpha1::ClusterContentLibraryItem::crd(),
                ClusterContentLibraryItem::crd(),
            ],
            IMAGE_REGISTRY_VERSION,
        ),
        merge(
            vec![
                image_v1alpha1::VirtualMachineImage::crd(),
                v1alpha2::VirtualMachineImage::crd(),
                v1alpha3::VirtualMachineImage::crd(),
                v1alpha4::VirtualMachineImage::crd(),
                v1alpha5::VirtualMachineImage::crd(),
                VirtualMachineImage::crd(),
            ],
            VMOP_VERSION,
        ),
        merge(
            vec![
                image_v1alpha1::ClusterVirtualMachineImage::crd(),
                v1alpha2::ClusterVirtualMachineImage::crd(),
                v1alpha3::ClusterVirtualMachineImage::crd(),
                v1alpha4::ClusterVirtualMachineImage::crd(),
                v1alpha5::ClusterVirtualMachineImage::crd(),
                ClusterVirtualMachineImage::crd(),
            ],
            VMOP_VERSION,
        ),
    ]
}

/// The VirtualMachine CRD, for clusters without VM Operator (the chart installs it only when
/// asked): every version VMware serves, each preserving every field, for the webhook to resolve
/// images at.
pub fn vm_crd() -> CustomResourceDefinition {
    let mut crd = VirtualMachine::crd();
    let hub = crd.spec.versions[0].clone();
    crd.spec.versions = VMOP_VERSIONS
        .iter()
        .map(|v| CustomResourceDefinitionVersion {
            name: v.to_string(),
            storage: *v == VMOP_VERSION,
            ..hub.clone()
        })
        .collect();
    crd
}

/// One CRD of the single-version CRDs of a kind, `storage` stored, versions oldest first.
fn merge(crds: Vec<CustomResourceDefinition>, storage: &str) -> CustomResourceDefinition {
    let mut crd = kube::core::crd::merge_crds(crds, storage)
        .expect("the versions of a kind share group, kind and scope");
    crd.spec.versions.sort_by(|a, b| a.name.cmp(&b.name));
    crd
}

/// The condition type every resource here reports.
pub const CONDITION_READY: &str = "Ready";

/// A schema transform: `fields` become required, without the `default` that reading them leniently
/// (`#[serde(default)]`) would otherwise put in the schema, as VMware's CRDs declare them.
pub(crate) fn require(fields: &'static [&'static str]) -> impl FnMut(&mut schemars::Schema) {
    move |schema| {
        let Some(object) = schema.as_object_mut() else {
            return;
        };
        if let Some(props) = object.get_mut("properties").and_then(|p| p.as_object_mut()) {
            for field in fields {
                if let Some(p) = props.get_mut(*field).and_then(|p| p.as_object_mut()) {
                    p.remove("default");
                }
            }
        }
        let required = object
            .entry("required")
            .or_insert_with(|| serde_json::Value::Array(vec![]));
        if let Some(list) = required.as_array_mut() {
            for field in fields {
                if !list.iter().any(|f| f == field) {
                    list.push((*field).into());
                }
            }
            list.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn crd_names_are_those_of_the_generated_crds() {
        let generated: Vec<String> = super::crds()
            .into_iter()
            .map(|c| c.metadata.name.unwrap_or_default())
            .collect();
        assert_eq!(super::crd_names().to_vec(), generated);
    }
}
