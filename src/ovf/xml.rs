//! Bytes to an XML tree, with the limits that keep hostile input cheap, and namespace-aware
//! look-ups on that tree.

use std::borrow::Cow;

use roxmltree::{Document, Node, ParsingOptions};

use super::OvfError;
use super::MAX_DESCRIPTOR_BYTES;

pub(crate) const OVF1: &str = "http://schemas.dmtf.org/ovf/envelope/1";
pub(crate) const OVF2: &str = "http://schemas.dmtf.org/ovf/envelope/2";
/// VMware's pre-standard OVF 0.9 namespace (`<Section xsi:type="ovf:DiskSection_Type">`).
pub(crate) const OVF09: &str = "http://www.vmware.com/schema/ovf/1/envelope";
pub(crate) const VMW: &str = "http://www.vmware.com/schema/ovf";

/// Most nodes a descriptor may have. Real descriptors have a few thousand (the vCenter
/// appliance about 5,000); this only stops a 32 MiB file of empty elements from costing
/// gigabytes of tree.
pub(crate) const MAX_NODES: u32 = 2_000_000;
/// Deepest element nesting accepted. OVF needs about ten levels (more with nested
/// collections); roxmltree has no depth limit of its own (only u32::MAX), so we set one
/// before walking the tree.
pub(crate) const MAX_DEPTH: usize = 256;

/// The descriptor's text: UTF-8 (with or without a byte-order mark), UTF-16 with a byte-order
/// mark, or ISO-8859-1 when the XML declaration says so.
pub(crate) fn decode(bytes: &[u8]) -> Result<Cow<'_, str>, OvfError> {
    if bytes.len() as u64 > MAX_DESCRIPTOR_BYTES {
        return Err(OvfError::TooLarge {
            size: bytes.len() as u64,
            limit: MAX_DESCRIPTOR_BYTES,
        });
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return utf8(rest, bytes);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFF\xFE") {
        return utf16(rest, u16::from_le_bytes).map(Cow::Owned);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        return utf16(rest, u16::from_be_bytes).map(Cow::Owned);
    }
    utf8(bytes, bytes)
}

fn utf8<'a>(body: &'a [u8], whole: &[u8]) -> Result<Cow<'a, str>, OvfError> {
    match std::str::from_utf8(body) {
        Ok(s) => Ok(Cow::Borrowed(s)),
        Err(e) => match declared_encoding(body).as_deref() {
            // ISO-8859-1 maps each byte to the code point of the same value.
            Some("iso-8859-1" | "latin1" | "latin-1" | "l1") => {
                Ok(Cow::Owned(body.iter().map(|&b| char::from(b)).collect()))
            }
            Some(other) if !other.starts_with("utf") && other != "us-ascii" => {
                Err(OvfError::UnsupportedEncoding(other.to_string()))
            }
            _ => {
                let offset = e.valid_up_to() + (whole.len() - body.len());
                let line = 1 + body[..e.valid_up_to()]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count();
                Err(OvfError::InvalidUtf8 {
                    offset,
                    line: saturate(line),
                })
            }
        },
    }
}

fn utf16(body: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String, OvfError> {
    if !body.len().is_multiple_of(2) {
        return Err(OvfError::UnsupportedEncoding(
            "UTF-16 text with an odd number of bytes".into(),
        ));
    }
    let units = body.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    char::decode_utf16(units)
        .collect::<Result<String, _>>()
        .map_err(|e| {
            OvfError::UnsupportedEncoding(format!(
                "invalid UTF-16 (unpaired surrogate {:#x})",
                e.unpaired_surrogate()
            ))
        })
}

/// The `encoding` of the XML declaration, lower-cased, if the text starts with one.
fn declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(200)];
    let end = head.windows(2).position(|w| w == b"?>")?;
    let decl = std::str::from_utf8(&head[..end])
        .ok()?
        .strip_prefix("<?xml")?;
    let rest = &decl[decl.find("encoding")? + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..];
    Some(value[..value.find(quote)?].trim().to_ascii_lowercase())
}

