//! The parts of an OVF envelope we read, as written (strings untouched but trimmed where the
//! value is element text). `ovf::parse_envelope` reads it, `ovf::parse_descriptor` derives
//! `OvfInfo` from it, and the govmomi parity test compares it field by field with what govmomi
//! reads.

/// OVF specification generation, from the envelope's namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OvfVersion {
    V1,
    V2,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    pub version: OvfVersion,
    /// `References/File`.
    pub references: Vec<FileRef>,
    /// `Disk` of every envelope-level `DiskSection`.
    pub disks: Vec<Disk>,
    /// `DeploymentOptionSection/Configuration`.
    pub configurations: Vec<Configuration>,
    /// The virtual system the image is made of (see the module documentation).
    pub virtual_system: VirtualSystem,
    /// Whether that virtual system sits in a `VirtualSystemCollection`.
    pub in_collection: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileRef {
    pub id: String,
    pub href: String,
    pub size: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Disk {
    pub disk_id: String,
    pub file_ref: Option<String>,
    pub capacity: String,
    pub capacity_units: Option<String>,
    pub populated_size: Option<String>,
    /// Line of the element in the descriptor, for error messages.
    pub line: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Configuration {
    pub id: String,
    pub default: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VirtualSystem {
    pub id: String,
    pub name: Option<String>,
    /// The first `OperatingSystemSection`.
    pub operating_system: Option<OperatingSystem>,
    /// Its `ProductSection`s, or its collection's when it has none.
    pub products: Vec<ProductSection>,
    pub hardware: Vec<HardwareSection>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OperatingSystem {
    pub id: Option<String>,
    pub version: Option<String>,
    /// `vmw:osType`.
    pub os_type: Option<String>,
    pub description: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProductSection {
    pub class: Option<String>,
    pub instance: Option<String>,
    pub product: String,
    pub vendor: String,
    pub version: String,
    pub full_version: String,
    pub properties: Vec<Property>,
}

impl ProductSection {
    /// Whether the section says anything about the product (many only carry properties).
    pub fn has_product_info(&self) -> bool {
        [
            &self.product,
            &self.vendor,
            &self.version,
            &self.full_version,
        ]
        .iter()
        .any(|s| !s.is_empty())
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Property {
    pub key: String,
    pub r#type: String,
    /// `ovf:qualifiers`, with `vmw:qualifiers` (VMware's Ip, Dns, … qualifiers) appended after
    /// a comma when both are present.
    pub qualifiers: Option<String>,
    pub user_configurable: Option<bool>,
    pub password: Option<bool>,
    /// `ovf:value`, the default.
    pub value: Option<String>,
    /// `ovf:configuration`, the deployment configurations the property belongs to.
    pub configuration: Option<String>,
    /// `Value` children: per-configuration defaults.
    pub values: Vec<PropertyValue>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PropertyValue {
    pub value: String,
    pub configuration: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HardwareSection {
    /// `System/VirtualSystemType`.
    pub system_type: Option<String>,
    /// `Item`, `StorageItem` and `EthernetPortItem` in document order.
    pub items: Vec<Item>,
    /// `vmw:Config` key and value pairs.
    pub config: Vec<(String, String)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Item {
    /// Local name of the element (`Item`, `StorageItem`, …), for error messages.
    pub element: String,
    pub resource_type: Option<String>,
    pub host_resource: Vec<String>,
    pub allocation_units: Option<String>,
    pub virtual_quantity: Option<String>,
    pub element_name: Option<String>,
    pub configuration: Option<String>,
    /// `rasd:InstanceID`, which `rasd:Parent` of a disk names its controller by.
    pub instance_id: Option<String>,
    pub parent: Option<String>,
    /// `rasd:Address`: a controller's bus number.
    pub address: Option<String>,
    /// `rasd:AddressOnParent`: a disk's unit number on its controller.
    pub address_on_parent: Option<String>,
    /// `rasd:ResourceSubType` (`vmware.nvme.controller`, `vmware.sata.ahci`, `lsilogic`).
    pub resource_sub_type: Option<String>,
    pub line: u32,
}
