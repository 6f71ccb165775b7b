//! What is converted: a kind, its hub and its spokes with their mappings.

use serde_json::Value;

use super::json::{Map, Result};

/// A spoke-to-hub or hub-to-spoke mapping of whole objects (the spoke's version given), without
/// the conversion annotation.
type Mapping = fn(&Value, &Kind, &'static str) -> Result<Value>;

/// A served version other than the hub.
pub(crate) struct Spoke {
    pub version: &'static str,
    /// Spoke to hub (VMware's `ConvertTo`).
    pub up: Mapping,
    /// Hub to spoke (VMware's `ConvertFrom`).
    pub down: Mapping,
}

/// How a spoke edited since its down-conversion is merged with the hub kept in its annotation.
pub(crate) enum Restore {
    /// VMware's `// BEGIN RESTORE` rules: these hub fields from the annotation, into the hub the
    /// spoke maps to.
    Fields(fn(&mut Map, &Map)),
    /// VMware's image conversions keep nothing: the spoke's changes (the hub it maps to against
    /// the hub the unedited spoke maps to) are applied to the kept hub as a merge patch.
    MergeEdits,
}

/// A kind converted here.
pub(crate) struct Kind {
    pub group: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub hub: &'static str,
    pub spokes: &'static [Spoke],
    pub annotation: &'static str,
    pub restore: Restore,
}

impl Kind {
    pub fn api_version(&self, version: &str) -> String {
        format!("{}/{version}", self.group)
    }

    pub fn spoke(&self, version: &str) -> Option<&Spoke> {
        self.spokes.iter().find(|s| s.version == version)
    }

    pub fn serves(&self, version: &str) -> bool {
        version == self.hub || self.spoke(version).is_some()
    }
}
