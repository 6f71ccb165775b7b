//! Reads the [`Envelope`] model out of a parsed XML tree.

use roxmltree::{Document, Node};

use super::envelope::{
    Configuration, Disk, Envelope, FileRef, HardwareSection, Item, OperatingSystem, OvfVersion,
    ProductSection, Property, PropertyValue, VirtualSystem,
};
use super::error::OvfError;
use super::xml::{self, OVF1, OVF2, OVF09, VMW};

pub(crate) fn read(doc: &Document<'_>) -> Result<Envelope, OvfError> {
    let root = doc.root_element();
    let version = envelope_version(root, doc.input_text())?;
    let lines = xml::LineIndex::new(doc.input_text());

    let references = xml::children(root, "References")
        .flat_map(|r| xml::children(r, "File"))
        .map(|f| FileRef {
            id: attr(f, "id"),
            href: attr(f, "href"),
            size: xml::ovf_attr(f, "size").map(str::to_string),
        })
        .collect();
    let disks = xml::children(root, "DiskSection")
        .flat_map(|s| xml::children(s, "Disk"))
        .map(|d| Disk {
            disk_id: attr(d, "diskId"),
            file_ref: xml::ovf_attr(d, "fileRef").map(str::to_string),
            capacity: attr(d, "capacity"),
            capacity_units: xml::ovf_attr(d, "capacityAllocationUnits").map(str::to_string),
            populated_size: xml::ovf_attr(d, "populatedSize").map(str::to_string),
            line: lines.line(d.range().start),
        })
        .collect();
    let configurations = xml::children(root, "DeploymentOptionSection")
        .flat_map(|s| xml::children(s, "Configuration"))
        .map(|c| Configuration {
            id: attr(c, "id"),
            default: xml::ovf_attr(c, "default").is_some_and(is_true),
        })
        .collect();

    let (vs, in_collection) = match xml::child(root, "VirtualSystem") {
        Some(vs) => (vs, false),
        None => {
            let vs = xml::child(root, "VirtualSystemCollection")
                .and_then(first_in_collection)
                .ok_or_else(|| OvfError::NoVirtualSystem {
                    line: lines.line(root.range().start),
                })?;
            (vs, true)
        }
    };
    let virtual_system = virtual_system(vs, &lines);
    Ok(Envelope {
        version,
        references,
        disks,
        configurations,
        virtual_system,
        in_collection,
    })
}

fn envelope_version(root: Node<'_, '_>, text: &str) -> Result<OvfVersion, OvfError> {
    let ns = root.tag_name().namespace();
    let local = root.tag_name().name();
    if ns == Some(OVF09) {
        return Err(OvfError::UnsupportedVersion {
            version: "0.9".into(),
            namespace: OVF09.into(),
        });
    }
    match (local, ns) {
        ("Envelope", Some(OVF1)) => Ok(OvfVersion::V1),
        ("Envelope", Some(OVF2)) => Ok(OvfVersion::V2),
        _ => Err(OvfError::WrongRoot {
            found: match ns {
                Some(ns) => format!("{local} xmlns=\"{ns}\""),
                None => local.to_string(),
            },
            line: xml::line_at(text, root.range().start),
        }),
    }
}

/// The collection's first own `VirtualSystem` (what govmomi's ToConfigSpec, and so VM
/// Operator, deploys), else the first found in its nested collections. Recursion is bounded by
/// the parser's depth limit.
fn first_in_collection<'a, 'i>(collection: Node<'a, 'i>) -> Option<Node<'a, 'i>> {
    xml::child(collection, "VirtualSystem").or_else(|| {
        xml::children(collection, "VirtualSystemCollection").find_map(first_in_collection)
    })
}

fn virtual_system(vs: Node<'_, '_>, lines: &xml::LineIndex) -> VirtualSystem {
    let mut products: Vec<ProductSection> =
        xml::children(vs, "ProductSection").map(product).collect();
    if products.is_empty() {
        // A system in a collection without products of its own takes the nearest collection's.
        products = vs
            .ancestors()
            .skip(1)
            .take_while(|a| xml::is_ovf(*a, "VirtualSystemCollection"))
            .map(|c| {
                xml::children(c, "ProductSection")
                    .map(product)
                    .collect::<Vec<_>>()
            })
            .find(|p| !p.is_empty())
            .unwrap_or_default();
    }
    VirtualSystem {
        id: attr(vs, "id"),
        name: xml::child_text(vs, "Name").filter(|n| !n.is_empty()),
        operating_system: xml::child(vs, "OperatingSystemSection").map(|os| OperatingSystem {
            id: xml::ovf_attr(os, "id").map(str::to_string),
            version: xml::ovf_attr(os, "version").map(str::to_string),
            os_type: xml::vmw_attr(os, "osType").map(str::to_string),
            description: xml::child_text(os, "Description"),
        }),
        products,
        hardware: xml::children(vs, "VirtualHardwareSection")
            .map(|h| hardware(h, lines))
            .collect(),
    }
}

