//! v1alpha1 images and the hub (vm-operator `api/v1alpha1/virtualmachineimage_conversion.go`).
//!
//! - Spec fields of v1alpha1 moved to the hub's status: `imageID` <-> `providerItemID`,
//!   `hwVersion` <-> `hardwareVersion` (0 is none), `osInfo` (type and version; the hub's `id` has
//!   no place), `productInfo`, `ovfEnv` (a map by key, with description and label) <->
//!   `ovfProperties` (a list of key, type, default).
//! - `providerRef`: set in the hub when any of apiVersion, kind, name is; down, the namespace is
//!   the image's (namespaced kind only, when the name is set).
//! - Status: `imageName` <-> `name`, `contentVersion` <-> `providerContentVersion`, `firmware`;
//!   down, `contentLibraryRef` from the hub's `vmoperator.vmware.com/conversion-content-lib-ref`
//!   annotation; `uuid`, `internalId`, `powerState`, `imageSupported` have no place in the hub.
//! - Annotations prefixed `vmware-system` <-> `status.vmwareSystemProperties`.
//! - Conditions: v1alpha1's three (SecurityCompliance, ProviderReady, Synced) fold into the hub's
//!   Ready and unfold from its reason.
//!
//! VMware's rules lose much both ways; [`super::lossless`] keeps the rest in the annotation.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use super::annotation::CONTENT_LIB_REF_KEY;
use super::conditions;
use super::error::ConversionError;
use super::json::{
    Map, Result, annotations, as_obj, copy, header, integer, obj, obj_mut, objs, pick, rename,
    string, string_or_empty,
};
use super::kind::Kind;

const SYSTEM_PREFIX: &str = "vmware-system";

const READY: &str = "Ready";
const SECURITY_COMPLIANCE: &str = "VirtualMachineImageProviderSecurityCompliance";
const PROVIDER_READY: &str = "VirtualMachineImageProviderReady";
const SYNCED: &str = "VirtualMachineImageSynced";
const NOT_COMPLIANT_REASON: &str = "VirtualMachineImageProviderSecurityNotCompliant";
const PROVIDER_NOT_READY_REASON: &str = "VirtualMachineImageProviderNotReady";
const NOT_SYNCED_REASON: &str = "VirtualMachineImageNotSynced";

/// `time.Time{}` has no valid date-time; used only when no condition has a time.
const NO_TIME: &str = "1970-01-01T00:00:00Z";

/// Hub to v1alpha1 (`ConvertFrom`).
pub(crate) fn down(hub: &Value, kind: &Kind, version: &'static str) -> Result<Value> {
    let root = as_obj(hub, "")?;
    let empty = Map::new();
    let hub_spec = obj(root, "spec", "")?.unwrap_or(&empty);
    let hub_status = obj(root, "status", "")?.unwrap_or(&empty);
    let mut out = header(root, &kind.api_version(version));

    // vmwareSystemProperties become annotations (VMware overwrites same-named ones).
    let props = objs(hub_status, "vmwareSystemProperties", "status")?;
    if !props.is_empty() {
        let ann = obj_mut(obj_mut(&mut out, "metadata"), "annotations");
        for (p, path) in props {
            let key = string_or_empty(p, "key", &path)?;
            let value = string_or_empty(p, "value", &path)?;
            ann.insert(key.into(), Value::String(value.into()));
        }
    }

    let mut spec = Map::new();
    // Required; VMware does not fill it (not even from the hub's status.type).
    spec.insert("type".into(), Value::String(String::new()));
    spec.insert(
        "imageID".into(),
        Value::String(string_or_empty(hub_status, "providerItemID", "status")?.into()),
    );
    spec.insert(
        "providerRef".into(),
        provider_ref_down(root, hub_spec, kind)?,
    );
    copy(hub_status, &mut spec, &["productInfo"]);
    if let Some(os) = obj(hub_status, "osInfo", "status")? {
        spec.insert(
            "osInfo".into(),
            Value::Object(pick(os, &["type", "version"])),
        );
    }
    if hub_status.contains_key("ovfProperties") {
        let mut env = Map::new();
        for (p, path) in objs(hub_status, "ovfProperties", "status")? {
            let key = string_or_empty(p, "key", &path)?;
            env.insert(
                key.into(),
                Value::Object(pick(p, &["key", "type", "default"])),
            );
        }
        spec.insert("ovfEnv".into(), Value::Object(env));
    }
    if let Some(hw) = integer(hub_status, "hardwareVersion", "status")?.filter(|hw| *hw != 0) {
        spec.insert("hwVersion".into(), Value::from(hw));
    }

    let mut status = Map::new();
    rename(hub_status, "name", &mut status, "imageName");
    rename(
        hub_status,
        "providerContentVersion",
        &mut status,
        "contentVersion",
    );
    copy(hub_status, &mut status, &["firmware"]);
    let hub_conditions = objs(hub_status, "conditions", "status")?;
    if !hub_conditions.is_empty() {
        status.insert("conditions".into(), conditions_down(&hub_conditions)?);
    }
    if let Some(lib_ref) = annotations(&out)?.and_then(|a| a.get(CONTENT_LIB_REF_KEY)) {
        status.insert("contentLibraryRef".into(), content_lib_ref(lib_ref));
    }

    out.insert("spec".into(), Value::Object(spec));
    out.insert("status".into(), Value::Object(status));
    Ok(Value::Object(out))
}

