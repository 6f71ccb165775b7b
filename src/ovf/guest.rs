//! Guest operating system: vSphere guest ids from CIM OS type numbers, guest families, and
//! versions named in descriptions.

/// CIM OS type (`OperatingSystemSection ovf:id`, DMTF CIM_OperatingSystem.OSType) and OS
/// version to vSphere guest id, for descriptors without `vmw:osType`. The same pairs govmomi's
/// `CIMOSTypeToGuestID` knows (vSphere's own import mapping); an entry with version `""` is the
/// fallback for that CIM type; 76 and 77 (Windows Server 2008) are added, as ovftool maps them. CIM types that name a family but no default guest (Debian 95/96,
/// RHEL 64-bit 80, …) need a version.
const CIM_GUESTS: &[(u32, &str, &str)] = &[
    (1, "", "otherGuest"),
    (2, "", "darwinGuest"),
    (2, "10", "darwin10Guest"),
    (2, "11", "darwin11Guest"),
    (2, "19", "darwin19_64Guest"),
    (2, "20", "darwin20_64Guest"),
    (2, "21", "darwin21_64Guest"),
    (2, "22", "darwin22_64Guest"),
    (2, "23", "darwin23_64Guest"),
    (12, "", "os2Guest"),
    (14, "", "dosGuest"),
    (15, "", "win31Guest"),
    (16, "", "win95Guest"),
    (17, "", "win98Guest"),
    (18, "", "winNTGuest"),
    (21, "4", "netware4Guest"),
    (21, "5", "netware5Guest"),
    (21, "6", "netware6Guest"),
    (25, "7", "unixWare7Guest"),
    (26, "5", "openServer5Guest"),
    (26, "6", "openServer6Guest"),
    (29, "6", "solaris6Guest"),
    (29, "7", "solaris7Guest"),
    (29, "8", "solaris8Guest"),
    (29, "9", "solaris9Guest"),
    (29, "10", "solaris10Guest"),
    (36, "", "otherLinuxGuest"),
    (42, "", "freebsdGuest"),
    (58, "", "win2000ServGuest"),
    (63, "", "winMeGuest"),
    (67, "", "winXPProGuest"),
    (69, "", "winNetStandardGuest"),
    (70, "", "winNetStandard64Guest"),
    (71, "", "winXPPro64Guest"),
    (73, "", "winVistaGuest"),
    (74, "", "winVista64Guest"),
    (76, "", "winLonghornGuest"),
    (77, "", "winLonghorn64Guest"),
    (78, "", "freebsd64Guest"),
    (79, "", "redhatGuest"),
    (79, "2", "rhel2Guest"),
    (79, "3", "rhel3Guest"),
    (79, "4", "rhel4Guest"),
    (79, "5", "rhel5Guest"),
    (79, "6", "rhel6Guest"),
    (79, "7", "rhel7Guest"),
    (80, "3", "rhel3_64Guest"),
    (80, "4", "rhel4_64Guest"),
    (80, "5", "rhel5_64Guest"),
    (80, "6", "rhel6_64Guest"),
    (80, "7", "rhel7_64Guest"),
    (80, "8", "rhel8_64Guest"),
    (80, "9", "rhel9_64Guest"),
    (80, "10", "rhel10_64Guest"),
    (81, "10", "solaris10_64Guest"),
    (81, "11", "solaris11_64Guest"),
    (82, "", "suseGuest"),
    (82, "11", "opensuseGuest"),
    (83, "", "suse64Guest"),
    (83, "11", "opensuse64Guest"),
    (84, "", "slesGuest"),
    (84, "10", "sles10Guest"),
    (84, "11", "sles11Guest"),
    (84, "12", "sles12Guest"),
    (85, "", "sles64Guest"),
    (85, "10", "sles10_64Guest"),
    (85, "11", "sles11_64Guest"),
    (85, "12", "sles12_64Guest"),
    (85, "15", "sles15_64Guest"),
    (85, "16", "sles16_64Guest"),
    (86, "", "oesGuest"),
    (87, "", "nld9Guest"),
    (88, "", "sjdsGuest"),
    (89, "", "mandrivaGuest"),
    (90, "", "mandriva64Guest"),
    (91, "", "turboLinuxGuest"),
    (92, "", "turboLinux64Guest"),
    (93, "", "ubuntuGuest"),
    (94, "", "ubuntu64Guest"),
    (95, "4", "debian4Guest"),
    (95, "5", "debian5Guest"),
    (95, "6", "debian6Guest"),
    (95, "7", "debian7Guest"),
    (95, "8", "debian8Guest"),
    (95, "9", "debian9Guest"),
    (95, "10", "debian10Guest"),
    (95, "11", "debian11Guest"),
    (95, "12", "debian12Guest"),
    (95, "13", "debian13Guest"),
    (96, "4", "debian4_64Guest"),
    (96, "5", "debian5_64Guest"),
    (96, "6", "debian6_64Guest"),
    (96, "7", "debian7_64Guest"),
    (96, "8", "debian8_64Guest"),
    (96, "9", "debian9_64Guest"),
    (96, "10", "debian10_64Guest"),
    (96, "11", "debian11_64Guest"),
    (96, "12", "debian12_64Guest"),
    (96, "13", "debian13_64Guest"),
    (97, "", "other24xLinuxGuest"),
    (98, "", "other24xLinux64Guest"),
    (99, "", "other26xLinuxGuest"),
    (100, "", "other26xLinux64Guest"),
    (101, "", "otherLinux64Guest"),
    (102, "", "otherGuest64"),
    (103, "", "windows7Server64Guest"),
    (104, "4", "vmkernelGuest"),
    (104, "5", "vmkernel5Guest"),
    (104, "6", "vmkernel6Guest"),
    (104, "6.5", "vmkernel65Guest"),
    (104, "7", "vmkernel7Guest"),
    (104, "8", "vmkernel8Guest"),
    (104, "9", "vmkernel9Guest"),
    (105, "", "windows7Guest"),
    (106, "", "centosGuest"),
    (106, "6", "centos6Guest"),
    (106, "7", "centos7Guest"),
    (107, "", "centos64Guest"),
    (107, "6", "centos6_64Guest"),
    (107, "7", "centos7_64Guest"),
    (107, "8", "centos8_64Guest"),
    (107, "9", "centos9_64Guest"),
    (108, "", "oracleLinuxGuest"),
    (108, "6", "oracleLinux6Guest"),
    (108, "7", "oracleLinux7Guest"),
    (109, "", "oracleLinux64Guest"),
    (109, "6", "oracleLinux6_64Guest"),
    (109, "7", "oracleLinux7_64Guest"),
    (109, "8", "oracleLinux8_64Guest"),
    (109, "9", "oracleLinux9_64Guest"),
    (109, "10", "oracleLinux10_64Guest"),
    (110, "", "eComStationGuest"),
    (110, "2", "eComStation2Guest"),
    (112, "", "windows8Server64Guest"),
    (115, "", "windows9Server64Guest"),
];

