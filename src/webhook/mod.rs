//! Admission webhook for VM Operator `VirtualMachine`s: resolves image names and checks images.
//!
//! Three parts, kept apart so the logic can be tested without a cluster or a socket:
//!
//! - [`index`]: [`ImageIndex`], in-memory indexes of every `VirtualMachineImage` (all namespaces)
//!   and `ClusterVirtualMachineImage`, by name and by display name (`status.name`), fed by
//!   watchers. Requests are answered from it, never from API reads.
//! - [`resolve`]: the pure rules: given an index view and a VM, a JSON patch or a refusal.
//! - [`server`]: HTTPS serving (axum + rustls), certificate reload, readiness and metrics, and
//!   the CRDs' conversion (`/convert`, [`crate::conversion`]) on the same server.
//!
//! # Mutating webhook (`/mutate-vmoperator-vmware-com-v1alpha5-virtualmachine`)
//!
//! On create, and on update when `spec.imageName` or `spec.image` changed (compared with the old
//! object, so label, annotation or status updates of a VM whose image was deleted since keep
//! working):
//!
//! - `spec.imageName` starting with `vmi-` is a resource name: looked up in the VM's namespace,
//!   then cluster-wide; `spec.image {kind, name}` is set to what was found.
//! - any other `spec.imageName` is a display name: the `VirtualMachineImage`s of the VM's
//!   namespace whose `status.name` equals it, or, when there is none, the
//!   `ClusterVirtualMachineImage`s (namespace precedence, cluster fallback, as the VM Operator
//!   documentation describes; VM Operator's own webhook code refuses a name found in both scopes,
//!   this one lets the namespace win). Exactly one match: `spec.imageName` becomes its VMI ID and
//!   `spec.image` points at it. Several matches in one scope: refused, naming the candidates.
//!   None: refused with VM Operator's wording,
//!   `no VM image exists for "Photon OS 5.0" in namespace or cluster scope`.
//! - both `spec.imageName` and `spec.image` given but naming different images: refused with
//!   `spec.imageName: must refer to the same resource as spec.image`.
//! - only `spec.image` given: the image must exist (namespace or cluster by its kind). A
//!   `spec.image` without a kind (written by old API versions) is resolved like `spec.imageName`
//!   and the kind is filled in.
//!
//! # Validating webhook (`/validate-vmoperator-vmware-com-v1alpha5-virtualmachine`)
//!
//! Same trigger (create, or update of the image fields). The image the VM refers to must
//!
//! - be **Ready** (its `Ready` condition True), and
//! - have every **capability** the VM needs:
//!   - those listed in the annotation [`ANNOTATION_REQUIRED_CAPABILITIES`]
//!     (`vmoperator.vmware.com/required-capabilities: nvidia-gpu,cloud-init`, comma-separated),
//!     always enforced; this is how a VM states a need the image must meet, e.g. a GPU class
//!     (the webhook does not read VirtualMachineClasses);
//!   - `cloud-init` when the VM bootstraps with `spec.bootstrap.cloudInit`, enforced only when
//!     the image declares capabilities at all: most OVFs carry no capabilities property, and
//!     refusing every cloud-init VM on them would break working deployments.
//!
//! # Emergency override
//!
//! The annotation [`ANNOTATION_SKIP_IMAGE_CHECKS`] (`vmoperator.vmware.com/skip-image-checks:
//! "true"`) skips the checks of the image's *state*: Ready, capabilities, and the existence of an
//! image named directly in `spec.image`. The request is admitted with a warning that says what
//! was skipped. It does not make an unresolvable name resolvable: a display name with no match, an
//! ambiguous one, or `spec.imageName` contradicting `spec.image` is still refused, because no
//! correct `spec.image` could be written.
//!
//! # Serving
//!
//! HTTPS only (rustls with the process's crypto provider, ring by default), HTTP/1.1 and h2.
//! The certificate and key files are polled every [`server::RELOAD_INTERVAL`] and swapped in
//! when they changed and load (cert-manager rotation); a half-written pair keeps the old one.
//! Request bodies are limited to 3 MiB, requests to 10 s, header reads to 10 s. Refusals are
//! answered like VM Operator's (403 Forbidden with the message), so kubectl prints
//! `Error from server (Forbidden): ... admission webhook "..." denied the request: <message>`;
//! the JSON patch is sent base64-encoded with `patchType: JSONPatch`.
//!
//! Until both watchers have listed their images once, `/readyz` answers 503 and admission
//! requests get HTTP 503 (so the webhook configuration's `failurePolicy` decides), never an
//! answer from a partial index. `/livez` answers 200 while the server runs.
//!
//! Metrics ([`WebhookMetrics`]): `webhook_requests_total{path,result}` (result: allowed,
//! patched, denied, error), `webhook_denials_total{path,reason}` (reason: [`Refusal::reason`]),
//! `webhook_request_duration_seconds{path}`.

pub mod index;
pub mod metrics;
pub mod resolve;
pub mod server;

pub use crate::kinds::IndexedKind;
pub use index::{ImageIndex, ImageInfo, IndexView};
pub use metrics::WebhookMetrics;
pub use resolve::{
    ANNOTATION_REQUIRED_CAPABILITIES, ANNOTATION_SKIP_IMAGE_CHECKS, Admit, Refusal, VmImageFields,
};
pub use server::{
    CONVERT_PATH, MUTATE_PATH, VALIDATE_PATH, WebhookConfig, WebhookError, WebhookServer, router,
    serve,
};
