//! The vSphere subscription format (VCSP version 2), as vCenter publishes libraries and as
//! VMware's `make_vcsp_2018.py` writes them:
//!
//! ```text
//! lib.json              {"vcspVersion":"2","version":"3","contentVersion":"1","name":..,
//!                        "id":"urn:uuid:..","created":"2024-01-01T10:00Z",
//!                        "capabilities":{..},"itemsHref":"items.json"}
//! items.json            {"items":[ <item>, ... ]}
//! <folder>/item.json    <item>: {"id":"urn:uuid:..","name":..,"type":"vcsp.ovf","version":"2",
//!                        "contentVersion":"2","created":..,"description":..,
//!                        "selfHref":"<folder>/item.json",
//!                        "files":[{"name":"a.ovf","size":123,"etag":..,"hrefs":["<folder>/a.ovf"]}]}
//! ```
//!
//! Hrefs are relative to the library's URL (the `lib.json` location), not to `item.json`.
//! Unknown fields are kept (`extra`) so a rewrite by `publish` does not drop them.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub const LIB_FILE: &str = "lib.json";
pub const ITEMS_FILE: &str = "items.json";
pub const ITEM_FILE: &str = "item.json";
pub const VCSP_VERSION: &str = "2";
pub const TYPE_OVF: &str = "vcsp.ovf";
pub const TYPE_ISO: &str = "vcsp.iso";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lib {
    #[serde(default)]
    pub vcsp_version: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub content_version: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub capabilities: Value,
    #[serde(default)]
    pub items_href: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Items {
    #[serde(default)]
    pub items: Vec<Item>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_version: Option<String>,
    /// Absent in a listing that only points at each `item.json`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<File>>,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub properties: Value,
    #[serde(default)]
    pub self_href: String,
    #[serde(default, rename = "type")]
    pub item_type: String,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct File {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation_num: Option<i64>,
    #[serde(default)]
    pub hrefs: Vec<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An `items.json` as the operator reads it: only what a listing needs, unknown fields and
/// `properties` skipped rather than kept (an [`Items`] of 100,000 items decoded its metadata
/// into maps, several times the 109 MB of the file).
#[derive(Debug, Default, Deserialize)]
pub struct Listing {
    #[serde(default)]
    pub items: Vec<Listed>,
}

/// An item as the operator reads it (of a listing, or its own `item.json`).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub content_version: Option<String>,
    /// Absent in a listing that only points at each `item.json`.
    #[serde(default)]
    pub files: Option<Vec<ListedFile>>,
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub self_href: String,
    #[serde(default, rename = "type")]
    pub item_type: String,
}

/// A file of a [`Listed`] item.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ListedFile {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub hrefs: Vec<String>,
}

/// `urn:uuid:E1968C25-...` -> `e1968c25-...`.
pub fn strip_urn(id: &str) -> String {
    let id = id.trim();
    let bare = match id.get(..9) {
        Some(prefix) if prefix.eq_ignore_ascii_case("urn:uuid:") => &id[9..],
        _ => id,
    };
    bare.to_ascii_lowercase()
}

/// Reads the timestamps seen in published libraries: VMware's minute format, RFC 3339, and
/// RFC 3339 without an offset (taken as UTC). Anything else is None: a timestamp is never worth
/// failing a listing for.
pub fn parse_created(s: &str) -> Option<DateTime<Utc>> {
    if s.is_empty() {
        return None;
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%MZ",
        "%Y-%m-%dT%H:%M:%S%.fZ",
        "%Y-%m-%dT%H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    // As VMware's make_vcsp_2018.py writes them.
    const LIB: &str = r#"{"vcspVersion":"2","version":"3","contentVersion":"1","name":"images",
        "id":"urn:uuid:aa465152-4ed2-44f5-8fb0-4fac5e03016a","created":"2022-08-07T20:14Z",
        "capabilities":{"transferIn":["httpGet"],"transferOut":["httpGet"]},"itemsHref":"items.json"}"#;
    const ITEMS: &str = r#"{"items":[{"created":"2022-08-07T20:14Z","description":"","version":"2",
        "files":[{"name":"photon.ovf","size":35106,"etag":"abc","hrefs":["photon/photon.ovf"]}],
        "id":"urn:uuid:5E7E0B5A-0000-4000-8000-000000000001","name":"photon",
        "metadata":[{"key":"type-metadata","value":"{}","type":"String","domain":"SYSTEM","visibility":"READONLY"}],
        "properties":{},"selfHref":"photon/item.json","type":"vcsp.ovf"}]}"#;

    #[test]
    fn ids_lose_their_urn_prefix_case_and_surrounding_whitespace() {
        assert_eq!(strip_urn("urn:UUID:AB-CD"), "ab-cd");
        assert_eq!(strip_urn(" urn:uuid:Ab\t2 \n"), "ab\t2");
        assert_eq!(strip_urn("AB-CD"), "ab-cd");
        assert_eq!(strip_urn("urn:isbn:1"), "urn:isbn:1");
    }

    #[test]
    fn reads_vmware_layout() {
        let lib: Lib = serde_json::from_str(LIB).unwrap();
        assert_eq!(lib.items_href, "items.json");
        assert_eq!(strip_urn(&lib.id), "aa465152-4ed2-44f5-8fb0-4fac5e03016a");
        assert_eq!(
            parse_created(&lib.created).unwrap().to_rfc3339(),
            "2022-08-07T20:14:00+00:00"
        );
        let items: Items = serde_json::from_str(ITEMS).unwrap();
        let item = &items.items[0];
        assert_eq!(strip_urn(&item.id), "5e7e0b5a-0000-4000-8000-000000000001");
        assert_eq!(item.content_version, None);
        assert_eq!(item.files.as_ref().unwrap()[0].hrefs, ["photon/photon.ovf"]);
        assert!(
            item.extra.contains_key("metadata"),
            "unknown fields are kept"
        );
        let again: Items = serde_json::from_str(&serde_json::to_string(&items).unwrap()).unwrap();
        assert_eq!(again, items);
    }

    #[test]
    fn timestamps() {
        assert!(parse_created("2024-01-02T03:04:05.678Z").is_some());
        assert!(parse_created("2024-01-02T03:04:05+02:00").is_some());
        assert!(parse_created("2024-01-02T03:04:05").is_some());
        assert_eq!(parse_created("yesterday"), None);
    }
}
