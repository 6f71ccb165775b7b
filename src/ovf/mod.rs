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
mod model;
mod quantity;
mod units;
mod vapp;
mod xml;

pub mod envelope;
pub mod manifest;
pub mod ova;

pub use error::OvfError;
pub use model::{
    ControllerKind, DiskController, KeyValue, OvfDisk, OvfInfo, OvfProduct, OvfUserProperty,
};
pub use quantity::{bytes_to_quantity, quantity_to_bytes};
pub use xml::MAX_DESCRIPTOR_BYTES;

/// Parses an OVF descriptor (the `.ovf` file's bytes).
pub fn parse_descriptor(bytes: &[u8]) -> Result<OvfInfo, OvfError> {
    info::derive(&parse_envelope(bytes)?)
}

/// Reads the envelope of an OVF descriptor without deriving anything from it.
pub fn parse_envelope(bytes: &[u8]) -> Result<envelope::Envelope, OvfError> {
    let text = xml::decode(bytes)?;
    let doc = xml::parse(&text)?;
    envelope_read::read(&doc)
}

/// A DiskSection disk's capacity in bytes, as [`OvfInfo::disks`] computes it (units,
/// `${property}` references resolved in the default configuration, overflow).
pub fn disk_capacity(env: &envelope::Envelope, disk: &envelope::Disk) -> Result<u64, OvfError> {
    info::disk_capacity(env, disk)
}
