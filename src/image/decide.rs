//! The image controller's decisions, pure: from the item and what the stores hold, what to
//! write and announce. [`prepare`] decides whether and where the OVF descriptor comes from;
//! [`decide`] turns the descriptor's outcome into the writes, the events and what comes next.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::ResourceExt;
use kube::runtime::events::EventType;

use super::desired::{Descriptor, ItemFacts, image_labels, image_status, same_status};
use super::error::ImageError;
use crate::api::{
    Condition, ConditionStatus, ContentLibraryItemStatus, LABEL_CAPABILITY_PREFIX,
    LABEL_IMAGE_TYPE, ProviderRef, VirtualMachineImageStatus,
};
use crate::kinds::{ImageKind, LABEL_MANAGED_BY};
use crate::ovf::OvfInfo;
use crate::reconciler::ReconcileError;
use crate::vmi_id;

/// Condition type the image controller sets on an item whose VMI ID is taken by another item.
pub const CONDITION_IMAGE_CONFLICT: &str = "VirtualMachineImageConflict";
/// How often every item is reconciled again without a change (no write unless one is due): the
/// controller's resync pass over its item store (`stores::Paced::resync`).
pub const RESYNC: Duration = Duration::from_secs(600);
/// When a reconcile that found the store behind runs again if no watch event wakes it first.
pub const STORE_LAG_RECHECK: Duration = Duration::from_secs(2);

/// What the stores say about one item.
pub struct Observed<'a, Img> {
    pub item_name: &'a str,
    pub item_uid: &'a str,
    pub uuid: &'a str,
    pub item_status: Option<&'a ContentLibraryItemStatus>,
    /// The item's owner reference for the image (None only for objects without a uid).
    pub owner: Option<OwnerReference>,
    /// How the image names the item.
    pub provider_ref: ProviderRef,
    /// The image named by the item's VMI ID, if the store has one.
    pub image: Option<&'a Img>,
    /// Whether the store has not yet shown our last write of that image.
    pub store_behind: bool,
    /// Which optional fields the installed CRDs declare.
    pub writable: crate::api::Writable,
    /// The `type.services.vmware.com/*` labels of a cluster item, which its image carries too
    /// (as VM Operator copies them, for TKG to find its images).
    pub service_labels: Vec<String>,
}

/// Where the descriptor comes from, as [`prepare`] decided.
#[derive(Debug, PartialEq)]
pub enum Need {
    /// No descriptor: the item is an ISO or not usable.
    NotNeeded,
    /// The previous status already holds this content version's OVF fields.
    Unchanged,
    /// The parsed-descriptor cache holds it.
    Cached,
    /// Fetch it from the library's source.
    Fetch,
}

/// What became of the descriptor, handed to [`decide`].
pub enum Obtained {
    NotNeeded,
    Unchanged,
    Parsed(Arc<OvfInfo>),
    Failed(ImageError),
}

/// The object an event is about.
#[derive(Clone, Debug, PartialEq)]
pub enum Target {
    Item,
    /// The image (by name; its uid is known after the write).
    Image,
}

/// An event to publish.
#[derive(Clone, Debug, PartialEq)]
pub struct Announce {
    pub target: Target,
    pub type_: EventType,
    pub reason: String,
    pub note: String,
}

/// A write, in the order given.
#[derive(Debug, PartialEq)]
pub enum Write {
    /// The image object: labels, provider reference, owner.
    Image {
        labels: BTreeMap<String, String>,
        annotations: BTreeMap<String, String>,
        provider_ref: ProviderRef,
        owner: Option<OwnerReference>,
    },
    ImageStatus(VirtualMachineImageStatus),
    /// The item's conditions with the image controller's set or cleared. The whole list: VMware's
    /// CRDs make it atomic, so each controller applies the other's conditions as it found them.
    ItemConditions(Vec<Condition>),
}

/// What happens after the writes.
#[derive(Debug)]
pub enum Then {
    Requeue(Duration),
    AwaitChange,
    /// The reconcile fails with this error (retried with backoff unless it waits for a change).
    Fail(ImageError),
}

/// Everything one reconcile does.
#[derive(Debug)]
pub struct Decision {
    pub image_name: String,
    pub writes: Vec<Write>,
    pub events: Vec<Announce>,
    pub then: Then,
}

/// The first stage: either a decision that needs no descriptor, or the image to build and where
/// its descriptor comes from.
#[derive(Debug)]
pub enum Prepared {
    Done(Decision),
    Image(Pending),
}

/// An image whose descriptor [`decide`] still needs.
#[derive(Debug)]
pub struct Pending {
    pub image_name: String,
    pub facts: ItemFacts,
    pub need: Need,
    writes: Vec<Write>,
    events: Vec<Announce>,
}

