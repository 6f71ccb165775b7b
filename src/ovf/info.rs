//! [`Envelope`] to [`OvfInfo`]: the derivations (guest id, product, firmware, disks,
//! properties), all pure.

use std::collections::{BTreeSet, HashMap};

use super::envelope::{Disk, Envelope, HardwareSection, Item, ProductSection, Property};
use super::error::OvfError;
use super::model::{
    ControllerKind, DiskController, KeyValue, OvfDisk, OvfInfo, OvfProduct, OvfUserProperty,
};
use super::units::{self, Overflow};
use super::{guest, vapp};

/// ProductSection property VM Operator's API names as the source of `status.capabilities`
/// ("a comma-separated list of values"; vm-operator's code does not fill the field yet). The
/// field is a set, so we trim, drop empty values, deduplicate and sort.
const CAPABILITIES_KEY: &str = "capabilities.image.vmoperator.vmware.com";
/// `CIM_ResourceAllocationSettingData.ResourceType` of a disk drive.
const DISK_DRIVE: &str = "17";
/// Largest capacity we report: Kubernetes quantities (and vSphere's capacityInBytes) are int64.
const MAX_CAPACITY: u64 = i64::MAX as u64;

pub(crate) fn derive(env: &Envelope) -> Result<OvfInfo, OvfError> {
    let vs = &env.virtual_system;
    let config = default_configuration(env);
    let props = properties(env, config);
    let defaults = property_defaults(&props, config);

    let os = vs.operating_system.as_ref();
    let os_cim_id = os
        .and_then(|o| o.id.as_deref())
        .and_then(|id| id.trim().parse::<u32>().ok());
    let os_type_attr = non_empty(os.and_then(|o| o.os_type.as_deref()));
    let stated_os_version = non_empty(os.and_then(|o| o.version.as_deref()));
    let described_os_version = os
        .and_then(|o| o.description.as_deref())
        .and_then(guest::release_number);
    let guest_for = |version: &str| {
        os_type_attr.clone().or_else(|| {
            os_cim_id
                .and_then(|c| guest::guest_id_for_cim(c, version))
                .map(str::to_string)
        })
    };
    // What the descriptor states wins; inference only fills what it leaves empty.
    let mut product = product(&vs.products);
    let stated_or_described = stated_os_version.clone().or(described_os_version.clone());
    let product_is_os = guest_for(stated_or_described.as_deref().unwrap_or(""))
        .is_some_and(|g| guest::product_is_os(&g, &product.product));
    let product_release = guest::release_number(&product.product);
    let os_version = stated_os_version
        .clone()
        .or_else(|| {
            product_is_os
                .then(|| non_empty(Some(&product.version)).or(product_release.clone()))
                .flatten()
        })
        .or(described_os_version)
        .unwrap_or_default();
    if product.version.trim().is_empty() {
        product.version = product_release
            .or_else(|| product_is_os.then(|| os_version.clone()))
            .unwrap_or_default();
    }
    let os_id = guest_for(&os_version).unwrap_or_default();
    let os_type = guest::family(&os_id, os_cim_id);

    let hw = primary_hardware(&vs.hardware);
    let efi = hw
        .and_then(|h| h.config.iter().find(|(k, _)| k.trim() == "firmware"))
        .is_some_and(|(_, v)| v.trim().eq_ignore_ascii_case("efi"));
    let extra = |key: &str| {
        hw.and_then(|h| h.config.iter().find(|(k, _)| k.trim() == key))
            .map(|(_, v)| v.trim())
    };
    let v1alpha1_compatible = extra("guestinfo.vmservice.defer-cloud-init") == Some("ready");
    let extra_labels = extra("vmservice.vmi.labels")
        .map(extra_config_labels)
        .unwrap_or_default();
    let disks = match hw {
        Some(hw) => disks(env, hw, config, &defaults)?,
        None => Vec::new(),
    };

    let mut ovf_properties = Vec::new();
    let mut vmware_system_properties = Vec::new();
    let mut capabilities = BTreeSet::new();
    for (section, p) in &props {
        let key = p.key.trim();
        let ty = vapp::vapp_type(&p.r#type, p.qualifiers.as_deref(), p.password == Some(true));
        let default = vapp::default_value(&ty, &raw_default(p, config), p.qualifiers.as_deref());
        if key == CAPABILITIES_KEY || env_key(section, key) == CAPABILITIES_KEY {
            let value = raw_default(p, config);
            capabilities.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_string),
            );
        }
        // Same precedence as VM Operator: vmware-system properties never show as OVF properties.
        if key.starts_with("vmware-system") {
            vmware_system_properties.push(KeyValue {
                key: key.to_string(),
                value: default.unwrap_or_default(),
            });
        } else if p.user_configurable == Some(true) {
            ovf_properties.push(OvfUserProperty {
                key: key.to_string(),
                r#type: ty,
                default,
            });
        }
    }

    Ok(OvfInfo {
        name: vs.name.clone().or_else(|| non_empty(Some(&vs.id))),
        os_id,
        os_cim_id,
        os_type,
        os_version,
        product,
        firmware: if efi { "EFI" } else { "BIOS" }.to_string(),
        hardware_version: hw.and_then(|h| h.system_type.as_deref()).and_then(max_vmx),
        disks,
        ovf_properties,
        vmware_system_properties,
        v1alpha1_compatible,
        extra_labels,
        capabilities: capabilities.into_iter().collect(),
    })
}

