//! The pure part of the image controller: the image an item should have. No I/O here.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::api::*;
use crate::ovf::{ControllerKind, OvfInfo, bytes_to_quantity};

/// What the image controller knows about an item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemFacts {
    /// Name of the item resource.
    pub resource_name: String,
    pub uuid: String,
    pub display_name: Option<String>,
    pub item_type: Option<ContentLibraryItemType>,
    pub content_version: Option<String>,
    pub ready: bool,
    pub security_compliance: Option<bool>,
    /// The item's own Ready message, quoted when the item is not usable.
    pub item_message: Option<String>,
}

impl ItemFacts {
    pub fn from_status(resource_name: &str, uuid: &str, status: &ContentLibraryItemStatus) -> Self {
        ItemFacts {
            resource_name: resource_name.to_string(),
            uuid: uuid.to_string(),
            display_name: status.name.clone(),
            item_type: status.type_,
            content_version: status.content_version.clone(),
            ready: status.is_ready(),
            security_compliance: status.security_compliance,
            item_message: status
                .conditions
                .iter()
                .find(|c| c.type_ == CONDITION_READY)
                .map(|c| c.message.clone())
                .filter(|m| !m.is_empty()),
        }
    }

    /// Whether the image needs the OVF descriptor (an OVF item that can be used).
    pub fn needs_descriptor(&self) -> bool {
        self.item_type == Some(ContentLibraryItemType::Ovf)
            && self.ready
            && self.security_compliance != Some(false)
    }
}