/// The guest id for a CIM OS type and version: the exact version, then its major number, then
/// the type's fallback; `None` when the table has nothing.
pub(crate) fn guest_id_for_cim(cim: u32, version: &str) -> Option<&'static str> {
    let version = version.trim();
    let major = version.split('.').next().unwrap_or("");
    let find = |v: &str| {
        CIM_GUESTS
            .iter()
            .find(|(c, ver, _)| *c == cim && *ver == v)
            .map(|(_, _, g)| *g)
    };
    (!version.is_empty())
        .then(|| find(version))
        .flatten()
        .or_else(|| (!major.is_empty()).then(|| find(major)).flatten())
        .or_else(|| find(""))
}

/// Guest family, as vSphere groups guest ids (`VirtualMachineGuestOsFamily`): from the guest id
/// when it tells, else from the CIM type, else `""`.
pub(crate) fn family(guest_id: &str, cim: Option<u32>) -> String {
    let from_guest = family_of_guest(guest_id);
    let from_cim = cim.and_then(family_of_cim);
    match (from_guest, from_cim) {
        (Some(f), _) | (None, Some(f)) => f.to_string(),
        (None, None) if !guest_id.is_empty() => "Other".to_string(),
        (None, None) => String::new(),
    }
}

/// Guest ids that do not say "linux" but are Linux distributions.
const LINUX_GUESTS: &[&str] = &[
    "ubuntu",
    "debian",
    "rhel",
    "redhat",
    "centos",
    "sles",
    "suse",
    "opensuse",
    "fedora",
    "coreos",
    "photon",
    "vmwarephoton",
    "asianux",
    "mandrake",
    "mandriva",
    "nld",
    "oes",
    "sjds",
    "pardus",
    "almalinux",
    "rockylinux",
    "crxpod",
    "crxsys",
    "fusionos",
    "prolinux",
    "kylinlinux",
    "miraclelinux",
    "amazonlinux",
    "oraclelinux",
];

