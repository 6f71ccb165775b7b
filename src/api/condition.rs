//! The standard `metav1.Condition` shape, kept as our own type so the schema can declare the
//! list a map keyed by `type` and so helpers can keep `lastTransitionTime` stable.

use chrono::{DateTime, SecondsFormat, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Status of a condition.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

/// One aspect of an object's current state (the `metav1.Condition` shape). Read leniently:
/// conditions that VMware's v1alpha1 components write (Cluster API's shape, with `severity` and
/// an optional reason and message) decode too.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = super::require(&["reason", "message"]))]
pub struct Condition {
    /// Type of condition in CamelCase, e.g. `Ready`.
    #[serde(rename = "type")]
    #[schemars(
        length(max = 316),
        regex(
            pattern = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
        )
    )]
    pub type_: String,
    /// Status of the condition: True, False or Unknown.
    pub status: ConditionStatus,
    /// The `.metadata.generation` that the condition was set from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// Last time the condition changed from one status to another (RFC 3339).
    #[schemars(extend("format" = "date-time"))]
    pub last_transition_time: String,
    /// Programmatic identifier for the condition's last transition, in CamelCase.
    #[serde(default)]
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    )]
    pub reason: String,
    /// Human readable message with details about the transition.
    #[serde(default)]
    #[schemars(length(max = 32768))]
    pub message: String,
}

impl Condition {
    pub fn new(
        type_: &str,
        status: ConditionStatus,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        Condition {
            type_: type_.to_string(),
            status,
            observed_generation: None,
            last_transition_time: now_rfc3339(),
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    pub fn with_generation(mut self, generation: Option<i64>) -> Self {
        self.observed_generation = generation;
        self
    }

    pub fn is_true(&self) -> bool {
        self.status == ConditionStatus::True
    }
}

/// Whether `conditions` hold a `Ready` condition that is True.
pub fn is_ready(conditions: &[Condition]) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == super::CONDITION_READY && c.is_true())
}

pub fn now_rfc3339() -> String {
    format_time(Utc::now())
}

pub fn format_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Puts `new` into `conditions`, replacing the one of the same type. The transition time of the
/// old condition is kept when the status did not change, so unchanged state writes nothing new.
pub fn set_condition(conditions: &mut Vec<Condition>, mut new: Condition) {
    if let Some(old) = conditions.iter_mut().find(|c| c.type_ == new.type_) {
        if old.status == new.status {
            new.last_transition_time = old.last_transition_time.clone();
        }
        *old = new;
    } else {
        conditions.push(new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_condition_keeps_transition_time_when_status_is_unchanged() {
        let mut conditions = vec![Condition {
            last_transition_time: "2024-01-15T10:00:00Z".into(),
            ..Condition::new("Ready", ConditionStatus::True, "Ready", "")
        }];
        set_condition(
            &mut conditions,
            Condition::new("Ready", ConditionStatus::True, "Ready", "again"),
        );
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].last_transition_time, "2024-01-15T10:00:00Z");
        assert_eq!(conditions[0].message, "again");

        set_condition(
            &mut conditions,
            Condition::new("Ready", ConditionStatus::False, "Broken", "x"),
        );
        assert_ne!(conditions[0].last_transition_time, "2024-01-15T10:00:00Z");
        assert_eq!(conditions[0].status, ConditionStatus::False);
    }

    #[test]
    fn set_condition_adds_new_types() {
        let mut conditions = vec![];
        set_condition(
            &mut conditions,
            Condition::new("Ready", ConditionStatus::True, "Ready", ""),
        );
        set_condition(
            &mut conditions,
            Condition::new("Synced", ConditionStatus::False, "X", ""),
        );
        assert_eq!(conditions.len(), 2);
    }
}