/// What became of the item's OVF descriptor.
#[derive(Clone, Debug)]
pub enum Descriptor<'a> {
    /// Fetched and parsed.
    Parsed(&'a OvfInfo),
    /// The previous status already holds this content version's OVF fields.
    Unchanged,
    /// Fetching or parsing failed: reason and message.
    Failed { reason: &'a str, message: String },
    /// Not needed (ISO, or the item is not usable).
    NotNeeded,
}

/// The OVF-derived part of an image status (also what `vmi-operator inspect` prints).
pub fn status_from_ovf(info: &OvfInfo) -> VirtualMachineImageStatus {
    let os = OsInfo {
        id: info.os_id.clone(),
        type_: info.os_type.clone(),
        version: info.os_version.clone(),
    };
    let product = ProductInfo {
        product: info.product.product.clone(),
        vendor: info.product.vendor.clone(),
        version: info.product.version.clone(),
        full_version: info.product.full_version.clone(),
    };
    VirtualMachineImageStatus {
        name: info.name.clone(),
        type_: Some(ImageType::Ovf),
        firmware: Some(if info.firmware.eq_ignore_ascii_case("efi") {
            Firmware::Efi
        } else {
            Firmware::Bios
        }),
        hardware_version: info.hardware_version.and_then(|v| i32::try_from(v).ok()),
        capabilities: info.capabilities.clone(),
        os_info: (os != OsInfo::default()).then_some(os),
        product_info: (product != ProductInfo::default()).then_some(product),
        disks: info
            .disks
            .iter()
            .map(|d| {
                let capacity = Quantity(bytes_to_quantity(d.capacity_bytes));
                DiskInfo {
                    name: d.name.clone(),
                    requested: Some(capacity.clone()),
                    limit: Some(capacity.clone()),
                    controller_type: d.controller.map(|c| match c.kind {
                        ControllerKind::Ide => ControllerType::Ide,
                        ControllerKind::Scsi => ControllerType::Scsi,
                        ControllerKind::Sata => ControllerType::Sata,
                        ControllerKind::Nvme => ControllerType::Nvme,
                    }),
                    controller_bus_number: d.controller.and_then(|c| c.bus_number),
                    unit_number: d.unit_number,
                    capacity: Some(capacity),
                    size: d.populated_bytes.map(|b| Quantity(bytes_to_quantity(b))),
                }
            })
            .collect(),
        ovf_properties: info
            .ovf_properties
            .iter()
            .map(|p| OvfProperty {
                key: p.key.clone(),
                type_: p.r#type.clone(),
                default: p.default.clone(),
            })
            .collect(),
        vmware_system_properties: info
            .vmware_system_properties
            .iter()
            .map(|kv| KeyValuePair {
                key: kv.key.clone(),
                value: kv.value.clone(),
            })
            .collect(),
        ..Default::default()
    }
}

/// Copies the OVF-derived fields of `from` into `to`.
fn copy_ovf_fields(to: &mut VirtualMachineImageStatus, from: &VirtualMachineImageStatus) {
    to.firmware = from.firmware.clone();
    to.hardware_version = from.hardware_version;
    to.capabilities = from.capabilities.clone();
    to.os_info = from.os_info.clone();
    to.product_info = from.product_info.clone();
    to.disks = from.disks.clone();
    to.ovf_properties = from.ovf_properties.clone();
    to.vmware_system_properties = from.vmware_system_properties.clone();
}

/// The status an image should have. Condition transition times of `previous` are kept where the
/// state did not change, so an unchanged item produces an equal status (and no write).
pub fn image_status(
    facts: &ItemFacts,
    descriptor: Descriptor<'_>,
    previous: Option<&VirtualMachineImageStatus>,
) -> VirtualMachineImageStatus {
    let mut status = VirtualMachineImageStatus::default();
    let mut conditions = previous.map(|p| p.conditions.clone()).unwrap_or_default();
    let ready = match &descriptor {
        Descriptor::Parsed(info) => {
            copy_ovf_fields(&mut status, &status_from_ovf(info));
            conditions.retain(|c| c.type_ != CONDITION_V1ALPHA1_COMPATIBLE);
            if info.v1alpha1_compatible {
                // As VM Operator marks it: reason "True".
                conditions.push(Condition::new(
                    CONDITION_V1ALPHA1_COMPATIBLE,
                    ConditionStatus::True,
                    "True",
                    "",
                ));
            }
            Condition::new(CONDITION_READY, ConditionStatus::True, "Ready", "")
        }
        Descriptor::Unchanged => {
            if let Some(previous) = previous {
                copy_ovf_fields(&mut status, previous);
            }
            Condition::new(CONDITION_READY, ConditionStatus::True, "Ready", "")
        }
        Descriptor::Failed { message, .. } => {
            // Keep what an earlier content version told us rather than blanking the image.
            if let Some(previous) = previous {
                copy_ovf_fields(&mut status, previous);
            }
            Condition::new(
                CONDITION_READY,
                ConditionStatus::False,
                REASON_NOT_SYNCED,
                message.clone(),
            )
        }
        Descriptor::NotNeeded => not_needed_condition(facts, previous, &mut status),
    };
    status.name = facts.display_name.clone();
    status.type_ = match facts.item_type {
        Some(ContentLibraryItemType::Iso) => Some(ImageType::Iso),
        _ => Some(ImageType::Ovf),
    };
    status.provider_item_id = Some(facts.uuid.clone());
    // The content version the status was filled from: a failed read keeps the last good one.
    status.provider_content_version = match descriptor {
        Descriptor::Failed { .. } => previous.and_then(|p| p.provider_content_version.clone()),
        _ => facts.content_version.clone(),
    };
    set_condition(&mut conditions, ready);
    status.conditions = conditions;
    status
}

fn not_needed_condition(
    facts: &ItemFacts,
    previous: Option<&VirtualMachineImageStatus>,
    status: &mut VirtualMachineImageStatus,
) -> Condition {
    if let Some(previous) = previous {
        copy_ovf_fields(status, previous);
    }
    let unusable = |reason: &str, state: &str| {
        let why = facts
            .item_message
            .as_deref()
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        let message = format!(
            "content library item {} is {state}{why}",
            facts.resource_name
        );
        Condition::new(CONDITION_READY, ConditionStatus::False, reason, message)
    };
    if !facts.ready {
        return unusable(REASON_PROVIDER_NOT_READY, "not ready");
    }
    if facts.security_compliance == Some(false) {
        return unusable(
            REASON_PROVIDER_SECURITY_NOT_COMPLIANT,
            "not security compliant",
        );
    }
    // An ISO has no descriptor to read; it is ready as it is.
    Condition::new(CONDITION_READY, ConditionStatus::True, "Ready", "")
}

/// A label value Kubernetes accepts (63 characters of `[A-Za-z0-9._-]`, alphanumeric at both
/// ends), made from free text: `22.04.3 LTS` becomes `22.04.3_LTS`. None when nothing is left.
pub fn label_value(raw: &str) -> Option<String> {
    let mut value: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    value.truncate(63);
    let value = value
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string();
    (!value.is_empty()).then_some(value)
}

/// Whether a capability can be a label name suffix (a DNS-1123-ish name part).
fn capability_label(capability: &str) -> Option<String> {
    let ok = !capability.is_empty()
        && capability.len() <= 63
        && capability
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        && capability.starts_with(|c: char| c.is_ascii_alphanumeric())
        && capability.ends_with(|c: char| c.is_ascii_alphanumeric());
    ok.then(|| format!("{LABEL_CAPABILITY_PREFIX}{capability}"))
}

/// The labels an image with this status carries.
pub fn image_labels(status: &VirtualMachineImageStatus) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert(
        crate::kinds::LABEL_MANAGED_BY.to_string(),
        crate::kinds::MANAGED_BY.to_string(),
    );
    if let Some(os) = &status.os_info {
        for (key, raw) in [
            (LABEL_OS_ID, &os.id),
            (LABEL_OS_TYPE, &os.type_),
            (LABEL_OS_VERSION, &os.version),
        ] {
            if let Some(v) = label_value(raw) {
                labels.insert(key.to_string(), v);
            }
        }
    }
    if let Some(t) = &status.type_ {
        labels.insert(LABEL_IMAGE_TYPE.to_string(), t.as_str().to_string());
    }
    for capability in &status.capabilities {
        if let Some(key) = capability_label(capability) {
            labels.insert(key, String::new());
        }
    }
    labels
}

