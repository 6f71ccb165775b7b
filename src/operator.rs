//! `vmi-operator run`: the controllers (on the leader only), the webhook and the metrics/health
//! server (on every replica), one shutdown signal for all.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Client;
use kube::api::Api;
use kube_lease_manager::LeaseManager;
use prometheus_client::registry::Registry;
use tokio::sync::watch;

use crate::api::*;
use crate::context::{Context, Settings};
use crate::health::Readiness;
use crate::image::ImageController;
use crate::image::cache::OvfCache;
use crate::metrics::Metrics;
use crate::source::SourceRegistry;
use crate::stores::ImageFeed;
use crate::sync::SyncController;

/// Everything `run` needs, from flags and environment.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    pub settings: Settings,
    pub metrics_addr: SocketAddr,
    pub webhook: Option<crate::webhook::WebhookConfig>,
    pub leader_election: Option<LeaderElection>,
    pub vcenter: Option<crate::source::VsphereConfig>,
    pub published_tls: crate::source::TlsOptions,
    /// Name of this replica (the pod name), for events and the lease.
    pub instance: String,
    /// How long start-up waits for the CRDs to be established.
    pub crd_wait: Duration,
    /// What published libraries may reach.
    pub source_policy: crate::source::SourcePolicy,
}

/// Lease-based leader election settings.
#[derive(Clone, Debug)]
pub struct LeaderElection {
    pub namespace: String,
    pub lease_name: String,
    pub lease_duration: Duration,
}

/// A shutdown signal that can be cloned into every task.
#[derive(Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    pub fn new() -> (watch::Sender<bool>, Self) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown(rx))
    }

    /// Resolves when shutdown was requested (or the sender is gone).
    pub fn wait(&self) -> impl std::future::Future<Output = ()> + Send + Sync + 'static {
        let mut rx = self.0.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// Runs the operator until SIGTERM/SIGINT.
pub async fn run(config: OperatorConfig) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let client = Client::try_default().await?;
    let (stop_tx, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutdown requested");
        let _ = stop_tx.send(true);
    });

    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry));
    let webhook_metrics = crate::webhook::WebhookMetrics::register(&mut registry);
    let registry = Arc::new(registry);
    let readiness = Arc::new(Readiness::default());

    let health = tokio::spawn(crate::health::serve(
        config.metrics_addr,
        registry.clone(),
        readiness.clone(),
        shutdown.wait(),
    ));

    // The CRDs (schemas of every version) are read for this alone, and not kept.
    let writable = crate::api::Writable::of(&wait_for_crds(&client, config.crd_wait).await?);
    readiness.crds_established.store(true, Ordering::SeqCst);
    tracing::info!(?writable, "optional fields the installed CRDs declare");
    // Before any watch starts: how they list.
    crate::stores::probe_streaming_lists(&client, config.settings.watch_namespace.as_deref()).await;

    let vcenter = match config.vcenter.clone() {
        Some(vc) => Some(crate::source::VsphereClient::new(vc)?),
        None => None,
    };
    let sources = Arc::new(
        SourceRegistry::new(vcenter, config.published_tls.clone())
            .with_policy(config.source_policy.clone()),
    );
    let ctx = Arc::new(Context::new(
        client.clone(),
        metrics,
        sources,
        config.settings.clone(),
        writable,
        Some(config.instance.clone()),
    ));

    // The webhook serves on every replica, from an index fed by the one watch of each image
    // kind that also fills the image controllers' stores.
    let index = config
        .webhook
        .is_some()
        .then(crate::webhook::ImageIndex::empty);
    let images = ImageFeeds::start(&ctx, index.clone());
    let webhook = match (config.webhook.clone(), index) {
        (Some(webhook_config), Some(index)) => {
            let synced_index = index.clone();
            let synced_flag = readiness.clone();
            tokio::spawn(async move {
                synced_index.wait_synced().await;
                synced_flag.webhook_synced.store(true, Ordering::SeqCst);
            });
            Some(tokio::spawn(crate::webhook::serve(
                webhook_config,
                index,
                webhook_metrics,
                shutdown.wait(),
            )))
        }
        _ => {
            readiness.webhook_synced.store(true, Ordering::SeqCst);
            None
        }
    };

    match &config.leader_election {
        None => {
            let controllers = run_controllers(ctx, &images, shutdown.clone());
            tokio::pin!(controllers);
            tokio::select! {
                _ = &mut controllers => {}
                _ = shutdown.wait() => stop_within(controllers).await,
            }
        }
        Some(election) => {
            lead_when_elected(ctx, &images, election, &config.instance, shutdown.clone()).await?
        }
    }

    shutdown.wait().await;
    if let Some(webhook) = webhook {
        let _ = webhook.await;
    }
    let _ = health.await;
    tracing::info!("stopped");
    Ok(())
}

