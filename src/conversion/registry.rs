//! ContentLibrary, ClusterContentLibrary, ContentLibraryItem, ClusterContentLibraryItem
//! (`imageregistry.vmware.com`), hub v1alpha2 (image-registry-operator-api
//! `api/v1alpha1/contentlibrary_conversion.go`, `contentlibraryitem_conversion.go`).
//!
//! Libraries: `uuid` <-> `id`; `resourceNamingStrategy` FROM_ITEM_ID/PREFER_ITEM_SOURCE_ID <->
//! FromItemID/PreferItemSourceID; up, `libraryType` is ContentLibrary and `writable` sets both
//! `allowPublish` and `allowDelete`; down, `writable` is either of them and `status.type` is
//! Subscribed when there is subscription info, else Local; `publishInfo.url`,
//! `subscriptionInfo.url` <-> `URL`; `storageBacking` is a list in the hub, its first entry in
//! v1alpha1. The project's `spec.source`, `status.itemCount`, `status.observedGeneration` are
//! fields of both versions of the project's CRDs (its earlier releases served v1alpha1 with
//! them), copied as they are.
//!
//! Items: `uuid` <-> `id`; `status.metadataVersion` <-> `status.version`; down,
//! `status.contentLibraryRef` is `{kind: (Cluster)ContentLibrary, name: spec.libraryName}`; up,
//! `spec.libraryName` is its name; certificate verification statuses NOT_AVAILABLE.. <->
//! NotAvailable...

use serde_json::Value;

use super::annotation::IMAGE_REGISTRY_KEY;
use super::conditions;
use super::json::{
    Map, Result, as_obj, boolean, copy, header, obj, objs, pick, rename, set_or_remove, string,
    string_or_empty,
};
use super::kind::{Kind, Restore, Spoke};

const GROUP: &str = "imageregistry.vmware.com";

const LIBRARY_SPOKES: [Spoke; 1] = [Spoke {
    version: "v1alpha1",
    up: library_up,
    down: library_down,
}];

const ITEM_SPOKES: [Spoke; 1] = [Spoke {
    version: "v1alpha1",
    up: item_up,
    down: item_down,
}];

pub(crate) const CONTENT_LIBRARY: Kind = Kind {
    group: GROUP,
    kind: "ContentLibrary",
    namespaced: true,
    hub: "v1alpha2",
    spokes: &LIBRARY_SPOKES,
    annotation: IMAGE_REGISTRY_KEY,
    restore: Restore::Fields(restore_library),
};

pub(crate) const CLUSTER_CONTENT_LIBRARY: Kind = Kind {
    kind: "ClusterContentLibrary",
    namespaced: false,
    restore: Restore::Fields(restore_cluster_library),
    ..CONTENT_LIBRARY
};

pub(crate) const CONTENT_LIBRARY_ITEM: Kind = Kind {
    group: GROUP,
    kind: "ContentLibraryItem",
    namespaced: true,
    hub: "v1alpha2",
    spokes: &ITEM_SPOKES,
    annotation: IMAGE_REGISTRY_KEY,
    restore: Restore::Fields(restore_item),
};

pub(crate) const CLUSTER_CONTENT_LIBRARY_ITEM: Kind = Kind {
    kind: "ClusterContentLibraryItem",
    namespaced: false,
    ..CONTENT_LIBRARY_ITEM
};

/// The namespaced library has the writable/allow* fields; the cluster one only the base spec.
fn is_cluster(kind: &Kind) -> bool {
    !kind.namespaced
}

/// Status fields of libraries copied as they are.
const LIBRARY_STATUS: [&str; 11] = [
    // The project's, in both versions of its CRDs (VMware's prune them).
    "itemCount",
    "observedGeneration",
    "name",
    "description",
    "version",
    "securityPolicyID",
    "state",
    "serverGUID",
    "creationTime",
    "lastModifiedTime",
    "lastSyncTime",
];

/// Status fields of items copied as they are.
const ITEM_STATUS: [&str; 11] = [
    "name",
    "description",
    "contentVersion",
    "sourceID",
    "sizeInBytes",
    "cached",
    "securityCompliance",
    "creationTime",
    "lastModifiedTime",
    "lastSyncTime",
    "fileInfo",
];

