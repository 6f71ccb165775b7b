//! Phase `floor`: the apiserver's floor for a sync, written by a plain client.

use std::collections::BTreeMap;
use std::time::Instant;

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use kube::{Client, Resource, ResourceExt};
use serde_json::{Value, json};
use vmi_operator::api::{ContentLibraryItem, ProviderRef, VirtualMachineImage};
use vmi_operator::image::desired::{Descriptor, ItemFacts, image_labels};
use vmi_operator::kinds::ImageKind;
use vmi_operator::source::{LibrarySource, PublishedSource, TlsOptions};
use vmi_operator::sync::plan;
use vmi_test_support::{cluster, namespaces, operator};

use crate::args::*;
use crate::library::*;
use crate::phases::CONCURRENCY;
use crate::probes::metrics::*;
use crate::probes::proc::*;

pub(crate) async fn floor_phase(args: &Args) -> Value {
    let client = cluster::client().await;
    let (sa_namespace, kubeconfig) = operator::operator_namespace(&client, "bench-floor-sa").await;
    if args.floor_kinds.iter().any(|k| k == "create") {
        // The operator only patches statuses; the create floor replaces them (PUT /status),
        // which its RBAC does not grant. The same identity gets that verb, nothing else.
        let name = format!("bench-floor-put-status-{sa_namespace}");
        let docs = [
            json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
              "metadata": { "name": name },
              "rules": [
                { "apiGroups": ["imageregistry.vmware.com"], "resources": ["contentlibraryitems/status"], "verbs": ["update"] },
                { "apiGroups": ["vmoperator.vmware.com"], "resources": ["virtualmachineimages/status"], "verbs": ["update"] },
              ] }),
            json!({ "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
              "metadata": { "name": name },
              "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name },
              "subjects": [{ "kind": "ServiceAccount", "name": "vmi-operator", "namespace": sa_namespace }] }),
        ];
        let rbac: String = docs.iter().map(|d| format!("---\n{d}\n")).collect();
        vmi_test_support::yaml::apply_yaml(&client, &sa_namespace, &rbac).await;
    }
    let version = client.apiserver_version().await.map(|v| v.git_version).ok();
    let identity = cluster::client_from(&kubeconfig).await;
    let libraries: Vec<Library> = args.sizes.iter().map(|&n| prepare_library(n)).collect();
    // A fresh apiserver is slower for its first writes of a kind (connections, caches, the
    // field managers' type converters): a small untimed round first, so the floor is a floor.
    let warmup = floor_run(
        &client,
        &identity,
        &prepare_library(100),
        CONCURRENCY,
        Writes::Apply,
    )
    .await;
    // Every size at the first concurrency, then at the next: the runs at 16 then find the
    // same objects already stored as the operator's runs of the same sizes do. (The operator's
    // sync and image controllers run side by side, 16 each: up to 32 writes in flight; the same
    // writes with 32 items at once show what that buys.) The create floor comes last, so that
    // it does not change what the apply floor finds stored.
    // Each run twice: the machine's other work only ever slows a run down, so the faster of
    // the two is the floor (both are kept in the JSON).
    let mut runs = Vec::new();
    if args.floor_kinds.iter().any(|k| k == "apply") {
        for &concurrency in &args.floor_concurrency {
            for lib in &libraries {
                for _ in 0..args.floor_repeat {
                    runs.push(floor_run(&client, &identity, lib, concurrency, Writes::Apply).await);
                }
            }
        }
    }
    if args.floor_kinds.iter().any(|k| k == "create") {
        for lib in &libraries {
            for _ in 0..args.floor_repeat {
                runs.push(floor_run(&client, &identity, lib, CONCURRENCY, Writes::Create).await);
            }
        }
    }
    json!({
        "phase": "floor",
        "kubernetes": version,
        "machine": machine(),
        "concurrency": CONCURRENCY,
        "warmup": warmup,
        "identity": "the operator's ServiceAccount and ClusterRole (config/rbac)",
        "runs": runs,
    })
}

/// How the floor writes each object.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Writes {
    /// Server-side apply of the object, then of its status: what the operator does.
    Apply,
    /// Create (POST), then replace the status (PUT /status) on the object the create returned:
    /// the cheapest writes of the same payloads, with no field management to merge.
    Create,
}

