//! One content library of a vCenter.

use async_trait::async_trait;
use futures::{StreamExt, TryStreamExt};

use super::VsphereClient;
use super::api;
use crate::source::{ItemInfo, LibraryInfo, LibrarySource, SourceError};

const LIBRARY_PATH: &str = "/rest/com/vmware/content/library";
const ITEM_PATH: &str = "/rest/com/vmware/content/library/item";
const FILE_PATH: &str = "/rest/com/vmware/content/library/item/file";

/// Items fetched at once while listing: enough to hide latency, few enough not to load vCenter.
pub(crate) const LIST_CONCURRENCY: usize = 8;

/// A library of a vCenter, read through the client's shared session.
#[derive(Clone, Debug)]
pub struct VsphereLibrary {
    client: VsphereClient,
    id: String,
}

impl VsphereLibrary {
    pub(super) fn new(client: VsphereClient, id: &str) -> Self {
        VsphereLibrary {
            client,
            id: id.to_string(),
        }
    }

    /// The library's UUID.
    pub fn id(&self) -> &str {
        &self.id
    }

    async fn item_ids(&self) -> Result<Vec<String>, SourceError> {
        // vcsim and vCenter both answer 404 for the items of an unknown library.
        let not_found = || SourceError::LibraryNotFound(self.id.clone());
        self.client
            .get_list(ITEM_PATH, &[("library_id", &self.id)], not_found)
            .await
    }

    async fn files(&self, item_id: &str) -> Result<Vec<api::File>, SourceError> {
        let not_found = || SourceError::ItemNotFound(item_id.to_string());
        self.client
            .get_list(FILE_PATH, &[("library_item_id", item_id)], not_found)
            .await
    }

    /// One item's info and file list; a 404 on either is ItemNotFound.
    async fn load_item(&self, item_id: &str) -> Result<ItemInfo, SourceError> {
        let not_found = || SourceError::ItemNotFound(item_id.to_string());
        let item: api::Item = self
            .client
            .get_one(&format!("{ITEM_PATH}/id:{item_id}"), not_found)
            .await?;
        // An item of another library is not one of ours, whatever its id.
        if !item.library_id.is_empty() && item.library_id != self.id {
            return Err(not_found());
        }
        let files = self.files(item_id).await?;
        Ok(api::item_info(item, files))
    }
}

fn library_path(id: &str) -> String {
    format!("{LIBRARY_PATH}/id:{id}")
}

#[async_trait]
impl LibrarySource for VsphereLibrary {
    async fn library(&self) -> Result<LibraryInfo, SourceError> {
        let not_found = || SourceError::LibraryNotFound(self.id.clone());
        let lib: api::Library = self
            .client
            .get_one(&library_path(&self.id), not_found)
            .await?;
        Ok(lib.into())
    }

    /// Lists ids, then loads items `LIST_CONCURRENCY` at a time. The first failure fails the
    /// whole listing (an item deleted meanwhile included: the next sync sees a consistent list).
    async fn list_items(&self) -> Result<Vec<ItemInfo>, SourceError> {
        let ids = self.item_ids().await?;
        let mut items: Vec<ItemInfo> = futures::stream::iter(ids)
            .map(|id| async move { self.load_item(&id).await })
            .buffer_unordered(LIST_CONCURRENCY)
            .try_collect()
            .await?;
        items.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(items)
    }

    async fn item(&self, item_id: &str) -> Result<ItemInfo, SourceError> {
        self.load_item(item_id).await
    }

    async fn fetch_ovf(&self, item: &ItemInfo) -> Result<Vec<u8>, SourceError> {
        let names: Vec<String> = if item.files.is_empty() {
            self.files(&item.id)
                .await?
                .into_iter()
                .map(|f| f.name)
                .collect()
        } else {
            item.files.iter().map(|f| f.name.clone()).collect()
        };
        super::download::descriptor(&self.client, &item.id, &names).await
    }
}
