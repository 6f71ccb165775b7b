//! The image writes this controller made that its image store has not shown yet.
//!
//! Writing a new image takes two writes (the object, then its status), and the watch event of
//! the first wakes the item again before the second has reached the store. That reconcile would
//! see an image without status and write the status a second time. Remembering the resource
//! version of our last write lets it wait for the store instead.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Expectations {
    written: Mutex<HashMap<String, (u64, Instant)>>,
    /// How long a write is waited for: an image deleted after our write never shows it.
    patience: Duration,
}

/// Entries are pruned of expired ones past this many (images whose items went away).
const PRUNE_ABOVE: usize = 1024;

impl Expectations {
    pub fn new(patience: Duration) -> Self {
        Expectations {
            written: Mutex::default(),
            patience,
        }
    }

    /// Records our write of image `key`, which returned `resource_version`.
    pub fn wrote(&self, key: &str, resource_version: Option<&str>) {
        let mut written = self.written.lock().expect("poisoned");
        match resource_version.and_then(|rv| rv.parse().ok()) {
            Some(rv) => {
                written.insert(key.to_string(), (rv, Instant::now()));
            }
            // Not an etcd revision: versions cannot be ordered, so nothing is expected.
            None => {
                written.remove(key);
            }
        }
        if written.len() > PRUNE_ABOVE {
            let patience = self.patience;
            written.retain(|_, (_, at)| at.elapsed() <= patience);
        }
    }

    /// Whether the store's copy of image `key` (resource version `seen`, `None` when absent)
    /// predates our last write to it.
    pub fn store_is_behind(&self, key: &str, seen: Option<&str>) -> bool {
        let mut written = self.written.lock().expect("poisoned");
        let Some(&(expected, at)) = written.get(key) else {
            return false;
        };
        let behind = at.elapsed() <= self.patience
            && match seen.map(str::parse::<u64>) {
                None => true,
                Some(Ok(seen)) => seen < expected,
                Some(Err(_)) => false,
            };
        if !behind {
            written.remove(key);
        }
        behind
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.written.lock().expect("poisoned").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATIENCE: Duration = Duration::from_secs(60);

    #[test]
    fn nothing_written_means_nothing_expected() {
        let e = Expectations::new(PATIENCE);
        assert!(!e.store_is_behind("ns/vmi-a", None));
        assert!(!e.store_is_behind("ns/vmi-a", Some("7")));
    }

    #[test]
    fn the_store_is_behind_until_it_shows_our_write() {
        let e = Expectations::new(PATIENCE);
        e.wrote("ns/vmi-a", Some("12"));
        assert!(e.store_is_behind("ns/vmi-a", None), "not in the store yet");
        assert!(
            e.store_is_behind("ns/vmi-a", Some("11")),
            "the object write only"
        );
        assert!(!e.store_is_behind("ns/vmi-b", Some("1")), "another image");
        assert!(!e.store_is_behind("ns/vmi-a", Some("12")));
        assert_eq!(e.len(), 0, "caught up: forgotten");
        assert!(!e.store_is_behind("ns/vmi-a", Some("11")));
    }

    #[test]
    fn a_later_write_by_someone_else_counts_as_caught_up() {
        let e = Expectations::new(PATIENCE);
        e.wrote("vmi-a", Some("12"));
        assert!(!e.store_is_behind("vmi-a", Some("40")));
    }

    #[test]
    fn a_write_that_never_shows_is_given_up() {
        let e = Expectations::new(Duration::ZERO);
        e.wrote("ns/vmi-a", Some("12"));
        std::thread::sleep(Duration::from_millis(2));
        assert!(
            !e.store_is_behind("ns/vmi-a", None),
            "deleted since: stop waiting"
        );
        assert_eq!(e.len(), 0);
    }

    #[test]
    fn versions_that_are_not_numbers_are_not_ordered() {
        let e = Expectations::new(PATIENCE);
        e.wrote("vmi-a", Some("abc"));
        assert!(!e.store_is_behind("vmi-a", None));
        e.wrote("vmi-a", Some("5"));
        assert!(!e.store_is_behind("vmi-a", Some("xyz")));
    }

    #[test]
    fn expired_entries_are_pruned() {
        let e = Expectations::new(Duration::ZERO);
        for i in 0..PRUNE_ABOVE {
            e.wrote(&format!("vmi-{i}"), Some("1"));
        }
        assert_eq!(e.len(), PRUNE_ABOVE);
        std::thread::sleep(Duration::from_millis(2));
        e.wrote("vmi-last", Some("1"));
        assert!(e.len() <= 1, "{} entries left", e.len());
    }
}
