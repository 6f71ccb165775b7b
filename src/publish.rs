//! `vmi-operator publish DIR`: publishes a folder of OVF/OVA templates in the vSphere
//! subscription format (see [`crate::source::published::format`]), so any web server, bucket or
//! directory can serve it to vCenter subscribers and to this operator (`spec.source`).
//!
//! Layout written into DIR, next to the templates:
//!
//! ```text
//! DIR/lib.json  DIR/items.json
//! DIR/<name>/item.json           one folder per template, named after it
//! DIR/<name>/<files>             hard links to the template's files (copies where linking fails)
//! ```
//!
//! - Templates are the top-level `*.ova` files (one file each, kept whole) and `*.ovf` files
//!   with the files their `References` name plus `<name>.mf` and `<name>.cert` when present.
//!   A referenced file that is missing is left out with a warning (the descriptor alone is what
//!   image metadata needs; vCenter would not deploy such an item).
//! - Item ids are UUIDv5 (SHA-1, RFC 4122 §4.3) of the template's file name in the library's
//!   UUID namespace: republishing, or publishing the same folder elsewhere with the same library
//!   id, keeps them.
//! - Each file's `etag` is its SHA-256. An item's `version` and `contentVersion` go up by one
//!   when its files (names, sizes, etags) change; `lib.json`'s `version` when any item is added,
//!   changed or removed. Files whose size and mtime (`generationNum`, ns) are unchanged keep
//!   their previous etag without being hashed again, unless `rehash` is set.
//! - Items of a template that is gone are removed, with their folder.
//! - `item.json`s are written first, then `items.json`, then `lib.json`, each atomically
//!   (temporary file and rename), so a reader never sees a half-written document.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde_json::json;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::source::MAX_DESCRIPTOR_BYTES;
use crate::source::published::format::{
    self, File, ITEM_FILE, ITEMS_FILE, Item, Items, LIB_FILE, Lib,
};

/// What to publish as.
#[derive(Clone, Debug, Default)]
pub struct PublishOptions {
    /// Library name. Default: the existing `lib.json`'s, else the directory's name.
    pub name: Option<String>,
    /// Library UUID for a new library (default: random). Must match an existing `lib.json`.
    pub library_id: Option<String>,
    /// Hash every file again even when its size and mtime are unchanged.
    pub rehash: bool,
}

/// What a publish did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishSummary {
    pub library_id: String,
    pub name: String,
    /// `lib.json`'s version after publishing.
    pub version: String,
    /// Whether anything changed compared with the previous publish.
    pub changed: bool,
    /// The published items, by name.
    pub items: Vec<PublishedItem>,
    /// Items of a previous publish whose template is gone.
    pub removed: Vec<PublishedItem>,
    /// Things left out (e.g. a referenced file that does not exist).
    pub warnings: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedItem {
    pub id: String,
    pub name: String,
    pub version: String,
    pub content_version: String,
    pub change: ItemChange,
    /// File names, relative to the item folder.
    pub files: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemChange {
    Added,
    Changed,
    Unchanged,
    Removed,
}

/// Why publishing failed. Nothing is half-written: documents are replaced atomically, and a
/// failure before `lib.json` is written leaves the previous listing in force.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("{path} is not a valid {what}: {message}")]
    Existing {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
    #[error("template {path}: {message}")]
    Template { path: PathBuf, message: String },
    #[error("templates {first} and {second} would both publish as item {name:?}")]
    DuplicateName {
        name: String,
        first: PathBuf,
        second: PathBuf,
    },
    #[error("{0}")]
    Conflict(String),
}

impl PublishError {
    /// Stable reason, as for the other error types.
    pub fn reason(&self) -> &'static str {
        match self {
            PublishError::Io { .. } => "PublishIOError",
            PublishError::Existing { .. } => "PublishExistingInvalid",
            PublishError::Template { .. } => "PublishInvalidTemplate",
            PublishError::DuplicateName { .. } => "PublishDuplicateName",
            PublishError::Conflict(_) => "PublishConflict",
        }
    }
}

