//! Objects held in a store as compact JSON, decoded when read.
//!
//! A decoded image or item is a tree of dozens of small allocations (labels, annotations,
//! conditions, disks, properties): about 2.5 times its JSON, plus what the allocator loses
//! between them. The controllers read one object per reconcile, so the stores of items and
//! images hold each as one buffer, and only what is read without decoding stays outside it:
//! the object's name and namespace (the store's key), its controlling owner (an image's item,
//! whose reconcile a change of the image triggers) and the library label of an item (to pick
//! a library's items), and the uid and resourceVersion (they compress badly). Only the name
//! and namespace stay in the `ObjectMeta` that kube's store needs: a uid or resourceVersion
//! there is copied into the store's key too, and owner references took 270 bytes an image. The JSON is LZ4-compressed: an image's keys and repeated values halve, and
//! a reconcile's one decompression costs microseconds.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use crate::api::{ContentLibraryItem, VirtualMachineImage};
use crate::kinds::{Kind, LABEL_LIBRARY};

/// What a store holds of an object of kind `K`: the object itself, or [`Packed`].
pub trait Holds<K: Clone>:
    Resource<DynamicType = ()> + Clone + fmt::Debug + DeserializeOwned + Send + Sync + 'static
{
    /// Takes in an object from a watch.
    fn hold(object: K) -> Self;
    /// The object; an error only when a packed object cannot be decoded again.
    fn object(&self) -> Result<Cow<'_, K>, serde_json::Error>;
}

impl<K: Kind> Holds<K> for K {
    fn hold(object: K) -> Self {
        object
    }

    fn object(&self) -> Result<Cow<'_, K>, serde_json::Error> {
        Ok(Cow::Borrowed(self))
    }
}

/// An object of kind `K` as compact JSON, with the metadata read without decoding.
pub struct Packed<K> {
    /// name and namespace; nothing else.
    meta: ObjectMeta,
    /// The value of the `LABEL_LIBRARY` label.
    library: Option<Box<str>>,
    /// The kind and name of the controlling owner (its uid stays in the JSON).
    owner: Option<Box<(Box<str>, Box<str>)>>,
    /// uid then resourceVersion, in one allocation.
    ids: Box<str>,
    /// Where the uid ends in `ids` (`None`: no uid).
    uid_end: Option<u32>,
    has_version: bool,
    /// The object without the fields of `meta` and without managedFields, as LZ4-compressed
    /// JSON (its length first).
    json: Box<[u8]>,
    _kind: PhantomData<fn() -> K>,
}

/// The JSON that objects of `K` are compressed against: a reference object of their kind (an
/// image or an item the operator wrote), serialized as [`Packed::pack`] serializes. Every
/// object of a kind has the same keys in the same order, and most of its values are shared
/// (conditions, labels, API versions), so LZ4 finds them in the reference instead of in the
/// object itself: an Ubuntu image's 1,626 bytes of JSON take 341 bytes against the photon
/// reference, 1,023 alone. Built once, so an object is always decompressed against what it
/// was compressed against.
fn dictionary<K: Kind>() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    static ITEM: OnceLock<Vec<u8>> = OnceLock::new();
    fn reference<R: Kind>(json: &str) -> Vec<u8> {
        let Ok(mut object) = serde_json::from_str::<R>(json) else {
            return Vec::new();
        };
        strip(&mut object);
        serde_json::to_vec(&object).unwrap_or_default()
    }
    match K::kind(&()).as_ref() {
        "VirtualMachineImage" | "ClusterVirtualMachineImage" => IMAGE
            .get_or_init(|| reference::<VirtualMachineImage>(include_str!("reference/image.json"))),
        "ContentLibraryItem" | "ClusterContentLibraryItem" => ITEM
            .get_or_init(|| reference::<ContentLibraryItem>(include_str!("reference/item.json"))),
        _ => &[],
    }
}

/// Takes out of `object` what a packed object keeps outside its JSON, or drops.
fn strip<K: Kind>(object: &mut K) -> Stripped {
    let m = object.meta_mut();
    m.managed_fields = None;
    Stripped {
        name: m.name.take(),
        namespace: m.namespace.take(),
        uid: m.uid.take(),
        version: m.resource_version.take(),
    }
}

struct Stripped {
    name: Option<String>,
    namespace: Option<String>,
    uid: Option<String>,
    version: Option<String>,
}