/// Parses the text with DTDs refused and the node and depth limits applied.
pub(crate) fn parse(text: &str) -> Result<Document<'_>, OvfError> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    let doc = Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => {
            let at = text.find("<!DOCTYPE").unwrap_or(0);
            OvfError::DtdRefused {
                line: line_at(text, at),
            }
        }
        roxmltree::Error::NodesLimitReached => OvfError::TooManyNodes { limit: MAX_NODES },
        other => {
            let pos = other.pos();
            OvfError::NotXml {
                line: pos.row,
                column: pos.col,
                message: other.to_string(),
            }
        }
    })?;
    check_depth(&doc, text)?;
    Ok(doc)
}

fn check_depth(doc: &Document<'_>, text: &str) -> Result<(), OvfError> {
    // Nodes come in document order, so a parent's depth is known before its children's.
    let mut depth = vec![0u16; doc.descendants().count() + 1];
    for node in doc.descendants() {
        let d = node.parent().map_or(0, |p| depth[p.id().get_usize()] + 1);
        depth[node.id().get_usize()] = d;
        if usize::from(d) > MAX_DEPTH {
            return Err(OvfError::TooDeep {
                limit: MAX_DEPTH,
                element: node.tag_name().name().to_string(),
                line: line_at(text, node.range().start),
            });
        }
    }
    Ok(())
}

/// 1-based line of a byte offset.
pub(crate) fn line_at(text: &str, offset: usize) -> u32 {
    let offset = offset.min(text.len());
    saturate(
        1 + text.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count(),
    )
}

/// Line numbers for many offsets: one pass over the text, then a binary search per look-up.
pub(crate) struct LineIndex {
    newlines: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> LineIndex {
        LineIndex {
            newlines: text
                .bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        }
    }

    pub(crate) fn line(&self, offset: usize) -> u32 {
        saturate(1 + self.newlines.partition_point(|&n| n < offset))
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(crate) fn is_ovf_ns(ns: Option<&str>) -> bool {
    matches!(ns, Some(OVF1 | OVF2))
}

/// Whether `node` is the OVF element `local` (either envelope namespace).
pub(crate) fn is_ovf(node: Node<'_, '_>, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local && is_ovf_ns(node.tag_name().namespace())
}

/// OVF child elements named `local`.
pub(crate) fn children<'a, 'i>(
    node: Node<'a, 'i>,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children().filter(move |c| is_ovf(*c, local))
}

/// The first OVF child element named `local`.
pub(crate) fn child<'a, 'i>(node: Node<'a, 'i>, local: &'a str) -> Option<Node<'a, 'i>> {
    children(node, local).next()
}

/// Text of the first OVF child `local`, trimmed; `None` when the child is absent.
pub(crate) fn child_text(node: Node<'_, '_>, local: &str) -> Option<String> {
    child(node, local).map(text)
}

/// An element's text (all its text children, so comments inside do not cut it), trimmed.
pub(crate) fn text(node: Node<'_, '_>) -> String {
    let mut out = String::new();
    for t in node.children().filter(|c| c.is_text()) {
        out.push_str(t.text().unwrap_or(""));
    }
    out.trim().to_string()
}

/// A child element with this local name in any namespace: CIM setting-data properties
/// (`rasd:ResourceType`, `vssd:VirtualSystemType`, `sasd:HostResource`).
pub(crate) fn cim_children<'a, 'i>(
    node: Node<'a, 'i>,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == local)
}

pub(crate) fn cim_text(node: Node<'_, '_>, local: &str) -> Option<String> {
    cim_children(node, local).next().map(text)
}

/// An OVF attribute: `ovf:local` in either envelope namespace, else an unqualified `local`
/// (the schema qualifies them, but some producers do not).
pub(crate) fn ovf_attr<'a>(node: Node<'a, '_>, local: &str) -> Option<&'a str> {
    attr_in(node, local, is_ovf_ns)
}

/// A VMware extension attribute (`vmw:local`), else an unqualified `local`.
pub(crate) fn vmw_attr<'a>(node: Node<'a, '_>, local: &str) -> Option<&'a str> {
    attr_in(node, local, |ns| ns == Some(VMW))
}

fn attr_in<'a>(
    node: Node<'a, '_>,
    local: &str,
    ns_ok: fn(Option<&str>) -> bool,
) -> Option<&'a str> {
    let mut unqualified = None;
    for a in node.attributes().filter(|a| a.name() == local) {
        if ns_ok(a.namespace()) {
            return Some(a.value());
        }
        if a.namespace().is_none() {
            unqualified = Some(a.value());
        }
    }
    unqualified
}
