//! API types: the custom resources vmi-operator serves and reads.
//!
//! `vmoperator.vmware.com/v1alpha5`: [`VirtualMachineImage`], [`ClusterVirtualMachineImage`] and
//! the parts of [`VirtualMachine`] that image resolution needs. `imageregistry.vmware.com/v1alpha1`:
//! [`ContentLibrary`], [`ClusterContentLibrary`], [`ContentLibraryItem`],
//! [`ClusterContentLibraryItem`], shaped like VMware's image-registry API.

// `#[kube(printcolumn(..))]` repeats keys by design; clippy reads them as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

mod condition;
mod image;
mod item;
mod library;
mod vm;

pub use condition::{Condition, ConditionStatus, format_time, now_rfc3339, set_condition};
pub use image::*;
pub use item::*;
pub use library::*;
pub use vm::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// API group of the image and VM resources.
pub const VMOP_GROUP: &str = "vmoperator.vmware.com";
/// API version of the image and VM resources.
pub const VMOP_VERSION: &str = "v1alpha5";
/// API group of the content library resources.
pub const IMAGE_REGISTRY_GROUP: &str = "imageregistry.vmware.com";
/// API version of the content library resources.
pub const IMAGE_REGISTRY_VERSION: &str = "v1alpha1";

/// Every CRD this project defines, in install order.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        ContentLibrary::crd(),
        ClusterContentLibrary::crd(),
        ContentLibraryItem::crd(),
        ClusterContentLibraryItem::crd(),
        VirtualMachineImage::crd(),
        ClusterVirtualMachineImage::crd(),
        VirtualMachine::crd(),
    ]
}

/// The condition type every resource here reports.
pub const CONDITION_READY: &str = "Ready";
