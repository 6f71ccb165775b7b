//! The webhook end to end: the real apiserver of hack/cluster.sh calls `serve` (running in this
//! test process on a random loopback port, with a fresh CA) over TLS, through Mutating and
//! Validating webhook configurations registered with `url:` + `caBundle`. Images are created
//! and their status set through the status subresource; the index is fed by real watches.
//! Users' commands are run with kubectl and its output (stderr for refusals) is asserted.
//!
//! Each test works in its own namespace, and its webhook configurations select only that
//! namespace (`failurePolicy: Fail`), so tests running in parallel are unaffected. The
//! configurations and the cluster-scoped images are deleted at the end (also on panic).

use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use kube::{Client, Resource};
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use vmi_operator::api::{
    ClusterVirtualMachineImage, VirtualMachine, VirtualMachineImage, VirtualMachineSpec,
};
use vmi_operator::webhook::{ImageIndex, IndexedKind, MUTATE_PATH, VALIDATE_PATH};
use vmi_test_support::{admission::*, cluster, kubectl, namespaces, wait, webhook::*};

const MUTATING_WEBHOOK: &str = "vmi-mutate.vmoperator.vmware.com";
const VALIDATING_WEBHOOK: &str = "vmi-validate.vmoperator.vmware.com";
const TIMEOUT: Duration = Duration::from_secs(60);

/// One test's webhook: namespace, index, server, registered configurations.
struct Harness {
    client: Client,
    ns: String,
    index: ImageIndex,
    config_name: String,
    cvmis: Vec<String>,
    dir: tempfile::TempDir,
    webhook: Option<RunningWebhook>,
    watch: JoinHandle<()>,
    cleaned: bool,
}

impl Harness {
    async fn start(prefix: &str) -> Harness {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = cluster::client().await;
        cluster::install_crds(&client).await;
        let ns = namespaces::test_namespace(&client, prefix).await;

        let (index, watch) = vmi_operator::stores::index_images(client.clone());
        let watch = tokio::spawn(watch);
        tokio::time::timeout(TIMEOUT, index.wait_synced())
            .await
            .expect("the image index syncs");

        let dir = tempfile::tempdir().expect("tempdir");
        let pki = TestPki::generate(dir.path());
        let webhook = RunningWebhook::start(&pki, index.clone(), Duration::from_secs(5)).await;
        let config_name = format!("vmi-e2e-{ns}");
        let harness = Harness {
            client,
            ns,
            index,
            config_name,
            cvmis: Vec::new(),
            dir,
            webhook: Some(webhook),
            watch,
            cleaned: false,
        };
        harness.register(&pki).await;
        harness
    }

    fn webhook(&self) -> &RunningWebhook {
        self.webhook.as_ref().expect("webhook running")
    }

    /// Registers both configurations: this namespace only, failurePolicy Fail.
    async fn register(&self, pki: &TestPki) {
        let entry = |name: &str, path: &str| {
            json!({
                "name": name,
                "clientConfig": { "url": self.webhook().url(path), "caBundle": pki.ca_bundle() },
                "rules": [{
                    "apiGroups": ["vmoperator.vmware.com"], "apiVersions": ["v1alpha5"],
                    "resources": ["virtualmachines"], "operations": ["CREATE", "UPDATE"],
                    "scope": "Namespaced"
                }],
                "namespaceSelector": { "matchLabels": { "kubernetes.io/metadata.name": self.ns } },
                "failurePolicy": "Fail",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "timeoutSeconds": 10
            })
        };
        let mut mutating = entry(MUTATING_WEBHOOK, MUTATE_PATH);
        mutating["reinvocationPolicy"] = json!("IfNeeded");
        let mutating: MutatingWebhookConfiguration = serde_json::from_value(json!({
            "metadata": { "name": self.config_name, "labels": { "vmi-operator.e2e/test": "true" } },
            "webhooks": [mutating]
        }))
        .unwrap();
        let validating: ValidatingWebhookConfiguration = serde_json::from_value(json!({
            "metadata": { "name": self.config_name, "labels": { "vmi-operator.e2e/test": "true" } },
            "webhooks": [entry(VALIDATING_WEBHOOK, VALIDATE_PATH)]
        }))
        .unwrap();
        let pp = PostParams::default();
        Api::<MutatingWebhookConfiguration>::all(self.client.clone())
            .create(&pp, &mutating)
            .await
            .expect("create MutatingWebhookConfiguration");
        Api::<ValidatingWebhookConfiguration>::all(self.client.clone())
            .create(&pp, &validating)
            .await
            .expect("create ValidatingWebhookConfiguration");
    }