/// The virtual system's properties in the default configuration, with their sections.
fn properties<'a>(
    env: &'a Envelope,
    config: Option<&str>,
) -> Vec<(&'a ProductSection, &'a Property)> {
    env.virtual_system
        .products
        .iter()
        .flat_map(|s| s.properties.iter().map(move |p| (s, p)))
        .filter(|(_, p)| in_configuration(p.configuration.as_deref(), config))
        .collect()
}

/// Property defaults by `ovf:key`, trimmed, for `${key}` capacity references.
fn property_defaults<'a>(
    props: &[(&ProductSection, &'a Property)],
    config: Option<&str>,
) -> HashMap<&'a str, String> {
    props
        .iter()
        .map(|(_, p)| (p.key.trim(), raw_default(p, config).trim().to_string()))
        .collect()
}

/// One DiskSection disk's capacity, outside of any hardware item (for `ovf::disk_capacity`).
pub(crate) fn disk_capacity(env: &Envelope, disk: &Disk) -> Result<u64, OvfError> {
    let config = default_configuration(env);
    capacity(disk, &property_defaults(&properties(env, config), config))
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The deployment configuration marked default, else the first (DSP0243 9.8).
fn default_configuration(env: &Envelope) -> Option<&str> {
    let configs = &env.configurations;
    configs
        .iter()
        .find(|c| c.default)
        .or(configs.first())
        .map(|c| c.id.trim())
}

/// Whether an element with this `ovf:configuration` (a space-separated list) belongs to the
/// default configuration. Without a DeploymentOptionSection every element counts.
fn in_configuration(attr: Option<&str>, config: Option<&str>) -> bool {
    match (attr, config) {
        (Some(list), Some(config)) => list.split_whitespace().any(|c| c == config),
        _ => true,
    }
}

/// `ovf:value`, overridden by the first `Value` child for the default configuration (or for
/// any configuration when it names none), as vSphere picks it.
fn raw_default(p: &Property, config: Option<&str>) -> String {
    p.values
        .iter()
        .find(|v| v.configuration.is_none() || v.configuration.as_deref().map(str::trim) == config)
        .map(|v| v.value.clone())
        .or_else(|| p.value.clone())
        .unwrap_or_default()
}

/// OVF environment key of a property: `class.key.instance` (DSP0243 9.5.1).
fn env_key(section: &ProductSection, key: &str) -> String {
    let mut k = key.to_string();
    if let Some(class) = section
        .class
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        k = format!("{class}.{k}");
    }
    if let Some(instance) = section
        .instance
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        k = format!("{k}.{instance}");
    }
    k
}

