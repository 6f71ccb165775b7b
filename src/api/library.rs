//! `ContentLibrary` and `ClusterContentLibrary`: which libraries to sync.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Condition;

/// A vSphere Content Library whose items become ContentLibraryItems (and VirtualMachineImages)
/// in this namespace.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "imageregistry.vmware.com",
    version = "v1alpha1",
    kind = "ContentLibrary",
    namespaced,
    status = "ContentLibraryStatus",
    shortname = "cl",
    category = "imageregistry",
    derive = "Default",
    derive = "PartialEq",
    doc = "ContentLibrary is a vSphere Content Library whose items are synced into ContentLibraryItems of its namespace.",
    printcolumn(name = "vSphere Name", type_ = "string", json_path = ".status.name"),
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(name = "Items", type_ = "integer", json_path = ".status.itemCount"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Ready')].status"
    ),
    printcolumn(name = "Last Sync", type_ = "date", json_path = ".status.lastSyncTime"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ContentLibrarySpec {
    /// UUID of the library in vCenter (or in its published source).
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "uuid is immutable"}]))]
    pub uuid: String,
    /// Whether the library can be written to (publishing VMs into it).
    #[serde(default)]
    pub writable: bool,
    /// Where the library is read from. Absent: the vCenter the operator is configured with.
    /// Otherwise the URL of a published library's `lib.json` (https://, http:// or file://), so
    /// images can be served by any web server or bucket without a vCenter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(https?|file)://"))]
    pub source: Option<String>,
}

/// A vSphere Content Library whose items become ClusterContentLibraryItems (and
/// ClusterVirtualMachineImages) available to every namespace.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "imageregistry.vmware.com",
    version = "v1alpha1",
    kind = "ClusterContentLibrary",
    status = "ContentLibraryStatus",
    shortname = "ccl",
    category = "imageregistry",
    derive = "Default",
    derive = "PartialEq",
    doc = "ClusterContentLibrary is a vSphere Content Library whose items are synced into ClusterContentLibraryItems available to every namespace.",
    printcolumn(name = "vSphere Name", type_ = "string", json_path = ".status.name"),
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(name = "Items", type_ = "integer", json_path = ".status.itemCount"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Ready')].status"
    ),
    printcolumn(name = "Last Sync", type_ = "date", json_path = ".status.lastSyncTime"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterContentLibrarySpec {
    /// UUID of the library in vCenter (or in its published source).
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "uuid is immutable"}]))]
    pub uuid: String,
    /// Whether the library can be written to.
    #[serde(default)]
    pub writable: bool,
    /// Where the library is read from; see ContentLibrary.spec.source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(https?|file)://"))]
    pub source: Option<String>,
}

/// Kind of a content library.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ContentLibraryType {
    Local,
    Subscribed,
}

/// What the last sync saw of a library.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContentLibraryStatus {
    /// Name of the library in its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description of the library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Local or Subscribed.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ContentLibraryType>,
    /// Version of the library's metadata in its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When the library was created in its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_time: Option<String>,
    /// When the library was last modified in its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_time: Option<String>,
    /// When the operator last listed the library successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync_time: Option<String>,
    /// Number of items in the last successful listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_count: Option<i64>,
    /// The `.metadata.generation` the last sync acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Current state; `Ready` is False with a reason and message when the last sync failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}
