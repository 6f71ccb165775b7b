//! A published library: the vSphere subscription format (`lib.json` -> `items.json` -> items
//! with their files, see [`format`](mod@format)) read over https://, http:// or from a directory (file://).
//!
//! Listing reads `lib.json` and `items.json` (and an item's `item.json` when the listing omits
//! its files). Hrefs of the last listing are remembered so fetching a descriptor does not read
//! `items.json` again.
//!
//! Security compliance: when an OVF item carries a manifest (`<name>.mf`), its descriptor must
//! match it. `fetch_ovf` always checks (and fails with NotCompliant); a `file://` listing checks
//! too, since reading two small local files is cheap, and reports the result on the item. Over
//! http the listing does not download every descriptor; the check then happens on fetch. For an
//! OVA the check is `read_ova`'s, on fetch.

pub mod format;
mod location;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};
use url::Url;

use self::location::Location;
use super::http::TlsOptions;
use super::policy::{Scope, SourcePolicy};
use super::verify::{self, MAX_MANIFEST_BYTES};
use super::{
    ItemFile, ItemInfo, LibraryInfo, LibrarySource, MAX_DESCRIPTOR_BYTES, MAX_ITEMS_BYTES,
    MAX_LISTING_BYTES, SourceError, normalize_item_type,
};

/// Item documents (`item.json`) or compliance checks in flight at once while listing.
const LIST_CONCURRENCY: usize = 8;

/// A library published in the vSphere subscription format.
pub struct PublishedSource {
    location: Location,
    /// Item id -> its files' hrefs (resolved), from the last listing.
    hrefs: Mutex<HashMap<String, Vec<(String, Url)>>>,
}

impl std::fmt::Debug for PublishedSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishedSource")
            .field("url", &self.location.lib_url().as_str())
            .finish_non_exhaustive()
    }
}

impl PublishedSource {
    /// `url` names the library's `lib.json` (or the directory holding it). Nothing is read
    /// until the first call.
    pub fn new(url: Url, tls: TlsOptions) -> Result<Self, SourceError> {
        Ok(PublishedSource {
            location: Location::new(url, &tls, None)?,
            hrefs: Mutex::new(HashMap::new()),
        })
    }

    /// A library of `scope` under the source `policy`: every URL it reads (`url` first, before
    /// anything is opened) is checked, and a refusal is [`SourceError::Policy`].
    pub fn with_policy(
        url: Url,
        tls: TlsOptions,
        policy: Arc<SourcePolicy>,
        scope: Scope,
    ) -> Result<Self, SourceError> {
        let guard = location::Guard { policy, scope };
        Ok(PublishedSource {
            location: Location::new(url, &tls, Some(guard))?,
            hrefs: Mutex::new(HashMap::new()),
        })
    }

    /// The `lib.json` URL (without credentials).
    pub fn url(&self) -> &Url {
        self.location.lib_url()
    }

    async fn json<T: serde::de::DeserializeOwned>(
        &self,
        url: &Url,
        what: &str,
    ) -> Result<Option<T>, SourceError> {
        self.json_within(url, what, MAX_LISTING_BYTES).await
    }

