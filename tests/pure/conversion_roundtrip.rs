//! The conversion webhook's core against VMware's CRDs: for every kind and served version,
//! random objects valid under the version's schema convert to the hub and back exactly (spoke ->
//! hub -> spoke and hub -> spoke -> hub, and for images spoke -> spoke -> spoke), and every
//! converted object is valid under its target version's schema (nothing the server would reject
//! or prune). The hub schemas carry the project's additions.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};
use vmi_operator::conversion::{CONTENT_LIB_REF_KEY, convert};
use vmi_test_support::schema_gen::{
    CONDITION_REASON_PATTERN, CONDITION_TYPE_PATTERN, Crd, GenConfig, QUANTITY_PATTERN, validate,
    value_strategy,
};

/// Cases per direction and version: the whole file stays within a few seconds in debug.
const CASES: u32 = 64;
const SPOKE_TO_SPOKE_CASES: u32 = 8;

fn crd(file: &str) -> Crd {
    let dir = Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../shared/fixtures/vmware-crds"
    ));
    Crd::load(&PathBuf::from(dir).join(file))
}

/// Values that steer generation into VMware's rules: v1alpha1 image conditions and reasons,
/// naming strategies, certificate statuses, system annotations.
fn config() -> GenConfig {
    let vmware = [
        "Ready",
        "VirtualMachineImageSynced",
        "VirtualMachineImageProviderReady",
        "VirtualMachineImageProviderSecurityCompliance",
        "VirtualMachineImageNotSynced",
        "VirtualMachineImageProviderNotReady",
        "VirtualMachineImageProviderSecurityNotCompliant",
    ];
    let mut cfg = GenConfig::default()
        .with_samples(CONDITION_TYPE_PATTERN, &vmware[..4])
        .with_samples(CONDITION_REASON_PATTERN, &vmware[4..]);
    cfg.strings.extend(vmware.map(String::from));
    cfg.strings
        .extend(["Error", "Warning", "has space", "1bad:"].map(String::from));
    cfg.optional = 0.6;
    cfg
}

/// A version as the project serves it: VMware's schema plus the project's optional fields where
/// its CRDs have them (`crds_drift::ADDITIONS`: the disks' capacity and size at v1alpha5 and
/// v1alpha6, the libraries' source, item count and generation at both versions).
fn with_project_additions(crd: &Crd, version: &str, mut schema: Value) -> Value {
    let quantity = json!({"anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": QUANTITY_PATTERN, "x-kubernetes-int-or-string": true});
    let mut add = |pointer: &str, name: &str, field: Value| {
        let props = schema
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{}: no {pointer}", crd.kind));
        props.insert(name.into(), field);
    };
    match crd.kind.as_str() {
        "VirtualMachineImage" | "ClusterVirtualMachineImage"
            if matches!(version, "v1alpha5" | "v1alpha6") =>
        {
            let disk = "/properties/status/properties/disks/items/properties";
            add(disk, "capacity", quantity.clone());
            add(disk, "size", quantity);
        }
        "ContentLibrary" | "ClusterContentLibrary" => {
            add(
                "/properties/spec/properties",
                "source",
                json!({"type": "string"}),
            );
            let status = "/properties/status/properties";
            add(
                status,
                "itemCount",
                json!({"type": "integer", "format": "int32", "minimum": 0}),
            );
            add(
                status,
                "observedGeneration",
                json!({"type": "integer", "format": "int64", "minimum": 0}),
            );
        }
        _ => {}
    }
    schema
}

fn metadata(namespaced: bool) -> BoxedStrategy<Value> {
    let keys = select(vec![
        "example.com/note",
        "vmware-system-foo",
        "vmware-system-bar",
        CONTENT_LIB_REF_KEY,
    ]);
    let values = select(vec![
        String::new(),
        "x".into(),
        "not json".into(),
        r#"{"apiGroup":"imageregistry.vmware.com","kind":"ContentLibrary","name":"lib"}"#.into(),
    ]);
    let annotations = proptest::option::of(proptest::collection::btree_map(keys, values, 0..=3));
    let labels = proptest::option::of(Just(json!({"app": "x"})));
    (select(vec!["img-a", "lib-1"]), annotations, labels)
        .prop_map(move |(name, annotations, labels)| {
            let mut m = Map::new();
            m.insert("name".into(), json!(name));
            if namespaced {
                m.insert("namespace".into(), json!("ns-a"));
            }
            if let Some(a) = annotations {
                m.insert("annotations".into(), json!(a));
            }
            if let Some(l) = labels {
                m.insert("labels".into(), l);
            }
            Value::Object(m)
        })
        .boxed()
}

