//! `helm upgrade` to a new image tag under VirtualMachine traffic, and a leader pod deleted.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::chart::{items, lease_holder, manager_pods, ready_pods, vm_yaml};
use crate::sync::{images, publish, ready_count};
use crate::{Figures, IMAGE_REPO, NS, Node, R, ROOT, ensure, wait_for};

/// name -> (uid, resourceVersion) of every image of the test namespace.
fn snapshot(node: &Node) -> R<BTreeMap<String, (String, String)>> {
    Ok(images(node)?
        .iter()
        .map(|i| {
            let m = &i["metadata"];
            (
                m["name"].as_str().unwrap_or_default().to_string(),
                (
                    m["uid"].as_str().unwrap_or_default().to_string(),
                    m["resourceVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ),
            )
        })
        .collect())
}

/// The images of the Deployment's pods that are not terminating, and whether any is terminating.
fn pod_images(node: &Node) -> R<(Vec<String>, bool)> {
    let pods = manager_pods(node)?;
    let mut imgs = Vec::new();
    let mut terminating = false;
    for p in items(&pods) {
        if p["metadata"]["deletionTimestamp"].is_null() {
            imgs.push(
                p["spec"]["containers"][0]["image"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
            );
        } else {
            terminating = true;
        }
    }
    Ok((imgs, terminating))
}

pub fn upgrade_rolls_both_pods(node: &Node, f: &mut Figures) -> R {
    let before = snapshot(node)?;
    ensure(!before.is_empty(), || "no images to watch".into())?;
    let old_pods = ready_pods(node)?;
    // A new tag of the same image, as a release would push one.
    node.ctr(&[
        "images",
        "tag",
        "--force",
        &format!("{IMAGE_REPO}:dev"),
        &format!("{IMAGE_REPO}:dev2"),
    ])?;

    let stop = AtomicBool::new(false);
    let (took, (created, refused)) = std::thread::scope(|s| {
        let creates = s.spawn(|| {
            let (mut ok, mut refused) = (0usize, Vec::new());
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                match node.apply(&vm_yaml(&format!("roll-{i}"), "Photon A")) {
                    Ok(_) => ok += 1,
                    Err(e) => refused.push(e),
                }
            }
            (ok, refused)
        });
        let t = Instant::now();
        let r = node.helm_install("dev2").and_then(|_| {
            // Until no old pod is left, not even terminating: it serves the webhook to the end.
            wait_for("both pods on dev2", Duration::from_secs(120), || {
                let (imgs, terminating) = pod_images(node)?;
                Ok(
                    (imgs.len() == 2 && imgs.iter().all(|i| i.ends_with(":dev2")) && !terminating)
                        .then_some(()),
                )
            })
        });
        let took = t.elapsed();
        // A little more traffic after the last old pod is gone.
        std::thread::sleep(Duration::from_secs(2));
        stop.store(true, Ordering::Relaxed);
        (r.map(|_| took), creates.join().unwrap())
    });
    let took = took?;
    f.add(
        "helm upgrade rollout (2 pods, to no old pod left)",
        format!(
            "{took:.1?}, {created} VirtualMachine creates, {} refused",
            refused.len()
        ),
    );
    ensure(refused.is_empty(), || {
        format!(
            "{} of {} creates refused during the rollout, first: {}",
            refused.len(),
            created + refused.len(),
            refused[0]
        )
    })?;
    ensure(created > 0, || "no create during the rollout".into())?;
    let new_pods = ready_pods(node)?;
    ensure(
        new_pods.len() == 2 && new_pods.iter().all(|p| !old_pods.contains(p)),
        || format!("pods before {old_pods:?}, after {new_pods:?}"),
    )?;
    // No image lost or rewritten: the same objects, not written since.
    let after = snapshot(node)?;
    ensure(after == before, || {
        format!("images changed by the rollout:\nbefore {before:?}\nafter  {after:?}")
    })
}

pub fn leader_takeover(node: &Node, f: &mut Figures) -> R {
    let before = snapshot(node)?;
    // A new item, which only a leader's sync can turn into an image: the next leader must.
    publish(node, &["Photon D"])?;
    // Right after a rollout the Lease may be between holders: wait for one of the Ready pods.
    let holder = wait_for(
        "a Ready pod holding the Lease",
        Duration::from_secs(60),
        || {
            let (h, pods) = (lease_holder(node)?, ready_pods(node)?);
            Ok((pods.len() == 2 && pods.contains(&h)).then_some(h))
        },
    )?;
    // The leader's log to its end: it says whether it released the Lease on SIGTERM.
    let log = node.dir.join("logs/old-leader.log");
    let follow = node.spawn(
        &["kubectl", "logs", "-f", "-n", NS, &holder],
        Path::new(ROOT),
        &log,
    )?;
    let t = Instant::now();
    node.kubectl(&["delete", "pod", "-n", NS, &holder, "--wait=false"])?;
    let next = wait_for("a new Lease holder", Duration::from_secs(60), || {
        let h = lease_holder(node)?;
        Ok((!h.is_empty() && h != holder).then_some(h))
    })?;
    let took = t.elapsed();
    f.add(
        "leader takeover (pod deleted to new Lease holder, preStop sleep 5 s included)",
        format!("{took:.1?} ({holder} -> {next})"),
    );
    wait_for(
        "the old leader's 'released the Lease'",
        Duration::from_secs(30),
        || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            Ok(text.contains("released the Lease").then_some(()))
        },
    )?;
    drop(follow);
    wait_for(
        "4 Ready images after the takeover",
        Duration::from_secs(90),
        || Ok((ready_count(node)? == before.len() + 1).then_some(())),
    )?;
    let after = snapshot(node)?;
    for (name, (uid, _)) in &before {
        ensure(after.get(name).map(|a| &a.0) == Some(uid), || {
            format!("image {name} lost or replaced by the takeover")
        })?;
    }
    Ok(())
}
