//! Hand-written descriptors for the rules and the bad inputs the corpus does not cover.

use vmi_operator::ovf::{
    KeyValue, OvfDisk as DiskInfo, OvfError, OvfUserProperty as OvfProperty, bytes_to_quantity,
    parse_descriptor,
};

const NS: &str = r#"xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:vmw="http://www.vmware.com/schema/ovf" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData""#;

/// An OVF 1.0 envelope: `top` goes before the VirtualSystem (References, DiskSection, …),
/// `vs` inside it.
fn envelope(top: &str, vs: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Envelope {NS}>\n{top}\n<VirtualSystem ovf:id=\"vm\">\n<Info>x</Info>\n{vs}\n</VirtualSystem>\n</Envelope>\n"
    )
}

/// A hardware section with one disk drive per reference.
fn hardware(system_type: &str, disks: &[&str], config: &str) -> String {
    let items: String = disks
        .iter()
        .map(|d| format!("<Item><rasd:HostResource>{d}</rasd:HostResource><rasd:InstanceID>9</rasd:InstanceID><rasd:ResourceType>17</rasd:ResourceType></Item>"))
        .collect();
    format!(
        "<VirtualHardwareSection><Info>hw</Info><System><vssd:VirtualSystemType>{system_type}</vssd:VirtualSystemType></System>{items}{config}</VirtualHardwareSection>"
    )
}

fn disk_section(disks: &str) -> String {
    format!("<DiskSection><Info>disks</Info>{disks}</DiskSection>")
}

fn parse(text: &str) -> Result<vmi_operator::ovf::OvfInfo, OvfError> {
    parse_descriptor(text.as_bytes())
}

fn reason(text: &str) -> &'static str {
    parse(text).expect_err("should fail").reason()
}

// ---- namespaces and shapes ---------------------------------------------------------------------

#[test]
fn namespaces_are_matched_by_uri_not_prefix() {
    let text = r#"<e:Envelope xmlns:e="http://schemas.dmtf.org/ovf/envelope/1" xmlns:v="http://www.vmware.com/schema/ovf" xmlns:r="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:s="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <e:DiskSection><e:Info>d</e:Info><e:Disk e:diskId="d1" e:capacity="2" e:capacityAllocationUnits="byte * 2^30"/></e:DiskSection>
  <e:VirtualSystem e:id="odd">
    <e:Info>x</e:Info>
    <e:OperatingSystemSection e:id="94" v:osType="ubuntu64Guest"><e:Info>os</e:Info></e:OperatingSystemSection>
    <e:VirtualHardwareSection><e:Info>hw</e:Info>
      <e:System><s:VirtualSystemType>vmx-19</s:VirtualSystemType></e:System>
      <e:Item><r:HostResource>ovf:/disk/d1</r:HostResource><r:ResourceType>17</r:ResourceType></e:Item>
      <v:Config v:key="firmware" v:value="EFI"/>
    </e:VirtualHardwareSection>
  </e:VirtualSystem>
</e:Envelope>"#;
    let info = parse(text).unwrap();
    assert_eq!(info.name.as_deref(), Some("odd"));
    assert_eq!(info.os_id, "ubuntu64Guest");
    assert_eq!(
        (info.firmware.as_str(), info.hardware_version),
        ("EFI", Some(19))
    );
    assert_eq!(
        info.disks,
        vec![DiskInfo {
            name: "d1".into(),
            controller: None,
            unit_number: None,
            capacity_bytes: 2 << 30,
            populated_bytes: None
        }]
    );

    // The right local names in a foreign namespace are not OVF.
    let foreign = text.replace(
        "http://schemas.dmtf.org/ovf/envelope/1",
        "http://example.com/not-ovf",
    );
    assert_eq!(parse(&foreign).unwrap_err().reason(), "OvfWrongRoot");
    // vmw:Config in another namespace is not VMware's.
    let not_vmw = text.replace(
        "xmlns:v=\"http://www.vmware.com/schema/ovf\"",
        "xmlns:v=\"http://example.com/v\"",
    );
    assert_eq!(parse(&not_vmw).unwrap().firmware, "BIOS");
}

