//! Objects from a CRD's openAPIV3Schema: a proptest [`Strategy`] that generates values valid
//! under a structural schema, and a small structural [`validate`]or (types, required, unknown
//! fields, enums, patterns, lengths, bounds, list-type keys) to check what a conversion produced.
//!
//! Generation is bounded: lists and maps of at most `max_items` entries, objects past `max_depth`
//! with their required fields only. Strings with a `pattern` are picked from fixed valid samples
//! ([`GenConfig::pattern_samples`]; a pattern without samples panics, so add some).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{LazyLock, Mutex};

use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::BoxedStrategy;
use regex::Regex;
use serde_json::{Map, Value};

/// Kubernetes' quantity pattern (`resource.Quantity`, int-or-string).
pub const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";
/// metav1.Condition's reason pattern.
pub const CONDITION_REASON_PATTERN: &str = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$";
/// metav1.Condition's type pattern.
pub const CONDITION_TYPE_PATTERN: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$";

/// How values are generated.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Most entries of a list or map.
    pub max_items: usize,
    /// Objects deeper than this get their required fields only, lists none.
    pub max_depth: usize,
    /// How likely an optional field is present.
    pub optional: f64,
    /// Strings picked half of the time for a string without pattern, enum or format (the other
    /// half are random short strings).
    pub strings: Vec<String>,
    /// Valid values for each pattern (strings, or integers for int-or-string fields).
    pub pattern_samples: Vec<(String, Vec<Value>)>,
    /// Values of `format: date-time` strings.
    pub date_times: Vec<String>,
}

impl Default for GenConfig {
    fn default() -> Self {
        let strings = |v: &[&str]| {
            v.iter()
                .map(|s| Value::String((*s).into()))
                .collect::<Vec<_>>()
        };
        let mut quantities = strings(&["1Gi", "512Mi", "10", "1.5G", "100m", "0"]);
        quantities.extend([
            Value::from(0),
            Value::from(1024),
            Value::from(20_000_000_000_i64),
        ]);
        GenConfig {
            max_items: 3,
            max_depth: 8,
            optional: 0.5,
            strings: ["", "a", "x-1", "Ready", "True", "False"]
                .map(String::from)
                .to_vec(),
            pattern_samples: vec![
                (QUANTITY_PATTERN.into(), quantities),
                (
                    CONDITION_REASON_PATTERN.into(),
                    strings(&["Ready", "True", "Failed", "Not_Ready", "A,B:c"]),
                ),
                (
                    CONDITION_TYPE_PATTERN.into(),
                    strings(&["Ready", "Synced", "example.com/Degraded", "a-b.c_d"]),
                ),
            ],
            date_times: [
                "2024-01-02T03:04:05Z",
                "2025-06-30T23:59:59Z",
                "2023-11-05T10:00:00+02:00",
            ]
            .map(String::from)
            .to_vec(),
        }
    }
}

impl GenConfig {
    /// Adds samples for `pattern`, checked against it.
    pub fn with_samples(mut self, pattern: &str, samples: &[&str]) -> Self {
        let values: Vec<Value> = samples.iter().map(|s| Value::String((*s).into())).collect();
        match self.pattern_samples.iter_mut().find(|(p, _)| p == pattern) {
            Some((_, v)) => v.extend(values),
            None => self.pattern_samples.push((pattern.into(), values)),
        }
        self
    }

    fn samples(&self, pattern: &str) -> Vec<Value> {
        let samples = self
            .pattern_samples
            .iter()
            .find(|(p, _)| p == pattern)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no samples for pattern {pattern}: add some to GenConfig"));
        let re = regex(pattern);
        for s in &samples {
            if let Some(text) = s.as_str() {
                assert!(
                    re.is_match(text),
                    "sample {text:?} does not match {pattern}"
                );
            }
        }
        samples
    }
}

/// A strategy for values valid under `schema`.
pub fn value_strategy(schema: &Value, config: &GenConfig) -> BoxedStrategy<Value> {
    strategy(schema, config, 0)
}