/// The first ProductSection without `ovf:class` that describes the product, else the first
/// that describes it at all. (VM Operator takes the first section; appliances put their
/// product section first and class-scoped property sections after it, so both agree there.)
fn product(sections: &[ProductSection]) -> OvfProduct {
    let chosen = sections
        .iter()
        .find(|s| s.class.as_deref().is_none_or(|c| c.trim().is_empty()) && s.has_product_info())
        .or_else(|| sections.iter().find(|s| s.has_product_info()));
    chosen.map_or_else(OvfProduct::default, |s| OvfProduct {
        product: s.product.clone(),
        vendor: s.vendor.clone(),
        version: s.version.clone(),
        full_version: s.full_version.clone(),
    })
}

/// The hardware section for vSphere: the first naming a `vmx-N` system type, else the first.
fn primary_hardware(sections: &[HardwareSection]) -> Option<&HardwareSection> {
    sections
        .iter()
        .find(|h| h.system_type.as_deref().and_then(max_vmx).is_some())
        .or(sections.first())
}

/// Highest `vmx-N` (or bare `N`, as govmomi accepts) in a whitespace- or comma-separated list.
fn max_vmx(system_type: &str) -> Option<u32> {
    system_type
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter_map(|t| {
            let n = t
                .get(..4)
                .filter(|p| p.eq_ignore_ascii_case("vmx-"))
                .map_or(t, |_| &t[4..]);
            if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                n.parse::<u32>().ok()
            }
        })
        .filter(|v| *v > 0)
        .max()
}

fn disks(
    env: &Envelope,
    hw: &HardwareSection,
    config: Option<&str>,
    defaults: &HashMap<&str, String>,
) -> Result<Vec<OvfDisk>, OvfError> {
    let mut out = Vec::new();
    for item in &hw.items {
        if item.resource_type.as_deref().map(str::trim) != Some(DISK_DRIVE)
            || !in_configuration(item.configuration.as_deref(), config)
        {
            continue;
        }
        if let Some(reference) = item.host_resource.first() {
            let disk = find_disk(&env.disks, reference).ok_or_else(|| OvfError::DiskNotFound {
                element: item.element.clone(),
                reference: reference.clone(),
                line: item.line,
            })?;
            out.push(OvfDisk {
                name: disk.disk_id.trim().to_string(),
                controller: controller(hw, item),
                unit_number: number(item.address_on_parent.as_deref()),
                capacity_bytes: capacity(disk, defaults)?,
                populated_bytes: populated(env, disk)?,
            });
        } else if item.virtual_quantity.is_some() {
            // A new, empty disk sized by the item itself.
            let name = item
                .element_name
                .as_deref()
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .map_or_else(|| format!("disk-{}", out.len()), str::to_string);
            out.push(OvfDisk {
                name,
                controller: controller(hw, item),
                unit_number: number(item.address_on_parent.as_deref()),
                capacity_bytes: item_capacity(item)?,
                populated_bytes: None,
            });
        }
    }
    // Names key VMware's list of disks: a repeated one (two items naming one disk, or new disks
    // of the same ElementName) gets its position.
    let mut seen = BTreeSet::new();
    for (i, d) in out.iter_mut().enumerate() {
        if !seen.insert(d.name.clone()) {
            d.name = format!("{}-{i}", d.name);
            seen.insert(d.name.clone());
        }
    }
    Ok(out)
}

/// `key:value,key:,key` as VM Operator splits it (a part with two colons or more is skipped).
fn extra_config_labels(value: &str) -> Vec<KeyValue> {
    value
        .split(',')
        .filter_map(|kv| {
            let parts: Vec<&str> = kv.split(':').collect();
            let (key, value) = match parts[..] {
                [k] => (k, ""),
                [k, v] => (k, v),
                _ => return None,
            };
            let key = key.trim();
            (!key.is_empty()).then(|| KeyValue {
                key: key.to_string(),
                value: value.trim().to_string(),
            })
        })
        .collect()
}

