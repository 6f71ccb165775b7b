//! `ContentLibraryItem` and `ClusterContentLibraryItem`: the items of a synced library.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Condition;

/// An item of a ContentLibrary, kept in step with the library by the sync controller.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "imageregistry.vmware.com",
    version = "v1alpha1",
    kind = "ContentLibraryItem",
    namespaced,
    status = "ContentLibraryItemStatus",
    shortname = "clitem",
    category = "imageregistry",
    derive = "Default",
    derive = "PartialEq",
    doc = "ContentLibraryItem is an item (an OVF template or an ISO) of a ContentLibrary.",
    printcolumn(name = "vSphere Name", type_ = "string", json_path = ".status.name"),
    printcolumn(
        name = "Content Library",
        type_ = "string",
        json_path = ".status.contentLibraryRef.name"
    ),
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Ready')].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ContentLibraryItemSpec {
    /// UUID of the item in vSphere.
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "uuid is immutable"}]))]
    pub uuid: String,
}

/// An item of a ClusterContentLibrary, kept in step with the library by the sync controller.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "imageregistry.vmware.com",
    version = "v1alpha1",
    kind = "ClusterContentLibraryItem",
    status = "ContentLibraryItemStatus",
    shortname = "cclitem",
    category = "imageregistry",
    derive = "Default",
    derive = "PartialEq",
    doc = "ClusterContentLibraryItem is an item (an OVF template or an ISO) of a ClusterContentLibrary.",
    printcolumn(name = "vSphere Name", type_ = "string", json_path = ".status.name"),
    printcolumn(
        name = "Content Library",
        type_ = "string",
        json_path = ".status.contentLibraryRef.name"
    ),
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Ready')].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterContentLibraryItemSpec {
    /// UUID of the item in vSphere.
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "uuid is immutable"}]))]
    pub uuid: String,
}

/// Type of a content library item.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ContentLibraryItemType {
    Ovf,
    Iso,
}

/// The library an item belongs to.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ContentLibraryRef {
    /// Name of the ContentLibrary or ClusterContentLibrary resource.
    pub name: String,
    /// Namespace of the ContentLibrary; empty for a ClusterContentLibrary.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// One file of an item.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    /// File name, e.g. photon.ovf.
    pub name: String,
    /// Size in bytes.
    #[serde(default)]
    pub size: i64,
    /// Whether the file's content is held by the library.
    #[serde(default)]
    pub cached: bool,
}

/// What the last sync saw of an item.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContentLibraryItemStatus {
    /// Name of the item in its library; becomes the image's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The library the item belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_library_ref: Option<ContentLibraryRef>,
    /// Description of the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Version of the item's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata_version: Option<String>,
    /// Version of the item's content; changes when its files change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_version: Option<String>,
    /// Ovf or Iso.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ContentLibraryItemType>,
    /// Total size of the item's files in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// Whether the item's files are held by the library.
    #[serde(default)]
    pub cached: bool,
    /// Whether the item can be used.
    #[serde(default)]
    pub ready: bool,
    /// False when the item failed a security check of its source (e.g. an OVA manifest digest
    /// mismatch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_compliance: Option<bool>,
    /// Files of the item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_info: Vec<FileInfo>,
    /// When the item was created in its library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// When the item was last modified in its library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<String>,
    /// When the operator last saw the item in a listing of its library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<String>,
    /// Current state of the item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
