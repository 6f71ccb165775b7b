//! What the parser derives from a descriptor: the fields an image status shows.

/// What an OVF descriptor says about the image it describes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OvfInfo {
    /// The virtual system's `Name`, else its `ovf:id`.
    pub name: Option<String>,
    /// vSphere guest id (`photon64Guest`): `vmw:osType`, else derived from the CIM OS type;
    /// `""` when unknown.
    pub os_id: String,
    /// `OperatingSystemSection` `ovf:id`, the CIM OS type number.
    pub os_cim_id: Option<u32>,
    /// Guest family as vSphere groups guests: `Linux`, `Windows`, `Darwin`, `Solaris`,
    /// `NetWare` or `Other`; `""` when the descriptor names no operating system.
    pub os_type: String,
    /// `OperatingSystemSection` `ovf:version`; when it has none, the version the descriptor
    /// implies: the product's version when the product is the operating system (`Photon OS`
    /// `5.0` on `vmwarePhoton64Guest`), else a release in that product's name (`Ubuntu 24.10
    /// Server (20241109)` gives `24.10`), else the release the section's `Description` names
    /// (`Ubuntu 22.04 LTS` gives `22.04`); `""` when unknown.
    pub os_version: String,
    pub product: OvfProduct,
    /// `EFI` or `BIOS`.
    pub firmware: String,
    /// The highest `vmx-N` in the system type (`vmx-13 vmx-19` gives 19).
    pub hardware_version: Option<u32>,
    pub disks: Vec<OvfDisk>,
    pub ovf_properties: Vec<OvfUserProperty>,
    pub vmware_system_properties: Vec<KeyValue>,
    /// Values of the `capabilities.image.vmoperator.vmware.com` property: split at commas,
    /// trimmed, deduplicated and sorted.
    pub capabilities: Vec<String>,
    /// ExtraConfig `guestinfo.vmservice.defer-cloud-init` is `ready`: the image was prepared for
    /// VM Service's first API (VM Operator's `VirtualMachineImageV1Alpha1Compatible`).
    pub v1alpha1_compatible: bool,
    /// Labels ExtraConfig `vmservice.vmi.labels` asks for (`a.example.com/x:y,z:` gives
    /// `a.example.com/x=y` and `z=`), as VM Operator reads them.
    pub extra_labels: Vec<KeyValue>,
}

/// `ProductSection` product information; empty strings when absent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OvfProduct {
    pub product: String,
    pub vendor: String,
    /// `Version`; when absent, a release in the product's name (`Ubuntu 24.10 Server
    /// (20241109)` gives `24.10`), else, when the product is the operating system, the OS
    /// version the descriptor states.
    pub version: String,
    pub full_version: String,
}

/// One virtual disk of the image.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OvfDisk {
    /// The DiskSection's `ovf:diskId`; for a new, empty disk its item's `ElementName` (or
    /// `disk-N` by position), so every disk has a name unique in the image.
    pub name: String,
    /// The disk's controller, where the descriptor says.
    pub controller: Option<DiskController>,
    /// `rasd:AddressOnParent`: the disk's unit number on its controller.
    pub unit_number: Option<i32>,
    /// `ovf:capacity` × `ovf:capacityAllocationUnits`, in bytes.
    pub capacity_bytes: u64,
    /// `ovf:populatedSize`; when it is 0 (a placeholder: Canonical's cloud images write 0) or
    /// absent, an estimate: the `ovf:size` of the disk's file (compressed, so low). `None` when
    /// neither gives a size above 0.
    pub populated_bytes: Option<u64>,
}

/// The controller a disk hangs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskController {
    pub kind: ControllerKind,
    /// `rasd:Address` of the controller.
    pub bus_number: Option<i32>,
}

/// What kind of controller: by `ResourceType` (5 IDE, 6 SCSI, 20 other: SATA or NVMe by subtype).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ControllerKind {
    Ide,
    Scsi,
    Sata,
    Nvme,
}

/// A user-configurable OVF property, as the descriptor declares it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OvfUserProperty {
    /// The property's `ovf:key` as written, without its section's `ovf:class` or
    /// `ovf:instance` (what vSphere shows as the vApp property id).
    pub key: String,
    pub r#type: String,
    /// The default for the default deployment configuration; `None` when empty.
    pub default: Option<String>,
}

/// A key and its value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

impl OvfInfo {
    /// About how many bytes this holds, inline and on the heap: what a cache of parsed
    /// descriptors is bounded by.
    pub fn approx_bytes(&self) -> usize {
        use std::mem::size_of;
        let s = |s: &String| s.capacity();
        let kv = |p: &KeyValue| size_of::<KeyValue>() + s(&p.key) + s(&p.value);
        size_of::<Self>()
            + self.name.as_ref().map_or(0, s)
            + s(&self.os_id)
            + s(&self.os_type)
            + s(&self.os_version)
            + s(&self.product.product)
            + s(&self.product.vendor)
            + s(&self.product.version)
            + s(&self.product.full_version)
            + s(&self.firmware)
            + self
                .disks
                .iter()
                .map(|d| size_of::<OvfDisk>() + s(&d.name))
                .sum::<usize>()
            + self
                .ovf_properties
                .iter()
                .map(|p| {
                    size_of::<OvfUserProperty>()
                        + s(&p.key)
                        + s(&p.r#type)
                        + p.default.as_ref().map_or(0, s)
                })
                .sum::<usize>()
            + self.vmware_system_properties.iter().map(kv).sum::<usize>()
            + self.extra_labels.iter().map(kv).sum::<usize>()
            + self
                .capabilities
                .iter()
                .map(|c| size_of::<String>() + s(c))
                .sum::<usize>()
    }
}
