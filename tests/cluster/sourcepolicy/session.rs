//! A vCenter session that ends in the middle of a sync, on vcsim, through the operator and the
//! apiserver. vcsim only expires idle sessions, so a proxy in front of it
//! (`vmi_test_support::vcenter_proxy`) ends the operator's session at vcsim on cue: vcsim itself
//! then answers 401 to the session's next call.
//!
//! - Mid-listing (after two item loads) and mid-download (the first file GET) during the first
//!   sync, then mid-listing again once everything is Ready: the client logs in again once per
//!   expiry, the listing completes with every item, nothing is deleted or recreated (same UIDs),
//!   and the library stays Ready (its condition's lastTransitionTime does not move).
//! - The session ends while logins are refused (an SSO that is down or locked the account): the
//!   library goes Ready=False with reason SourceAuthFailed and a message that says so, within
//!   the timeouts; nothing is deleted; the credentials are not sent by every caller of every
//!   retry (one failed login stands for `LOGIN_RETRY_AFTER`); when logins work again the
//!   library is Ready again with the same items and images.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use kube::Client;
use kube::api::Api;
use vmi_operator::api::ContentLibrary;
use vmi_operator::source::vsphere::LOGIN_RETRY_AFTER;
use vmi_test_support::converge::{self, Snapshot};
use vmi_test_support::vcenter_proxy::{Kind, VcenterProxy};
use vmi_test_support::{cluster, operator, repo_root, vcsim::Vcsim, wait, yaml};

const WAIT: Duration = Duration::from_secs(120);
const ITEMS: usize = 10;
const LIB: &str = "vcenter";
/// One item's info (the listing loads each).
const ITEM_CALL: &str = "/rest/com/vmware/content/library/item/id:";
/// A prepared file's download (vcsim's endpoint; vCenter's is `/cls/data/`).
const FILE_DATA: &str = "/rest/com/vmware/cis/data/";

/// The library's Ready condition (status, reason, message, lastTransitionTime) and lastSyncTime.
async fn library_state(
    client: &Client,
    ns: &str,
) -> Option<(String, String, String, String, String)> {
    let api: Api<ContentLibrary> = Api::namespaced(client.clone(), ns);
    let status = api.get(LIB).await.ok()?.status?;
    let c = status.conditions.into_iter().find(|c| c.type_ == "Ready")?;
    Some((
        format!("{:?}", c.status),
        c.reason,
        c.message,
        c.last_transition_time,
        status.last_sync_time.unwrap_or_default(),
    ))
}

async fn wait_ready_status(
    client: &Client,
    ns: &str,
    status: &str,
) -> (String, String, String, String, String) {
    wait::wait_for(WAIT, &format!("library Ready={status}"), || async {
        library_state(client, ns).await.filter(|s| s.0 == status)
    })
    .await
}

/// Every item and a Ready image for each.
async fn wait_all_ready(client: &Client, ns: &str) -> Snapshot {
    wait::wait_for(
        WAIT,
        &format!("{ITEMS} items with Ready images"),
        || async {
            converge::snapshot_of(client, ns, LIB)
                .await
                .filter(|s| s.items.len() == ITEMS && s.ready_images() == ITEMS)
        },
    )
    .await
}

fn assert_unchanged(now: &Snapshot, before: &Snapshot, when: &str) {
    assert_eq!(
        now.item_uids, before.item_uids,
        "{when}: items deleted or recreated"
    );
    assert_eq!(now.images, before.images, "{when}: images changed");
}

