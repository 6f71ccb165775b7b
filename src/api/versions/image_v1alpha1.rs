//! VirtualMachineImage and ClusterVirtualMachineImage v1alpha1: the first API, whose spec held
//! what later versions report in the status.

use std::collections::BTreeMap;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CapiCondition;
use crate::api::{Firmware, ProductInfo};

macro_rules! v1alpha1_spec {
    ($(#[$kube:meta])* $spec:ident) => {
        /// The spec of a v1alpha1 image.
        #[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
        $(#[$kube])*
        #[serde(rename_all = "camelCase")]
        pub struct $spec {
            /// Type of the image: ovf.
            #[serde(rename = "type")]
            pub type_: String,
            /// Source type of the image: Content Library.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub image_source_type: Option<String>,
            /// Unique identifier of the image (its vSphere id).
            #[serde(rename = "imageID")]
            pub image_id: String,
            /// Product metadata.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub product_info: Option<ProductInfo>,
            /// Operating system of the image.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub os_info: Option<OsInfo>,
            /// User-configurable OVF properties by key.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub ovf_env: Option<BTreeMap<String, OvfProperty>>,
            /// Virtual hardware version.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub hw_version: Option<i32>,
            /// Reference to the resource the image's information comes from.
            pub provider_ref: ProviderRef,
        }
    };
}

v1alpha1_spec!(
    #[kube(
        group = "vmoperator.vmware.com",
        version = "v1alpha1",
        kind = "VirtualMachineImage",
        namespaced,
        status = "ImageStatus",
        printcolumn(
            name = "Display-Name",
            type_ = "string",
            json_path = ".status.imageName"
        ),
        printcolumn(
            name = "Version",
            type_ = "string",
            json_path = ".spec.productInfo.version"
        ),
        printcolumn(name = "Os-Type", type_ = "string", json_path = ".spec.osInfo.type"),
        printcolumn(name = "Format", type_ = "string", json_path = ".spec.type"),
        printcolumn(
            name = "Image-Supported",
            type_ = "boolean",
            json_path = ".status.imageSupported"
        ),
        printcolumn(
            name = "Age",
            type_ = "date",
            json_path = ".metadata.creationTimestamp"
        )
    )]
    VirtualMachineImageSpec
);

v1alpha1_spec!(
    #[kube(
        group = "vmoperator.vmware.com",
        version = "v1alpha1",
        kind = "ClusterVirtualMachineImage",
        status = "ImageStatus",
        printcolumn(
            name = "Display-Name",
            type_ = "string",
            json_path = ".status.imageName"
        ),
        printcolumn(
            name = "Version",
            type_ = "string",
            json_path = ".spec.productInfo.version"
        ),
        printcolumn(name = "Os-Type", type_ = "string", json_path = ".spec.osInfo.type"),
        printcolumn(name = "Format", type_ = "string", json_path = ".spec.type"),
        printcolumn(
            name = "Image-Supported",
            type_ = "boolean",
            json_path = ".status.imageSupported"
        ),
        printcolumn(
            name = "Age",
            type_ = "date",
            json_path = ".metadata.creationTimestamp"
        )
    )]
    ClusterVirtualMachineImageSpec
);

/// Operating system of a v1alpha1 image.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct OsInfo {
    /// OS version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// OS type.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
}

/// A user-configurable OVF property of a v1alpha1 image.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct OvfProperty {
    /// Property key.
    pub key: String,
    /// Property type.
    #[serde(rename = "type")]
    pub type_: String,
    /// Default value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// Reference of a v1alpha1 image to its provider.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProviderRef {
    /// API version of the referenced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// Kind of the referenced object.
    pub kind: String,
    /// Name of the referenced object.
    pub name: String,
    /// Namespace of the referenced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// The library of a v1alpha1 image.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ContentLibraryRef {
    /// API group of the referenced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_group: Option<String>,
    /// Kind of the referenced object.
    pub kind: String,
    /// Name of the referenced object.
    pub name: String,
}

/// The status of a v1alpha1 image.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageStatus {
    /// Deprecated: the vSphere UUID of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uuid: Option<String>,
    /// Deprecated: the managed object id of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_id: Option<String>,
    /// Deprecated: the power state of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub power_state: Option<String>,
    /// Display name of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// Whether the image can be deployed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_supported: Option<bool>,
    /// Library of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub content_library_ref: Option<ContentLibraryRef>,
    /// Content version of the image at its provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_version: Option<String>,
    /// Firmware the image boots with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<Firmware>,
    /// Current state of the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<CapiCondition>,
}