fn io_err(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> PublishError + use<> {
    let path = path.to_path_buf();
    move |source| PublishError::Io {
        action,
        path,
        source,
    }
}

/// Characters escaped in hrefs (path segments of a URL).
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'?')
    .add(b'<')
    .add(b'>')
    .add(b'`');

/// One template found in the directory.
struct Template {
    /// The template's file name (`photon5.ovf`): the item id is derived from it.
    file_name: String,
    /// Item and folder name: the file name without extension.
    name: String,
    /// Files of the item: (path inside the item folder, source path).
    files: Vec<(String, PathBuf)>,
    is_vapp: bool,
}

/// Publishes `dir`'s templates into `dir` (see the module documentation).
pub fn publish_dir(dir: &Path, opts: PublishOptions) -> Result<PublishSummary, PublishError> {
    let dir = fs::canonicalize(dir).map_err(io_err("open", dir))?;
    let old_lib: Option<Lib> = read_json(&dir.join(LIB_FILE), "lib.json")?;
    let old_items: Vec<Item> = read_json::<Items>(&dir.join(ITEMS_FILE), "items.json")?
        .map(|i| i.items)
        .unwrap_or_default();
    let library_id = library_id(old_lib.as_ref(), opts.library_id.as_deref())?;
    let name = opts
        .name
        .clone()
        .or_else(|| {
            old_lib
                .as_ref()
                .map(|l| l.name.clone())
                .filter(|n| !n.is_empty())
        })
        .unwrap_or_else(|| {
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "library".into())
        });

    let mut warnings = Vec::new();
    let templates = scan(&dir, &mut warnings)?;
    let old_by_id: HashMap<String, &Item> = old_items
        .iter()
        .map(|i| (format::strip_urn(&i.id), i))
        .collect();
    let now = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string();

    let mut items = Vec::new();
    let mut published = Vec::new();
    for t in &templates {
        let id = item_uuid(&library_id, &t.file_name);
        let old = old_by_id.get(&id).copied();
        let (item, change) = publish_item(&dir, &library_id, &id, t, old, &now, opts.rehash)?;
        published.push(PublishedItem {
            id: id.clone(),
            name: t.name.clone(),
            version: item.version.clone(),
            content_version: item.content_version.clone().unwrap_or_default(),
            change,
            files: t.files.iter().map(|(rel, _)| rel.clone()).collect(),
        });
        items.push(item);
    }

    let kept: HashSet<&str> = published.iter().map(|p| p.id.as_str()).collect();
    // A template replaced by one of another kind (`a.ova` by `a.ovf`) is a new item in the
    // same folder: that folder now belongs to the new item and stays.
    let folders: HashSet<String> = templates.iter().map(|t| t.name.to_lowercase()).collect();
    let mut removed = Vec::new();
    for old in &old_items {
        let id = format::strip_urn(&old.id);
        if kept.contains(id.as_str()) {
            continue;
        }
        remove_item_folder(&dir, old, &folders)?;
        removed.push(PublishedItem {
            id,
            name: old.name.clone(),
            version: old.version.clone(),
            content_version: old.content_version.clone().unwrap_or_default(),
            change: ItemChange::Removed,
            files: Vec::new(),
        });
    }

    let changed = old_lib.is_none()
        || !removed.is_empty()
        || published.iter().any(|p| p.change != ItemChange::Unchanged)
        || old_lib.as_ref().is_some_and(|l| l.name != name);
    let old_version = old_lib
        .as_ref()
        .and_then(|l| l.version.parse::<u64>().ok())
        .unwrap_or(0);
    let version = if changed {
        old_version + 1
    } else {
        old_version.max(1)
    }
    .to_string();
    let lib = Lib {
        vcsp_version: format::VCSP_VERSION.into(),
        version: version.clone(),
        content_version: "1".into(),
        name: name.clone(),
        id: format!("urn:uuid:{library_id}"),
        created: old_lib
            .as_ref()
            .map(|l| l.created.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| now.clone()),
        capabilities: json!({ "transferIn": ["httpGet"], "transferOut": ["httpGet"] }),
        items_href: ITEMS_FILE.into(),
        description: old_lib
            .as_ref()
            .map(|l| l.description.clone())
            .unwrap_or_default(),
        extra: old_lib.map(|l| l.extra).unwrap_or_default(),
    };
    write_json(
        &dir.join(ITEMS_FILE),
        &Items {
            items,
            extra: Default::default(),
        },
    )?;
    write_json(&dir.join(LIB_FILE), &lib)?;
    published.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(PublishSummary {
        library_id,
        name,
        version,
        changed,
        items: published,
        removed,
        warnings,
    })
}

