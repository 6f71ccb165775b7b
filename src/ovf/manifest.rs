//! OVF manifests (`.mf`): one digest per line, in either of the forms producers write.
//!
//! - `SHA256(disk1.vmdk)= 3f…` (OpenSSL `dgst`, what ovftool and vSphere write), also with
//!   spaces as BSD tools write it: `SHA1 (disk1.vmdk) = 3f…`;
//! - `3f…  disk1.vmdk` or `3f… *disk1.vmdk` (coreutils `sha1sum`), the algorithm told by the
//!   digest's length.
//!
//! SHA-1, SHA-256 and SHA-512 are supported (DSP0243 names SHA-1 and SHA-256; ovftool writes
//! SHA-512 too). Names must be relative paths without `..`.

/// Largest manifest read (a line per file: a few hundred bytes in practice).
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
            Algorithm::Sha512 => 64,
        }
    }

    fn from_name(name: &str) -> Option<Algorithm> {
        match name.to_ascii_uppercase().replace('-', "").as_str() {
            "SHA1" => Some(Algorithm::Sha1),
            "SHA256" => Some(Algorithm::Sha256),
            "SHA512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

impl std::fmt::Display for Algorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One manifest line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestEntry {
    /// The file's path as the manifest gives it, without a leading `./`.
    pub name: String,
    pub algorithm: Algorithm,
    pub digest: Vec<u8>,
    /// 1-based line number.
    pub line: usize,
}

/// Why a manifest line could not be read: its number and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ManifestLineError {
    pub line: usize,
    pub message: String,
}

/// Parses a manifest. Blank lines are skipped; any other line that is not a digest is an error.
pub fn parse_manifest(text: &str) -> Result<Vec<ManifestEntry>, ManifestLineError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() {
            continue;
        }
        let err = |message: String| ManifestLineError { line, message };
        let (algorithm, name, hex_digest) = match coreutils_line(l) {
            Some(parts) => parts,
            None => openssl_line(l).map_err(err)?,
        };
        let digest = hex::decode(hex_digest)
            .map_err(|_| err(format!("digest {hex_digest:?} is not hexadecimal")))?;
        if digest.len() != algorithm.digest_len() {
            return Err(err(format!(
                "{} digest {hex_digest:?} has {} bytes",
                algorithm.name(),
                digest.len()
            )));
        }
        let name = name.strip_prefix("./").unwrap_or(name);
        check_name(name).map_err(err)?;
        out.push(ManifestEntry {
            name: name.to_string(),
            algorithm,
            digest,
            line,
        });
    }
    Ok(out)
}

/// `hex  name` / `hex *name`, the algorithm from the digest's length.
fn coreutils_line(l: &str) -> Option<(Algorithm, &str, &str)> {
    let (hex_digest, rest) = l.split_once(|c: char| c.is_ascii_whitespace())?;
    let algorithm = match hex_digest.len() {
        40 => Algorithm::Sha1,
        64 => Algorithm::Sha256,
        128 => Algorithm::Sha512,
        _ => return None,
    };
    if !hex_digest.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let name = rest.trim_start();
    Some((
        algorithm,
        name.strip_prefix('*').unwrap_or(name),
        hex_digest,
    ))
}

/// `ALG(name)= hex`, tolerating spaces around the parentheses and `=`. The name ends at the
/// last `)` followed by `=`, so names may contain parentheses.
fn openssl_line(l: &str) -> Result<(Algorithm, &str, &str), String> {
    let open = l
        .find('(')
        .ok_or_else(|| format!("{l:?} is neither `ALG(name)= digest` nor `digest  name`"))?;
    let alg_name = l[..open].trim();
    let algorithm = Algorithm::from_name(alg_name)
        .ok_or_else(|| format!("unsupported digest algorithm {alg_name:?}"))?;
    let close = l
        .rfind(')')
        .filter(|c| *c > open)
        .ok_or_else(|| format!("{l:?} has no closing parenthesis"))?;
    let digest = l[close + 1..]
        .trim_start()
        .strip_prefix('=')
        .ok_or_else(|| format!("{l:?} has no `=` after the name"))?;
    Ok((algorithm, &l[open + 1..close], digest.trim()))
}

/// A member path is safe to name: relative, no `..` component, no NUL or backslash (which some
/// tools would read as a separator).
pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty file name".into());
    }
    if name.starts_with('/') || name.contains(['\\', '\0']) || name.get(1..2) == Some(":") {
        return Err(format!("file name {name:?} is not a plain relative path"));
    }
    if name.split('/').any(|c| c == "..") {
        return Err(format!(
            "file name {name:?} climbs out of the package with `..`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_line_forms() {
        let text = "SHA1(a.ovf)= 06271f767e0d5671c67e4edeaa2c157cabb66c2b\n\
                    SHA256 (b (1).vmdk) = 3f0000000000000000000000000000000000000000000000000000000000000a\r\n\
                    \n\
                    2b256ff1b92df8faa1b2b2b3aabf36e2b2f2a4d1  disk0.vmdk\n\
                    2B256FF1B92DF8FAA1B2B2B3AABF36E2B2F2A4D1 *./bin.vmdk\n";
        let m = parse_manifest(text).unwrap();
        let names: Vec<_> = m
            .iter()
            .map(|e| (e.name.as_str(), e.algorithm, e.line))
            .collect();
        assert_eq!(
            names,
            [
                ("a.ovf", Algorithm::Sha1, 1),
                ("b (1).vmdk", Algorithm::Sha256, 2),
                ("disk0.vmdk", Algorithm::Sha1, 4),
                ("bin.vmdk", Algorithm::Sha1, 5)
            ]
        );
    }

    #[test]
    fn bad_lines() {
        for (text, want) in [
            ("MD5(a)= 00", "unsupported digest algorithm"),
            ("SHA1(a)= 0011", "has 2 bytes"),
            ("SHA1(a)= zz", "not hexadecimal"),
            ("hello", "neither"),
            (
                "SHA1(../a)= 06271f767e0d5671c67e4edeaa2c157cabb66c2b",
                "climbs out",
            ),
            (
                "06271f767e0d5671c67e4edeaa2c157cabb66c2b  /etc/passwd",
                "not a plain relative path",
            ),
        ] {
            let e = parse_manifest(text).unwrap_err();
            assert!(e.message.contains(want), "{text}: {e}");
            assert_eq!(e.line, 1);
        }
    }
}