fn family_of_guest(guest_id: &str) -> Option<&'static str> {
    let g = guest_id.to_ascii_lowercase();
    if g.is_empty() {
        None
    } else if g.starts_with("win") {
        Some("Windows")
    } else if g.contains("linux") || LINUX_GUESTS.iter().any(|p| g.starts_with(p)) {
        Some("Linux")
    } else if g.starts_with("darwin") {
        Some("Darwin")
    } else if g.starts_with("solaris") {
        Some("Solaris")
    } else if g.starts_with("netware") {
        Some("NetWare")
    } else if g.starts_with("other")
        || g.starts_with("dos")
        || g.starts_with("freebsd")
        || g.starts_with("vmkernel")
    {
        Some("Other")
    } else {
        None
    }
}

fn family_of_cim(cim: u32) -> Option<&'static str> {
    Some(match cim {
        0 => return None,
        15..=19 | 58 | 63 | 67 | 69..=77 | 103 | 105 | 111..=115 => "Windows",
        36 | 79 | 80 | 82..=101 | 106..=109 => "Linux",
        2 => "Darwin",
        29 | 81 => "Solaris",
        21 => "NetWare",
        _ => "Other",
    })
}

/// The release a description or product name names: the first word made of dot-separated
/// numbers that is neither a bitness nor a build date (`Ubuntu 22.04 LTS` gives `22.04`,
/// `Ubuntu 24.10 Server (20241109)` gives `24.10`, `Ubuntu Linux (64-bit)` nothing).
pub(crate) fn release_number(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '(' | ')' | ',' | ';' | '[' | ']'))
        .map(|w| w.trim_end_matches('.'))
        .filter(|w| !w.is_empty())
        .find(|w| {
            let parts: Vec<&str> = w.split('.').collect();
            let numeric = parts
                .iter()
                .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
            // A lone number of more than four digits is a serial or date stamp (`20241109`),
            // not a release; four digits still are (`Windows Server 2019`).
            numeric && (parts.len() > 1 || w.len() <= 4)
        })
        .map(str::to_string)
}

/// Product names that name the operating system of a guest id, lowercase: `photon` for
/// `vmwarePhoton64Guest`, `ubuntu` for `ubuntu64Guest`, `windows` for every `win…` id. Empty
/// for generic guests (`otherLinux64Guest`), which name no operating system a product could be.
fn os_names(guest_id: &str) -> Vec<&'static str> {
    let g = guest_id.trim().to_ascii_lowercase();
    let g = g.strip_prefix("vmware").unwrap_or(&g);
    let name_len = g
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(g.len());
    let name = &g[..name_len];
    if name.starts_with("win") {
        return vec!["windows"];
    }
    let aliases: &[(&str, &[&'static str])] = &[
        ("rhel", &["rhel", "red hat enterprise linux"]),
        ("redhat", &["red hat"]),
        ("sles", &["sles", "suse linux enterprise"]),
        ("opensuse", &["opensuse"]),
        ("oraclelinux", &["oracle linux"]),
        ("rockylinux", &["rocky linux"]),
        ("almalinux", &["almalinux", "alma linux"]),
        ("amazonlinux", &["amazon linux"]),
        ("darwin", &["macos", "mac os"]),
        ("vmkernel", &["esxi"]),
        ("photon", &["photon"]),
        ("ubuntu", &["ubuntu"]),
        ("debian", &["debian"]),
        ("centos", &["centos"]),
        ("fedora", &["fedora"]),
        ("coreos", &["coreos", "flatcar"]),
        ("freebsd", &["freebsd"]),
        ("solaris", &["solaris"]),
        ("asianux", &["asianux"]),
    ];
    aliases
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, a)| a.to_vec())
        .unwrap_or_default()
}