/// v1alpha1 to the hub (`ConvertTo`).
pub(crate) fn up(spoke: &Value, kind: &Kind, _version: &'static str) -> Result<Value> {
    let root = as_obj(spoke, "")?;
    let empty = Map::new();
    let spec_in = obj(root, "spec", "")?.unwrap_or(&empty);
    let status_in = obj(root, "status", "")?.unwrap_or(&empty);
    let mut out = header(root, &kind.api_version(kind.hub));

    // Annotations prefixed vmware-system move to vmwareSystemProperties (in key order: Go's map
    // order is random).
    let mut system = BTreeMap::new();
    if let Some(ann) = annotations(root)? {
        for (k, v) in ann.iter().filter(|(k, _)| k.starts_with(SYSTEM_PREFIX)) {
            let v = v.as_str().ok_or_else(|| {
                ConversionError::MalformedObject(format!("annotation {k} must be a string"))
            })?;
            system.insert(k.clone(), v.to_string());
        }
    }
    if !system.is_empty()
        && let Some(Value::Object(meta)) = out.get_mut("metadata")
    {
        if let Some(Value::Object(ann)) = meta.get_mut("annotations") {
            ann.retain(|k, _| !system.contains_key(k));
        }
        if meta
            .get("annotations")
            .is_some_and(|a| a.as_object().is_some_and(Map::is_empty))
        {
            meta.remove("annotations");
        }
    }

    let mut spec = Map::new();
    if let Some(r) = obj(spec_in, "providerRef", "spec")? {
        let field = |k| string_or_empty(r, k, "spec.providerRef");
        let (api_version, kind_name, name) = (field("apiVersion")?, field("kind")?, field("name")?);
        if !(api_version.is_empty() && kind_name.is_empty() && name.is_empty()) {
            let mut hub_ref = Map::new();
            hub_ref.insert("apiVersion".into(), Value::String(api_version.into()));
            hub_ref.insert("kind".into(), Value::String(kind_name.into()));
            hub_ref.insert("name".into(), Value::String(name.into()));
            spec.insert("providerRef".into(), Value::Object(hub_ref));
        }
    }

    let mut status = Map::new();
    rename(status_in, "imageName", &mut status, "name");
    rename(
        status_in,
        "contentVersion",
        &mut status,
        "providerContentVersion",
    );
    copy(status_in, &mut status, &["firmware"]);
    let spoke_conditions = objs(status_in, "conditions", "status")?;
    if !spoke_conditions.is_empty() {
        status.insert("conditions".into(), conditions_up(&spoke_conditions)?);
    }
    if let Some(id) = string(spec_in, "imageID", "spec")?.filter(|id| !id.is_empty()) {
        status.insert("providerItemID".into(), Value::String(id.into()));
    }
    if let Some(hw) = integer(spec_in, "hwVersion", "spec")?.filter(|hw| *hw != 0) {
        status.insert("hardwareVersion".into(), Value::from(hw));
    }
    if let Some(os) = obj(spec_in, "osInfo", "spec")? {
        status.insert(
            "osInfo".into(),
            Value::Object(pick(os, &["type", "version"])),
        );
    }
    if let Some(env) = obj(spec_in, "ovfEnv", "spec")? {
        // In map-key order; each property keeps its own key, as VMware's does.
        let mut props = Vec::new();
        for (name, p) in env {
            let p = as_obj(p, &format!("spec.ovfEnv.{name}"))?;
            props.push(Value::Object(pick(p, &["key", "type", "default"])));
        }
        status.insert("ovfProperties".into(), Value::Array(props));
    }
    copy(spec_in, &mut status, &["productInfo"]);
    if !system.is_empty() {
        let props = system
            .into_iter()
            .map(|(k, v)| {
                let mut p = Map::new();
                p.insert("key".into(), Value::String(k));
                if !v.is_empty() {
                    p.insert("value".into(), Value::String(v));
                }
                Value::Object(p)
            })
            .collect();
        status.insert("vmwareSystemProperties".into(), Value::Array(props));
    }

    out.insert("spec".into(), Value::Object(spec));
    out.insert("status".into(), Value::Object(status));
    Ok(Value::Object(out))
}

