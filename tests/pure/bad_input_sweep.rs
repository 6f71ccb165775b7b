//! The bad-input sweep, entry point by entry point, without a cluster: each kind of malformed or
//! hostile input is fed to the function that first reads it, and gets a clear, stable error
//! (reason and message) quickly, without reading outside the library and without hanging.
//!
//! - OVF descriptors: `vmi_operator::ovf::parse_descriptor`.
//! - OVA archives: `vmi_operator::ovf::ova::read_ova`.
//! - Published libraries: `PublishedSource` over `file://` (`lib.json`, `items.json`, hrefs,
//!   sizes, special files).
//! - Image names the admission webhook resolves: the pure rules of `webhook::resolve` over an
//!   `ImageIndex` (the served webhook is covered by tests/webhook_e2e.rs).
//!
//! The same inputs through the running operator, with the error on the resources and nothing
//! else changed, are in tests/bad_input_operator.rs.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use url::Url;
use vmi_operator::ovf::ova::read_ova;
use vmi_operator::ovf::parse_descriptor;
use vmi_operator::source::{LibrarySource, PublishedSource, SourceError, TlsOptions};
use vmi_operator::webhook::resolve::{mutate, validate};
use vmi_operator::webhook::{ImageIndex, Refusal, VmImageFields};
use vmi_test_support::archive::{header, sha1_line, tar};
use vmi_test_support::library;

const NS: &str = concat!(
    r#"xmlns="http://schemas.dmtf.org/ovf/envelope/1" "#,
    r#"xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1""#
);

fn photon() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/photon-5.0.ovf"))
        .unwrap()
}

// ---------------------------------------------------------------------------------------------
// OVF descriptors
// ---------------------------------------------------------------------------------------------

/// One hostile or malformed descriptor and the error it must get.
struct OvfCase {
    name: &'static str,
    bytes: Vec<u8>,
    reason: &'static str,
    /// A piece of the message the user reads.
    message: &'static str,
}

fn ovf_cases() -> Vec<OvfCase> {
    let case = |name, bytes: Vec<u8>, reason, message| OvfCase {
        name,
        bytes,
        reason,
        message,
    };
    let photon = photon();
    let truncated = photon.as_bytes()[..photon.len() / 2].to_vec();
    let ebcdic = b"<?xml version=\"1.0\" encoding=\"EBCDIC-US\"?>\n<Envelope>\xC1</Envelope>";
    let xxe = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE Envelope [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n\
         <Envelope {NS}>&x;</Envelope>"
    );
    let external_dtd =
        format!("<!DOCTYPE Envelope SYSTEM \"http://127.0.0.1:9/evil.dtd\"><Envelope {NS}/>");
    let deep = 100_000;
    let deep = format!(
        "<Envelope {NS}>{}{}</Envelope>",
        "<a>".repeat(deep),
        "</a>".repeat(deep)
    );
    let wide = format!("<Envelope {NS}>{}</Envelope>", "<a/>".repeat(2_100_000));
    let ovf09 = b"<Envelope xmlns=\"http://www.vmware.com/schema/ovf/1/envelope\"/>";
    let furlong = photon.replace("byte * 2^30", "furlong * 2^30");
    let capacity =
        |value: &str| photon.replace("ovf:capacity=\"20\"", &format!("ovf:capacity=\"{value}\""));
    let not_xml = "not well-formed XML";
    vec![
        case("empty file", vec![], "OvfNotXml", not_xml),
        case(
            "plain text",
            b"this is not XML".to_vec(),
            "OvfNotXml",
            not_xml,
        ),
        case(
            "JSON",
            br#"{"Envelope": {}}"#.to_vec(),
            "OvfNotXml",
            "line 1",
        ),
        case("truncated", truncated, "OvfNotXml", not_xml),
        case(
            "binary",
            (0u8..=255).collect(),
            "OvfInvalidUtf8",
            "offset 128",
        ),
        case(
            "undeclared encoding",
            ebcdic.to_vec(),
            "OvfUnsupportedEncoding",
            "ebcdic-us",
        ),
        case(
            "odd UTF-16",
            b"\xFF\xFE<\0E".to_vec(),
            "OvfUnsupportedEncoding",
            "odd number",
        ),
        case(
            "external entity (XXE)",
            xxe.into_bytes(),
            "OvfDtdRefused",
            "line 2; DTDs are refused",
        ),
        case(
            "external DTD",
            external_dtd.into_bytes(),
            "OvfDtdRefused",
            "document type declaration",
        ),
        case(
            "billion laughs",
            billion_laughs().into_bytes(),
            "OvfDtdRefused",
            "no entity is ever expanded",
        ),
        case(
            "deep nesting",
            deep.into_bytes(),
            "OvfTooDeep",
            "deeper than 256 levels",
        ),
        case(
            "too many nodes",
            wide.into_bytes(),
            "OvfTooManyNodes",
            "more than 2000000 XML nodes",
        ),
        case(
            "over the size limit",
            vec![b' '; (32 << 20) + 1],
            "OvfTooLarge",
            "limit of 33554432 bytes",
        ),
        case(
            "wrong root",
            b"<html><body/></html>".to_vec(),
            "OvfWrongRoot",
            "root element <html>",
        ),
        case(
            "OVF 0.9",
            ovf09.to_vec(),
            "OvfUnsupportedVersion",
            "export it as OVF 1.0",
        ),
        case(
            "no virtual system",
            format!("<Envelope {NS}/>").into_bytes(),
            "OvfNoVirtualSystem",
            "no VirtualSystem",
        ),
        case(
            "unknown units",
            furlong.into_bytes(),
            "OvfUnknownUnits",
            "units \"furlong * 2^30\"",
        ),
        case(
            "capacity not a number",
            capacity("20GB").into_bytes(),
            "OvfInvalidCapacity",
            "is not a whole number",
        ),
        case(
            "capacity overflow",
            capacity("99999999999999").into_bytes(),
            "OvfCapacityOverflow",
            "larger than a Kubernetes quantity holds",
        ),
    ]
}