fn library_id(old: Option<&Lib>, wanted: Option<&str>) -> Result<String, PublishError> {
    let parse = |s: &str| {
        uuid::Uuid::parse_str(&format::strip_urn(s))
            .map(|u| u.hyphenated().to_string())
            .map_err(|e| PublishError::Conflict(format!("library id {s:?} is not a UUID: {e}")))
    };
    match (
        old.map(|l| parse(&l.id)).transpose()?,
        wanted.map(parse).transpose()?,
    ) {
        (Some(old), Some(wanted)) if old != wanted => Err(PublishError::Conflict(format!(
            "lib.json already holds library {old}; refusing to publish it as {wanted}"
        ))),
        (Some(old), _) => Ok(old),
        (None, Some(wanted)) => Ok(wanted),
        (None, None) => Ok(uuid::Uuid::new_v4().hyphenated().to_string()),
    }
}

/// UUIDv5 of `name` in the namespace `library_id` (RFC 4122 §4.3, SHA-1).
pub fn item_uuid(library_id: &str, name: &str) -> String {
    let namespace = uuid::Uuid::parse_str(library_id).unwrap_or_default();
    let mut hash = Sha1::new();
    hash.update(namespace.as_bytes());
    hash.update(name.as_bytes());
    let digest = hash.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x50;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes).hyphenated().to_string()
}

/// The templates at the top of `dir`, sorted by file name.
fn scan(dir: &Path, warnings: &mut Vec<String>) -> Result<Vec<Template>, PublishError> {
    let mut templates: Vec<Template> = Vec::new();
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(io_err("list", dir))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io_err("list", dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let Some(file_name) = entry.file_name().to_str().map(str::to_string) else {
            continue;
        };
        let Some((stem, ext)) = file_name.rsplit_once('.') else {
            continue;
        };
        let ext = ext.to_ascii_lowercase();
        if stem.is_empty() || stem.starts_with('.') || !(ext == "ova" || ext == "ovf") {
            continue;
        }
        if !fs::metadata(&path)
            .map_err(io_err("inspect", &path))?
            .is_file()
        {
            continue;
        }
        let template = if ext == "ova" {
            ova_template(&path, &file_name, stem)?
        } else {
            ovf_template(dir, &path, &file_name, stem, warnings)?
        };
        if let Some(first) = templates
            .iter()
            .find(|t| t.name.eq_ignore_ascii_case(&template.name))
        {
            return Err(PublishError::DuplicateName {
                name: template.name.clone(),
                first: dir.join(&first.file_name),
                second: path,
            });
        }
        templates.push(template);
    }
    Ok(templates)
}

