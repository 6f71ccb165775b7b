//! Which [`LibrarySource`] serves a library resource: a published library when `spec.source` is
//! set, else the operator's vCenter. Sources are cached so sessions and HTTP pools are reused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use url::Url;

use crate::source::{LibrarySource, PublishedSource, SourceError, TlsOptions, VsphereClient};

/// Hands out library sources by library spec.
pub struct SourceRegistry {
    vcenter: Option<VsphereClient>,
    published_tls: TlsOptions,
    cache: Mutex<HashMap<String, Arc<dyn LibrarySource>>>,
}

impl SourceRegistry {
    pub fn new(vcenter: Option<VsphereClient>, published_tls: TlsOptions) -> Self {
        SourceRegistry {
            vcenter,
            published_tls,
            cache: Mutex::default(),
        }
    }

    /// A registry that serves fixed sources by key (tests and benchmarks).
    pub fn with_sources(
        sources: impl IntoIterator<Item = (String, Arc<dyn LibrarySource>)>,
    ) -> Self {
        let registry = SourceRegistry::new(None, TlsOptions::default());
        registry.cache.lock().expect("poisoned").extend(sources);
        registry
    }

    /// The source of a library with this `spec.uuid` and `spec.source`.
    pub fn source_for(
        &self,
        uuid: &str,
        source: Option<&str>,
    ) -> Result<Arc<dyn LibrarySource>, SourceError> {
        let key = cache_key(uuid, source);
        if let Some(found) = self.cache.lock().expect("poisoned").get(&key) {
            return Ok(found.clone());
        }
        let made: Arc<dyn LibrarySource> = match source {
            Some(raw) => {
                // The message reaches the library's status: never quote the raw value, it can
                // hold credentials.
                let url = Url::parse(raw)
                    .map_err(|e| SourceError::Config(format!("spec.source is not a URL: {e}")))?;
                Arc::new(PublishedSource::new(url, self.published_tls.clone())?)
            }
            None => match &self.vcenter {
                Some(client) => Arc::new(client.library(uuid)),
                None => {
                    return Err(SourceError::Config(
                        "the library has no spec.source and the operator has no vCenter configured (--vcenter-url)".into(),
                    ));
                }
            },
        };
        self.cache
            .lock()
            .expect("poisoned")
            .insert(key, made.clone());
        Ok(made)
    }
}

/// Key of a library's source: the published URL, or the vCenter library UUID.
pub fn cache_key(uuid: &str, source: Option<&str>) -> String {
    match source {
        Some(url) => format!("published:{url}"),
        None => format!("vcenter:{uuid}"),
    }
}
