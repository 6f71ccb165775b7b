//! The admission rules, as pure functions of an [`IndexView`] and a VM: no I/O.
//!
//! [`mutate`] resolves `spec.imageName` / `spec.image` to one image and returns the JSON patch
//! that writes the VMI ID and `spec.image`; [`validate`] checks that image (Ready, capabilities).
//! Both answer [`Admit`] or a [`Refusal`] whose text is what the user reads. The rules are
//! described in the [module documentation](super).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, PatchOperation};
use serde_json::{Value, json};

use super::index::{ImageInfo, IndexView};
use crate::api::{ImageRef, VirtualMachine};
use crate::kinds::IndexedKind;
use crate::vmi_id::IMAGE_PREFIX;

/// Annotation: comma-separated image capabilities the VM needs, e.g. `nvidia-gpu,cloud-init`.
pub const ANNOTATION_REQUIRED_CAPABILITIES: &str = "vmoperator.vmware.com/required-capabilities";
/// Annotation: `"true"` skips the checks of the image's state (Ready, capabilities, existence of
/// a directly named `spec.image`). For emergencies; the admission answer carries a warning.
pub const ANNOTATION_SKIP_IMAGE_CHECKS: &str = "vmoperator.vmware.com/skip-image-checks";
/// The capability `spec.bootstrap.cloudInit` needs.
pub const CAPABILITY_CLOUD_INIT: &str = "cloud-init";

const NOT_SAME_RESOURCE: &str = "must refer to the same resource as spec.image";
const SUPPORTED_KINDS: &str = "supported: VirtualMachineImage; ClusterVirtualMachineImage";

/// What the rules read from a VirtualMachine.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmImageFields {
    /// `spec.imageName` (an empty string counts as absent).
    pub image_name: Option<String>,
    /// `spec.image`; a missing kind or name is read as "".
    pub image: Option<ImageRef>,
    /// `metadata.annotations`.
    pub annotations: BTreeMap<String, String>,
    /// Whether `spec.bootstrap.cloudInit` is set.
    pub cloud_init: bool,
}

impl VmImageFields {
    pub fn from_vm(vm: &VirtualMachine) -> Self {
        VmImageFields {
            image_name: vm.spec.image_name.clone().filter(|n| !n.is_empty()),
            image: vm.spec.image.clone(),
            annotations: vm.metadata.annotations.clone().unwrap_or_default(),
            cloud_init: bootstrap_has_cloud_init(vm.spec.other.get("bootstrap")),
        }
    }

    /// Reads the fields from an object as sent to the webhook. Lenient: the mutating webhook runs
    /// before schema validation, so a field of the wrong type is read as absent and left for the
    /// schema to refuse with its usual message.
    pub fn from_object(
        metadata_annotations: Option<&BTreeMap<String, String>>,
        data: &Value,
    ) -> Self {
        let spec = data.get("spec");
        let str_at = |v: Option<&Value>, key: &str| {
            v.and_then(|v| v.get(key))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let image = spec
            .and_then(|s| s.get("image"))
            .filter(|i| i.is_object())
            .map(|i| ImageRef {
                kind: str_at(Some(i), "kind").unwrap_or_default(),
                name: str_at(Some(i), "name").unwrap_or_default(),
            });
        VmImageFields {
            image_name: str_at(spec, "imageName").filter(|n| !n.is_empty()),
            image,
            annotations: metadata_annotations.cloned().unwrap_or_default(),
            cloud_init: bootstrap_has_cloud_init(spec.and_then(|s| s.get("bootstrap"))),
        }
    }

    fn skip_image_checks(&self) -> bool {
        self.annotations
            .get(ANNOTATION_SKIP_IMAGE_CHECKS)
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// Whether the rules apply: always on create; on update only when `spec.imageName` or
    /// `spec.image` was changed to something (clearing them, or changing other fields, is not
    /// the webhook's business, so a VM whose image has been deleted can still be updated).
    fn needs_check(&self, old: Option<&VmImageFields>) -> bool {
        match old {
            None => true,
            Some(old) => {
                (self.image_name != old.image_name && self.image_name.is_some())
                    || (self.image != old.image && self.image.is_some())
            }
        }
    }
}

fn bootstrap_has_cloud_init(bootstrap: Option<&Value>) -> bool {
    bootstrap
        .and_then(|b| b.get("cloudInit"))
        .is_some_and(|c| !c.is_null())
}

/// The request is admitted, possibly with a patch and warnings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Admit {
    /// JSON patch operations (empty: unchanged).
    pub patch: Vec<PatchOperation>,
    /// Warnings for the client (kubectl prints them).
    pub warnings: Vec<String>,
}

impl Admit {
    pub fn json_patch(&self) -> Option<json_patch::Patch> {
        (!self.patch.is_empty()).then(|| json_patch::Patch(self.patch.clone()))
    }
}

/// Where an image requirement comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    Annotation,
    CloudInitBootstrap,
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Requirement::Annotation => write!(f, "annotation {ANNOTATION_REQUIRED_CAPABILITIES}"),
            Requirement::CloudInitBootstrap => f.write_str("spec.bootstrap.cloudInit"),
        }
    }
}

