//! Fetching and parsing an item's OVF descriptor through its library's source.

use crate::api::ContentLibraryItemStatus;
use crate::context::Context;
use crate::kinds::LibraryKind;
use crate::ovf::{OvfInfo, parse_descriptor};
use crate::source::{ItemFile, ItemInfo};

use super::error::ImageError;

/// The descriptor of item `uuid` of `library`, within the fetch timeout.
pub async fn descriptor<L: LibraryKind>(
    ctx: &Context,
    library: &L,
    uuid: &str,
    status: &ContentLibraryItemStatus,
) -> Result<OvfInfo, ImageError> {
    let source = ctx
        .sources
        .source_for(library.scope(), library.uuid(), library.source())?;
    let files = status
        .file_info
        .iter()
        .map(|f| ItemFile {
            name: f.name.clone(),
            size: u64::try_from(f.size).unwrap_or(0),
            cached: f.cached,
        })
        .collect();
    let request = ItemInfo::descriptor_request(uuid, files);
    let timeout = ctx.settings.fetch_timeout;
    let bytes = tokio::time::timeout(timeout, source.fetch_ovf(&request))
        .await
        .map_err(|_| ImageError::FetchTimeout(timeout))??;
    // Parsing a large appliance descriptor takes milliseconds: keep it off the async workers.
    let parsed = tokio::task::spawn_blocking(move || parse_descriptor(&bytes))
        .await
        .expect("the OVF parser never panics");
    Ok(parsed?)
}
