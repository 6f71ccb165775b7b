//! The periodic pass over the images of one scope: deletes images whose item is gone (removed
//! while the operator was down and no garbage collector ran) and refreshes the images gauge.

use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::DeleteParams;
use kube::runtime::reflector::Store;

use crate::context::Context;
use crate::kinds::{ImageKind, ItemKind, Kind};
use crate::stores::{Packed, Synced, store_key};

/// Runs every `interval`, once both stores hold their lists.
pub async fn cleanup_loop<I: ItemKind>(
    ctx: Arc<Context>,
    (items, items_synced): (Store<Packed<I>>, Synced),
    (images, images_synced): (Store<Packed<I::Image>>, Synced),
    interval: Duration,
) {
    items_synced.wait().await;
    images_synced.wait().await;
    let scope = if I::kind(&()).starts_with("Cluster") {
        "cluster"
    } else {
        "namespace"
    };
    loop {
        let mut ready = 0i64;
        let mut not_ready = 0i64;
        for packed in images.state() {
            let image = match packed.unpack() {
                Ok(image) => image,
                Err(e) => {
                    tracing::error!(image = %packed.name_any(), error = %e, "stored image cannot be decoded");
                    continue;
                }
            };
            if image.image_status().is_some_and(|s| s.is_ready()) {
                ready += 1;
            } else {
                not_ready += 1;
            }
            let Some(provider) = image.provider_ref() else {
                continue;
            };
            let item_ref = store_key(&provider.name, image.namespace().as_deref());
            if items.get(&item_ref).is_none() {
                tracing::info!(image = %image.name_any(), item = %provider.name, "deleting image whose item is gone");
                let api = I::Image::api(ctx.client.clone(), image.namespace().as_deref());
                if let Err(e) = api
                    .delete(&image.name_any(), &DeleteParams::background())
                    .await
                    && !matches!(&e, kube::Error::Api(s) if s.code == 404)
                {
                    tracing::warn!(image = %image.name_any(), error = %e, "cannot delete orphaned image");
                }
            }
        }
        let labels = |ready: &str| crate::metrics::ImageStateLabels {
            scope: scope.into(),
            ready: ready.into(),
        };
        ctx.metrics.images.get_or_create(&labels("true")).set(ready);
        ctx.metrics
            .images
            .get_or_create(&labels("false"))
            .set(not_ready);
        tokio::time::sleep(interval).await;
    }
}