#[test]
fn ovf_2_namespace() {
    let text = envelope("", "<Name> Two </Name>").replace("ovf/envelope/1", "ovf/envelope/2");
    assert_eq!(parse(&text).unwrap().name.as_deref(), Some("Two"));
}

#[test]
fn ovf_0_9_is_refused_with_its_version() {
    let text = envelope("", "").replace(
        "http://schemas.dmtf.org/ovf/envelope/1",
        "http://www.vmware.com/schema/ovf/1/envelope",
    );
    let e = parse(&text).unwrap_err();
    assert_eq!(e.reason(), "OvfUnsupportedVersion");
    assert!(e.to_string().contains("OVF 0.9"), "{e}");
}

#[test]
fn wrong_root_names_the_element_and_line() {
    let e = parse("<?xml version=\"1.0\"?>\n\n<html><body/></html>").unwrap_err();
    assert_eq!(
        e,
        OvfError::WrongRoot {
            found: "html".into(),
            line: 3
        }
    );
}

#[test]
fn missing_virtual_system() {
    let text = format!("<Envelope {NS}><References/></Envelope>");
    assert_eq!(reason(&text), "OvfNoVirtualSystem");
    // A collection holding only collections has no system either.
    let nested = format!(
        "<Envelope {NS}><VirtualSystemCollection ovf:id=\"a\"><Info>i</Info><VirtualSystemCollection ovf:id=\"b\"><Info>i</Info></VirtualSystemCollection></VirtualSystemCollection></Envelope>"
    );
    assert_eq!(reason(&nested), "OvfNoVirtualSystem");
}

#[test]
fn collection_takes_first_system_and_collection_product() {
    let text = format!(
        r#"<Envelope {NS}>
<VirtualSystemCollection ovf:id="app"><Info>i</Info>
  <ProductSection><Info>p</Info><Product>Suite</Product><Vendor>ACME</Vendor><Version>2</Version>
    <Property ovf:key="admin" ovf:type="string" ovf:userConfigurable="true" ovf:value="root"/></ProductSection>
  <VirtualSystemCollection ovf:id="inner"><Info>i</Info>
    <VirtualSystem ovf:id="db"><Info>i</Info><Name>Database</Name></VirtualSystem>
  </VirtualSystemCollection>
  <VirtualSystem ovf:id="web"><Info>i</Info></VirtualSystem>
</VirtualSystemCollection></Envelope>"#
    );
    // The collection's own system first (as govmomi's ToConfigSpec picks it), named by its id.
    let info = parse(&text).unwrap();
    assert_eq!(info.name.as_deref(), Some("web"));
    assert_eq!(
        (info.product.product.as_str(), info.product.vendor.as_str()),
        ("Suite", "ACME")
    );
    // Without one, the first in a nested collection.
    let nested_only = text.replace(
        r#"<VirtualSystem ovf:id="web"><Info>i</Info></VirtualSystem>"#,
        "",
    );
    assert_eq!(
        parse(&nested_only).unwrap().name.as_deref(),
        Some("Database")
    );
    assert_eq!(
        info.ovf_properties,
        vec![OvfProperty {
            key: "admin".into(),
            r#type: "string".into(),
            default: Some("root".into())
        }]
    );
}

// ---- operating system --------------------------------------------------------------------------

