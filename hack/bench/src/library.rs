//! The published libraries the phases sync.

use std::time::Instant;

use kube::Client;
use kube::api::{Api, Patch, PatchParams};
use vmi_operator::api::{ContentLibrary, ContentLibrarySpec};
use vmi_operator::publish::{PublishOptions, publish_dir};
use vmi_test_support::{repo_root, yaml};

use crate::args::*;

pub(crate) struct Library {
    pub(crate) n: usize,
    pub(crate) id: String,
    pub(crate) url: String,
}

const SEED_LINKS: usize = 50_000;

/// A published library of `n` items in `target/bench/libs/n<N>/`: `n` hard links (distinct
/// names, so distinct item UUIDs) of one copy of `tests/data/photon-5.0.ovf` (its disk file is
/// left out: the descriptor is all the operator reads), published with `publish_dir`. Reused
/// when a previous run left one of the right size.
pub(crate) fn prepare_library(n: usize) -> Library {
    let root = bench_dir().join("libs");
    let dir = root.join(format!("n{n}"));
    let id = format!("b3e0c0de-0000-4000-8000-{n:012}");
    let listed =
        read_json(&dir.join("items.json")).and_then(|v| v["items"].as_array().map(Vec::len));
    if listed != Some(n) {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create library dir");
        // One seed per library and per 50,000 links stays below ext4's 65,000 links an inode.
        let seeds: Vec<_> = (0..n.div_ceil(SEED_LINKS).max(1))
            .map(|s| {
                let seed = root.join(format!("seed-n{n}-{s}.ovf"));
                std::fs::copy(repo_root().join("tests/data/photon-5.0.ovf"), &seed)
                    .expect("copy the seed OVF");
                seed
            })
            .collect();
        for i in 0..n {
            let path = dir.join(format!("tmpl-{i:05}.ovf"));
            let seed = &seeds[i / SEED_LINKS];
            if std::fs::hard_link(seed, &path).is_err() {
                std::fs::copy(seed, &path).expect("copy template");
            }
        }
        let started = Instant::now();
        let summary = publish_dir(
            &dir,
            PublishOptions {
                name: Some(format!("bench-{n}")),
                library_id: Some(id.clone()),
                rehash: false,
            },
        )
        .unwrap_or_else(|e| panic!("publish {}: {e}", dir.display()));
        eprintln!(
            "[bench] published {} items in {:.1}s ({})",
            summary.items.len(),
            started.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    let dir = dir.canonicalize().expect("library dir");
    Library {
        n,
        id,
        url: format!("file://{}/lib.json", dir.display()),
    }
}

/// Creates (server-side applies) the ContentLibrary `images` of `lib` in `ns`.
pub(crate) async fn apply_library(client: &Client, ns: &str, lib: &Library) -> ContentLibrary {
    let object = ContentLibrary::new(
        "images",
        ContentLibrarySpec {
            id: lib.id.clone(),
            source: Some(lib.url.clone()),
            ..Default::default()
        },
    );
    Api::<ContentLibrary>::namespaced(client.clone(), ns)
        .patch(
            "images",
            &PatchParams::apply(yaml::FIELD_MANAGER).force(),
            &Patch::Apply(&object),
        )
        .await
        .unwrap_or_else(|e| panic!("create ContentLibrary in {ns}: {e}"))
}