/// `ResourceNamingStrategy` spellings: (v1alpha1, v1alpha2); anything else is copied.
const NAMING: [(&str, &str); 2] = [
    ("FROM_ITEM_ID", "FromItemID"),
    ("PREFER_ITEM_SOURCE_ID", "PreferItemSourceID"),
];

/// `CertVerificationStatus` spellings: (v1alpha1, v1alpha2); anything else is copied.
const CERT_STATUS: [(&str, &str); 6] = [
    ("NOT_AVAILABLE", "NotAvailable"),
    ("VERIFIED", "Verified"),
    ("INTERNAL", "Internal"),
    ("VERIFICATION_FAILURE", "VerificationFailure"),
    ("VERIFICATION_IN_PROGRESS", "VerificationInProgress"),
    ("UNTRUSTED", "Untrusted"),
];

fn spelling(table: &[(&str, &str)], value: &str, up: bool) -> String {
    table
        .iter()
        .find(|(v1, v2)| value == if up { *v1 } else { *v2 })
        .map(|(v1, v2)| if up { *v2 } else { *v1 })
        .unwrap_or(value)
        .to_string()
}

fn map_string(
    src: &Map,
    key: &str,
    dst: &mut Map,
    table: &[(&str, &str)],
    up: bool,
    path: &str,
) -> Result<()> {
    if let Some(v) = string(src, key, path)? {
        dst.insert(key.into(), Value::String(spelling(table, v, up)));
    }
    Ok(())
}

/// Conditions, each converted (`Convert_v1alpha1_Condition_To_v1_Condition` and back).
fn map_conditions(src: &Map, dst: &mut Map, up: bool) -> Result<()> {
    if src.contains_key("conditions") {
        let list = objs(src, "conditions", "status")?
            .into_iter()
            .map(|(c, path)| {
                if up {
                    conditions::to_metav1(c, &path)
                } else {
                    conditions::to_capi(c, &path)
                }
            })
            .collect::<Result<Vec<_>>>()?;
        dst.insert("conditions".into(), Value::Array(list));
    }
    Ok(())
}

/// `url` (v1alpha2) and `URL` (v1alpha1) of publish and subscription info.
fn map_url_info(src: &Map, key: &str, dst: &mut Map, up: bool) -> Result<()> {
    if let Some(info) = obj(src, key, "status")? {
        let (from, to) = if up { ("URL", "url") } else { ("url", "URL") };
        let mut out = pick(info, &["published", "onDemand", "automaticSync"]);
        rename(info, from, &mut out, to);
        dst.insert(key.into(), Value::Object(out));
    }
    Ok(())
}

/// Hub library to v1alpha1 (`ConvertFrom`).
fn library_down(hub: &Value, kind: &Kind, version: &'static str) -> Result<Value> {
    let root = as_obj(hub, "")?;
    let empty = Map::new();
    let spec_in = obj(root, "spec", "")?.unwrap_or(&empty);
    let status_in = obj(root, "status", "")?.unwrap_or(&empty);
    let mut out = header(root, &kind.api_version(version));

    let mut spec = Map::new();
    spec.insert(
        "uuid".into(),
        Value::String(string_or_empty(spec_in, "id", "spec")?.into()),
    );
    map_string(
        spec_in,
        "resourceNamingStrategy",
        &mut spec,
        &NAMING,
        false,
        "spec",
    )?;
    copy(spec_in, &mut spec, &["source"]);
    if !is_cluster(kind) {
        let allowed = |k| boolean(spec_in, k, "spec").map(|b| b.unwrap_or(false));
        let writable = allowed("allowPublish")? || allowed("allowDelete")?;
        spec.insert("writable".into(), Value::Bool(writable));
        copy(spec_in, &mut spec, &["allowImport"]);
    }

    let mut status = pick(status_in, &LIBRARY_STATUS);
    map_url_info(status_in, "publishInfo", &mut status, false)?;
    map_url_info(status_in, "subscriptionInfo", &mut status, false)?;
    if let Some(first) = objs(status_in, "storageBacking", "status")?.first() {
        status.insert("storageBacking".into(), Value::Object(first.0.clone()));
    }
    let library_type = if status_in.contains_key("subscriptionInfo") {
        "Subscribed"
    } else {
        "Local"
    };
    status.insert("type".into(), Value::String(library_type.into()));
    map_conditions(status_in, &mut status, false)?;

    out.insert("spec".into(), Value::Object(spec));
    out.insert("status".into(), Value::Object(status));
    Ok(Value::Object(out))
}

