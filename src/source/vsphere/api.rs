//! JSON shapes of the vSphere Automation REST API (`/rest/com/vmware/content/...`, answers
//! wrapped in `{"value": ...}`) and their mapping onto the source types.
//!
//! Every field is optional: vCenter omits unset ones and vcsim (govmomi) omits empty ones.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::source::{ItemFile, ItemInfo, LibraryInfo, normalize_item_type, normalize_library_type};

/// The `/rest` envelope. `value` is null for an empty list in vcsim.
#[derive(Debug, Deserialize)]
pub(crate) struct Value<T> {
    #[serde(default = "Option::default")]
    pub value: Option<T>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Library {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub library_type: String,
    pub version: String,
    pub creation_time: Option<DateTime<Utc>>,
    pub last_modified_time: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Item {
    pub id: String,
    pub library_id: String,
    pub name: String,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub item_type: String,
    pub content_version: String,
    pub metadata_version: String,
    pub size: u64,
    pub cached: bool,
    pub creation_time: Option<DateTime<Utc>>,
    pub last_modified_time: Option<DateTime<Utc>>,
    pub security_compliance: Option<bool>,
    pub certificate_verification_info: Option<CertificateVerification>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CertificateVerification {
    pub status: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct File {
    pub name: String,
    pub size: Option<u64>,
    pub cached: Option<bool>,
    pub version: String,
    pub checksum_info: Option<Checksum>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Checksum {
    pub algorithm: String,
    pub checksum: String,
}

/// A download session's file (`downloadsession/file?~action=prepare|get`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct DownloadFile {
    pub name: String,
    pub status: String,
    pub download_endpoint: Option<Endpoint>,
    pub error_message: Option<Message>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Endpoint {
    pub uri: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Message {
    pub default_message: String,
}

impl From<Library> for LibraryInfo {
    fn from(l: Library) -> Self {
        LibraryInfo {
            id: l.id,
            name: l.name,
            description: l.description.unwrap_or_default(),
            library_type: normalize_library_type(&l.library_type),
            version: l.version,
            creation_time: l.creation_time,
            last_modified_time: l.last_modified_time,
        }
    }
}

/// One item with its file list.
///
/// Two fallbacks cover what vcsim (govmomi v0.46) leaves out and vCenter always sets:
/// - `content_version` empty: we derive `files-<hash>` from the file list (names, sizes,
///   versions, checksums) so a changed upload still reads as a new version instead of every
///   version comparing equal. A real vCenter's value is passed through untouched.
/// - `size` 0: the sum of the file sizes.
///
/// The item counts as cached when vSphere says so or when all its files are cached (vcsim marks
/// only the files of a local library's items).
pub(crate) fn item_info(item: Item, files: Vec<File>) -> ItemInfo {
    let content_version = if item.content_version.is_empty() {
        derived_content_version(&files)
    } else {
        item.content_version
    };
    let mut out_files: Vec<ItemFile> = Vec::with_capacity(files.len());
    for f in files {
        let file = ItemFile {
            name: f.name,
            size: f.size.unwrap_or(0),
            cached: f.cached.unwrap_or(false),
            version: f.version,
        };
        // vcsim appends a file again when an item is re-uploaded; the last entry is current.
        match out_files.iter_mut().find(|o| o.name == file.name) {
            Some(existing) => *existing = file,
            None => out_files.push(file),
        }
    }
    let size = if item.size > 0 {
        item.size
    } else {
        out_files.iter().map(|f| f.size).sum()
    };
    let cached = item.cached || (!out_files.is_empty() && out_files.iter().all(|f| f.cached));
    let (security_compliance, security_message) = match item.security_compliance {
        Some(false) => {
            let status = item
                .certificate_verification_info
                .map(|c| c.status)
                .filter(|s| !s.is_empty())
                .unwrap_or("unknown".into());
            (
                false,
                Some(format!(
                    "vCenter reports the item is not security compliant (certificate verification: {status})"
                )),
            )
        }
        _ => (true, None),
    };
    ItemInfo {
        id: item.id,
        name: item.name,
        description: item.description.unwrap_or_default(),
        item_type: normalize_item_type(&item.item_type),
        content_version,
        metadata_version: item.metadata_version,
        size,
        cached,
        creation_time: item.creation_time,
        last_modified_time: item.last_modified_time,
        files: out_files,
        security_compliance,
        security_message,
    }
}

fn derived_content_version(files: &[File]) -> String {
    let mut hash = Sha256::new();
    for f in files {
        let sum = f
            .checksum_info
            .as_ref()
            .map(|c| format!("{}:{}", c.algorithm, c.checksum))
            .unwrap_or_default();
        hash.update(format!(
            "{}\n{}\n{}\n{}\n",
            f.name,
            f.size.unwrap_or(0),
            f.version,
            sum
        ));
    }
    format!("files-{}", &hex::encode(hash.finalize())[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    // Shaped like a vCenter 8 `/rest` answer.
    const VCENTER_ITEM: &str = r#"{"value":{"cached":true,"content_version":"4","creation_time":"2024-03-01T10:00:00.123Z",
        "description":"Photon OS 5","id":"e1968c25-dd84-4506-8dc7-9beacb6b688e","last_modified_time":"2024-03-02T11:00:00.000Z",
        "library_id":"5b3d4a5e-0000-4000-8000-000000000001","metadata_version":"2","name":"photon5","size":322354466,
        "type":"ovf","version":"3","security_compliance":false,
        "certificate_verification_info":{"status":"VERIFICATION_FAILURE"}}}"#;

    // Shaped like vcsim's: no versions, no size, the item not cached, a file listed twice.
    const VCSIM_ITEM: &str = r#"{"value":{"creation_time":"2025-01-01T00:00:00.5+01:00","id":"1","library_id":"2",
        "name":"ttylinux","type":"ovf"}}"#;
    const VCSIM_FILES: &str = r#"{"value":[{"cached":true,"name":"ttylinux.ovf","size":10,"version":"1"},
        {"cached":true,"name":"disk0.vmdk","size":66048,"version":"1"},
        {"cached":true,"name":"ttylinux.ovf","size":12,"version":"1"}]}"#;

    #[test]
    fn maps_a_vcenter_item() {
        let item: Value<Item> = serde_json::from_str(VCENTER_ITEM).unwrap();
        let info = item_info(item.value.unwrap(), vec![]);
        assert_eq!(info.id, "e1968c25-dd84-4506-8dc7-9beacb6b688e");
        assert_eq!(info.item_type, "Ovf");
        assert_eq!(info.content_version, "4");
        assert_eq!(info.metadata_version, "2");
        assert_eq!(info.size, 322354466);
        assert!(info.cached);
        assert_eq!(
            info.creation_time.unwrap().to_rfc3339(),
            "2024-03-01T10:00:00.123+00:00"
        );
        assert!(!info.security_compliance);
        assert!(
            info.security_message
                .unwrap()
                .contains("VERIFICATION_FAILURE")
        );
    }

    #[test]
    fn fills_what_vcsim_leaves_out() {
        let item: Value<Item> = serde_json::from_str(VCSIM_ITEM).unwrap();
        let files: Value<Vec<File>> = serde_json::from_str(VCSIM_FILES).unwrap();
        let files = files.value.unwrap();
        let before = derived_content_version(&files[..2]);
        let info = item_info(item.value.unwrap(), files);
        assert_eq!(info.files.len(), 2);
        assert_eq!(
            info.files[0],
            ItemFile {
                name: "ttylinux.ovf".into(),
                size: 12,
                cached: true,
                version: "1".into(),
            }
        );
        assert_eq!(info.size, 12 + 66048);
        assert!(info.cached);
        assert!(info.content_version.starts_with("files-"));
        assert_ne!(
            info.content_version, before,
            "a re-upload changes the derived version"
        );
        assert!(info.security_compliance);
        assert_eq!(
            info.creation_time.unwrap().to_rfc3339(),
            "2024-12-31T23:00:00.500+00:00"
        );
    }

    #[test]
    fn null_list_is_empty() {
        let ids: Value<Vec<String>> = serde_json::from_str(r#"{"value":null}"#).unwrap();
        assert!(ids.value.unwrap_or_default().is_empty());
        let ids: Value<Vec<String>> = serde_json::from_str(r#"{}"#).unwrap();
        assert!(ids.value.is_none());
    }

    #[test]
    fn maps_a_library() {
        let raw = r#"{"value":{"id":"5b3d","name":"images","type":"SUBSCRIBED","version":"7",
            "creation_time":"2024-01-01T00:00:00Z","storage_backings":[{"datastore_id":"ds-1","type":"DATASTORE"}]}}"#;
        let lib: Value<Library> = serde_json::from_str(raw).unwrap();
        let info = LibraryInfo::from(lib.value.unwrap());
        assert_eq!(info.library_type, "Subscribed");
        assert_eq!(info.version, "7");
        assert_eq!(info.description, "");
    }

    #[test]
    fn reads_a_download_file() {
        let raw = r#"{"value":{"bytes_transferred":0,"download_endpoint":{"uri":"https://127.0.0.1:1/rest/com/vmware/cis/data/s/a.ovf"},
            "name":"a.ovf","status":"PREPARED"}}"#;
        let f: Value<DownloadFile> = serde_json::from_str(raw).unwrap();
        let f = f.value.unwrap();
        assert_eq!(f.status, "PREPARED");
        assert!(f.download_endpoint.unwrap().uri.ends_with("/a.ovf"));
    }
}
