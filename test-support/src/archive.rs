//! Archives as an attacker or a broken tool writes them, for the OVA tests: member names are
//! written raw into the header (`../x`, `/etc/passwd`), which `tar::Builder` would refuse.

use std::io::Read;

use sha1::{Digest, Sha1};

/// A GNU header with `name` copied verbatim.
pub fn header(name: &str, size: u64, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(kind);
    let raw = &mut h.as_gnu_mut().unwrap().name;
    raw[..name.len()].copy_from_slice(name.as_bytes());
    h.set_cksum();
    h
}

/// A tar of regular files, in this order, names verbatim.
pub fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        b.append(
            &header(name, data.len() as u64, tar::EntryType::Regular),
            *data,
        )
        .unwrap();
    }
    b.into_inner().unwrap()
}

/// A manifest line in the `SHA1(name)= hex` form.
pub fn sha1_line(name: &str, data: &[u8]) -> String {
    format!("SHA1({name})= {}\n", hex::encode(Sha1::digest(data)))
}

/// The descriptor (first `.ovf` member) of an OVA, read with tar directly, not with the code
/// under test.
pub fn descriptor_in(ova: &[u8]) -> Vec<u8> {
    let mut archive = tar::Archive::new(ova);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry
            .path()
            .unwrap()
            .extension()
            .is_some_and(|e| e == "ovf")
        {
            let mut out = Vec::new();
            entry.read_to_end(&mut out).unwrap();
            return out;
        }
    }
    panic!("no .ovf member in the OVA");
}
