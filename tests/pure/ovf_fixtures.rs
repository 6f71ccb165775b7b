//! OVF descriptor and OVA fixtures: every field of the named fixtures, the two OVAs checked
//! against their manifests and govmomi's own parse (the envelope YAMLs from vm-operator), and a
//! sweep over the whole corpus (../shared/fixtures/ovf, see its SOURCES.md).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha1::{Digest, Sha1};
use vmi_operator::ovf::ova::read_ova;
use vmi_operator::ovf::{
    KeyValue, OvfDisk as DiskInfo, OvfError, OvfInfo, OvfProduct as ProductInfo,
    OvfUserProperty as OvfProperty, parse_descriptor,
};

const GIB: u64 = 1 << 30;

/// The shared fixture corpus; the tests fail loudly when it is not beside the repository.
fn fixtures() -> PathBuf {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/ovf"
    ));
    assert!(
        dir.join("SOURCES.md").is_file(),
        "OVF fixture corpus missing at {}: clone the shared repository beside this one",
        dir.display()
    );
    dir.to_path_buf()
}

fn read(rel: &str) -> Vec<u8> {
    let path = fixtures().join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fixture's parse, its disks' names and controllers left out: `disk_names_and_controllers`
/// checks those, and the expectations below are about sizes.
fn parse(rel: &str) -> OvfInfo {
    anonymous(parse_descriptor(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}")))
}

fn anonymous(mut info: OvfInfo) -> OvfInfo {
    info.disks = sizes(&info.disks);
    info
}

/// The disks' sizes only.
fn sizes(disks: &[DiskInfo]) -> Vec<DiskInfo> {
    disks
        .iter()
        .map(|d| disk(d.capacity_bytes, d.populated_bytes))
        .collect()
}

fn govmomi(name: &str) -> String {
    format!("govmomi/ovf/fixtures/{name}")
}

fn prop(key: &str, ty: &str, default: Option<&str>) -> OvfProperty {
    OvfProperty {
        key: key.into(),
        r#type: ty.into(),
        default: default.map(Into::into),
    }
}

fn product(product: &str, vendor: &str, version: &str, full_version: &str) -> ProductInfo {
    ProductInfo {
        product: product.into(),
        vendor: vendor.into(),
        version: version.into(),
        full_version: full_version.into(),
    }
}

fn disk(capacity_bytes: u64, populated_bytes: Option<u64>) -> DiskInfo {
    DiskInfo {
        name: String::new(),
        controller: None,
        unit_number: None,
        capacity_bytes,
        populated_bytes,
    }
}

/// Disks are named by their `ovf:diskId` and carry the controller their item's `rasd:Parent`
/// names, with its bus (`rasd:Address`) and their unit (`rasd:AddressOnParent`).
#[test]
fn disk_names_and_controllers() {
    use vmi_operator::ovf::{ControllerKind, DiskController};
    let photon = parse_descriptor(&read(&govmomi("photon5.ovf"))).unwrap();
    let found: Vec<_> = photon
        .disks
        .iter()
        .map(|d| (d.name.as_str(), d.controller, d.unit_number))
        .collect();
    assert_eq!(
        found,
        [(
            "vmdisk1",
            Some(DiskController {
                kind: ControllerKind::Scsi,
                bus_number: Some(0)
            }),
            Some(0)
        )]
    );
}

#[test]
fn photon5() {
    assert_eq!(
        parse(&govmomi("photon5.ovf")),
        OvfInfo {
            name: Some("Photon OS".into()),
            os_id: "vmwarePhoton64Guest".into(),
            os_cim_id: Some(36),
            os_type: "Linux".into(),
            // No ovf:version: the product is the OS, so its version (issue 14).
            os_version: "5.0".into(),
            product: product("Photon OS", "VMware Inc.", "5.0", "5.0"),
            firmware: "EFI".into(),
            hardware_version: Some(15),
            disks: vec![disk(16 * GIB, Some(858_521_600))],
            ovf_properties: vec![],
            vmware_system_properties: vec![],
            capabilities: vec![],
            v1alpha1_compatible: false,
            extra_labels: vec![],
        }
    );
}

#[test]
fn ubuntu_24_10_cloud_image() {
    assert_eq!(
        parse(&govmomi("ubuntu24.10.ovf")),
        OvfInfo {
            name: Some("ubuntu-oracular-24.10-cloudimg-20241109".into()),
            os_id: "ubuntu64Guest".into(),
            os_cim_id: Some(94),
            os_type: "Linux".into(),
            // "Ubuntu Linux (64-bit)" names no version, the product name does (issue 14).
            os_version: "24.10".into(),
            product: product("Ubuntu 24.10 Server (20241109)", "", "24.10", ""),
            firmware: "BIOS".into(),
            hardware_version: Some(10),
            // populatedSize="0" is a placeholder: the vmdk's ovf:size is the estimate.
            disks: vec![disk(10 * GIB, Some(595_726_336))],
            ovf_properties: vec![
                prop("instance-id", "string", Some("id-ovf")),
                prop("hostname", "string", Some("ubuntuguest")),
                prop("seedfrom", "string", None),
                prop("public-keys", "string", None),
                prop("user-data", "string", None),
                prop("password", "string", None),
            ],
            vmware_system_properties: vec![],
            capabilities: vec![],
            v1alpha1_compatible: false,
            extra_labels: vec![],
        }
    );
}

#[test]
fn multiple_disks_follow_the_default_deployment_option() {
    // "large" is the default configuration: its four disks, the scratch disk sized by the
    // property scratch_space_size_large (20) in GiB.
    assert_eq!(
        parse(&govmomi("multiple_disks.ovf")),
        OvfInfo {
            name: Some("uber".into()),
            os_id: "otherLinuxGuest".into(),
            os_cim_id: Some(36),
            os_type: "Linux".into(),
            os_version: String::new(),
            product: ProductInfo::default(),
            firmware: "EFI".into(),
            hardware_version: Some(9),
            disks: vec![
                disk(40 * GIB, Some(18_743_296)),
                disk(50 * GIB, Some(18_743_296)),
                disk(100 * GIB, Some(18_743_296)),
                disk(20 * GIB, None),
            ],
            ovf_properties: vec![],
            vmware_system_properties: vec![],
            capabilities: vec![],
            v1alpha1_compatible: false,
            extra_labels: vec![],
        }
    );
}

#[test]
fn properties() {
    assert_eq!(
        parse(&govmomi("properties.ovf")),
        OvfInfo {
            name: Some("test-vm".into()),
            os_id: "ubuntu64Guest".into(),
            os_cim_id: Some(94),
            os_type: "Linux".into(),
            os_version: String::new(),
            // The only ProductSection describing a product has ovf:class="ttylinux".
            product: product("ttylinux", "Minimalinux", "16.1", ""),
            firmware: "BIOS".into(),
            hardware_version: Some(19),
            disks: vec![],
            ovf_properties: vec![
                prop("ntp-server", "string(1..65535)", None),
                prop("enable_ssh", "boolean", Some("False")),
            ],
            vmware_system_properties: vec![],
            capabilities: vec![],
            v1alpha1_compatible: false,
            extra_labels: vec![],
        }
    );
}

#[test]
fn property_types_as_vapp_types() {
    let text = String::from_utf8(read(&govmomi("property-types.ovf"))).unwrap();
    let info = parse_descriptor(text.as_bytes()).unwrap();
    assert_eq!(info.name.as_deref(), Some("property-types-vm"));
    assert_eq!(
        info.product,
        product("PropertyTypesFixture", "Test", "1.0", "")
    );
    assert_eq!(info.os_id, "other3xLinux64Guest");
    assert_eq!(info.hardware_version, Some(13));
    assert_eq!(sizes(&info.disks), vec![disk(GIB, Some(655_360_000))]);
    // None of its properties is user-configurable.
    assert!(info.ovf_properties.is_empty());

    // Made user-configurable, each shows the vApp type vSphere derives. (govmomi's ToConfigSpec
    // writes MaxLen-only as string(0..100); vSphere's own form, used here, is string(..100).)
    let configurable = text.replace(
        "<Property ovf:key=",
        "<Property ovf:userConfigurable=\"true\" ovf:key=",
    );
    let info = parse_descriptor(configurable.as_bytes()).unwrap();
    let mut want = vec![
        prop("p_string_plain", "string", None),
        prop("p_string_min_only", "string(5..)", Some("hello")),
        prop("p_string_max_only", "string(..100)", None),
        prop("p_string_min_max", "string(1..253)", Some("x")),
        prop(
            "p_string_valuemap",
            "string[\"a\", \"b\", \"c\"]",
            Some("a"),
        ),
        prop("p_string_valuemap_single", "string[\"only\"]", Some("only")),
        prop("p_password_plain", "password", None),
        prop("p_password_min_only", "password(8..)", Some("secret12")),
        prop("p_boolean", "boolean", Some("True")),
        prop("p_int_plain", "int", Some("42")),
        prop("p_int_valuemap", "int(1..5)", Some("2")),
    ];
    for t in [
        "uint8", "sint8", "uint16", "sint16", "uint32", "sint32", "uint64", "sint64",
    ] {
        want.push(prop(&format!("p_{t}"), "int", Some("0")));
    }
    want.push(prop("p_real32", "real", Some("1.5")));
    want.push(prop("p_real64", "real", Some("2.5")));
    want.push(prop("p_String_capital", "string", None));
    want.push(prop("p_Boolean_capital", "boolean", Some("False")));
    assert_eq!(info.ovf_properties, want);
}

#[test]
fn qualifiers() {
    let info = parse(&govmomi("qualifiers.ovf"));
    assert_eq!(info.name.as_deref(), Some("qualifiers-vm"));
    assert_eq!(
        (info.os_id.as_str(), info.os_cim_id, info.os_type.as_str()),
        ("other3xLinux64Guest", Some(101), "Linux")
    );
    assert_eq!(info.os_version, "");
    assert_eq!(
        info.product,
        product("QualifiersFixture", "Test", "1.0", "")
    );
    assert_eq!(
        (info.firmware.as_str(), info.hardware_version),
        ("BIOS", Some(13))
    );
    assert_eq!(info.disks, vec![disk(GIB, Some(65_536))]);
    let expression = |key: &str, default: &str| prop(key, "expression", Some(default));
    assert_eq!(
        info.ovf_properties,
        vec![
            prop("port", "int(1..65535)", Some("8080")),
            prop("ratio", "real(0..1)", Some("0.5")),
            prop("hostname", "string(1..253)", Some("test.local")),
            prop("short_id", "string(..8)", Some("abc")),
            prop("long_desc", "string(10..)", Some("optional...")),
            prop(
                "mode",
                "string[\"low\", \"medium\", \"high\"]",
                Some("medium")
            ),
            prop("priority", "int(1..3)", Some("2")),
            prop("mgmt_ip", "ip", None),
            prop("any_ip", "ip", None),
            prop("net_ip", "ip:Management", None),
            prop("workload_ip", "ip:Workload", None),
            expression("guest_ip", "${vimIp:}"),
            expression("net_expr", "${net:Management}"),
            expression("auto_ip_expr", "${autoIp:}"),
            expression("netmask_expr", "${netmask:}"),
            expression("gateway_expr", "${gateway:}"),
            expression("domain_expr", "${domainName:}"),
            expression("host_prefix_expr", "${hostPrefix:}"),
            expression("dns_expr", "${dns:}"),
            expression("subnet_expr", "${subnet:}"),
            expression("search_path_expr", "${searchPath:}"),
            expression("http_proxy_expr", "${httpProxy:}"),
        ]
    );
    assert!(info.vmware_system_properties.is_empty() && info.capabilities.is_empty());
}

#[test]
fn empty_envelope_has_no_virtual_system() {
    let err = parse_descriptor(&read(&govmomi("empty.ovf"))).unwrap_err();
    assert_eq!(err, OvfError::NoVirtualSystem { line: 1 });
    assert_eq!(err.reason(), "OvfNoVirtualSystem");
}

#[test]
fn invalid_property_key_is_kept_as_written() {
    // DSP0243 forbids '.' in ovf:key; vSphere and govmomi accept it, and so do we. The
    // property is not user-configurable, so it shows nowhere.
    assert_eq!(
        parse(&govmomi("invalid-property-key.ovf")),
        OvfInfo {
            name: Some("invalid-key-vm".into()),
            firmware: "BIOS".into(),
            hardware_version: Some(13),
            ..OvfInfo::default()
        }
    );
}

#[test]
fn disk_capacity_from_property() {
    let info = parse(&govmomi("disk-capacity-property.ovf"));
    assert_eq!(info.disks, vec![disk(5 * GIB, None)]);
    assert_eq!(info.name.as_deref(), Some("disk-capacity-property-vm"));
    // The property sizing the disk is not user-configurable.
    assert!(info.ovf_properties.is_empty());
}

#[test]
fn guest_id_from_cim_type() {
    // No vmw:osType: the guest id comes from the CIM type (and version).
    let info = parse(&govmomi("dmtf_gos_test.ovf"));
    assert_eq!(
        (info.os_id.as_str(), info.os_cim_id, info.os_type.as_str()),
        ("otherLinuxGuest", Some(36), "Linux")
    );
    let info = parse(&govmomi("dmtf_gos_versioned_test.ovf"));
    assert_eq!(
        (
            info.os_id.as_str(),
            info.os_cim_id,
            info.os_version.as_str()
        ),
        ("debian12Guest", Some(95), "12")
    );
}

#[test]
fn virtualbox_ovf_2_0_export() {
    // OVF 2.0 namespace, no vmw: namespace, disks as sasd:StorageItem with "/disk/vmdisk1",
    // a sasd namespace URI ending in .xsd.
    assert_eq!(
        parse("extra/virtualbox-4.3-ovf2.0-export-vbox-machine.ovf"),
        OvfInfo {
            name: Some("ubuntu".into()),
            os_id: "ubuntu64Guest".into(),
            os_cim_id: Some(94),
            os_type: "Linux".into(),
            os_version: String::new(),
            product: ProductInfo::default(),
            firmware: "BIOS".into(),
            // virtualbox-2.2 is no vmx version.
            hardware_version: None,
            disks: vec![disk(8 * GIB, None)],
            ovf_properties: vec![],
            vmware_system_properties: vec![],
            capabilities: vec![],
            v1alpha1_compatible: false,
            extra_labels: vec![],
        }
    );
}

#[test]
fn virtual_system_collection_uses_its_first_system() {
    let info = parse(&govmomi("virtualsystemcollection.ovf"));
    assert_eq!(info.name.as_deref(), Some("Virtual Appliance One"));
    assert_eq!(info.os_id, "win2000ServGuest");
    assert_eq!(info.os_type, "Windows");
}

#[test]
fn vcenter_appliance_default_configuration() {
    let info = parse(&govmomi(
        "vmware/VMware-vCenter-Server-Appliance-9.1.0.0.25262036_OVF10.ovf",
    ));
    assert_eq!(
        info.product,
        product(
            "VMware vCenter Server Appliance",
            "VMware Inc.",
            "9.1.0.0",
            "9.1.0.0 build 25262036"
        )
    );
    assert_eq!(
        (info.os_id.as_str(), info.hardware_version),
        ("other3xLinux64Guest", Some(17))
    );
    // "tiny" is the default configuration: 15 disk drives.
    assert_eq!(info.disks.len(), 15);
    assert_eq!(info.disks[0], disk(52_143_587_328, Some(2_484_928_512)));
    let ceip = info
        .ovf_properties
        .iter()
        .find(|p| p.key == "guestinfo.cis.ceip_enabled")
        .unwrap();
    assert_eq!(
        ceip,
        &prop("guestinfo.cis.ceip_enabled", "boolean", Some("False"))
    );
    assert!(info.ovf_properties.iter().any(|p| p.r#type == "password"));
}

// ---- OVAs --------------------------------------------------------------------------------------

struct OvaCase {
    ova: &'static str,
    manifest: &'static str,
    descriptor: &'static str,
    envelope_yaml: Option<&'static str>,
}

const OVAS: &[OvaCase] = &[
    OvaCase {
        ova: "extra/ttylinux-pc_i486-16.1.ova",
        manifest: "extra/ttylinux-pc_i486-16.1.mf",
        descriptor: "ttylinux-pc_i486-16.1.ovf",
        envelope_yaml: Some("extra/ttylinux-pc_i486-16.1.govmomi-envelope.yaml"),
    },
    OvaCase {
        ova: "extra/Vcf-License-Server-9.1.0.0.25262073.ova",
        manifest: "extra/Vcf-License-Server-9.1.0.0.25262073.mf",
        descriptor: "Vcf-License-Server-9.1.0.0.25262073.ovf",
        envelope_yaml: Some("extra/Vcf-License-Server-9.1.0.0.25262073.govmomi-envelope.yaml"),
    },
    OvaCase {
        ova: "govmomi/vapi/library/testdata/ttylinux-pc_i486-16.1.ova",
        manifest: "govmomi/vapi/library/testdata/ttylinux-pc_i486-16.1.mf",
        descriptor: "ttylinux-pc_i486-16.1.ovf",
        envelope_yaml: None,
    },
];

#[test]
fn ovas_pass_their_manifests() {
    for case in OVAS {
        let file = std::fs::File::open(fixtures().join(case.ova)).unwrap();
        let ova = read_ova(file).unwrap_or_else(|e| panic!("{}: {e} ({})", case.ova, e.reason()));
        assert_eq!(ova.name, case.descriptor);
        // The manifest beside the OVA (a copy of the one inside) lists the descriptor's SHA-1.
        let manifest = String::from_utf8(read(case.manifest)).unwrap();
        let entries = vmi_operator::ovf::manifest::parse_manifest(&manifest).unwrap();
        let listed = entries
            .iter()
            .find(|e| e.name == case.descriptor)
            .expect("descriptor in manifest");
        assert_eq!(
            Sha1::digest(&ova.bytes).to_vec(),
            listed.digest,
            "{}",
            case.ova
        );
        parse_descriptor(&ova.bytes).unwrap_or_else(|e| panic!("{}: {e}", case.ova));
    }
}

#[test]
fn ttylinux_ova() {
    let ova = read_ova(std::fs::File::open(fixtures().join(OVAS[0].ova)).unwrap()).unwrap();
    assert_eq!(
        anonymous(parse_descriptor(&ova.bytes).unwrap()),
        OvfInfo {
            name: Some("ttylinux-pc_i486-16.1".into()),
            os_id: "otherLinuxGuest".into(),
            os_cim_id: Some(36),
            os_type: "Linux".into(),
            os_version: String::new(),
            product: product("Linux", "LinuxVendor", "v1", "v1.0.0"),
            firmware: "EFI".into(),
            hardware_version: Some(9),
            disks: vec![disk(30 << 20, Some(18_743_296))],
            ovf_properties: vec![prop(
                "dummy-key-configurable",
                "string",
                Some("dummy-value")
            )],
            vmware_system_properties: vec![KeyValue {
                key: "vmware-system.tkr.os-version".into(),
                value: "1.15".into()
            }],
            capabilities: vec![],
            v1alpha1_compatible: false,
            extra_labels: vec![],
        }
    );
}

#[test]
fn vcf_license_server_ova() {
    let ova = read_ova(std::fs::File::open(fixtures().join(OVAS[1].ova)).unwrap()).unwrap();
    let info = parse_descriptor(&ova.bytes).unwrap();
    assert_eq!(info.name.as_deref(), Some("VCF License Server Appliance"));
    assert_eq!(
        (info.os_id.as_str(), info.os_cim_id, info.os_type.as_str()),
        ("vmwarePhoton64Guest", Some(100), "Linux")
    );
    assert_eq!(
        info.product,
        product(
            "VCF License Server Appliance",
            "Broadcom Inc.",
            "9.1.0.0",
            "9.1.0.0_Build_25262073"
        )
    );
    assert_eq!(
        (info.firmware.as_str(), info.hardware_version),
        ("EFI", Some(13))
    );
    // The second's populatedSize is 0: its file's size is the estimate. The third disk is
    // empty (no file): no populated size.
    assert_eq!(
        sizes(&info.disks),
        vec![
            disk(4 * GIB, Some(704_643_072)),
            disk(4 * GIB, Some(68_096)),
            disk(4 * GIB, None)
        ]
    );
    // Keys as written: this appliance puts the instance name into ovf:key itself.
    let appliance = |k: &str| format!("{k}.VCF_License_Server_Appliance");
    let want = vec![
        prop("hostname", "string", None),
        prop("otk", "string(2..65535)", None),
        prop(&appliance("gateway"), "string", None),
        prop(&appliance("domain"), "string", None),
        prop(&appliance("searchpath"), "string", None),
        prop(&appliance("dns"), "string", None),
        prop(&appliance("ip0"), "string", None),
        prop(&appliance("netmask0"), "string", None),
        prop("proxy_ip", "string", None),
        prop("proxy_port", "string", None),
        prop("proxy_username", "string", None),
        prop("proxy_password", "password", None),
        prop("api_key", "string", None),
    ];
    assert_eq!(info.ovf_properties, want);
    assert!(info.vmware_system_properties.is_empty() && info.capabilities.is_empty());
}

/// govmomi's parse of each OVA's descriptor (vm-operator's testdata YAML) agrees with ours on
/// the fields both read.
#[test]
fn ovas_agree_with_govmomi_envelope_yaml() {
    for case in OVAS {
        let Some(yaml) = case.envelope_yaml else {
            continue;
        };
        let ova = read_ova(std::fs::File::open(fixtures().join(case.ova)).unwrap()).unwrap();
        let info = parse_descriptor(&ova.bytes).unwrap();
        let env: Value = serde_saphyr::from_str(&String::from_utf8(read(yaml)).unwrap()).unwrap();
        let vs = &env["virtualSystem"];
        let s = |v: &Value| v.as_str().unwrap_or("").to_string();
        assert_eq!(info.name, vs["name"].as_str().map(str::to_string), "{yaml}");
        let os = &vs["operatingSystemSection"];
        assert_eq!(
            info.os_cim_id,
            os["id"].as_u64().map(|v| v as u32),
            "{yaml}"
        );
        assert_eq!(info.os_id, s(&os["osType"]), "{yaml}");
        let p = &vs["productSection"][0];
        assert_eq!(
            info.product,
            product(
                &s(&p["product"]),
                &s(&p["vendor"]),
                &s(&p["version"]),
                &s(&p["fullVersion"])
            )
        );
        let hw = &vs["virtualHardwareSection"][0];
        let vmx = s(&hw["system"]["virtualSystemType"]);
        assert_eq!(
            info.hardware_version,
            vmx.strip_prefix("vmx-").and_then(|v| v.parse().ok()),
            "{yaml}"
        );
        let firmware = hw["config"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["key"] == "firmware")
            .map(|c| s(&c["value"]));
        assert_eq!(
            info.firmware.to_lowercase(),
            firmware.unwrap_or_else(|| "bios".into()),
            "{yaml}"
        );
        let caps: Vec<(u64, Option<u64>)> = env["diskSection"]["disk"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let unit = match s(&d["capacityAllocationUnits"]).as_str() {
                    "byte * 2^20" => 1 << 20,
                    "byte * 2^30" => 1 << 30,
                    other => panic!("unexpected units {other}"),
                };
                // A populatedSize of 0 or none is estimated from the file's size (issue 14).
                let file_size = || {
                    env["references"].as_array().and_then(|files| {
                        files
                            .iter()
                            .find(|f| f["id"] == d["fileRef"])
                            .and_then(|f| f["size"].as_u64())
                    })
                };
                (
                    s(&d["capacity"]).parse::<u64>().unwrap() * unit,
                    d["populatedSize"]
                        .as_u64()
                        .filter(|p| *p > 0)
                        .or_else(file_size)
                        .filter(|p| *p > 0),
                )
            })
            .collect();
        let ours: Vec<(u64, Option<u64>)> = info
            .disks
            .iter()
            .map(|d| (d.capacity_bytes, d.populated_bytes))
            .collect();
        assert_eq!(ours, caps, "{yaml}");
        let configurable: Vec<String> = p["property"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| {
                p["userConfigurable"] == Value::Bool(true)
                    && !s(&p["key"]).starts_with("vmware-system")
            })
            .map(|p| s(&p["key"]))
            .collect();
        let ours: Vec<String> = info.ovf_properties.iter().map(|p| p.key.clone()).collect();
        assert_eq!(ours, configurable, "{yaml}");
    }
}

// ---- the whole corpus --------------------------------------------------------------------------

fn corpus() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "ovf") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&fixtures(), &mut files);
    files.sort();
    files
}