fn ova_template(path: &Path, file_name: &str, stem: &str) -> Result<Template, PublishError> {
    let file = fs::File::open(path).map_err(io_err("open", path))?;
    // A broken OVA (or one failing its own manifest) is not published: subscribers would only
    // learn it on deploy.
    let ova = crate::ovf::ova::read_ova(io::BufReader::new(file)).map_err(|e| {
        PublishError::Template {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    })?;
    let is_vapp = crate::ovf::parse_envelope(&ova.bytes)
        .map(|e| e.in_collection)
        .unwrap_or(false);
    Ok(Template {
        file_name: file_name.to_string(),
        name: stem.to_string(),
        files: vec![(file_name.to_string(), path.to_path_buf())],
        is_vapp,
    })
}

fn ovf_template(
    dir: &Path,
    path: &Path,
    file_name: &str,
    stem: &str,
    warnings: &mut Vec<String>,
) -> Result<Template, PublishError> {
    let bad = |message: String| PublishError::Template {
        path: path.to_path_buf(),
        message,
    };
    let mut bytes = Vec::new();
    fs::File::open(path)
        .map_err(io_err("open", path))?
        .take(MAX_DESCRIPTOR_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err("read", path))?;
    if bytes.len() as u64 > MAX_DESCRIPTOR_BYTES {
        return Err(bad(format!("larger than {MAX_DESCRIPTOR_BYTES} bytes")));
    }
    let envelope = crate::ovf::parse_envelope(&bytes).map_err(|e| bad(e.to_string()))?;
    let mut files = vec![(file_name.to_string(), path.to_path_buf())];
    for reference in &envelope.references {
        let href = reference.href.as_str();
        if href.contains("://")
            || href.starts_with('/')
            || href.contains('\\')
            || href.split('/').any(|s| s == "..")
        {
            warnings.push(format!(
                "{file_name}: file {href:?} is not a relative path inside the folder; left out"
            ));
            continue;
        }
        let source = dir.join(href);
        if !source.is_file() {
            warnings.push(format!(
                "{file_name}: referenced file {href} does not exist; left out"
            ));
            continue;
        }
        if !files.iter().any(|(rel, _)| rel == href) {
            files.push((href.to_string(), source));
        }
    }
    for ext in ["mf", "cert"] {
        let companion = format!("{stem}.{ext}");
        let source = dir.join(&companion);
        if source.is_file() && !files.iter().any(|(rel, _)| *rel == companion) {
            files.push((companion, source));
        }
    }
    Ok(Template {
        file_name: file_name.to_string(),
        name: stem.to_string(),
        files,
        is_vapp: envelope.in_collection,
    })
}

/// Writes one item's folder and `item.json`; returns the item and how it changed.
fn publish_item(
    dir: &Path,
    library_id: &str,
    id: &str,
    t: &Template,
    old: Option<&Item>,
    now: &str,
    rehash: bool,
) -> Result<(Item, ItemChange), PublishError> {
    let folder = dir.join(&t.name);
    claim_folder(&folder, old)?;
    let old_files: HashMap<&str, &File> = old
        .and_then(|o| o.files.as_ref())
        .map(|fs| fs.iter().map(|f| (f.name.as_str(), f)).collect())
        .unwrap_or_default();
    let mut files = Vec::new();
    for (rel, source) in &t.files {
        let meta = fs::metadata(source).map_err(io_err("inspect", source))?;
        let generation = meta
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(meta.mtime_nsec());
        let previous = old_files.get(rel.as_str()).filter(|f| {
            !rehash
                && f.size == meta.len()
                && f.generation_num == Some(generation)
                && !f.etag.is_empty()
        });
        let etag = match previous {
            Some(f) => f.etag.clone(),
            None => sha256_file(source)?,
        };
        place(source, &folder.join(rel))?;
        files.push(File {
            name: rel.clone(),
            size: meta.len(),
            etag,
            generation_num: Some(generation),
            hrefs: vec![href(&t.name, rel)],
            extra: Default::default(),
        });
    }
    remove_stale(&folder, &t.files)?;

    let same_content = old.is_some_and(|o| {
        let key = |f: &File| (f.name.clone(), f.size, f.etag.clone());
        let before: HashSet<_> = o.files.iter().flatten().map(key).collect();
        let after: HashSet<_> = files.iter().map(key).collect();
        before == after
    });
    let bump = |v: Option<&String>| v.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) + 1;
    let (version, content_version, change) = match old {
        Some(o) if same_content => (
            o.version.clone(),
            o.content_version
                .clone()
                .unwrap_or_else(|| o.version.clone()),
            ItemChange::Unchanged,
        ),
        Some(o) => (
            bump(Some(&o.version)).to_string(),
            bump(o.content_version.as_ref().or(Some(&o.version))).to_string(),
            ItemChange::Changed,
        ),
        None => ("1".to_string(), "1".to_string(), ItemChange::Added),
    };
    let mut extra = old.map(|o| o.extra.clone()).unwrap_or_default();
    // VMware's publisher adds this so a subscribing vCenter shows the item as an OVF template.
    extra.insert(
        "metadata".into(),
        json!([{
            "key": "type-metadata",
            "value": json!({
                "id": format!("urn:uuid:{id}"), "version": version, "libraryIdParent": format!("urn:uuid:{library_id}"),
                "isVappTemplate": t.is_vapp.to_string(), "vmTemplate": null, "vappTemplate": null,
                "networks": [], "storagePolicyGroups": null,
            }).to_string(),
            "type": "String", "domain": "SYSTEM", "visibility": "READONLY",
        }]),
    );
    let item = Item {
        created: old
            .map(|o| o.created.clone())
            .filter(|c| !c.is_empty())
            .unwrap_or_else(|| now.to_string()),
        description: old.map(|o| o.description.clone()).unwrap_or_default(),
        version,
        content_version: Some(content_version),
        files: Some(files),
        id: format!("urn:uuid:{id}"),
        name: t.name.clone(),
        properties: old
            .map(|o| o.properties.clone())
            .filter(|p| !p.is_null())
            .unwrap_or_else(|| json!({})),
        self_href: href(&t.name, ITEM_FILE),
        item_type: format::TYPE_OVF.into(),
        extra,
    };
    write_json(&folder.join(ITEM_FILE), &item)?;
    Ok((item, change))
}