/// v1alpha1 library to the hub (`ConvertTo`).
fn library_up(spoke: &Value, kind: &Kind, _version: &'static str) -> Result<Value> {
    let root = as_obj(spoke, "")?;
    let empty = Map::new();
    let spec_in = obj(root, "spec", "")?.unwrap_or(&empty);
    let mut out = header(root, &kind.api_version(kind.hub));

    let mut spec = Map::new();
    spec.insert(
        "id".into(),
        Value::String(string_or_empty(spec_in, "uuid", "spec")?.into()),
    );
    spec.insert("libraryType".into(), Value::String("ContentLibrary".into()));
    map_string(
        spec_in,
        "resourceNamingStrategy",
        &mut spec,
        &NAMING,
        true,
        "spec",
    )?;
    copy(spec_in, &mut spec, &["source"]);
    if !is_cluster(kind) {
        copy(spec_in, &mut spec, &["allowImport"]);
        // Go's omitempty: false is omitted.
        if boolean(spec_in, "writable", "spec")? == Some(true) {
            spec.insert("allowDelete".into(), Value::Bool(true));
            spec.insert("allowPublish".into(), Value::Bool(true));
        }
    }
    out.insert("spec".into(), Value::Object(spec));

    if let Some(status_in) = obj(root, "status", "")? {
        let mut status = pick(status_in, &LIBRARY_STATUS);
        map_url_info(status_in, "publishInfo", &mut status, true)?;
        map_url_info(status_in, "subscriptionInfo", &mut status, true)?;
        if let Some(sb) = obj(status_in, "storageBacking", "status")? {
            status.insert(
                "storageBacking".into(),
                Value::Array(vec![Value::Object(sb.clone())]),
            );
        }
        map_conditions(status_in, &mut status, true)?;
        out.insert("status".into(), Value::Object(status));
    }
    Ok(Value::Object(out))
}

/// `ContentLibrary.ConvertTo`'s restore.
fn restore_library(hub: &mut Map, kept: &Map) {
    restore_fields(
        hub,
        kept,
        &["storageClass", "libraryType", "allowPublish", "allowDelete"],
    );
}

/// `ClusterContentLibrary.ConvertTo`'s restore.
fn restore_cluster_library(hub: &mut Map, kept: &Map) {
    restore_fields(hub, kept, &["libraryType"]);
}

/// `ContentLibraryItem.ConvertTo`'s restore.
fn restore_item(hub: &mut Map, kept: &Map) {
    restore_fields(hub, kept, &["libraryName"]);
}

/// These spec fields and the whole status, as kept.
fn restore_fields(hub: &mut Map, kept: &Map, spec_fields: &[&str]) {
    let kept_spec = kept.get("spec").and_then(Value::as_object);
    let spec = super::json::obj_mut(hub, "spec");
    for key in spec_fields {
        set_or_remove(spec, key, kept_spec.and_then(|s| s.get(*key)));
    }
    set_or_remove(hub, "status", kept.get("status"));
}

