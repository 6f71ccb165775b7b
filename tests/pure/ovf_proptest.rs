//! Property tests: arbitrary bytes, mutated fixtures and arbitrary attribute values never make
//! parse_descriptor or read_ova panic, and whatever parses is coherent.

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use vmi_operator::ovf::ova::read_ova;
use vmi_operator::ovf::{OvfInfo, parse_descriptor};

fn fixture(rel: &str) -> Vec<u8> {
    let path = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/ovf"
    ))
    .join(rel);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("OVF fixture corpus missing ({}): {e}", path.display()))
}

fn descriptors() -> &'static [Vec<u8>] {
    static D: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    D.get_or_init(|| {
        [
            "govmomi/ovf/fixtures/photon5.ovf",
            "govmomi/ovf/fixtures/ubuntu24.10.ovf",
            "govmomi/ovf/fixtures/multiple_disks.ovf",
            "govmomi/ovf/fixtures/properties.ovf",
            "govmomi/ovf/fixtures/qualifiers.ovf",
            "govmomi/ovf/fixtures/disk-capacity-property.ovf",
            "govmomi/ovf/fixtures/virtualsystemcollection.ovf",
            "extra/virtualbox-4.3-ovf2.0-export-vbox-machine.ovf",
        ]
        .iter()
        .map(|f| fixture(f))
        .collect()
    })
}

fn ova() -> &'static [u8] {
    static O: OnceLock<Vec<u8>> = OnceLock::new();
    O.get_or_init(|| fixture("extra/ttylinux-pc_i486-16.1.ova"))
}

/// Fragments that steer mutations into interesting places.
const TOKENS: &[&str] = &[
    "<",
    ">",
    "/>",
    "</Item>",
    "<Item>",
    "\"",
    "&amp;",
    "&#0;",
    "&x;",
    "${disk}",
    "byte * 2^64",
    "vmx-",
    "<!DOCTYPE a>",
    "<![CDATA[",
    "xmlns:ovf=\"x\"",
    "ovf:",
    "\u{0}",
    "\u{FEFF}",
    "\u{10FFFF}",
    "99999999999999999999",
    "<VirtualSystem>",
    "</VirtualSystem>",
    "<VirtualSystemCollection>",
    "ResourceType>17<",
    "ovf:/disk/",
];

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Flip(at, b)),
        (any::<usize>(), 1usize..64).prop_map(|(at, n)| Mutation::Delete(at, n)),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, t)| Mutation::Insert(at, t)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Flip(at, b) if !bytes.is_empty() => bytes[at % len] = b,
            Mutation::Delete(at, n) if !bytes.is_empty() => {
                let at = at % len;
                bytes.drain(at..(at + n).min(bytes.len()));
            }
            Mutation::Insert(at, t) => {
                let at = at % (bytes.len() + 1);
                bytes.splice(at..at, TOKENS[t].bytes());
            }
            Mutation::Truncate(at) => bytes.truncate(at % len),
            _ => {}
        }
    }
    bytes
}

fn coherent(info: &OvfInfo) {
    assert!(info.firmware == "EFI" || info.firmware == "BIOS");
    assert!(
        info.disks
            .iter()
            .all(|d| d.capacity_bytes <= i64::MAX as u64)
    );
    assert!(info.capabilities.windows(2).all(|w| w[0] < w[1]));
}

/// XML attribute escaping for generated values.
fn attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(info) = parse_descriptor(&bytes) {
            coherent(&info);
        }
        let _ = read_ova(bytes.as_slice());
    }

    #[test]
    fn arbitrary_xmlish_text(text in "[<>/a-zA-Z:=\" &;#0-9._${}*^-]{0,600}") {
        let _ = parse_descriptor(text.as_bytes());
        let wrapped = format!("<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\">{text}</Envelope>");
        let _ = parse_descriptor(wrapped.as_bytes());
    }

    #[test]
    fn mutated_fixtures(which in 0usize..8, mutations in proptest::collection::vec(mutation(), 1..8)) {
        let bytes = mutate(descriptors()[which].clone(), &mutations);
        if let Ok(info) = parse_descriptor(&bytes) {
            coherent(&info);
        }
    }

    #[test]
    fn mutated_ova(mutations in proptest::collection::vec(mutation(), 1..6)) {
        let bytes = mutate(ova().to_vec(), &mutations);
        if let Ok(d) = read_ova(bytes.as_slice()) {
            // A descriptor read from a mutated archive is still a bounded, named member.
            prop_assert!(!d.name.is_empty() && !d.name.contains(".."));
            let _ = parse_descriptor(&d.bytes);
        }
    }

    /// Arbitrary values in the attributes the parser interprets (capacity, units, property
    /// types and qualifiers, system type, OS id and version).
    #[test]
    fn arbitrary_attribute_values(
        capacity in ".{0,24}", units in ".{0,32}", ty in ".{0,16}", qualifiers in ".{0,64}",
        value in ".{0,32}", system_type in ".{0,32}", os_id in ".{0,8}", os_version in ".{0,8}",
        description in "[ -~]{0,40}",
    ) {
        let text = format!(
            r#"<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
<DiskSection><Info>d</Info><Disk ovf:diskId="d" ovf:capacity="{}" ovf:capacityAllocationUnits="{}" ovf:populatedSize="{}"/></DiskSection>
<VirtualSystem ovf:id="v"><Info>i</Info>
<OperatingSystemSection ovf:id="{}" ovf:version="{}"><Info>o</Info><Description>{}</Description></OperatingSystemSection>
<ProductSection><Info>p</Info><Property ovf:key="k" ovf:type="{}" ovf:qualifiers="{}" ovf:value="{}" ovf:userConfigurable="true"/>
<Property ovf:key="capabilities.image.vmoperator.vmware.com" ovf:type="string" ovf:value="{}"/></ProductSection>
<VirtualHardwareSection><Info>h</Info><System><vssd:VirtualSystemType>{}</vssd:VirtualSystemType></System>
<Item><rasd:HostResource>ovf:/disk/d</rasd:HostResource><rasd:ResourceType>17</rasd:ResourceType></Item>
<Item><rasd:AllocationUnits>{}</rasd:AllocationUnits><rasd:VirtualQuantity>{}</rasd:VirtualQuantity><rasd:ResourceType>17</rasd:ResourceType></Item>
</VirtualHardwareSection></VirtualSystem></Envelope>"#,
            attr(&capacity), attr(&units), attr(&value), attr(&os_id), attr(&os_version), attr(&description),
            attr(&ty), attr(&qualifiers), attr(&value), attr(&value), attr(&system_type), attr(&units), attr(&capacity),
        );
        if let Ok(info) = parse_descriptor(text.as_bytes()) {
            coherent(&info);
            prop_assert_eq!(info.ovf_properties.len(), 1);
        }
    }
}
