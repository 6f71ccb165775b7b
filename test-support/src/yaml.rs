//! YAML streams: their documents, and server-side apply of any kind the cluster serves.

use std::path::Path;

use kube::Client;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersionKind;
use kube::discovery::{self, Scope};
use serde_json::Value;

/// Field manager of every server-side apply the helpers do.
pub const FIELD_MANAGER: &str = "vmi-e2e";

/// The non-empty documents of a YAML stream, as JSON values.
pub fn yaml_documents(text: &str, origin: &Path) -> Vec<Value> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text)
        .unwrap_or_else(|e| panic!("{}: invalid YAML: {e}", origin.display()));
    docs.into_iter().filter(|d| !d.is_null()).collect()
}

/// Server-side applies every object of a YAML stream (any kind the cluster serves); namespaced
/// objects without a namespace go to `namespace`.
pub async fn apply_yaml(client: &Client, namespace: &str, yaml: &str) {
    for doc in yaml_documents(yaml, Path::new("<yaml>")) {
        let obj: DynamicObject =
            serde_json::from_value(doc).unwrap_or_else(|e| panic!("not a Kubernetes object: {e}"));
        let types = obj.types.as_ref().expect("object without apiVersion/kind");
        let gvk = GroupVersionKind::try_from(types).expect("bad apiVersion");
        let (resource, caps) = discovery::pinned_kind(client, &gvk)
            .await
            .unwrap_or_else(|e| panic!("the cluster does not serve {gvk:?}: {e}"));
        let name = obj
            .metadata
            .name
            .clone()
            .expect("object without metadata.name");
        let api: Api<DynamicObject> = match caps.scope {
            Scope::Namespaced => {
                let ns = obj.metadata.namespace.as_deref().unwrap_or(namespace);
                Api::namespaced_with(client.clone(), ns, &resource)
            }
            Scope::Cluster => Api::all_with(client.clone(), &resource),
        };
        api.patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&obj),
        )
        .await
        .unwrap_or_else(|e| panic!("cannot apply {} {name}: {e}", gvk.kind));
    }
}
