//! Checking an OVF item's descriptor against its manifest (`<name>.mf` next to `<name>.ovf`),
//! with the manifest reader of [`crate::ovf::manifest`].

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

use crate::ovf::manifest::{Algorithm, parse_manifest};

pub(crate) use crate::ovf::manifest::MAX_MANIFEST_BYTES;

/// Checks `bytes` (the content of `file`) against a manifest. A manifest we cannot read, or
/// that lists no digest for the file, fails too: it then proves nothing about the file.
pub(crate) fn against_manifest(manifest: &[u8], file: &str, bytes: &[u8]) -> Result<(), String> {
    let text =
        std::str::from_utf8(manifest).map_err(|_| "the manifest is not UTF-8".to_string())?;
    let entries = parse_manifest(text).map_err(|e| format!("the manifest is invalid: {e}"))?;
    let mut listed = false;
    for entry in entries.iter().filter(|e| e.name == file) {
        listed = true;
        let actual = digest(entry.algorithm, bytes);
        if actual != entry.digest {
            return Err(format!(
                "{file} does not match its manifest (line {}): {} digest is {}, the manifest says {}",
                entry.line,
                entry.algorithm.name(),
                hex::encode(actual),
                hex::encode(&entry.digest)
            ));
        }
    }
    if listed {
        Ok(())
    } else {
        Err(format!("the manifest lists no digest for {file}"))
    }
}

fn digest(algorithm: Algorithm, bytes: &[u8]) -> Vec<u8> {
    match algorithm {
        Algorithm::Sha1 => Sha1::digest(bytes).to_vec(),
        Algorithm::Sha256 => Sha256::digest(bytes).to_vec(),
        Algorithm::Sha512 => Sha512::digest(bytes).to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_both_line_formats() {
        let body = b"<Envelope/>";
        let sha256 = hex::encode(Sha256::digest(body));
        assert!(
            against_manifest(
                format!("SHA256(a.ovf)= {sha256}\n").as_bytes(),
                "a.ovf",
                body
            )
            .is_ok()
        );
        let sha1 = hex::encode(Sha1::digest(body));
        assert!(against_manifest(format!("{sha1}  a.ovf\n").as_bytes(), "a.ovf", body).is_ok());
    }

    #[test]
    fn mismatch_missing_entry_and_garbage_fail() {
        let body = b"<Envelope/>";
        let sha256 = hex::encode(Sha256::digest(body));
        let mf = format!("SHA256(a.ovf)= {sha256}\n");
        let err = against_manifest(mf.as_bytes(), "a.ovf", b"<Envelope x='1'/>").unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        let err = against_manifest(mf.as_bytes(), "b.ovf", body).unwrap_err();
        assert!(err.contains("no digest for b.ovf"), "{err}");
        assert!(against_manifest(b"hello world\n", "a.ovf", body).is_err());
        assert!(against_manifest(&[0xff, 0xfe], "a.ovf", body).is_err());
    }
}
