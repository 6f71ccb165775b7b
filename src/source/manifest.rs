//! OVF manifests (`.mf`): the digests a template's files must have.
//!
//! Two line formats exist in the wild: OpenSSL's `SHA256(name.ovf)= hex` (what ovftool and the
//! OVF spec use, also `SHA256 (name.ovf) = hex`) and coreutils' `hex  name.ovf` (where the
//! algorithm follows from the digest's length). Both are read.

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

/// Largest manifest we read: a line per file, so a few KiB in practice.
pub(crate) const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Some(Algorithm::Sha1),
            "SHA256" => Some(Algorithm::Sha256),
            "SHA512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    fn from_hex_len(len: usize) -> Option<Self> {
        match len {
            40 => Some(Algorithm::Sha1),
            64 => Some(Algorithm::Sha256),
            128 => Some(Algorithm::Sha512),
            _ => None,
        }
    }

    fn digest_hex(self, bytes: &[u8]) -> String {
        match self {
            Algorithm::Sha1 => hex::encode(Sha1::digest(bytes)),
            Algorithm::Sha256 => hex::encode(Sha256::digest(bytes)),
            Algorithm::Sha512 => hex::encode(Sha512::digest(bytes)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub file: String,
    pub algorithm: Algorithm,
    /// Lower-case hex.
    pub digest: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Manifest {
    pub entries: Vec<Entry>,
}

impl Manifest {
    /// Parses a manifest. Blank lines are skipped; any other line that is not a digest line
    /// makes the manifest invalid (a manifest we cannot read proves nothing).
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "manifest is not UTF-8".to_string())?;
        let mut entries = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let entry = parse_openssl(line)
                .or_else(|| parse_coreutils(line))
                .ok_or_else(|| format!("manifest line {} is not a digest line", n + 1))?;
            entries.push(entry);
        }
        Ok(Manifest { entries })
    }

    /// Checks `bytes` (the content of `file`) against the manifest. A manifest that lists no
    /// digest for the file fails too: the file is then not covered by it.
    pub(crate) fn verify(&self, file: &str, bytes: &[u8]) -> Result<(), String> {
        let entry = self
            .entries
            .iter()
            .find(|e| e.file == file)
            .ok_or_else(|| format!("the manifest lists no digest for {file}"))?;
        let actual = entry.algorithm.digest_hex(bytes);
        if actual == entry.digest {
            Ok(())
        } else {
            Err(format!(
                "{file} does not match its manifest: {:?} digest is {actual}, the manifest says {}",
                entry.algorithm, entry.digest
            ))
        }
    }
}

/// `SHA256(name)= hex` or `SHA256 (name) = hex`.
fn parse_openssl(line: &str) -> Option<Entry> {
    let (head, digest) = line.rsplit_once('=')?;
    let head = head.trim_end();
    let open = head.find('(')?;
    let name = head.strip_suffix(')')?.get(open + 1..)?;
    let algorithm = Algorithm::from_name(&head[..open])?;
    let digest = normalize_hex(digest.trim())?;
    Some(Entry { file: name.to_string(), algorithm, digest })
}

/// `hex  name` or `hex *name` (binary mode marker).
fn parse_coreutils(line: &str) -> Option<Entry> {
    let (digest, name) = line.split_once(char::is_whitespace)?;
    let digest = normalize_hex(digest)?;
    let algorithm = Algorithm::from_hex_len(digest.len())?;
    let name = name.trim_start();
    let name = name.strip_prefix('*').unwrap_or(name);
    if name.is_empty() {
        return None;
    }
    Some(Entry { file: name.to_string(), algorithm, digest })
}

fn normalize_hex(s: &str) -> Option<String> {
    (!s.is_empty() && s.chars().all(|c| c.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_openssl_lines() {
        let m = Manifest::parse(b"SHA256(a.ovf)= ABCDEF01\nSHA1 (disk 1.vmdk) = 00ff\n\n").unwrap();
        assert_eq!(
            m.entries,
            vec![
                Entry { file: "a.ovf".into(), algorithm: Algorithm::Sha256, digest: "abcdef01".into() },
                Entry { file: "disk 1.vmdk".into(), algorithm: Algorithm::Sha1, digest: "00ff".into() },
            ]
        );
    }

    #[test]
    fn reads_coreutils_lines_of_the_fixture() {
        let text = "7161c3557100c00332fd40f85edfd14071343bc0  ttylinux-pc_i486-16.1.ovf\n\
                    2b256ff1b92df8faa1b2b2b3aabf36e2b2f2a4d1 *disk0.vmdk\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.entries[0].file, "ttylinux-pc_i486-16.1.ovf");
        assert_eq!(m.entries[0].algorithm, Algorithm::Sha1);
        assert_eq!(m.entries[1].file, "disk0.vmdk");
    }

    #[test]
    fn rejects_garbage() {
        assert!(Manifest::parse(b"hello world\n").is_err());
        assert!(Manifest::parse(b"MD5(a.ovf)= 00\n").is_err());
        assert!(Manifest::parse(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn verifies_digests() {
        let body = b"<Envelope/>";
        let sum = hex::encode(Sha256::digest(body));
        let m = Manifest::parse(format!("SHA256(a.ovf)= {sum}\n").as_bytes()).unwrap();
        assert!(m.verify("a.ovf", body).is_ok());
        let err = m.verify("a.ovf", b"<Envelope x='1'/>").unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        let err = m.verify("b.ovf", body).unwrap_err();
        assert!(err.contains("no digest for b.ovf"), "{err}");
        let sum512 = hex::encode(Sha512::digest(body));
        let m = Manifest::parse(format!("{sum512}  a.ovf\n").as_bytes()).unwrap();
        assert!(m.verify("a.ovf", body).is_ok());
    }
}
