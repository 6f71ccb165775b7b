//! OVA reading on archives built in the test: member order, manifests in both line forms,
//! digest mismatches, unsafe names, limits, truncation and streaming of large members.

use std::io::Read;

use sha1::{Digest, Sha1};
use sha2::{Sha256, Sha512};
use vmi_operator::ovf::manifest::Algorithm;
use vmi_operator::ovf::ova::{OvaError, read_ova};
use vmi_test_support::{archive::header, archive::tar};

const OVF: &[u8] = b"<Envelope xmlns=\"http://schemas.dmtf.org/ovf/envelope/1\"/>";
const DISK: &[u8] = b"not really a vmdk";

fn sha1(data: &[u8]) -> String {
    hex::encode(Sha1::digest(data))
}

fn read(members: &[(&str, &[u8])]) -> Result<vmi_operator::ovf::ova::OvaDescriptor, OvaError> {
    read_ova(tar(members).as_slice())
}

#[test]
fn descriptor_first_with_openssl_manifest() {
    let mf = format!(
        "SHA1(a.ovf)= {}\nSHA1(a-disk1.vmdk)= {}\n",
        sha1(OVF),
        sha1(DISK)
    );
    let ova = read(&[
        ("a.ovf", OVF),
        ("a.mf", mf.as_bytes()),
        ("a-disk1.vmdk", DISK),
    ])
    .unwrap();
    assert_eq!((ova.name.as_str(), ova.bytes.as_slice()), ("a.ovf", OVF));
}

#[test]
fn descriptor_and_manifest_anywhere() {
    // Members before the manifest are checked once it arrives.
    let mf = format!("SHA1(a.ovf)= {}\nSHA1(d.vmdk)= {}\n", sha1(OVF), sha1(DISK));
    let ova = read(&[("d.vmdk", DISK), ("a.mf", mf.as_bytes()), ("./a.ovf", OVF)]).unwrap();
    assert_eq!(ova.name, "a.ovf");
    let bad = format!(
        "SHA1(a.ovf)= {}\nSHA1(d.vmdk)= {}\n",
        sha1(OVF),
        sha1(b"other")
    );
    let e = read(&[("d.vmdk", DISK), ("a.ovf", OVF), ("a.mf", bad.as_bytes())]).unwrap_err();
    assert!(
        matches!(&e, OvaError::DigestMismatch { member, line: 2, .. } if member == "d.vmdk"),
        "{e:?}"
    );
}

#[test]
fn manifest_line_forms_and_algorithms() {
    let mf = format!(
        "SHA256(a.ovf)= {}\r\nSHA512 (d.vmdk) = {}\n{}  d.vmdk\n{} *a.ovf\n",
        hex::encode(Sha256::digest(OVF)),
        hex::encode(Sha512::digest(DISK)),
        sha1(DISK),
        hex::encode(Sha256::digest(OVF)).to_uppercase(),
    );
    assert!(read(&[("a.ovf", OVF), ("a.mf", mf.as_bytes()), ("d.vmdk", DISK)]).is_ok());
}

#[test]
fn digest_mismatch_names_the_member() {
    let mf = format!(
        "SHA1(a.ovf)= {}\nSHA1(a-disk1.vmdk)= {}\n",
        sha1(OVF),
        sha1(b"something else")
    );
    let e = read(&[
        ("a.ovf", OVF),
        ("a.mf", mf.as_bytes()),
        ("a-disk1.vmdk", DISK),
    ])
    .unwrap_err();
    assert_eq!(e.reason(), "OvaDigestMismatch");
    let text = e.to_string();
    assert!(
        text.contains("\"a-disk1.vmdk\"") && text.contains("SHA1") && text.contains("line 2"),
        "{text}"
    );
    // The descriptor itself, checked after the manifest.
    let mf = format!("SHA256(a.ovf)= {}\n", hex::encode(Sha256::digest(b"x")));
    let e = read(&[("a.mf", mf.as_bytes()), ("a.ovf", OVF)]).unwrap_err();
    assert!(
        matches!(&e, OvaError::DigestMismatch { member, algorithm, .. } if member == "a.ovf" && *algorithm == Algorithm::Sha256),
        "{e:?}"
    );
}

