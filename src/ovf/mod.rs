//! OVF descriptors and OVA archives: pure parsing, no I/O beyond the reader handed in.
//!
//! [`parse_descriptor`] turns the bytes of an OVF 1.x or 2.x descriptor into [`OvfInfo`], the
//! fields a `VirtualMachineImage` status shows. It reads the same things VM Operator reads
//! through govmomi (vm-operator `pkg/providers/vsphere/contentlibrary/content_library_utils.go`
//! and govmomi `ovf/configspec.go`), with these rules:
//!
//! - Namespaces are matched by URI, never by prefix (producers use `ovf:`, `ovf2:`, `oe:` or a
//!   default namespace). CIM setting-data properties inside `System`, `Item` and `StorageItem`
//!   are matched by local name: producers disagree on their URIs (VirtualBox writes
//!   `…/CIM_StorageAllocationSettingData.xsd`).
//! - The virtual system is the envelope's `VirtualSystem`, or for a `VirtualSystemCollection`
//!   its first own `VirtualSystem` (else the first in a nested collection), taking the
//!   collection's `ProductSection`s when it has none of its own, as govmomi's `ToConfigSpec`
//!   does.
//! - Hardware version, firmware and disks come from the virtual system's first
//!   `VirtualHardwareSection` that names a `vmx-N` system type (else its first one). Disks are
//!   the disk drives (`ResourceType` 17) of that section in the default deployment
//!   configuration, in document order, as VM Operator lists `status.disks`.
//! - `ovf_properties` holds the user-configurable properties except `vmware-system*` ones;
//!   `key` is the property's `ovf:key` (the vApp property id that VM Operator shows and later
//!   matches `spec.bootstrap.vAppConfig` against), `type` the vApp type vSphere derives from
//!   `ovf:type` and `ovf:qualifiers` (`string(1..65)`, `int(0..255)`, `ip:Management`, …).
//!
//! DTDs are refused (roxmltree's default), so no entity is ever expanded or fetched. Every
//! failure is an [`OvfError`] with a stable [`OvfError::reason`].

mod envelope_read;
mod error;
mod guest;
mod info;
mod quantity;
mod units;
mod vapp;
mod xml;

pub mod envelope;
pub mod manifest;
pub mod ova;

pub use error::OvfError;

/// Largest OVF descriptor we read (VMware appliances are a few MiB at most).
pub const MAX_DESCRIPTOR_BYTES: u64 = 32 * 1024 * 1024;
pub use quantity::bytes_to_quantity;

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
    /// `ovf:capacity` × `ovf:capacityAllocationUnits`, in bytes.
    pub capacity_bytes: u64,
    /// `ovf:populatedSize`; when it is 0 (a placeholder: Canonical's cloud images write 0) or
    /// absent, an estimate: the `ovf:size` of the disk's file (compressed, so low). `None` when
    /// neither gives a size above 0.
    pub populated_bytes: Option<u64>,
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

/// Parses an OVF descriptor (the `.ovf` file's bytes).
pub fn parse_descriptor(bytes: &[u8]) -> Result<OvfInfo, OvfError> {
    let text = xml::decode(bytes)?;
    let doc = xml::parse(&text)?;
    let envelope = envelope_read::read(&doc)?;
    info::derive(&envelope)
}