/// Runs the controllers while this replica holds the lease; steps down when it is lost.
async fn lead_when_elected(
    ctx: Arc<Context>,
    images: &ImageFeeds,
    election: &LeaderElection,
    identity: &str,
    shutdown: Shutdown,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let duration = election.lease_duration.as_secs().max(2);
    let build = {
        let (client, election, identity) =
            (ctx.client.clone(), election.clone(), identity.to_string());
        move || {
            kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &election.lease_name)
                .with_namespace(&election.namespace)
                .with_identity(&identity)
                .with_duration(duration)
                .with_grace((duration / 3).max(1))
                .build()
        }
    };
    let manager = build().await?;
    let leases: Api<Lease> = Api::namespaced(ctx.client.clone(), &election.namespace);
    let (mut leading, lease_task) =
        watch_lease(manager, build, leases, election.lease_name.clone());
    loop {
        // Wait to become leader (or to be told to stop).
        tokio::select! {
            _ = leading.wait_for(|l| *l) => {}
            _ = shutdown.wait() => break,
        }
        tracing::info!(identity, "became leader: starting controllers");
        let (stop_controllers, controllers_shutdown) = Shutdown::new();
        let mut lost = leading.clone();
        let stop_on_loss = async move {
            let _ = lost.wait_for(|l| !*l).await;
        };
        let controllers = run_controllers(ctx.clone(), images, controllers_shutdown);
        tokio::pin!(controllers);
        tokio::select! {
            _ = &mut controllers => {}
            _ = stop_on_loss => {
                tracing::warn!(identity, "lost leadership: stopping controllers");
                let _ = stop_controllers.send(true);
                stop_within(controllers).await;
            }
            _ = shutdown.wait() => {
                let _ = stop_controllers.send(true);
                stop_within(controllers).await;
                break;
            }
        }
    }
    // Closing the channel stops the lease task; the Lease released here is taken by another
    // replica within about a second (its read of the Lease).
    drop(leading);
    if let Ok(manager) = lease_task.await {
        match manager.release().await {
            Ok(()) => tracing::info!(identity, "released the Lease"),
            Err(e) => tracing::warn!(identity, error = %e, "cannot release the Lease"),
        }
    }
    Ok(())
}

/// `LeaseManager::watch` with a follower that also reads the Lease every second. The manager alone
/// trusts the expiry it last read and sleeps until then, so a Lease its leader released on the way
/// out stood free for up to a Lease duration. When the Lease goes free, a follower starts over
/// with a new manager (`build`), whose first read sees it free and takes it. Ends (giving the
/// manager back, to release) when every receiver is gone.
fn watch_lease<F, Fut>(
    mut manager: LeaseManager,
    build: F,
    leases: Api<Lease>,
    name: String,
) -> (watch::Receiver<bool>, tokio::task::JoinHandle<LeaseManager>)
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = kube_lease_manager::Result<LeaseManager>> + Send,
{
    let (tx, rx) = watch::channel(false);
    let task = tokio::spawn(async move {
        // Cleared by a start-over until the Lease is seen held again: a new manager that is slow
        // to take the free Lease must not be replaced again and again.
        let armed = AtomicBool::new(true);
        loop {
            let leading = *tx.borrow();
            tokio::select! {
                biased;
                _ = tx.closed() => return manager,
                changed = manager.changed() => match changed {
                    Ok(now) => {
                        tx.send_replace(now);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "leader election");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                },
                // Dropping `changed()` of a follower is safe: it holds nothing.
                _ = released(&leases, &name, &armed), if !leading => {
                    armed.store(false, Ordering::SeqCst);
                    match build().await {
                        Ok(fresh) => manager = fresh,
                        Err(e) => tracing::warn!(error = %e, "leader election"),
                    }
                }
            }
        }
    });
    (rx, task)
}

/// Resolves when a read of the Lease (one a second) finds it free while `armed`; a read that finds
/// it held arms it.
async fn released(leases: &Api<Lease>, name: &str, armed: &AtomicBool) {
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Ok(Some(lease)) = leases.get_opt(name).await else {
            continue;
        };
        let holder = lease.spec.and_then(|s| s.holder_identity);
        if holder.is_some_and(|h| !h.is_empty()) {
            armed.store(true, Ordering::SeqCst);
        } else if armed.load(Ordering::SeqCst) {
            return;
        }
    }
}

/// How long the controllers get to finish their running reconciles once told to stop. A
/// reconcile may wait for a store that its stopped watch will never fill (a sync that began just
/// before the stop waits for the item store): past this it is dropped, as reconciles are
/// idempotent, so a stop always ends (and the Lease is released) in time.
const STOP_GRACE: Duration = Duration::from_secs(5);