#[test]
fn manifest_completeness() {
    let mf = format!(
        "SHA1(a.ovf)= {}\nSHA1(gone.vmdk)= {}\n",
        sha1(OVF),
        sha1(DISK)
    );
    let e = read(&[("a.ovf", OVF), ("a.mf", mf.as_bytes())]).unwrap_err();
    assert_eq!(
        e,
        OvaError::ManifestMemberMissing {
            member: "gone.vmdk".into(),
            manifest: "a.mf".into(),
            line: 2
        }
    );
    let mf = format!("SHA1(d.vmdk)= {}\n", sha1(DISK));
    let e = read(&[("a.ovf", OVF), ("a.mf", mf.as_bytes()), ("d.vmdk", DISK)]).unwrap_err();
    assert_eq!(e.reason(), "OvaDescriptorNotInManifest");
    // No manifest: nothing to check.
    assert!(read(&[("a.ovf", OVF), ("d.vmdk", DISK)]).is_ok());
}

#[test]
fn manifest_in_a_directory_names_files_beside_it() {
    let mf = format!("SHA1(a.ovf)= {}\nSHA1(d.vmdk)= {}\n", sha1(OVF), sha1(DISK));
    let ova = read(&[
        ("pkg/a.ovf", OVF),
        ("pkg/a.mf", mf.as_bytes()),
        ("pkg/d.vmdk", DISK),
    ])
    .unwrap();
    assert_eq!(ova.name, "pkg/a.ovf");
}

#[test]
fn invalid_manifests() {
    let e = read(&[("a.ovf", OVF), ("a.mf", b"SHA1(a.ovf)= 1234\n")]).unwrap_err();
    assert!(
        matches!(&e, OvaError::ManifestInvalid { name, message } if name == "a.mf" && message.contains("line 1")),
        "{e:?}"
    );
    let e = read(&[
        ("a.ovf", OVF),
        ("a.mf", b"MD5(a.ovf)= d41d8cd98f00b204e9800998ecf8427e\n"),
    ])
    .unwrap_err();
    assert!(e.to_string().contains("MD5"), "{e}");
    let e = read(&[("a.ovf", OVF), ("a.mf", b"\xff\xfe")]).unwrap_err();
    assert_eq!(e.reason(), "OvaManifestInvalid");
    let two = format!("SHA1(a.ovf)= {}\n", sha1(OVF));
    let e = read(&[
        ("a.ovf", OVF),
        ("a.mf", two.as_bytes()),
        ("b.mf", two.as_bytes()),
    ])
    .unwrap_err();
    assert_eq!(e.reason(), "OvaManifestInvalid");
    // A manifest naming a file outside the package.
    let e = read(&[
        ("a.ovf", OVF),
        (
            "a.mf",
            format!("SHA1(../etc/passwd)= {}\n", sha1(OVF)).as_bytes(),
        ),
    ])
    .unwrap_err();
    assert!(e.to_string().contains(".."), "{e}");
}

#[test]
fn descriptor_presence() {
    assert_eq!(
        read(&[("d.vmdk", DISK)]).unwrap_err(),
        OvaError::NoDescriptor
    );
    assert_eq!(read(&[]).unwrap_err(), OvaError::NoDescriptor);
    let e = read(&[("a.ovf", OVF), ("b.OVF", OVF)]).unwrap_err();
    assert_eq!(
        e,
        OvaError::MultipleDescriptors {
            first: "a.ovf".into(),
            second: "b.OVF".into()
        }
    );
}

#[test]
fn unsafe_member_names_are_refused() {
    for name in [
        "../evil.ovf",
        "/etc/a.ovf",
        "a/../../b.vmdk",
        "a\\..\\b.ovf",
        "C:/x.ovf",
    ] {
        let e = read(&[(name, OVF)]).unwrap_err();
        assert_eq!(e.reason(), "OvaUnsafeMemberName", "{name}: {e}");
    }
}

#[test]
fn non_files_are_ignored() {
    let mut b = tar::Builder::new(Vec::new());
    b.append(&header("./", 0, tar::EntryType::Directory), &[][..])
        .unwrap();
    b.append(&header("link.ovf", 0, tar::EntryType::Symlink), &[][..])
        .unwrap();
    b.append(
        &header("real.ovf", OVF.len() as u64, tar::EntryType::Regular),
        OVF,
    )
    .unwrap();
    let ova = read_ova(b.into_inner().unwrap().as_slice()).unwrap();
    assert_eq!(ova.name, "real.ovf");
}

