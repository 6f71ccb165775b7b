//! [`Guarded`]: an object as a watch reads it, or why it could not be decoded.

use std::borrow::Cow;

use kube::Resource;
use kube::api::{ObjectMeta, PartialObjectMeta};
use kube::core::error_boundary::InvalidObject;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// An object of kind `K`, or, when it does not decode as `K` (another component wrote it in
/// another shape), its metadata and the error: what kube's `DeserializeGuard` gives, at a
/// fraction of the cost. `DeserializeGuard` buffers every object as a value tree and clones
/// it before decoding (managedFields and all): relisting 10,000 images allocated some 35 MiB
/// at once for that alone. This keeps the object's JSON text (one allocation) and decodes it
/// from there, twice only when it is invalid.
///
/// It needs serde_json's deserializer, which is what kube's client reads lists and watch
/// events with.
#[derive(Clone, Debug)]
pub struct Guarded<K>(pub Result<K, InvalidObject>);

impl<'de, K: DeserializeOwned> Deserialize<'de> for Guarded<K> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        match serde_json::from_str::<K>(raw.get()) {
            Ok(object) => Ok(Guarded(Ok(object))),
            Err(error) => {
                let meta = serde_json::from_str::<PartialObjectMeta<K>>(raw.get())
                    .map_err(D::Error::custom)?;
                Ok(Guarded(Err(InvalidObject {
                    error: error.to_string(),
                    metadata: meta.metadata,
                })))
            }
        }
    }
}

impl<K: Resource> Resource for Guarded<K> {
    type DynamicType = K::DynamicType;
    type Scope = K::Scope;

    fn kind(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::kind(dt)
    }

    fn group(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::group(dt)
    }

    fn version(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::version(dt)
    }

    fn plural(dt: &Self::DynamicType) -> Cow<'_, str> {
        K::plural(dt)
    }

    fn meta(&self) -> &ObjectMeta {
        self.0.as_ref().map_or_else(|e| &e.metadata, K::meta)
    }

    fn meta_mut(&mut self) -> &mut ObjectMeta {
        self.0
            .as_mut()
            .map_or_else(|e| &mut e.metadata, K::meta_mut)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::VirtualMachineImage;
    use kube::ResourceExt;
    use kube::core::{ObjectList, WatchEvent};

    #[test]
    fn reads_lists_and_watch_events_valid_or_not() {
        let valid = r#"{"apiVersion":"vmoperator.vmware.com/v1alpha6","kind":"VirtualMachineImage","metadata":{"name":"good","namespace":"a"},"spec":{},"status":{"name":"Photon"}}"#;
        let invalid = r#"{"apiVersion":"vmoperator.vmware.com/v1alpha6","kind":"VirtualMachineImage","metadata":{"name":"bad","namespace":"a"},"spec":{},"status":{"disks":"not a list"}}"#;
        let list = format!(
            r#"{{"apiVersion":"v1","kind":"List","metadata":{{"resourceVersion":"7"}},"items":[{valid},{invalid}]}}"#
        );
        let list: ObjectList<Guarded<VirtualMachineImage>> = serde_json::from_str(&list).unwrap();
        let good = list.items[0].0.as_ref().unwrap();
        assert_eq!(
            good.status.as_ref().unwrap().name.as_deref(),
            Some("Photon")
        );
        let bad = list.items[1].0.as_ref().unwrap_err();
        assert_eq!(bad.metadata.name.as_deref(), Some("bad"));
        assert!(bad.error.contains("expected a sequence"), "{}", bad.error);
        assert_eq!(list.items[1].name_any(), "bad");

        let event = format!(r#"{{"type":"MODIFIED","object":{invalid}}}"#);
        let event: WatchEvent<Guarded<VirtualMachineImage>> = serde_json::from_str(&event).unwrap();
        let WatchEvent::Modified(guarded) = event else {
            panic!("a MODIFIED event");
        };
        assert_eq!(guarded.namespace().as_deref(), Some("a"));
        assert!(guarded.0.is_err());
    }

    #[test]
    fn an_object_without_metadata_is_an_error_of_the_read() {
        let r = serde_json::from_str::<Guarded<VirtualMachineImage>>(r#"{"metadata":"x"}"#);
        assert!(r.is_err());
    }
}