fn strategy(s: &Value, cfg: &GenConfig, depth: usize) -> BoxedStrategy<Value> {
    if let Some(values) = s.get("enum").and_then(Value::as_array) {
        return select(values.clone()).boxed();
    }
    if s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return match s.get("pattern").and_then(Value::as_str) {
            Some(p) => select(cfg.samples(p)).boxed(),
            None => {
                prop_oneof![(0i64..5000).prop_map(Value::from), string_strategy(s, cfg)].boxed()
            }
        };
    }
    match s.get("type").and_then(Value::as_str) {
        Some("object") | None => object_strategy(s, cfg, depth),
        Some("array") => array_strategy(s, cfg, depth),
        Some("string") => string_strategy(s, cfg),
        Some("integer") => {
            let lo = s.get("minimum").and_then(Value::as_i64).unwrap_or(-3);
            let hi = s
                .get("maximum")
                .and_then(Value::as_i64)
                .unwrap_or(lo + 2000);
            (lo..=hi).prop_map(Value::from).boxed()
        }
        Some("number") => {
            select(vec![Value::from(0.5), Value::from(2), Value::from(-1.25)]).boxed()
        }
        Some("boolean") => any::<bool>().prop_map(Value::Bool).boxed(),
        Some(other) => panic!("schema type {other} is not generated"),
    }
}

fn string_strategy(s: &Value, cfg: &GenConfig) -> BoxedStrategy<Value> {
    if let Some(p) = s.get("pattern").and_then(Value::as_str) {
        let samples: Vec<Value> = cfg
            .samples(p)
            .into_iter()
            .filter(Value::is_string)
            .collect();
        return select(samples).boxed();
    }
    if s.get("format").and_then(Value::as_str) == Some("date-time") {
        let times = cfg
            .date_times
            .iter()
            .cloned()
            .map(Value::String)
            .collect::<Vec<_>>();
        return select(times).boxed();
    }
    let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = s
        .get("maxLength")
        .and_then(Value::as_u64)
        .map_or(min + 8, |m| (m as usize).min(min + 8));
    let random = proptest::string::string_regex(&format!("[a-zA-Z0-9._ -]{{{min},{max}}}"))
        .unwrap_or_else(|e| panic!("string strategy: {e}"))
        .prop_map(Value::String);
    let pool: Vec<Value> = cfg
        .strings
        .iter()
        .filter(|p| (min..=max).contains(&p.chars().count()))
        .cloned()
        .map(Value::String)
        .collect();
    if pool.is_empty() {
        random.boxed()
    } else {
        prop_oneof![select(pool), random].boxed()
    }
}

fn array_strategy(s: &Value, cfg: &GenConfig, depth: usize) -> BoxedStrategy<Value> {
    let Some(items) = s.get("items") else {
        return Just(Value::Array(Vec::new())).boxed();
    };
    if depth >= cfg.max_depth {
        return Just(Value::Array(Vec::new())).boxed();
    }
    let max = s
        .get("maxItems")
        .and_then(Value::as_u64)
        .map_or(cfg.max_items, |m| (m as usize).min(cfg.max_items));
    let list_type = s
        .get("x-kubernetes-list-type")
        .and_then(Value::as_str)
        .map(String::from);
    let keys = map_keys(s);
    proptest::collection::vec(strategy(items, cfg, depth + 1), 0..=max)
        .prop_map(move |list| {
            // Keep the first of entries with the same key (set: the same value).
            let mut seen = Vec::new();
            let list = list
                .into_iter()
                .filter(|v| {
                    let id = match list_type.as_deref() {
                        Some("set") => v.clone(),
                        Some("map") => Value::Array(
                            keys.iter()
                                .map(|k| v.get(k).cloned().unwrap_or(Value::Null))
                                .collect(),
                        ),
                        _ => return true,
                    };
                    let fresh = !seen.contains(&id);
                    seen.push(id);
                    fresh
                })
                .collect();
            Value::Array(list)
        })
        .boxed()
}