    /// Creates a VirtualMachineImage and sets its status through the status subresource.
    async fn create_vmi(&self, display: &str, ready: bool, capabilities: &[&str]) -> String {
        let name = random_vmi_id();
        let obj = vmi(&self.ns, &name, display, ready, capabilities);
        let api: Api<VirtualMachineImage> = Api::namespaced(self.client.clone(), &self.ns);
        self.create_with_status(&api, obj).await;
        self.wait_indexed(IndexedKind::VirtualMachineImage, &name, display)
            .await;
        name
    }

    /// Creates a ClusterVirtualMachineImage (deleted when the harness ends).
    async fn create_cvmi(&mut self, display: &str) -> String {
        let name = random_vmi_id();
        self.cvmis.push(name.clone());
        let api: Api<ClusterVirtualMachineImage> = Api::all(self.client.clone());
        self.create_with_status(&api, cvmi(&name, display, true, &[]))
            .await;
        self.wait_indexed(IndexedKind::ClusterVirtualMachineImage, &name, display)
            .await;
        name
    }

    async fn create_with_status<K>(&self, api: &Api<K>, mut obj: K)
    where
        K: Resource
            + Clone
            + serde::Serialize
            + serde::de::DeserializeOwned
            + std::fmt::Debug
            + HasStatus,
    {
        let status = obj.take_status();
        obj.meta_mut().labels =
            Some([("vmi-operator.e2e/test".to_string(), "true".to_string())].into());
        let created = api
            .create(&PostParams::default(), &obj)
            .await
            .expect("create image");
        let name = created.meta().name.clone().unwrap();
        api.patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({ "status": status })),
        )
        .await
        .expect("set image status");
    }

    /// Waits until the index has the image with its display name (the status has been seen).
    async fn wait_indexed(&self, kind: IndexedKind, name: &str, display: &str) {
        let index = self.index.clone();
        let ns = self.ns.clone();
        wait::wait_until(TIMEOUT, &format!("{kind}/{name} in the index"), move || {
            let found = index
                .read()
                .get(kind, &ns, name)
                .is_some_and(|i| i.display_name.as_deref() == Some(display));
            async move { found }
        })
        .await;
    }

    /// The apiserver picks configurations up through an informer: dry-run creates until the
    /// mutation shows and the validation refuses.
    async fn wait_for_webhooks(&self, photon_display: &str, broken_display: &str) {
        let api: Api<VirtualMachine> = Api::namespaced(self.client.clone(), &self.ns);
        let dry = PostParams {
            dry_run: true,
            ..Default::default()
        };
        let probe = |display: &str| {
            VirtualMachine::new(
                "probe",
                VirtualMachineSpec {
                    image_name: Some(display.to_string()),
                    ..Default::default()
                },
            )
        };
        wait::wait_until(TIMEOUT, "the mutating webhook to be called", || {
            let (api, vm) = (api.clone(), probe(photon_display));
            let dry = dry.clone();
            async move { matches!(api.create(&dry, &vm).await, Ok(vm) if vm.spec.image.is_some()) }
        })
        .await;
        wait::wait_until(TIMEOUT, "the validating webhook to be called", || {
            let (api, vm) = (api.clone(), probe(broken_display));
            let dry = dry.clone();
            async move {
                matches!(api.create(&dry, &vm).await, Err(kube::Error::Api(s)) if s.code == 403)
            }
        })
        .await;
    }

    /// Writes a VM manifest (JSON is YAML) and returns its path.
    fn manifest(&self, name: &str, spec: Value, annotations: Value) -> PathBuf {
        let vm = json!({
            "apiVersion": "vmoperator.vmware.com/v1alpha5",
            "kind": "VirtualMachine",
            "metadata": { "name": name, "namespace": self.ns, "annotations": annotations },
            "spec": spec,
        });
        let path = self.dir.path().join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&vm).unwrap()).unwrap();
        path
    }

    fn apply_ok(&self, path: &Path) -> String {
        kubectl::kubectl_ok(&["apply", "-f", path.to_str().unwrap()])
    }

    /// kubectl apply that must fail; returns kubectl's stderr.
    fn apply_err(&self, path: &Path) -> String {
        kubectl::kubectl_err(&["apply", "-f", path.to_str().unwrap()])
    }

    /// The stored VM's spec.
    fn stored_spec(&self, name: &str) -> Value {
        let out =
            kubectl::kubectl_ok(&["get", "virtualmachine", name, "-n", &self.ns, "-o", "json"]);
        serde_json::from_str::<Value>(&out).unwrap()["spec"].clone()
    }

    async fn finish(mut self) {
        self.cleanup();
        if let Some(webhook) = self.webhook.take() {
            webhook.stop().await;
        }
        self.watch.abort();
    }

    fn cleanup(&mut self) {
        if std::mem::replace(&mut self.cleaned, true) {
            return;
        }
        for kind in [
            "mutatingwebhookconfiguration",
            "validatingwebhookconfiguration",
        ] {
            let _ = kubectl::kubectl(&["delete", kind, &self.config_name, "--ignore-not-found"]);
        }
        for name in std::mem::take(&mut self.cvmis) {
            let _ = kubectl::kubectl(&[
                "delete",
                "clustervirtualmachineimage",
                &name,
                "--ignore-not-found",
                "--wait=false",
            ]);
        }
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.cleanup();
        self.watch.abort();
    }
}