/// Objects of `crd` at `version`, valid under `schema`.
fn objects(crd: &Crd, version: &str, schema: &Value) -> BoxedStrategy<Value> {
    let mut body = schema.clone();
    if let Some(props) = body.get_mut("properties").and_then(Value::as_object_mut) {
        for k in ["apiVersion", "kind", "metadata"] {
            props.remove(k);
        }
    }
    let (api_version, kind) = (crd.api_version(version), crd.kind.clone());
    (value_strategy(&body, &config()), metadata(crd.namespaced))
        .prop_map(move |(mut o, meta)| {
            o["apiVersion"] = json!(api_version);
            o["kind"] = json!(kind);
            o["metadata"] = meta;
            o
        })
        .boxed()
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// Converts `x` to `to`, checks the result against `schema`, converts it back to `back` and
/// checks that gives `x`.
fn there_and_back(x: &Value, to: &str, schema: &Value, back: &str) -> Result<(), TestCaseError> {
    let fail = |what: String| TestCaseError::fail(format!("{what}\ninput: {x:#}"));
    let there = convert(x, to).map_err(|e| fail(format!("to {to}: {e}")))?;
    validate(schema, &there)
        .map_err(|e| fail(format!("invalid at {to}: {e}\nconverted: {there:#}")))?;
    let again = convert(&there, back)
        .map_err(|e| fail(format!("back to {back}: {e}\nconverted: {there:#}")))?;
    if again != *x {
        return Err(fail(format!(
            "not the input after {to} and back\nconverted: {there:#}\nback: {again:#}"
        )));
    }
    Ok(())
}

fn roundtrips(file: &str) {
    let crd = crd(file);
    let hub = crd.storage().clone();
    let hub_schema = with_project_additions(&crd, &hub.name, hub.schema.clone());
    let hub_api = crd.api_version(&hub.name);
    let spokes: Vec<_> = crd
        .versions
        .iter()
        .filter(|v| !v.storage)
        .map(|v| {
            let mut v = v.clone();
            v.schema = with_project_additions(&crd, &v.name, v.schema);
            v
        })
        .collect();
    assert!(!spokes.is_empty(), "{file}: one version only");
    for spoke in &spokes {
        let spoke_api = crd.api_version(&spoke.name);
        let generated = |schema: &Value, x: &Value| {
            validate(schema, x)
                .map_err(|e| TestCaseError::fail(format!("generated invalid: {e}\n{x:#}")))
        };
        runner(CASES)
            .run(&objects(&crd, &spoke.name, &spoke.schema), |x| {
                generated(&spoke.schema, &x)?;
                there_and_back(&x, &hub_api, &hub_schema, &spoke_api)
            })
            .unwrap_or_else(|e| panic!("{} {} -> {} -> back: {e}", crd.kind, spoke.name, hub.name));
        runner(CASES)
            .run(&objects(&crd, &hub.name, &hub_schema), |h| {
                generated(&hub_schema, &h)?;
                there_and_back(&h, &spoke_api, &spoke.schema, &hub_api)
            })
            .unwrap_or_else(|e| panic!("{} {} -> {} -> back: {e}", crd.kind, hub.name, spoke.name));
        for other in spokes.iter().filter(|o| o.name != spoke.name) {
            let other_api = crd.api_version(&other.name);
            runner(SPOKE_TO_SPOKE_CASES)
                .run(&objects(&crd, &spoke.name, &spoke.schema), |x| {
                    there_and_back(&x, &other_api, &other.schema, &spoke_api)
                })
                .unwrap_or_else(|e| {
                    panic!("{} {} -> {} -> back: {e}", crd.kind, spoke.name, other.name)
                });
        }
    }
}

#[test]
fn virtual_machine_images() {
    roundtrips("vmoperator.vmware.com_virtualmachineimages.yaml");
}

#[test]
fn cluster_virtual_machine_images() {
    roundtrips("vmoperator.vmware.com_clustervirtualmachineimages.yaml");
}

#[test]
fn content_libraries() {
    roundtrips("imageregistry.vmware.com_contentlibraries.yaml");
}

#[test]
fn cluster_content_libraries() {
    roundtrips("imageregistry.vmware.com_clustercontentlibraries.yaml");
}

#[test]
fn content_library_items() {
    roundtrips("imageregistry.vmware.com_contentlibraryitems.yaml");
}

#[test]
fn cluster_content_library_items() {
    roundtrips("imageregistry.vmware.com_clustercontentlibraryitems.yaml");
}
