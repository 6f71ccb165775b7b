//! OVA archives: a tar stream of the OVF descriptor, an optional manifest (`.mf`) and the
//! files the descriptor references.
//!
//! [`read_ova`] reads the stream once, front to back, and keeps only the descriptor in memory:
//! every other member is hashed as it streams by (or skipped when no manifest line needs it)
//! and nothing is written to disk. Rules:
//!
//! - The descriptor is the member whose name ends in `.ovf`. DSP0243 puts it first; producers
//!   that put it later are accepted. A second `.ovf` member is an error, as the OVA could then
//!   mean two different things.
//! - A manifest (the first `.mf` member) is checked against every member it lists, whatever
//!   the order in the archive; names in it are relative to its own directory. When there is a
//!   manifest it must list the descriptor. Members before the manifest are hashed with every
//!   supported algorithm, since which one the manifest uses is not known yet.
//! - Member names that are absolute or contain `..` make the archive an error: we never report
//!   such a name as a descriptor.

use std::collections::HashSet;
use std::io::{self, Read};

use sha1::Digest;

use super::manifest::{self, Algorithm, MAX_MANIFEST_BYTES, ManifestEntry};
use super::xml::MAX_DESCRIPTOR_BYTES;

/// The OVF descriptor found in an OVA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OvaDescriptor {
    /// The member's path in the archive (`photon.ovf`), without a leading `./`.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Why an OVA could not be read. Each variant has a stable [`OvaError::reason`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OvaError {
    /// A tar or I/O error; `member` names the member being read when there was one.
    #[error("OVA is not a readable tar stream: {message}")]
    Unreadable {
        member: Option<String>,
        message: String,
    },
    #[error("OVA member name {name:?} is refused: {problem}")]
    UnsafeMemberName { name: String, problem: String },
    #[error("OVA holds no OVF descriptor (no member ends in .ovf)")]
    NoDescriptor,
    #[error("OVA holds two OVF descriptors, {first:?} and {second:?}")]
    MultipleDescriptors { first: String, second: String },
    #[error(
        "OVF descriptor {name:?} in the OVA is {size} bytes, larger than the limit of {limit} bytes"
    )]
    DescriptorTooLarge { name: String, size: u64, limit: u64 },
    #[error("manifest {name:?} in the OVA is {size} bytes, larger than the limit of {limit} bytes")]
    ManifestTooLarge { name: String, size: u64, limit: u64 },
    #[error("manifest {name:?} in the OVA is invalid: {message}")]
    ManifestInvalid { name: String, message: String },
    #[error(
        "{algorithm} digest of OVA member {member:?} is {actual}, but manifest {manifest:?} (line {line}) \
         says {expected}"
    )]
    DigestMismatch {
        member: String,
        algorithm: Algorithm,
        expected: String,
        actual: String,
        manifest: String,
        line: usize,
    },
    #[error("manifest {manifest:?} (line {line}) lists {member:?}, which the OVA does not hold")]
    ManifestMemberMissing {
        member: String,
        manifest: String,
        line: usize,
    },
    #[error("manifest {manifest:?} does not list the OVF descriptor {descriptor:?}")]
    DescriptorNotInManifest {
        descriptor: String,
        manifest: String,
    },
}

impl OvaError {
    /// Stable reason used in conditions, events and metric labels.
    pub fn reason(&self) -> &'static str {
        match self {
            OvaError::Unreadable { .. } => "OvaUnreadable",
            OvaError::UnsafeMemberName { .. } => "OvaUnsafeMemberName",
            OvaError::NoDescriptor => "OvaNoDescriptor",
            OvaError::MultipleDescriptors { .. } => "OvaMultipleDescriptors",
            OvaError::DescriptorTooLarge { .. } => "OvaDescriptorTooLarge",
            OvaError::ManifestTooLarge { .. } => "OvaManifestTooLarge",
            OvaError::ManifestInvalid { .. } => "OvaManifestInvalid",
            OvaError::DigestMismatch { .. } => "OvaDigestMismatch",
            OvaError::ManifestMemberMissing { .. } => "OvaManifestMemberMissing",
            OvaError::DescriptorNotInManifest { .. } => "OvaDescriptorNotInManifest",
        }
    }
}