/// Every descriptor either parses into something coherent or fails with a clear, stable
/// reason; none panics or takes long.
#[test]
fn corpus_sweep() {
    let root = fixtures();
    let files = corpus();
    assert!(
        files.len() >= 600,
        "only {} descriptors under {}",
        files.len(),
        root.display()
    );
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for path in &files {
        let rel = path.strip_prefix(&root).unwrap().display().to_string();
        let bytes = std::fs::read(path).unwrap();
        let started = Instant::now();
        let result = std::panic::catch_unwind(|| parse_descriptor(&bytes));
        let elapsed = started.elapsed();
        let result = result.unwrap_or_else(|_| panic!("{rel}: parse_descriptor panicked"));
        assert!(elapsed < Duration::from_secs(5), "{rel}: took {elapsed:?}");
        match result {
            Ok(info) => {
                *outcomes.entry("ok").or_default() += 1;
                check_coherent(&rel, &info);
            }
            Err(e) => {
                *outcomes.entry(e.reason()).or_default() += 1;
                let message = e.to_string();
                assert!(
                    message.len() > 20 && !message.contains("{"),
                    "{rel}: unclear error {message:?}"
                );
                check_expected_error(&rel, &bytes, &e);
            }
        }
    }
    println!("{} descriptors: {outcomes:?}", files.len());
    assert!(outcomes["ok"] >= 500, "{outcomes:?}");
}