fn billion_laughs() -> String {
    let mut dtd = String::from("<!ENTITY l0 \"lol\">");
    for i in 1..10 {
        let refs = format!("&l{};", i - 1).repeat(10);
        dtd.push_str(&format!("<!ENTITY l{i} \"{refs}\">"));
    }
    format!("<?xml version=\"1.0\"?><!DOCTYPE Envelope [{dtd}]><Envelope {NS}>&l9;</Envelope>")
}

/// What is wrong with an error of `got_reason` and message `got`, when `reason` and a message
/// containing `part` were wanted; `None` when it is the error wanted.
fn wrong_error(
    name: &str,
    got_reason: &str,
    got: &str,
    reason: &str,
    part: &str,
) -> Option<String> {
    (got_reason != reason || !got.contains(part))
        .then(|| format!("{name}: got {got_reason} \"{got}\", want {reason} containing {part:?}"))
}

#[test]
fn hostile_and_malformed_descriptors_get_a_clear_error_quickly() {
    let mut failures = Vec::new();
    for case in ovf_cases() {
        let started = Instant::now();
        let result = parse_descriptor(&case.bytes);
        let took = started.elapsed();
        match result {
            Ok(info) => failures.push(format!("{}: parsed ({info:?})", case.name)),
            Err(e) => {
                let message = e.to_string();
                failures.extend(wrong_error(
                    case.name,
                    e.reason(),
                    &message,
                    case.reason,
                    case.message,
                ));
                if message.contains("root:") {
                    failures.push(format!("{}: the message shows a local file", case.name));
                }
                if message.len() > 500 {
                    failures.push(format!("{}: {}-byte message", case.name, message.len()));
                }
            }
        }
        // Debug builds: generous, but an entity expansion or a quadratic walk would blow it.
        if took > Duration::from_secs(10) {
            failures.push(format!("{}: took {took:?}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// OVA archives
// ---------------------------------------------------------------------------------------------

const SMALL_OVF: &[u8] = b"<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"/>";

/// OVAs that must be refused: (case, archive, reason, message part).
fn ova_cases() -> Vec<(&'static str, Vec<u8>, &'static str, &'static str)> {
    let good_mf = sha1_line("a.ovf", SMALL_OVF);
    let wrong_mf = sha1_line("a.ovf", b"something else");
    let mut symlink = tar::Builder::new(Vec::new());
    let mut link = header("passwd.ovf", 0, tar::EntryType::Symlink);
    link.set_link_name("/etc/passwd").unwrap();
    link.set_cksum();
    symlink.append(&link, &[][..]).unwrap();
    let mut truncated = tar(&[("a.ovf", SMALL_OVF), ("disk.vmdk", &[7u8; 4096])]);
    truncated.truncate(512 + 512 + 512 + 100);
    vec![
        (
            "not a tar",
            b"hello, I am not an archive".to_vec(),
            "OvaUnreadable",
            "not a readable tar stream",
        ),
        (
            "garbage blocks",
            vec![0x5A; 4096],
            "OvaUnreadable",
            "not a readable tar stream",
        ),
        (
            "empty archive",
            vec![0; 1024],
            "OvaNoDescriptor",
            "no member ends in .ovf",
        ),
        (
            "truncated",
            truncated,
            "OvaUnreadable",
            "not a readable tar stream",
        ),
        (
            "../ member",
            tar(&[("../evil.ovf", SMALL_OVF)]),
            "OvaUnsafeMemberName",
            "\"../evil.ovf\" is refused",
        ),
        (
            "nested ../",
            tar(&[("a/../../evil.ovf", SMALL_OVF)]),
            "OvaUnsafeMemberName",
            "is refused",
        ),
        (
            "absolute member",
            tar(&[("/etc/evil.ovf", SMALL_OVF)]),
            "OvaUnsafeMemberName",
            "is refused",
        ),
        (
            "../ disk",
            tar(&[("a.ovf", SMALL_OVF), ("../../x.vmdk", b"x")]),
            "OvaUnsafeMemberName",
            "x.vmdk",
        ),
        (
            "symlink descriptor",
            symlink.into_inner().unwrap(),
            "OvaNoDescriptor",
            "no member ends in .ovf",
        ),
        (
            "manifest mismatch",
            tar(&[("a.ovf", SMALL_OVF), ("a.mf", wrong_mf.as_bytes())]),
            "OvaDigestMismatch",
            "SHA1 digest of OVA member \"a.ovf\"",
        ),
        (
            "manifest lists a missing member",
            tar(&[
                ("a.ovf", SMALL_OVF),
                (
                    "a.mf",
                    format!("{good_mf}{}", sha1_line("disk.vmdk", b"d")).as_bytes(),
                ),
            ]),
            "OvaManifestMemberMissing",
            "lists \"disk.vmdk\", which the OVA does not hold",
        ),
        (
            "manifest without the descriptor",
            tar(&[
                ("a.ovf", SMALL_OVF),
                ("d.vmdk", b"d"),
                ("a.mf", sha1_line("d.vmdk", b"d").as_bytes()),
            ]),
            "OvaDescriptorNotInManifest",
            "does not list the OVF descriptor",
        ),
        (
            "garbage manifest",
            tar(&[("a.ovf", SMALL_OVF), ("a.mf", b"\xff\xfe\x00")]),
            "OvaManifestInvalid",
            "not UTF-8",
        ),
        (
            "two descriptors",
            tar(&[("a.ovf", SMALL_OVF), ("b.ovf", SMALL_OVF)]),
            "OvaMultipleDescriptors",
            "two OVF descriptors",
        ),
        (
            "descriptor over the limit",
            header("big.ovf", 33 << 20, tar::EntryType::Regular)
                .as_bytes()
                .to_vec(),
            "OvaDescriptorTooLarge",
            "larger than the limit",
        ),
    ]
}

#[test]
fn hostile_and_malformed_ovas_are_refused() {
    let mut failures = Vec::new();
    for (name, archive, reason, message) in ova_cases() {
        let started = Instant::now();
        match read_ova(archive.as_slice()) {
            Ok(d) => failures.push(format!("{name}: read, descriptor {:?}", d.name)),
            Err(e) => failures.extend(wrong_error(
                name,
                e.reason(),
                &e.to_string(),
                reason,
                message,
            )),
        }
        if started.elapsed() > Duration::from_secs(5) {
            failures.push(format!("{name}: took {:?}", started.elapsed()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Published libraries
// ---------------------------------------------------------------------------------------------

const LIB_ID: &str = "8c1b8f5e-7d2a-4a33-9d55-5a3f0b8e6c01";
const ITEM_ID: &str = "0f8e2f1c-3b0a-4c6e-8d55-1a2b3c4d5e6f";

fn lib_json(items_href: &str) -> Value {
    json!({ "vcspVersion": "2", "version": "1", "name": "bad", "id": format!("urn:uuid:{LIB_ID}"),
            "created": "2024-01-01T00:00Z", "itemsHref": items_href })
}

fn item_json(files: Value) -> Value {
    json!({ "id": format!("urn:uuid:{ITEM_ID}"), "name": "photon", "type": "vcsp.ovf",
            "version": "1",
            "files": files })
}

fn items_json(files: Value) -> Value {
    json!({ "items": [item_json(files)] })
}

fn write(dir: &Path, rel: &str, bytes: impl AsRef<[u8]>) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn write_json(dir: &Path, rel: &str, doc: &Value) {
    write(dir, rel, serde_json::to_vec(doc).unwrap());
}

/// A sparse file of `len` bytes (costs no disk, reads as zeros).
fn sparse(dir: &Path, rel: &str, len: u64) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::File::create(&path).unwrap().set_len(len).unwrap();
}

/// A library folder: its setup, and the error listing it must give.
struct LibraryCase {
    name: &'static str,
    setup: fn(&Path, &Path),
    reason: &'static str,
    message: &'static str,
}

fn ok_items(dir: &Path) {
    write(dir, "photon/photon.ovf", photon());
    write_json(
        dir,
        "items.json",
        &items_json(json!([{ "name": "photon.ovf", "size": 1, "hrefs": ["photon/photon.ovf"] }])),
    );
}

fn library_cases() -> Vec<LibraryCase> {
    vec![
        LibraryCase {
            name: "no lib.json",
            setup: |_, _| {},
            reason: "LibraryNotFound",
            message: "lib.json not found",
        },
        LibraryCase {
            name: "lib.json is not JSON",
            setup: |d, _| write(d, "lib.json", "<html>502 Bad Gateway</html>"),
            reason: "SourceInvalidResponse",
            message: "lib.json at file://",
        },
        LibraryCase {
            name: "lib.json of wrong types",
            setup: |d, _| write(d, "lib.json", r#"{"id": 42, "itemsHref": ["items.json"]}"#),
            reason: "SourceInvalidResponse",
            message: "invalid type",
        },
        LibraryCase {
            name: "lib.json without id",
            setup: |d, _| write(d, "lib.json", r#"{"name": "x", "itemsHref": "items.json"}"#),
            reason: "SourceInvalidResponse",
            message: "has no library id",
        },
        LibraryCase {
            name: "lib.json nested 100,000 deep",
            setup: |d, _| {
                let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
                write(
                    d,
                    "lib.json",
                    format!(r#"{{"id": "x", "capabilities": {deep}}}"#),
                );
            },
            reason: "SourceInvalidResponse",
            message: "recursion limit exceeded",
        },
        LibraryCase {
            name: "items.json missing",
            setup: |d, _| write_json(d, "lib.json", &lib_json("items.json")),
            reason: "SourceInvalidResponse",
            message: "does not exist",
        },
        LibraryCase {
            name: "items.json is not JSON",
            setup: |d, _| {
                write_json(d, "lib.json", &lib_json("items.json"));
                write(d, "items.json", r#"{"items": [{"id": "urn:uuid:"#);
            },
            reason: "SourceInvalidResponse",
            message: "items.json at file://",
        },
        LibraryCase {
            name: "items.json of wrong types",
            setup: |d, _| {
                write_json(d, "lib.json", &lib_json("items.json"));
                write(d, "items.json", r#"{"items": {"photon": 1}}"#);
            },
            reason: "SourceInvalidResponse",
            message: "invalid type",
        },
        LibraryCase {
            name: "file entry of wrong types",
            setup: |d, _| {
                write_json(d, "lib.json", &lib_json("items.json"));
                write_json(
                    d,
                    "items.json",
                    &items_json(json!([{ "name": "a.ovf", "size": "big", "hrefs": "a.ovf" }])),
                );
            },
            reason: "SourceInvalidResponse",
            message: "invalid type",
        },
        LibraryCase {
            name: "negative file size",
            setup: |d, _| {
                write_json(d, "lib.json", &lib_json("items.json"));
                write_json(
                    d,
                    "items.json",
                    &items_json(json!([{ "name": "a.ovf", "size": -1, "hrefs": ["a.ovf"] }])),
                );
            },
            reason: "SourceInvalidResponse",
            message: "invalid value",
        },
        LibraryCase {
            name: "itemsHref with ..",
            setup: |d, o| {
                ok_items(o);
                write_json(
                    d,
                    "lib.json",
                    &lib_json(&format!(
                        "../{}/items.json",
                        o.file_name().unwrap().to_str().unwrap()
                    )),
                );
            },
            reason: "SourceInvalidResponse",
            message: "`..` leaves the library",
        },
        LibraryCase {
            name: "itemsHref with encoded ..",
            setup: |d, _| write_json(d, "lib.json", &lib_json("%2e%2e/%2E%2E/etc/passwd")),
            reason: "SourceInvalidResponse",
            message: "`..` leaves the library",
        },
        LibraryCase {
            name: "itemsHref absolute path",
            setup: |d, _| write_json(d, "lib.json", &lib_json("/etc/passwd")),
            reason: "SourceInvalidResponse",
            message: "absolute hrefs are not followed",
        },
        LibraryCase {
            name: "itemsHref absolute URL",
            setup: |d, _| write_json(d, "lib.json", &lib_json("http://127.0.0.1:9/items.json")),
            reason: "SourceInvalidResponse",
            message: "absolute hrefs are not followed",
        },
        LibraryCase {
            name: "items.json a symlink out",
            setup: |d, o| {
                ok_items(o);
                write_json(d, "lib.json", &lib_json("items.json"));
                std::os::unix::fs::symlink(o.join("items.json"), d.join("items.json")).unwrap();
            },
            reason: "SourceInvalidResponse",
            message: "resolves outside the library directory",
        },
        LibraryCase {
            name: "lib.json over the listing limit",
            setup: |d, _| sparse(d, "lib.json", (64 << 20) + 1),
            reason: "SourceTooLarge",
            message: "lib.json is larger than the limit of 67108864 bytes",
        },
        LibraryCase {
            name: "items.json over the listing limit",
            setup: |d, _| {
                write_json(d, "lib.json", &lib_json("items.json"));
                sparse(d, "items.json", (256 << 20) + 1);
            },
            reason: "SourceTooLarge",
            message: "items.json is larger than the limit of 268435456 bytes",
        },
        LibraryCase {
            name: "items.json a directory",
            setup: |d, _| {
                write_json(d, "lib.json", &lib_json("items.json"));
                std::fs::create_dir(d.join("items.json")).unwrap();
            },
            reason: "SourceInvalidResponse",
            message: "is not a regular file",
        },
        LibraryCase {
            name: "file href with ..",
            setup: |d, _| {
                write_json(d, "lib.json", &lib_json("items.json"));
                write_json(
                    d,
                    "items.json",
                    &items_json(
                        json!([{ "name": "a.ovf", "size": 1, "hrefs": ["../../etc/passwd"] }]),
                    ),
                );
            },
            reason: "SourceInvalidResponse",
            message: "`..` leaves the library",
        },
        LibraryCase {
            name: "file without href",
            setup: |d, _| {
                write_json(d, "lib.json", &lib_json("items.json"));
                write_json(
                    d,
                    "items.json",
                    &items_json(json!([{ "name": "a.ovf", "size": 1, "hrefs": [] }])),
                );
            },
            reason: "SourceInvalidResponse",
            message: "has no href",
        },
        LibraryCase {
            name: "selfHref out of the library",
            setup: |d, _| {
                write_json(d, "lib.json", &lib_json("items.json"));
                let mut item = item_json(json!(null));
                item.as_object_mut().unwrap().remove("files");
                item["selfHref"] = json!("../item.json");
                write_json(d, "items.json", &json!({ "items": [item] }));
            },
            reason: "SourceInvalidResponse",
            message: "`..` leaves the library",
        },
        LibraryCase {
            name: "item without id",
            setup: |d, _| {
                write_json(d, "lib.json", &lib_json("items.json"));
                write_json(
                    d,
                    "items.json",
                    &json!({ "items": [{ "name": "x", "type": "vcsp.ovf", "files": [] }] }),
                );
            },
            reason: "SourceInvalidResponse",
            message: "has no id",
        },
    ]
}

fn published(dir: &Path) -> PublishedSource {
    let url = Url::from_file_path(dir.join("lib.json")).unwrap();
    PublishedSource::new(url, TlsOptions::default()).unwrap()
}

async fn listing(dir: &Path) -> Result<usize, SourceError> {
    let source = published(dir);
    source.library().await?;
    Ok(source.list_items().await?.len())
}

#[tokio::test]
async fn bad_library_documents_fail_the_listing_clearly() {
    let mut failures = Vec::new();
    for case in library_cases() {
        let root = tempfile::tempdir().unwrap();
        let (dir, outside) = (root.path().join("lib"), root.path().join("outside"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        (case.setup)(&dir, &outside);
        let started = Instant::now();
        match listing(&dir).await {
            Ok(n) => failures.push(format!("{}: listed {n} items", case.name)),
            Err(e) => {
                let message = e.to_string();
                failures.extend(wrong_error(
                    case.name,
                    e.reason(),
                    &message,
                    case.reason,
                    case.message,
                ));
                if message.contains("root:") {
                    failures.push(format!("{}: the message shows /etc/passwd", case.name));
                }
            }
        }
        if started.elapsed() > Duration::from_secs(5) {
            failures.push(format!("{}: took {:?}", case.name, started.elapsed()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Bad descriptors behind a good listing: the listing succeeds, fetching the descriptor fails
/// with a clear error, and nothing outside the library is read.
#[tokio::test]
async fn bad_item_files_fail_the_fetch_clearly() {
    type Setup = fn(&Path, &Path) -> Value;
    let cases: Vec<(&str, Setup, &str, &str)> = vec![
        (
            "descriptor missing",
            |_, _| json!([{ "name": "a.ovf", "size": 1, "hrefs": ["a/a.ovf"] }]),
            "NoOVFDescriptor",
            "is listed but",
        ),
        (
            "no files",
            |_, _| json!([]),
            "NoOVFDescriptor",
            "no .ovf or .ova file among []",
        ),
        (
            "descriptor over the limit",
            |d, _| {
                sparse(d, "a/a.ovf", (32 << 20) + 1);
                json!([{ "name": "a.ovf", "size": 1, "hrefs": ["a/a.ovf"] }])
            },
            "SourceTooLarge",
            "OVF descriptor a.ovf is larger than the limit of 33554432 bytes",
        ),
        (
            "descriptor a symlink out",
            |d, o| {
                write(o, "secret.ovf", "root:x:0:0");
                std::fs::create_dir_all(d.join("a")).unwrap();
                std::os::unix::fs::symlink(o.join("secret.ovf"), d.join("a/a.ovf")).unwrap();
                json!([{ "name": "a.ovf", "size": 1, "hrefs": ["a/a.ovf"] }])
            },
            "SourceInvalidResponse",
            "resolves outside the library directory",
        ),
        (
            "descriptor a directory",
            |d, _| {
                std::fs::create_dir_all(d.join("a/a.ovf")).unwrap();
                json!([{ "name": "a.ovf", "size": 1, "hrefs": ["a/a.ovf"] }])
            },
            "SourceInvalidResponse",
            "is not a regular file",
        ),
        (
            "descriptor and manifest disagree",
            |d, _| {
                write(d, "a/a.ovf", photon());
                write(d, "a/a.mf", sha1_line("a.ovf", b"another descriptor"));
                json!([{ "name": "a.ovf", "size": 1, "hrefs": ["a/a.ovf"] },
                       { "name": "a.mf", "size": 1, "hrefs": ["a/a.mf"] }])
            },
            "ItemNotSecurityCompliant",
            "a.ovf does not match its manifest",
        ),
        (
            "OVA with a ../ member",
            |d, _| {
                write(d, "a/a.ova", tar(&[("../evil.ovf", SMALL_OVF)]));
                json!([{ "name": "a.ova", "size": 1, "hrefs": ["a/a.ova"] }])
            },
            "NoOVFDescriptor",
            "OVA member name \"../evil.ovf\" is refused",
        ),
        (
            "OVA failing its manifest",
            |d, _| {
                let mf = sha1_line("a.ovf", b"another descriptor");
                write(
                    d,
                    "a/a.ova",
                    tar(&[("a.ovf", SMALL_OVF), ("a.mf", mf.as_bytes())]),
                );
                json!([{ "name": "a.ova", "size": 1, "hrefs": ["a/a.ova"] }])
            },
            "ItemNotSecurityCompliant",
            "SHA1 digest of OVA member \"a.ovf\"",
        ),
        (
            "OVA that is not a tar",
            |d, _| {
                write(d, "a/a.ova", photon());
                json!([{ "name": "a.ova", "size": 1, "hrefs": ["a/a.ova"] }])
            },
            "NoOVFDescriptor",
            "not a readable tar stream",
        ),
    ];
    let mut failures = Vec::new();
    for (name, setup, reason, message) in cases {
        let root = tempfile::tempdir().unwrap();
        let (dir, outside) = (root.path().join("lib"), root.path().join("outside"));
        std::fs::create_dir_all(&outside).unwrap();
        write_json(&dir, "lib.json", &lib_json("items.json"));
        let files = setup(&dir, &outside);
        write_json(&dir, "items.json", &items_json(files));
        let source = published(&dir);
        let items = match source.list_items().await {
            Ok(items) => items,
            Err(e) => {
                failures.push(format!("{name}: the listing failed: {e}"));
                continue;
            }
        };
        match source.fetch_ovf(&items[0]).await {
            Ok(bytes) => failures.push(format!("{name}: fetched {} bytes", bytes.len())),
            Err(e) if e.reason() != reason || !e.to_string().contains(message) => failures.extend(
                wrong_error(name, e.reason(), &e.to_string(), reason, message),
            ),
            Err(e) if e.to_string().contains("root:") => {
                failures.push(format!("{name}: the message shows the file outside: {e}"))
            }
            Err(_) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Two entries of `items.json` with one id: the sync keeps the first by name and skips the
/// other, so the source must hand out the first one's files for that id too (not those of
/// whichever entry came last, which could be anything).
#[tokio::test]
async fn a_duplicate_item_id_does_not_change_the_first_items_files() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("lib");
    write_json(&dir, "lib.json", &lib_json("items.json"));
    write(&dir, "photon/photon.ovf", photon());
    write(&dir, "other/other.ovf", SMALL_OVF);
    let entry = |name: &str, href: &str| {
        let mut item = item_json(json!([{ "name": "a.ovf", "size": 1, "hrefs": [href] }]));
        item["name"] = json!(name);
        item
    };
    let items = json!({ "items": [
        entry("photon", "photon/photon.ovf"),
        entry("zz-duplicate", "other/other.ovf"),
    ] });
    write_json(&dir, "items.json", &items);
    let source = published(&dir);
    let listed = source.list_items().await.unwrap();
    let first = listed.iter().find(|i| i.name == "photon").unwrap();
    let bytes = source.fetch_ovf(first).await.unwrap();
    assert!(
        bytes == photon().as_bytes(),
        "item photon is served the duplicate's descriptor: {:?}",
        String::from_utf8_lossy(&bytes)
    );
}

/// `spec.source` values that pass the CRD's pattern (`^(https?|file)://`) but cannot be used:
/// a clear `SourceMisconfigured` on the library.
#[test]
fn unusable_sources_are_refused_clearly() {
    let registry = vmi_operator::source::SourceRegistry::new(None, TlsOptions::default());
    for (raw, message) in [
        ("http://", "is not a URL: empty host"),
        ("https://exa mple.com/lib.json", "is not a URL"),
        ("file://relative/lib.json", "is not a local path"),
    ] {
        let e = registry
            .source_for(vmi_operator::source::Scope::Cluster, LIB_ID, Some(raw))
            .err()
            .expect(raw);
        assert_eq!(e.reason(), "SourceMisconfigured", "{raw}: {e}");
        assert!(e.to_string().contains(message), "{raw}: {e}");
    }
}

/// The same with credentials in the URL: the message (library condition, Warning event, log)
/// must not show them.
#[test]
fn unusable_sources_never_show_credentials() {
    let registry = vmi_operator::source::SourceRegistry::new(None, TlsOptions::default());
    let mut failures = Vec::new();
    for raw in [
        "https://admin:s3cret@exa mple.com/lib.json",
        "https://admin:s3cret@[::1/lib.json",
        "file://admin:s3cret@host/lib.json",
    ] {
        let e = registry
            .source_for(vmi_operator::source::Scope::Cluster, LIB_ID, Some(raw))
            .err()
            .expect(raw);
        if e.reason() != "SourceMisconfigured" || e.to_string().contains("s3cret") {
            failures.push(format!("{raw}: {} {e}", e.reason()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Runs `f` on a runtime of its own in a thread; `None` when it has not finished within
/// `limit` (the thread is left behind: the point is that it hung).
fn bounded<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).ok()
}

/// Opens a FIFO for writing and closes it, so a reader blocked in open() gets end-of-file.
fn release_fifo(path: &Path) {
    let _ = std::fs::OpenOptions::new().write(true).open(path);
}

/// A named pipe in the library folder (where `items.json` or a descriptor should be) must be
/// refused like any other non-regular file, at once: opening one blocks until a writer
/// appears, which would hold the sync (or a runtime thread) for as long as nobody writes.
#[test]
fn named_pipes_in_the_library_are_refused_without_hanging() {
    let mut failures = Vec::new();

    // items.json is a FIFO: the listing.
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("lib");
    write_json(&dir, "lib.json", &lib_json("items.json"));
    library::mkfifo(&dir.join("items.json"));
    let d = dir.clone();
    let outcome = bounded(Duration::from_secs(10), move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async { listing(&d).await.map_err(|e| (e.reason(), e.to_string())) })
    });
    match outcome {
        None => {
            failures.push("listing with items.json a FIFO: still blocked after 10s".to_string());
            release_fifo(&dir.join("items.json"));
        }
        Some(Ok(n)) => failures.push(format!("listing with items.json a FIFO: {n} items")),
        Some(Err((reason, message))) if !message.contains("not a regular file") => failures.push(
            format!("listing with items.json a FIFO: {reason} {message}"),
        ),
        Some(Err(_)) => {}
    }

    // The descriptor (.ovf, and an .ova) is a FIFO: the listing's compliance check and the fetch.
    for file in ["a.ovf", "a.ova"] {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("lib");
        write_json(&dir, "lib.json", &lib_json("items.json"));
        write_json(
            &dir,
            "items.json",
            &items_json(json!([{ "name": file, "size": 1, "hrefs": [format!("a/{file}")] }])),
        );
        let fifo = dir.join("a").join(file);
        library::mkfifo(&fifo);
        let d = dir.clone();
        let outcome = bounded(Duration::from_secs(10), move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async {
                let source = published(&d);
                let items = source.list_items().await.map_err(|e| e.to_string())?;
                source.fetch_ovf(&items[0]).await.map_err(|e| e.to_string())
            })
        });
        match outcome {
            None => {
                failures.push(format!("{file} a FIFO: still blocked after 10s"));
                release_fifo(&fifo);
            }
            Some(Ok(bytes)) => {
                failures.push(format!("{file} a FIFO: fetched {} bytes", bytes.len()))
            }
            Some(Err(e)) if !e.contains("not a regular file") => {
                failures.push(format!("{file} a FIFO: {e}"))
            }
            Some(Err(_)) => {}
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

// ---------------------------------------------------------------------------------------------
// Image names at the admission webhook
// ---------------------------------------------------------------------------------------------

fn image(name: &str, display: &str, ready: bool) -> vmi_operator::api::VirtualMachineImage {
    serde_json::from_value(json!({
        "apiVersion": "vmoperator.vmware.com/v1alpha5", "kind": "VirtualMachineImage",
        "metadata": { "name": name, "namespace": "team" },
        "spec": {},
        "status": { "name": display, "conditions": [{
            "type": "Ready", "status": if ready { "True" } else { "False" },
            "reason": if ready { "Ready" } else { "VirtualMachineImageNotSynced" },
            "message": if ready { "" } else { "the OVF descriptor is invalid" },
            "lastTransitionTime": "2024-01-01T00:00:00Z" }] }
    }))
    .unwrap()
}

fn vm(spec: Value) -> VmImageFields {
    VmImageFields::from_object(None, &json!({ "spec": spec }))
}

#[test]
fn unknown_and_malformed_image_names_are_refused_clearly() {
    let index = ImageIndex::from_objects(
        [
            image("vmi-0000000000000000a", "photon", true),
            image("vmi-0000000000000000b", "broken", false),
            image("vmi-0000000000000000c", "twin", true),
            image("vmi-0000000000000000d", "twin", true),
        ],
        [],
    );
    let before = index.len();
    let long = "x".repeat(1 << 20);
    let unknown = "vmi-fffffffffffffffff";
    let image_ref = |name: &str| json!({ "kind": "VirtualMachineImage", "name": name });
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "unknown VMI ID",
            json!({ "imageName": unknown }),
            "ImageNotFound",
            r#"no VM image exists for "vmi-fffffffffffffffff" in namespace or cluster scope"#,
        ),
        (
            "unknown display name",
            json!({ "imageName": "Photon OS 99" }),
            "ImageNotFound",
            r#"no VM image exists for "Photon OS 99""#,
        ),
        (
            "display name with control characters",
            json!({ "imageName": "photon\n\u{0}" }),
            "ImageNotFound",
            r#""photon\n\0""#,
        ),
        (
            "a 1 MiB name",
            json!({ "imageName": long }),
            "ImageNotFound",
            "no VM image exists for",
        ),
        (
            "ambiguous display name",
            json!({ "imageName": "twin" }),
            "ImageNameAmbiguous",
            "multiple VM images exist for \"twin\" in namespace scope",
        ),
        (
            "unknown spec.image",
            json!({ "image": image_ref(unknown) }),
            "ImageRefNotFound",
            "VirtualMachineImage \"vmi-fffffffffffffffff\" does not exist in namespace \"team\"",
        ),
        (
            "unsupported kind",
            json!({ "image": { "kind": "Pod", "name": "photon" } }),
            "ImageKindUnsupported",
            "spec.image.kind: Unsupported value: \"Pod\"",
        ),
        (
            "spec.image without name",
            json!({ "image": { "kind": "VirtualMachineImage" } }),
            "ImageRefNameMissing",
            "spec.image.name: Required value",
        ),
        (
            "imageName and image disagree",
            json!({ "imageName": "photon", "image": image_ref("vmi-0000000000000000b") }),
            "ImageNameMismatch",
            "must refer to the same resource as spec.image",
        ),
    ];
    let mut failures = Vec::new();
    for (name, spec, reason, message) in &cases {
        let fields = vm(spec.clone());
        let result = mutate(&index.read(), "team", &fields, None);
        match result {
            Ok(admit) => failures.push(format!("{name}: admitted with {admit:?}")),
            Err(e) => {
                failures.extend(wrong_error(
                    name,
                    e.reason(),
                    &e.to_string(),
                    reason,
                    message,
                ));
            }
        }
    }
    // A not-Ready image resolves, and validation refuses it with its reason.
    match validate(
        &index.read(),
        "team",
        &vm(json!({ "imageName": "broken" })),
        None,
    ) {
        Err(e @ Refusal::NotReady { .. }) => assert!(
            e.to_string()
                .contains("VirtualMachineImageNotSynced: the OVF descriptor is invalid"),
            "{e}"
        ),
        other => failures.push(format!("not Ready image: {other:?}")),
    }
    // Fields of the wrong type are left to the schema: read as absent, admitted unchanged.
    for spec in [
        json!({ "imageName": 5 }),
        json!({ "image": "photon" }),
        json!("spec"),
    ] {
        let fields = VmImageFields::from_object(None, &json!({ "spec": spec }));
        match mutate(&index.read(), "team", &fields, None) {
            Ok(admit) if admit.patch.is_empty() => {}
            other => failures.push(format!("wrong types {spec}: {other:?}")),
        }
    }
    assert_eq!(index.len(), before, "resolving changed the index");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A refusal names what the user asked for, but not megabytes of it: the request body may be 3
/// MiB, and the message travels back through the apiserver to kubectl.
#[test]
fn refusals_do_not_repeat_megabytes_of_input() {
    let index = ImageIndex::from_objects([image("vmi-0000000000000000a", "photon", true)], []);
    let long = "x".repeat(1 << 20);
    for spec in [
        json!({ "imageName": long }),
        json!({ "image": { "kind": "VirtualMachineImage", "name": long } }),
        json!({ "image": { "kind": long, "name": "photon" } }),
    ] {
        let refusal = mutate(&index.read(), "team", &vm(spec), None).unwrap_err();
        let text = refusal.to_string();
        assert!(
            text.len() <= 4096,
            "{}: a {}-byte message",
            refusal.reason(),
            text.len()
        );
    }
}
