//! `VirtualMachine`: only what image resolution needs; everything else is preserved.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A virtual machine (VM Operator's resource). vmi-operator reads and mutates only its image
/// reference; every other field is kept as written.
#[derive(CustomResource, Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq)]
#[kube(
    group = "vmoperator.vmware.com",
    version = "v1alpha6",
    kind = "VirtualMachine",
    namespaced,
    shortname = "vm",
    category = "vmoperator",
    derive = "Default",
    derive = "PartialEq",
    doc = "VirtualMachine is a VM Operator virtual machine; this definition carries only the fields image resolution needs and preserves the rest.",
    printcolumn(name = "Image", type_ = "string", json_path = ".spec.image.name"),
    printcolumn(name = "Class", type_ = "string", json_path = ".spec.className"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
#[schemars(extend("x-kubernetes-preserve-unknown-fields" = true))]
pub struct VirtualMachineSpec {
    /// The image to deploy, by kind and name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageRef>,
    /// The image to deploy, by VMI ID or display name; a display name is resolved to the VMI ID
    /// by the admission webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_name: Option<String>,
    /// Name of the VirtualMachineClass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,
    /// Every other field of the VM's spec, preserved.
    #[serde(flatten)]
    #[schemars(skip)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// Reference to a VirtualMachineImage or ClusterVirtualMachineImage.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ImageRef {
    /// VirtualMachineImage or ClusterVirtualMachineImage.
    #[schemars(extend("enum" = ["VirtualMachineImage", "ClusterVirtualMachineImage"]))]
    pub kind: String,
    /// Name of the image (its VMI ID).
    pub name: String,
}