#[test]
fn os_from_cim_type_version_and_description() {
    let os = |attrs: &str, desc: &str| {
        parse(&envelope(
            "",
            &format!(
                "<OperatingSystemSection {attrs}><Info>os</Info>{desc}</OperatingSystemSection>"
            ),
        ))
        .unwrap()
    };
    let info = os(r#"ovf:id="80" ovf:version="8""#, "");
    assert_eq!(
        (
            info.os_id.as_str(),
            info.os_type.as_str(),
            info.os_version.as_str()
        ),
        ("rhel8_64Guest", "Linux", "8")
    );
    let info = os(
        r#"ovf:id="94""#,
        "<Description>Ubuntu 22.04 LTS</Description>",
    );
    assert_eq!(
        (info.os_id.as_str(), info.os_version.as_str()),
        ("ubuntu64Guest", "22.04")
    );
    let info = os(
        r#"ovf:id="107""#,
        "<Description>CentOS 7 (64-bit)</Description>",
    );
    assert_eq!(
        (info.os_id.as_str(), info.os_version.as_str()),
        ("centos7_64Guest", "7")
    );
    let info = os(r#"ovf:id="67""#, "<Description>Windows XP</Description>");
    assert_eq!(
        (info.os_id.as_str(), info.os_type.as_str()),
        ("winXPProGuest", "Windows")
    );
    // vmw:osType wins over the CIM type.
    let info = os(r#"ovf:id="1" vmw:osType="windows2019srv_64Guest""#, "");
    assert_eq!(
        (info.os_id.as_str(), info.os_cim_id, info.os_type.as_str()),
        ("windows2019srv_64Guest", Some(1), "Windows")
    );
    // A CIM type without a guest id of its own still tells the family.
    let info = os(r#"ovf:id="80""#, "");
    assert_eq!((info.os_id.as_str(), info.os_type.as_str()), ("", "Linux"));
    // Not a number: unknown, not an error (the id is informational).
    let info = os(r#"ovf:id="-100""#, "");
    assert_eq!((info.os_cim_id, info.os_type.as_str()), (None, ""));
    // No section at all.
    let info = parse(&envelope("", "")).unwrap();
    assert_eq!(
        (
            info.os_id.as_str(),
            info.os_type.as_str(),
            info.os_version.as_str()
        ),
        ("", "", "")
    );
}

// ---- hardware ----------------------------------------------------------------------------------

#[test]
fn hardware_version_is_the_highest_vmx_listed() {
    let hw = |t: &str| {
        parse(&envelope("", &hardware(t, &[], "")))
            .unwrap()
            .hardware_version
    };
    assert_eq!(hw("vmx-19"), Some(19));
    assert_eq!(hw("vmx-13 vmx-19 vmx-11"), Some(19));
    assert_eq!(hw("vmx-08,vmx-09,vmx-10"), Some(10));
    assert_eq!(hw("foobar, vmx-04, xen3"), Some(4));
    assert_eq!(hw("VMX-21"), Some(21));
    assert_eq!(hw("virtualbox-2.2"), None);
    assert_eq!(hw(""), None);
}

#[test]
fn firmware() {
    let fw = |config: &str| {
        parse(&envelope("", &hardware("vmx-19", &[], config)))
            .unwrap()
            .firmware
    };
    assert_eq!(
        fw(r#"<vmw:Config ovf:required="false" vmw:key="firmware" vmw:value="efi"/>"#),
        "EFI"
    );
    assert_eq!(
        fw(r#"<vmw:Config vmw:key="firmware" vmw:value="EFI"/>"#),
        "EFI"
    );
    assert_eq!(
        fw(r#"<vmw:Config vmw:key="firmware" vmw:value="bios"/>"#),
        "BIOS"
    );
    assert_eq!(
        fw(r#"<vmw:Config vmw:key="uefi.secureBoot.enabled" vmw:value="true"/>"#),
        "BIOS"
    );
    assert_eq!(fw(""), "BIOS");
}

#[test]
fn hardware_section_for_vsphere_is_the_vmx_one() {
    let vs = format!(
        "{}{}",
        hardware("xen-3", &[], ""),
        hardware(
            "vmx-14",
            &[],
            r#"<vmw:Config vmw:key="firmware" vmw:value="efi"/>"#
        )
    );
    let info = parse(&envelope("", &vs)).unwrap();
    assert_eq!(
        (info.hardware_version, info.firmware.as_str()),
        (Some(14), "EFI")
    );
}

// ---- disks -------------------------------------------------------------------------------------

fn disks(disk_attrs: &str) -> Result<Vec<DiskInfo>, OvfError> {
    let top = format!(
        r#"<References><File ovf:id="f1" ovf:href="d.vmdk" ovf:size="1234"/></References>{}"#,
        disk_section(&format!(r#"<Disk ovf:diskId="d1" {disk_attrs}/>"#))
    );
    parse(&envelope(&top, &hardware("vmx-19", &["ovf:/disk/d1"], ""))).map(|i| i.disks)
}

fn capacity(attrs: &str) -> Result<u64, OvfError> {
    disks(attrs).map(|d| d[0].capacity_bytes)
}

#[test]
fn capacity_units() {
    assert_eq!(capacity(r#"ovf:capacity="1073741824""#), Ok(1 << 30));
    assert_eq!(
        capacity(r#"ovf:capacity="1073741824" ovf:capacityAllocationUnits="byte""#),
        Ok(1 << 30)
    );
    assert_eq!(
        capacity(r#"ovf:capacity="16" ovf:capacityAllocationUnits="byte * 2^30""#),
        Ok(16 << 30)
    );
    assert_eq!(
        capacity(r#"ovf:capacity="512" ovf:capacityAllocationUnits="byte*2^20""#),
        Ok(512 << 20)
    );
    assert_eq!(
        capacity(r#"ovf:capacity="3" ovf:capacityAllocationUnits="KiloBytes""#),
        Ok(3000)
    );
    assert_eq!(
        capacity(r#"ovf:capacity="3" ovf:capacityAllocationUnits="GB""#),
        Ok(3 << 30)
    );
    assert_eq!(
        capacity(r#"ovf:capacity="3" ovf:capacityAllocationUnits="MB""#),
        Ok(3 << 20)
    );
    assert_eq!(
        capacity(r#"ovf:capacity="3" ovf:capacityAllocationUnits="gibibytes""#),
        Ok(3 << 30)
    );
    assert_eq!(capacity(r#"ovf:capacity="0""#), Ok(0));
}

#[test]
fn capacity_errors() {
    let e = capacity(r#"ovf:capacity="3" ovf:capacityAllocationUnits="hertz * 10^6""#).unwrap_err();
    assert_eq!(e.reason(), "OvfUnknownUnits");
    assert!(
        e.to_string().contains("\"d1\"") && e.to_string().contains("line"),
        "{e}"
    );
    assert_eq!(
        capacity(r#"ovf:capacity="1.5" ovf:capacityAllocationUnits="byte * 2^30""#)
            .unwrap_err()
            .reason(),
        "OvfInvalidCapacity"
    );
    assert_eq!(
        capacity(r#"ovf:capacity="-1""#).unwrap_err().reason(),
        "OvfInvalidCapacity"
    );
    assert_eq!(
        capacity(r#"ovf:capacity="""#).unwrap_err().reason(),
        "OvfInvalidCapacity"
    );
    // Overflow: of u64 in the count, in the units, in the product, and past i64.
    for attrs in [
        r#"ovf:capacity="99999999999999999999999""#,
        r#"ovf:capacity="1" ovf:capacityAllocationUnits="byte * 2^64""#,
        r#"ovf:capacity="17179869184" ovf:capacityAllocationUnits="byte * 2^30""#,
        r#"ovf:capacity="8" ovf:capacityAllocationUnits="exbibyte""#,
    ] {
        assert_eq!(
            capacity(attrs).unwrap_err().reason(),
            "OvfCapacityOverflow",
            "{attrs}"
        );
    }
    assert_eq!(
        capacity(r#"ovf:capacity="7" ovf:capacityAllocationUnits="exbibyte""#),
        Ok(7 << 60)
    );
}

#[test]
fn capacity_from_property_reference() {
    let with_prop = |prop: &str, capacity: &str| {
        let top = disk_section(&format!(
            r#"<Disk ovf:diskId="d1" ovf:capacity="{capacity}" ovf:capacityAllocationUnits="byte * 2^30"/>"#
        ));
        let vs = format!(
            "<ProductSection><Info>p</Info>{prop}</ProductSection>{}",
            hardware("vmx-19", &["ovf:/disk/d1"], "")
        );
        parse(&envelope(&top, &vs))
    };
    let ok = with_prop(
        r#"<Property ovf:key="size" ovf:type="int" ovf:value=" 7 "/>"#,
        "${size}",
    )
    .unwrap();
    assert_eq!(ok.disks[0].capacity_bytes, 7 << 30);
    for (prop, problem) in [
        ("", "no ProductSection property defines"),
        (
            r#"<Property ovf:key="size" ovf:type="int"/>"#,
            "has no default value",
        ),
        (
            r#"<Property ovf:key="size" ovf:type="int" ovf:value="big"/>"#,
            "not a whole number",
        ),
    ] {
        let e = with_prop(prop, "${size}").unwrap_err();
        assert_eq!(e.reason(), "OvfCapacityPropertyUnresolved");
        assert!(
            e.to_string().contains(problem) && e.to_string().contains("\"size\""),
            "{e}"
        );
    }
}

#[test]
fn populated_size_and_file_size() {
    assert_eq!(
        disks(r#"ovf:capacity="1" ovf:populatedSize="77" ovf:fileRef="f1""#),
        Ok(vec![DiskInfo {
            name: "d1".into(),
            controller: None,
            unit_number: None,
            capacity_bytes: 1,
            populated_bytes: Some(77)
        }])
    );
    // Without populatedSize, the referenced file's size.
    assert_eq!(
        disks(r#"ovf:capacity="1" ovf:fileRef="f1""#).unwrap()[0].populated_bytes,
        Some(1234)
    );
    assert_eq!(
        disks(r#"ovf:capacity="1""#).unwrap()[0].populated_bytes,
        None
    );
    assert_eq!(
        disks(r#"ovf:capacity="1" ovf:populatedSize="-5""#)
            .unwrap_err()
            .reason(),
        "OvfInvalidNumber"
    );
}

#[test]
fn disk_references() {
    let top = disk_section(
        r#"<Disk ovf:diskId="vmdisk1" ovf:capacity="1"/><Disk ovf:diskId="vmdisk11" ovf:capacity="11"/>"#,
    );
    let caps = |reference: &str| {
        parse(&envelope(&top, &hardware("vmx-19", &[reference], "")))
            .map(|i| i.disks.iter().map(|d| d.capacity_bytes).collect::<Vec<_>>())
    };
    assert_eq!(caps("ovf:/disk/vmdisk1"), Ok(vec![1]));
    assert_eq!(caps("/disk/vmdisk11"), Ok(vec![11]));
    assert_eq!(caps("ovf://disk/vmdisk11"), Ok(vec![11]));
    let e = caps("ovf:/disk/nope").unwrap_err();
    assert_eq!(e.reason(), "OvfDiskNotFound");
    assert!(
        e.to_string().contains("nope") && e.to_string().contains("<Item>"),
        "{e}"
    );
}

#[test]
fn disks_of_the_default_configuration_only() {
    let top = format!(
        r#"{}<DeploymentOptionSection><Info>d</Info><Configuration ovf:id="small"><Label>s</Label></Configuration><Configuration ovf:id="big" ovf:default="true"><Label>b</Label></Configuration></DeploymentOptionSection>"#,
        disk_section(
            r#"<Disk ovf:diskId="s" ovf:capacity="1"/><Disk ovf:diskId="b" ovf:capacity="2"/><Disk ovf:diskId="all" ovf:capacity="3"/>"#
        )
    );
    let hw = r#"<VirtualHardwareSection><Info>hw</Info><System><vssd:VirtualSystemType>vmx-19</vssd:VirtualSystemType></System>
        <Item ovf:configuration="small"><rasd:HostResource>ovf:/disk/s</rasd:HostResource><rasd:ResourceType>17</rasd:ResourceType></Item>
        <Item ovf:configuration="small big"><rasd:HostResource>ovf:/disk/b</rasd:HostResource><rasd:ResourceType>17</rasd:ResourceType></Item>
        <Item><rasd:HostResource>ovf:/disk/all</rasd:HostResource><rasd:ResourceType>17</rasd:ResourceType></Item>
        <Item><rasd:ElementName>new disk</rasd:ElementName><rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits><rasd:VirtualQuantity>5</rasd:VirtualQuantity><rasd:ResourceType>17</rasd:ResourceType></Item>
        </VirtualHardwareSection>"#;
    let caps: Vec<u64> = parse(&envelope(&top, hw))
        .unwrap()
        .disks
        .iter()
        .map(|d| d.capacity_bytes)
        .collect();
    assert_eq!(caps, [2, 3, 5 << 20]);
}

// ---- properties --------------------------------------------------------------------------------

#[test]
fn properties_system_properties_and_capabilities() {
    let vs = r#"<ProductSection><Info>p</Info><Product>P</Product>
  <Property ovf:key="vmware-system.guest.kind" ovf:type="string" ovf:value="tkr"/>
  <Property ovf:key="vmware-system.configurable" ovf:type="boolean" ovf:value="1" ovf:userConfigurable="true"/>
  <Property ovf:key="hidden" ovf:type="string" ovf:value="x"/>
  <Property ovf:key="shown" ovf:type="string" ovf:userConfigurable="1"><Value ovf:value="for-big" ovf:configuration="big"/></Property>
  <Property ovf:key="capabilities.image.vmoperator.vmware.com" ovf:type="string" ovf:value=" nvidia-gpu, cloud-init,,cloud-init , sriov-net"/>
</ProductSection>
<ProductSection ovf:class="vm" ovf:instance="1"><Info>q</Info>
  <Property ovf:key="pw" ovf:type="string" ovf:password="true" ovf:qualifiers="MinLen(8)" ovf:userConfigurable="true"/>
</ProductSection>"#;
    let top = r#"<DeploymentOptionSection><Info>d</Info><Configuration ovf:id="big"><Label>b</Label></Configuration></DeploymentOptionSection>"#;
    let info = parse(&envelope(top, vs)).unwrap();
    assert_eq!(
        info.ovf_properties,
        vec![
            OvfProperty {
                key: "shown".into(),
                r#type: "string".into(),
                default: Some("for-big".into())
            },
            // Keyed by ovf:key alone, as VM Operator keys vApp properties (class and instance
            // are separate fields in vSphere).
            OvfProperty {
                key: "pw".into(),
                r#type: "password(8..)".into(),
                default: None
            },
        ]
    );
    assert_eq!(
        info.vmware_system_properties,
        vec![
            KeyValue {
                key: "vmware-system.guest.kind".into(),
                value: "tkr".into()
            },
            KeyValue {
                key: "vmware-system.configurable".into(),
                value: "True".into()
            },
        ]
    );
    assert_eq!(info.capabilities, ["cloud-init", "nvidia-gpu", "sriov-net"]);
    assert_eq!(info.product.product, "P");
}

// ---- hostile and broken input ------------------------------------------------------------------

#[test]
fn not_xml() {
    for text in [
        "",
        "hello",
        "<Envelope",
        "<a></b>",
        "\u{1c}<?xml version=\"1.0\"?><a/>",
    ] {
        let e = parse(text).unwrap_err();
        assert_eq!(e.reason(), "OvfNotXml", "{text:?}: {e}");
    }
    let e = parse("<?xml version=\"1.0\"?>\n<Envelope>\n  <a>\n</Envelope>").unwrap_err();
    assert!(matches!(e, OvfError::NotXml { line: 4, .. }), "{e:?}");
}

#[test]
fn dtd_and_entities_are_refused() {
    let xxe = format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE Envelope [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<Envelope {NS}>&x;</Envelope>"
    );
    assert_eq!(parse(&xxe).unwrap_err(), OvfError::DtdRefused { line: 2 });
    let laughs =
        "<!DOCTYPE a [<!ENTITY a \"aaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;\">]><a>&b;</a>";
    assert_eq!(reason(laughs), "OvfDtdRefused");
    let external = "<!DOCTYPE Envelope SYSTEM \"http://example.com/ovf.dtd\"><Envelope/>";
    assert_eq!(reason(external), "OvfDtdRefused");
    // An undeclared entity is not XML.
    assert_eq!(
        reason(&format!("<Envelope {NS}>&nope;</Envelope>")),
        "OvfNotXml"
    );
}

#[test]
fn deep_nesting_is_refused_quickly() {
    let depth = 200_000;
    let text = format!(
        "<Envelope {NS}>{}{}</Envelope>",
        "<a>".repeat(depth),
        "</a>".repeat(depth)
    );
    let started = std::time::Instant::now();
    let e = parse(&text).unwrap_err();
    assert!(matches!(e, OvfError::TooDeep { limit: 256, .. }), "{e:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    // Ordinary depth is fine.
    let ok = format!(
        "<Envelope {NS}><VirtualSystem ovf:id=\"v\">{}{}</VirtualSystem></Envelope>",
        "<a>".repeat(100),
        "</a>".repeat(100)
    );
    assert!(parse(&ok).is_ok());
}

#[test]
fn size_and_node_limits() {
    let huge = vec![b' '; 32 * 1024 * 1024 + 1];
    assert_eq!(parse_descriptor(&huge).unwrap_err().reason(), "OvfTooLarge");
    let wide = format!("<Envelope {NS}>{}</Envelope>", "<a/>".repeat(2_100_000));
    assert_eq!(reason(&wide), "OvfTooManyNodes");
}

#[test]
fn encodings() {
    let text = envelope("", "<Name>Caf\u{e9}</Name>");
    // UTF-8 with a byte-order mark.
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    assert_eq!(
        parse_descriptor(&bom).unwrap().name.as_deref(),
        Some("Caf\u{e9}")
    );
    // UTF-16 LE and BE with a byte-order mark.
    let le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    assert_eq!(
        parse_descriptor(&le).unwrap().name.as_deref(),
        Some("Caf\u{e9}")
    );
    let be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    assert_eq!(
        parse_descriptor(&be).unwrap().name.as_deref(),
        Some("Caf\u{e9}")
    );
    // ISO-8859-1 when declared.
    assert_eq!(
        parse_descriptor(&latin1_declared("ISO-8859-1"))
            .unwrap()
            .name
            .as_deref(),
        Some("Caf\u{e9}")
    );
    // Invalid UTF-8 otherwise, with its line.
    let e = parse_descriptor(&latin1_declared("UTF-8")).unwrap_err();
    assert_eq!(e.reason(), "OvfInvalidUtf8");
    assert!(matches!(e, OvfError::InvalidUtf8 { line: 6, .. }), "{e:?}");
    let e = parse_descriptor(&latin1_declared("windows-1252")).unwrap_err();
    assert_eq!(e, OvfError::UnsupportedEncoding("windows-1252".into()));
}

/// The ISO-8859-1 bytes of the test envelope, declared as `encoding`.
fn latin1_declared(encoding: &str) -> Vec<u8> {
    envelope("", "<Name>Caf\u{e9}</Name>")
        .replace("UTF-8", encoding)
        .chars()
        .map(|c| c as u8)
        .collect()
}

#[test]
fn every_error_has_a_stable_reason() {
    let errors = [
        OvfError::TooLarge { size: 1, limit: 0 },
        OvfError::InvalidUtf8 { offset: 0, line: 1 },
        OvfError::UnsupportedEncoding("x".into()),
        OvfError::DtdRefused { line: 1 },
        OvfError::NotXml {
            line: 1,
            column: 1,
            message: "m".into(),
        },
        OvfError::TooManyNodes { limit: 1 },
        OvfError::TooDeep {
            limit: 1,
            element: "a".into(),
            line: 1,
        },
        OvfError::WrongRoot {
            found: "a".into(),
            line: 1,
        },
        OvfError::UnsupportedVersion {
            version: "0.9".into(),
            namespace: "n".into(),
        },
        OvfError::NoVirtualSystem { line: 1 },
        OvfError::UnknownUnits {
            disk: "d".into(),
            units: "u".into(),
            line: 1,
        },
        OvfError::InvalidCapacity {
            disk: "d".into(),
            value: "v".into(),
            line: 1,
        },
        OvfError::CapacityPropertyUnresolved {
            disk: "d".into(),
            property: "p".into(),
            problem: "x".into(),
            line: 1,
        },
        OvfError::CapacityOverflow {
            disk: "d".into(),
            capacity: "c".into(),
            units: "u".into(),
            line: 1,
        },
        OvfError::DiskNotFound {
            element: "Item".into(),
            reference: "r".into(),
            line: 1,
        },
        OvfError::InvalidNumber {
            what: "w".into(),
            value: "v".into(),
            line: 1,
        },
    ];
    let mut reasons: Vec<&str> = errors.iter().map(OvfError::reason).collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("Ovf") && r.chars().all(char::is_alphanumeric))
    );
    reasons.sort();
    reasons.dedup();
    assert_eq!(reasons.len(), errors.len(), "reasons must be distinct");
}

#[test]
fn quantities() {
    assert_eq!(bytes_to_quantity(21_474_836_480), "20Gi");
    assert_eq!(bytes_to_quantity(1536 << 20), "1536Mi");
    assert_eq!(bytes_to_quantity(1000), "1000");
    assert_eq!(bytes_to_quantity(0), "0");
}