fn href(folder: &str, rel: &str) -> String {
    std::iter::once(folder)
        .chain(rel.split('/'))
        .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
        .collect::<Vec<_>>()
        .join("/")
}

/// The item folder may be created, or taken over when it is ours (it holds an `item.json`, or
/// the previous publish put this item there); anything else there is someone else's.
fn claim_folder(folder: &Path, old: Option<&Item>) -> Result<(), PublishError> {
    match fs::symlink_metadata(folder) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir(folder).map_err(io_err("create", folder))
        }
        Err(e) => Err(io_err("inspect", folder)(e)),
        Ok(meta) if meta.is_dir() && (folder.join(ITEM_FILE).exists() || old.is_some()) => Ok(()),
        Ok(_) => Err(PublishError::Conflict(format!(
            "{} exists and is not an item folder of this library; move it away to publish",
            folder.display()
        ))),
    }
}

/// Puts `source` at `dest`: a hard link (no copy of multi-GiB disks), else a copy.
fn place(source: &Path, dest: &Path) -> Result<(), PublishError> {
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(io_err("create", parent))?;
    }
    let src_meta = fs::metadata(source).map_err(io_err("inspect", source))?;
    if let Ok(dst_meta) = fs::symlink_metadata(dest)
        && dst_meta.dev() == src_meta.dev()
        && dst_meta.ino() == src_meta.ino()
    {
        return Ok(());
    }
    let tmp = dest.with_file_name(format!(
        ".{}.tmp",
        dest.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    let _ = fs::remove_file(&tmp);
    if fs::hard_link(source, &tmp).is_err() {
        fs::copy(source, &tmp).map_err(io_err("copy", source))?;
    }
    fs::rename(&tmp, dest).map_err(io_err("replace", dest))
}

/// Removes files of an item folder that the item no longer has (`item.json` stays; emptied
/// subdirectories are left, harmless).
fn remove_stale(folder: &Path, files: &[(String, PathBuf)]) -> Result<(), PublishError> {
    let keep: HashSet<PathBuf> = files.iter().map(|(rel, _)| folder.join(rel)).collect();
    let mut stack = vec![folder.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).map_err(io_err("list", &d))? {
            let path = entry.map_err(io_err("list", &d))?.path();
            let meta = fs::symlink_metadata(&path).map_err(io_err("inspect", &path))?;
            if meta.is_dir() {
                stack.push(path);
            } else if !keep.contains(&path) && path != folder.join(ITEM_FILE) {
                fs::remove_file(&path).map_err(io_err("remove", &path))?;
            }
        }
    }
    Ok(())
}