impl<K: Kind> Packed<K> {
    pub fn pack(mut object: K) -> Self {
        let Stripped {
            name,
            namespace,
            uid,
            version,
        } = strip(&mut object);
        let meta = ObjectMeta {
            name,
            namespace,
            ..ObjectMeta::default()
        };
        let m = object.meta();
        let uid_end = uid.as_ref().and_then(|u| u32::try_from(u.len()).ok());
        let ids = [uid.as_deref(), version.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let library = m
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_LIBRARY))
            .map(|v| v.as_str().into());
        let owner = m
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .map(|o| Box::new((o.kind.as_str().into(), o.name.as_str().into())));
        let json = serde_json::to_vec(&object).unwrap_or_default();
        let json = lz4_flex::block::compress_prepend_size_with_dict(&json, dictionary::<K>());
        Packed {
            meta,
            library,
            owner,
            ids,
            uid_end,
            has_version: version.is_some(),
            json: json.into_boxed_slice(),
            _kind: PhantomData,
        }
    }

    /// The object, decoded.
    pub fn unpack(&self) -> Result<K, serde_json::Error> {
        let json =
            lz4_flex::block::decompress_size_prepended_with_dict(&self.json, dictionary::<K>())
                .map_err(<serde_json::Error as serde::de::Error>::custom)?;
        let mut object: K = serde_json::from_slice(&json)?;
        let m = object.meta_mut();
        m.name.clone_from(&self.meta.name);
        m.namespace.clone_from(&self.meta.namespace);
        m.uid = self.uid().map(str::to_string);
        m.resource_version = self.version().map(str::to_string);
        Ok(object)
    }

    /// The object's `LABEL_LIBRARY` label.
    pub fn library_label(&self) -> Option<&str> {
        self.library.as_deref()
    }

    /// `metadata.uid`.
    pub fn uid(&self) -> Option<&str> {
        self.ids.get(..self.uid_end? as usize)
    }

    /// `metadata.resourceVersion`.
    pub fn version(&self) -> Option<&str> {
        let start = self.uid_end.unwrap_or(0) as usize;
        self.has_version.then(|| self.ids.get(start..)).flatten()
    }

    /// The name of the controlling owner, if it is of kind `kind`.
    pub fn owner_named(&self, kind: &str) -> Option<&str> {
        let (owner_kind, name) = self.owner.as_deref()?;
        (owner_kind.as_ref() == kind).then_some(name)
    }

    /// Bytes of the packed (compressed) JSON.
    pub fn packed_len(&self) -> usize {
        self.json.len()
    }
}

#[cfg(test)]
impl<K> Packed<K> {
    /// `packed` with a buffer that does not decode.
    pub fn damaged(packed: &Self) -> Self {
        let mut damaged = packed.clone();
        damaged.json = b"{".to_vec().into_boxed_slice();
        damaged
    }
}

impl<K: Kind> Holds<K> for Packed<K> {
    fn hold(object: K) -> Self {
        Packed::pack(object)
    }

    fn object(&self) -> Result<Cow<'_, K>, serde_json::Error> {
        self.unpack().map(Cow::Owned)
    }
}

/// Reads the object and packs it (kube's `Controller` wants the kinds it runs on decodable).
impl<'de, K: Kind> serde::Deserialize<'de> for Packed<K> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        K::deserialize(d).map(Packed::pack)
    }
}

impl<K> Clone for Packed<K> {
    fn clone(&self) -> Self {
        Packed {
            meta: self.meta.clone(),
            library: self.library.clone(),
            owner: self.owner.clone(),
            ids: self.ids.clone(),
            uid_end: self.uid_end,
            has_version: self.has_version,
            json: self.json.clone(),
            _kind: PhantomData,
        }
    }
}

impl<K: Kind> fmt::Debug for Packed<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Packed")
            .field("kind", &K::kind(&()))
            .field("namespace", &self.meta.namespace)
            .field("name", &self.name_any())
            .field("bytes", &self.json.len())
            .finish()
    }
}

impl<K: Kind> Resource for Packed<K> {
    type DynamicType = ();
    type Scope = K::Scope;

