//! The versions VMware serves besides the hub: their schemas only. The operator reads and writes
//! the hub (images v1alpha6, libraries and items v1alpha2, VMware's storage versions); the
//! conversion webhook (`crate::conversion`) maps these to it. Each type here is VMware's schema
//! at its version, plus the project's additions where the seed or earlier releases of this
//! project put them (`spec.source` and the item count of libraries at v1alpha1, the disks'
//! `capacity`/`size` at v1alpha5).

// `#[kube(printcolumn(..))]` repeats keys by design; clippy reads them as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

mod capi;
pub mod image_v1alpha1;
pub mod image_v1alpha2;
pub mod image_v1alpha3;
pub mod registry_v1alpha1;

pub use capi::CapiCondition;

/// `image_kinds!(module, "version", Spec, Status)`: the VirtualMachineImage and
/// ClusterVirtualMachineImage of one version, in a module of that name, with the columns
/// VMware's v1alpha2+ CRDs print.
macro_rules! image_kinds {
    ($(#[$meta:meta])* $module:ident, $version:tt, $spec:ty, $status:ty) => {
        $(#[$meta])*
        pub mod $module {
            use kube::CustomResource;
            use schemars::JsonSchema;
            use serde::{Deserialize, Serialize};

            #[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
            #[kube(
                group = "vmoperator.vmware.com",
                version = $version,
                kind = "VirtualMachineImage",
                namespaced,
                status = "Status",
                printcolumn(name = "Display Name", type_ = "string", json_path = ".status.name"),
                printcolumn(name = "Image Version", type_ = "string", json_path = ".status.productInfo.version"),
                printcolumn(name = "OS Name", type_ = "string", json_path = ".status.osInfo.type"),
                printcolumn(name = "OS Version", type_ = "string", json_path = ".status.osInfo.version"),
                printcolumn(name = "Hardware Version", type_ = "string", json_path = ".status.hardwareVersion"),
                printcolumn(name = "Capabilities", type_ = "string", json_path = ".status.capabilities")
            )]
            #[serde(transparent)]
            pub struct VirtualMachineImageSpec(pub $spec);

            #[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
            #[kube(
                group = "vmoperator.vmware.com",
                version = $version,
                kind = "ClusterVirtualMachineImage",
                status = "Status",
                printcolumn(name = "Display Name", type_ = "string", json_path = ".status.name"),
                printcolumn(name = "Image Version", type_ = "string", json_path = ".status.productInfo.version"),
                printcolumn(name = "OS Name", type_ = "string", json_path = ".status.osInfo.type"),
                printcolumn(name = "OS Version", type_ = "string", json_path = ".status.osInfo.version"),
                printcolumn(name = "Hardware Version", type_ = "string", json_path = ".status.hardwareVersion")
            )]
            #[serde(transparent)]
            pub struct ClusterVirtualMachineImageSpec(pub $spec);

            pub type Status = $status;
        }
    };
}

image_kinds!(
    /// v1alpha2: no `type` and no `disks` in the status.
    v1alpha2,
    "v1alpha2",
    crate::api::versions::image_v1alpha2::ImageSpec,
    crate::api::versions::image_v1alpha2::ImageStatus
);
image_kinds!(
    /// v1alpha3: `type`, and `disks` as `{capacity, size}`.
    v1alpha3,
    "v1alpha3",
    crate::api::versions::image_v1alpha2::ImageSpec,
    crate::api::versions::image_v1alpha3::ImageStatus
);
image_kinds!(
    /// v1alpha4: as v1alpha3.
    v1alpha4,
    "v1alpha4",
    crate::api::versions::image_v1alpha2::ImageSpec,
    crate::api::versions::image_v1alpha3::ImageStatus
);
image_kinds!(
    /// v1alpha5: as the hub (v1alpha6), whose disks keep the seed's `capacity`/`size`.
    v1alpha5,
    "v1alpha5",
    crate::api::versions::image_v1alpha2::ImageSpec,
    crate::api::VirtualMachineImageStatus
);
