//! ContentLibrary, ClusterContentLibrary and their items at v1alpha1: `spec.uuid`, Cluster API
//! conditions, UPPER_CASE enums, and the item's library in `status.contentLibraryRef`. This
//! project's v1alpha1 libraries also had `spec.source` and `status.itemCount`, kept here.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::CapiCondition;

/// A v1alpha1 ContentLibrary.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "imageregistry.vmware.com",
    version = "v1alpha1",
    kind = "ContentLibrary",
    namespaced,
    status = "LibraryStatus",
    printcolumn(name = "vSphereName", type_ = "string", json_path = ".status.name"),
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(name = "Writable", type_ = "boolean", json_path = ".spec.writable"),
    printcolumn(
        name = "AllowImport",
        type_ = "boolean",
        json_path = ".spec.allowImport"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ContentLibrarySpec {
    /// UUID of the library in vCenter.
    pub uuid: String,
    /// Whether the library can be written to.
    pub writable: bool,
    /// Whether remote content may be imported into the library.
    #[serde(default)]
    pub allow_import: bool,
    /// How item resources are named.
    #[serde(default = "from_item_id")]
    #[schemars(extend("enum" = ["FROM_ITEM_ID", "PREFER_ITEM_SOURCE_ID"]))]
    pub resource_naming_strategy: String,
    /// Where the library is read from (this project's): the URL of a published library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(https?|file)://"))]
    pub source: Option<String>,
}

/// A v1alpha1 ClusterContentLibrary.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "imageregistry.vmware.com",
    version = "v1alpha1",
    kind = "ClusterContentLibrary",
    status = "LibraryStatus",
    printcolumn(name = "vSphereName", type_ = "string", json_path = ".status.name"),
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterContentLibrarySpec {
    /// UUID of the library in vCenter.
    pub uuid: String,
    /// How item resources are named.
    #[serde(default = "from_item_id")]
    #[schemars(extend("enum" = ["FROM_ITEM_ID", "PREFER_ITEM_SOURCE_ID"]))]
    pub resource_naming_strategy: String,
    /// Where the library is read from (this project's): the URL of a published library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^(https?|file)://"))]
    pub source: Option<String>,
}

fn from_item_id() -> String {
    "FROM_ITEM_ID".into()
}

/// Publication of a v1alpha1 library.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct PublishInfo {
    /// Whether the library is published.
    pub published: bool,
    /// URL of the published library.
    #[serde(rename = "URL")]
    pub url: String,
}

/// Subscription of a v1alpha1 library.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionInfo {
    /// URL of the library subscribed to.
    #[serde(rename = "URL")]
    pub url: String,
    /// Whether the library syncs automatically.
    pub automatic_sync: bool,
    /// Whether content is downloaded only when needed.
    pub on_demand: bool,
}

/// Storage of a v1alpha1 library.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct StorageBacking {
    /// Datastore or Other.
    #[serde(rename = "type")]
    #[schemars(extend("enum" = ["Datastore", "Other"]))]
    pub type_: String,
    /// Datastore of the library.
    #[serde(
        default,
        rename = "datastoreID",
        skip_serializing_if = "Option::is_none"
    )]
    pub datastore_id: Option<String>,
}

/// The status of a v1alpha1 library.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LibraryStatus {
    /// Name of the library in vSphere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description of the library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Local or Subscribed.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Local", "Subscribed"]))]
    pub type_: Option<String>,
    /// Version of the library's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Where the library's content is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_backing: Option<StorageBacking>,
    /// Whether and where the library is published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_info: Option<PublishInfo>,
    /// Where a subscribed library's content comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription_info: Option<SubscriptionInfo>,
    /// Security policy applied to the library's items.
    #[serde(
        default,
        rename = "securityPolicyID",
        skip_serializing_if = "Option::is_none"
    )]
    pub security_policy_id: Option<String>,
    /// Identifier of the vCenter that holds the library.
    #[serde(
        default,
        rename = "serverGUID",
        skip_serializing_if = "Option::is_none"
    )]
    pub server_guid: Option<String>,
    /// Active or InMaintenance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["Active", "InMaintenance"]))]
    pub state: Option<String>,
    /// When the library was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub creation_time: Option<String>,
    /// When the library was last modified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_modified_time: Option<String>,
    /// When the library was last synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_sync_time: Option<String>,
    /// Number of items in the last successful listing (this project's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_count: Option<i64>,
    /// The `.metadata.generation` the last sync acted on (this project's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Current state of the library.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<CapiCondition>,
}

