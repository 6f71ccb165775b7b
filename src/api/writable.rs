//! Which of the project's optional fields the installed CRDs declare. Server-side apply refuses
//! a field the schema does not declare (`field not declared in schema`) instead of pruning it, so
//! on VMware's own CRDs an image status with the seed's disk `capacity`/`size`, or a library
//! status with `itemCount`, would fail every write. The operator reads the CRDs at start-up and
//! writes those fields only where they are declared.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::Value;

use super::{ContentLibraryStatus, VirtualMachineImageStatus};

/// The project's optional fields the installed CRDs declare at their storage versions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Writable {
    /// `status.disks[].capacity` and `.size` of images (the seed's).
    pub disk_sizes: bool,
    /// `status.itemCount` and `status.observedGeneration` of libraries.
    pub library_counts: bool,
}

impl Writable {
    /// The project's own CRDs: every field.
    pub const ALL: Writable = Writable {
        disk_sizes: true,
        library_counts: true,
    };
    /// VMware's CRDs (or CRDs that cannot be read): none of them.
    pub const NONE: Writable = Writable {
        disk_sizes: false,
        library_counts: false,
    };

    /// What `crds` (the installed CRDs, any of them) declare: a field counts when every CRD of
    /// its kinds declares it.
    pub fn of(crds: &[CustomResourceDefinition]) -> Writable {
        let all_declare = |names: [&str; 2], pointers: &[&str]| {
            names.iter().all(|name| {
                crds.iter()
                    .find(|c| c.metadata.name.as_deref() == Some(name))
                    .and_then(storage_schema)
                    .is_some_and(|s| pointers.iter().all(|p| s.pointer(p).is_some()))
            })
        };
        let disk = "/properties/status/properties/disks/items/properties";
        let status = "/properties/status/properties";
        Writable {
            disk_sizes: all_declare(
                [
                    "virtualmachineimages.vmoperator.vmware.com",
                    "clustervirtualmachineimages.vmoperator.vmware.com",
                ],
                &[&format!("{disk}/capacity"), &format!("{disk}/size")],
            ),
            library_counts: all_declare(
                [
                    "contentlibraries.imageregistry.vmware.com",
                    "clustercontentlibraries.imageregistry.vmware.com",
                ],
                &[
                    &format!("{status}/itemCount"),
                    &format!("{status}/observedGeneration"),
                ],
            ),
        }
    }

    /// `status` without what the CRDs do not declare.
    pub fn image_status(self, mut status: VirtualMachineImageStatus) -> VirtualMachineImageStatus {
        if !self.disk_sizes {
            for disk in &mut status.disks {
                disk.capacity = None;
                disk.size = None;
            }
        }
        status
    }

    /// `status` without what the CRDs do not declare.
    pub fn library_status(self, mut status: ContentLibraryStatus) -> ContentLibraryStatus {
        if !self.library_counts {
            status.item_count = None;
            status.observed_generation = None;
        }
        status
    }
}

fn storage_schema(crd: &CustomResourceDefinition) -> Option<Value> {
    let version = crd.spec.versions.iter().find(|v| v.storage)?;
    let schema = version.schema.as_ref()?.open_api_v3_schema.as_ref()?;
    serde_json::to_value(schema).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_projects_crds_declare_everything_and_vmwares_nothing() {
        assert_eq!(Writable::of(&crate::api::crds()), Writable::ALL);
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/vmware-crds");
        let vmware: Vec<CustomResourceDefinition> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .map(|p| serde_saphyr::from_str(&std::fs::read_to_string(p).unwrap()).unwrap())
            .collect();
        assert_eq!(Writable::of(&vmware), Writable::NONE);
        assert_eq!(Writable::of(&[]), Writable::NONE);
    }
}
