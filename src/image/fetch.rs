//! Fetching and parsing an item's OVF descriptor through its library's source.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

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
        .source_for(library.scope(), library.id(), library.source())?;
    let files = status
        .file_info
        .iter()
        .map(|f| ItemFile {
            name: f.name.clone(),
            size: f.size_in_bytes.as_ref().and_then(bytes).unwrap_or(0),
            cached: f.cached,
            version: f.version.clone().unwrap_or_default(),
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

/// A `sizeInBytes` quantity as bytes: plain digits as this operator writes it, or a suffixed
/// quantity (`2Gi`) as others may.
fn bytes(q: &Quantity) -> Option<u64> {
    crate::ovf::quantity_to_bytes(&q.0)
}