/// Why a request is refused; the `Display` text is the message the user reads.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No image of that name or display name in the namespace nor the cluster.
    #[error("no VM image exists for {0:?} in namespace or cluster scope")]
    NotFound(String),
    /// Several images of one scope have the display name.
    #[error(
        "multiple VM images exist for {name:?} in {scope} scope: {}; set spec.imageName to the name of one of them",
        .candidates.join(", ")
    )]
    Ambiguous {
        name: String,
        scope: &'static str,
        candidates: Vec<String>,
    },
    /// `spec.imageName` resolves to another image than `spec.image`.
    #[error(
        "spec.imageName: {NOT_SAME_RESOURCE} (spec.imageName {image_name:?} is {resolved}, spec.image is {given})"
    )]
    Mismatch {
        image_name: String,
        resolved: String,
        given: String,
    },
    /// `spec.image` names an image that does not exist.
    #[error("spec.image: {kind} {name:?} does not exist{}", in_namespace(.namespace))]
    ImageRefNotFound {
        kind: IndexedKind,
        name: String,
        namespace: Option<String>,
    },
    /// `spec.image.kind` is neither image kind.
    #[error("spec.image.kind: Unsupported value: {0:?}: {SUPPORTED_KINDS}")]
    UnsupportedKind(String),
    /// `spec.image` without a name.
    #[error("spec.image.name: Required value")]
    MissingImageRefName,
    /// The image is not Ready.
    #[error(
        "{} is not ready: {detail}; set the annotation {ANNOTATION_SKIP_IMAGE_CHECKS}: \"true\" to create the VM anyway",
        describe(.image, .display_name)
    )]
    NotReady {
        image: String,
        display_name: Option<String>,
        detail: String,
    },
    /// The image lacks capabilities the VM needs.
    #[error(
        "{} lacks capabilit{} {}{}; set the annotation {ANNOTATION_SKIP_IMAGE_CHECKS}: \"true\" to create the VM anyway",
        describe(.image, .display_name),
        if .missing.len() == 1 { "y" } else { "ies" },
        .missing.iter().map(|(c, why)| format!("{c:?} (required by {why})")).collect::<Vec<_>>().join(", "),
        has_capabilities(.has)
    )]
    MissingCapabilities {
        image: String,
        display_name: Option<String>,
        missing: Vec<(String, Requirement)>,
        has: Vec<String>,
    },
}

fn in_namespace(ns: &Option<String>) -> String {
    ns.as_ref()
        .map(|ns| format!(" in namespace {ns:?}"))
        .unwrap_or_default()
}

fn describe(image: &str, display: &Option<String>) -> String {
    match display {
        Some(d) => format!("image {image} ({d:?})"),
        None => format!("image {image}"),
    }
}

fn has_capabilities(has: &[String]) -> String {
    if has.is_empty() {
        " (it declares none)".to_string()
    } else {
        format!(" (it has: {})", has.join(", "))
    }
}

impl Refusal {
    /// A stable reason string, for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::NotFound(_) => "ImageNotFound",
            Refusal::Ambiguous { .. } => "ImageNameAmbiguous",
            Refusal::Mismatch { .. } => "ImageNameMismatch",
            Refusal::ImageRefNotFound { .. } => "ImageRefNotFound",
            Refusal::UnsupportedKind(_) => "ImageKindUnsupported",
            Refusal::MissingImageRefName => "ImageRefNameMissing",
            Refusal::NotReady { .. } => "ImageNotReady",
            Refusal::MissingCapabilities { .. } => "ImageCapabilityMissing",
        }
    }
}