#[tokio::test]
async fn a_vcenter_session_that_ends_mid_sync_is_renewed_and_deletes_nothing() {
    let _alone = operator::one_operator_test();
    let sim = Vcsim::start();
    let library_id = sim.create_library("images");
    let work = tempfile::tempdir().unwrap();
    let seed = std::fs::read_to_string(repo_root().join("tests/data/photon-5.0.ovf")).unwrap();
    std::fs::write(work.path().join("photon-disk1.vmdk"), vec![0u8; 4096]).unwrap();
    for i in 0..ITEMS {
        let ovf = work.path().join(format!("photon-{i:02}.ovf"));
        std::fs::write(&ovf, &seed).unwrap();
        sim.govc(&["library.import", "images", ovf.to_str().unwrap()]);
    }

    let upstream = url::Url::parse(sim.var("VMI_VCSIM_URL")).unwrap();
    let proxy =
        VcenterProxy::start(&upstream, &std::fs::read(sim.var("VMI_VCSIM_CA")).unwrap()).await;
    // The first sync: the third item load, and the first download, find their session ended.
    proxy.expire_at(ITEM_CALL, 2);
    proxy.expire_at(FILE_DATA, 0);

    let client = cluster::client().await;
    let (ns, kubeconfig) = operator::operator_namespace(&client, "vcsession").await;
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("username"), sim.var("VMI_VCSIM_USERNAME")).unwrap();
    std::fs::write(creds.path().join("password"), sim.var("VMI_VCSIM_PASSWORD")).unwrap();
    yaml::apply_yaml(&client, &ns, &format!(
        "apiVersion: imageregistry.vmware.com/v1alpha2\nkind: ContentLibrary\nmetadata: {{ name: {LIB}, namespace: {ns} }}\nspec: {{ id: \"{library_id}\" }}\n"
    )).await;
    let operator = operator::OperatorProcess::start(
        &format!("vcsession-{ns}"),
        &kubeconfig,
        &[
            "--disable-webhook",
            "--watch-namespace",
            &ns,
            "--sync-interval",
            "2s",
            "--vcenter-url",
            proxy.url.as_str(),
            "--vcenter-credentials-dir",
            creds.path().to_str().unwrap(),
        ],
    );
    operator.wait_ready().await;

    // 1. Ended mid-listing and mid-download in the first sync: everything arrives anyway.
    let before = wait_all_ready(&client, &ns).await;
    let state = wait_ready_status(&client, &ns, "True").await;
    assert!(proxy.fired(), "both expiries happened");
    let expiries = proxy.expiries();
    assert_eq!(expiries.len(), 2);
    assert!(expiries[0].path.starts_with(ITEM_CALL), "{:?}", expiries[0]);
    assert!(expiries[1].path.starts_with(FILE_DATA), "{:?}", expiries[1]);
    for e in &expiries {
        let took = proxy
            .recovered_after(e)
            .expect("a call succeeded under a new session");
        eprintln!(
            "first sync: session ended before {} recovered after {took:?}",
            e.path
        );
    }
    assert!(
        proxy.unauthorized() >= 2,
        "vcsim answered 401 to the ended sessions"
    );
    assert_eq!(
        proxy.count(Kind::Login),
        3,
        "one login, one re-login per expiry"
    );

    // 2. Ended mid-listing once everything is Ready: the next listing completes, nothing
    // changes, and the library never leaves Ready.
    let logins = proxy.count(Kind::Login);
    proxy.expire_at(ITEM_CALL, 1);
    wait::wait_until(WAIT, "the steady-state expiry", || async { proxy.fired() }).await;
    let expiry = proxy.expiries().pop().unwrap();
    let expired_at: DateTime<Utc> = expiry.wall.into();
    let synced = wait::wait_for(WAIT, "a complete sync after the expiry", || async {
        let s = library_state(&client, &ns).await?;
        let last: DateTime<Utc> = s.4.parse().ok()?;
        (last.timestamp() > expired_at.timestamp()).then_some(s)
    })
    .await;
    let recovered = proxy.recovered_after(&expiry).expect("recovered");
    eprintln!(
        "steady state: first successful call {recovered:?} after the expiry; {} logins, {} 401s so far",
        proxy.count(Kind::Login),
        proxy.unauthorized()
    );
    assert_eq!(synced.0, "True");
    assert_eq!(
        synced.3, state.3,
        "Ready never went False (lastTransitionTime moved)"
    );
    assert_eq!(proxy.count(Kind::Login), logins + 1, "exactly one re-login");
    assert!(
        recovered < Duration::from_secs(5),
        "recovered after {recovered:?}"
    );
    assert_unchanged(
        &converge::snapshot_of(&client, &ns, LIB).await.unwrap(),
        &before,
        "after the expiry",
    );

    // 3. Ended while logins are refused: Ready=False, saying why; nothing deleted.
    proxy.refuse_logins(true);
    proxy.expire_at(ITEM_CALL, 1);
    let armed = Instant::now();
    let failed = wait_ready_status(&client, &ns, "False").await;
    let to_false = armed.elapsed();
    eprintln!(
        "logins refused: Ready=False after {to_false:?}: {} {}",
        failed.1, failed.2
    );
    assert_eq!(failed.1, "SourceAuthFailed", "{failed:?}");
    assert!(
        failed.2.contains("rejected the configured credentials"),
        "{failed:?}"
    );
    assert!(to_false < Duration::from_secs(30), "took {to_false:?}");
    // A few retries' worth (the sync retries every 2 s): still nothing deleted, and one failed
    // login per LOGIN_RETRY_AFTER, not one per caller and retry.
    tokio::time::sleep(LOGIN_RETRY_AFTER + Duration::from_secs(3)).await;
    let refused_for = armed.elapsed();
    let refused = proxy.count(Kind::RefusedLogin);
    eprintln!("logins refused for {refused_for:?}: {refused} login attempts");
    let most = (refused_for.as_secs_f64() / LOGIN_RETRY_AFTER.as_secs_f64()).ceil() as usize + 1;
    assert!(
        refused >= 1 && refused <= most,
        "{refused} login attempts in {refused_for:?}"
    );
    assert_unchanged(
        &converge::snapshot_of(&client, &ns, LIB).await.unwrap(),
        &before,
        "logins refused",
    );
    assert_eq!(library_state(&client, &ns).await.unwrap().0, "False");

    // 4. Logins work again: Ready, same items and images.
    proxy.refuse_logins(false);
    let allowed = Instant::now();
    wait_ready_status(&client, &ns, "True").await;
    let back = allowed.elapsed();
    eprintln!("logins allowed again: Ready=True after {back:?}");
    assert!(
        back < LOGIN_RETRY_AFTER + Duration::from_secs(10),
        "took {back:?}"
    );
    assert_unchanged(
        &wait_all_ready(&client, &ns).await,
        &before,
        "after recovery",
    );
    drop(operator);
    drop(proxy);
}
