//! The running operator's own webhook at fixed rates (open loop), with every synced image in its
//! index: the latency the apiserver would see, on the index the operator really builds.

use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use kube::ResourceExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde_json::{Value, json};
use vmi_operator::api::VirtualMachineImage;
use vmi_operator::webhook::{MUTATE_PATH, VALIDATE_PATH};
use vmi_test_support::admission::create_review;
use vmi_test_support::load::{MAX_IN_FLIGHT, open_loop, warm_up};

use crate::probes::proc::memory;
use crate::process::Operator;

/// Every request asks about an image that exists and is Ready: each answer must allow.
const ALLOWED: &[u8] = b"\"allowed\":true";

/// Requests about up to 1,000 of the synced images (the first page of a list): by display name,
/// by VMI ID, and the validation of a VM that names its image.
async fn bodies(client: &Client, url: &str) -> Vec<(String, Vec<u8>)> {
    let resource = ApiResource::erase::<VirtualMachineImage>(&());
    let images = Api::<DynamicObject>::all_with(client.clone(), &resource)
        .list(&ListParams::default().limit(1000))
        .await
        .expect("list images for the webhook probe");
    let mut out = Vec::new();
    for (k, image) in images.items.iter().enumerate() {
        let (Some(ns), Some(display)) = (
            image.namespace(),
            image.data["status"]["name"].as_str().map(str::to_string),
        ) else {
            continue;
        };
        let name = image.name_any();
        let uid = format!("probe-{k}");
        let vm = format!("vm-{k}");
        out.push((
            format!("{url}{MUTATE_PATH}"),
            create_review(&uid, &ns, &vm, json!({ "imageName": display })),
        ));
        out.push((
            format!("{url}{MUTATE_PATH}"),
            create_review(&uid, &ns, &vm, json!({ "imageName": name })),
        ));
        out.push((
            format!("{url}{VALIDATE_PATH}"),
            create_review(
                &uid,
                &ns,
                &vm,
                json!({ "imageName": name, "image": { "kind": "VirtualMachineImage", "name": name } }),
            ),
        ));
    }
    out
}

/// Open-loop runs at each rate for `seconds` against `op`'s webhook (TLS with `ca_pem`).
pub(crate) async fn webhook_probe(
    client: &Client,
    op: &Operator,
    ca_pem: &str,
    images: usize,
    rates: &[f64],
    seconds: f64,
) -> Value {
    let url = format!("https://127.0.0.1:{}", op.webhook_port);
    let requests = Arc::new(bodies(client, &url).await);
    if requests.is_empty() {
        return json!({ "error": "no image with a display name to ask about" });
    }
    let http = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA"))
        .timeout(Duration::from_secs(10))
        .build()
        .expect("https client");
    let mut runs = Vec::new();
    for &rate in rates {
        warm_up(&http, &requests, MAX_IN_FLIGHT).await;
        let r = open_loop(
            &http,
            requests.clone(),
            ALLOWED,
            rate,
            Duration::from_secs_f64(seconds),
        )
        .await;
        let run = r.to_json();
        eprintln!(
            "[bench] operator webhook, {images} images indexed, {rate:.0}/s: {}",
            run["latency_ms"]
        );
        runs.push(run);
    }
    json!({
        "images_indexed": images,
        "distinct_requests": requests.len(),
        "open_loop": runs,
        "memory_after": memory(op.pid()),
    })
}