fn map_keys(s: &Value) -> Vec<String> {
    s.get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|k| {
            k.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn object_strategy(s: &Value, cfg: &GenConfig, depth: usize) -> BoxedStrategy<Value> {
    let required = required(s);
    let mut fields: Vec<BoxedStrategy<Option<(String, Value)>>> = Vec::new();
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (name, schema) in props {
            let is_required = required.contains(name);
            if !is_required && depth >= cfg.max_depth {
                continue;
            }
            let name = name.clone();
            let value = strategy(schema, cfg, depth + 1).prop_map(move |v| (name.clone(), v));
            fields.push(if is_required {
                value.prop_map(Some).boxed()
            } else {
                proptest::option::weighted(cfg.optional, value).boxed()
            });
        }
    }
    let extra = match s.get("additionalProperties") {
        Some(ap @ Value::Object(_)) if depth < cfg.max_depth => {
            let keys = prop_oneof![
                select(vec!["a", "key-1", "user.name"]).prop_map(String::from),
                "[a-z]{1,6}"
            ];
            proptest::collection::btree_map(keys, strategy(ap, cfg, depth + 1), 0..=cfg.max_items)
                .boxed()
        }
        _ => Just(BTreeMap::new()).boxed(),
    };
    (fields, extra)
        .prop_map(|(fields, extra)| {
            let mut m: Map<String, Value> = extra.into_iter().collect();
            m.extend(fields.into_iter().flatten());
            Value::Object(m)
        })
        .boxed()
}

fn required(s: &Value) -> Vec<String> {
    s.get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

fn regex(pattern: &str) -> Regex {
    static CACHE: LazyLock<Mutex<HashMap<String, Regex>>> = LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache
        .entry(pattern.to_string())
        .or_insert_with(|| Regex::new(pattern).unwrap_or_else(|e| panic!("pattern {pattern}: {e}")))
        .clone()
}

/// Checks `value` against `schema` as the API server's structural schema would: the error names
/// the first offending path. Unknown fields of objects are errors (the server would prune
/// them), except under `x-kubernetes-preserve-unknown-fields` and in the root's `metadata`.
pub fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    check(schema, value, "")
}

fn check(s: &Value, v: &Value, path: &str) -> Result<(), String> {
    let at = if path.is_empty() { "<root>" } else { path };
    let fail = |what: String| Err(format!("{at}: {what}"));
    if v.is_null() {
        return fail("null".into());
    }
    if let Some(values) = s.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        return fail(format!("{v} is not one of {values:?}"));
    }
    if s.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        return match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
            Value::String(text) => check_string(s, text, at),
            _ => fail(format!("{v} is neither an integer nor a string")),
        };
    }
    match s.get("type").and_then(Value::as_str) {
        Some("object") => {
            let Value::Object(m) = v else {
                return fail(format!("{v} is not an object"));
            };
            for r in required(s) {
                if !m.contains_key(&r) {
                    return fail(format!("required field {r} is missing"));
                }
            }
            let props = s.get("properties").and_then(Value::as_object);
            let preserve =
                s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
            for (k, child) in m {
                let child_path = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match (props.and_then(|p| p.get(k)), s.get("additionalProperties")) {
                    (Some(ps), _) => check(ps, child, &child_path)?,
                    (None, Some(ap @ Value::Object(_))) => check(ap, child, &child_path)?,
                    _ if preserve || path == "metadata" => {}
                    _ => return fail(format!("unknown field {k} (the schema would prune it)")),
                }
            }
            Ok(())
        }
        Some("array") => {
            let Value::Array(list) = v else {
                return fail(format!("{v} is not a list"));
            };
            if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
                && list.len() as u64 > max
            {
                return fail(format!("more than {max} items"));
            }
            if let Some(items) = s.get("items") {
                for (i, item) in list.iter().enumerate() {
                    check(items, item, &format!("{path}[{i}]"))?;
                }
            }
            let keys = map_keys(s);
            let ids: Vec<Value> = match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => list.clone(),
                Some("map") => list
                    .iter()
                    .map(|item| {
                        Value::Array(
                            keys.iter()
                                .map(|k| item.get(k).cloned().unwrap_or(Value::Null))
                                .collect(),
                        )
                    })
                    .collect(),
                _ => Vec::new(),
            };
            for (i, id) in ids.iter().enumerate() {
                if ids[..i].contains(id) {
                    return fail(format!("duplicate list entry {id}"));
                }
            }
            Ok(())
        }
        Some("string") => match v {
            Value::String(text) => check_string(s, text, at),
            _ => fail(format!("{v} is not a string")),
        },
        Some("integer") => {
            let Some(n) = v.as_i64() else {
                return fail(format!("{v} is not an integer"));
            };
            let (lo, hi) = match s.get("format").and_then(Value::as_str) {
                Some("int32") => (i64::from(i32::MIN), i64::from(i32::MAX)),
                _ => (i64::MIN, i64::MAX),
            };
            let lo = s.get("minimum").and_then(Value::as_i64).unwrap_or(lo);
            let hi = s.get("maximum").and_then(Value::as_i64).unwrap_or(hi);
            if n < lo || n > hi {
                return fail(format!("{n} is outside {lo}..={hi}"));
            }
            Ok(())
        }
        Some("number") if v.is_number() => Ok(()),
        Some("boolean") if v.is_boolean() => Ok(()),
        Some(t) => fail(format!("{v} is not a {t}")),
        None => Ok(()),
    }
}