/// The controller whose `InstanceID` a disk item's `Parent` names, if it is a disk controller.
fn controller(hw: &HardwareSection, disk: &Item) -> Option<DiskController> {
    let parent = disk.parent.as_deref()?.trim();
    let c = hw
        .items
        .iter()
        .find(|i| i.instance_id.as_deref().map(str::trim) == Some(parent))?;
    let subtype = c
        .resource_sub_type
        .as_deref()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let kind = match c.resource_type.as_deref().map(str::trim)? {
        "5" => ControllerKind::Ide,
        "6" => ControllerKind::Scsi,
        "20" if subtype.contains("nvme") => ControllerKind::Nvme,
        "20" => ControllerKind::Sata,
        _ => return None,
    };
    Some(DiskController {
        kind,
        bus_number: number(c.address.as_deref()),
    })
}

fn number(text: Option<&str>) -> Option<i32> {
    text?.trim().parse().ok()
}

/// The DiskSection disk a `HostResource` names: `ovf:/disk/<id>` (also `/disk/<id>`, as
/// VirtualBox writes), else a disk whose id ends the reference after a `/` (govmomi matches
/// suffixes too).
fn find_disk<'a>(disks: &'a [Disk], reference: &str) -> Option<&'a Disk> {
    let reference = reference.trim();
    let id = ["ovf:/disk/", "ovf://disk/", "/disk/"]
        .iter()
        .find_map(|p| reference.strip_prefix(p));
    if let Some(id) = id
        && let Some(d) = disks.iter().find(|d| d.disk_id.trim() == id)
    {
        return Some(d);
    }
    disks.iter().find(|d| {
        let id = d.disk_id.trim();
        !id.is_empty()
            && reference
                .strip_suffix(id)
                .is_some_and(|head| head.is_empty() || head.ends_with('/'))
    })
}

fn capacity(disk: &Disk, defaults: &HashMap<&str, String>) -> Result<u64, OvfError> {
    let line = disk.line;
    let raw = disk.capacity.trim();
    let unresolved = |property: &str, problem: String| OvfError::CapacityPropertyUnresolved {
        disk: disk.disk_id.clone(),
        property: property.to_string(),
        problem,
        line,
    };
    let overflow = || OvfError::CapacityOverflow {
        disk: disk.disk_id.clone(),
        capacity: raw.to_string(),
        units: disk.capacity_units.clone().unwrap_or_else(|| "byte".into()),
        line,
    };
    // DSP0243 9.1: the capacity may be a property reference, `${disk.size}`; the property's
    // default (for the default configuration) is the number of units.
    let count = match raw.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        Some(key) => {
            let key = key.trim();
            let value = defaults
                .get(key)
                .ok_or_else(|| unresolved(key, "no ProductSection property defines".into()))?;
            if value.is_empty() {
                return Err(unresolved(key, "has no default value".into()));
            }
            whole_number(value).ok_or_else(|| {
                unresolved(key, format!("has default {value:?}, not a whole number"))
            })?
        }
        None => whole_number(raw).ok_or_else(|| OvfError::InvalidCapacity {
            disk: disk.disk_id.clone(),
            value: raw.to_string(),
            line,
        })?,
    };
    let units = disk.capacity_units.as_deref().unwrap_or("");
    let multiplier = match units::multiplier(units) {
        None => {
            return Err(OvfError::UnknownUnits {
                disk: disk.disk_id.clone(),
                units: units.into(),
                line,
            });
        }
        Some(Err(Overflow)) => return Err(overflow()),
        Some(Ok(m)) => m,
    };
    count
        .checked_mul(multiplier)
        .filter(|b| *b <= MAX_CAPACITY)
        .ok_or_else(overflow)
}