/// Removes the folder of an item whose template is gone, if it is one of ours (a direct child
/// of `dir` named by the item's `selfHref`, holding an `item.json`) and no current item uses it.
fn remove_item_folder(
    dir: &Path,
    item: &Item,
    in_use: &HashSet<String>,
) -> Result<(), PublishError> {
    let Some((folder, rest)) = item.self_href.split_once('/') else {
        return Ok(());
    };
    let folder = percent_encoding::percent_decode_str(folder)
        .decode_utf8_lossy()
        .into_owned();
    if rest != ITEM_FILE || folder.is_empty() || folder == ".." || folder.contains(['/', '\\']) {
        return Ok(());
    }
    if in_use.contains(&folder.to_lowercase()) {
        return Ok(());
    }
    let path = dir.join(&folder);
    let is_ours =
        fs::symlink_metadata(&path).is_ok_and(|m| m.is_dir()) && path.join(ITEM_FILE).is_file();
    if is_ours {
        fs::remove_dir_all(&path).map_err(io_err("remove", &path))?;
    }
    Ok(())
}

fn sha256_file(path: &Path) -> Result<String, PublishError> {
    let mut file = fs::File::open(path).map_err(io_err("open", path))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1024 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io_err("read", path))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hex::encode(hash.finalize()))
}

fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &'static str,
) -> Result<Option<T>, PublishError> {
    match fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| PublishError::Existing {
                path: path.to_path_buf(),
                what,
                message: e.to_string(),
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("read", path)(e)),
    }
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<(), PublishError> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("JSON documents serialize");
    bytes.push(b'\n');
    let tmp = path.with_file_name(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default()
    ));
    fs::write(&tmp, &bytes).map_err(io_err("write", &tmp))?;
    fs::rename(&tmp, path).map_err(io_err("replace", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn item_uuid_is_rfc4122_v5() {
        // Python: uuid.uuid5(uuid.NAMESPACE_DNS, "python.org") == 886313e1-3b8a-5372-9b90-0c9aee199e5d
        assert_eq!(
            item_uuid("6ba7b810-9dad-11d1-80b4-00c04fd430c8", "python.org"),
            "886313e1-3b8a-5372-9b90-0c9aee199e5d"
        );
    }

    #[test]
    fn hrefs_are_escaped_per_segment() {
        assert_eq!(
            href("photon 5", "disks/a#1.vmdk"),
            "photon%205/disks/a%231.vmdk"
        );
    }

    #[test]
    fn library_ids() {
        let lib = Lib {
            id: "urn:uuid:AA465152-4ED2-44F5-8FB0-4FAC5E03016A".into(),
            ..Default::default()
        };
        assert_eq!(
            library_id(Some(&lib), None).unwrap(),
            "aa465152-4ed2-44f5-8fb0-4fac5e03016a"
        );
        assert!(library_id(Some(&lib), Some("aa465152-4ed2-44f5-8fb0-4fac5e03016a")).is_ok());
        let err = library_id(Some(&lib), Some("5b3d4a5e-0000-4000-8000-000000000001")).unwrap_err();
        assert_eq!(err.reason(), "PublishConflict");
        assert!(library_id(None, Some("nope")).is_err());
    }
}
