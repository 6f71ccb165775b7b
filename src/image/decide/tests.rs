//! The image controller's decisions, case by case: each reconcile outcome from item and store.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use kube::api::ObjectMeta;

use super::*;
use crate::api::{CONDITION_READY, ContentLibraryItemType, VirtualMachineImage};
use crate::kinds::ImageKind;

const UUID: &str = "e1968c25-dd84-4506-8dc7-9beacb6b688e";
const ITEM: &str = "clitem-0a0044d7c690bcbea";
const IMAGE: &str = "vmi-0a0044d7c690bcbea";

fn item_status(type_: ContentLibraryItemType) -> ContentLibraryItemStatus {
    ContentLibraryItemStatus {
        name: Some("Photon OS 5.0".into()),
        content_version: Some("1".into()),
        type_: Some(type_),
        conditions: vec![Condition::new(
            CONDITION_READY,
            ConditionStatus::True,
            "Synced",
            "",
        )],
        security_compliance: Some(true),
        ..Default::default()
    }
}

fn owner(uid: &str) -> OwnerReference {
    OwnerReference {
        api_version: "imageregistry.vmware.com/v1alpha1".into(),
        kind: "ContentLibraryItem".into(),
        name: ITEM.into(),
        uid: uid.into(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn observed<'a>(
    status: Option<&'a ContentLibraryItemStatus>,
    image: Option<&'a VirtualMachineImage>,
) -> Observed<'a, VirtualMachineImage> {
    Observed {
        item_name: ITEM,
        item_uid: "uid-1",
        uuid: UUID,
        item_status: status,
        owner: Some(owner("uid-1")),
        provider_ref: ProviderRef {
            api_version: "imageregistry.vmware.com/v1alpha1".into(),
            kind: "ContentLibraryItem".into(),
            name: ITEM.into(),
        },
        image,
        store_behind: false,
        writable: crate::api::Writable::ALL,
        service_labels: vec![],
    }
}

fn photon() -> Arc<OvfInfo> {
    Arc::new(OvfInfo {
        name: Some("photon".into()),
        os_id: "vmwarePhoton64Guest".into(),
        os_type: "Linux".into(),
        os_version: "5.0".into(),
        firmware: "efi".into(),
        hardware_version: Some(19),
        capabilities: vec!["cloud-init".into()],
        ..Default::default()
    })
}

fn pending(prepared: Prepared) -> Pending {
    match prepared {
        Prepared::Image(p) => p,
        Prepared::Done(d) => panic!("expected an image to build, got {d:?}"),
    }
}

fn done(prepared: Prepared) -> Decision {
    match prepared {
        Prepared::Done(d) => d,
        Prepared::Image(p) => panic!("expected a decision, got pending {p:?}"),
    }
}

/// The image as the apiserver would hold it after `decision`'s writes.
fn written(decision: &Decision, before: Option<&VirtualMachineImage>) -> VirtualMachineImage {
    let mut image = before.cloned().unwrap_or_else(|| {
        VirtualMachineImage::new_image(
            ObjectMeta {
                name: Some(IMAGE.into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            None,
            None,
        )
    });
    for w in &decision.writes {
        match w {
            Write::Image {
                labels,
                annotations,
                provider_ref,
                owner,
            } => {
                image.metadata.labels = Some(labels.clone());
                image.metadata.annotations = Some(annotations.clone());
                image.metadata.owner_references = owner.clone().map(|o| vec![o]);
                image.spec.provider_ref = Some(provider_ref.clone());
            }
            Write::ImageStatus(status) => image.status = Some(status.clone()),
            Write::ItemConditions(_) => {}
        }
    }
    image
}

fn ready_reason(image: &VirtualMachineImage) -> (ConditionStatus, String) {
    let c = image.image_status().unwrap().ready_condition().unwrap();
    (c.status, c.reason.clone())
}

#[test]
fn an_invalid_uuid_is_announced_and_waits_for_a_change() {
    let status = item_status(ContentLibraryItemType::Ovf);
    let mut o = observed(Some(&status), None);
    o.uuid = "not-a-uuid";
    let d = done(prepare(&o, false));
    assert!(d.writes.is_empty());
    assert_eq!(d.events.len(), 1);
    assert_eq!(d.events[0].target, Target::Item);
    assert_eq!(d.events[0].reason, "InvalidItemUUID");
    assert!(matches!(&d.then, Then::Fail(e) if e.waits_for_change()));
}

#[test]
fn an_item_without_status_waits_for_the_sync() {
    let d = done(prepare(&observed(None, None), false));
    assert!(d.writes.is_empty() && d.events.is_empty());
    assert!(matches!(d.then, Then::AwaitChange));
}

#[test]
fn a_store_behind_our_write_is_waited_for_without_writing() {
    let status = item_status(ContentLibraryItemType::Ovf);
    let mut o = observed(Some(&status), None);
    o.store_behind = true;
    let d = done(prepare(&o, false));
    assert!(d.writes.is_empty());
    assert!(matches!(d.then, Then::Requeue(t) if t == STORE_LAG_RECHECK));
}

#[test]
fn a_misnamed_item_is_announced_and_still_gets_its_image() {
    let status = item_status(ContentLibraryItemType::Ovf);
    let mut o = observed(Some(&status), None);
    o.item_name = "my-item";
    let p = pending(prepare(&o, false));
    assert_eq!(p.image_name, IMAGE);
    assert_eq!(p.events[0].reason, "ItemNameMismatch");
    assert!(p.events[0].note.contains(IMAGE), "{}", p.events[0].note);
}

#[test]
fn a_new_ovf_item_is_fetched_and_written_in_two_writes_without_events() {
    let status = item_status(ContentLibraryItemType::Ovf);
    let o = observed(Some(&status), None);
    let p = pending(prepare(&o, false));
    assert_eq!(p.need, Need::Fetch);
    let d = decide(&o, p, Obtained::Parsed(photon()));
    assert_eq!(d.image_name, IMAGE);
    assert_eq!(d.writes.len(), 2, "{:?}", d.writes);
    assert!(matches!(&d.writes[0], Write::Image { owner: Some(o), .. } if o.uid == "uid-1"));
    assert!(d.events.is_empty(), "a new Ready image announces nothing");
    assert!(matches!(d.then, Then::AwaitChange));
    let image = written(&d, None);
    assert_eq!(ready_reason(&image).0, ConditionStatus::True);
    assert_eq!(
        image
            .labels()
            .get("os.image.vmoperator.vmware.com/type")
            .map(String::as_str),
        Some("Linux")
    );
}

#[test]
fn the_cache_is_used_before_the_source() {
    let status = item_status(ContentLibraryItemType::Ovf);
    let p = pending(prepare(&observed(Some(&status), None), true));
    assert_eq!(p.need, Need::Cached);
}

#[test]
fn a_status_that_holds_the_version_wins_over_the_cache() {
    // So the controller can drop the cached descriptor once its image status is stored.
    let status = item_status(ContentLibraryItemType::Ovf);
    let o = observed(Some(&status), None);
    let first = decide(&o, pending(prepare(&o, true)), Obtained::Parsed(photon()));
    let image = written(&first, None);
    let p = pending(prepare(&observed(Some(&status), Some(&image)), true));
    assert_eq!(p.need, Need::Unchanged);
}

#[test]
fn an_unchanged_image_is_not_refetched_nor_rewritten() {
    let status = item_status(ContentLibraryItemType::Ovf);
    let o = observed(Some(&status), None);
    let first = decide(&o, pending(prepare(&o, false)), Obtained::Parsed(photon()));
    let image = written(&first, None);
    // After a restart: the cache is empty, the store holds the image.
    let o = observed(Some(&status), Some(&image));
    let p = pending(prepare(&o, false));
    assert_eq!(p.need, Need::Unchanged);
    let d = decide(&o, p, Obtained::Unchanged);
    assert!(d.writes.is_empty(), "{:?}", d.writes);
    assert!(d.events.is_empty());
}

#[test]
fn a_new_content_version_is_fetched_again() {
    let status = item_status(ContentLibraryItemType::Ovf);
    let o = observed(Some(&status), None);
    let first = decide(&o, pending(prepare(&o, false)), Obtained::Parsed(photon()));
    let image = written(&first, None);
    let mut newer = status.clone();
    newer.content_version = Some("2".into());
    let p = pending(prepare(&observed(Some(&newer), Some(&image)), false));
    assert_eq!(p.need, Need::Fetch);
}

#[test]
fn a_failed_fetch_marks_the_image_and_recovery_is_announced() {
    let status = item_status(ContentLibraryItemType::Ovf);
    let o = observed(Some(&status), None);
    let first = decide(&o, pending(prepare(&o, false)), Obtained::Parsed(photon()));
    let ready = written(&first, None);

    let mut newer = status.clone();
    newer.content_version = Some("2".into());
    let o = observed(Some(&newer), Some(&ready));
    let failed = decide(
        &o,
        pending(prepare(&o, false)),
        Obtained::Failed(ImageError::LibraryNotFound("lib".into())),
    );
    assert!(matches!(
        &failed.then,
        Then::Fail(ImageError::LibraryNotFound(_))
    ));
    assert_eq!(
        failed.writes.len(),
        1,
        "only the status: {:?}",
        failed.writes
    );
    let broken = written(&failed, Some(&ready));
    assert_eq!(ready_reason(&broken).0, ConditionStatus::False);
    assert_eq!(failed.events.len(), 1);
    assert_eq!(failed.events[0].target, Target::Image);
    assert_eq!(failed.events[0].type_, EventType::Warning);
    assert_eq!(failed.events[0].reason, ready_reason(&broken).1);
    assert!(
        failed.events[0].note.contains("lib"),
        "{}",
        failed.events[0].note
    );

    let o = observed(Some(&newer), Some(&broken));
    let again = decide(&o, pending(prepare(&o, false)), Obtained::Parsed(photon()));
    assert_eq!(again.events.len(), 1);
    assert_eq!(again.events[0].reason, "ImageReady");
    assert_eq!(again.events[0].type_, EventType::Normal);
}

#[test]
fn an_image_of_another_item_is_a_conflict_that_waits_for_a_change() {
    let status = item_status(ContentLibraryItemType::Ovf);
    let mut theirs = written(
        &decide(
            &observed(Some(&status), None),
            pending(prepare(&observed(Some(&status), None), false)),
            Obtained::Parsed(photon()),
        ),
        None,
    );
    theirs.metadata.owner_references = Some(vec![OwnerReference {
        name: "clitem-other".into(),
        ..owner("uid-2")
    }]);
    let d = done(prepare(&observed(Some(&status), Some(&theirs)), false));
    // The whole list (VMware's is atomic): the sync's Ready stays beside the conflict.
    assert!(matches!(&d.writes[..], [Write::ItemConditions(c)]
        if c.len() == 2 && c[0].type_ == CONDITION_READY
            && c[1].type_ == CONDITION_IMAGE_CONFLICT && c[1].status == ConditionStatus::True));
    assert_eq!(d.events[0].reason, "VMIIDConflict");
    assert!(d.events[0].note.contains("clitem-other"));
    assert!(matches!(&d.then, Then::Fail(e @ ImageError::Conflict { .. }) if e.waits_for_change()));
}

#[test]
fn a_resolved_conflict_is_cleared_first() {
    let mut status = item_status(ContentLibraryItemType::Ovf);
    status.conditions.push(Condition::new(
        CONDITION_IMAGE_CONFLICT,
        ConditionStatus::True,
        "VMIIDConflict",
        "taken",
    ));
    let p = pending(prepare(&observed(Some(&status), None), false));
    let d = decide(
        &observed(Some(&status), None),
        p,
        Obtained::Parsed(photon()),
    );
    assert!(matches!(&d.writes[0], Write::ItemConditions(c)
        if c.len() == 1 && c[0].type_ == CONDITION_READY));
    assert_eq!(d.writes.len(), 3);
}

#[test]
fn an_iso_item_needs_no_descriptor() {
    let status = item_status(ContentLibraryItemType::Iso);
    let o = observed(Some(&status), None);
    let p = pending(prepare(&o, false));
    assert_eq!(p.need, Need::NotNeeded);
    let d = decide(&o, p, Obtained::NotNeeded);
    let image = written(&d, None);
    let s = image.image_status().unwrap();
    assert_eq!(s.name.as_deref(), Some("Photon OS 5.0"));
    assert!(s.conditions.iter().any(|c| c.type_ == CONDITION_READY));
}

#[test]
fn labels_of_other_managers_do_not_cause_a_rewrite() {
    let status = item_status(ContentLibraryItemType::Ovf);
    let o = observed(Some(&status), None);
    let first = decide(&o, pending(prepare(&o, false)), Obtained::Parsed(photon()));
    let mut image = written(&first, None);
    image
        .metadata
        .labels
        .get_or_insert_default()
        .insert("team".into(), "a".into());
    let o = observed(Some(&status), Some(&image));
    let d = decide(&o, pending(prepare(&o, false)), Obtained::Unchanged);
    assert!(d.writes.is_empty(), "{:?}", d.writes);
}

/// What VM Operator's own image controller writes that clients look for: the display-name
/// annotation, the V1Alpha1Compatible condition and labels from the OVF's ExtraConfig, the
/// service-type labels of cluster items. After a restart (no descriptor read again) they stay.
#[test]
fn vm_operator_annotations_labels_and_conditions_survive_a_restart() {
    use crate::api::CONDITION_V1ALPHA1_COMPATIBLE;
    use crate::ovf::KeyValue;
    let status = item_status(ContentLibraryItemType::Ovf);
    let mut o = observed(Some(&status), None);
    o.service_labels = vec!["type.services.vmware.com/tkg".into()];
    let info = Arc::new(OvfInfo {
        v1alpha1_compatible: true,
        extra_labels: vec![KeyValue {
            key: "example.com/hello".into(),
            value: "world".into(),
        }],
        ..(*photon()).clone()
    });
    let d = decide(&o, pending(prepare(&o, false)), Obtained::Parsed(info));
    let image = written(&d, None);
    let check = |image: &VirtualMachineImage| {
        assert_eq!(
            image
                .annotations()
                .get(ANNOTATION_DISPLAY_NAME)
                .map(String::as_str),
            Some("Photon OS 5.0")
        );
        assert_eq!(image.labels()["example.com/hello"], "world");
        assert_eq!(image.labels()["type.services.vmware.com/tkg"], "");
        let status = image.status.as_ref().unwrap();
        assert!(
            status
                .conditions
                .iter()
                .any(|c| c.type_ == CONDITION_V1ALPHA1_COMPATIBLE && c.is_true())
        );
    };
    check(&image);
    // A restart: the status holds this content version, nothing is fetched or written.
    let o = observed(Some(&status), Some(&image));
    let o = Observed {
        service_labels: vec!["type.services.vmware.com/tkg".into()],
        ..o
    };
    let p = pending(prepare(&o, false));
    assert_eq!(p.need, Need::Unchanged);
    let d = decide(&o, p, Obtained::Unchanged);
    assert!(d.writes.is_empty(), "{:?}", d.writes);
    check(&written(&d, Some(&image)));
}

/// On VMware's CRDs (which do not declare the seed's disk capacity and size, and refuse an
/// apply that carries them), the status leaves them out.
#[test]
fn fields_the_crds_do_not_declare_are_not_written() {
    let status = item_status(ContentLibraryItemType::Ovf);
    let mut o = observed(Some(&status), None);
    o.writable = crate::api::Writable::NONE;
    let info = Arc::new(OvfInfo {
        disks: vec![crate::ovf::OvfDisk {
            name: "vmdisk1".into(),
            capacity_bytes: 1 << 30,
            populated_bytes: Some(1 << 20),
            ..Default::default()
        }],
        ..(*photon()).clone()
    });
    let d = decide(&o, pending(prepare(&o, false)), Obtained::Parsed(info));
    let disks = &written(&d, None).status.unwrap().disks;
    assert_eq!(disks[0].requested, Some(Quantity("1Gi".into())));
    assert_eq!(
        (disks[0].capacity.as_ref(), disks[0].size.as_ref()),
        (None, None)
    );
}