/// Resolves `name` like VM Operator: a `vmi-` name by resource name (namespace, then cluster);
/// anything else by display name (namespace precedence, cluster fallback, unique per scope).
pub fn resolve_name(
    view: &IndexView<'_>,
    namespace: &str,
    name: &str,
) -> Result<Arc<ImageInfo>, Refusal> {
    if name.starts_with(IMAGE_PREFIX) {
        return view
            .get(IndexedKind::VirtualMachineImage, namespace, name)
            .or_else(|| view.get(IndexedKind::ClusterVirtualMachineImage, namespace, name))
            .cloned()
            .ok_or_else(|| Refusal::NotFound(quoted(name)));
    }
    for (kind, scope) in [
        (IndexedKind::VirtualMachineImage, "namespace"),
        (IndexedKind::ClusterVirtualMachineImage, "cluster"),
    ] {
        match view.by_display_name(kind, namespace, name).as_slice() {
            [] => continue,
            [one] => return Ok(Arc::clone(one)),
            many => {
                return Err(Refusal::Ambiguous {
                    name: quoted(name),
                    scope,
                    candidates: many.iter().map(|i| i.reference()).collect(),
                });
            }
        }
    }
    Err(Refusal::NotFound(quoted(name)))
}

/// User input as a refusal quotes it: at most 256 characters, so a huge name cannot make a huge
/// answer (and log line).
fn quoted(input: &str) -> String {
    const MAX: usize = 256;
    match input.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &input[..cut]),
        None => input.to_string(),
    }
}

/// An image and the patch operations that make the VM's fields name it fully.
type Target = (Arc<ImageInfo>, Vec<PatchOperation>);

/// The image a VM refers to, and the patch operations that make its fields name it fully.
/// `Ok(None)`: the VM names no image, or (with the skip annotation) one that does not exist.
fn target(
    view: &IndexView<'_>,
    namespace: &str,
    vm: &VmImageFields,
    warnings: &mut Vec<String>,
) -> Result<Option<Target>, Refusal> {
    let mut ops = Vec::new();
    if let Some(image_name) = &vm.image_name {
        let found = resolve_name(view, namespace, image_name)?;
        match &vm.image {
            Some(given) if !given.kind.is_empty() || !given.name.is_empty() => {
                let same = given.kind == found.kind.as_str() && given.name == found.name;
                // A kind-less spec.image (old API versions) only has to agree on the name.
                let same_name = given.kind.is_empty() && given.name == found.name;
                if !same && !same_name {
                    return Err(Refusal::Mismatch {
                        image_name: quoted(image_name),
                        resolved: found.reference(),
                        given: quoted(&format!("{}/{}", given.kind, given.name)),
                    });
                }
                if same_name {
                    ops.push(add("/spec/image", image_ref_json(&found)));
                }
            }
            _ => ops.push(add("/spec/image", image_ref_json(&found))),
        }
        if *image_name != found.name {
            ops.push(add("/spec/imageName", json!(found.name)));
        }
        return Ok(Some((found, ops)));
    }

    let Some(given) = &vm.image else {
        return Ok(None);
    };
    if given.name.is_empty() {
        return Err(Refusal::MissingImageRefName);
    }
    if given.kind.is_empty() {
        // Written by an API version without spec.image.kind: resolve the name, fill the kind.
        let found = resolve_name(view, namespace, &given.name)?;
        ops.push(add("/spec/image", image_ref_json(&found)));
        return Ok(Some((found, ops)));
    }
    let kind = IndexedKind::parse(&given.kind)
        .ok_or_else(|| Refusal::UnsupportedKind(quoted(&given.kind)))?;
    match view.get(kind, namespace, &given.name) {
        Some(found) => Ok(Some((Arc::clone(found), ops))),
        None => {
            let refusal = Refusal::ImageRefNotFound {
                kind,
                name: quoted(&given.name),
                namespace: (kind == IndexedKind::VirtualMachineImage)
                    .then(|| namespace.to_string()),
            };
            if vm.skip_image_checks() {
                warnings.push(skipped_warning(&refusal));
                Ok(None)
            } else {
                Err(refusal)
            }
        }
    }
}

fn add(path: &str, value: Value) -> PatchOperation {
    PatchOperation::Add(AddOperation {
        path: PointerBuf::parse(path).expect("static JSON pointer"),
        value,
    })
}

fn image_ref_json(image: &ImageInfo) -> Value {
    json!({ "kind": image.kind.as_str(), "name": image.name })
}

