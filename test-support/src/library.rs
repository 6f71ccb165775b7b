//! Published libraries: the OVF fixtures, `vmi-operator publish`, libraries written directly as
//! JSON, and ContentLibrary resources reading them.

use std::path::{Path, PathBuf};
use std::process::Command;

use kube::Client;
use serde_json::json;

use crate::operator::operator_bin;
use crate::{repo_root, yaml};

/// The OVF/OVA fixtures (`../shared/fixtures/ovf`, beside the repository).
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("../shared/fixtures/ovf")
}

/// A fixture's path; panics when it is missing.
pub fn fixture(rel: &str) -> PathBuf {
    let path = fixtures_dir().join(rel);
    assert!(
        path.exists(),
        "fixture {} is missing (shared/ must sit beside the repo)",
        path.display()
    );
    path
}

/// Runs `vmi-operator publish` on `dir` with a fixed library id; panics on failure.
pub fn publish(dir: &Path, library_id: &str) -> String {
    let out = Command::new(operator_bin())
        .args([
            "publish",
            dir.to_str().unwrap(),
            "--library-id",
            library_id,
            "--name",
            "e2e-library",
        ])
        .output()
        .expect("run vmi-operator publish");
    assert!(
        out.status.success(),
        "publish failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The `.ovf` files below `root`, as paths relative to it, sorted.
pub fn ovf_files(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|e| e == "ovf") {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_string(),
                );
            }
        }
    }
    let mut files = Vec::new();
    walk(root, root, &mut files);
    files.sort();
    files
}

/// Makes a named pipe at `path` (creating its folder).
pub fn mkfifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("run mkfifo");
    assert!(status.success());
}

/// A published library written directly as JSON: `lib.json`, `items.json` listing every item
/// with its files, and the descriptors. Items may share one descriptor file, so 1,000 items cost
/// one small file and one `items.json`: about 10 ms. (`vmi-operator publish` of a folder of 1,000
/// hard links to one descriptor takes 2.5 s in a debug build, 0.8 s in a release one, and writes
/// 1,000 item folders.)
pub struct LibraryWriter {
    pub dir: PathBuf,
    pub id: String,
    items: Vec<serde_json::Value>,
}

/// One item of a [`LibraryWriter`].
#[derive(Clone, Debug)]
pub struct ItemSpec {
    pub uuid: String,
    pub name: String,
    /// (file name, href relative to the library, size)
    pub files: Vec<(String, String, u64)>,
    pub item_type: String,
}

impl LibraryWriter {
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).expect("create library dir");
        LibraryWriter {
            dir: dir.to_path_buf(),
            id: uuid::Uuid::new_v4().to_string(),
            items: Vec::new(),
        }
    }

    /// Writes a file of the library (relative path) and returns its href and size.
    pub fn file(&self, rel: &str, bytes: &[u8]) -> (String, u64) {
        let path = self.dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).expect("create item folder");
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        (rel.to_string(), bytes.len() as u64)
    }

    /// Adds an item (not written until [`LibraryWriter::write`]).
    pub fn item(&mut self, item: ItemSpec) {
        let files: Vec<_> = item
            .files
            .iter()
            .map(|(name, href, size)| json!({ "name": name, "size": size, "hrefs": [href] }))
            .collect();
        self.items.push(json!({
            "id": format!("urn:uuid:{}", item.uuid),
            "name": item.name,
            "type": item.item_type,
            "version": "1",
            "contentVersion": "1",
            "created": "2024-01-02T03:04Z",
            "description": "",
            "selfHref": "",
            "files": files,
        }));
    }

    /// Adds `n` OVF items named `<prefix>-0000`.. that all point at `descriptor_href`.
    /// Returns their UUIDs.
    pub fn ovf_items(
        &mut self,
        prefix: &str,
        n: usize,
        descriptor_href: &str,
        size: u64,
    ) -> Vec<String> {
        (0..n)
            .map(|i| {
                let uuid = uuid::Uuid::new_v4().to_string();
                self.item(ItemSpec {
                    uuid: uuid.clone(),
                    name: format!("{prefix}-{i:04}"),
                    files: vec![("template.ovf".into(), descriptor_href.to_string(), size)],
                    item_type: "vcsp.ovf".into(),
                });
                uuid
            })
            .collect()
    }

    /// Adds `n` OVF items named `<prefix>-00000`.., each with a descriptor of its own,
    /// `items/<i>.ovf`: hard links of `seed` (distinct URLs, as a real library has, for one inode
    /// and no copying). Returns their UUIDs.
    pub fn ovf_items_linked(&mut self, prefix: &str, n: usize, seed: &Path) -> Vec<String> {
        let size = std::fs::metadata(seed)
            .unwrap_or_else(|e| panic!("{}: {e}", seed.display()))
            .len();
        std::fs::create_dir_all(self.dir.join("items")).expect("create items folder");
        // The seed's own copy in the library: links to it stay on one file system, and its link
        // count (n + 1) far below ext4's 65,000 for any n a test uses.
        let local = self.dir.join("items/seed.ovf");
        let _ = std::fs::remove_file(&local);
        std::fs::copy(seed, &local).expect("copy the seed descriptor");
        (0..n)
            .map(|i| {
                let href = format!("items/{i:05}.ovf");
                let path = self.dir.join(&href);
                let _ = std::fs::remove_file(&path);
                if std::fs::hard_link(&local, &path).is_err() {
                    std::fs::copy(&local, &path).expect("copy descriptor");
                }
                let uuid = uuid::Uuid::new_v4().to_string();
                self.item(ItemSpec {
                    uuid: uuid.clone(),
                    name: format!("{prefix}-{i:05}"),
                    files: vec![("template.ovf".into(), href, size)],
                    item_type: "vcsp.ovf".into(),
                });
                uuid
            })
            .collect()
    }

    /// Writes `items.json` and `lib.json` (in that order, each by rename, as `publish` does).
    pub fn write(&self) {
        let items = json!({ "items": self.items });
        let lib = json!({
            "vcspVersion": "2", "version": "1", "contentVersion": "1", "name": "fault-library",
            "id": format!("urn:uuid:{}", self.id), "created": "2024-01-02T03:04Z",
            "capabilities": { "transferIn": ["httpGet"], "transferOut": ["httpGet"] },
            "itemsHref": "items.json",
        });
        for (name, doc) in [("items.json", items), ("lib.json", lib)] {
            let tmp = self.dir.join(format!(".{name}.tmp"));
            std::fs::write(&tmp, serde_json::to_vec(&doc).unwrap()).expect("write listing");
            std::fs::rename(&tmp, self.dir.join(name)).expect("rename listing");
        }
    }

    /// The `spec.source` of a library resource reading this folder.
    pub fn source(&self) -> String {
        format!("file://{}/lib.json", self.dir.display())
    }
}

/// The photon descriptor of tests/data, the one every good item of the fault tests points at.
pub fn photon_descriptor() -> Vec<u8> {
    std::fs::read(repo_root().join("tests/data/photon-5.0.ovf")).expect("photon fixture")
}

/// Creates a ContentLibrary named `name` in `ns` reading `source`.
pub async fn create_library(client: &Client, ns: &str, name: &str, uuid: &str, source: &str) {
    yaml::apply_yaml(
        client,
        ns,
        &format!(
            "apiVersion: imageregistry.vmware.com/v1alpha2\nkind: ContentLibrary\n\
             metadata: {{ name: {name}, namespace: {ns} }}\n\
             spec: {{ id: \"{uuid}\", source: \"{source}\" }}\n"
        ),
    )
    .await;
}