fn item_capacity(item: &Item) -> Result<u64, OvfError> {
    let line = item.line;
    let name = item
        .element_name
        .clone()
        .unwrap_or_else(|| item.element.clone());
    let quantity = item.virtual_quantity.as_deref().unwrap_or("").trim();
    let units = item.allocation_units.as_deref().unwrap_or("");
    let count = whole_number(quantity).ok_or_else(|| OvfError::InvalidCapacity {
        disk: name.clone(),
        value: quantity.to_string(),
        line,
    })?;
    let overflow = || OvfError::CapacityOverflow {
        disk: name.clone(),
        capacity: quantity.into(),
        units: units.into(),
        line,
    };
    match units::multiplier(units) {
        None => Err(OvfError::UnknownUnits {
            disk: name.clone(),
            units: units.into(),
            line,
        }),
        Some(Err(Overflow)) => Err(overflow()),
        Some(Ok(m)) => count
            .checked_mul(m)
            .filter(|b| *b <= MAX_CAPACITY)
            .ok_or_else(overflow),
    }
}

/// Digits only (no sign, no fraction); values past u64 count as overflow via `u64::MAX`.
fn whole_number(s: &str) -> Option<u64> {
    let s = s.trim();
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().unwrap_or(u64::MAX))
}

/// `ovf:populatedSize`; when it is 0 or absent, the `ovf:size` of the disk's file as an
/// estimate; `None` when neither is above 0. A populatedSize that is not a number is an error
/// (it is the disk's own claim); a file size that is not one is ignored, as ovftool ignores it
/// (it measures the file itself) and we only use it as an estimate.
fn populated(env: &Envelope, disk: &Disk) -> Result<Option<u64>, OvfError> {
    if let Some(size) = disk.populated_size.as_deref() {
        let size = exact_number(size).ok_or_else(|| OvfError::InvalidNumber {
            what: format!("ovf:populatedSize of disk {:?}", disk.disk_id),
            value: size.to_string(),
            line: disk.line,
        })?;
        // 0 is a placeholder (Canonical's cloud images write it), never a disk's real size.
        if size > 0 {
            return Ok(Some(size));
        }
    }
    let file = disk
        .file_ref
        .as_deref()
        .and_then(|id| env.references.iter().find(|f| f.id.trim() == id.trim()));
    Ok(file
        .and_then(|f| f.size.as_deref())
        .and_then(exact_number)
        .filter(|size| *size > 0))
}

