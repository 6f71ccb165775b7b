//! `VirtualMachineImage` and `ClusterVirtualMachineImage`: one spec and status, two scopes.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Condition;

/// Label: the vSphere guest OS id of the image (`photon64Guest`).
pub const LABEL_OS_ID: &str = "os.image.vmoperator.vmware.com/id";
/// Label: the OS type of the image (`Linux`, `Windows`).
pub const LABEL_OS_TYPE: &str = "os.image.vmoperator.vmware.com/type";
/// Label: the OS version of the image (`5.0`).
pub const LABEL_OS_VERSION: &str = "os.image.vmoperator.vmware.com/version";
/// Label: the content type of the image (`OVF`, `ISO`).
pub const LABEL_IMAGE_TYPE: &str = "image.vmoperator.vmware.com/type";
/// Prefix of the capability labels: `capability.image.vmoperator.vmware.com/cloud-init: ""`.
pub const LABEL_CAPABILITY_PREFIX: &str = "capability.image.vmoperator.vmware.com/";

/// Condition type: the image was prepared for VM Service's first API (OVF ExtraConfig
/// `guestinfo.vmservice.defer-cloud-init=ready`), as VM Operator reports it.
pub const CONDITION_V1ALPHA1_COMPATIBLE: &str = "VirtualMachineImageV1Alpha1Compatible";
/// Condition reason: the image has not been synced from its provider (fetch or parse failed).
pub const REASON_NOT_SYNCED: &str = "VirtualMachineImageNotSynced";
/// Condition reason: the provider item is not ready.
pub const REASON_PROVIDER_NOT_READY: &str = "VirtualMachineImageProviderNotReady";
/// Condition reason: the provider item failed a security check.
pub const REASON_PROVIDER_SECURITY_NOT_COMPLIANT: &str =
    "VirtualMachineImageProviderSecurityNotCompliant";

/// A VM template that VirtualMachines in this namespace can be deployed from.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "vmoperator.vmware.com",
    version = "v1alpha6",
    kind = "VirtualMachineImage",
    namespaced,
    status = "VirtualMachineImageStatus",
    shortname = "vmi",
    shortname = "vmimage",
    category = "vmoperator",
    derive = "Default",
    derive = "PartialEq",
    doc = "VirtualMachineImage is a VM template, usually from a vSphere Content Library item, that VirtualMachines in its namespace can be deployed from.",
    printcolumn(name = "Display Name", type_ = "string", json_path = ".status.name"),
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(
        name = "Image Version",
        type_ = "string",
        json_path = ".status.productInfo.version"
    ),
    printcolumn(name = "OS Name", type_ = "string", json_path = ".status.osInfo.type"),
    printcolumn(
        name = "OS Version",
        type_ = "string",
        json_path = ".status.osInfo.version"
    ),
    printcolumn(
        name = "Hardware Version",
        type_ = "string",
        json_path = ".status.hardwareVersion"
    ),
    printcolumn(
        name = "Capabilities",
        type_ = "string",
        json_path = ".status.capabilities"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Ready')].status",
        priority = "1"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        priority = "1"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineImageSpec {
    /// Reference to the resource that holds the source of the image's information, typically a
    /// ContentLibraryItem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<ProviderRef>,
}

/// A VM template that VirtualMachines in every namespace can be deployed from.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "vmoperator.vmware.com",
    version = "v1alpha6",
    kind = "ClusterVirtualMachineImage",
    status = "VirtualMachineImageStatus",
    shortname = "cvmi",
    shortname = "cvmimage",
    shortname = "clustervmi",
    shortname = "clustervmimage",
    category = "vmoperator",
    derive = "Default",
    derive = "PartialEq",
    doc = "ClusterVirtualMachineImage is a VM template, usually from a vSphere Content Library item, that VirtualMachines in every namespace can be deployed from.",
    printcolumn(name = "Display Name", type_ = "string", json_path = ".status.name"),
    printcolumn(name = "Type", type_ = "string", json_path = ".status.type"),
    printcolumn(
        name = "Image Version",
        type_ = "string",
        json_path = ".status.productInfo.version"
    ),
    printcolumn(name = "OS Name", type_ = "string", json_path = ".status.osInfo.type"),
    printcolumn(
        name = "OS Version",
        type_ = "string",
        json_path = ".status.osInfo.version"
    ),
    printcolumn(
        name = "Hardware Version",
        type_ = "string",
        json_path = ".status.hardwareVersion"
    ),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type=='Ready')].status",
        priority = "1"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp",
        priority = "1"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVirtualMachineImageSpec {
    /// Reference to the resource that holds the source of the image's information, typically a
    /// ClusterContentLibraryItem.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_ref: Option<ProviderRef>,
}

/// Reference to the object an image was made from.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = super::require(&["apiVersion"]))]
pub struct ProviderRef {
    /// API version of the referenced object.
    #[serde(default)]
    pub api_version: String,
    /// Kind of the referenced object (typically ContentLibraryItem).
    pub kind: String,
    /// Name of the referenced object.
    pub name: String,
}

