//! Typed server-side apply: a controller applies whole typed objects, and statuses through the
//! status subresource, as its own field manager, so it owns exactly the fields it sets.

use std::borrow::Cow;

use kube::Api;
use kube::api::{Patch, PatchParams};
use serde::Serialize;

use crate::kinds::Kind;

/// A status-only apply body: `apiVersion`, `kind` and `status`, nothing else.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct StatusBody<'a, S: Serialize + std::fmt::Debug> {
    api_version: Cow<'static, str>,
    kind: Cow<'static, str>,
    status: &'a S,
}

fn params(field_manager: &str) -> PatchParams {
    PatchParams::apply(field_manager).force()
}

/// Applies `object` (its metadata name is `name`).
pub async fn apply<K: Kind>(
    api: &Api<K>,
    name: &str,
    field_manager: &str,
    object: &K,
) -> Result<K, kube::Error> {
    api.patch(name, &params(field_manager), &Patch::Apply(object))
        .await
}

/// Applies `status` on `name` through the status subresource.
pub async fn apply_status<K: Kind, S: Serialize + std::fmt::Debug>(
    api: &Api<K>,
    name: &str,
    field_manager: &str,
    status: &S,
) -> Result<K, kube::Error> {
    let body = StatusBody {
        api_version: K::api_version(&()),
        kind: K::kind(&()),
        status,
    };
    api.patch_status(name, &params(field_manager), &Patch::Apply(&body))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ContentLibrary, ContentLibraryStatus};
    use kube::Resource;

    #[test]
    fn status_body_names_only_the_kind_and_status() {
        let status = ContentLibraryStatus {
            item_count: Some(2),
            ..Default::default()
        };
        let body = StatusBody {
            api_version: ContentLibrary::api_version(&()),
            kind: ContentLibrary::kind(&()),
            status: &status,
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "apiVersion": "imageregistry.vmware.com/v1alpha2",
                "kind": "ContentLibrary",
                "status": {"itemCount": 2},
            })
        );
    }
}