/// Whether two statuses are the same apart from condition transition times.
pub fn same_status(a: &VirtualMachineImageStatus, b: &VirtualMachineImageStatus) -> bool {
    let strip = |s: &VirtualMachineImageStatus| {
        let mut s = s.clone();
        for c in &mut s.conditions {
            c.last_transition_time.clear();
        }
        s
    };
    strip(a) == strip(b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ovf;

    fn photon() -> OvfInfo {
        OvfInfo {
            name: Some("photon".into()),
            os_id: "photon64Guest".into(),
            os_type: "Linux".into(),
            os_version: "5.0".into(),
            product: ovf::OvfProduct {
                product: "Photon OS".into(),
                vendor: "VMware".into(),
                version: "5.0".into(),
                full_version: "5.0.0-20230629".into(),
            },
            firmware: "EFI".into(),
            hardware_version: Some(19),
            disks: vec![ovf::OvfDisk {
                name: "vmdisk1".into(),
                controller: Some(ovf::DiskController {
                    kind: ovf::ControllerKind::Scsi,
                    bus_number: Some(0),
                }),
                unit_number: Some(0),
                capacity_bytes: 20 << 30,
                populated_bytes: Some(2 << 30),
            }],
            ovf_properties: vec![ovf::OvfUserProperty {
                key: "hostname".into(),
                r#type: "string".into(),
                default: Some("photon-vm".into()),
            }],
            capabilities: vec!["cloud-init".into(), "nvidia-gpu".into()],
            ..Default::default()
        }
    }

    fn facts() -> ItemFacts {
        ItemFacts {
            resource_name: "clitem-0a0044d7c690bcbea".into(),
            uuid: "e1968c25-dd84-4506-8dc7-9beacb6b688e".into(),
            display_name: Some("Photon OS 5.0".into()),
            item_type: Some(ContentLibraryItemType::Ovf),
            content_version: Some("1".into()),
            ready: true,
            security_compliance: Some(true),
            item_message: None,
        }
    }

    #[test]
    fn the_seed_status_is_built_from_item_and_ovf() {
        let info = photon();
        let status = image_status(&facts(), Descriptor::Parsed(&info), None);
        assert_eq!(status.name.as_deref(), Some("Photon OS 5.0"));
        assert_eq!(status.type_, Some(ImageType::Ovf));
        assert_eq!(status.firmware, Some(Firmware::Efi));
        assert_eq!(status.hardware_version, Some(19));
        assert_eq!(status.capabilities, vec!["cloud-init", "nvidia-gpu"]);
        assert_eq!(status.os_info.as_ref().unwrap().id, "photon64Guest");
        assert_eq!(
            status.product_info.as_ref().unwrap().full_version,
            "5.0.0-20230629"
        );
        assert_eq!(status.disks[0].capacity, Some(Quantity("20Gi".into())));
        assert_eq!(status.disks[0].size, Some(Quantity("2Gi".into())));
        assert_eq!(
            status.ovf_properties[0].default.as_deref(),
            Some("photon-vm")
        );
        assert_eq!(
            status.provider_item_id.as_deref(),
            Some("e1968c25-dd84-4506-8dc7-9beacb6b688e")
        );
        assert_eq!(status.provider_content_version.as_deref(), Some("1"));
        assert!(status.is_ready());

        let labels = image_labels(&status);
        assert_eq!(labels[LABEL_OS_TYPE], "Linux");
        assert_eq!(labels[LABEL_OS_VERSION], "5.0");
        assert_eq!(
            labels["capability.image.vmoperator.vmware.com/cloud-init"],
            ""
        );
        assert_eq!(
            labels["capability.image.vmoperator.vmware.com/nvidia-gpu"],
            ""
        );
        assert_eq!(labels[LABEL_IMAGE_TYPE], "OVF");
    }

    #[test]
    fn an_unchanged_item_gives_an_equal_status() {
        let info = photon();
        let first = image_status(&facts(), Descriptor::Parsed(&info), None);
        let again = image_status(&facts(), Descriptor::Unchanged, Some(&first));
        assert_eq!(first, again);
        assert!(same_status(&first, &again));
    }

    #[test]
    fn a_failed_descriptor_is_not_ready_and_keeps_earlier_fields() {
        let info = photon();
        let first = image_status(&facts(), Descriptor::Parsed(&info), None);
        let mut f = facts();
        f.content_version = Some("2".into());
        let failed = image_status(
            &f,
            Descriptor::Failed {
                reason: "OvfNotXml",
                message: "the OVF descriptor is not XML at line 1".into(),
            },
            Some(&first),
        );
        let ready = failed.ready_condition().unwrap();
        assert_eq!(ready.status, ConditionStatus::False);
        assert_eq!(ready.reason, REASON_NOT_SYNCED);
        assert!(ready.message.contains("line 1"));
        assert_eq!(failed.hardware_version, Some(19));
        // The version the status was filled from, not the one that failed.
        assert_eq!(failed.provider_content_version.as_deref(), Some("1"));
    }

    #[test]
    fn unusable_items_get_vm_operator_reasons() {
        let mut f = facts();
        f.ready = false;
        f.item_message = Some("files not cached".into());
        let s = image_status(&f, Descriptor::NotNeeded, None);
        assert_eq!(
            s.ready_condition().unwrap().reason,
            REASON_PROVIDER_NOT_READY
        );
        assert!(
            s.ready_condition()
                .unwrap()
                .message
                .contains("files not cached")
        );

        let mut f = facts();
        f.security_compliance = Some(false);
        assert!(!f.needs_descriptor());
        let s = image_status(&f, Descriptor::NotNeeded, None);
        assert_eq!(
            s.ready_condition().unwrap().reason,
            REASON_PROVIDER_SECURITY_NOT_COMPLIANT
        );
    }

    #[test]
    fn an_iso_is_ready_without_a_descriptor() {
        let mut f = facts();
        f.item_type = Some(ContentLibraryItemType::Iso);
        assert!(!f.needs_descriptor());
        let s = image_status(&f, Descriptor::NotNeeded, None);
        assert!(s.is_ready());
        assert_eq!(s.type_, Some(ImageType::Iso));
    }

    #[test]
    fn label_values_are_made_valid() {
        assert_eq!(label_value("22.04.3 LTS").as_deref(), Some("22.04.3_LTS"));
        assert_eq!(label_value("  (beta) ").as_deref(), Some("beta"));
        assert_eq!(label_value("***"), None);
        assert_eq!(label_value(&"a".repeat(100)).unwrap().len(), 63);
    }

    #[test]
    fn capabilities_that_cannot_be_labels_are_left_out_of_labels_only() {
        let mut status = image_status(&facts(), Descriptor::Parsed(&photon()), None);
        status.capabilities.push("not a label!".into());
        let labels = image_labels(&status);
        assert!(!labels.keys().any(|k| k.contains("not a label")));
    }
}