/// Reads an OVA stream: returns its descriptor after checking the manifest, if any.
pub fn read_ova<R: Read>(reader: R) -> Result<OvaDescriptor, OvaError> {
    let mut archive = tar::Archive::new(reader);
    let mut state = State::default();
    let entries = archive.entries().map_err(|e| unreadable(None, &e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| unreadable(None, &e))?;
        let Some(name) = member_name(&entry.path_bytes())? else {
            continue;
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".ovf") {
            if let Some((first, _)) = &state.descriptor {
                return Err(OvaError::MultipleDescriptors {
                    first: first.clone(),
                    second: name,
                });
            }
            let size = entry.size();
            if size > MAX_DESCRIPTOR_BYTES {
                return Err(OvaError::DescriptorTooLarge {
                    name,
                    size,
                    limit: MAX_DESCRIPTOR_BYTES,
                });
            }
            let bytes = read_all(&mut entry, &name)?;
            let algorithms = state.algorithms_for(&name);
            state.record(
                &name,
                hash(&mut bytes.as_slice(), &algorithms)
                    .map_err(|e| unreadable(Some(&name), &e))?,
            )?;
            state.descriptor = Some((name, bytes));
        } else if lower.ends_with(".mf") {
            if let Some(m) = &state.manifest {
                let message = format!("a second manifest; {:?} came first", m.name);
                return Err(OvaError::ManifestInvalid { name, message });
            }
            let size = entry.size();
            if size > MAX_MANIFEST_BYTES {
                return Err(OvaError::ManifestTooLarge {
                    name,
                    size,
                    limit: MAX_MANIFEST_BYTES,
                });
            }
            let bytes = read_all(&mut entry, &name)?;
            state.set_manifest(name, &bytes)?;
        } else {
            let algorithms = state.algorithms_for(&name);
            state.seen.insert(name.clone());
            if !algorithms.is_empty() {
                let digests =
                    hash(&mut entry, &algorithms).map_err(|e| unreadable(Some(&name), &e))?;
                state.record(&name, digests)?;
            }
        }
    }
    state.finish()
}

/// A member's digests, one per algorithm.
type Digests = Vec<(Algorithm, Vec<u8>)>;

#[derive(Default)]
struct State {
    descriptor: Option<(String, Vec<u8>)>,
    manifest: Option<Manifest>,
    /// Members hashed before the manifest arrived, with every algorithm.
    early: Vec<(String, Digests)>,
    /// Regular-file members seen.
    seen: HashSet<String>,
}

struct Manifest {
    name: String,
    /// Entries with names resolved against the manifest's directory.
    entries: Vec<ManifestEntry>,
}

impl State {
    fn algorithms_for(&self, member: &str) -> Vec<Algorithm> {
        match &self.manifest {
            None => Algorithm::ALL.to_vec(),
            Some(m) => {
                let mut algs: Vec<Algorithm> = m
                    .entries
                    .iter()
                    .filter(|e| e.name == member)
                    .map(|e| e.algorithm)
                    .collect();
                algs.sort();
                algs.dedup();
                algs
            }
        }
    }

    fn record(&mut self, member: &str, digests: Digests) -> Result<(), OvaError> {
        self.seen.insert(member.to_string());
        match &self.manifest {
            Some(m) => m.verify(member, &digests),
            None => {
                self.early.push((member.to_string(), digests));
                Ok(())
            }
        }
    }

    fn set_manifest(&mut self, name: String, bytes: &[u8]) -> Result<(), OvaError> {
        let invalid = |message: String| OvaError::ManifestInvalid {
            name: name.clone(),
            message,
        };
        let text = std::str::from_utf8(bytes).map_err(|e| invalid(format!("not UTF-8 ({e})")))?;
        let mut entries = manifest::parse_manifest(text).map_err(|e| invalid(e.to_string()))?;
        if let Some((dir, _)) = name.rsplit_once('/') {
            for e in &mut entries {
                e.name = format!("{dir}/{}", e.name);
            }
        }
        let m = Manifest { name, entries };
        for (member, digests) in std::mem::take(&mut self.early) {
            m.verify(&member, &digests)?;
        }
        self.manifest = Some(m);
        Ok(())
    }