/// Whether a ProductSection's product is the guest operating system itself (`Photon OS` on a
/// `vmwarePhoton64Guest`), not software running on it (`VMware vCenter Server Appliance` on
/// the same guest): the product name names the guest's operating system.
pub(crate) fn product_is_os(guest_id: &str, product: &str) -> bool {
    // Lowercase words separated by single spaces, with a leading space, so " ubuntu" matches
    // a word start.
    let mut words = String::from(" ");
    for w in product
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        words.push_str(&w.to_ascii_lowercase());
        words.push(' ');
    }
    os_names(guest_id)
        .iter()
        .any(|name| words.contains(&format!(" {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cim_lookup() {
        assert_eq!(guest_id_for_cim(36, ""), Some("otherLinuxGuest"));
        assert_eq!(guest_id_for_cim(94, "24.10"), Some("ubuntu64Guest"));
        assert_eq!(guest_id_for_cim(80, "7.9"), Some("rhel7_64Guest"));
        assert_eq!(guest_id_for_cim(80, ""), None);
        assert_eq!(guest_id_for_cim(104, "6.5"), Some("vmkernel65Guest"));
        assert_eq!(guest_id_for_cim(104, "6.7"), Some("vmkernel6Guest"));
        assert_eq!(guest_id_for_cim(95, "12"), Some("debian12Guest"));
        assert_eq!(guest_id_for_cim(9999, "1"), None);
    }

    #[test]
    fn families() {
        assert_eq!(family("vmwarePhoton64Guest", Some(36)), "Linux");
        assert_eq!(family("windows9_64Guest", None), "Windows");
        assert_eq!(family("winNetStandardGuest", Some(69)), "Windows");
        assert_eq!(family("other3xLinux64Guest", None), "Linux");
        assert_eq!(family("otherGuest", Some(1)), "Other");
        assert_eq!(family("darwin20_64Guest", None), "Darwin");
        assert_eq!(family("", Some(94)), "Linux");
        assert_eq!(family("", Some(67)), "Windows");
        assert_eq!(family("", None), "");
        assert_eq!(family("", Some(0)), "");
        assert_eq!(family("somethingNew", Some(67)), "Windows");
        assert_eq!(family("somethingNew", None), "Other");
    }

    #[test]
    fn release_numbers() {
        let r = |t| release_number(t);
        assert_eq!(
            r("Ubuntu 24.10 Server (20241109)").as_deref(),
            Some("24.10")
        );
        assert_eq!(r("Ubuntu 22.04 LTS").as_deref(), Some("22.04"));
        assert_eq!(r("Ubuntu Server (20241109)"), None);
        assert_eq!(r("Photon OS"), None);
        assert_eq!(r("Windows Server 2003 SP2").as_deref(), Some("2003"));
    }

    #[test]
    fn products_that_are_the_os() {
        assert!(product_is_os("vmwarePhoton64Guest", "Photon OS"));
        assert!(product_is_os(
            "ubuntu64Guest",
            "Ubuntu 24.10 Server (20241109)"
        ));
        assert!(product_is_os("rhel9_64Guest", "Red Hat Enterprise Linux 9"));
        assert!(product_is_os(
            "windows2019srv_64Guest",
            "Windows Server 2019"
        ));
        // Software on the OS, not the OS.
        assert!(!product_is_os(
            "vmwarePhoton64Guest",
            "VMware vCenter Server Appliance"
        ));
        assert!(!product_is_os(
            "winNetEnterpriseGuest",
            "Microsoft SQL Server 2005"
        ));
        assert!(!product_is_os("ubuntu64Guest", "Bitnami Tomcat Stack"));
        // Generic guests name no OS; a word must start with the name.
        assert!(!product_is_os("otherLinux64Guest", "Other Linux 5.x"));
        assert!(!product_is_os("ubuntu64Guest", "Kubuntu"));
        assert!(!product_is_os("", "Photon OS"));
    }

    #[test]
    fn versions_in_descriptions() {
        assert_eq!(release_number("Ubuntu 22.04 LTS").as_deref(), Some("22.04"));
        assert_eq!(release_number("Ubuntu Linux (64-bit)"), None);
        assert_eq!(release_number("Other 3.x or later Linux (64-bit)"), None);
        assert_eq!(
            release_number("Debian GNU/Linux 12 (bookworm)").as_deref(),
            Some("12")
        );
        assert_eq!(
            release_number("Microsoft Windows Server 2019 (64-bit)").as_deref(),
            Some("2019")
        );
        assert_eq!(release_number("CentOS 4/5/6/7 (64-bit)"), None);
        assert_eq!(release_number("Photon OS 5.0.1.").as_deref(), Some("5.0.1"));
        assert_eq!(release_number(""), None);
    }
}