/// A member header claiming `size` bytes, followed by nothing: the size alone must be refused.
fn claims(name: &str, size: u64) -> Vec<u8> {
    header(name, size, tar::EntryType::Regular)
        .as_bytes()
        .to_vec()
}

#[test]
fn size_limits_are_checked_before_reading() {
    let e = read_ova(claims("big.ovf", 33 << 20).as_slice()).unwrap_err();
    assert_eq!(
        e,
        OvaError::DescriptorTooLarge {
            name: "big.ovf".into(),
            size: 33 << 20,
            limit: 32 << 20
        }
    );
    let mut data = tar(&[("a.ovf", OVF)]);
    data.truncate(data.len() - 1024); // drop the end-of-archive blocks
    data.extend(claims("big.mf", 2 << 20));
    assert_eq!(
        read_ova(data.as_slice()).unwrap_err().reason(),
        "OvaManifestTooLarge"
    );
}

#[test]
fn truncated_and_garbage_archives() {
    let data = tar(&[("a.ovf", OVF), ("d.vmdk", &[7u8; 4096])]);
    let e = read_ova(&data[..512 + 512 + 100]).unwrap_err();
    assert_eq!(e.reason(), "OvaUnreadable", "{e}");
    let e = read_ova(&data[..100]).unwrap_err();
    assert!(
        matches!(e.reason(), "OvaUnreadable" | "OvaNoDescriptor"),
        "{e}"
    );
    let garbage = vec![0x5Au8; 2048];
    let e = read_ova(garbage.as_slice()).unwrap_err();
    assert_eq!(e.reason(), "OvaUnreadable", "{e}");
}

/// A reader that serves `len` zero bytes without holding them.
struct Zeros(u64);

impl Read for Zeros {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(usize::try_from(self.0).unwrap_or(usize::MAX));
        buf[..n].fill(0);
        self.0 -= n as u64;
        Ok(n)
    }
}

#[test]
fn large_members_stream_through() {
    // 96 MiB of disk, generated as it is read: the OVA is never in memory.
    let size: u64 = 96 << 20;
    let mut digest = Sha1::new();
    std::io::copy(&mut Zeros(size), &mut digest).unwrap();
    let mf = format!(
        "SHA1(a.ovf)= {}\nSHA1(d.vmdk)= {}\n",
        sha1(OVF),
        hex::encode(digest.finalize())
    );
    let mut head = tar(&[("a.ovf", OVF), ("a.mf", mf.as_bytes())]);
    head.truncate(head.len() - 1024);
    head.extend(header("d.vmdk", size, tar::EntryType::Regular).as_bytes());
    let stream = head.as_slice().chain(Zeros(size)).chain(&[0u8; 1024][..]);
    let ova = read_ova(stream).unwrap();
    assert_eq!(ova.bytes, OVF);
}

#[test]
fn every_error_has_a_stable_reason() {
    let errors = [
        OvaError::Unreadable {
            member: None,
            message: "m".into(),
        },
        OvaError::UnsafeMemberName {
            name: "n".into(),
            problem: "p".into(),
        },
        OvaError::NoDescriptor,
        OvaError::MultipleDescriptors {
            first: "a".into(),
            second: "b".into(),
        },
        OvaError::DescriptorTooLarge {
            name: "n".into(),
            size: 1,
            limit: 0,
        },
        OvaError::ManifestTooLarge {
            name: "n".into(),
            size: 1,
            limit: 0,
        },
        OvaError::ManifestInvalid {
            name: "n".into(),
            message: "m".into(),
        },
        OvaError::DigestMismatch {
            member: "m".into(),
            algorithm: Algorithm::Sha1,
            expected: "e".into(),
            actual: "a".into(),
            manifest: "a.mf".into(),
            line: 1,
        },
        OvaError::ManifestMemberMissing {
            member: "m".into(),
            manifest: "a.mf".into(),
            line: 1,
        },
        OvaError::DescriptorNotInManifest {
            descriptor: "d".into(),
            manifest: "a.mf".into(),
        },
    ];
    let mut reasons: Vec<&str> = errors.iter().map(OvaError::reason).collect();
    assert!(
        reasons
            .iter()
            .all(|r| r.starts_with("Ova") && r.chars().all(char::is_alphanumeric))
    );
    reasons.sort();
    reasons.dedup();
    assert_eq!(reasons.len(), errors.len(), "reasons must be distinct");
}
