//! Reading and building objects as JSON. An object reaching the webhook is valid under its
//! version's schema, but a field of the wrong type is an error here, never a panic.

use serde_json::Value;

use super::error::ConversionError;

pub(crate) type Map = serde_json::Map<String, Value>;
pub(crate) type Result<T> = std::result::Result<T, ConversionError>;

fn malformed(path: &str, expected: &str) -> ConversionError {
    ConversionError::MalformedObject(format!("{path} must be {expected}"))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// `value` as an object.
pub(crate) fn as_obj<'a>(value: &'a Value, path: &str) -> Result<&'a Map> {
    let what = if path.is_empty() { "the object" } else { path };
    value
        .as_object()
        .ok_or_else(|| malformed(what, "an object"))
}

/// The object at `key` of `map`, if present.
pub(crate) fn obj<'a>(map: &'a Map, key: &str, path: &str) -> Result<Option<&'a Map>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => as_obj(v, &join(path, key)).map(Some),
    }
}

/// The list at `key` of `map`, if present.
pub(crate) fn arr<'a>(map: &'a Map, key: &str, path: &str) -> Result<Option<&'a Vec<Value>>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_array()
            .map(Some)
            .ok_or_else(|| malformed(&join(path, key), "a list")),
    }
}

/// The objects of the list at `key` of `map` (empty when absent), with their paths.
pub(crate) fn objs<'a>(map: &'a Map, key: &str, path: &str) -> Result<Vec<(&'a Map, String)>> {
    let Some(list) = arr(map, key, path)? else {
        return Ok(Vec::new());
    };
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let p = format!("{}[{i}]", join(path, key));
            as_obj(v, &p).map(|m| (m, p))
        })
        .collect()
}

/// The string at `key` of `map`, if present.
pub(crate) fn string<'a>(map: &'a Map, key: &str, path: &str) -> Result<Option<&'a str>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_str()
            .map(Some)
            .ok_or_else(|| malformed(&join(path, key), "a string")),
    }
}

/// The string at `key`, `""` when absent (Go's zero value).
pub(crate) fn string_or_empty<'a>(map: &'a Map, key: &str, path: &str) -> Result<&'a str> {
    Ok(string(map, key, path)?.unwrap_or(""))
}

/// The boolean at `key` of `map`, if present.
pub(crate) fn boolean(map: &Map, key: &str, path: &str) -> Result<Option<bool>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_bool()
            .map(Some)
            .ok_or_else(|| malformed(&join(path, key), "a boolean")),
    }
}

/// The integer at `key` of `map`, if present.
pub(crate) fn integer(map: &Map, key: &str, path: &str) -> Result<Option<i64>> {
    match map.get(key) {
        None => Ok(None),
        Some(v) => v
            .as_i64()
            .map(Some)
            .ok_or_else(|| malformed(&join(path, key), "an integer")),
    }
}

/// The keys of `src` among `keys`, copied as they are.
pub(crate) fn pick(src: &Map, keys: &[&str]) -> Map {
    let mut out = Map::new();
    copy(src, &mut out, keys);
    out
}

/// Copies the keys of `src` among `keys` into `dst`.
pub(crate) fn copy(src: &Map, dst: &mut Map, keys: &[&str]) {
    for key in keys {
        if let Some(v) = src.get(*key) {
            dst.insert((*key).to_string(), v.clone());
        }
    }
}

/// Copies `src[from]`, when present, to `dst[to]`.
pub(crate) fn rename(src: &Map, from: &str, dst: &mut Map, to: &str) {
    if let Some(v) = src.get(from) {
        dst.insert(to.to_string(), v.clone());
    }
}

/// Sets `dst[key]` to `value`, or removes it when `value` is `None` (restoring a field as it was).
pub(crate) fn set_or_remove(dst: &mut Map, key: &str, value: Option<&Value>) {
    match value {
        Some(v) => {
            dst.insert(key.to_string(), v.clone());
        }
        None => {
            dst.remove(key);
        }
    }
}

/// The object at `key` of `map`, inserted empty when absent or not an object.
pub(crate) fn obj_mut<'a>(map: &'a mut Map, key: &str) -> &'a mut Map {
    let slot = map
        .entry(key.to_string())
        .or_insert_with(|| Value::Object(Map::new()));
    if !slot.is_object() {
        *slot = Value::Object(Map::new());
    }
    match slot {
        Value::Object(m) => m,
        _ => unreachable!("the slot was just made an object"),
    }
}

/// The start of a converted object: `apiVersion`, `kind` and `metadata` of `src`.
pub(crate) fn header(src: &Map, api_version: &str) -> Map {
    let mut out = Map::new();
    out.insert("apiVersion".into(), Value::String(api_version.into()));
    copy(src, &mut out, &["kind", "metadata"]);
    out
}

/// The annotations of an object's metadata, if any.
pub(crate) fn annotations(root: &Map) -> Result<Option<&Map>> {
    match obj(root, "metadata", "")? {
        None => Ok(None),
        Some(meta) => obj(meta, "annotations", "metadata"),
    }
}
