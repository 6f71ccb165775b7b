//! Parity with govmomi, the OVF parser VM Operator uses. hack/govmomi-parity/build.sh builds a
//! small Go program that reads every fixture with govmomi's `ovf` package and prints the fields
//! both parsers read; this test compares them with ours and fails on any difference that
//! hack/govmomi-parity/known-differences.txt does not list (one `file | field | reason` line
//! each), and on any listed difference that no longer occurs, so the list stays true.
//!
//! Needs Go (the first build fetches govmomi through the Go module proxy). Set
//! VMI_GOVMOMI_PARITY to a built harness to skip the build.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;
use vmi_operator::ovf::envelope::Envelope;
use vmi_operator::ovf::parse_envelope;
use vmi_operator::ovf::{OvfInfo, OvfProduct as ProductInfo, parse_descriptor};
use vmi_test_support::library;

const KNOWN: &str = "hack/govmomi-parity/known-differences.txt";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    let dir = repo().join("../shared/fixtures/ovf");
    assert!(
        dir.join("SOURCES.md").is_file(),
        "OVF fixture corpus missing at {}",
        dir.display()
    );
    dir
}

fn harness() -> PathBuf {
    if let Ok(path) = std::env::var("VMI_GOVMOMI_PARITY") {
        return PathBuf::from(path);
    }
    let script = repo().join("hack/govmomi-parity/build.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "{} failed (is Go installed?):\n{}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

#[test]
fn govmomi_parity() {
    let root = fixtures();
    let files = library::ovf_files(&root);
    let out = Command::new(harness())
        .args(&files)
        .current_dir(&root)
        .output()
        .expect("run the govmomi harness");
    assert!(
        out.status.success(),
        "harness failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let govmomi: BTreeMap<String, Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["file"].as_str().unwrap().to_string(), v))
        .collect();
    assert_eq!(govmomi.len(), files.len(), "the harness skipped files");

    let mut found: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut compared = 0;
    for file in &files {
        let bytes = std::fs::read(root.join(file)).unwrap();
        let diffs = compare(&bytes, &govmomi[file]);
        compared += usize::from(diffs.is_empty());
        for (field, detail) in diffs {
            found.insert((file.clone(), field.to_string()), detail);
        }
    }

    let known = known_differences();
    let unlisted: Vec<String> = found
        .iter()
        .filter(|(k, _)| !known.contains_key(*k))
        .map(|((file, field), detail)| format!("{file} | {field} | {detail}"))
        .collect();
    let stale: Vec<String> = known
        .keys()
        .filter(|k| !found.contains_key(*k))
        .map(|(file, field)| format!("{file} | {field}"))
        .collect();
    println!(
        "{} descriptors, {compared} identical, {} known differences",
        files.len(),
        known.len()
    );
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "differences from govmomi not in {KNOWN} ({}):\n{}\n\nlisted but no longer different ({}):\n{}",
        unlisted.len(),
        unlisted.join("\n"),
        stale.len(),
        stale.join("\n")
    );
}

/// `file | field | reason` lines; `#` starts a comment.
fn known_differences() -> BTreeMap<(String, String), String> {
    let text = std::fs::read_to_string(repo().join(KNOWN)).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let parts: Vec<&str> = l.splitn(3, " | ").collect();
            assert!(
                parts.len() == 3 && !parts[2].trim().is_empty(),
                "{KNOWN}: want `file | field | reason`: {l}"
            );
            (
                (parts[0].to_string(), parts[1].to_string()),
                parts[2].to_string(),
            )
        })
        .collect()
}

fn s(v: &Value) -> String {
    v.as_str().unwrap_or("").trim().to_string()
}