    fn kind(dt: &()) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &()) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &()) -> Cow<'_, str> {
        K::version(dt)
    }

    fn plural(dt: &()) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        &self.meta
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.meta
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kinds::ItemKind;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    const IMAGE: &str = include_str!("reference/image.json");
    const ITEM: &str = include_str!("reference/item.json");

    #[test]
    fn an_image_unpacks_as_it_was_without_managed_fields() {
        let mut image: VirtualMachineImage = serde_json::from_str(IMAGE).unwrap();
        let item = ContentLibraryItem::new_item(
            ObjectMeta {
                name: Some("clitem-1".into()),
                namespace: image.namespace(),
                uid: Some("2d9f8e5e-0000-4000-8000-000000000001".into()),
                ..Default::default()
            },
            "u",
            "lib",
            None,
        );
        image.metadata.owner_references = item.controller_owner_ref(&()).map(|o| vec![o]);
        let mut with_fields = image.clone();
        with_fields.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        let packed = Packed::pack(with_fields);
        assert_eq!(packed.unpack().unwrap(), image);
        assert_eq!(packed.name_any(), image.name_any());
        assert_eq!(packed.namespace(), image.namespace());
        assert_eq!(packed.owner_named("ContentLibraryItem"), Some("clitem-1"));
        assert_eq!(packed.owner_named("ContentLibrary"), None);
        assert_eq!(packed.uid(), image.uid().as_deref());
        assert_eq!(packed.version(), image.resource_version().as_deref());
        // Not in the metadata, which the store's key would copy.
        let meta = Resource::meta(&packed);
        assert!(meta.resource_version.is_none() && meta.uid.is_none());
        assert!(packed.owner_references().is_empty() && packed.labels().is_empty());
    }

    /// The reference image with other values: another OS, other names, uids and times.
    fn another_image() -> VirtualMachineImage {
        let mut json = IMAGE.to_string();
        for (from, to) in [
            ("Photon OS", "Ubuntu"),
            ("photon64Guest", "ubuntu64Guest"),
            ("photon", "ubuntu"),
            ("5.0.0-20230629", "24.04.1-20241120"),
            ("5.0", "24.04"),
            ("db11d3dd325f7ea61", "0a0044d7c690bcbea"),
            (
                "eecbb0ec-d53b-4d02-8038-00d4858776dc",
                "9f0c2a51-77e4-4c3e-b1d2-5a6e8f9d0c13",
            ),
            (
                "02352a12-0cbc-4673-846c-a763cc943197",
                "c4d1e2f3-0a1b-4c5d-8e9f-112233445566",
            ),
            (
                "26dd9bcb-a838-58c6-ab49-907918ef639e",
                "e1968c25-dd84-4506-8dc7-9beacb6b688e",
            ),
            ("2026-12-06T20:45:09Z", "2026-12-07T01:02:03Z"),
            ("20Gi", "40Gi"),
        ] {
            json = json.replace(from, to);
        }
        serde_json::from_str(&json).unwrap()
    }

    #[test]
    fn an_image_compresses_against_the_reference() {
        let image = another_image();
        let mut bare = image.clone();
        strip(&mut bare);
        let json = serde_json::to_vec(&bare).unwrap();
        let alone = lz4_flex::block::compress_prepend_size(&json).len();
        let packed = Packed::pack(image.clone());
        assert_eq!(packed.unpack().unwrap(), image);
        // 1,626 bytes of JSON: 1,023 compressed alone, 341 against the reference.
        assert!(
            packed.packed_len() * 2 < alone,
            "{} of {alone}",
            packed.packed_len()
        );
    }

    #[test]
    fn an_item_keeps_its_library_label_outside() {
        let item: ContentLibraryItem = serde_json::from_str(ITEM).unwrap();
        let packed = Packed::pack(item.clone());
        assert_eq!(packed.library_label(), Some("lib1"));
        assert_eq!(packed.namespace(), item.namespace());
        assert_eq!(Holds::object(&packed).unwrap().into_owned(), item);
        assert_eq!(
            Packed::<ContentLibraryItem>::api_version(&()),
            ContentLibraryItem::api_version(&())
        );
    }

    #[test]
    fn no_uid_or_version_stays_none() {
        let mut item: ContentLibraryItem = serde_json::from_str(ITEM).unwrap();
        item.metadata.uid = None;
        item.metadata.resource_version = None;
        let packed = Packed::pack(item.clone());
        assert_eq!((packed.uid(), packed.version()), (None, None));
        assert_eq!(packed.unpack().unwrap(), item);
        item.metadata.uid = Some("u-1".into());
        let packed = Packed::pack(item.clone());
        assert_eq!((packed.uid(), packed.version()), (Some("u-1"), None));
        assert_eq!(packed.unpack().unwrap(), item);
    }

    #[test]
    fn decoding_packs() {
        let packed: Packed<VirtualMachineImage> = serde_json::from_str(IMAGE).unwrap();
        let image: VirtualMachineImage = serde_json::from_str(IMAGE).unwrap();
        assert_eq!(packed.unpack().unwrap(), image);
    }

    #[test]
    fn a_damaged_buffer_is_an_error_not_a_panic() {
        let item: ContentLibraryItem = serde_json::from_str(ITEM).unwrap();
        let packed = Packed::damaged(&Packed::pack(item));
        assert!(packed.unpack().is_err());
    }
}
