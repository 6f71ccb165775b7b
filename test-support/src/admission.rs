//! What the webhook is asked about: images with a status, and AdmissionReviews of a
//! VirtualMachine create.

use vmi_operator::api::{
    ClusterVirtualMachineImage, Condition, ConditionStatus, VirtualMachineImage,
    VirtualMachineImageStatus,
};

fn status(display: &str, ready: bool, capabilities: &[&str]) -> VirtualMachineImageStatus {
    let (st, reason, message) = if ready {
        (ConditionStatus::True, "Ready", "")
    } else {
        (
            ConditionStatus::False,
            "VirtualMachineImageNotSynced",
            "the content library item is not synced",
        )
    };
    VirtualMachineImageStatus {
        name: Some(display.to_string()),
        capabilities: capabilities.iter().map(|c| c.to_string()).collect(),
        conditions: vec![Condition::new("Ready", st, reason, message)],
        ..Default::default()
    }
}

/// A VirtualMachineImage with a status.
pub fn vmi(
    ns: &str,
    name: &str,
    display: &str,
    ready: bool,
    capabilities: &[&str],
) -> VirtualMachineImage {
    let mut o = VirtualMachineImage::new(name, Default::default());
    o.metadata.namespace = Some(ns.to_string());
    o.status = Some(status(display, ready, capabilities));
    o
}

/// A ClusterVirtualMachineImage with a status.
pub fn cvmi(
    name: &str,
    display: &str,
    ready: bool,
    capabilities: &[&str],
) -> ClusterVirtualMachineImage {
    let mut o = ClusterVirtualMachineImage::new(name, Default::default());
    o.status = Some(status(display, ready, capabilities));
    o
}

/// A fresh VMI ID (`vmi-` + 17 hex digits).
pub fn random_vmi_id() -> String {
    vmi_operator::vmi_id::vmi_id(&uuid::Uuid::new_v4().to_string()).expect("uuid")
}

/// An AdmissionReview (v1) of a VirtualMachine create with this spec, as JSON bytes.
pub fn create_review(uid: &str, ns: &str, name: &str, spec: serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": { "group": "vmoperator.vmware.com", "version": "v1alpha5", "kind": "VirtualMachine" },
            "resource": { "group": "vmoperator.vmware.com", "version": "v1alpha5", "resource": "virtualmachines" },
            "name": name,
            "namespace": ns,
            "operation": "CREATE",
            "userInfo": { "username": "bench" },
            "object": {
                "apiVersion": "vmoperator.vmware.com/v1alpha5",
                "kind": "VirtualMachine",
                "metadata": { "name": name, "namespace": ns },
                "spec": spec
            },
            "oldObject": null,
            "dryRun": false
        }
    }))
    .expect("review JSON")
}
