//! The committed CRD YAML in `crds/` is what the Rust types generate (`make crds` updates it).

use std::collections::BTreeSet;
use std::path::Path;

#[test]
fn committed_crds_match_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let generated = vmi_operator::crdgen::render_all();
    for (name, content) in &generated {
        let committed = std::fs::read_to_string(dir.join(name))
            .unwrap_or_else(|e| panic!("crds/{name} is missing ({e}); run `make crds`"));
        assert!(
            committed == *content,
            "crds/{name} differs from what the types generate; run `make crds`"
        );
    }
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    let expected: BTreeSet<String> = generated.into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        on_disk, expected,
        "crds/ holds files the types no longer generate"
    );
}

#[test]
fn schemas_carry_descriptions_and_validation() {
    let crds = vmi_operator::api::crds();
    let vmi = crds
        .iter()
        .find(|c| c.spec.names.kind == "VirtualMachineImage")
        .unwrap();
    let json = serde_json::to_value(vmi).unwrap();
    let hub = json["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["storage"] == true)
        .unwrap();
    assert_eq!(hub["name"], "v1alpha6");
    let status = &hub["schema"]["openAPIV3Schema"]["properties"]["status"]["properties"];
    assert_eq!(
        status["osInfo"]["properties"]["id"]["description"],
        "vSphere guest OS identifier, e.g. photon64Guest."
    );
    // VMware's firmware is any string (its controller writes `efi`).
    assert_eq!(status["firmware"]["type"], "string");
    assert!(status["firmware"].get("enum").is_none());
    assert_eq!(status["conditions"]["x-kubernetes-list-type"], "map");
    assert_eq!(
        vmi.spec.names.short_names.as_deref(),
        Some(&["vmi".to_string(), "vmimage".to_string()][..])
    );
    let cvmi = crds
        .iter()
        .find(|c| c.spec.names.kind == "ClusterVirtualMachineImage")
        .unwrap();
    assert_eq!(cvmi.spec.scope, "Cluster");
    assert_eq!(cvmi.spec.names.short_names.as_ref().unwrap().len(), 4);
    let item = crds
        .iter()
        .find(|c| c.spec.names.kind == "ContentLibraryItem")
        .unwrap();
    let item_json = serde_json::to_string(item).unwrap();
    assert!(
        item_json.contains(r#""rule":"self == oldSelf""#),
        "spec.id is immutable by CEL"
    );
}

/// Where the project's CRDs differ from VMware's (`../shared/fixtures/vmware-crds/`), by
/// `<crd> <version> <path>`: only these additions, optional fields of the project's own.
const ADDITIONS: &[&str] = &[
    // A published library's URL (VMware's CRDs prune it: the source annotation says it there).
    "contentlibraries v1alpha1 spec.source",
    "contentlibraries v1alpha2 spec.source",
    "clustercontentlibraries v1alpha1 spec.source",
    "clustercontentlibraries v1alpha2 spec.source",
    // What the sync reports of a library (the Ready condition carries the generation too).
    "contentlibraries v1alpha1 status.itemCount",
    "contentlibraries v1alpha1 status.observedGeneration",
    "contentlibraries v1alpha2 status.itemCount",
    "contentlibraries v1alpha2 status.observedGeneration",
    "clustercontentlibraries v1alpha1 status.itemCount",
    "clustercontentlibraries v1alpha1 status.observedGeneration",
    "clustercontentlibraries v1alpha2 status.itemCount",
    "clustercontentlibraries v1alpha2 status.observedGeneration",
    // The seed's disk fields, beside VMware's v1alpha5+ name/requested/limit.
    "virtualmachineimages v1alpha5 status.disks[].capacity",
    "virtualmachineimages v1alpha5 status.disks[].size",
    "virtualmachineimages v1alpha6 status.disks[].capacity",
    "virtualmachineimages v1alpha6 status.disks[].size",
    "clustervirtualmachineimages v1alpha5 status.disks[].capacity",
    "clustervirtualmachineimages v1alpha5 status.disks[].size",
    "clustervirtualmachineimages v1alpha6 status.disks[].capacity",
    "clustervirtualmachineimages v1alpha6 status.disks[].size",
];

/// Each version of each CRD is a superset of VMware's at that version: every field VMware has,
/// with its type, format, enum, required fields, list and map types, the same storage version;
/// and nothing more than [`ADDITIONS`].
#[test]
fn every_version_is_a_superset_of_vmwares() {
    use serde_json::Value;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/vmware-crds");
    let theirs: Vec<Value> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .flat_map(|p| {
            vmi_test_support::yaml::yaml_documents(&std::fs::read_to_string(&p).unwrap(), &p)
        })
        .filter(|d| d["kind"] == "CustomResourceDefinition")
        .collect();
    let ours: Vec<Value> = vmi_operator::api::crds()
        .iter()
        .map(|c| serde_json::to_value(c).unwrap())
        .collect();
    let mut differences = Vec::new();
    let mut checked = 0;
    for crd in &ours {
        let name = crd["metadata"]["name"].as_str().unwrap();
        let short = name.split('.').next().unwrap();
        let vmware = theirs
            .iter()
            .find(|t| t["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("VMware has no CRD {name}"));
        let versions = |c: &Value| c["spec"]["versions"].as_array().unwrap().clone();
        let served: Vec<String> = versions(crd)
            .iter()
            .map(|v| v["name"].to_string())
            .collect();
        for tv in versions(vmware) {
            let version = tv["name"].as_str().unwrap();
            let ov = versions(crd)
                .into_iter()
                .find(|v| v["name"] == version)
                .unwrap_or_else(|| panic!("{name} does not serve {version} ({served:?})"));
            assert_eq!(tv["storage"], ov["storage"], "{name} {version}: storage");
            let schema = |v: &Value| v["schema"]["openAPIV3Schema"]["properties"].clone();
            for part in ["spec", "status"] {
                compare(
                    &schema(&tv)[part],
                    &schema(&ov)[part],
                    &format!("{short} {version} {part}"),
                    &mut differences,
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 2 * 6 + 4 * 2, "every version of every kind");
    let unexpected: Vec<&String> = differences
        .iter()
        .filter(|d| !ADDITIONS.contains(&d.as_str()))
        .collect();
    assert!(
        unexpected.is_empty(),
        "differences from VMware's CRDs: {unexpected:#?}"
    );
    let unused: Vec<&&str> = ADDITIONS
        .iter()
        .filter(|a| !differences.iter().any(|d| d == *a))
        .collect();
    assert!(unused.is_empty(), "additions no longer there: {unused:?}");
}

/// Records in `out` what `ours` lacks of `theirs` (as a message) and what only `ours` has (as
/// its path).
fn compare(
    theirs: &serde_json::Value,
    ours: &serde_json::Value,
    path: &str,
    out: &mut Vec<String>,
) {
    if theirs.is_null() {
        return;
    }
    if ours.is_null() {
        out.push(format!("{path}: missing"));
        return;
    }
    for key in [
        "type",
        "format",
        "enum",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
        "x-kubernetes-int-or-string",
        "x-kubernetes-preserve-unknown-fields",
    ] {
        if theirs.get(key) != ours.get(key) {
            out.push(format!(
                "{path}: {key} {:?} vs ours {:?}",
                theirs.get(key),
                ours.get(key)
            ));
        }
    }
    let required = |s: &serde_json::Value| {
        let mut r: Vec<String> = s["required"]
            .as_array()
            .map(|a| a.iter().map(|v| v.to_string()).collect())
            .unwrap_or_default();
        r.sort();
        r
    };
    if required(theirs) != required(ours) {
        out.push(format!(
            "{path}: required {:?} vs ours {:?}",
            required(theirs),
            required(ours)
        ));
    }
    let props = |s: &serde_json::Value| s["properties"].as_object().cloned().unwrap_or_default();
    let (tp, op) = (props(theirs), props(ours));
    for (key, schema) in &tp {
        compare(
            schema,
            op.get(key).unwrap_or(&serde_json::Value::Null),
            &format!("{path}.{key}"),
            out,
        );
    }
    for key in op.keys().filter(|k| !tp.contains_key(*k)) {
        out.push(format!("{path}.{key}"));
    }
    compare(&theirs["items"], &ours["items"], &format!("{path}[]"), out);
    if theirs["additionalProperties"].is_object() {
        compare(
            &theirs["additionalProperties"],
            &ours["additionalProperties"],
            &format!("{path}{{}}"),
            out,
        );
    }
}
