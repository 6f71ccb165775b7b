//! The pure part of a library sync: from a listing and the existing item resources, what to
//! write and what to delete. No I/O here.

use std::collections::{BTreeMap, HashSet};

use kube::ResourceExt;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::api::{
    CONDITION_READY, Condition, ConditionStatus, ContentLibraryItemStatus, ContentLibraryItemType,
    FileInfo, set_condition,
};
use crate::kinds::ItemKind;
use crate::source::ItemInfo;
use crate::stores::Holds;
use crate::vmi_id;

/// One item resource to create or update. Its status is made again when its write is due
/// ([`DesiredItem::status`]): held in the plan for the length of the sync, the statuses of a
/// 20,000-item first sync raised the operator's peak by some 13 MiB.
#[derive(Clone, Debug, PartialEq)]
pub struct DesiredItem {
    pub name: String,
    /// Its entry in the listing.
    pub listed: usize,
    pub type_: ContentLibraryItemType,
    /// False when only the status changed (the object itself is already as wanted).
    pub write_object: bool,
}

impl DesiredItem {
    /// The item's UUID, from the listing the plan was made from.
    pub fn uuid<'a>(&self, listing: &'a [ItemInfo]) -> &'a str {
        &listing[self.listed].id
    }

    /// The status to write, from the listing the plan was made from and the item resource as
    /// the store holds it when the write is due (what `plan` compared, or a newer version).
    pub fn status<I: ItemKind>(
        &self,
        listing: &[ItemInfo],
        current: Option<&I>,
        now: &str,
    ) -> ContentLibraryItemStatus {
        item_status(
            &listing[self.listed],
            self.type_,
            current.and_then(|c| c.item_status()),
            now,
        )
    }
}

/// What a sync does.
#[derive(Debug, Default, PartialEq)]
pub struct SyncPlan {
    pub apply: Vec<DesiredItem>,
    /// Names of item resources whose items are gone from the library.
    pub delete: Vec<String>,
    pub unchanged: usize,
    /// Listed items that get no resource, with why (unsupported type, malformed UUID, duplicate).
    pub skipped: Vec<(String, String)>,
}

/// Maps a source's item type to ours; `None` for types that make no image (e.g. vm-template).
pub fn item_type(source_type: &str) -> Option<ContentLibraryItemType> {
    match source_type.to_ascii_lowercase().as_str() {
        "ovf" => Some(ContentLibraryItemType::Ovf),
        "iso" => Some(ContentLibraryItemType::Iso),
        // VM templates in the inventory: deployed by clone, with no descriptor to read here.
        _ => None,
    }
}

/// The status an item resource should have for a listed item. Times of the previous status are
/// kept where nothing changed, so an unchanged item compares equal and causes no write.
pub fn item_status(
    info: &ItemInfo,
    type_: ContentLibraryItemType,
    previous: Option<&ContentLibraryItemStatus>,
    now: &str,
) -> ContentLibraryItemStatus {
    // Only the Ready condition is the sync's. The others (the image controller's) are carried
    // as they are: VMware's CRDs make the list atomic, so an apply without them would drop them.
    let mut conditions = previous.map(|p| p.conditions.clone()).unwrap_or_default();
    let (status, reason, message) = match (info.security_compliance, &info.security_message) {
        (false, message) => (
            ConditionStatus::True,
            "SecurityNotCompliant",
            message
                .clone()
                .unwrap_or_else(|| "the item failed a security check of its source".into()),
        ),
        (true, _) => (ConditionStatus::True, "Synced", String::new()),
    };
    set_condition(
        &mut conditions,
        Condition::new(CONDITION_READY, status, reason, message),
    );
    let mut status = ContentLibraryItemStatus {
        name: Some(info.name.clone()),
        description: non_empty(&info.description),
        version: non_empty(&info.metadata_version),
        content_version: non_empty(&info.content_version),
        type_: Some(type_),
        size_in_bytes: Some(bytes(info.size)),
        cached: info.cached,
        security_compliance: Some(info.security_compliance),
        certificate_verification_info: None,
        file_info: info
            .files
            .iter()
            .map(|f| FileInfo {
                name: f.name.clone(),
                size_in_bytes: Some(bytes(f.size)),
                version: Some(if f.version.is_empty() {
                    info.content_version.clone()
                } else {
                    f.version.clone()
                }),
                cached: f.cached,
                storage_uri: None,
            })
            .collect(),
        source_id: None,
        creation_time: info.creation_time.map(crate::api::format_time),
        last_modified_time: info.last_modified_time.map(crate::api::format_time),
        last_sync_time: None,
        conditions,
    };
    // lastSyncTime says when the resource last took in a change from its library.
    status.last_sync_time = match previous {
        Some(p)
            if ContentLibraryItemStatus {
                last_sync_time: p.last_sync_time.clone(),
                ..status.clone()
            } == *p =>
        {
            p.last_sync_time.clone()
        }
        _ => Some(now.to_string()),
    };
    status
}

