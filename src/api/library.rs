//! `ContentLibrary` and `ClusterContentLibrary` at the hub version (v1alpha2, VMware's storage
//! version): which libraries to sync.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Condition;

/// Annotation naming a library's published source where the CRD has no `spec.source` (VMware's
/// own CRDs prune it): the URL of a published library's `lib.json`.
pub const ANNOTATION_SOURCE: &str = "vmi-operator.vmware.com/source";

/// A vSphere Content Library whose items become ContentLibraryItems (and VirtualMachineImages)
/// in this namespace.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "imageregistry.vmware.com",
    version = "v1alpha2",
    kind = "ContentLibrary",
    namespaced,
    status = "ContentLibraryStatus",
    shortname = "cl",
    shortname = "lib",
    shortname = "library",
    category = "imageregistry",
    derive = "Default",
    derive = "PartialEq",
    doc = "ContentLibrary is a vSphere Content Library whose items are synced into ContentLibraryItems of its namespace.",
    printcolumn(name = "DisplayName", type_ = "string", json_path = ".status.name"),
    printcolumn(
        name = "AllowPublish",
        type_ = "boolean",
        json_path = ".spec.allowPublish"
    ),
    printcolumn(
        name = "AllowImport",
        type_ = "boolean",
        json_path = ".spec.allowImport"
    ),
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
    /// Identifier of the library in vCenter (or in its published source).
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "id is immutable"}]))]
    pub id: String,
    /// ContentLibrary (a vSphere Content Library) or Inventory (a vCenter folder).
    #[serde(default = "LibraryType::content_library")]
    pub library_type: LibraryType,
    /// How item resources are named.
    #[serde(default = "NamingStrategy::from_item_id")]
    pub resource_naming_strategy: NamingStrategy,
    /// Whether items may be published (written) into the library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_publish: Option<bool>,
    /// Whether items may be imported into the library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_import: Option<bool>,
    /// Whether items may be deleted from the library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_delete: Option<bool>,
    /// Storage class of the library's storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// Where the library is read from. Absent: the vCenter the operator is configured with.
    /// Otherwise the URL of a published library's `lib.json` (https://, http:// or file://), so
    /// images can be served by any web server or bucket without a vCenter. On VMware's CRDs,
    /// which have no such field, the annotation `vmi-operator.vmware.com/source` says the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(https?|file)://"))]
    pub source: Option<String>,
}

/// A vSphere Content Library whose items become ClusterContentLibraryItems (and
/// ClusterVirtualMachineImages) available to every namespace.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "imageregistry.vmware.com",
    version = "v1alpha2",
    kind = "ClusterContentLibrary",
    status = "ContentLibraryStatus",
    shortname = "ccl",
    shortname = "clib",
    shortname = "clibrary",
    category = "imageregistry",
    derive = "Default",
    derive = "PartialEq",
    doc = "ClusterContentLibrary is a vSphere Content Library whose items are synced into ClusterContentLibraryItems available to every namespace.",
    printcolumn(name = "DisplayName", type_ = "string", json_path = ".status.name"),
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
    /// Identifier of the library in vCenter (or in its published source).
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "id is immutable"}]))]
    pub id: String,
    /// ContentLibrary (a vSphere Content Library) or Inventory (a vCenter folder).
    #[serde(default = "LibraryType::content_library")]
    pub library_type: LibraryType,
    /// How item resources are named.
    #[serde(default = "NamingStrategy::from_item_id")]
    pub resource_naming_strategy: NamingStrategy,
    /// Where the library is read from; see ContentLibrary.spec.source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(https?|file)://"))]
    pub source: Option<String>,
}

/// What a library resource stands for.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum LibraryType {
    #[default]
    ContentLibrary,
    Inventory,
}

impl LibraryType {
    fn content_library() -> Self {
        LibraryType::ContentLibrary
    }
}

/// How item resources of a library are named.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum NamingStrategy {
    #[default]
    FromItemID,
    PreferItemSourceID,
}

impl NamingStrategy {
    fn from_item_id() -> Self {
        NamingStrategy::FromItemID
    }
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
    /// Version of the library's metadata in its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// When the library was created in its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub creation_time: Option<String>,
    /// When the library was last modified in its source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_modified_time: Option<String>,
    /// When the operator last listed the library successfully.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_sync_time: Option<String>,
    /// Active or InMaintenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Active", "InMaintenance"]))]
    pub state: Option<String>,
    /// Identifier of the vCenter that holds the library.
    #[serde(
        default,
        rename = "serverGUID",
        skip_serializing_if = "Option::is_none"
    )]
    pub server_guid: Option<String>,
    /// Security policy applied to the library's items.
    #[serde(
        default,
        rename = "securityPolicyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub security_policy_id: Option<String>,
    /// Whether and where the library is published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_info: Option<PublishInfo>,
    /// Where a subscribed library's content comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_info: Option<SubscriptionInfo>,
    /// Where the library's content is stored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub storage_backing: Vec<StorageBacking>,
    /// Number of items in the last successful listing (this project's; VMware's CRD prunes it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_count: Option<i64>,
    /// The `.metadata.generation` the last sync acted on (this project's; VMware's CRD prunes
    /// it, and the Ready condition carries the same).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Current state; `Ready` is False with a reason and message when the last sync failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// Publication of a library.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct PublishInfo {
    /// Whether the library is published.
    pub published: bool,
    /// URL of the published library.
    pub url: String,
}

/// Subscription of a library.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionInfo {
    /// URL of the library subscribed to.
    pub url: String,
    /// Whether the library syncs automatically.
    pub automatic_sync: bool,
    /// Whether content is downloaded only when needed.
    pub on_demand: bool,
}

/// Storage of a library.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct StorageBacking {
    /// Datastore or Other.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["Datastore", "Other"]))]
    pub type_: String,
    /// Datastore of the library, for type Datastore.
    #[serde(
        default,
        rename = "datastoreID",
        skip_serializing_if = "Option::is_none"
    )]
    pub datastore_id: Option<String>,
}
