//! The conversion core of a CRD conversion webhook: every version VMware serves of
//! VirtualMachineImage/ClusterVirtualMachineImage (v1alpha1..v1alpha6, hub v1alpha6) and of
//! ContentLibrary/ClusterContentLibrary/ContentLibraryItem/ClusterContentLibraryItem
//! (v1alpha1..v1alpha2, hub v1alpha2), to any other, through the hub, by VMware's own conversion
//! rules (vm-operator `api/v1alpha*/virtualmachineimage_conversion.go`, image-registry-operator-api
//! `api/v1alpha1/*_conversion.go`).
//!
//! Objects are JSON (`serde_json::Value`): what reaches a conversion webhook is valid under its
//! version's schema, so JSON rules per version suffice, and this module does not depend on the
//! operator's API types. Conversions are lossless both ways (`lossless.rs`): hub -> spoke -> hub
//! and spoke -> hub -> spoke give back the input exactly.

mod annotation;
mod conditions;
mod convert;
mod error;
mod images;
mod images_v1alpha1;
mod json;
mod kind;
mod lossless;
mod registry;
mod review;

pub use annotation::{CONTENT_LIB_REF_KEY, IMAGE_REGISTRY_KEY, VM_OPERATOR_KEY};
pub use convert::convert;
pub use error::ConversionError;
pub use review::review;
