//! Lossless conversion between a spoke and the hub, around the plain mappings of each version.
//!
//! - [`to_hub`] (VMware's `ConvertTo`): the hub the spoke maps to; when the spoke carries the hub
//!   it was made from (the annotation) and is unchanged since, that hub exactly; when it was
//!   edited since, the mapped hub with the kept hub's fields restored ([`Restore`]). Otherwise,
//!   when the hub cannot hold all of the spoke, the spoke goes into the hub's annotation.
//! - [`from_hub`] (VMware's `ConvertFrom`): the spoke the hub maps to, or the spoke kept in the
//!   hub's annotation when the hub is unchanged since; the annotation (the hub) is added only when
//!   the spoke would not convert back to exactly this hub.
//!
//! `from_hub` checks its answer with `to_hub`, so hub -> spoke -> hub is exact by construction;
//! `to_hub` keeps the spoke whenever the mapped hub would not give it back, so spoke -> hub ->
//! spoke is exact too, for a spoke without the annotation or as `from_hub` made it (an edited
//! spoke's stale annotation is consumed by the restore rules instead).

use serde_json::Value;

use super::annotation::{attach, data, pack, parse, represents, same_object, take, unpack};
use super::error::ConversionError;
use super::json::{Map, Result, as_obj};
use super::kind::{Kind, Restore, Spoke};

pub(crate) fn to_hub(spoke_obj: &Value, kind: &Kind, spoke: &Spoke) -> Result<Value> {
    let key = kind.annotation;
    let (spoke_plain, stored) = take(spoke_obj, key)?;
    let mapped = (spoke.up)(&spoke_plain, kind, spoke.version)?;
    if let Some(stored) = stored {
        let stored = parse(&stored, key)?;
        if represents(&stored, &kind.api_version(kind.hub), kind.kind, true) {
            let kept = unpack(&stored, mapped.get("metadata")).map_err(|e| {
                ConversionError::MalformedConversionData {
                    key,
                    message: e.to_string(),
                }
            })?;
            let (kept_plain, _) = take(&kept, key)?;
            let unedited = (spoke.down)(&kept_plain, kind, spoke.version)?;
            if same_object(&unedited, &spoke_plain) {
                return Ok(kept);
            }
            // Edited since: the restored hub is no spoke's mapping, so keeping the spoke in it
            // would never serve.
            return restore(kind, spoke, mapped, &kept_plain);
        }
        // Another version's data is stale: consumed.
    }
    let mut hub = mapped;
    if (spoke.down)(&hub, kind, spoke.version)? != spoke_plain {
        keep(&mut hub, &spoke_plain, key, |h| {
            let (plain, _) = take(h, key)?;
            (spoke.down)(&plain, kind, spoke.version)
        })?;
    }
    Ok(hub)
}

pub(crate) fn from_hub(hub: &Value, kind: &Kind, spoke: &Spoke) -> Result<Value> {
    let key = kind.annotation;
    let (hub_plain, stored) = take(hub, key)?;
    let mapped = (spoke.down)(&hub_plain, kind, spoke.version)?;
    let converts_back = |s: &Value| to_hub(s, kind, spoke).is_ok_and(|h| h == *hub);
    // The spoke kept when this hub was made from it (another version's or foreign data is
    // the hub's own annotation: kept below with the rest of the hub).
    if let Some(kept) = stored
        .and_then(|d| parse(&d, key).ok())
        .filter(|d| represents(d, &kind.api_version(spoke.version), kind.kind, false))
        .and_then(|d| unpack(&d, mapped.get("metadata")).ok())
        && converts_back(&kept)
    {
        return Ok(kept);
    }
    if converts_back(&mapped) {
        return Ok(mapped);
    }
    let mut out = mapped;
    keep(&mut out, hub, key, |s| {
        let (plain, _) = take(s, key)?;
        (spoke.up)(&plain, kind, spoke.version)
    })?;
    Ok(out)
}

/// Puts `original` into `carrier`'s annotation, with its annotations only when `rebuilt` (what
/// the other side makes of the carrier) would not restore them.
fn keep(
    carrier: &mut Value,
    original: &Value,
    key: &str,
    rebuilt: impl Fn(&Value) -> Result<Value>,
) -> Result<()> {
    attach(carrier, key, pack(original, false));
    let restored = unpack(&data(original, false), rebuilt(carrier)?.get("metadata"))?;
    if restored != *original {
        attach(carrier, key, pack(original, true));
    }
    Ok(())
}

/// The hub for a spoke edited since it was made from `kept`: `mapped` (what the spoke maps to)
/// with the kept fields restored.
fn restore(kind: &Kind, spoke: &Spoke, mut mapped: Value, kept: &Value) -> Result<Value> {
    match kind.restore {
        Restore::Fields(fields) => {
            if let Value::Object(m) = &mut mapped {
                fields(m, as_obj(kept, "conversion data")?);
            }
            Ok(mapped)
        }
        Restore::MergeEdits => {
            let unedited = (spoke.up)(
                &(spoke.down)(kept, kind, spoke.version)?,
                kind,
                spoke.version,
            )?;
            let (Value::Object(out), Value::Object(base), Value::Object(edited)) =
                (kept.clone(), unedited, &mapped)
            else {
                return Ok(mapped);
            };
            let mut out = out;
            for (k, v) in edited {
                if k == "metadata" {
                    out.insert(k.clone(), v.clone());
                } else if let Some(patch) = diff(base.get(k), Some(v)) {
                    apply(out.entry(k.clone()).or_insert(Value::Null), &patch);
                }
            }
            for k in base.keys().filter(|k| !edited.contains_key(*k)) {
                out.remove(k);
            }
            if !edited.contains_key("metadata") {
                out.remove("metadata");
            }
            Ok(Value::Object(out))
        }
    }
}

/// The JSON merge patch (RFC 7386) that turns `from` into `to`, `None` when they are equal.
fn diff(from: Option<&Value>, to: Option<&Value>) -> Option<Value> {
    match (from, to) {
        (a, b) if a == b => None,
        (_, None) => Some(Value::Null),
        (Some(Value::Object(a)), Some(Value::Object(b))) => {
            let mut patch = Map::new();
            for (k, v) in b {
                if let Some(p) = diff(a.get(k), Some(v)) {
                    patch.insert(k.clone(), p);
                }
            }
            for k in a.keys().filter(|k| !b.contains_key(*k)) {
                patch.insert(k.clone(), Value::Null);
            }
            Some(Value::Object(patch))
        }
        (_, Some(b)) => Some(b.clone()),
    }
}

/// Applies a JSON merge patch (RFC 7386).
fn apply(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                apply(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn merge_patch_diff_and_apply() {
        let a = json!({"x": 1, "y": {"a": 1, "b": 2}, "z": [1]});
        let b = json!({"x": 1, "y": {"a": 3}, "w": true});
        let p = diff(Some(&a), Some(&b)).expect("differ");
        assert_eq!(p, json!({"y": {"a": 3, "b": null}, "z": null, "w": true}));
        let mut t = json!({"x": 0, "y": {"a": 1, "b": 2, "c": 3}, "z": [1], "keep": 1});
        apply(&mut t, &p);
        assert_eq!(
            t,
            json!({"x": 0, "y": {"a": 3, "c": 3}, "w": true, "keep": 1})
        );
    }
}
