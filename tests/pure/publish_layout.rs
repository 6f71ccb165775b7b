//! What `publish_dir` writes, document by document: the vSphere subscription format as VMware's
//! own publisher lays it out (`lib.json`, `items.json`, `<item>/item.json`, hrefs relative to
//! the library).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde_json::Value;
use sha2::{Digest, Sha256};
use vmi_operator::publish::{PublishOptions, item_uuid, publish_dir};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/fixtures/ovf");
const LIB_ID: &str = "aa465152-4ed2-44f5-8fb0-4fac5e03016a";

fn json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

#[test]
fn writes_the_subscription_format() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let photon = std::fs::read(format!("{FIXTURES}/govmomi/ovf/fixtures/photon5.ovf")).unwrap();
    std::fs::write(dir.join("photon5.ovf"), &photon).unwrap();
    // The disk photon5.ovf references, as a small stand-in, and a manifest next to it.
    std::fs::write(dir.join("photon-ova-disk1.vmdk"), vec![7u8; 1000]).unwrap();
    std::fs::write(
        dir.join("photon5.mf"),
        format!(
            "SHA256(photon5.ovf)= {}\n",
            hex::encode(Sha256::digest(&photon))
        ),
    )
    .unwrap();
    let ova = format!("{FIXTURES}/extra/ttylinux-pc_i486-16.1.ova");
    std::fs::copy(&ova, dir.join("tty linux.ova")).unwrap();

    let summary = publish_dir(
        dir,
        PublishOptions {
            name: Some("Golden images".into()),
            library_id: Some(LIB_ID.into()),
            rehash: false,
        },
    )
    .unwrap();
    assert!(summary.warnings.is_empty(), "{:?}", summary.warnings);

    let lib = json(&dir.join("lib.json"));
    assert_eq!(lib["vcspVersion"], "2");
    assert_eq!(lib["version"], "1");
    assert_eq!(lib["name"], "Golden images");
    assert_eq!(lib["id"], format!("urn:uuid:{LIB_ID}"));
    assert_eq!(lib["itemsHref"], "items.json");
    assert_eq!(lib["capabilities"]["transferIn"][0], "httpGet");
    assert!(chrono::DateTime::parse_from_rfc3339(lib["created"].as_str().unwrap()).is_ok());

    let items = json(&dir.join("items.json"));
    let items = items["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let photon_item = &items[0];
    assert_eq!(photon_item["name"], "photon5");
    assert_eq!(
        photon_item["id"],
        format!("urn:uuid:{}", item_uuid(LIB_ID, "photon5.ovf"))
    );
    assert_eq!(photon_item["type"], "vcsp.ovf");
    assert_eq!(
        (&photon_item["version"], &photon_item["contentVersion"]),
        (&"1".into(), &"1".into())
    );
    assert_eq!(photon_item["selfHref"], "photon5/item.json");
    let files = photon_item["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| f["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["photon5.ovf", "photon-ova-disk1.vmdk", "photon5.mf"]
    );
    assert_eq!(files[0]["hrefs"][0], "photon5/photon5.ovf");
    assert_eq!(files[0]["size"], photon.len());
    assert_eq!(files[0]["etag"], hex::encode(Sha256::digest(&photon)));
    assert!(files[0]["generationNum"].as_i64().is_some());
    let type_metadata = &photon_item["metadata"][0];
    assert_eq!(type_metadata["key"], "type-metadata");
    let inner: Value = serde_json::from_str(type_metadata["value"].as_str().unwrap()).unwrap();
    assert_eq!(inner["libraryIdParent"], format!("urn:uuid:{LIB_ID}"));
    assert_eq!(inner["isVappTemplate"], "false");

    // item.json repeats the item; the files are hard links of the templates (no copies).
    assert_eq!(json(&dir.join("photon5/item.json")), *photon_item);
    let original = std::fs::metadata(dir.join("photon-ova-disk1.vmdk")).unwrap();
    let linked = std::fs::metadata(dir.join("photon5/photon-ova-disk1.vmdk")).unwrap();
    assert_eq!(
        (original.dev(), original.ino()),
        (linked.dev(), linked.ino())
    );

    // An OVA is one file, kept whole; names are escaped in hrefs.
    let tty = &items[1];
    assert_eq!(tty["name"], "tty linux");
    assert_eq!(tty["selfHref"], "tty%20linux/item.json");
    assert_eq!(tty["files"][0]["name"], "tty linux.ova");
    assert_eq!(tty["files"][0]["hrefs"][0], "tty%20linux/tty%20linux.ova");
    assert_eq!(
        std::fs::read(dir.join("tty linux/tty linux.ova")).unwrap(),
        std::fs::read(&ova).unwrap()
    );

    // A referenced file that is dropped leaves the item folder too.
    std::fs::remove_file(dir.join("photon-ova-disk1.vmdk")).unwrap();
    let again = publish_dir(dir, PublishOptions::default()).unwrap();
    assert!(
        again
            .warnings
            .iter()
            .any(|w| w.contains("photon-ova-disk1.vmdk"))
    );
    assert!(!dir.join("photon5/photon-ova-disk1.vmdk").exists());
    assert_eq!(json(&dir.join("lib.json"))["version"], "2");
    let items = json(&dir.join("items.json"));
    assert_eq!(items["items"][0]["version"], "2");
    assert_eq!(items["items"][0]["contentVersion"], "2");
    assert_eq!(items["items"][1]["version"], "1", "the OVA did not change");
}

#[test]
fn a_template_replaced_by_another_kind_keeps_its_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::copy(
        format!("{FIXTURES}/extra/ttylinux-pc_i486-16.1.ova"),
        dir.join("base.ova"),
    )
    .unwrap();
    let first = publish_dir(dir, PublishOptions::default()).unwrap();
    std::fs::remove_file(dir.join("base.ova")).unwrap();
    let photon = std::fs::read(format!("{FIXTURES}/govmomi/ovf/fixtures/photon5.ovf")).unwrap();
    std::fs::write(dir.join("base.ovf"), &photon).unwrap();

    let second = publish_dir(dir, PublishOptions::default()).unwrap();
    // Another file name, so another item: the old one is removed, the new one added...
    assert_eq!(second.removed.len(), 1);
    assert_eq!(second.removed[0].id, first.items[0].id);
    assert_ne!(second.items[0].id, first.items[0].id);
    // ...into the same folder, which must survive the removal of the old item.
    assert_eq!(
        json(&dir.join("base/item.json"))["id"],
        format!("urn:uuid:{}", second.items[0].id)
    );
    assert_eq!(std::fs::read(dir.join("base/base.ovf")).unwrap(), photon);
    assert!(
        !dir.join("base/base.ova").exists(),
        "the old item's file is gone"
    );
}