fn product(section: Node<'_, '_>) -> ProductSection {
    let text = |local| xml::child_text(section, local).unwrap_or_default();
    ProductSection {
        class: xml::ovf_attr(section, "class").map(str::to_string),
        instance: xml::ovf_attr(section, "instance").map(str::to_string),
        product: text("Product"),
        vendor: text("Vendor"),
        version: text("Version"),
        full_version: text("FullVersion"),
        properties: xml::children(section, "Property").map(property).collect(),
    }
}

fn property(p: Node<'_, '_>) -> Property {
    let opt = |local| xml::ovf_attr(p, local).map(str::to_string);
    // VMware writes its own qualifiers (Ip, Dns, Gateway, …) as vmw:qualifiers, beside or
    // instead of the DMTF ones; both constrain the property.
    let qualifiers = match (
        xml::ovf_attr(p, "qualifiers"),
        p.attribute((VMW, "qualifiers")),
    ) {
        (Some(dmtf), Some(vmw)) => Some(format!("{dmtf},{vmw}")),
        (dmtf, vmw) => dmtf.or(vmw).map(str::to_string),
    };
    Property {
        key: attr(p, "key"),
        r#type: attr(p, "type"),
        qualifiers,
        user_configurable: xml::ovf_attr(p, "userConfigurable").map(is_true),
        password: xml::ovf_attr(p, "password").map(is_true),
        value: opt("value"),
        configuration: opt("configuration"),
        values: xml::children(p, "Value")
            .map(|v| PropertyValue {
                value: attr(v, "value"),
                configuration: xml::ovf_attr(v, "configuration").map(str::to_string),
            })
            .collect(),
    }
}

fn hardware(section: Node<'_, '_>, lines: &xml::LineIndex) -> HardwareSection {
    let items = section
        .children()
        .filter(|c| {
            xml::is_ovf_ns(c.tag_name().namespace())
                && matches!(
                    c.tag_name().name(),
                    "Item" | "StorageItem" | "EthernetPortItem"
                )
        })
        .map(|i| Item {
            element: i.tag_name().name().to_string(),
            resource_type: xml::cim_text(i, "ResourceType"),
            host_resource: xml::cim_children(i, "HostResource")
                .map(xml::text)
                .collect(),
            allocation_units: xml::cim_text(i, "AllocationUnits"),
            virtual_quantity: xml::cim_text(i, "VirtualQuantity"),
            element_name: xml::cim_text(i, "ElementName"),
            configuration: xml::ovf_attr(i, "configuration").map(str::to_string),
            instance_id: xml::cim_text(i, "InstanceID"),
            parent: xml::cim_text(i, "Parent"),
            address: xml::cim_text(i, "Address"),
            address_on_parent: xml::cim_text(i, "AddressOnParent"),
            resource_sub_type: xml::cim_text(i, "ResourceSubType"),
            line: lines.line(i.range().start),
        })
        .collect();
    let config = section
        .children()
        .filter(|c| {
            c.is_element()
                && c.tag_name().name() == "Config"
                && c.tag_name().namespace() == Some(VMW)
        })
        .map(|c| {
            (
                xml::vmw_attr(c, "key").unwrap_or("").to_string(),
                xml::vmw_attr(c, "value").unwrap_or("").to_string(),
            )
        })
        .collect();
    HardwareSection {
        system_type: xml::child(section, "System")
            .and_then(|s| xml::cim_text(s, "VirtualSystemType")),
        items,
        config,
    }
}

fn attr(node: Node<'_, '_>, local: &str) -> String {
    xml::ovf_attr(node, local).unwrap_or("").to_string()
}

/// `xs:boolean`: `true` or `1` (case and spaces forgiven, as govmomi's strconv.ParseBool does).
fn is_true(value: &str) -> bool {
    let v = value.trim();
    v == "1" || v.eq_ignore_ascii_case("true")
}