impl Writes {
    fn name(self) -> &'static str {
        match self {
            Writes::Apply => "apply",
            Writes::Create => "create",
        }
    }
}

/// One item's four writes, prepared.
pub(crate) struct FloorItem {
    pub(crate) item_name: String,
    pub(crate) image_name: String,
    pub(crate) item: Value,
    pub(crate) item_status: Value,
    pub(crate) image_labels: BTreeMap<String, String>,
    pub(crate) provider_ref: ProviderRef,
    pub(crate) image_status: Value,
}

pub(crate) async fn floor_run(
    admin: &Client,
    identity: &Client,
    lib: &Library,
    concurrency: usize,
    kind: Writes,
) -> Value {
    let n = lib.n;
    let ns =
        namespaces::test_namespace(admin, &format!("floor-{}-n{n}-c{concurrency}", kind.name()))
            .await;
    let library = apply_library(admin, &ns, lib).await;

    // The payloads the operator would write, from its own pure functions (not timed).
    let source = PublishedSource::new(
        url::Url::parse(&lib.url).expect("library URL"),
        TlsOptions::default(),
    )
    .expect("published source");
    let listing = source.list_items().await.expect("list the library");
    assert_eq!(listing.len(), n, "items in {}", lib.url);
    let bytes = source.fetch_ovf(&listing[0]).await.expect("fetch the OVF");
    let ovf = vmi_operator::ovf::parse_descriptor(&bytes).expect("parse the OVF");
    let library_name = library.name_any();
    let owner = library.controller_owner_ref(&());
    let labels = plan::item_labels(&library.name_any());
    let now = vmi_operator::api::now_rfc3339();
    let item_type = (
        ContentLibraryItem::api_version(&()),
        ContentLibraryItem::kind(&()),
    );
    let image_type = (
        VirtualMachineImage::api_version(&()),
        VirtualMachineImage::kind(&()),
    );
    let work: Vec<FloorItem> = listing
        .iter()
        .map(|info| {
            let type_ = plan::item_type(&info.item_type).expect("an OVF item");
            let item_name = vmi_operator::vmi_id::item_name(&info.id).expect("item UUID");
            let status = plan::item_status(info, type_, None, &now);
            let facts = ItemFacts::from_status(&item_name, &info.id, &status);
            let image_status = vmi_operator::image::desired::image_status(
                &facts,
                Descriptor::Parsed(&ovf),
                None,
            );
            FloorItem {
                image_name: vmi_operator::vmi_id::vmi_id(&info.id).expect("item UUID"),
                item: json!({
                    "apiVersion": item_type.0, "kind": item_type.1,
                    "metadata": { "name": item_name, "labels": labels, "ownerReferences": owner.iter().collect::<Vec<_>>() },
                    "spec": { "id": info.id, "libraryName": library_name },
                }),
                item_status: json!({ "apiVersion": item_type.0, "kind": item_type.1, "status": status }),
                image_labels: image_labels(&image_status),
                provider_ref: ProviderRef {
                    api_version: item_type.0.to_string(),
                    kind: item_type.1.to_string(),
                    name: item_name.clone(),
                },
                image_status: json!({ "apiVersion": image_type.0, "kind": image_type.1, "status": image_status }),
                item_name,
            }
        })
        .collect();

    let items: Api<ContentLibraryItem> = Api::namespaced(identity.clone(), &ns);
    let images: Api<VirtualMachineImage> = Api::namespaced(identity.clone(), &ns);
    let item_resource = ApiResource::erase::<ContentLibraryItem>(&());
    let image_resource = ApiResource::erase::<VirtualMachineImage>(&());
    let dyn_items: Api<DynamicObject> = Api::namespaced_with(identity.clone(), &ns, &item_resource);
    let dyn_images: Api<DynamicObject> =
        Api::namespaced_with(identity.clone(), &ns, &image_resource);
    let sync_params = PatchParams::apply(vmi_operator::sync::FIELD_MANAGER).force();
    let image_params = PatchParams::apply(vmi_operator::image::FIELD_MANAGER).force();
    let post = |manager: &str| PostParams {
        field_manager: Some(manager.to_string()),
        ..Default::default()
    };
    let (sync_post, image_post) = (
        post(vmi_operator::sync::FIELD_MANAGER),
        post(vmi_operator::image::FIELD_MANAGER),
    );
    let requests_before = apiserver_requests(admin).await;
    let cpu_before = cpu_snapshot(None);
    let load_before = loadavg();
    eprintln!(
        "[bench] floor N={n}: {} writes ({}), {concurrency} items at once",
        4 * n,
        kind.name()
    );
    let started = Instant::now();
    let results: Vec<Result<(), kube::Error>> = futures::stream::iter(work.into_iter().map(|w| {
        let (items, images) = (items.clone(), images.clone());
        let (dyn_items, dyn_images) = (dyn_items.clone(), dyn_images.clone());
        let (sync_params, image_params) = (&sync_params, &image_params);
        let (sync_post, image_post) = (&sync_post, &image_post);
        let item_resource = &item_resource;
        async move {
            if kind == Writes::Create {
                let as_object = |v: Value| -> Result<DynamicObject, kube::Error> {
                    serde_json::from_value(v).map_err(kube::Error::SerdeError)
                };
                let mut item = dyn_items.create(sync_post, &as_object(w.item)?).await?;
                item.data["status"] = w.item_status["status"].clone();
                let item = dyn_items
                    .replace_status(&w.item_name, sync_post, &item)
                    .await?;
                let meta = ObjectMeta {
                    name: Some(w.image_name.clone()),
                    labels: Some(w.image_labels),
                    owner_references: item.controller_owner_ref(item_resource).map(|o| vec![o]),
                    ..Default::default()
                };
                let image = VirtualMachineImage::new_image(meta, Some(w.provider_ref), None);
                let image = serde_json::to_value(&image).map_err(kube::Error::SerdeError)?;
                let mut image = dyn_images.create(image_post, &as_object(image)?).await?;
                image.data["status"] = w.image_status["status"].clone();
                dyn_images
                    .replace_status(&w.image_name, image_post, &image)
                    .await?;
                return Ok(());
            }
            let item = items
                .patch(&w.item_name, sync_params, &Patch::Apply(&w.item))
                .await?;
            items
                .patch_status(&w.item_name, sync_params, &Patch::Apply(&w.item_status))
                .await?;
            let meta = ObjectMeta {
                name: Some(w.image_name.clone()),
                labels: Some(w.image_labels),
                owner_references: item.controller_owner_ref(&()).map(|o| vec![o]),
                ..Default::default()
            };
            let image = VirtualMachineImage::new_image(meta, Some(w.provider_ref), None);
            images
                .patch(&w.image_name, image_params, &Patch::Apply(&image))
                .await?;
            images
                .patch_status(&w.image_name, image_params, &Patch::Apply(&w.image_status))
                .await?;
            Ok(())
        }
    }))
    .buffer_unordered(concurrency)
    .collect()
    .await;
    let elapsed = started.elapsed();
    let cpu_after = cpu_snapshot(None);
    let requests = requests_delta(&requests_before, &apiserver_requests(admin).await);
    let errors: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err().map(|e| e.to_string()))
        .collect();
    eprintln!(
        "[bench] floor N={n} ({}): {:.1}s ({:.0} writes/s), {} errors",
        kind.name(),
        elapsed.as_secs_f64(),
        (4 * n) as f64 / elapsed.as_secs_f64(),
        errors.len()
    );
    json!({
        "n": n,
        "kind": kind.name(),
        "concurrency": concurrency,
        "namespace": ns,
        "seconds": secs(elapsed),
        "writes": 4 * n,
        "writes_per_second": ((4 * n) as f64 / elapsed.as_secs_f64()).round(),
        "errors": errors.len(),
        "first_errors": errors.iter().take(3).collect::<Vec<_>>(),
        "apiserver_writes": writes_in(&requests),
        "apiserver_requests": requests,
        "cpu_seconds": cpu_delta(&cpu_before, &cpu_after),
        "control_plane_memory": control_plane_memory(),
        "apiserver_watch_cache": std::env::var("VMI_APISERVER_WATCH_CACHE").ok(),
        "load_before": load_before,
        "load_after": loadavg(),
    })
}
