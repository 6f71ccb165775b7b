//! The published-library documents (`lib.json`, `items.json`, `item.json`) on arbitrary bytes:
//! deserializing never panics, and a document that reads back keeps everything through a
//! rewrite (what `vmi-operator publish` does with a library it did not write: unknown fields
//! are kept in `extra`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vmi_operator::source::published::format::{self, Item, Items, Lib};

fn round_trip<T>(data: &[u8])
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let Ok(doc) = serde_json::from_slice::<T>(data) else {
        return;
    };
    let first = serde_json::to_value(&doc).expect("a document read back serializes");
    let text = serde_json::to_vec(&doc).expect("a document read back serializes");
    let again: T = serde_json::from_slice(&text).expect("a rewritten document reads back");
    let second = serde_json::to_value(&again).expect("a document read back serializes");
    assert!(
        same(&first, &second),
        "rewrite changed the document:\n{first}\n{second}"
    );
}

/// Equal JSON, but floats only to 1e-12 relative: serde_json (without its `float_roundtrip`
/// feature) may read a printed float back one unit in the last place off, which is not what
/// this target looks for (fields lost, renamed or retyped on a rewrite).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= 1e-12 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    round_trip::<Lib>(data);
    round_trip::<Items>(data);
    round_trip::<Item>(data);
    if let Ok(items) = serde_json::from_slice::<Items>(data) {
        for item in &items.items {
            // The URN prefix is case-insensitive (RFC 8141): `urn:UUID:` is stripped too, and
            // so is the whitespace around the id.
            let id = format::strip_urn(&item.id);
            let trimmed = item.id.trim();
            if let Some(prefix) = trimmed.get(..9)
                && prefix.eq_ignore_ascii_case("urn:uuid:")
            {
                assert_eq!(id, trimmed[9..].to_ascii_lowercase(), "{:?}", item.id);
            }
            let _ = format::parse_created(&item.created);
            let _ = vmi_operator::vmi_id::vmi_id(&id);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = format::parse_created(text);
    }
});
