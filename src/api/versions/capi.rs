//! The conditions of every v1alpha1 here: Cluster API's shape, with `severity` and an optional
//! reason and message.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A Cluster API condition.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CapiCondition {
    /// Type of condition in CamelCase.
    #[serde(rename = "type")]
    pub type_: String,
    /// Status of the condition, one of True, False, Unknown.
    pub status: String,
    /// Classification of the reason when Status=False: Error, Warning or Info.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Last time the condition transitioned from one status to another.
    #[schemars(extend("format" = "date-time"))]
    pub last_transition_time: String,
    /// The reason for the condition's last transition in CamelCase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A human readable message indicating details about the transition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
