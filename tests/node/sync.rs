//! Images from a published library served inside the node's network namespace (on the node IP),
//! synced by the operator's pods, and a VirtualMachine resolved by display name.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::chart::{WEBHOOK_NS, is_ready, items, vm_yaml};
use crate::{Figures, Guard, NODE_IP, Node, R, ROOT, ensure, run, wait_for};

pub const LIBRARY_ID: &str = "6f1a9a46-0c2b-4c1e-9d0a-1f5c3c1e0a0e";
const PORT: u16 = 8000;

pub fn library_dir(node: &Node) -> PathBuf {
    node.dir.join("library")
}

/// Copies tests/data/photon-5.0.ovf into the library as NAME.ovf and publishes the library again
/// (item ids of unchanged files are kept).
pub fn publish(node: &Node, names: &[&str]) -> R {
    let dir = library_dir(node);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    for n in names {
        std::fs::copy(
            Path::new(ROOT).join("tests/data/photon-5.0.ovf"),
            dir.join(format!("{n}.ovf")),
        )
        .map_err(|e| e.to_string())?;
    }
    let mut c = Command::new(env!("CARGO_BIN_EXE_vmi-operator"));
    c.arg("publish")
        .arg(&dir)
        .args(["--library-id", LIBRARY_ID, "--name", "node-images"]);
    run(c, None).map(|_| ())
}

/// The images of the test namespace: name -> (uid, resourceVersion, Ready).
pub fn images(node: &Node) -> R<Vec<Value>> {
    Ok(items(&node.get(&["vmi", "-n", WEBHOOK_NS])?))
}

pub fn ready_count(node: &Node) -> R<usize> {
    Ok(images(node)?.iter().filter(|i| is_ready(i)).count())
}

/// Serves `dir` over HTTP on the node IP at `port`, inside the node's network namespace, and
/// waits until its lib.json answers. Returns the server and that URL.
pub fn serve_library(node: &Node, dir: &Path, port: u16, log: &str) -> R<(Guard, String)> {
    let server = node.spawn(
        &[
            "python3",
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            NODE_IP,
        ],
        dir,
        &node.dir.join("logs").join(log),
    )?;
    let url = format!("http://{NODE_IP}:{port}/lib.json");
    wait_for("the library server", Duration::from_secs(20), || {
        Ok(node
            .script(&[
                "exec",
                "curl",
                "-fsS",
                "--max-time",
                "2",
                "-o",
                "/dev/null",
                &url,
            ])
            .ok()
            .map(|_| ()))
    })?;
    Ok((server, url))
}

pub fn published_library(node: &Node, f: &mut Figures) -> R {
    let names = ["Photon A", "Photon B", "Photon C"];
    let _ = std::fs::remove_dir_all(library_dir(node));
    publish(node, &names)?;
    // The server lives in the node's network namespace: hack/node.sh down kills it with the rest.
    let (server, url) = serve_library(node, &library_dir(node), PORT, "library-http.log")?;
    std::mem::forget(server);
    let t = std::time::Instant::now();
    node.apply(&format!(
        "apiVersion: imageregistry.vmware.com/v1alpha2\nkind: ContentLibrary\nmetadata: {{name: node-images, namespace: {WEBHOOK_NS}}}\nspec: {{id: {LIBRARY_ID}, source: \"{url}\"}}\n"
    ))?;
    wait_for("3 Ready images", Duration::from_secs(90), || {
        Ok((ready_count(node)? == names.len()).then_some(()))
    })?;
    f.add(
        "published library to 3 Ready images (pods, node IP)",
        format!("{:.1?}", t.elapsed()),
    );

    // A VirtualMachine by display name: the webhook fills spec.image with the image's name.
    node.apply(&vm_yaml("by-name", "Photon B"))?;
    let vm = node.get(&["vm", "-n", WEBHOOK_NS, "by-name"])?;
    let image = vm["spec"]["image"]["name"].as_str().unwrap_or_default();
    let want = images(node)?
        .into_iter()
        .find(|i| i["status"]["name"] == "Photon B")
        .and_then(|i| i["metadata"]["name"].as_str().map(String::from))
        .ok_or("no image with display name Photon B")?;
    ensure(image == want, || {
        format!("spec.image of the VM: {}, want {want}", vm["spec"])
    })
}