async fn stop_within(controllers: impl std::future::Future<Output = ()>) {
    if tokio::time::timeout(STOP_GRACE, controllers).await.is_err() {
        tracing::warn!(
            grace = ?STOP_GRACE,
            "controllers did not stop in time; their running reconciles are dropped"
        );
    }
}

/// The process's one watch of each image kind ([`ImageFeed`]), started on every replica.
pub struct ImageFeeds {
    vmis: ImageFeed<VirtualMachineImage>,
    cvmis: ImageFeed<ClusterVirtualMachineImage>,
}

impl ImageFeeds {
    /// Starts both watches, feeding `index` when the webhook serves.
    fn start(ctx: &Context, index: Option<crate::webhook::ImageIndex>) -> Self {
        let namespace = ctx.settings.watch_namespace.as_deref();
        let on_invalid = crate::stores::report_invalid(ctx.recorder.clone());
        let (vmis, vmi_watch) = ImageFeed::start(
            ctx.client.clone(),
            namespace,
            index.clone(),
            on_invalid.clone(),
        );
        let (cvmis, cvmi_watch) =
            ImageFeed::start(ctx.client.clone(), namespace, index, on_invalid);
        tokio::spawn(vmi_watch);
        tokio::spawn(cvmi_watch);
        ImageFeeds { vmis, cvmis }
    }
}

/// The four controllers and the cleanup loops, until `shutdown`.
pub async fn run_controllers(ctx: Arc<Context>, images: &ImageFeeds, shutdown: Shutdown) {
    let ns_images = ImageController::<ContentLibraryItem>::new(&ctx, &images.vmis);
    let cl_images = ImageController::<ClusterContentLibraryItem>::new(&ctx, &images.cvmis);
    let ns_sync = SyncController::<ContentLibrary>::new(&ctx);
    let cl_sync = SyncController::<ClusterContentLibrary>::new(&ctx);
    let cache = Arc::new(OvfCache::new(crate::image::cache::DEFAULT_BUDGET));
    let cleanup_every = Duration::from_secs(60);
    let ns_cleanup = crate::image::cleanup_loop::<ContentLibraryItem>(
        ctx.clone(),
        ns_images.items(),
        ns_images.images(),
        cleanup_every,
    );
    let cl_cleanup = crate::image::cleanup_loop::<ClusterContentLibraryItem>(
        ctx.clone(),
        cl_images.items(),
        cl_images.images(),
        cleanup_every,
    );
    let (ns_items, cl_items) = (ns_images.items(), cl_images.items());
    let (ns_libraries, cl_libraries) = (ns_sync.libraries(), cl_sync.libraries());
    let controllers = futures::future::join4(
        ns_sync.run(ctx.clone(), ns_items, shutdown.wait()),
        cl_sync.run(ctx.clone(), cl_items, shutdown.wait()),
        ns_images.run(ctx.clone(), ns_libraries, cache.clone(), shutdown.wait()),
        cl_images.run(ctx.clone(), cl_libraries, cache, shutdown.wait()),
    );
    tokio::select! {
        _ = controllers => {}
        _ = futures::future::join(ns_cleanup, cl_cleanup) => {}
    }
}

/// Waits until every CRD of ours is established (an install may still be in flight); returns them.
async fn wait_for_crds(
    client: &Client,
    timeout: Duration,
) -> Result<Vec<CustomResourceDefinition>, Box<dyn std::error::Error + Send + Sync>> {
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let names = crate::api::crd_names();
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let mut missing = vec![];
        let mut found = vec![];
        for name in &names {
            let established = match api.get_opt(name).await {
                Ok(Some(crd)) => {
                    let established = crd
                        .status
                        .as_ref()
                        .and_then(|s| s.conditions.as_ref())
                        .is_some_and(|c| {
                            c.iter()
                                .any(|c| c.type_ == "Established" && c.status == "True")
                        });
                    found.push(crd);
                    established
                }
                Ok(None) => false,
                Err(e) => {
                    tracing::warn!(crd = %name, error = %e, "cannot read CRD");
                    false
                }
            };
            if !established {
                missing.push(name.clone());
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "CRDs not established after {timeout:?}: {}",
                missing.join(", ")
            )
            .into());
        }
        tracing::info!(missing = ?missing, "waiting for CRDs to be established");
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

async fn wait_for_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Paths of the webhook's serving certificate.
pub fn webhook_config(
    addr: SocketAddr,
    cert_dir: &std::path::Path,
) -> crate::webhook::WebhookConfig {
    crate::webhook::WebhookConfig {
        addr,
        cert_path: cert_dir.join("tls.crt"),
        key_path: cert_dir.join("tls.key"),
    }
}
