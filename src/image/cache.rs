//! Parsed OVF descriptors, keyed by item UUID and content version: an item's descriptor is
//! fetched and parsed once per content version.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::ovf::OvfInfo;

/// A bounded cache; the oldest entries go first when it is full.
pub struct OvfCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    entries: HashMap<(String, String), Arc<OvfInfo>>,
    order: VecDeque<(String, String)>,
}

impl OvfCache {
    pub fn new(capacity: usize) -> Self {
        OvfCache {
            capacity: capacity.max(1),
            inner: Mutex::default(),
        }
    }

    pub fn get(&self, uuid: &str, content_version: &str) -> Option<Arc<OvfInfo>> {
        let inner = self.inner.lock().expect("poisoned");
        inner
            .entries
            .get(&(uuid.to_string(), content_version.to_string()))
            .cloned()
    }

    pub fn insert(&self, uuid: &str, content_version: &str, info: Arc<OvfInfo>) {
        let mut inner = self.inner.lock().expect("poisoned");
        let key = (uuid.to_string(), content_version.to_string());
        if inner.entries.insert(key.clone(), info).is_none() {
            inner.order.push_back(key);
        }
        while inner.entries.len() > self.capacity {
            let Some(oldest) = inner.order.pop_front() else {
                break;
            };
            inner.entries.remove(&oldest);
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("poisoned").entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_versions_apart_and_evicts_the_oldest() {
        let cache = OvfCache::new(2);
        cache.insert(
            "a",
            "1",
            Arc::new(OvfInfo {
                name: Some("a1".into()),
                ..Default::default()
            }),
        );
        cache.insert(
            "a",
            "2",
            Arc::new(OvfInfo {
                name: Some("a2".into()),
                ..Default::default()
            }),
        );
        assert_eq!(cache.get("a", "1").unwrap().name.as_deref(), Some("a1"));
        cache.insert("b", "1", Arc::new(OvfInfo::default()));
        assert!(cache.get("a", "1").is_none());
        assert!(cache.get("a", "2").is_some());
        assert_eq!(cache.len(), 2);
    }
}
