//! Objects held in a store as compact JSON, decoded when read.
//!
//! A decoded image or item is a tree of dozens of small allocations (labels, annotations,
//! conditions, disks, properties): about 2.5 times its JSON, plus what the allocator loses
//! between them. The controllers read one object per reconcile, so the stores of items and
//! images hold each as one buffer, and only what is read without decoding stays outside it:
//! the object's key and owners (for the store, owner lookups and expectations) and the
//! library label of an item (to pick a library's items). The JSON is LZ4-compressed: an
//! image's keys and repeated values halve, and a reconcile's one decompression costs
//! microseconds.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use kube::api::ObjectMeta;
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

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
    /// name, namespace, uid, resourceVersion and ownerReferences; nothing else.
    meta: ObjectMeta,
    /// The value of the `LABEL_LIBRARY` label.
    library: Option<Box<str>>,
    /// The object without the fields of `meta` and without managedFields, as LZ4-compressed
    /// JSON (its length first).
    json: Box<[u8]>,
    _kind: PhantomData<fn() -> K>,
}

impl<K: Kind> Packed<K> {
    pub fn pack(mut object: K) -> Self {
        let m = object.meta_mut();
        let meta = ObjectMeta {
            name: m.name.take(),
            namespace: m.namespace.take(),
            uid: m.uid.take(),
            resource_version: m.resource_version.take(),
            owner_references: m.owner_references.take(),
            ..ObjectMeta::default()
        };
        m.managed_fields = None;
        let library = m
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_LIBRARY))
            .map(|v| v.as_str().into());
        // Serializing a decoded API object cannot fail (no maps with non-string keys); an
        // empty buffer would fail to unpack, which the readers report.
        let json = serde_json::to_vec(&object).unwrap_or_default();
        Packed {
            meta,
            library,
            json: lz4_flex::block::compress_prepend_size(&json).into_boxed_slice(),
            _kind: PhantomData,
        }
    }

    /// The object, decoded.
    pub fn unpack(&self) -> Result<K, serde_json::Error> {
        let json = lz4_flex::block::decompress_size_prepended(&self.json)
            .map_err(<serde_json::Error as serde::de::Error>::custom)?;
        let mut object: K = serde_json::from_slice(&json)?;
        let m = object.meta_mut();
        m.name.clone_from(&self.meta.name);
        m.namespace.clone_from(&self.meta.namespace);
        m.uid.clone_from(&self.meta.uid);
        m.resource_version.clone_from(&self.meta.resource_version);
        m.owner_references.clone_from(&self.meta.owner_references);
        Ok(object)
    }

    /// The object's `LABEL_LIBRARY` label.
    pub fn library_label(&self) -> Option<&str> {
        self.library.as_deref()
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
    use crate::api::{ContentLibraryItem, VirtualMachineImage};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ManagedFieldsEntry;

    const IMAGE: &str = include_str!("../../tests/data/store/image.json");
    const ITEM: &str = include_str!("../../tests/data/store/item.json");

    #[test]
    fn an_image_unpacks_as_it_was_without_managed_fields() {
        let image: VirtualMachineImage = serde_json::from_str(IMAGE).unwrap();
        let mut with_fields = image.clone();
        with_fields.metadata.managed_fields = Some(vec![ManagedFieldsEntry::default()]);
        let packed = Packed::pack(with_fields);
        assert_eq!(packed.unpack().unwrap(), image);
        assert_eq!(packed.name_any(), image.name_any());
        assert_eq!(packed.resource_version(), image.resource_version());
        assert_eq!(packed.owner_references(), image.owner_references());
        assert!(packed.labels().is_empty(), "labels stay in the JSON");
        // Compressed: this image's 1,736 bytes of JSON take 935.
        let json = serde_json::to_vec(&image).unwrap().len();
        assert!(
            packed.packed_len() * 10 < json * 6,
            "{}",
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