super::lenient_enum! {
    /// Content type of an image: `OVF`, `ISO` or `VM`. VMware's schema has no enum here, so
    /// any other string is kept as written.
    ImageType { Ovf = "OVF", Iso = "ISO", Vm = "VM" }
}

super::lenient_enum! {
    /// Firmware an image boots with, written `BIOS` or `EFI` as the seed shows; VMware's own
    /// controller writes `bios`/`efi`, which read the same.
    Firmware { Bios = "BIOS", Efi = "EFI" }
}

/// Metadata about an image, filled by the image controller from the provider item and the
/// image's OVF descriptor.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VirtualMachineImageStatus {
    /// Display name of the image (the content library item's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Content type: OVF, ISO or VM.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_: Option<ImageType>,
    /// Firmware the image boots with: BIOS or EFI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub firmware: Option<Firmware>,
    /// VMware virtual hardware version (the number of `vmx-19`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_version: Option<i32>,
    /// Capabilities of the image (e.g. cloud-init, nvidia-gpu), from the OVF property
    /// `capabilities.image.vmoperator.vmware.com`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub capabilities: Vec<String>,
    /// Operating system of the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub os_info: Option<OsInfo>,
    /// Product metadata from the OVF ProductSection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_info: Option<ProductInfo>,
    /// Virtual disks of the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub disks: Vec<DiskInfo>,
    /// User-configurable OVF properties.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ovf_properties: Vec<OvfProperty>,
    /// VMware system properties (OVF properties whose key starts with `vmware-system`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vmware_system_properties: Vec<KeyValuePair>,
    /// Provider-specific identifier of the item (the content library item UUID).
    #[serde(
        default,
        rename = "providerItemID",
        skip_serializing_if = "Option::is_none"
    )]
    pub provider_item_id: Option<String>,
    /// Content version of the item at the provider, from which this status was filled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_content_version: Option<String>,
    /// Current state of the image; `Ready` is True when it can be deployed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// Operating system information.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OsInfo {
    /// vSphere guest OS identifier, e.g. photon64Guest.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// OS type, e.g. Linux or Windows.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub type_: String,
    /// OS version, e.g. 5.0: the OVF's OperatingSystemSection version, else the version its
    /// product (when the product is the OS) or the section's description implies.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
}

/// Product metadata.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProductInfo {
    /// General product descriptor.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub product: String,
    /// Organization that produced the image.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub vendor: String,
    /// Short-form version; when the OVF gives none, the release in the product name (`Ubuntu
    /// 24.10 Server` gives 24.10).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    /// Long-form version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub full_version: String,
}

/// A virtual disk of an image.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DiskInfo {
    /// Name of the disk, unique in the image: the OVF disk's `ovf:diskId`.
    pub name: String,
    /// Storage the disk asks for when deployed (its capacity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<Quantity>,
    /// Most storage the disk may use (its capacity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<Quantity>,
    /// Type of the disk's controller, where the OVF says: IDE, NVME, SCSI or SATA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>", extend("enum" = ["IDE", "NVME", "SCSI", "SATA"]))]
    pub controller_type: Option<ControllerType>,
    /// Bus number of the disk's controller, where the OVF says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller_bus_number: Option<i32>,
    /// Unit number of the disk on its controller, where the OVF says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_number: Option<i32>,
    /// Virtual disk capacity (as the seed shows; VMware's v1alpha5+ CRDs prune it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Quantity>,
    /// Populated size of the disk, an estimate: the OVF disk's `populatedSize`, or when that is
    /// 0 or absent the size of the disk's file in the image (a compressed stream-optimized
    /// VMDK, so smaller than the disk's content once deployed). VMware's v1alpha5+ CRDs prune it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Quantity>,
}

/// Type of a disk controller.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "UPPERCASE")]
pub enum ControllerType {
    Ide,
    Nvme,
    Scsi,
    Sata,
}

/// A user-configurable OVF property.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OvfProperty {
    /// Property key: the OVF property's `ovf:key` (the vApp property id), without the
    /// ProductSection's `ovf:class` or `ovf:instance`.
    pub key: String,
    /// Property type with its qualifiers, e.g. `string` or `string(..65)`.
    #[serde(rename = "type")]
    pub type_: String,
    /// Default value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
}

/// A key and value.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KeyValuePair {
    /// The key.
    pub key: String,
    /// The value.
    #[serde(default)]
    pub value: String,
}

impl VirtualMachineImageStatus {
    /// The Ready condition, if any.
    pub fn ready_condition(&self) -> Option<&Condition> {
        self.conditions
            .iter()
            .find(|c| c.type_ == super::CONDITION_READY)
    }

    /// Whether the image can be deployed.
    pub fn is_ready(&self) -> bool {
        self.ready_condition().is_some_and(Condition::is_true)
    }
}