/// The fields where we and govmomi disagree on one descriptor, with what each says.
fn compare(bytes: &[u8], go: &Value) -> Vec<(&'static str, String)> {
    let go_error = go["error"].as_str().filter(|e| !e.is_empty());
    let go_has_vs = go["hasVirtualSystem"].as_bool().unwrap_or(false);
    let (info, env) = match (parse_descriptor(bytes), parse_envelope(bytes)) {
        (Ok(info), Ok(env)) => (info, env),
        (Err(e), _) | (_, Err(e)) => {
            return match (go_error, go_has_vs) {
                // Both read nothing usable.
                (Some(_), _) | (None, false) => vec![],
                (None, true) => vec![(
                    "parse",
                    format!(
                        "we refuse it ({}: {e}); govmomi reads a VirtualSystem",
                        e.reason()
                    ),
                )],
            };
        }
    };
    if let Some(e) = go_error {
        return vec![("parse", format!("govmomi fails ({e}); we read it"))];
    }
    if !go_has_vs {
        return vec![("parse", "govmomi finds no VirtualSystem; we do".into())];
    }
    let mut diffs = Vec::new();
    let mut check = |field: &'static str, ours: String, theirs: String| {
        if ours != theirs {
            diffs.push((field, format!("ours {ours}, govmomi {theirs}")));
        }
    };

    let go_name = Some(s(&go["name"]))
        .filter(|n| !n.is_empty())
        .or(Some(s(&go["id"])).filter(|n| !n.is_empty()));
    check("name", format!("{:?}", info.name), format!("{go_name:?}"));

    let go_os = &go["os"][0];
    let ours_os = env.virtual_system.operating_system.as_ref();
    if !go_os.is_null() || ours_os.is_some() {
        check(
            "os.id",
            format!("{}", info.os_cim_id.unwrap_or(0)),
            format!("{}", go_os["id"].as_i64().unwrap_or(0)),
        );
        if !go_os["osType"].is_null() {
            check("os.osType", info.os_id.clone(), s(&go_os["osType"]));
        }
        let ours_version = ours_os
            .and_then(|o| o.version.as_deref())
            .unwrap_or("")
            .trim()
            .to_string();
        check("os.version", ours_version, s(&go_os["version"]));
    }

    check(
        "hardwareVersion",
        info.hardware_version.unwrap_or(0).to_string(),
        go["hardwareVersion"].to_string(),
    );
    let go_firmware = if s(&go["firmware"]).eq_ignore_ascii_case("efi") {
        "EFI"
    } else {
        "BIOS"
    };
    check("firmware", info.firmware.clone(), go_firmware.into());

    let p = &go["products"][0];
    let go_product = ProductInfo {
        product: s(&p["product"]),
        vendor: s(&p["vendor"]),
        version: s(&p["version"]),
        full_version: s(&p["fullVersion"]),
    };
    check(
        "product",
        format!("{:?}", info.product),
        format!("{go_product:?}"),
    );

    check("disks", disks(&env), go_disks(go));
    check("properties", properties(&env, &info), go_properties(go));
    diffs
}

/// Each DiskSection disk: id, capacity and units as written, populated size, capacity in bytes.
fn disks(env: &Envelope) -> String {
    let list: Vec<String> = env
        .disks
        .iter()
        .map(|d| {
            let bytes = match vmi_operator::ovf::disk_capacity(env, d) {
                Ok(b) => b.to_string(),
                Err(e) => format!("error {}", e.reason()),
            };
            let populated = d
                .populated_size
                .as_deref()
                .map(str::trim)
                .and_then(|p| p.parse::<i64>().ok());
            format!(
                "{}={}x{:?}->{bytes} (populated {populated:?})",
                d.disk_id, d.capacity, d.capacity_units
            )
        })
        .collect();
    list.join(", ")
}

fn go_disks(go: &Value) -> String {
    let list: Vec<String> = go["disks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|d| {
            let units = d["units"].as_str().map(str::to_string);
            format!(
                "{}={}x{units:?}->{} (populated {:?})",
                d["diskId"].as_str().unwrap_or(""),
                d["capacity"].as_str().unwrap_or(""),
                d["capacityBytes"],
                d["populatedSize"].as_i64()
            )
        })
        .collect();
    list.join(", ")
}

/// Every property of the virtual system's ProductSections as written, then which of them we
/// show as user-configurable.
fn properties(env: &Envelope, info: &OvfInfo) -> String {
    let list: Vec<String> = env
        .virtual_system
        .products
        .iter()
        .flat_map(|p| &p.properties)
        .map(|p| {
            format!(
                "{}:{}:{:?}:{:?}:{:?}:{:?}",
                p.key, p.r#type, p.qualifiers, p.user_configurable, p.value, p.password
            )
        })
        .collect();
    let shown: BTreeSet<&str> = info.ovf_properties.iter().map(|p| p.key.as_str()).collect();
    format!("[{}] configurable {shown:?}", list.join(", "))
}

fn go_properties(go: &Value) -> String {
    let opt = |v: &Value| v.as_str().map(str::to_string);
    let props: Vec<&Value> = go["products"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .flat_map(|p| {
            p["properties"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
        })
        .collect();
    let list: Vec<String> = props
        .iter()
        .map(|p| {
            format!(
                "{}:{}:{:?}:{:?}:{:?}:{:?}",
                p["key"].as_str().unwrap_or(""),
                p["type"].as_str().unwrap_or(""),
                opt(&p["qualifiers"]),
                p["userConfigurable"].as_bool(),
                opt(&p["default"]),
                p["password"].as_bool()
            )
        })
        .collect();
    // VM Operator's rule on govmomi's data: user-configurable and not vmware-system*.
    let shown: BTreeSet<&str> = props
        .iter()
        .filter(|p| p["userConfigurable"].as_bool() == Some(true))
        .map(|p| p["key"].as_str().unwrap_or("").trim())
        .filter(|k| !k.starts_with("vmware-system"))
        .collect();
    format!("[{}] configurable {shown:?}", list.join(", "))
}
