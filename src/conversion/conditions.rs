//! Conditions: Cluster-API conditions (v1alpha1 of every kind: `severity`, reason and message
//! optional, any status) and metav1 conditions (every hub). VMware's `condition_conversion.go`
//! copies type, status, time, reason and message; an empty reason becomes the status.
//!
//! metav1 conditions are stricter (status enum, reason and type patterns, message length);
//! VMware copies verbatim, which can give a hub condition its schema rejects. Here a value the
//! hub would reject is made valid, and the lossless annotation keeps the original.

use serde_json::Value;

use super::json::{Map, Result, copy, string};

/// metav1's limits (`k8s.io/apimachinery/pkg/apis/meta/v1.Condition`).
const MAX_REASON: usize = 1024;
const MAX_MESSAGE: usize = 32768;
const MAX_TYPE: usize = 316;

/// A Cluster-API condition as a metav1 condition (`Convert_v1alpha1_Condition_To_v1_Condition`).
pub(crate) fn to_metav1(c: &Map, path: &str) -> Result<Value> {
    let status = metav1_status(string(c, "status", path)?.unwrap_or(""));
    let reason = string(c, "reason", path)?.unwrap_or("");
    let mut out = Map::new();
    out.insert(
        "type".into(),
        Value::String(condition_type(string(c, "type", path)?.unwrap_or(""))),
    );
    out.insert("status".into(), Value::String(status.into()));
    copy(c, &mut out, &["lastTransitionTime"]);
    out.insert(
        "reason".into(),
        Value::String(reason_or_status(reason, status)),
    );
    out.insert(
        "message".into(),
        Value::String(message(string(c, "message", path)?.unwrap_or(""))),
    );
    Ok(Value::Object(out))
}

/// A metav1 condition as a Cluster-API condition (`Convert_v1_Condition_To_v1alpha1_Condition`):
/// no severity, observedGeneration dropped; empty reason and message omitted as Go does.
pub(crate) fn to_capi(c: &Map, path: &str) -> Result<Value> {
    let mut out = Map::new();
    copy(c, &mut out, &["type", "status", "lastTransitionTime"]);
    for key in ["reason", "message"] {
        if let Some(v) = string(c, key, path)?.filter(|v| !v.is_empty()) {
            out.insert(key.into(), Value::String(v.into()));
        }
    }
    Ok(Value::Object(out))
}

/// A metav1 status: `True`, `False` or `Unknown` (anything else is `Unknown`).
pub(crate) fn metav1_status(status: &str) -> &'static str {
    match status {
        "True" => "True",
        "False" => "False",
        _ => "Unknown",
    }
}

/// VMware's rule (the reason is required in metav1): an empty reason becomes the status. A
/// reason outside metav1's pattern `^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$` keeps its valid
/// characters.
pub(crate) fn reason_or_status(reason: &str, status: &str) -> String {
    let kept: String = reason
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ',' | ':'))
        .skip_while(|c| !c.is_ascii_alphabetic())
        .take(MAX_REASON)
        .collect();
    let kept = kept.trim_end_matches([',', ':']);
    if kept.is_empty() {
        metav1_status(status).to_string()
    } else {
        kept.to_string()
    }
}

/// A message within metav1's length limit.
pub(crate) fn message(message: &str) -> String {
    message.chars().take(MAX_MESSAGE).collect()
}

/// A condition type as metav1 requires: an optional DNS-subdomain prefix and `/`, then a name of
/// alphanumerics, `-`, `_` and `.` that starts and ends alphanumeric. An invalid type keeps the
/// name's valid characters.
pub(crate) fn condition_type(t: &str) -> String {
    if is_condition_type(t) {
        return t.to_string();
    }
    let kept: String = t
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .take(MAX_TYPE)
        .collect();
    let kept = kept.trim_matches(|c: char| !c.is_ascii_alphanumeric());
    if kept.is_empty() {
        "Unknown".to_string()
    } else {
        kept.to_string()
    }
}

fn is_condition_type(t: &str) -> bool {
    if t.chars().count() > MAX_TYPE {
        return false;
    }
    let (prefix, name) = match t.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, t),
    };
    let alnum_ends = |s: &str| {
        s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
            && s.chars().last().is_some_and(|c| c.is_ascii_alphanumeric())
    };
    let name_ok = alnum_ends(name)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let prefix_ok = prefix.is_none_or(|p| {
        p.split('.').all(|label| {
            let lower = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
            label.chars().next().is_some_and(lower)
                && label.chars().last().is_some_and(lower)
                && label.chars().all(|c| lower(c) || c == '-')
        })
    });
    name_ok && prefix_ok
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn capi(v: Value) -> Value {
        let m = v.as_object().cloned().unwrap_or_default();
        to_metav1(&m, "c").expect("converts")
    }

    #[test]
    fn empty_reason_becomes_the_status_and_severity_is_dropped() {
        let c = capi(
            json!({"type": "Ready", "status": "False", "severity": "Error",
            "lastTransitionTime": "2024-01-02T03:04:05Z"}),
        );
        assert_eq!(
            c,
            json!({"type": "Ready", "status": "False", "reason": "False", "message": "",
                "lastTransitionTime": "2024-01-02T03:04:05Z"})
        );
    }

    #[test]
    fn metav1_to_capi_drops_observed_generation_and_empty_strings() {
        let m = json!({"type": "Ready", "status": "True", "reason": "Done", "message": "",
            "observedGeneration": 3, "lastTransitionTime": "2024-01-02T03:04:05Z"});
        let c = to_capi(m.as_object().expect("object"), "c").expect("converts");
        assert_eq!(
            c,
            json!({"type": "Ready", "status": "True", "reason": "Done",
                "lastTransitionTime": "2024-01-02T03:04:05Z"})
        );
    }

    #[test]
    fn values_metav1_rejects_are_made_valid() {
        let c = capi(
            json!({"type": "has space/x y", "status": "maybe", "reason": "1 bad reason:",
            "lastTransitionTime": "2024-01-02T03:04:05Z"}),
        );
        assert_eq!(c["status"], "Unknown");
        assert_eq!(c["reason"], "badreason");
        assert_eq!(c["type"], "hasspacexy");
        assert_eq!(reason_or_status("::", "True"), "True");
        assert!(is_condition_type("example.com/Ready"));
        assert!(!is_condition_type("Example.com/Ready"));
        assert!(!is_condition_type("Ready-"));
    }
}
