//! Hands a relist's objects to a controller a window at a time.
//!
//! kube's `Controller` takes every trigger it is given into its scheduler at once: a relist of
//! 10,000 objects filled its queue, its map of scheduled requests and its set of pending ones
//! with 10,000 entries each, and those keep their capacity for the life of the process (7 MB
//! held after a restart over 10,000 images, ten times that at 100,000). So the listed objects
//! of [`super::trigger_objects`] wait here until fewer than a window of them are between their
//! trigger and the end of their reconcile, and the scheduler never holds more than that.

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

/// Listed objects that may be waiting for, or in, a reconcile at once.
const WINDOW: usize = 128;
/// How long the window may stay full without a reconcile ending before it is opened anyway:
/// a listed object whose reconcile never reports back (it was merged with another request
/// the controller ran under another key) must not hold the rest of a relist.
const STALL: Duration = Duration::from_secs(5);

/// The keys (`namespace/name`) of listed objects handed to one controller and not yet reported
/// done by it.
#[derive(Debug)]
pub struct Pace {
    out: Mutex<HashSet<String>>,
    progress: Notify,
    stall: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Pace::with_stall(STALL)
    }
}

impl Pace {
    fn with_stall(stall: Duration) -> Self {
        Pace {
            out: Mutex::default(),
            progress: Notify::new(),
            stall,
        }
    }

    /// Waits for room in the window, then counts `key` in it.
    pub async fn admit(&self, key: String) {
        loop {
            {
                let mut out = self.lock();
                if out.len() < WINDOW || out.contains(&key) {
                    out.insert(key);
                    return;
                }
            }
            if tokio::time::timeout(self.stall, self.progress.notified())
                .await
                .is_err()
            {
                tracing::debug!(stall = ?self.stall, "no reconcile ended; opening the relist window");
                self.lock().clear();
            }
        }
    }

    /// The controller ended a reconcile of `key` (or found its object gone).
    pub fn done(&self, key: &str) {
        if self.lock().remove(key) {
            // One waiter (the controller's relist stream): a permit is kept if it is not
            // waiting yet, so no wake-up is lost between its check and its wait.
            self.progress.notify_one();
        }
    }

    /// Listed objects handed over and not reported done.
    pub fn in_flight(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashSet<String>> {
        self.out.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn the_window_waits_for_a_reconcile_to_end() {
        let pace = Arc::new(Pace::default());
        for i in 0..WINDOW {
            pace.admit(format!("ns/{i}")).await;
        }
        // Already counted: no room needed.
        pace.admit("ns/0".into()).await;
        let next = tokio::spawn({
            let pace = pace.clone();
            async move { pace.admit("ns/next".into()).await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!next.is_finished(), "admitted into a full window");
        pace.done("ns/unknown");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!next.is_finished(), "a key never admitted made room");
        pace.done("ns/3");
        next.await.unwrap();
        assert_eq!(pace.in_flight(), WINDOW);
    }

    #[tokio::test]
    async fn a_stalled_window_opens() {
        let stall = Duration::from_millis(100);
        let pace = Pace::with_stall(stall);
        for i in 0..WINDOW {
            pace.admit(format!("ns/{i}")).await;
        }
        let started = std::time::Instant::now();
        pace.admit("ns/late".into()).await;
        assert!(started.elapsed() >= stall);
        assert_eq!(pace.in_flight(), 1);
    }
}
