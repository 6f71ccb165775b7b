//! Library sources: where content library items come from.
//!
//! One small trait, two implementations: a vCenter through the vSphere Automation REST API
//! (`vsphere`), and a published library (the vSphere subscription format: `lib.json`,
//! `items.json`, per-item `item.json` and files) over HTTP(S) or from a directory (`published`).
//! The sync controller lists items through it; the image controller fetches OVF descriptors.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

pub(crate) mod http;
mod limits;
pub(crate) mod ova_stream;
pub mod policy;
pub mod published;
mod redact;
mod registry;
mod verify;
pub mod vsphere;

pub use http::TlsOptions;
pub use policy::{PolicyError, Scope, SourcePolicy};
pub use published::PublishedSource;
pub use registry::SourceRegistry;
pub use vsphere::{VsphereClient, VsphereConfig, VsphereLibrary};

/// What a source says about the library itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LibraryInfo {
    /// The library's UUID in its source.
    pub id: String,
    pub name: String,
    pub description: String,
    /// `Local` or `Subscribed`.
    pub library_type: String,
    pub version: String,
    pub creation_time: Option<DateTime<Utc>>,
    pub last_modified_time: Option<DateTime<Utc>>,
}

/// One file of a library item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemFile {
    pub name: String,
    pub size: u64,
    /// Whether the file's content is held by the library (false: only metadata, e.g. a
    /// subscribed library with on-demand download).
    pub cached: bool,
    /// The file's version in its library; empty when the source has none (published
    /// libraries), and the item's content version stands for it.
    pub version: String,
}

/// What a source says about one item.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ItemInfo {
    /// The item's vSphere UUID (`e1968c25-dd84-4506-8dc7-9beacb6b688e`).
    pub id: String,
    pub name: String,
    pub description: String,
    /// `Ovf`, `Iso`, or whatever else the source says (other types produce no image).
    pub item_type: String,
    pub content_version: String,
    pub metadata_version: String,
    pub size: u64,
    pub cached: bool,
    pub creation_time: Option<DateTime<Utc>>,
    pub last_modified_time: Option<DateTime<Utc>>,
    pub files: Vec<ItemFile>,
    /// False when the item fails a check the source offers (e.g. an OVA manifest digest
    /// mismatch); `security_message` then says which.
    pub security_compliance: bool,
    pub security_message: Option<String>,
}

impl ItemInfo {
    /// What [`LibrarySource::fetch_ovf`] reads of an item: its id and its files (the names
    /// say which is the descriptor; none means the source lists them itself).
    pub fn descriptor_request(id: &str, files: Vec<ItemFile>) -> Self {
        ItemInfo {
            id: id.to_string(),
            files,
            ..Default::default()
        }
    }
}

/// Why a source call failed. Each variant has a stable reason for conditions, events and metrics.
/// Clone: a failed vCenter login is answered to every caller waiting for it.
#[derive(Clone, Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot reach library source {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("library source {url} answered HTTP {status}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
    #[error("library source login failed: {0}")]
    Auth(String),
    #[error("library source answered something that is not a library: {0}")]
    InvalidResponse(String),
    #[error("library {0} not found in its source")]
    LibraryNotFound(String),
    #[error("item {0} not found in its library")]
    ItemNotFound(String),
    #[error("item {item} has no OVF descriptor: {message}")]
    NoDescriptor { item: String, message: String },
    #[error("{what} is larger than the limit of {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    #[error("library source is misconfigured: {0}")]
    Config(String),
    /// The item's content fails a check the source offers (a manifest digest mismatch): its
    /// descriptor must not be used.
    #[error("item {item} is not security compliant: {message}")]
    NotCompliant { item: String, message: String },
    /// The source policy refuses the URL; nothing was read or sent.
    #[error("refused by the source policy: {0}")]
    Policy(#[from] PolicyError),
}

impl SourceError {
    /// Stable reason used in conditions, events and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            SourceError::Unreachable { .. } => "SourceUnreachable",
            SourceError::Http { .. } => "SourceHTTPError",
            SourceError::Auth(_) => "SourceAuthFailed",
            SourceError::InvalidResponse(_) => "SourceInvalidResponse",
            SourceError::LibraryNotFound(_) => "LibraryNotFound",
            SourceError::ItemNotFound(_) => "ItemNotFound",
            SourceError::NoDescriptor { .. } => "NoOVFDescriptor",
            SourceError::TooLarge { .. } => "SourceTooLarge",
            SourceError::Config(_) => "SourceMisconfigured",
            SourceError::NotCompliant { .. } => "ItemNotSecurityCompliant",
            SourceError::Policy(e) => e.reason(),
        }
    }
}

/// A content library, wherever it lives.
#[async_trait]
pub trait LibrarySource: Send + Sync {
    /// The library's own metadata.
    async fn library(&self) -> Result<LibraryInfo, SourceError>;
    /// Every item of the library. A partial listing is an error, never a shorter list: the
    /// sync deletes item resources that a successful listing no longer holds.
    async fn list_items(&self) -> Result<Vec<ItemInfo>, SourceError>;
    /// One item by its UUID.
    async fn item(&self, item_id: &str) -> Result<ItemInfo, SourceError>;
    /// The OVF descriptor (the `.ovf` file's bytes) of an `Ovf` item; for an item stored as an
    /// OVA, the descriptor inside the archive. Reads only the item's id and files.
    async fn fetch_ovf(&self, item: &ItemInfo) -> Result<Vec<u8>, SourceError>;
}

pub use crate::ovf::MAX_DESCRIPTOR_BYTES;
/// Largest listing document (`lib.json`, `item.json`, a REST listing) we read.
pub const MAX_LISTING_BYTES: u64 = 64 * 1024 * 1024;
/// Largest `items.json` of a published library: about 1.1 KB an item as VMware's publisher
/// writes it, so 64 MiB stopped a library at some 60,000 items (100,000 take 109 MB).
pub const MAX_ITEMS_BYTES: u64 = 256 * 1024 * 1024;

/// Item type of OVF templates (vSphere `ovf`, published `vcsp.ovf`).
pub const ITEM_TYPE_OVF: &str = "Ovf";
/// Item type of ISO images (vSphere `iso`, published `vcsp.iso`).
pub const ITEM_TYPE_ISO: &str = "Iso";

/// Maps a source's item type spelling onto ours: `ovf`/`vcsp.ovf` -> `Ovf`, `iso`/`vcsp.iso` ->
/// `Iso`; anything else is kept as the source says it (and produces no image).
pub fn normalize_item_type(raw: &str) -> String {
    let bare = raw.strip_prefix("vcsp.").unwrap_or(raw);
    if bare.eq_ignore_ascii_case("ovf") {
        ITEM_TYPE_OVF.to_string()
    } else if bare.eq_ignore_ascii_case("iso") {
        ITEM_TYPE_ISO.to_string()
    } else {
        raw.to_string()
    }
}

/// Maps a vSphere library type (`LOCAL`, `SUBSCRIBED`) onto ours (`Local`, `Subscribed`).
pub fn normalize_library_type(raw: &str) -> String {
    match raw.to_ascii_uppercase().as_str() {
        "LOCAL" => "Local".to_string(),
        "SUBSCRIBED" => "Subscribed".to_string(),
        _ => raw.to_string(),
    }
}
