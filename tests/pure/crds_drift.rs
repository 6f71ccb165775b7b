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
    let status = &json["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        ["properties"];
    assert_eq!(
        status["osInfo"]["properties"]["id"]["description"],
        "vSphere guest OS identifier, e.g. photon64Guest."
    );
    assert_eq!(status["firmware"]["enum"][0], "BIOS");
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
