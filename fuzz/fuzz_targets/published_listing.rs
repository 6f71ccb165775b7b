//! A published library over file:// whose items.json is the fuzz input, listed the way the
//! sync lists it (PublishedSource::library, list_items, then fetch_ovf of each item): errors,
//! never panics, and nothing outside the library folder is ever read (a secret file beside the
//! folder must not come back as a descriptor).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use vmi_operator::source::{LibrarySource, PublishedSource, TlsOptions};

const LIB_ID: &str = "8c1b8f5e-7d2a-4a33-9d55-5a3f0b8e6c01";
const SECRET: &[u8] = b"<Envelope secret='fuzz-secret'/>";

struct Fixture {
    dir: PathBuf,
    runtime: tokio::runtime::Runtime,
}

/// One library folder (in /dev/shm when there is one) with lib.json, a descriptor, a manifest
/// and a secret beside it; each input replaces items.json.
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let base = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        let root = base.join(format!("vmi-fuzz-listing-{}", std::process::id()));
        let dir = root.join("lib");
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::write(root.join("secret.ovf"), SECRET).unwrap();
        let _ = std::fs::remove_file(dir.join("secret-link.ovf"));
        std::os::unix::fs::symlink(root.join("secret.ovf"), dir.join("secret-link.ovf")).unwrap();
        let descriptor = concat!(
            r#"<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1">"#,
            "<VirtualSystem/></Envelope>"
        );
        // a/a.ovf with a manifest that does not match it, a/b.ovf without one.
        std::fs::write(dir.join("a/a.ovf"), descriptor).unwrap();
        std::fs::write(dir.join("a/a.mf"), b"SHA1(a.ovf)= 0000\n").unwrap();
        std::fs::write(dir.join("a/b.ovf"), descriptor).unwrap();
        let lib = format!(
            r#"{{"vcspVersion":"2","version":"1","name":"fuzz","id":"urn:uuid:{LIB_ID}","#,
        ) + r#""itemsHref":"items.json"}"#;
        std::fs::write(dir.join("lib.json"), lib).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Fixture { dir, runtime }
    })
}

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    std::fs::write(f.dir.join("items.json"), data).unwrap();
    let url = url::Url::from_file_path(f.dir.join("lib.json")).unwrap();
    let source = PublishedSource::new(url, TlsOptions::default()).unwrap();
    f.runtime.block_on(async {
        let Ok(items) = source.list_items().await else {
            return;
        };
        for item in items.iter().take(8) {
            assert!(!item.id.is_empty());
            if let Ok(bytes) = source.fetch_ovf(item).await {
                assert!(
                    bytes != SECRET,
                    "read the secret outside the library for {item:?}"
                );
            }
        }
    });
});