fn skipped_warning(refusal: &Refusal) -> String {
    let text = refusal.to_string();
    // Drop the hint about the annotation: it is set.
    let text = text.split("; set the annotation").next().unwrap_or(&text);
    format!("{ANNOTATION_SKIP_IMAGE_CHECKS}: check skipped: {text}")
}

/// The mutating rules: the JSON patch that sets `spec.imageName` to the VMI ID and `spec.image`
/// to the image the VM names, or why it cannot be done. `old` is the stored object on update.
pub fn mutate(
    view: &IndexView<'_>,
    namespace: &str,
    vm: &VmImageFields,
    old: Option<&VmImageFields>,
) -> Result<Admit, Refusal> {
    if !vm.needs_check(old) {
        return Ok(Admit::default());
    }
    let mut warnings = Vec::new();
    let patch = target(view, namespace, vm, &mut warnings)?
        .map(|(_, ops)| ops)
        .unwrap_or_default();
    Ok(Admit { patch, warnings })
}

/// The capabilities `vm` needs, each with where the need comes from. Needs derived from the
/// spec apply only to images that declare capabilities at all.
fn requirements(vm: &VmImageFields, image: &ImageInfo) -> Vec<(String, Requirement)> {
    let mut required: Vec<(String, Requirement)> = vm
        .annotations
        .get(ANNOTATION_REQUIRED_CAPABILITIES)
        .map(|list| {
            list.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(|c| (c.to_string(), Requirement::Annotation))
                .collect()
        })
        .unwrap_or_default();
    let declares_capabilities = !image.capabilities.is_empty();
    if vm.cloud_init
        && declares_capabilities
        && !required.iter().any(|(c, _)| c == CAPABILITY_CLOUD_INIT)
    {
        required.push((
            CAPABILITY_CLOUD_INIT.to_string(),
            Requirement::CloudInitBootstrap,
        ));
    }
    let mut seen = std::collections::HashSet::new();
    required.retain(|(c, _)| seen.insert(c.clone()));
    required
}