/// v1alpha1's required `providerRef` (Go's zero value when the hub has none).
fn provider_ref_down(root: &Map, hub_spec: &Map, kind: &Kind) -> Result<Value> {
    let mut out = Map::new();
    let (mut kind_name, mut name) = ("", "");
    if let Some(r) = obj(hub_spec, "providerRef", "spec")? {
        let path = "spec.providerRef";
        if let Some(v) = string(r, "apiVersion", path)?.filter(|v| !v.is_empty()) {
            out.insert("apiVersion".into(), Value::String(v.into()));
        }
        kind_name = string_or_empty(r, "kind", path)?;
        name = string_or_empty(r, "name", path)?;
    }
    out.insert("kind".into(), Value::String(kind_name.into()));
    out.insert("name".into(), Value::String(name.into()));
    // The provider is in the image's namespace; LocalObjectRef has none (VirtualMachineImage only).
    if kind.namespaced && !name.is_empty() {
        let ns = obj(root, "metadata", "")?
            .map(|m| string_or_empty(m, "namespace", "metadata"))
            .transpose()?
            .unwrap_or("");
        if !ns.is_empty() {
            out.insert("namespace".into(), Value::String(ns.into()));
        }
    }
    Ok(Value::Object(out))
}

/// `readContentLibRefConversionAnnotation`: a TypedLocalObjectReference as JSON; what does not
/// parse leaves it empty, as Go's ignored unmarshal error does.
fn content_lib_ref(annotation: &Value) -> Value {
    let parsed = annotation
        .as_str()
        .and_then(|s| serde_json::from_str::<Value>(s).ok());
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|p| p.get(k))
            .and_then(Value::as_str)
    };
    let mut out = Map::new();
    if let Some(g) = field("apiGroup") {
        out.insert("apiGroup".into(), Value::String(g.into()));
    }
    out.insert(
        "kind".into(),
        Value::String(field("kind").unwrap_or("").into()),
    );
    out.insert(
        "name".into(),
        Value::String(field("name").unwrap_or("").into()),
    );
    Value::Object(out)
}

