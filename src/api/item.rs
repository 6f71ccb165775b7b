//! `ContentLibraryItem` and `ClusterContentLibraryItem` at the hub version (v1alpha2, VMware's
//! storage version): the items of a synced library.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Condition;

/// An item of a ContentLibrary, kept in step with the library by the sync controller.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "imageregistry.vmware.com",
    version = "v1alpha2",
    kind = "ContentLibraryItem",
    namespaced,
    status = "ContentLibraryItemStatus",
    shortname = "clitem",
    shortname = "libitem",
    category = "imageregistry",
    derive = "Default",
    derive = "PartialEq",
    doc = "ContentLibraryItem is an item (an OVF template or an ISO) of a ContentLibrary.",
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(name = "DisplayName", type_ = "string", json_path = ".status.name"),
    printcolumn(
        name = "LibraryName",
        type_ = "string",
        json_path = ".spec.libraryName"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Ready')].status"
    ),
    printcolumn(name = "Cached", type_ = "boolean", json_path = ".status.cached"),
    printcolumn(name = "Size", type_ = "string", json_path = ".status.sizeInBytes"),
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
#[serde(rename_all = "camelCase")]
pub struct ContentLibraryItemSpec {
    /// Identifier of the item in its library (the vSphere item UUID).
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "id is immutable"}]))]
    pub id: String,
    /// Name of the ContentLibrary resource, in the item's namespace, the item belongs to.
    pub library_name: String,
}

/// An item of a ClusterContentLibrary, kept in step with the library by the sync controller.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "imageregistry.vmware.com",
    version = "v1alpha2",
    kind = "ClusterContentLibraryItem",
    status = "ContentLibraryItemStatus",
    shortname = "cclitem",
    shortname = "clibitem",
    category = "imageregistry",
    derive = "Default",
    derive = "PartialEq",
    doc = "ClusterContentLibraryItem is an item (an OVF template or an ISO) of a ClusterContentLibrary.",
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(name = "DisplayName", type_ = "string", json_path = ".status.name"),
    printcolumn(
        name = "LibraryName",
        type_ = "string",
        json_path = ".spec.libraryName"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Ready')].status"
    ),
    printcolumn(name = "Cached", type_ = "boolean", json_path = ".status.cached"),
    printcolumn(name = "Size", type_ = "string", json_path = ".status.sizeInBytes"),
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
#[serde(rename_all = "camelCase")]
pub struct ClusterContentLibraryItemSpec {
    /// Identifier of the item in its library (the vSphere item UUID).
    #[schemars(extend("x-kubernetes-validations" = [{"rule": "self == oldSelf", "message": "id is immutable"}]))]
    pub id: String,
    /// Name of the ClusterContentLibrary resource the item belongs to.
    pub library_name: String,
}

/// Type of a content library item.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ContentLibraryItemType {
    #[serde(rename = "OVF", alias = "Ovf")]
    Ovf,
    #[serde(rename = "ISO", alias = "Iso")]
    Iso,
    /// A VM template in the vCenter inventory (makes no image here).
    #[serde(rename = "VM")]
    Vm,
}

/// One file of an item.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FileInfo {
    /// File name, e.g. photon.ovf.
    pub name: String,
    /// Size of the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_in_bytes: Option<Quantity>,
    /// Version of the file in its library; changes when the file changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Whether the file's content is held by the library.
    #[serde(default)]
    pub cached: bool,
    /// Where the file is stored, when the library says.
    #[serde(
        default,
        rename = "storageURI",
        skip_serializing_if = "Option::is_none"
    )]
    pub storage_uri: Option<String>,
}

/// Certificate verification of a signed item.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CertificateVerificationInfo {
    /// Certificate chain of the item's signature, PEM.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cert_chain: Vec<String>,
    /// NotAvailable, Verified, Internal, VerificationFailure, VerificationInProgress or Untrusted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = ["NotAvailable", "Verified", "Internal", "VerificationFailure", "VerificationInProgress", "Untrusted"]))]
    pub status: Option<String>,
}

/// What the last sync saw of an item.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContentLibraryItemStatus {
    /// Name of the item in its library; becomes the image's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Description of the item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Version of the item's metadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Version of the item's content; changes when its files change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_version: Option<String>,
    /// OVF, ISO or VM.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ContentLibraryItemType>,
    /// Total size of the item's files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_in_bytes: Option<Quantity>,
    /// Whether the item's files are held by the library.
    #[serde(default)]
    pub cached: bool,
    /// False when the item failed a security check of its source (e.g. an OVA manifest digest
    /// mismatch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_compliance: Option<bool>,
    /// Certificate verification of a signed item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_verification_info: Option<CertificateVerificationInfo>,
    /// Files of the item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_info: Vec<FileInfo>,
    /// Identifier of the item's source, for a subscribed library.
    #[serde(default, rename = "sourceID", skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// When the item was created in its library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub creation_time: Option<String>,
    /// When the item was last modified in its library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_modified_time: Option<String>,
    /// When the operator last took in a change of the item from its library.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub last_sync_time: Option<String>,
    /// Current state of the item; `Ready` is True when it can be used. An atomic list as in
    /// VMware's CRD: each controller applies the other's conditions as it found them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

impl ContentLibraryItemStatus {
    /// Whether the item can be used: its `Ready` condition is True.
    pub fn is_ready(&self) -> bool {
        super::is_ready(&self.conditions)
    }
}