    async fn json_within<T: serde::de::DeserializeOwned>(
        &self,
        url: &Url,
        what: &str,
        limit: u64,
    ) -> Result<Option<T>, SourceError> {
        let Some(bytes) = self.location.read(url, limit, what).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| SourceError::InvalidResponse(format!("{what} at {url} is not valid: {e}")))
    }

    async fn lib(&self) -> Result<format::Lib, SourceError> {
        let url = self.location.lib_url();
        let lib: format::Lib = self
            .json(url, "lib.json")
            .await?
            .ok_or_else(|| SourceError::LibraryNotFound(url.to_string()))?;
        if lib.id.is_empty() {
            return Err(SourceError::InvalidResponse(format!(
                "{url} has no library id"
            )));
        }
        Ok(lib)
    }

    /// Every item with its files, `item.json` read where `items.json` left the files out.
    async fn raw_items(&self) -> Result<Vec<format::Listed>, SourceError> {
        let lib = self.lib().await?;
        let href = if lib.items_href.is_empty() {
            format::ITEMS_FILE
        } else {
            &lib.items_href
        };
        let url = self.location.resolve(href)?;
        let items: format::Listing = self
            .json_within(&url, "items.json", MAX_ITEMS_BYTES)
            .await?
            .ok_or_else(|| {
                SourceError::InvalidResponse(format!("{url} (the library's items) does not exist"))
            })?;
        futures::stream::iter(items.items)
            .map(|item| async move {
                if item.files.is_some() {
                    return Ok(item);
                }
                self.item_document(&item).await
            })
            .buffered(LIST_CONCURRENCY)
            .try_collect()
            .await
    }

    async fn item_document(&self, item: &format::Listed) -> Result<format::Listed, SourceError> {
        let id = format::strip_urn(&item.id);
        if item.self_href.is_empty() {
            return Err(SourceError::InvalidResponse(format!(
                "item {id} lists no files and no selfHref"
            )));
        }
        let url = self.location.resolve(&item.self_href)?;
        let doc: format::Listed = self
            .json(&url, "item.json")
            .await?
            .ok_or(SourceError::ItemNotFound(id))?;
        Ok(doc)
    }

    /// Maps raw items, remembering their hrefs, and runs the cheap compliance checks.
    async fn items(&self) -> Result<Vec<ItemInfo>, SourceError> {
        let raw = self.raw_items().await?;
        let mut infos = Vec::with_capacity(raw.len());
        let mut hrefs = HashMap::with_capacity(raw.len());
        for item in raw {
            let (info, files) = self.item_info(item)?;
            // One entry per id, the first in file order (as `item()` finds it): a later
            // duplicate must not swap another item's files in.
            if hrefs.contains_key(&info.id) {
                tracing::warn!(item = %info.id, name = %info.name, "duplicate item id in items.json; keeping the first entry");
                continue;
            }
            hrefs.insert(info.id.clone(), files);
            infos.push(info);
        }
        let infos: Vec<ItemInfo> = if self.location.lib_url().scheme() == "file" {
            futures::stream::iter(infos.into_iter().map(|info| {
                let files = hrefs.get(&info.id).cloned().unwrap_or_default();
                (info, files)
            }))
            .map(|(info, files)| async move { self.check_listed(info, &files).await })
            .buffered(LIST_CONCURRENCY)
            .try_collect()
            .await?
        } else {
            infos
        };
        *self.hrefs.lock().unwrap_or_else(|e| e.into_inner()) = hrefs;
        Ok(infos)
    }

    fn item_info(
        &self,
        item: format::Listed,
    ) -> Result<(ItemInfo, Vec<(String, Url)>), SourceError> {
        let id = format::strip_urn(&item.id);
        if id.is_empty() {
            return Err(SourceError::InvalidResponse(format!(
                "item {:?} has no id",
                item.name
            )));
        }
        let mut files = Vec::new();
        let mut hrefs = Vec::new();
        for f in item.files.unwrap_or_default() {
            let href = f.hrefs.first().ok_or_else(|| {
                SourceError::InvalidResponse(format!("file {} of item {id} has no href", f.name))
            })?;
            hrefs.push((f.name.clone(), self.location.resolve(href)?));
            files.push(ItemFile {
                name: f.name,
                size: f.size,
                cached: true,
                version: String::new(),
            });
        }
        let info = ItemInfo {
            id,
            name: item.name,
            description: item.description,
            item_type: normalize_item_type(&item.item_type),
            // VMware's publisher has only `version`, bumped when files change.
            content_version: item.content_version.unwrap_or_else(|| item.version.clone()),
            metadata_version: item.version,
            size: files.iter().map(|f| f.size).sum(),
            cached: true,
            creation_time: format::parse_created(&item.created),
            last_modified_time: None,
            files,
            security_compliance: true,
            security_message: None,
        };
        // Kept until the next listing, one per item: without the spare capacity of a growing
        // Vec (three unused entries of 112 bytes each for a one-file item).
        hrefs.shrink_to_fit();
        Ok((info, hrefs))
    }

    /// The listing's compliance check: only a manifest mismatch marks the item; a file that
    /// cannot be read now is the fetch's problem, not the listing's.
    async fn check_listed(
        &self,
        mut info: ItemInfo,
        files: &[(String, Url)],
    ) -> Result<ItemInfo, SourceError> {
        if let Err(SourceError::NotCompliant { message, .. }) =
            self.check_manifest(&info.id, files).await
        {
            info.security_compliance = false;
            info.security_message = Some(message);
        }
        Ok(info)
    }

    /// Reads the `.ovf` and checks it against the item's `.mf` (if any). Returns the descriptor.
    async fn check_manifest(
        &self,
        item: &str,
        files: &[(String, Url)],
    ) -> Result<Option<Vec<u8>>, SourceError> {
        let Some((ovf, ovf_url)) = files.iter().find(|(n, _)| has_ext(n, "ovf")) else {
            return Ok(None);
        };
        let stem = &ovf[..ovf.len() - 4];
        let bytes = self
            .required(
                item,
                ovf_url,
                MAX_DESCRIPTOR_BYTES,
                &format!("OVF descriptor {ovf}"),
            )
            .await?;
        if let Some((_, mf_url)) = files
            .iter()
            .find(|(n, _)| has_ext(n, "mf") && &n[..n.len() - 3] == stem)
        {
            let text = self
                .required(item, mf_url, MAX_MANIFEST_BYTES, "manifest")
                .await?;
            verify::against_manifest(&text, ovf, &bytes).map_err(|message| {
                SourceError::NotCompliant {
                    item: item.to_string(),
                    message,
                }
            })?;
        }
        Ok(Some(bytes))
    }

    async fn required(
        &self,
        item: &str,
        url: &Url,
        limit: u64,
        what: &str,
    ) -> Result<Vec<u8>, SourceError> {
        self.location
            .read(url, limit, what)
            .await?
            .ok_or_else(|| SourceError::NoDescriptor {
                item: item.to_string(),
                message: format!("{what} is listed but {url} does not exist"),
            })
    }

    /// The files' hrefs of an item, from the last listing or a new one.
    async fn hrefs_of(&self, item_id: &str) -> Result<Vec<(String, Url)>, SourceError> {
        let cached = self
            .hrefs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(item_id)
            .cloned();
        if let Some(files) = cached {
            return Ok(files);
        }
        self.items().await?;
        self.hrefs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(item_id)
            .cloned()
            .ok_or_else(|| SourceError::ItemNotFound(item_id.to_string()))
    }
}