    fn finish(self) -> Result<OvaDescriptor, OvaError> {
        let (name, bytes) = self.descriptor.ok_or(OvaError::NoDescriptor)?;
        if let Some(m) = &self.manifest {
            if let Some(e) = m.entries.iter().find(|e| !self.seen.contains(&e.name)) {
                return Err(OvaError::ManifestMemberMissing {
                    member: e.name.clone(),
                    manifest: m.name.clone(),
                    line: e.line,
                });
            }
            if !m.entries.iter().any(|e| e.name == name) {
                return Err(OvaError::DescriptorNotInManifest {
                    descriptor: name,
                    manifest: m.name.clone(),
                });
            }
        }
        Ok(OvaDescriptor { name, bytes })
    }
}

impl Manifest {
    fn verify(&self, member: &str, digests: &[(Algorithm, Vec<u8>)]) -> Result<(), OvaError> {
        for e in self.entries.iter().filter(|e| e.name == member) {
            let Some((_, actual)) = digests.iter().find(|(a, _)| *a == e.algorithm) else {
                continue;
            };
            if *actual != e.digest {
                return Err(OvaError::DigestMismatch {
                    member: member.to_string(),
                    algorithm: e.algorithm,
                    expected: hex::encode(&e.digest),
                    actual: hex::encode(actual),
                    manifest: self.name.clone(),
                    line: e.line,
                });
            }
        }
        Ok(())
    }
}

/// The member's path without leading `./`; `None` for the archive root (`./`). Unsafe or
/// non-UTF-8 names are errors.
fn member_name(raw: &[u8]) -> Result<Option<String>, OvaError> {
    let name = std::str::from_utf8(raw).map_err(|_| OvaError::UnsafeMemberName {
        name: String::from_utf8_lossy(raw).into_owned(),
        problem: "the name is not UTF-8".into(),
    })?;
    let mut trimmed = name;
    while let Some(rest) = trimmed.strip_prefix("./") {
        trimmed = rest;
    }
    let trimmed = trimmed.trim_end_matches('/');
    if trimmed.is_empty() || trimmed == "." {
        return Ok(None);
    }
    manifest::check_name(trimmed).map_err(|problem| OvaError::UnsafeMemberName {
        name: name.to_string(),
        problem,
    })?;
    Ok(Some(trimmed.to_string()))
}

fn read_all(entry: &mut impl Read, name: &str) -> Result<Vec<u8>, OvaError> {
    let mut bytes = Vec::new();
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| unreadable(Some(name), &e))?;
    Ok(bytes)
}

fn unreadable(member: Option<&str>, e: &io::Error) -> OvaError {
    let message = match member {
        Some(m) => format!("member {m:?}: {e}"),
        None => e.to_string(),
    };
    OvaError::Unreadable {
        member: member.map(str::to_string),
        message,
    }
}

enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

/// Streams `reader` through the hashers in 64 KiB chunks (disks are never held in memory).
fn hash(reader: &mut impl Read, algorithms: &[Algorithm]) -> io::Result<Digests> {
    let mut hashers: Vec<Hasher> = algorithms
        .iter()
        .map(|a| match a {
            Algorithm::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Algorithm::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Algorithm::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        })
        .collect();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        for h in &mut hashers {
            match h {
                Hasher::Sha1(h) => h.update(&buf[..n]),
                Hasher::Sha256(h) => h.update(&buf[..n]),
                Hasher::Sha512(h) => h.update(&buf[..n]),
            }
        }
    }
    Ok(algorithms
        .iter()
        .zip(hashers)
        .map(|(a, h)| {
            let digest = match h {
                Hasher::Sha1(h) => h.finalize().to_vec(),
                Hasher::Sha256(h) => h.finalize().to_vec(),
                Hasher::Sha512(h) => h.finalize().to_vec(),
            };
            (*a, digest)
        })
        .collect())
}