/// Hub item to v1alpha1 (`ConvertFrom`).
fn item_down(hub: &Value, kind: &Kind, version: &'static str) -> Result<Value> {
    let root = as_obj(hub, "")?;
    let empty = Map::new();
    let spec_in = obj(root, "spec", "")?.unwrap_or(&empty);
    let status_in = obj(root, "status", "")?.unwrap_or(&empty);
    let mut out = header(root, &kind.api_version(version));

    let mut spec = Map::new();
    spec.insert(
        "uuid".into(),
        Value::String(string_or_empty(spec_in, "id", "spec")?.into()),
    );

    let mut status = pick(status_in, &ITEM_STATUS);
    rename(status_in, "version", &mut status, "metadataVersion");
    // v1alpha1 knows OVF and ISO only (VMware copies "VM", which v1alpha1's schema rejects).
    if let Some(t) = string(status_in, "type", "status")?.filter(|t| ["OVF", "ISO"].contains(t)) {
        status.insert("type".into(), Value::String(t.into()));
    }
    map_cert_info(status_in, &mut status, false)?;
    if status_in.contains_key("fileInfo") {
        let files = objs(status_in, "fileInfo", "status")?
            .into_iter()
            .map(|(f, _)| {
                // Required in v1alpha1: Go's zero values.
                let mut file = f.clone();
                file.entry("sizeInBytes")
                    .or_insert_with(|| Value::String("0".into()));
                file.entry("version")
                    .or_insert_with(|| Value::String(String::new()));
                file.entry("cached").or_insert(Value::Bool(false));
                Value::Object(file)
            })
            .collect();
        status.insert("fileInfo".into(), Value::Array(files));
    }
    let library_kind = if is_cluster(kind) {
        "ClusterContentLibrary"
    } else {
        "ContentLibrary"
    };
    let mut lib_ref = Map::new();
    lib_ref.insert("kind".into(), Value::String(library_kind.into()));
    lib_ref.insert(
        "name".into(),
        Value::String(string_or_empty(spec_in, "libraryName", "spec")?.into()),
    );
    status.insert("contentLibraryRef".into(), Value::Object(lib_ref));
    map_conditions(status_in, &mut status, false)?;

    out.insert("spec".into(), Value::Object(spec));
    out.insert("status".into(), Value::Object(status));
    Ok(Value::Object(out))
}

/// v1alpha1 item to the hub (`ConvertTo`).
fn item_up(spoke: &Value, kind: &Kind, _version: &'static str) -> Result<Value> {
    let root = as_obj(spoke, "")?;
    let empty = Map::new();
    let spec_in = obj(root, "spec", "")?.unwrap_or(&empty);
    let status_in = obj(root, "status", "")?;
    let mut out = header(root, &kind.api_version(kind.hub));

    let library_name = match status_in
        .map(|s| obj(s, "contentLibraryRef", "status"))
        .transpose()?
    {
        Some(Some(r)) => string_or_empty(r, "name", "status.contentLibraryRef")?,
        _ => "",
    };
    let mut spec = Map::new();
    spec.insert(
        "id".into(),
        Value::String(string_or_empty(spec_in, "uuid", "spec")?.into()),
    );
    spec.insert("libraryName".into(), Value::String(library_name.into()));
    out.insert("spec".into(), Value::Object(spec));

    if let Some(status_in) = status_in {
        let mut status = pick(status_in, &ITEM_STATUS);
        copy(status_in, &mut status, &["type"]);
        rename(status_in, "metadataVersion", &mut status, "version");
        map_cert_info(status_in, &mut status, true)?;
        map_conditions(status_in, &mut status, true)?;
        out.insert("status".into(), Value::Object(status));
    }
    Ok(Value::Object(out))
}