/// The hub's Ready condition as v1alpha1's three. Without a Ready condition VMware says all are
/// true at Go's zero time (which is not a valid date-time): here, at the latest condition's time.
fn conditions_down(hub: &[(&Map, String)]) -> Result<Value> {
    let ready = hub
        .iter()
        .map(|(c, _)| *c)
        .find(|c| c.get("type").and_then(Value::as_str) == Some(READY));
    let time = match ready {
        Some(r) => r.get("lastTransitionTime").cloned(),
        None => latest_time(hub.iter().map(|(c, _)| *c)),
    }
    .unwrap_or_else(|| Value::String(NO_TIME.into()));
    let true_condition = |t: &str| {
        let mut c = Map::new();
        c.insert("type".into(), Value::String(t.into()));
        c.insert("status".into(), Value::String("True".into()));
        c.insert("lastTransitionTime".into(), time.clone());
        Value::Object(c)
    };
    let false_condition = |t: &str| -> Result<Value> {
        let mut c = Map::new();
        c.insert("type".into(), Value::String(t.into()));
        c.insert("status".into(), Value::String("False".into()));
        c.insert("severity".into(), Value::String("Error".into()));
        c.insert("lastTransitionTime".into(), time.clone());
        if let Some(r) = ready {
            for key in ["reason", "message"] {
                if let Some(v) = string(r, key, "status.conditions")?.filter(|v| !v.is_empty()) {
                    c.insert(key.into(), Value::String(v.into()));
                }
            }
        }
        Ok(Value::Object(c))
    };
    let reason = ready
        .map(|r| string_or_empty(r, "reason", "status.conditions"))
        .transpose()?
        .unwrap_or("");
    let list = match reason {
        NOT_COMPLIANT_REASON => vec![false_condition(SECURITY_COMPLIANCE)?],
        PROVIDER_NOT_READY_REASON => vec![
            true_condition(SECURITY_COMPLIANCE),
            false_condition(PROVIDER_READY)?,
        ],
        NOT_SYNCED_REASON => vec![
            true_condition(SECURITY_COMPLIANCE),
            true_condition(PROVIDER_READY),
            false_condition(SYNCED)?,
        ],
        _ => vec![
            true_condition(SECURITY_COMPLIANCE),
            true_condition(PROVIDER_READY),
            true_condition(SYNCED),
        ],
    };
    Ok(Value::Array(list))
}

/// v1alpha1's conditions folded into the hub's Ready: false with the first false condition of the
/// three types, else true at the latest time of the conditions before it.
fn conditions_up(spoke: &[(&Map, String)]) -> Result<Value> {
    let mut seen = Vec::new();
    let mut failed = None;
    for (c, path) in spoke {
        let t = string_or_empty(c, "type", path)?;
        let status = string_or_empty(c, "status", path)?;
        if [SYNCED, PROVIDER_READY, SECURITY_COMPLIANCE].contains(&t) && status == "False" {
            failed = Some((*c, path.as_str()));
            break;
        }
        seen.push(*c);
    }
    let mut ready = Map::new();
    ready.insert("type".into(), Value::String(READY.into()));
    match failed {
        Some((c, path)) => {
            ready.insert("status".into(), Value::String("False".into()));
            copy(c, &mut ready, &["lastTransitionTime"]);
            let reason = string_or_empty(c, "reason", path)?;
            ready.insert(
                "reason".into(),
                Value::String(conditions::reason_or_status(reason, "False")),
            );
            ready.insert(
                "message".into(),
                Value::String(conditions::message(string_or_empty(c, "message", path)?)),
            );
        }
        None => {
            ready.insert("status".into(), Value::String("True".into()));
            let time =
                latest_time(seen.into_iter()).unwrap_or_else(|| Value::String(NO_TIME.into()));
            ready.insert("lastTransitionTime".into(), time);
            ready.insert("reason".into(), Value::String("True".into()));
            ready.insert("message".into(), Value::String(String::new()));
        }
    }
    if !ready.contains_key("lastTransitionTime") {
        ready.insert("lastTransitionTime".into(), Value::String(NO_TIME.into()));
    }
    Ok(Value::Array(vec![Value::Object(ready)]))
}