/// A byte count as a quantity (`sizeInBytes`).
fn bytes(n: u64) -> Quantity {
    Quantity(n.to_string())
}

fn non_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// Labels every item resource of `library` carries.
pub fn item_labels(library: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (crate::kinds::LABEL_LIBRARY.to_string(), library.to_string()),
        (
            crate::kinds::LABEL_MANAGED_BY.to_string(),
            crate::kinds::MANAGED_BY.to_string(),
        ),
    ])
}

/// Whether an existing item resource already has the labels and owner we want.
fn object_is_current<I: ItemKind>(
    existing: &I,
    uuid: &str,
    library: &str,
    owner_uid: Option<&str>,
) -> bool {
    let labels = existing.labels();
    let labelled = item_labels(library)
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v));
    let owned =
        owner_uid.is_none_or(|uid| existing.owner_references().iter().any(|o| o.uid == uid));
    labelled && owned && existing.uuid() == uuid && existing.library_name() == library
}

/// Plans a sync of `library` (the library resource's name) from a successful listing.
/// `existing` are the item resources that carry the library's label.
///
/// Existing items are decoded one at a time (the store holds them packed): decoding a library's
/// every item up front cost a 10,000-item library some 30 MB for the length of each sync. An
/// item that no longer decodes is an error.
pub fn plan<I: ItemKind, P: Holds<I>>(
    listing: &[ItemInfo],
    existing: &[std::sync::Arc<P>],
    library: &str,
    owner_uid: Option<&str>,
    now: &str,
) -> Result<SyncPlan, serde_json::Error> {
    let by_name: BTreeMap<String, &P> = existing
        .iter()
        .map(|i| (i.name_any(), i.as_ref()))
        .collect();
    let mut plan = SyncPlan::default();
    let mut wanted = HashSet::new();
    for (listed, info) in listing.iter().enumerate() {
        let Some(type_) = item_type(&info.item_type) else {
            plan.skipped.push((
                info.name.clone(),
                format!("type {:?} makes no image", info.item_type),
            ));
            continue;
        };
        let name = match vmi_id::item_name(&info.id) {
            Ok(name) => name,
            Err(e) => {
                plan.skipped.push((info.name.clone(), e.to_string()));
                continue;
            }
        };
        if !wanted.insert(name.clone()) {
            plan.skipped
                .push((info.name.clone(), format!("duplicate item id {}", info.id)));
            continue;
        }
        let current = by_name.get(&name).map(|p| p.object()).transpose()?;
        let current = current.as_deref();
        let status = item_status(info, type_, current.and_then(|c| c.item_status()), now);
        let write_object =
            !current.is_some_and(|c| object_is_current(c, &info.id, library, owner_uid));
        if !write_object && current.and_then(|c| c.item_status()) == Some(&status) {
            plan.unchanged += 1;
            continue;
        }
        plan.apply.push(DesiredItem {
            name,
            listed,
            type_,
            write_object,
        });
    }
    plan.delete = by_name
        .keys()
        .filter(|n| !wanted.contains(*n))
        .cloned()
        .collect();
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ContentLibraryItem;
    use crate::kinds::ItemKind;
    use kube::api::ObjectMeta;
    use std::sync::Arc;

    fn info(id: &str, name: &str, version: &str) -> ItemInfo {
        ItemInfo {
            id: id.into(),
            name: name.into(),
            item_type: "ovf".into(),
            content_version: version.into(),
            security_compliance: true,
            ..Default::default()
        }
    }

    fn lib() -> &'static str {
        "lib"
    }

    /// The items a first sync of `listing` leaves.
    fn synced(listing: &[ItemInfo], now: &str) -> Vec<Arc<ContentLibraryItem>> {
        existing_from(
            &plan(listing, NONE, lib(), None, now).unwrap(),
            listing,
            now,
        )
    }

    fn existing_from(
        plan: &SyncPlan,
        listing: &[ItemInfo],
        now: &str,
    ) -> Vec<Arc<ContentLibraryItem>> {
        plan.apply
            .iter()
            .map(|d| {
                let meta = ObjectMeta {
                    name: Some(d.name.clone()),
                    labels: Some(item_labels("lib")),
                    ..Default::default()
                };
                Arc::new(ContentLibraryItem::new_item(
                    meta,
                    d.uuid(listing),
                    "lib",
                    Some(d.status::<ContentLibraryItem>(listing, None, now)),
                ))
            })
            .collect()
    }

    /// The status the `i`th write of `plan` makes, with `existing` as the store holds it then.
    fn status_of(
        plan: &SyncPlan,
        i: usize,
        listing: &[ItemInfo],
        existing: &[Arc<ContentLibraryItem>],
        now: &str,
    ) -> ContentLibraryItemStatus {
        let desired = &plan.apply[i];
        let current = existing.iter().find(|e| e.name_any() == desired.name);
        desired.status(listing, current.map(|c| c.as_ref()), now)
    }

    const NONE: &[Arc<ContentLibraryItem>] = &[];
    const A: &str = "e1968c25-dd84-4506-8dc7-9beacb6b688e";
    const B: &str = "11111111-2222-3333-4444-555555555555";

    #[test]
    fn new_items_are_applied_then_unchanged_ones_are_not() {
        let listing = vec![info(A, "Photon OS 5.0", "1"), info(B, "Ubuntu", "3")];
        let first = plan(&listing, NONE, lib(), None, "2026-01-01T00:00:00Z").unwrap();
        assert_eq!(first.apply.len(), 2);
        assert_eq!(first.apply[0].name, "clitem-0a0044d7c690bcbea");
        assert!(first.delete.is_empty());

        let existing = existing_from(&first, &listing, "2026-01-01T00:00:00Z");
        let second = plan(&listing, &existing, lib(), None, "2026-01-02T00:00:00Z").unwrap();
        assert_eq!(second.apply, vec![]);
        assert_eq!(second.unchanged, 2);
    }

    #[test]
    fn a_changed_content_version_is_applied_with_a_new_sync_time() {
        let existing = synced(&[info(A, "Photon", "1")], "t1");
        let listing = [info(A, "Photon", "2")];
        let second = plan(&listing, &existing, lib(), None, "t2").unwrap();
        assert_eq!(second.apply.len(), 1);
        assert!(!second.apply[0].write_object, "only the status changed");
        let status = status_of(&second, 0, &listing, &existing, "t2");
        assert_eq!(status.content_version.as_deref(), Some("2"));
        assert_eq!(status.last_sync_time.as_deref(), Some("t2"));
        assert_eq!(second.apply[0].uuid(&listing), A);
    }

    #[test]
    fn packed_items_plan_as_decoded_ones_and_a_damaged_one_is_an_error() {
        use crate::stores::Packed;
        let existing = synced(&[info(A, "a", "1"), info(B, "b", "1")], "t");
        let packed: Vec<_> = existing
            .iter()
            .map(|i| Arc::new(Packed::pack(i.as_ref().clone())))
            .collect();
        let listing = [info(A, "a", "2")];
        let decoded = plan(&listing, &existing, lib(), None, "t2").unwrap();
        assert_eq!(plan(&listing, &packed, lib(), None, "t2").unwrap(), decoded);
        assert_eq!((decoded.apply.len(), decoded.delete.len()), (1, 1));

        let damaged: Vec<_> = packed
            .iter()
            .map(|p| Arc::new(Packed::<ContentLibraryItem>::damaged(p)))
            .collect();
        assert!(plan(&listing, &damaged, lib(), None, "t2").is_err());
    }

    #[test]
    fn items_gone_from_the_listing_are_deleted() {
        let existing = synced(&[info(A, "a", "1"), info(B, "b", "1")], "t");
        let second = plan(&[info(B, "b", "1")], &existing, lib(), None, "t").unwrap();
        assert_eq!(second.delete, vec!["clitem-0a0044d7c690bcbea".to_string()]);
    }

    #[test]
    fn unsupported_types_malformed_ids_and_duplicates_are_skipped() {
        let mut template = info(A, "vm", "1");
        template.item_type = "vm-template".into();
        let listing = vec![
            template,
            info("not-a-uuid", "bad", "1"),
            info(B, "b", "1"),
            info(B, "b again", "1"),
        ];
        let p = plan(&listing, NONE, lib(), None, "t").unwrap();
        assert_eq!(p.apply.len(), 1);
        assert_eq!(p.skipped.len(), 3);
    }

    #[test]
    fn security_failures_are_carried_to_the_status() {
        let mut bad = info(A, "a", "1");
        bad.security_compliance = false;
        bad.security_message = Some("manifest digest mismatch for disk.vmdk".into());
        let listing = [bad];
        let p = plan(&listing, NONE, lib(), None, "t").unwrap();
        let status = &status_of(&p, 0, &listing, NONE, "t");
        assert_eq!(status.security_compliance, Some(false));
        assert!(status.conditions[0].message.contains("disk.vmdk"));
    }

    /// VMware's CRDs make the item's conditions one atomic list: the sync's apply carries the
    /// image controller's conditions as it found them, and changes only Ready.
    #[test]
    fn other_conditions_of_an_item_are_kept() {
        let mut existing = synced(&[info(A, "a", "1")], "t");
        let conflict = Condition::new(
            "VirtualMachineImageConflict",
            ConditionStatus::True,
            "VMIIDConflict",
            "x",
        );
        Arc::make_mut(&mut existing[0])
            .status
            .as_mut()
            .unwrap()
            .conditions
            .push(conflict.clone());
        let listing = [info(A, "a", "2")];
        let second = plan(&listing, &existing, lib(), None, "t2").unwrap();
        let conditions = &status_of(&second, 0, &listing, &existing, "t2").conditions;
        assert_eq!(conditions.len(), 2);
        assert_eq!(conditions[1], conflict);
    }

    #[test]
    fn file_entries_are_complete() {
        let mut item = info(A, "a", "7");
        item.files = vec![crate::source::ItemFile {
            name: "a.ovf".into(),
            size: 4096,
            cached: true,
            version: String::new(),
        }];
        let listing = [item];
        let p = plan(&listing, NONE, lib(), None, "t").unwrap();
        let status = status_of(&p, 0, &listing, NONE, "t");
        let file = &status.file_info[0];
        assert_eq!(file.size_in_bytes, Some(Quantity("4096".into())));
        assert_eq!(
            file.version.as_deref(),
            Some("7"),
            "the content version stands in"
        );
        assert_eq!(status.type_, Some(ContentLibraryItemType::Ovf));
    }
}
