//! Images from a vCenter library: vcsim inside the node's network namespace (on the node IP), the
//! chart's vcenter.url, credentialsSecret and caBundle pointing at it, the pods syncing.

use std::path::Path;
use std::time::{Duration, Instant};

use vmi_test_support::vcsim::Vcsim;

use crate::chart::{is_ready, items};
use crate::{Figures, NODE_IP, NS, Node, R, ROOT, ensure, wait_for};

const VC_NS: &str = "node-vcenter";
const NAMES: [&str; 2] = ["VC Photon A", "VC Photon B"];

/// An OVF template folder for `govc library.import`: the photon descriptor and a small disk.
fn template(dir: &Path, name: &str) -> R<String> {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let ovf = dir.join(format!("{name}.ovf"));
    std::fs::copy(Path::new(ROOT).join("tests/data/photon-5.0.ovf"), &ovf)
        .map_err(|e| e.to_string())?;
    std::fs::write(dir.join("photon-disk1.vmdk"), vec![0u8; 4096]).map_err(|e| e.to_string())?;
    Ok(ovf.to_string_lossy().into_owned())
}

pub fn vcsim_library(node: &Node, f: &mut Figures) -> R {
    // vcsim and govc run inside the node's namespaces: only there is the node IP reachable.
    let wrap = [
        "env".to_string(),
        format!("VMI_NODE_DIR={}", node.dir.display()),
        format!("{ROOT}/hack/node.sh"),
        "exec".to_string(),
    ];
    let sim = Vcsim::start_in(&wrap, NODE_IP);
    let library_id = sim.create_library("vc-images");
    let work = node.dir.join("vcsim-templates");
    let _ = std::fs::remove_dir_all(&work);
    for name in NAMES {
        sim.govc(&["library.import", "vc-images", &template(&work, name)?]);
    }

    // The credentials Secret the chart's README asks for, from files (not in any command line).
    let creds = node.dir.join("vcsim-creds");
    std::fs::create_dir_all(&creds).map_err(|e| e.to_string())?;
    for key in ["username", "password"] {
        let value = sim.var(&format!("VMI_VCSIM_{}", key.to_uppercase()));
        std::fs::write(creds.join(key), value).map_err(|e| e.to_string())?;
    }
    let c = creds.display();
    let secret = node.kubectl(&[
        "create",
        "secret",
        "generic",
        "vcsim-creds",
        "-n",
        NS,
        &format!("--from-file=username={c}/username"),
        &format!("--from-file=password={c}/password"),
        "--dry-run=client",
        "-o",
        "yaml",
    ])?;
    node.apply(&secret)?;
    let took = node.helm_install_with(
        "dev2",
        &[
            "--set",
            &format!("vcenter.url={}", sim.var("VMI_VCSIM_URL")),
            "--set",
            "vcenter.credentialsSecret=vcsim-creds",
            "--set-file",
            &format!("vcenter.caBundle={}", sim.var("VMI_VCSIM_CA")),
        ],
    )?;
    f.add(
        "helm upgrade with vcenter.* (vcsim) to Ready",
        format!("{took:.1?}"),
    );

    // A library without spec.source is the vCenter's.
    let t = Instant::now();
    node.apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {VC_NS}}}\n---\n\
         apiVersion: imageregistry.vmware.com/v1alpha2\nkind: ContentLibrary\n\
         metadata: {{name: vc-images, namespace: {VC_NS}}}\nspec: {{id: \"{library_id}\"}}\n"
    ))?;
    let ready = wait_for(
        "2 Ready images from vcsim",
        Duration::from_secs(120),
        || {
            let images = items(&node.get(&["vmi", "-n", VC_NS])?);
            let mut ready: Vec<String> = images
                .iter()
                .filter(|i| is_ready(i))
                .filter_map(|i| i["status"]["name"].as_str().map(String::from))
                .collect();
            ready.sort();
            Ok((ready.len() == NAMES.len()).then_some(ready))
        },
    )
    .map_err(|e| {
        let library = node
            .kubectl(&[
                "get",
                "contentlibrary",
                "-n",
                VC_NS,
                "vc-images",
                "-o",
                "yaml",
            ])
            .unwrap_or_default();
        format!("{e}\n{library}")
    })?;
    f.add(
        "vCenter library (vcsim in the node) to 2 Ready images",
        format!("{:.1?}", t.elapsed()),
    );
    ensure(ready == NAMES, || format!("Ready images: {ready:?}"))?;
    // vcsim stops with this step: its library goes first, so that no sync retries a dead vCenter
    // under the steps after this one.
    node.kubectl(&[
        "delete",
        "contentlibrary",
        "-n",
        VC_NS,
        "vc-images",
        "--wait=false",
    ])
    .map(|_| ())
}