/// The latest `lastTransitionTime` (the first of equal ones; unparsable times are skipped).
fn latest_time<'a>(conditions: impl Iterator<Item = &'a Map>) -> Option<Value> {
    let mut best: Option<(DateTime<FixedOffset>, &Value)> = None;
    for c in conditions {
        let Some(v) = c.get("lastTransitionTime") else {
            continue;
        };
        let Some(t) = v
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        else {
            continue;
        };
        if best.as_ref().is_none_or(|(b, _)| t > *b) {
            best = Some((t, v));
        }
    }
    best.map(|(_, v)| v.clone())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::conversion::{VM_OPERATOR_KEY, convert};

    const HUB: &str = "vmoperator.vmware.com/v1alpha6";
    const V1A1: &str = "vmoperator.vmware.com/v1alpha1";
    const T0: &str = "2024-01-02T03:04:05Z";
    const T1: &str = "2025-01-02T03:04:05Z";

    fn hub(spec: serde_json::Value, status: serde_json::Value) -> serde_json::Value {
        json!({"apiVersion": HUB, "kind": "VirtualMachineImage",
            "metadata": {"name": "img", "namespace": "ns", "annotations": {"fizz": "buzz"}},
            "spec": spec, "status": status})
    }

    #[test]
    fn hub_status_moves_to_v1alpha1_spec() {
        let h = hub(
            json!({"providerRef": {"apiVersion": "vmware.com/v1", "kind": "ImageProvider", "name": "p"}}),
            json!({"providerItemID": "item-1", "hardwareVersion": 19, "name": "Photon",
                "providerContentVersion": "v7", "firmware": "efi",
                "osInfo": {"id": "vmwarePhoton64Guest", "type": "linux", "version": "5"},
                "productInfo": {"product": "P", "vendor": "V"},
                "ovfProperties": [{"key": "user", "type": "string", "default": "root"}],
                "vmwareSystemProperties": [{"key": "vmware-system-foo", "value": "foo-val"}]}),
        );
        let s = convert(&h, V1A1).expect("converts");
        assert_eq!(
            s["spec"],
            json!({"type": "", "imageID": "item-1", "hwVersion": 19,
                "providerRef": {"apiVersion": "vmware.com/v1", "kind": "ImageProvider", "name": "p",
                    "namespace": "ns"},
                "osInfo": {"type": "linux", "version": "5"},
                "productInfo": {"product": "P", "vendor": "V"},
                "ovfEnv": {"user": {"key": "user", "type": "string", "default": "root"}}})
        );
        assert_eq!(
            s["status"],
            json!({"imageName": "Photon", "contentVersion": "v7", "firmware": "efi"})
        );
        assert_eq!(s["metadata"]["annotations"]["vmware-system-foo"], "foo-val");
        assert_eq!(s["metadata"]["annotations"]["fizz"], "buzz");
        // osInfo.id has no place in v1alpha1: the hub rides along.
        assert!(s["metadata"]["annotations"][VM_OPERATOR_KEY].is_string());
        assert_eq!(convert(&s, HUB), Ok(h));
    }

    #[test]
    fn v1alpha1_maps_to_the_hub_and_back_exactly() {
        let s = json!({"apiVersion": V1A1, "kind": "ClusterVirtualMachineImage",
            "metadata": {"name": "img", "annotations": {"vmware-system-bar": "b", "fizz": "buzz"}},
            "spec": {"type": "ovf", "imageSourceType": "Content Library", "imageID": "item-1",
                "providerRef": {"kind": "ContentLibraryProvider", "name": "cl"},
                "ovfEnv": {"k": {"key": "k", "type": "string", "label": "L"}}, "hwVersion": 0},
            "status": {"uuid": "u", "imageSupported": true, "powerState": "poweredOff"}});
        let h = convert(&s, "vmoperator.vmware.com/v1alpha6").expect("converts");
        assert_eq!(
            h["spec"],
            json!({"providerRef": {"apiVersion": "", "kind": "ContentLibraryProvider", "name": "cl"}})
        );
        assert_eq!(
            h["status"],
            json!({"providerItemID": "item-1",
                "ovfProperties": [{"key": "k", "type": "string"}],
                "vmwareSystemProperties": [{"key": "vmware-system-bar", "value": "b"}]})
        );
        assert!(
            h["metadata"]["annotations"]
                .get("vmware-system-bar")
                .is_none()
        );
        // type, imageSourceType, label, uuid... have no place in the hub: the spoke rides along.
        assert!(h["metadata"]["annotations"][VM_OPERATOR_KEY].is_string());
        assert_eq!(convert(&h, V1A1), Ok(s));
    }

    #[test]
    fn cluster_images_get_no_provider_namespace() {
        let h = json!({"apiVersion": HUB, "kind": "ClusterVirtualMachineImage",
            "metadata": {"name": "img", "namespace": "ns"},
            "spec": {"providerRef": {"apiVersion": "a/v1", "kind": "K", "name": "p"}}});
        let s = convert(&h, V1A1).expect("converts");
        assert_eq!(
            s["spec"]["providerRef"],
            json!({"apiVersion": "a/v1", "kind": "K", "name": "p"})
        );
        let none =
            json!({"apiVersion": HUB, "kind": "VirtualMachineImage", "metadata": {"name": "i"}});
        let s = convert(&none, V1A1).expect("converts");
        assert_eq!(s["spec"]["providerRef"], json!({"kind": "", "name": ""}));
    }

    #[test]
    fn content_library_ref_comes_from_the_hub_annotation() {
        let mut h = hub(json!({}), json!({}));
        h["metadata"]["annotations"][super::CONTENT_LIB_REF_KEY] =
            json!(r#"{"apiGroup": "foo.bar.com/v1", "kind": "FooKind", "name": "foo-ref"}"#);
        let s = convert(&h, V1A1).expect("converts");
        assert_eq!(
            s["status"]["contentLibraryRef"],
            json!({"apiGroup": "foo.bar.com/v1", "kind": "FooKind", "name": "foo-ref"})
        );
        let s = convert(&hub(json!({}), json!({})), V1A1).expect("converts");
        assert!(s["status"].get("contentLibraryRef").is_none());
    }

    #[test]
    fn an_edited_v1alpha1_image_keeps_what_v1alpha1_cannot_show() {
        let h = hub(
            json!({"providerRef": {"apiVersion": "a/v1", "kind": "K", "name": "p"}}),
            json!({"providerItemID": "item-1", "capabilities": ["c"], "type": "OVF",
                "osInfo": {"id": "photon", "type": "linux"}, "disks": [{"name": "d", "limit": "1Gi"}]}),
        );
        let mut s = convert(&h, V1A1).expect("converts");
        s["spec"]["imageID"] = json!("item-2");
        let back = convert(&s, HUB).expect("converts");
        let mut expected = h.clone();
        expected["status"]["providerItemID"] = json!("item-2");
        assert_eq!(back, expected);
    }

    fn ready(status: &str, reason: &str) -> serde_json::Value {
        let h = hub(
            json!({}),
            json!({"conditions": [{"type": "Ready", "status": status, "reason": reason,
                "message": "m", "lastTransitionTime": T0}]}),
        );
        convert(&h, V1A1).expect("converts")["status"]["conditions"].clone()
    }

    #[test]
    fn ready_unfolds_into_three_conditions_by_reason() {
        let t = |ty: &str| json!({"type": ty, "status": "True", "lastTransitionTime": T0});
        let f = |ty: &str, reason: &str| {
            json!({"type": ty, "status": "False", "severity": "Error", "reason": reason,
                "message": "m", "lastTransitionTime": T0})
        };
        let (sec, prov, sync) = (
            super::SECURITY_COMPLIANCE,
            super::PROVIDER_READY,
            super::SYNCED,
        );
        assert_eq!(ready("True", "True"), json!([t(sec), t(prov), t(sync)]));
        let r = super::NOT_SYNCED_REASON;
        assert_eq!(ready("False", r), json!([t(sec), t(prov), f(sync, r)]));
        let r = super::PROVIDER_NOT_READY_REASON;
        assert_eq!(ready("False", r), json!([t(sec), f(prov, r)]));
        let r = super::NOT_COMPLIANT_REASON;
        assert_eq!(ready("False", r), json!([f(sec, r)]));
        // Any other reason: VMware reports all three true.
        assert_eq!(ready("False", "Other"), json!([t(sec), t(prov), t(sync)]));
    }

    #[test]
    fn three_conditions_fold_into_ready() {
        let up = |conditions: serde_json::Value| {
            let s = json!({"apiVersion": V1A1, "kind": "VirtualMachineImage", "metadata": {"name": "i"},
                "status": {"conditions": conditions}});
            convert(&s, HUB).expect("converts")["status"]["conditions"].clone()
        };
        let all_true = up(json!([
            {"type": super::SYNCED, "status": "True", "lastTransitionTime": T0},
            {"type": super::PROVIDER_READY, "status": "True", "lastTransitionTime": T1},
            {"type": super::SECURITY_COMPLIANCE, "status": "True", "lastTransitionTime": T0}
        ]));
        assert_eq!(
            all_true,
            json!([{"type": "Ready", "status": "True", "reason": "True", "message": "",
                "lastTransitionTime": T1}])
        );
        let failed = up(json!([
            {"type": super::SYNCED, "status": "True", "lastTransitionTime": T0},
            {"type": super::PROVIDER_READY, "status": "False", "severity": "Error",
                "reason": "ProviderNotReady", "message": "Message", "lastTransitionTime": T1}
        ]));
        assert_eq!(
            failed,
            json!([{"type": "Ready", "status": "False", "reason": "ProviderNotReady",
                "message": "Message", "lastTransitionTime": T1}])
        );
    }
}