fn map_cert_info(src: &Map, dst: &mut Map, up: bool) -> Result<()> {
    let key = "certificateVerificationInfo";
    if let Some(info) = obj(src, key, "status")? {
        let mut out = pick(info, &["certChain"]);
        map_string(
            info,
            "status",
            &mut out,
            &CERT_STATUS,
            up,
            "status.certificateVerificationInfo",
        )?;
        dst.insert(key.into(), Value::Object(out));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::conversion::{IMAGE_REGISTRY_KEY, convert};

    const HUB: &str = "imageregistry.vmware.com/v1alpha2";
    const V1A1: &str = "imageregistry.vmware.com/v1alpha1";
    const T0: &str = "2024-01-02T03:04:05Z";

    #[test]
    fn library_uuid_naming_and_writable() {
        let s = json!({"apiVersion": V1A1, "kind": "ContentLibrary", "metadata": {"name": "l", "namespace": "ns"},
            "spec": {"uuid": "u-1", "writable": true, "resourceNamingStrategy": "PREFER_ITEM_SOURCE_ID"},
            "status": {"publishInfo": {"URL": "https://p", "published": true},
                "storageBacking": {"type": "Datastore", "datastoreID": "ds-1"}, "type": "Local"}});
        let h = convert(&s, HUB).expect("converts");
        assert_eq!(
            h["spec"],
            json!({"id": "u-1", "libraryType": "ContentLibrary", "resourceNamingStrategy": "PreferItemSourceID",
                "allowPublish": true, "allowDelete": true})
        );
        assert_eq!(
            h["status"],
            json!({"publishInfo": {"url": "https://p", "published": true},
                "storageBacking": [{"type": "Datastore", "datastoreID": "ds-1"}]})
        );
        assert!(
            h["metadata"].get("annotations").is_none(),
            "nothing lost: {h}"
        );
        assert_eq!(convert(&h, V1A1), Ok(s));
    }

    #[test]
    fn library_down_keeps_the_hub_in_the_annotation() {
        let h = json!({"apiVersion": HUB, "kind": "ContentLibrary", "metadata": {"name": "l"},
            "spec": {"id": "u-1", "allowDelete": true, "storageClass": "gold",
                "resourceNamingStrategy": "FromItemID", "source": "https://example.com/lib.json"},
            "status": {"subscriptionInfo": {"url": "https://s", "onDemand": true, "automaticSync": false},
                "itemCount": 3, "observedGeneration": 2}});
        let s = convert(&h, V1A1).expect("converts");
        assert_eq!(
            s["spec"],
            json!({"uuid": "u-1", "writable": true, "resourceNamingStrategy": "FROM_ITEM_ID",
                "source": "https://example.com/lib.json"})
        );
        assert_eq!(
            s["status"],
            json!({"subscriptionInfo": {"URL": "https://s", "onDemand": true, "automaticSync": false},
                "type": "Subscribed", "itemCount": 3, "observedGeneration": 2})
        );
        let data: serde_json::Value = serde_json::from_str(
            s["metadata"]["annotations"][IMAGE_REGISTRY_KEY]
                .as_str()
                .expect("annotation"),
        )
        .expect("JSON");
        assert_eq!(data["spec"]["storageClass"], "gold");
        assert_eq!(convert(&s, HUB), Ok(h.clone()));

        // Edited in v1alpha1: VMware's restore (storageClass, libraryType, allow*, status) comes
        // from the annotation; the source is v1alpha1's own field.
        let mut edited = s;
        edited["spec"]["uuid"] = json!("u-2");
        edited["spec"]["writable"] = json!(false);
        let back = convert(&edited, HUB).expect("converts");
        assert_eq!(back["spec"]["id"], "u-2");
        assert_eq!(back["spec"]["allowDelete"], true);
        assert_eq!(back["spec"]["storageClass"], "gold");
        assert_eq!(back["spec"]["source"], "https://example.com/lib.json");
        assert_eq!(back["status"], h["status"]);
    }

    #[test]
    fn an_edited_item_gets_vmware_restore() {
        let h = json!({"apiVersion": HUB, "kind": "ContentLibraryItem",
            "metadata": {"name": "i", "namespace": "ns"},
            "spec": {"id": "item-1", "libraryName": "lib"}, "status": {"version": "1", "type": "VM"}});
        let mut s = convert(&h, V1A1).expect("converts");
        s["spec"]["uuid"] = json!("item-2");
        s["status"]["metadataVersion"] = json!("2");
        let back = convert(&s, HUB).expect("converts");
        // The spec follows the spoke; libraryName and the whole status come from the kept hub.
        assert_eq!(back["spec"], json!({"id": "item-2", "libraryName": "lib"}));
        assert_eq!(back["status"], h["status"]);
        assert!(back["metadata"].get("annotations").is_none(), "{back}");
        let again = convert(&back, V1A1).expect("converts");
        assert_eq!(again["status"]["metadataVersion"], "1");
        assert_eq!(convert(&again, HUB), Ok(back));
    }

    #[test]
    fn cluster_library_has_no_writable() {
        let h = json!({"apiVersion": HUB, "kind": "ClusterContentLibrary", "metadata": {"name": "l"},
            "spec": {"id": "u", "libraryType": "ContentLibrary"}});
        let s = convert(&h, V1A1).expect("converts");
        assert_eq!(s["spec"], json!({"uuid": "u"}));
        assert_eq!(s["status"], json!({"type": "Local"}));
        assert_eq!(convert(&s, HUB), Ok(h));
    }

    #[test]
    fn item_uuid_version_library_and_cert_status() {
        let h = json!({"apiVersion": HUB, "kind": "ClusterContentLibraryItem", "metadata": {"name": "i"},
            "spec": {"id": "item-1", "libraryName": "lib"},
            "status": {"version": "7", "type": "OVF",
                "certificateVerificationInfo": {"status": "VerificationInProgress", "certChain": ["c"]},
                "fileInfo": [{"name": "a.ovf", "sizeInBytes": "1Ki", "version": "1", "cached": true}],
                "conditions": [{"type": "Ready", "status": "True", "reason": "Ready", "message": "",
                    "observedGeneration": 1, "lastTransitionTime": T0}]}});
        let s = convert(&h, V1A1).expect("converts");
        assert_eq!(s["spec"], json!({"uuid": "item-1"}));
        assert_eq!(
            s["status"],
            json!({"metadataVersion": "7", "type": "OVF",
                "certificateVerificationInfo": {"status": "VERIFICATION_IN_PROGRESS", "certChain": ["c"]},
                "fileInfo": [{"name": "a.ovf", "sizeInBytes": "1Ki", "version": "1", "cached": true}],
                "contentLibraryRef": {"kind": "ClusterContentLibrary", "name": "lib"},
                "conditions": [{"type": "Ready", "status": "True", "reason": "Ready",
                    "lastTransitionTime": T0}]})
        );
        assert_eq!(convert(&s, HUB), Ok(h));
    }

    #[test]
    fn item_library_name_comes_from_the_content_library_ref() {
        let s = json!({"apiVersion": V1A1, "kind": "ContentLibraryItem", "metadata": {"name": "i", "namespace": "n"},
            "spec": {"uuid": "item-1"},
            "status": {"contentLibraryRef": {"kind": "ContentLibrary", "name": "lib"}, "type": "ISO",
                "conditions": [{"type": "Ready", "status": "False", "severity": "Warning",
                    "lastTransitionTime": T0}]}});
        let h = convert(&s, HUB).expect("converts");
        assert_eq!(h["spec"], json!({"id": "item-1", "libraryName": "lib"}));
        assert_eq!(
            h["status"]["conditions"],
            json!([{"type": "Ready", "status": "False", "reason": "False", "message": "",
                "lastTransitionTime": T0}])
        );
        // The severity has no place in the hub: the spoke rides along.
        assert!(h["metadata"]["annotations"][IMAGE_REGISTRY_KEY].is_string());
        assert_eq!(convert(&h, V1A1), Ok(s));
    }

    #[test]
    fn certificate_statuses_and_naming_strategies_are_respelled() {
        for (v1a1, v1a2) in super::CERT_STATUS {
            let h = json!({"apiVersion": HUB, "kind": "ContentLibraryItem", "metadata": {"name": "i"},
                "spec": {"id": "x", "libraryName": "l"},
                "status": {"certificateVerificationInfo": {"status": v1a2}}});
            let s = convert(&h, V1A1).expect("converts");
            assert_eq!(s["status"]["certificateVerificationInfo"]["status"], v1a1);
            assert_eq!(convert(&s, HUB), Ok(h));
        }
        for (v1a1, v1a2) in super::NAMING {
            let s = json!({"apiVersion": V1A1, "kind": "ClusterContentLibrary", "metadata": {"name": "l"},
                "spec": {"uuid": "u", "resourceNamingStrategy": v1a1}});
            let h = convert(&s, HUB).expect("converts");
            assert_eq!(h["spec"]["resourceNamingStrategy"], v1a2);
            assert_eq!(convert(&h, V1A1), Ok(s));
        }
    }

    #[test]
    fn vm_items_have_no_v1alpha1_type() {
        let h = json!({"apiVersion": HUB, "kind": "ContentLibraryItem", "metadata": {"name": "i"},
            "spec": {"id": "x", "libraryName": "l"}, "status": {"type": "VM"}});
        let s = convert(&h, V1A1).expect("converts");
        assert!(s["status"].get("type").is_none());
        assert_eq!(convert(&s, HUB), Ok(h));
    }
}
