//! The image spec of v1alpha2..v1alpha5, and the status of v1alpha2.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::{
    Condition, Firmware, KeyValuePair, OsInfo, OvfProperty, ProductInfo, ProviderRef,
};

/// The spec of a v1alpha2..v1alpha5 image.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    /// Reference to the resource that holds the source of the image's information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<ProviderRef>,
}

/// The status of a v1alpha2 image.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageStatus {
    /// Display name of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Firmware the image boots with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<Firmware>,
    /// VMware virtual hardware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_version: Option<i32>,
    /// Capabilities of the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub capabilities: Vec<String>,
    /// Operating system of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_info: Option<OsInfo>,
    /// Product metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_info: Option<ProductInfo>,
    /// User-configurable OVF properties.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ovf_properties: Vec<OvfProperty>,
    /// VMware system properties.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vmware_system_properties: Vec<KeyValuePair>,
    /// Provider-specific identifier of the item.
    #[serde(
        default,
        rename = "providerItemID",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_item_id: Option<String>,
    /// Content version of the item at the provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_content_version: Option<String>,
    /// Current state of the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
