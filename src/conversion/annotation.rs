//! The conversion annotation (`utilconversion.MarshalData`/`UnmarshalData` of both VMware APIs):
//! an object's representation in another version, JSON without `metadata`, kept in an annotation
//! so that what a version has no field for survives a round trip.
//!
//! VMware puts the hub there on every down-conversion. Here it is put only when needed (so a
//! spoke that converts losslessly comes back without it), and also on the hub when an
//! up-conversion loses spoke fields (VMware's image conversions are lossy and keep nothing).
//! When an object's annotations cannot be rebuilt from the other side, the data carries them as
//! `metadata.annotations` (absent: `metadata: {}`); VMware's unmarshalling ignores metadata.

use serde_json::Value;

use super::error::ConversionError;
use super::json::{Map, Result, as_obj, obj};

/// `vm-operator/api/utilconversion.AnnotationKey`.
pub const VM_OPERATOR_KEY: &str = "vmoperator.vmware.com/conversion";
/// `image-registry-operator-api/api/utilconversion.AnnotationKey`.
pub const IMAGE_REGISTRY_KEY: &str = "imageregistry.vmware.com/conversion";
/// `vmopv1.VMIContentLibRefAnnotation`: set on hub images by VM Operator, read into v1alpha1's
/// `status.contentLibraryRef`.
pub const CONTENT_LIB_REF_KEY: &str = "vmoperator.vmware.com/conversion-content-lib-ref";

/// `object` without the annotation `key` (the annotations dropped when that leaves none), and the
/// annotation's value.
pub(crate) fn take(object: &Value, key: &str) -> Result<(Value, Option<String>)> {
    let mut out = object.clone();
    let root = as_obj(object, "")?;
    let Some(annotations) = super::json::annotations(root)? else {
        return Ok((out, None));
    };
    let Some(value) = annotations.get(key) else {
        return Ok((out, None));
    };
    let data = value.as_str().ok_or_else(|| {
        ConversionError::MalformedObject(format!("annotation {key} must be a string"))
    })?;
    if let Some(Value::Object(meta)) = out.get_mut("metadata") {
        let now_empty = match meta.get_mut("annotations") {
            Some(Value::Object(a)) => {
                a.remove(key);
                a.is_empty()
            }
            _ => false,
        };
        if now_empty {
            meta.remove("annotations");
        }
    }
    Ok((out, Some(data.to_string())))
}

/// Sets the annotation `key` of `object` to `data`.
pub(crate) fn attach(object: &mut Value, key: &str, data: String) {
    if let Value::Object(root) = object {
        let meta = super::json::obj_mut(root, "metadata");
        super::json::obj_mut(meta, "annotations").insert(key.to_string(), Value::String(data));
    }
}

/// The annotation's value parsed: a JSON object.
pub(crate) fn parse(data: &str, key: &'static str) -> Result<Map> {
    match serde_json::from_str::<Value>(data) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(ConversionError::MalformedConversionData {
            key,
            message: "not a JSON object".into(),
        }),
        Err(e) => Err(ConversionError::MalformedConversionData {
            key,
            message: e.to_string(),
        }),
    }
}

/// Whether `data` represents the object at `api_version` (`apiVersion` absent counts when
/// `absent_ok`: VMware's typed objects may marshal without their TypeMeta).
pub(crate) fn represents(data: &Map, api_version: &str, kind: &str, absent_ok: bool) -> bool {
    let version_ok = match data.get("apiVersion") {
        None => absent_ok,
        Some(v) => v.as_str() == Some(api_version),
    };
    let kind_ok = data.get("kind").is_none_or(|k| k.as_str() == Some(kind));
    version_ok && kind_ok
}

/// `object` as annotation data: without `metadata`, or with only its annotations.
pub(crate) fn data(object: &Value, with_annotations: bool) -> Map {
    let mut data = match object {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    let meta = data.remove("metadata");
    if with_annotations {
        let mut kept = Map::new();
        if let Some(a) = meta.as_ref().and_then(|m| m.get("annotations")) {
            kept.insert("annotations".into(), a.clone());
        }
        data.insert("metadata".into(), Value::Object(kept));
    }
    data
}

/// [`data`] as the annotation's value.
pub(crate) fn pack(object: &Value, with_annotations: bool) -> String {
    Value::Object(data(object, with_annotations)).to_string()
}

/// The object `data` represents, with `metadata` (annotations replaced by the data's, when it
/// carries them).
pub(crate) fn unpack(data: &Map, metadata: Option<&Value>) -> Result<Value> {
    let mut out = data.clone();
    let carried = out.remove("metadata");
    let mut meta = metadata.cloned();
    if let Some(carried) = &carried {
        let carried = as_obj(carried, "conversion data metadata")?;
        let m = meta.get_or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = m {
            match obj(carried, "annotations", "conversion data metadata")? {
                Some(a) => {
                    m.insert("annotations".into(), Value::Object(a.clone()));
                }
                None => {
                    m.remove("annotations");
                }
            }
        }
    }
    if let Some(meta) = meta {
        out.insert("metadata".into(), meta);
    }
    Ok(Value::Object(out))
}

/// `a == b`, an empty annotations map counting as none (adding and taking the annotation can
/// turn one into the other).
pub(crate) fn same_object(a: &Value, b: &Value) -> bool {
    fn normalized(v: &Value) -> Value {
        let mut v = v.clone();
        if let Some(Value::Object(meta)) = v.get_mut("metadata")
            && meta
                .get("annotations")
                .is_some_and(|a| a.as_object().is_some_and(Map::is_empty))
        {
            meta.remove("annotations");
        }
        v
    }
    a == b || normalized(a) == normalized(b)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn take_removes_the_key_and_an_emptied_map() {
        let o = json!({"metadata": {"name": "a", "annotations": {"k": "{}"}}});
        let (stripped, data) = take(&o, "k").expect("takes");
        assert_eq!(stripped, json!({"metadata": {"name": "a"}}));
        assert_eq!(data.as_deref(), Some("{}"));
    }

    #[test]
    fn pack_and_unpack_carry_annotations_when_asked() {
        let o = json!({"apiVersion": "g/v1", "spec": {"a": 1},
            "metadata": {"name": "n", "annotations": {"x": "y"}}});
        let plain = parse(&pack(&o, false), "k").expect("parses");
        assert_eq!(
            plain,
            *json!({"apiVersion": "g/v1", "spec": {"a": 1}})
                .as_object()
                .expect("obj")
        );
        let full = parse(&pack(&o, true), "k").expect("parses");
        let meta = json!({"name": "n"});
        assert_eq!(unpack(&full, Some(&meta)).expect("unpacks"), o);
        let none = json!({"metadata": {"name": "n"}});
        let data = parse(&pack(&none, true), "k").expect("parses");
        let meta = json!({"name": "n", "annotations": {}});
        assert_eq!(unpack(&data, Some(&meta)).expect("unpacks"), none);
    }

    #[test]
    fn malformed_data_is_an_error() {
        let e = parse("[1]", "k").expect_err("not an object");
        assert_eq!(e.reason(), "MalformedConversionData");
        assert!(parse("{", "k").is_err());
    }
}
