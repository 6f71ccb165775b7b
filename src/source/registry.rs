//! Which [`LibrarySource`] serves a library resource: a published library when `spec.source` is
//! set, else the operator's vCenter. Sources are cached so sessions and HTTP pools are reused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use url::Url;

use crate::source::{
    LibrarySource, PublishedSource, Scope, SourceError, SourcePolicy, TlsOptions, VsphereClient,
};

/// Hands out library sources by library spec.
pub struct SourceRegistry {
    vcenter: Option<VsphereClient>,
    published_tls: TlsOptions,
    /// What published libraries may reach; the vCenter is the admin's and not subject to it.
    policy: Arc<SourcePolicy>,
    cache: Mutex<HashMap<String, Arc<dyn LibrarySource>>>,
}

impl SourceRegistry {
    /// A registry under the default (secure) source policy; see [`SourceRegistry::with_policy`].
    pub fn new(vcenter: Option<VsphereClient>, published_tls: TlsOptions) -> Self {
        SourceRegistry {
            vcenter,
            published_tls,
            policy: Arc::new(SourcePolicy::default()),
            cache: Mutex::default(),
        }
    }

    /// The same registry under `policy`.
    pub fn with_policy(mut self, policy: SourcePolicy) -> Self {
        self.policy = Arc::new(policy);
        self
    }

    /// A registry that serves fixed sources by key (tests and benchmarks).
    pub fn with_sources(
        sources: impl IntoIterator<Item = (String, Arc<dyn LibrarySource>)>,
    ) -> Self {
        let registry = SourceRegistry::new(None, TlsOptions::default());
        registry.cache.lock().expect("poisoned").extend(sources);
        registry
    }

    /// The source of a library of `scope` with this `spec.uuid` and `spec.source`. A source the
    /// policy refuses is [`SourceError::Policy`], before anything is read.
    pub fn source_for(
        &self,
        scope: Scope,
        uuid: &str,
        source: Option<&str>,
    ) -> Result<Arc<dyn LibrarySource>, SourceError> {
        let key = cache_key(scope, uuid, source);
        if let Some(found) = self.cache.lock().expect("poisoned").get(&key) {
            return Ok(found.clone());
        }
        let made: Arc<dyn LibrarySource> = match source {
            Some(raw) => {
                // The message reaches the library's status: never quote the raw value, it can
                // hold credentials.
                let url = Url::parse(raw)
                    .map_err(|e| SourceError::Config(format!("spec.source is not a URL: {e}")))?;
                Arc::new(PublishedSource::with_policy(
                    url,
                    self.published_tls.clone(),
                    self.policy.clone(),
                    scope,
                )?)
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

/// Key of a library's source: the scope and published URL (a cluster-scoped library's source
/// must never serve a namespaced one: their policies differ), or the vCenter library UUID.
pub fn cache_key(scope: Scope, uuid: &str, source: Option<&str>) -> String {
    match (source, scope) {
        (Some(url), Scope::Cluster) => format!("published:cluster:{url}"),
        (Some(url), Scope::Namespaced) => format!("published:namespaced:{url}"),
        (None, _) => format!("vcenter:{uuid}"),
    }
}
