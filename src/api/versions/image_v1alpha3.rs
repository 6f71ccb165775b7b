//! The image status of v1alpha3 and v1alpha4: v1alpha2's (flattened in), with `type` and `disks`.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::api::ImageType;

/// The status of a v1alpha3/v1alpha4 image.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageStatus {
    /// Every field of a v1alpha2 status.
    #[serde(flatten)]
    pub v1alpha2: super::image_v1alpha2::ImageStatus,
    /// Content type of the image.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ImageType>,
    /// Virtual disks of the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<Disk>,
}

/// A disk of a v1alpha3/v1alpha4 image.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Disk {
    /// Virtual disk capacity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Quantity>,
    /// Estimated populated size of the disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Quantity>,
}