/// Decides what the item needs before the descriptor: names, store lag, conflicts.
pub fn prepare<Img: ImageKind>(observed: &Observed<'_, Img>, cached: bool) -> Prepared {
    let uuid = observed.uuid;
    let image_name = match vmi_id::vmi_id(uuid) {
        Ok(name) => name,
        Err(e) => {
            let error = ImageError::from(e);
            return Prepared::Done(Decision {
                image_name: String::new(),
                writes: vec![],
                events: vec![warning(Target::Item, error.reason(), error.to_string())],
                then: Then::Fail(error),
            });
        }
    };
    let done = |writes, events, then| {
        Prepared::Done(Decision {
            image_name: image_name.clone(),
            writes,
            events,
            then,
        })
    };
    let mut events = vec![];
    // A valid UUID always gives an item name.
    let expected_item = vmi_id::item_name(uuid).unwrap_or_default();
    if observed.item_name != expected_item {
        events.push(warning(
            Target::Item,
            "ItemNameMismatch",
            format!(
                "item name {} does not match its UUID {uuid} (expected {expected_item}); the image is named by the UUID: {image_name}",
                observed.item_name
            ),
        ));
    }
    let Some(item_status) = observed.item_status else {
        // The sync has not written the item's status yet; its write wakes us.
        return done(vec![], events, Then::AwaitChange);
    };
    if observed.store_behind {
        // Our last write is on its way to the store, and its watch event wakes us again.
        return done(vec![], events, Then::Requeue(STORE_LAG_RECHECK));
    }
    let owner = observed.image.and_then(|img| {
        img.owner_references()
            .iter()
            .find(|o| o.controller == Some(true))
    });
    if let Some(owner) = owner
        && owner.uid != observed.item_uid
    {
        let error = ImageError::Conflict {
            image: image_name.clone(),
            owner: owner.name.clone(),
            item: observed.item_name.to_string(),
        };
        let condition = Condition::new(
            CONDITION_IMAGE_CONFLICT,
            ConditionStatus::True,
            error.reason(),
            error.to_string(),
        );
        events.push(warning(Target::Item, error.reason(), error.to_string()));
        let mut conditions = item_status.conditions.clone();
        crate::api::set_condition(&mut conditions, condition);
        return done(
            vec![Write::ItemConditions(conditions)],
            events,
            Then::Fail(error),
        );
    }
    let mut writes = vec![];
    if item_status
        .conditions
        .iter()
        .any(|c| c.type_ == CONDITION_IMAGE_CONFLICT)
    {
        let mut conditions = item_status.conditions.clone();
        conditions.retain(|c| c.type_ != CONDITION_IMAGE_CONFLICT);
        writes.push(Write::ItemConditions(conditions));
    }
    let facts = ItemFacts::from_status(observed.item_name, uuid, item_status);
    let previous = observed.image.and_then(|img| img.image_status());
    let need = descriptor_need(&facts, previous, cached);
    Prepared::Image(Pending {
        image_name,
        facts,
        need,
        writes,
        events,
    })
}

/// The previous status when it holds this content version already (so a restart does not
/// refetch every descriptor, and the cache can let go of it), else the cache, else the
/// library source.
fn descriptor_need(
    facts: &ItemFacts,
    previous: Option<&VirtualMachineImageStatus>,
    cached: bool,
) -> Need {
    if !facts.needs_descriptor() {
        return Need::NotNeeded;
    }
    let read_before = previous.is_some_and(|p| {
        p.is_ready()
            && p.provider_content_version.as_deref()
                == Some(facts.content_version.as_deref().unwrap_or_default())
            && p.provider_item_id.as_deref() == Some(facts.uuid.as_str())
    });
    if read_before {
        Need::Unchanged
    } else if cached {
        Need::Cached
    } else {
        Need::Fetch
    }
}