fn check_coherent(rel: &str, info: &OvfInfo) {
    assert!(
        info.firmware == "EFI" || info.firmware == "BIOS",
        "{rel}: firmware {}",
        info.firmware
    );
    assert!(
        [
            "", "Linux", "Windows", "Darwin", "Solaris", "NetWare", "Other"
        ]
        .contains(&info.os_type.as_str()),
        "{rel}"
    );
    assert!(
        info.os_id.is_empty() || !info.os_type.is_empty(),
        "{rel}: guest {} without a family",
        info.os_id
    );
    assert!(
        info.name
            .as_deref()
            .is_none_or(|n| !n.trim().is_empty() && n.trim() == n),
        "{rel}: name {:?}",
        info.name
    );
    for d in &info.disks {
        assert!(d.capacity_bytes <= i64::MAX as u64, "{rel}");
    }
    for p in &info.ovf_properties {
        assert!(!p.key.starts_with("vmware-system"), "{rel}: {}", p.key);
        assert!(
            p.default
                .as_deref()
                .is_none_or(|d| !d.is_empty() && d.trim() == d),
            "{rel}: {p:?}"
        );
    }
    let mut sorted = info.capabilities.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, info.capabilities, "{rel}");
}

/// Errors the corpus is known to hold, by what the file is.
fn check_expected_error(rel: &str, bytes: &[u8], e: &OvfError) {
    let text = String::from_utf8_lossy(bytes);
    let expected = if text.contains("http://www.vmware.com/schema/ovf/1/envelope\"")
        && e.reason() == "OvfUnsupportedVersion"
    {
        true // OVF 0.9 (VMware pre-standard)
    } else {
        match e.reason() {
            // Envelopes (mostly vApp collections) without any virtual system.
            "OvfNoVirtualSystem" => {
                !text.contains("<VirtualSystem ") && !text.contains("<ovf:VirtualSystem ")
            }
            // HTML pages, a FakeEnvelope, an unknown envelope namespace.
            "OvfWrongRoot" => true,
            // Unbound prefixes (ovftool lax-mode tests) and a file starting with binary garbage.
            "OvfNotXml" => true,
            // A disk item naming a disk the DiskSection lacks (ovftool negative test).
            "OvfDiskNotFound" => rel.contains("/Neg/"),
            _ => false,
        }
    };
    assert!(expected, "{rel}: unexpected {} error: {e}", e.reason());
}