/// A whole number that fits u64.
fn exact_number(s: &str) -> Option<u64> {
    let s = s.trim();
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::super::{OvfInfo, parse_descriptor};

    /// A descriptor with this OperatingSystemSection, ProductSection and one disk.
    fn ovf(os: &str, product: &str, disk: &str) -> OvfInfo {
        let xml = format!(
            r#"<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
  <References><File ovf:href="disk1.vmdk" ovf:id="file1" ovf:size="595726336"/></References>
  <DiskSection><Info>d</Info>{disk}</DiskSection>
  <VirtualSystem ovf:id="vm"><Info>v</Info>{os}{product}
    <VirtualHardwareSection><Info>h</Info>
      <Item><rasd:ElementName>disk</rasd:ElementName><rasd:HostResource>ovf:/disk/vmdisk1</rasd:HostResource><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType></Item>
    </VirtualHardwareSection>
  </VirtualSystem>
</Envelope>"#
        );
        parse_descriptor(xml.as_bytes()).unwrap()
    }

    fn os(attrs: &str, description: &str) -> String {
        let d = if description.is_empty() {
            String::new()
        } else {
            format!("<Description>{description}</Description>")
        };
        format!(r#"<OperatingSystemSection {attrs}><Info>o</Info>{d}</OperatingSystemSection>"#)
    }

    fn product(name: &str, version: &str) -> String {
        let v = if version.is_empty() {
            String::new()
        } else {
            format!("<Version>{version}</Version>")
        };
        format!(r#"<ProductSection><Info>p</Info><Product>{name}</Product>{v}</ProductSection>"#)
    }

    const DISK: &str = r#"<Disk ovf:capacity="16" ovf:capacityAllocationUnits="byte * 2^30" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:populatedSize="858521600"/>"#;
    const PHOTON: &str = r#"ovf:id="36" vmw:osType="vmwarePhoton64Guest""#;
    const UBUNTU: &str = r#"ovf:id="94" vmw:osType="ubuntu64Guest""#;

    /// (os version, product version) of a descriptor.
    fn versions(os_section: &str, product_section: &str) -> (String, String) {
        let info = ovf(os_section, product_section, DISK);
        (info.os_version, info.product.version)
    }

    fn pair(os: &str, product: &str) -> (String, String) {
        (os.to_string(), product.to_string())
    }

    #[test]
    fn the_os_version_is_the_product_version_when_the_product_is_the_os() {
        assert_eq!(
            versions(&os(PHOTON, ""), &product("Photon OS", "5.0")),
            pair("5.0", "5.0")
        );
    }

    #[test]
    fn else_a_release_in_the_product_name_gives_both_versions() {
        assert_eq!(
            versions(
                &os(UBUNTU, "Ubuntu Linux (64-bit)"),
                &product("Ubuntu 24.10 Server (20241109)", "")
            ),
            pair("24.10", "24.10")
        );
        assert_eq!(
            versions(&os(UBUNTU, ""), &product("Ubuntu 22.04 LTS", "")),
            pair("22.04", "22.04")
        );
    }

    #[test]
    fn else_the_os_description() {
        assert_eq!(
            versions(&os(UBUNTU, "Ubuntu 22.04 LTS"), ""),
            pair("22.04", "")
        );
        // A product that is not the OS gives the OS nothing; its own version stays its own.
        assert_eq!(
            versions(
                &os(PHOTON, "Photon OS 4.0"),
                &product("VMware vCenter Server Appliance", "9.1.0.0")
            ),
            pair("4.0", "9.1.0.0")
        );
        assert_eq!(
            versions(
                &os(PHOTON, ""),
                &product("VMware vCenter Server Appliance", "9.1.0.0")
            ),
            pair("", "9.1.0.0")
        );
    }

    #[test]
    fn what_the_ovf_states_wins() {
        // ovf:version beats the product's version and the description.
        assert_eq!(
            versions(
                &os(&format!(r#"{PHOTON} ovf:version="5.0.1""#), "Photon OS 4.0"),
                &product("Photon OS", "5.0")
            ),
            pair("5.0.1", "5.0")
        );
        // <Version> beats the release in the product name.
        assert_eq!(
            versions(
                &os(UBUNTU, ""),
                &product("Ubuntu 24.10 Server (20241109)", "24.10.1")
            ),
            pair("24.10.1", "24.10.1")
        );
        // An OS product without a version takes the stated OS version.
        assert_eq!(
            versions(
                &os(&format!(r#"{PHOTON} ovf:version="5.0""#), ""),
                &product("Photon OS", "")
            ),
            pair("5.0", "5.0")
        );
    }

    #[test]
    fn an_inferred_version_picks_the_guest_of_a_cim_type_that_needs_one() {
        // CIM 80 (RHEL 64-bit) has no guest without a version.
        let info = ovf(
            &os(r#"ovf:id="80""#, "Red Hat Enterprise Linux 9 (64-bit)"),
            "",
            DISK,
        );
        assert_eq!(info.os_version, "9");
        assert_eq!(info.os_id, "rhel9_64Guest");
    }

    #[test]
    fn a_zero_or_absent_populated_size_is_estimated_from_the_file() {
        let size = |disk: &str| ovf(&os(UBUNTU, ""), "", disk).disks[0].populated_bytes;
        assert_eq!(size(DISK), Some(858_521_600));
        let zero = r#"<Disk ovf:capacity="10737418240" ovf:diskId="vmdisk1" ovf:fileRef="file1" ovf:populatedSize="0"/>"#;
        assert_eq!(size(zero), Some(595_726_336));
        let absent =
            r#"<Disk ovf:capacity="10737418240" ovf:diskId="vmdisk1" ovf:fileRef="file1"/>"#;
        assert_eq!(size(absent), Some(595_726_336));
        let no_file =
            r#"<Disk ovf:capacity="10737418240" ovf:diskId="vmdisk1" ovf:populatedSize="0"/>"#;
        assert_eq!(size(no_file), None);
    }
}