/// The image an item should have, given its descriptor, as writes of what differs from the
/// store and events for changes of the image's Ready state.
pub fn decide<Img: ImageKind>(
    observed: &Observed<'_, Img>,
    pending: Pending,
    obtained: Obtained,
) -> Decision {
    let Pending {
        image_name,
        facts,
        mut writes,
        mut events,
        ..
    } = pending;
    let existing = observed.image;
    let previous = existing.and_then(|img| img.image_status());
    let descriptor = match &obtained {
        Obtained::NotNeeded => Descriptor::NotNeeded,
        Obtained::Unchanged => Descriptor::Unchanged,
        Obtained::Parsed(info) => Descriptor::Parsed(info),
        Obtained::Failed(e) => Descriptor::Failed {
            reason: e.reason(),
            message: format!("content library item {}: {e}", observed.item_name),
        },
    };
    let status = observed
        .writable
        .image_status(image_status(&facts, descriptor, previous));
    // ExtraConfig's labels are in no status field: read from the descriptor, else kept as the
    // image carries them (their keys are listed in an annotation of ours).
    let extra = match &obtained {
        Obtained::Parsed(info) => info
            .extra_labels
            .iter()
            .map(|kv| (kv.key.clone(), kv.value.clone()))
            .collect(),
        _ => existing.map(extra_labels_of).unwrap_or_default(),
    };
    let mut labels = image_labels(&status);
    for key in &observed.service_labels {
        labels.insert(key.clone(), String::new());
    }
    let mut annotations = BTreeMap::new();
    if let Some(name) = status.name.as_ref().filter(|n| !n.is_empty()) {
        annotations.insert(ANNOTATION_DISPLAY_NAME.to_string(), name.clone());
    }
    if !extra.is_empty() {
        let keys: Vec<&str> = extra.keys().map(String::as_str).collect();
        annotations.insert(ANNOTATION_EXTRA_LABELS.to_string(), keys.join(","));
    }
    // Ours win over a descriptor's label of the same key.
    for (k, v) in extra {
        labels.entry(k).or_insert(v);
    }
    let object_current = existing.is_some_and(|img| {
        our_labels(img) == labels
            && our_annotations(img) == annotations
            && img.provider_ref() == Some(&observed.provider_ref)
            && observed
                .owner
                .as_ref()
                .is_none_or(|o| img.owner_references().iter().any(|r| r.uid == o.uid))
    });
    if !object_current {
        writes.push(Write::Image {
            labels,
            annotations,
            provider_ref: observed.provider_ref.clone(),
            owner: observed.owner.clone(),
        });
    }
    events.extend(transition(previous, &status));
    if !previous.is_some_and(|p| same_status(p, &status)) {
        writes.push(Write::ImageStatus(status));
    }
    let then = match obtained {
        // The status says why; the error makes the controller retry this item with backoff.
        Obtained::Failed(e) => Then::Fail(e),
        // Changes wake us; the resync pass is the safety net for a wake-up that was lost.
        _ => Then::AwaitChange,
    };
    Decision {
        image_name,
        writes,
        events,
        then,
    }
}

/// Annotation: the image's display name, for clients that list metadata only (VM Operator's).
pub const ANNOTATION_DISPLAY_NAME: &str = "vmware.com/display-name";
/// Annotation: the keys of the labels the image has from its OVF's ExtraConfig.
pub const ANNOTATION_EXTRA_LABELS: &str = "vmi-operator.vmware.com/extra-config-labels";
/// Prefix of the labels copied from cluster items to their images.
pub const LABEL_SERVICE_TYPE_PREFIX: &str = "type.services.vmware.com/";

/// Our labels on an existing image (the ones the image controller owns).
fn our_labels<Img: ImageKind>(img: &Img) -> BTreeMap<String, String> {
    let extra: Vec<String> = extra_labels_of(img).into_keys().collect();
    img.labels()
        .iter()
        .filter(|(k, _)| {
            k.starts_with("os.image.vmoperator.vmware.com/")
                || k.starts_with(LABEL_CAPABILITY_PREFIX)
                || k.starts_with(LABEL_SERVICE_TYPE_PREFIX)
                || k.as_str() == LABEL_IMAGE_TYPE
                || k.as_str() == LABEL_MANAGED_BY
                || extra.contains(k)
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn our_annotations<Img: ImageKind>(img: &Img) -> BTreeMap<String, String> {
    img.annotations()
        .iter()
        .filter(|(k, _)| [ANNOTATION_DISPLAY_NAME, ANNOTATION_EXTRA_LABELS].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// The ExtraConfig labels an image carries, by the keys our annotation lists.
fn extra_labels_of<Img: ImageKind>(img: &Img) -> BTreeMap<String, String> {
    let Some(keys) = img.annotations().get(ANNOTATION_EXTRA_LABELS) else {
        return BTreeMap::new();
    };
    keys.split(',')
        .filter_map(|k| img.labels().get(k).map(|v| (k.to_string(), v.clone())))
        .collect()
}

/// Events when the image's Ready state changes: failures and recoveries only, so a sync of
/// thousands of new images publishes no event, and a failing item does not flood the stream.
fn transition(
    previous: Option<&VirtualMachineImageStatus>,
    status: &VirtualMachineImageStatus,
) -> Option<Announce> {
    let now = status.ready_condition()?;
    let before = previous.and_then(|p| p.ready_condition());
    if before.is_some_and(|b| b.status == now.status && b.reason == now.reason) {
        return None;
    }
    match now.status {
        ConditionStatus::True if before.is_some() => Some(Announce {
            target: Target::Image,
            type_: EventType::Normal,
            reason: "ImageReady".into(),
            note: "the image is ready again".into(),
        }),
        ConditionStatus::True => None,
        _ => Some(warning(Target::Image, &now.reason, now.message.clone())),
    }
}

fn warning(target: Target, reason: &str, note: String) -> Announce {
    Announce {
        target,
        type_: EventType::Warning,
        reason: reason.to_string(),
        note,
    }
}

#[cfg(test)]
mod tests;
