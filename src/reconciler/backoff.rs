//! Per-object backoff: consecutive failures per object key, forgotten on success or deletion.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Consecutive failures per object, and the longest wait between retries.
pub struct Failures {
    counts: Mutex<HashMap<String, u32>>,
    cap: Duration,
}

impl Failures {
    pub fn new(cap: Duration) -> Self {
        Failures {
            counts: Mutex::default(),
            cap,
        }
    }

    /// Counts a failure of `key`; returns how long to wait before the retry.
    pub fn failed(&self, key: &str) -> Duration {
        let mut counts = self.counts.lock().expect("poisoned");
        let n = counts.entry(key.to_string()).or_default();
        *n = n.saturating_add(1);
        backoff(*n, self.cap)
    }

    pub fn succeeded(&self, key: &str) {
        self.forget(key);
    }

    /// Drops `key` (its object was deleted).
    pub fn forget(&self, key: &str) {
        self.counts.lock().expect("poisoned").remove(key);
    }

    /// Objects with failures on record.
    pub fn len(&self) -> usize {
        self.counts.lock().expect("poisoned").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Exponential backoff from 2 s, never longer than `cap` (and never under 2 s).
pub fn backoff(failures: u32, cap: Duration) -> Duration {
    let secs = 2u64.saturating_pow(failures.min(16));
    Duration::from_secs(secs).min(cap.max(Duration::from_secs(2)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let cap = Duration::from_secs(300);
        assert_eq!(backoff(1, cap), Duration::from_secs(2));
        assert_eq!(backoff(3, cap), Duration::from_secs(8));
        assert_eq!(backoff(30, cap), cap);
    }

    #[test]
    fn failures_count_per_object_and_are_forgotten() {
        let failures = Failures::new(Duration::from_secs(300));
        assert_eq!(failures.failed("ns/a"), Duration::from_secs(2));
        assert_eq!(failures.failed("ns/a"), Duration::from_secs(4));
        assert_eq!(failures.failed("ns/b"), Duration::from_secs(2));
        failures.succeeded("ns/a");
        assert_eq!(failures.failed("ns/a"), Duration::from_secs(2));
        failures.forget("ns/a");
        failures.forget("ns/b");
        assert!(failures.is_empty());
    }
}