/// The validating rules: the image the VM refers to exists, is Ready and has the capabilities
/// the VM needs (unless the skip annotation says otherwise).
pub fn validate(
    view: &IndexView<'_>,
    namespace: &str,
    vm: &VmImageFields,
    old: Option<&VmImageFields>,
) -> Result<Admit, Refusal> {
    if !vm.needs_check(old) {
        return Ok(Admit::default());
    }
    let mut warnings = Vec::new();
    let Some((image, _)) = target(view, namespace, vm, &mut warnings)? else {
        return Ok(Admit {
            patch: Vec::new(),
            warnings,
        });
    };

    let mut problems = Vec::new();
    if !image.ready {
        problems.push(Refusal::NotReady {
            image: image.reference(),
            display_name: image.display_name.clone(),
            detail: image.not_ready_detail.clone(),
        });
    }
    let missing: Vec<_> = requirements(vm, &image)
        .into_iter()
        .filter(|(c, _)| !image.has_capability(c))
        .collect();
    if !missing.is_empty() {
        problems.push(Refusal::MissingCapabilities {
            image: image.reference(),
            display_name: image.display_name.clone(),
            missing,
            has: image.capabilities.clone(),
        });
    }
    if vm.skip_image_checks() {
        warnings.extend(problems.iter().map(skipped_warning));
    } else if let Some(first) = problems.into_iter().next() {
        return Err(first);
    }
    Ok(Admit {
        patch: Vec::new(),
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{
        ClusterVirtualMachineImage, Condition, ConditionStatus, VirtualMachineImage,
        VirtualMachineImageStatus, VirtualMachineSpec,
    };
    use crate::webhook::ImageIndex;

    const NS: &str = "team-a";

    fn status(display: &str, ready: bool, caps: &[&str]) -> VirtualMachineImageStatus {
        let st = if ready {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        };
        VirtualMachineImageStatus {
            name: Some(display.into()),
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
            conditions: vec![Condition::new("Ready", st, "Why", "because")],
            ..Default::default()
        }
    }

    fn vmi(ns: &str, name: &str, display: &str) -> VirtualMachineImage {
        vmi_with(ns, name, status(display, true, &["cloud-init"]))
    }

    fn vmi_with(ns: &str, name: &str, st: VirtualMachineImageStatus) -> VirtualMachineImage {
        let mut o = VirtualMachineImage::new(name, Default::default());
        o.metadata.namespace = Some(ns.into());
        o.status = Some(st);
        o
    }

    fn cvmi(name: &str, display: &str) -> ClusterVirtualMachineImage {
        let mut o = ClusterVirtualMachineImage::new(name, Default::default());
        o.status = Some(status(display, true, &[]));
        o
    }

    /// The fixture every rule is tested against.
    fn index() -> ImageIndex {
        ImageIndex::from_objects(
            [
                vmi(NS, "vmi-0a0044d7c690bcbea", "Photon OS 5.0"),
                vmi(NS, "vmi-1111111111111111a", "Dup"),
                vmi(NS, "vmi-1111111111111111b", "Dup"),
                vmi(NS, "vmi-2222222222222222a", "Shared"),
                vmi("team-b", "vmi-3333333333333333a", "Photon OS 5.0"),
                vmi_with(
                    NS,
                    "vmi-4444444444444444a",
                    status("Broken", false, &["cloud-init"]),
                ),
                vmi_with(NS, "vmi-5555555555555555a", status("Plain", true, &[])),
                vmi_with(
                    NS,
                    "vmi-6666666666666666a",
                    status("GPU", true, &["nvidia-gpu"]),
                ),
            ],
            [
                cvmi("vmi-2222222222222222c", "Shared"),
                cvmi("vmi-7777777777777777c", "Ubuntu 24.04"),
                cvmi("vmi-8888888888888888c", "Cluster Dup"),
                cvmi("vmi-8888888888888888d", "Cluster Dup"),
            ],
        )
    }

    fn vm(image_name: Option<&str>, image: Option<(&str, &str)>) -> VmImageFields {
        VmImageFields {
            image_name: image_name.map(str::to_string),
            image: image.map(|(kind, name)| ImageRef {
                kind: kind.into(),
                name: name.into(),
            }),
            ..Default::default()
        }
    }

    fn with_annotation(mut vm: VmImageFields, key: &str, value: &str) -> VmImageFields {
        vm.annotations.insert(key.into(), value.into());
        vm
    }

    /// Applies the patch to a minimal VM and returns (spec.imageName, spec.image).
    fn patched(admit: &Admit, vm: &VmImageFields) -> (Value, Value) {
        let mut doc = json!({ "spec": {} });
        if let Some(n) = &vm.image_name {
            doc["spec"]["imageName"] = json!(n);
        }
        if let Some(i) = &vm.image {
            doc["spec"]["image"] = json!({ "kind": i.kind, "name": i.name });
        }
        if let Some(p) = admit.json_patch() {
            json_patch::patch(&mut doc, &p).expect("patch applies");
        }
        (
            doc["spec"]["imageName"].clone(),
            doc["spec"]["image"].clone(),
        )
    }

    fn mutate_create(vm: &VmImageFields) -> Result<Admit, Refusal> {
        let index = index();
        let view = index.read();
        mutate(&view, NS, vm, None)
    }

    fn validate_create(vm: &VmImageFields) -> Result<Admit, Refusal> {
        let index = index();
        let view = index.read();
        validate(&view, NS, vm, None)
    }

    #[test]
    fn display_name_resolves_in_the_namespace() {
        let vm = vm(Some("Photon OS 5.0"), None);
        let admit = mutate_create(&vm).unwrap();
        let (name, image) = patched(&admit, &vm);
        assert_eq!(name, json!("vmi-0a0044d7c690bcbea"));
        assert_eq!(
            image,
            json!({ "kind": "VirtualMachineImage", "name": "vmi-0a0044d7c690bcbea" })
        );
        assert!(admit.warnings.is_empty());
    }

    #[test]
    fn namespace_takes_precedence_over_cluster() {
        let vm = vm(Some("Shared"), None);
        let (name, image) = patched(&mutate_create(&vm).unwrap(), &vm);
        assert_eq!(name, json!("vmi-2222222222222222a"));
        assert_eq!(image["kind"], "VirtualMachineImage");
    }

    #[test]
    fn cluster_is_the_fallback() {
        let vm = vm(Some("Ubuntu 24.04"), None);
        let (name, image) = patched(&mutate_create(&vm).unwrap(), &vm);
        assert_eq!(name, json!("vmi-7777777777777777c"));
        assert_eq!(
            image,
            json!({ "kind": "ClusterVirtualMachineImage", "name": "vmi-7777777777777777c" })
        );
        // Another namespace does not see team-a's images, but does see the cluster's.
        let index = index();
        let view = index.read();
        assert_eq!(
            mutate(&view, "team-c", &vm_named("Photon OS 5.0"), None).unwrap_err(),
            Refusal::NotFound("Photon OS 5.0".into())
        );
    }

    fn vm_named(n: &str) -> VmImageFields {
        vm(Some(n), None)
    }

    #[test]
    fn ambiguity_in_one_scope_names_the_candidates() {
        let err = mutate_create(&vm_named("Dup")).unwrap_err();
        assert_eq!(err.reason(), "ImageNameAmbiguous");
        assert_eq!(
            err.to_string(),
            "multiple VM images exist for \"Dup\" in namespace scope: \
             VirtualMachineImage/vmi-1111111111111111a, VirtualMachineImage/vmi-1111111111111111b; \
             set spec.imageName to the name of one of them"
        );
        let err = mutate_create(&vm_named("Cluster Dup")).unwrap_err();
        assert!(err.to_string().starts_with("multiple VM images exist for \"Cluster Dup\" in cluster scope: ClusterVirtualMachineImage/vmi-8888888888888888c, ClusterVirtualMachineImage/vmi-8888888888888888d"), "{err}");
    }

    #[test]
    fn a_vmi_id_is_a_resource_name() {
        // Namespace first.
        let vm = vm_named("vmi-0a0044d7c690bcbea");
        let admit = mutate_create(&vm).unwrap();
        assert_eq!(admit.patch.len(), 1, "only spec.image is added: {admit:?}");
        let (name, image) = patched(&admit, &vm);
        assert_eq!(name, json!("vmi-0a0044d7c690bcbea"));
        assert_eq!(image["kind"], "VirtualMachineImage");
        // Then the cluster.
        let vm = vm_named("vmi-7777777777777777c");
        let (_, image) = patched(&mutate_create(&vm).unwrap(), &vm);
        assert_eq!(image["kind"], "ClusterVirtualMachineImage");
        // A vmi- name is never taken as a display name.
        assert_eq!(
            mutate_create(&vm_named("vmi-doesnotexist"))
                .unwrap_err()
                .to_string(),
            "no VM image exists for \"vmi-doesnotexist\" in namespace or cluster scope"
        );
    }

    #[test]
    fn missing_image_uses_vm_operators_wording() {
        let err = mutate_create(&vm_named("Photon OS 6.0")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no VM image exists for \"Photon OS 6.0\" in namespace or cluster scope"
        );
        assert_eq!(err.reason(), "ImageNotFound");
        // The override does not make a name resolvable.
        let vm = with_annotation(
            vm_named("Photon OS 6.0"),
            ANNOTATION_SKIP_IMAGE_CHECKS,
            "true",
        );
        assert!(mutate_create(&vm).is_err());
    }

    #[test]
    fn spec_image_must_agree_with_image_name() {
        let same = vm(
            Some("Photon OS 5.0"),
            Some(("VirtualMachineImage", "vmi-0a0044d7c690bcbea")),
        );
        let admit = mutate_create(&same).unwrap();
        let (name, _) = patched(&admit, &same);
        assert_eq!(name, json!("vmi-0a0044d7c690bcbea"));
        assert_eq!(admit.patch.len(), 1, "spec.image is already right");

        let other = vm(
            Some("Photon OS 5.0"),
            Some(("VirtualMachineImage", "vmi-2222222222222222a")),
        );
        let err = mutate_create(&other).unwrap_err();
        assert_eq!(err.reason(), "ImageNameMismatch");
        assert!(
            err.to_string()
                .starts_with("spec.imageName: must refer to the same resource as spec.image"),
            "{err}"
        );
        // Same name, other kind.
        let kind = vm(
            Some("Shared"),
            Some(("ClusterVirtualMachineImage", "vmi-2222222222222222a")),
        );
        assert_eq!(
            mutate_create(&kind).unwrap_err().reason(),
            "ImageNameMismatch"
        );
        // Validation checks it too (when the mutating webhook is not installed).
        assert_eq!(
            validate_create(&other).unwrap_err().reason(),
            "ImageNameMismatch"
        );
    }

    #[test]
    fn spec_image_alone_must_exist() {
        let ok = vm(
            None,
            Some(("ClusterVirtualMachineImage", "vmi-7777777777777777c")),
        );
        assert_eq!(mutate_create(&ok).unwrap(), Admit::default());
        // A namespaced kind is looked up in the VM's namespace only.
        let wrong_ns = vm(None, Some(("VirtualMachineImage", "vmi-3333333333333333a")));
        assert_eq!(
            mutate_create(&wrong_ns).unwrap_err().to_string(),
            "spec.image: VirtualMachineImage \"vmi-3333333333333333a\" does not exist in namespace \"team-a\""
        );
        let wrong_kind = vm(
            None,
            Some(("ClusterVirtualMachineImage", "vmi-0a0044d7c690bcbea")),
        );
        assert_eq!(
            mutate_create(&wrong_kind).unwrap_err().to_string(),
            "spec.image: ClusterVirtualMachineImage \"vmi-0a0044d7c690bcbea\" does not exist"
        );
        let bad_kind = vm(None, Some(("Pod", "x")));
        assert_eq!(
            mutate_create(&bad_kind).unwrap_err().reason(),
            "ImageKindUnsupported"
        );
        // The override admits a missing image, with a warning.
        let skipped = with_annotation(wrong_ns, ANNOTATION_SKIP_IMAGE_CHECKS, "true");
        let admit = mutate_create(&skipped).unwrap();
        assert!(admit.patch.is_empty());
        assert_eq!(admit.warnings.len(), 1);
        assert!(
            admit.warnings[0].contains("does not exist"),
            "{:?}",
            admit.warnings
        );
    }

    #[test]
    fn kindless_spec_image_gets_its_kind() {
        let vm = vm(None, Some(("", "vmi-7777777777777777c")));
        let (_, image) = patched(&mutate_create(&vm).unwrap(), &vm);
        assert_eq!(
            image,
            json!({ "kind": "ClusterVirtualMachineImage", "name": "vmi-7777777777777777c" })
        );
    }

    #[test]
    fn a_vm_without_image_is_left_alone() {
        assert_eq!(mutate_create(&vm(None, None)).unwrap(), Admit::default());
        assert_eq!(validate_create(&vm(None, None)).unwrap(), Admit::default());
    }

    #[test]
    fn updates_act_only_when_image_fields_change() {
        let index = ImageIndex::from_objects([], []);
        let view = index.read();
        // The image of an existing VM was deleted; a label or status change still goes through.
        let stored = vm(
            Some("vmi-0a0044d7c690bcbea"),
            Some(("VirtualMachineImage", "vmi-0a0044d7c690bcbea")),
        );
        let mut relabelled = stored.clone();
        relabelled.annotations.insert("x".into(), "y".into());
        assert_eq!(
            mutate(&view, NS, &relabelled, Some(&stored)).unwrap(),
            Admit::default()
        );
        assert_eq!(
            validate(&view, NS, &relabelled, Some(&stored)).unwrap(),
            Admit::default()
        );
        // Clearing the image fields is not checked either.
        assert_eq!(
            mutate(&view, NS, &vm(None, None), Some(&stored)).unwrap(),
            Admit::default()
        );
        // Changing them is.
        let changed = vm(
            Some("Photon OS 5.0"),
            Some(("VirtualMachineImage", "vmi-0a0044d7c690bcbea")),
        );
        assert_eq!(
            mutate(&view, NS, &changed, Some(&stored))
                .unwrap_err()
                .reason(),
            "ImageNotFound"
        );

        // Re-applying the display name the VM was created from writes the ID again.
        let index = super::tests::index();
        let view = index.read();
        let admit = mutate(&view, NS, &changed, Some(&stored)).unwrap();
        assert_eq!(patched(&admit, &changed).0, json!("vmi-0a0044d7c690bcbea"));
    }

    #[test]
    fn not_ready_images_are_refused() {
        let err = validate_create(&vm_named("Broken")).unwrap_err();
        assert_eq!(err.reason(), "ImageNotReady");
        assert_eq!(
            err.to_string(),
            "image VirtualMachineImage/vmi-4444444444444444a (\"Broken\") is not ready: Ready=False, Why: because; \
             set the annotation vmoperator.vmware.com/skip-image-checks: \"true\" to create the VM anyway"
        );
        // Mutation alone does not check readiness.
        assert!(mutate_create(&vm_named("Broken")).is_ok());
        // After mutation (spec.image set) the same holds.
        let mutated = vm(
            Some("vmi-4444444444444444a"),
            Some(("VirtualMachineImage", "vmi-4444444444444444a")),
        );
        assert_eq!(
            validate_create(&mutated).unwrap_err().reason(),
            "ImageNotReady"
        );
        assert!(validate_create(&vm_named("Photon OS 5.0")).is_ok());
    }

    #[test]
    fn missing_capabilities_are_refused_with_their_origin() {
        let gpu = with_annotation(
            vm_named("Photon OS 5.0"),
            ANNOTATION_REQUIRED_CAPABILITIES,
            "nvidia-gpu, cloud-init",
        );
        let err = validate_create(&gpu).unwrap_err();
        assert_eq!(err.reason(), "ImageCapabilityMissing");
        assert_eq!(
            err.to_string(),
            "image VirtualMachineImage/vmi-0a0044d7c690bcbea (\"Photon OS 5.0\") lacks capability \"nvidia-gpu\" \
             (required by annotation vmoperator.vmware.com/required-capabilities) (it has: cloud-init); \
             set the annotation vmoperator.vmware.com/skip-image-checks: \"true\" to create the VM anyway"
        );
        let ok = with_annotation(
            vm_named("GPU"),
            ANNOTATION_REQUIRED_CAPABILITIES,
            "nvidia-gpu",
        );
        assert!(validate_create(&ok).is_ok());

        // spec.bootstrap.cloudInit needs cloud-init, on images that declare capabilities.
        let mut cloud = vm_named("GPU");
        cloud.cloud_init = true;
        let err = validate_create(&cloud).unwrap_err();
        assert!(err.to_string().contains("lacks capability \"cloud-init\" (required by spec.bootstrap.cloudInit) (it has: nvidia-gpu)"), "{err}");
        let mut plain = vm_named("Plain");
        plain.cloud_init = true;
        assert!(
            validate_create(&plain).is_ok(),
            "an image that declares nothing is not held to it"
        );
        // An explicit requirement holds for every image.
        let plain = with_annotation(plain, ANNOTATION_REQUIRED_CAPABILITIES, "cloud-init");
        let err = validate_create(&plain).unwrap_err();
        assert!(err.to_string().contains("(it declares none)"), "{err}");
    }

    #[test]
    fn the_override_admits_with_warnings() {
        let vm = with_annotation(vm_named("Broken"), ANNOTATION_SKIP_IMAGE_CHECKS, "true");
        let vm = with_annotation(vm, ANNOTATION_REQUIRED_CAPABILITIES, "nvidia-gpu");
        let admit = validate_create(&vm).unwrap();
        assert_eq!(admit.warnings.len(), 2, "{:?}", admit.warnings);
        assert!(admit.warnings[0].starts_with("vmoperator.vmware.com/skip-image-checks: check skipped: image VirtualMachineImage/vmi-4444444444444444a (\"Broken\") is not ready"), "{:?}", admit.warnings);
        assert!(!admit.warnings[0].contains("to create the VM anyway"));
        assert!(admit.warnings[1].contains("lacks capability \"nvidia-gpu\""));
        // Only "true" counts.
        let off = with_annotation(vm_named("Broken"), ANNOTATION_SKIP_IMAGE_CHECKS, "yes");
        assert!(validate_create(&off).is_err());
        let upper = with_annotation(vm_named("Broken"), ANNOTATION_SKIP_IMAGE_CHECKS, "True");
        assert!(validate_create(&upper).is_ok());
        // Ambiguity is not overridden.
        let dup = with_annotation(vm_named("Dup"), ANNOTATION_SKIP_IMAGE_CHECKS, "true");
        assert!(validate_create(&dup).is_err());
    }

    #[test]
    fn fields_from_a_vm_and_from_raw_objects() {
        let mut vmo = VirtualMachine::new(
            "vm",
            VirtualMachineSpec {
                image_name: Some("Photon OS 5.0".into()),
                class_name: Some("best-effort-small".into()),
                ..Default::default()
            },
        );
        vmo.spec.other.insert(
            "bootstrap".into(),
            json!({ "cloudInit": { "cloudConfig": {} } }),
        );
        let fields = VmImageFields::from_vm(&vmo);
        assert_eq!(fields.image_name.as_deref(), Some("Photon OS 5.0"));
        assert!(fields.cloud_init);

        let raw = json!({ "spec": { "imageName": "", "image": { "name": "vmi-x" }, "bootstrap": { "cloudInit": null } } });
        let fields = VmImageFields::from_object(None, &raw);
        assert_eq!(fields.image_name, None);
        assert_eq!(
            fields.image,
            Some(ImageRef {
                kind: String::new(),
                name: "vmi-x".into()
            })
        );
        assert!(!fields.cloud_init);
        // Wrong types are read as absent.
        let raw = json!({ "spec": { "imageName": 3, "image": "x" } });
        assert_eq!(
            VmImageFields::from_object(None, &raw),
            VmImageFields::default()
        );
    }
}