fn check_string(s: &Value, text: &str, at: &str) -> Result<(), String> {
    let len = text.chars().count() as u64;
    if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
        && len > max
    {
        return Err(format!("{at}: longer than {max}"));
    }
    if let Some(min) = s.get("minLength").and_then(Value::as_u64)
        && len < min
    {
        return Err(format!("{at}: shorter than {min}"));
    }
    if let Some(p) = s.get("pattern").and_then(Value::as_str)
        && !regex(p).is_match(text)
    {
        return Err(format!("{at}: {text:?} does not match {p}"));
    }
    if s.get("format").and_then(Value::as_str) == Some("date-time") {
        let rfc3339 = regex(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$");
        if !rfc3339.is_match(text) {
            return Err(format!("{at}: {text:?} is not a date-time"));
        }
    }
    Ok(())
}

/// A CRD's kind and the schema of each version it serves.
#[derive(Clone, Debug)]
pub struct Crd {
    pub group: String,
    pub kind: String,
    pub namespaced: bool,
    pub versions: Vec<CrdVersion>,
}

#[derive(Clone, Debug)]
pub struct CrdVersion {
    pub name: String,
    pub storage: bool,
    pub schema: Value,
}

impl Crd {
    /// The CRD in a YAML file.
    pub fn load(path: &Path) -> Crd {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let crd: Value = serde_saphyr::from_str(&text)
            .unwrap_or_else(|e| panic!("{}: invalid YAML: {e}", path.display()));
        let text_at = |p: &str| {
            crd.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_else(|| panic!("{}: no {p}", path.display()))
                .to_string()
        };
        let versions = crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .unwrap_or_else(|| panic!("{}: no versions", path.display()))
            .iter()
            .filter(|v| v.get("served") == Some(&Value::Bool(true)))
            .map(|v| CrdVersion {
                name: v
                    .get("name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                storage: v.get("storage") == Some(&Value::Bool(true)),
                schema: v
                    .pointer("/schema/openAPIV3Schema")
                    .cloned()
                    .unwrap_or_else(|| panic!("{}: a version without schema", path.display())),
            })
            .collect();
        Crd {
            group: text_at("/spec/group"),
            kind: text_at("/spec/names/kind"),
            namespaced: text_at("/spec/scope") == "Namespaced",
            versions,
        }
    }

    /// The storage version.
    pub fn storage(&self) -> &CrdVersion {
        self.versions
            .iter()
            .find(|v| v.storage)
            .unwrap_or_else(|| panic!("{} has no storage version", self.kind))
    }

    pub fn api_version(&self, version: &str) -> String {
        format!("{}/{version}", self.group)
    }
}

#[cfg(test)]
mod tests {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    use serde_json::json;

    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "required": ["id"], "properties": {
            "id": {"type": "string", "minLength": 2},
            "size": {"x-kubernetes-int-or-string": true, "pattern": QUANTITY_PATTERN,
                "anyOf": [{"type": "integer"}, {"type": "string"}]},
            "state": {"type": "string", "enum": ["On", "Off"]},
            "at": {"type": "string", "format": "date-time"},
            "disks": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"}, "n": {"type": "integer", "format": "int32", "minimum": 0}}}},
            "env": {"type": "object", "additionalProperties": {"type": "string"}}
        }})
    }

    #[test]
    fn generated_values_are_valid() {
        let mut runner = TestRunner::deterministic();
        let strategy = value_strategy(&schema(), &GenConfig::default());
        for _ in 0..200 {
            let v = strategy.new_tree(&mut runner).expect("tree").current();
            validate(&schema(), &v).unwrap_or_else(|e| panic!("{v}: {e}"));
        }
    }

    #[test]
    fn validation_catches_what_the_server_would_reject_or_prune() {
        let s = schema();
        assert!(validate(&s, &json!({"id": "ab"})).is_ok());
        let bad = [
            json!({}),
            json!({"id": "a"}),
            json!({"id": "ab", "extra": 1}),
            json!({"id": "ab", "state": "Maybe"}),
            json!({"id": "ab", "size": "1 Gi"}),
            json!({"id": "ab", "at": "yesterday"}),
            json!({"id": "ab", "disks": [{"name": "a"}, {"name": "a"}]}),
            json!({"id": "ab", "disks": [{"name": "a", "n": -1}]}),
            json!({"id": "ab", "env": {"k": 1}}),
            json!({"id": null}),
        ];
        for v in bad {
            assert!(validate(&s, &v).is_err(), "{v} passed");
        }
    }
}