fn has_ext(name: &str, ext: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(stem, e)| !stem.is_empty() && e.eq_ignore_ascii_case(ext))
}

#[async_trait]
impl LibrarySource for PublishedSource {
    async fn library(&self) -> Result<LibraryInfo, SourceError> {
        let lib = self.lib().await?;
        let created = format::parse_created(&lib.created);
        Ok(LibraryInfo {
            id: format::strip_urn(&lib.id),
            name: lib.name,
            description: lib.description,
            // Read through its subscription format, the library is subscribed to.
            library_type: "Subscribed".to_string(),
            version: lib.version,
            creation_time: created,
            last_modified_time: None,
        })
    }

    async fn list_items(&self) -> Result<Vec<ItemInfo>, SourceError> {
        let mut items = self.items().await?;
        items.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(items)
    }

    async fn item(&self, item_id: &str) -> Result<ItemInfo, SourceError> {
        let wanted = item_id.to_ascii_lowercase();
        let raw = self.raw_items().await?;
        let item = raw
            .into_iter()
            .find(|i| format::strip_urn(&i.id) == wanted)
            .ok_or_else(|| SourceError::ItemNotFound(item_id.to_string()))?;
        let (info, files) = self.item_info(item)?;
        self.hrefs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(info.id.clone(), files.clone());
        if self.location.lib_url().scheme() == "file" {
            self.check_listed(info, &files).await
        } else {
            Ok(info)
        }
    }

    async fn fetch_ovf(&self, item: &ItemInfo) -> Result<Vec<u8>, SourceError> {
        let files = self.hrefs_of(&item.id).await?;
        if let Some(bytes) = self.check_manifest(&item.id, &files).await? {
            return Ok(bytes);
        }
        if let Some((name, url)) = files.iter().find(|(n, _)| has_ext(n, "ova")) {
            return self
                .location
                .ova_descriptor(&item.id, url)
                .await?
                .ok_or_else(|| SourceError::NoDescriptor {
                    item: item.id.clone(),
                    message: format!("{name} is listed but {url} does not exist"),
                });
        }
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        Err(SourceError::NoDescriptor {
            item: item.id.clone(),
            message: format!("no .ovf or .ova file among {names:?}"),
        })
    }
}
