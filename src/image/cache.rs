//! Parsed OVF descriptors between their fetch and the image status that holds them.
//!
//! An entry is only needed until the image store shows a status written from it: from then on
//! the status itself carries the descriptor's fields (`decide::Need::Unchanged`), and the
//! controller drops the entry ([`OvfCache::forget`]). So the cache holds the descriptors of
//! the images being written, not one per image; its byte budget bounds a burst (thousands of
//! new items at once), oldest first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::ovf::OvfInfo;

/// What a new cache may hold, in bytes (by [`OvfInfo::approx_bytes`]).
pub const DEFAULT_BUDGET: usize = 8 << 20;

pub struct OvfCache {
    budget: usize,
    inner: Mutex<Inner>,
}

struct Entry {
    content_version: String,
    info: Arc<OvfInfo>,
    bytes: usize,
    /// Tells this entry from a later one of the same item in `order`.
    serial: u64,
}

#[derive(Default)]
struct Inner {
    /// By item UUID: one content version per item, the newest fetched.
    entries: HashMap<String, Entry>,
    /// Insertion order, for eviction; entries replaced or forgotten since are skipped.
    order: VecDeque<(String, u64)>,
    bytes: usize,
    serial: u64,
}

impl OvfCache {
    pub fn new(budget: usize) -> Self {
        OvfCache {
            budget,
            inner: Mutex::default(),
        }
    }

    pub fn get(&self, uuid: &str, content_version: &str) -> Option<Arc<OvfInfo>> {
        let inner = self.inner.lock().expect("poisoned");
        inner
            .entries
            .get(uuid)
            .filter(|e| e.content_version == content_version)
            .map(|e| e.info.clone())
    }

    /// Holds `info` as the item's descriptor at `content_version` (replacing an older one),
    /// then evicts the oldest entries past the budget (never the one just added).
    pub fn insert(&self, uuid: &str, content_version: &str, info: Arc<OvfInfo>) {
        let mut inner = self.inner.lock().expect("poisoned");
        inner.serial += 1;
        let serial = inner.serial;
        let bytes = info.approx_bytes() + uuid.len() + content_version.len();
        let entry = Entry {
            content_version: content_version.to_string(),
            info,
            bytes,
            serial,
        };
        if let Some(old) = inner.entries.insert(uuid.to_string(), entry) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        inner.order.push_back((uuid.to_string(), serial));
        while inner.bytes > self.budget {
            let Some((oldest, serial)) = inner.order.pop_front() else {
                break;
            };
            if serial == inner.serial {
                inner.order.push_front((oldest, serial));
                break;
            }
            inner.remove_if(&oldest, serial);
        }
        // Keys of replaced or forgotten entries pile up only until they reach the front.
        if inner.order.len() > 2 * inner.entries.len() + 64 {
            let Inner { entries, order, .. } = &mut *inner;
            order.retain(|(uuid, serial)| entries.get(uuid).is_some_and(|e| e.serial == *serial));
        }
    }

    /// Drops the item's descriptor: its image status now holds it.
    pub fn forget(&self, uuid: &str) {
        let mut inner = self.inner.lock().expect("poisoned");
        if let Some(old) = inner.entries.remove(uuid) {
            inner.bytes -= old.bytes;
        }
    }

    pub fn len(&self) -> usize {
        self.inner.lock().expect("poisoned").entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes held, by [`OvfInfo::approx_bytes`].
    pub fn bytes(&self) -> usize {
        self.inner.lock().expect("poisoned").bytes
    }
}

impl Inner {
    fn remove_if(&mut self, uuid: &str, serial: u64) {
        if self.entries.get(uuid).is_some_and(|e| e.serial == serial)
            && let Some(old) = self.entries.remove(uuid)
        {
            self.bytes -= old.bytes;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str) -> Arc<OvfInfo> {
        Arc::new(OvfInfo {
            name: Some(name.into()),
            ..Default::default()
        })
    }

    #[test]
    fn holds_the_newest_version_of_each_item() {
        let cache = OvfCache::new(DEFAULT_BUDGET);
        cache.insert("a", "1", info("a1"));
        assert_eq!(cache.get("a", "1").unwrap().name.as_deref(), Some("a1"));
        cache.insert("a", "2", info("a2"));
        assert!(
            cache.get("a", "1").is_none(),
            "an older version is replaced"
        );
        assert_eq!(cache.get("a", "2").unwrap().name.as_deref(), Some("a2"));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.bytes(), info("a2").approx_bytes() + 2);
    }

    #[test]
    fn forgotten_entries_free_their_bytes() {
        let cache = OvfCache::new(DEFAULT_BUDGET);
        cache.insert("a", "1", info("a"));
        cache.insert("b", "1", info("b"));
        cache.forget("a");
        cache.forget("missing");
        assert!(cache.get("a", "1").is_none());
        assert!(cache.get("b", "1").is_some());
        assert_eq!(cache.bytes(), info("b").approx_bytes() + 2);
    }

    #[test]
    fn the_budget_evicts_the_oldest_but_never_the_newest() {
        let one = info("x").approx_bytes() + 2;
        let cache = OvfCache::new(2 * one);
        cache.insert("a", "1", info("x"));
        cache.insert("b", "1", info("x"));
        // Replacing "a" makes it the newest: "b" is now the oldest.
        cache.insert("a", "2", info("x"));
        cache.insert("c", "1", info("x"));
        assert!(cache.get("b", "1").is_none());
        assert!(cache.get("a", "2").is_some() && cache.get("c", "1").is_some());
        assert!(cache.bytes() <= 2 * one);
        // One entry larger than the whole budget is still held until the next insert.
        let tiny = OvfCache::new(1);
        tiny.insert("big", "1", info("big"));
        assert!(tiny.get("big", "1").is_some());
        tiny.insert("next", "1", info("next"));
        assert!(tiny.get("big", "1").is_none() && tiny.get("next", "1").is_some());
    }

    #[test]
    fn stale_order_keys_do_not_pile_up() {
        let cache = OvfCache::new(DEFAULT_BUDGET);
        for i in 0..1000 {
            cache.insert("a", &i.to_string(), info("a"));
        }
        let inner = cache.inner.lock().unwrap();
        assert!(inner.order.len() <= 2 * inner.entries.len() + 64);
    }
}
