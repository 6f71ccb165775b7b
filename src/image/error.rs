//! Why an image reconcile failed.

use std::time::Duration;

use crate::ovf::OvfError;
use crate::reconciler::ReconcileError;
use crate::source::SourceError;
use crate::vmi_id;

/// Why a reconcile failed; the reason names the condition reason, event reason and metric label.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    InvalidUuid(#[from] vmi_id::InvalidUuid),
    #[error("content library {0} of the item is not known to the cluster")]
    LibraryNotFound(String),
    #[error("fetching the OVF descriptor failed: {0}")]
    Source(#[from] SourceError),
    #[error("fetching the OVF descriptor took longer than {0:?}")]
    FetchTimeout(Duration),
    #[error("the OVF descriptor is invalid: {0}")]
    Ovf(#[from] OvfError),
    #[error("image {image} belongs to item {owner}; item {item} maps to the same VMI ID")]
    Conflict {
        image: String,
        owner: String,
        item: String,
    },
    #[error("Kubernetes API error: {0}")]
    Kube(#[from] kube::Error),
    #[error("the image in the operator's store cannot be decoded: {0}")]
    StoreDecode(serde_json::Error),
}

impl ReconcileError for ImageError {
    fn reason(&self) -> &'static str {
        match self {
            ImageError::InvalidUuid(_) => "InvalidItemUUID",
            ImageError::LibraryNotFound(_) => "LibraryNotFound",
            ImageError::Source(e) => e.reason(),
            ImageError::FetchTimeout(_) => "OVFFetchTimeout",
            ImageError::Ovf(e) => e.reason(),
            ImageError::Conflict { .. } => "VMIIDConflict",
            ImageError::Kube(_) => "KubernetesAPIError",
            ImageError::StoreDecode(_) => "StoreDecodeFailed",
        }
    }

    fn waits_for_change(&self) -> bool {
        matches!(
            self,
            ImageError::InvalidUuid(_) | ImageError::Conflict { .. }
        )
    }
}