/// A v1alpha1 ContentLibraryItem.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "imageregistry.vmware.com",
    version = "v1alpha1",
    kind = "ContentLibraryItem",
    namespaced,
    status = "ItemStatus",
    printcolumn(name = "vSphereName", type_ = "string", json_path = ".status.name"),
    printcolumn(
        name = "ContentLibraryRef",
        type_ = "string",
        json_path = ".status.contentLibraryRef.name"
    ),
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Ready')].status"
    ),
    printcolumn(name = "Cached", type_ = "boolean", json_path = ".status.cached"),
    printcolumn(
        name = "SizeInBytes",
        type_ = "string",
        json_path = ".status.sizeInBytes"
    ),
    printcolumn(
        name = "SecurityCompliant",
        type_ = "boolean",
        json_path = ".status.securityCompliance"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
pub struct ContentLibraryItemSpec {
    /// UUID of the item in vSphere.
    pub uuid: String,
}

/// A v1alpha1 ClusterContentLibraryItem.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "imageregistry.vmware.com",
    version = "v1alpha1",
    kind = "ClusterContentLibraryItem",
    status = "ItemStatus",
    printcolumn(name = "vSphereName", type_ = "string", json_path = ".status.name"),
    printcolumn(
        name = "ClusterContentLibraryRef",
        type_ = "string",
        json_path = ".status.contentLibraryRef.name"
    ),
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Ready')].status"
    ),
    printcolumn(name = "Cached", type_ = "boolean", json_path = ".status.cached"),
    printcolumn(
        name = "SizeInBytes",
        type_ = "string",
        json_path = ".status.sizeInBytes"
    ),
    printcolumn(
        name = "SecurityCompliant",
        type_ = "boolean",
        json_path = ".status.securityCompliance"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
pub struct ClusterContentLibraryItemSpec {
    /// UUID of the item in vSphere.
    pub uuid: String,
}

/// The library of a v1alpha1 item.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub struct ContentLibraryRef {
    /// Kind of the library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the library.
    pub name: String,
}

/// One file of a v1alpha1 item.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::api::require(&["cached"]))]
pub struct FileInfo {
    /// File name.
    pub name: String,
    /// Size of the file.
    pub size_in_bytes: Quantity,
    /// Version of the file.
    pub version: String,
    /// Whether the file is held by the library.
    #[serde(default)]
    pub cached: bool,
    /// Where the file is stored.
    #[serde(
        default,
        rename = "storageURI",
        skip_serializing_if = "Option::is_none"
    )]
    pub storage_uri: Option<String>,
}

/// Certificate verification of a v1alpha1 item.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CertificateVerificationInfo {
    /// Certificate chain, PEM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cert_chain: Vec<String>,
    /// Verification status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["NOT_AVAILABLE", "VERIFIED", "INTERNAL", "VERIFICATION_FAILURE", "VERIFICATION_IN_PROGRESS", "UNTRUSTED"]))]
    pub status: Option<String>,
}

/// The status of a v1alpha1 item.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ItemStatus {
    /// Name of the item in vSphere.
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
    /// Version of the item's content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_version: Option<String>,
    /// OVF or ISO.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["OVF", "ISO"]))]
    pub type_: Option<String>,
    /// Total size of the item's files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_in_bytes: Option<Quantity>,
    /// Whether the item's files are held by the library.
    #[serde(default)]
    pub cached: bool,
    /// Whether the item passed the security checks of its library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_compliance: Option<bool>,
    /// Certificate verification of a signed item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_verification_info: Option<CertificateVerificationInfo>,
    /// Files of the item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_info: Vec<FileInfo>,
    /// Identifier of the item's source.
    #[serde(default, rename = "sourceID", skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// When the item was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub creation_time: Option<String>,
    /// When the item was last modified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_modified_time: Option<String>,
    /// When the item was last synced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_sync_time: Option<String>,
    /// Current state of the item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<CapiCondition>,
}