/// The status of an image object, taken out before create (the status subresource ignores it).
trait HasStatus {
    fn take_status(&mut self) -> Value;
}

impl HasStatus for VirtualMachineImage {
    fn take_status(&mut self) -> Value {
        serde_json::to_value(self.status.take()).unwrap()
    }
}

impl HasStatus for ClusterVirtualMachineImage {
    fn take_status(&mut self) -> Value {
        serde_json::to_value(self.status.take()).unwrap()
    }
}

fn denied_by(webhook: &str) -> String {
    format!("admission webhook \"{webhook}\" denied the request: ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn display_names_are_resolved_and_bad_names_refused() {
    let mut h = Harness::start("webhook-resolve").await;
    let ns = h.ns.clone();
    let photon = h.create_vmi("Photon OS 5.0", true, &["cloud-init"]).await;
    let broken = h.create_vmi(&format!("Broken {ns}"), false, &[]).await;
    let mut dups = [
        h.create_vmi("Dup Image", true, &[]).await,
        h.create_vmi("Dup Image", true, &[]).await,
    ];
    dups.sort();
    let shared_display = format!("Shared {ns}");
    let shared_vmi = h.create_vmi(&shared_display, true, &[]).await;
    let shared_cvmi = h.create_cvmi(&shared_display).await;
    let cluster_display = format!("Cluster Only {ns}");
    let cluster_only = h.create_cvmi(&cluster_display).await;
    h.wait_for_webhooks("Photon OS 5.0", &format!("Broken {ns}"))
        .await;
    let _ = broken;

    // The display name of the VirtualMachineImage page is stored as the VMI ID plus spec.image.
    let vm1 = h.manifest(
        "photon",
        json!({ "imageName": "Photon OS 5.0", "className": "best-effort-small" }),
        json!({}),
    );
    let out = h.apply_ok(&vm1);
    assert!(
        out.contains("virtualmachine.vmoperator.vmware.com/photon created"),
        "{out}"
    );
    let spec = h.stored_spec("photon");
    assert_eq!(spec["imageName"], json!(photon));
    assert_eq!(
        spec["image"],
        json!({ "kind": "VirtualMachineImage", "name": photon })
    );
    assert_eq!(spec["className"], "best-effort-small");
    // Applying the same manifest again works (the display name resolves to the same image).
    h.apply_ok(&vm1);
    assert_eq!(h.stored_spec("photon")["imageName"], json!(photon));

    // Ambiguous in the namespace: refused, naming the candidates.
    let err = h.apply_err(&h.manifest("dup", json!({ "imageName": "Dup Image" }), json!({})));
    eprintln!("kubectl apply (ambiguous):\n{err}");
    assert!(err.contains("Error from server (Forbidden)"), "{err}");
    let expected = format!(
        "{}multiple VM images exist for \"Dup Image\" in namespace scope: VirtualMachineImage/{}, VirtualMachineImage/{}",
        denied_by(MUTATING_WEBHOOK),
        dups[0],
        dups[1]
    );
    assert!(err.contains(&expected), "expected {expected:?} in:\n{err}");

    // Unknown: VM Operator's wording.
    let err = h.apply_err(&h.manifest(
        "unknown",
        json!({ "imageName": "Photon OS 6.0" }),
        json!({}),
    ));
    let expected = format!(
        "{}no VM image exists for \"Photon OS 6.0\" in namespace or cluster scope",
        denied_by(MUTATING_WEBHOOK)
    );
    assert!(err.contains(&expected), "expected {expected:?} in:\n{err}");

    // The namespace's image wins over a cluster image of the same display name.
    h.apply_ok(&h.manifest("shared", json!({ "imageName": shared_display }), json!({})));
    let spec = h.stored_spec("shared");
    assert_eq!(
        spec["image"],
        json!({ "kind": "VirtualMachineImage", "name": shared_vmi })
    );
    assert_ne!(spec["imageName"], json!(shared_cvmi));

    // Cluster fallback.
    h.apply_ok(&h.manifest(
        "cluster",
        json!({ "imageName": cluster_display }),
        json!({}),
    ));
    let spec = h.stored_spec("cluster");
    assert_eq!(spec["imageName"], json!(cluster_only));
    assert_eq!(
        spec["image"],
        json!({ "kind": "ClusterVirtualMachineImage", "name": cluster_only })
    );

    // A VMI ID is a resource name: the cluster image is found by name.
    h.apply_ok(&h.manifest("by-id", json!({ "imageName": shared_cvmi }), json!({})));
    assert_eq!(
        h.stored_spec("by-id")["image"],
        json!({ "kind": "ClusterVirtualMachineImage", "name": shared_cvmi })
    );

    // spec.imageName and spec.image that disagree.
    let err = h.apply_err(&h.manifest(
        "mismatch",
        json!({ "imageName": "Photon OS 5.0", "image": { "kind": "VirtualMachineImage", "name": shared_vmi } }),
        json!({}),
    ));
    let expected = format!(
        "{}spec.imageName: must refer to the same resource as spec.image",
        denied_by(MUTATING_WEBHOOK)
    );
    assert!(err.contains(&expected), "expected {expected:?} in:\n{err}");

    // spec.image naming an image that does not exist.
    let err = h.apply_err(&h.manifest(
        "missing-ref",
        json!({ "image": { "kind": "ClusterVirtualMachineImage", "name": "vmi-00000000000000000" } }),
        json!({}),
    ));
    assert!(
        err.contains(
            "spec.image: ClusterVirtualMachineImage \"vmi-00000000000000000\" does not exist"
        ),
        "{err}"
    );

    // A VM whose image is deleted afterwards can still be updated in its other fields.
    let ephemeral_display = format!("Ephemeral {ns}");
    let ephemeral = h.create_vmi(&ephemeral_display, true, &[]).await;
    h.apply_ok(&h.manifest(
        "orphan",
        json!({ "imageName": ephemeral_display }),
        json!({}),
    ));
    Api::<VirtualMachineImage>::namespaced(h.client.clone(), &ns)
        .delete(&ephemeral, &DeleteParams::default())
        .await
        .expect("delete image");
    let index = h.index.clone();
    let ns2 = ns.clone();
    wait::wait_until(TIMEOUT, "the deleted image to leave the index", move || {
        let gone = index
            .read()
            .get(IndexedKind::VirtualMachineImage, &ns2, &ephemeral)
            .is_none();
        async move { gone }
    })
    .await;
    kubectl::kubectl_ok(&["label", "virtualmachine", "orphan", "-n", &ns, "team=blue"]);
    kubectl::kubectl_ok(&[
        "annotate",
        "virtualmachine",
        "orphan",
        "-n",
        &ns,
        "note=kept",
    ]);
    kubectl::kubectl_ok(&[
        "patch",
        "virtualmachine",
        "orphan",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        r#"{"spec":{"className":"best-effort-large"}}"#,
    ]);
    // Changing the image fields is checked again.
    let patch = json!({ "spec": { "imageName": ephemeral_display } }).to_string();
    let err = kubectl::kubectl_err(&[
        "patch",
        "virtualmachine",
        "orphan",
        "-n",
        &ns,
        "--type=merge",
        "-p",
        &patch,
    ]);
    assert!(
        err.contains(&format!(
            "no VM image exists for \"{ephemeral_display}\" in namespace or cluster scope"
        )),
        "{err}"
    );

    let metrics = &h.webhook().metrics;
    assert!(metrics.requests(MUTATE_PATH, "patched") >= 5);
    assert!(metrics.requests(MUTATE_PATH, "denied") >= 4);
    h.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn images_must_be_ready_and_capable_unless_overridden() {
    let h = Harness::start("webhook-validate").await;
    let ns = h.ns.clone();
    let broken_display = format!("Broken {ns}");
    let broken = h.create_vmi(&broken_display, false, &["cloud-init"]).await;
    let photon = h.create_vmi("Photon OS 5.0", true, &["cloud-init"]).await;
    let gpu = h.create_vmi("GPU Image", true, &["nvidia-gpu"]).await;
    h.wait_for_webhooks("Photon OS 5.0", &broken_display).await;

    // Not Ready: refused by the validating webhook, saying why and how to override.
    let path = h.manifest(
        "not-ready",
        json!({ "imageName": broken_display }),
        json!({}),
    );
    let err = h.apply_err(&path);
    eprintln!("kubectl apply (not ready):\n{err}");
    let expected = format!(
        "{}image VirtualMachineImage/{broken} (\"{broken_display}\") is not ready: Ready=False, VirtualMachineImageNotSynced: the content library item is not synced; set the annotation vmoperator.vmware.com/skip-image-checks: \"true\" to create the VM anyway",
        denied_by(VALIDATING_WEBHOOK)
    );
    assert!(err.contains(&expected), "expected {expected:?} in:\n{err}");

    // The override admits it, with a warning kubectl prints.
    let path = h.manifest(
        "not-ready",
        json!({ "imageName": broken_display }),
        json!({ "vmoperator.vmware.com/skip-image-checks": "true" }),
    );
    let out = kubectl::kubectl(&["apply", "-f", path.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Warning: vmoperator.vmware.com/skip-image-checks: check skipped: image VirtualMachineImage/"), "{stderr}");
    assert_eq!(h.stored_spec("not-ready")["imageName"], json!(broken));

    // A capability the VM asks for by annotation.
    let err = h.apply_err(&h.manifest(
        "needs-gpu",
        json!({ "imageName": "Photon OS 5.0" }),
        json!({ "vmoperator.vmware.com/required-capabilities": "nvidia-gpu" }),
    ));
    let expected = format!(
        "{}image VirtualMachineImage/{photon} (\"Photon OS 5.0\") lacks capability \"nvidia-gpu\" (required by annotation vmoperator.vmware.com/required-capabilities) (it has: cloud-init)",
        denied_by(VALIDATING_WEBHOOK)
    );
    assert!(err.contains(&expected), "expected {expected:?} in:\n{err}");
    h.apply_ok(&h.manifest(
        "has-gpu",
        json!({ "imageName": "GPU Image" }),
        json!({ "vmoperator.vmware.com/required-capabilities": "nvidia-gpu" }),
    ));
    assert_eq!(h.stored_spec("has-gpu")["image"]["name"], json!(gpu));

    // cloud-init bootstrap on an image that declares capabilities without cloud-init.
    let err = h.apply_err(&h.manifest(
        "cloud-init",
        json!({ "imageName": "GPU Image", "bootstrap": { "cloudInit": { "rawCloudConfig": { "name": "x", "key": "user-data" } } } }),
        json!({}),
    ));
    assert!(
        err.contains("lacks capability \"cloud-init\" (required by spec.bootstrap.cloudInit)"),
        "{err}"
    );
    h.apply_ok(&h.manifest(
        "cloud-init",
        json!({ "imageName": "Photon OS 5.0", "bootstrap": { "cloudInit": { "rawCloudConfig": { "name": "x", "key": "user-data" } } } }),
        json!({}),
    ));

    assert!(h.webhook().metrics.requests(VALIDATE_PATH, "denied") >= 3);
    h.finish().await;
}
