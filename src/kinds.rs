//! The namespaced and cluster-scoped variants of libraries, items and images, behind traits so
//! one controller implementation serves both scopes.

use std::fmt::{self, Debug};

use kube::api::{Api, ObjectMeta};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::*;

/// What every kind here has in common.
pub trait Kind:
    Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned + Serialize + Send + Sync + 'static
{
    /// The Api for objects of this kind in `namespace` (ignored for cluster-scoped kinds).
    fn api(client: Client, namespace: Option<&str>) -> Api<Self>;
    /// The same, reading objects through a [`Guarded`] (for watches).
    fn guarded_api(client: Client, namespace: Option<&str>) -> Api<Guarded<Self>>;
}

/// A content library resource.
pub trait LibraryKind: Kind {
    type Item: ItemKind;
    /// The library's identifier in its source (`spec.id`).
    fn id(&self) -> &str;
    /// A published library's URL: `spec.source`, else the source annotation (VMware's CRDs
    /// have no such field and prune it).
    fn source(&self) -> Option<&str>;
    fn library_type(&self) -> LibraryType;
    /// Who may create it, for the source policy: a tenant (namespaced) or a cluster admin.
    fn scope(&self) -> crate::source::Scope;
    fn library_status(&self) -> Option<&ContentLibraryStatus>;
    /// A patch object carrying only `status`.
    fn status_patch(status: ContentLibraryStatus) -> Self;
}

/// A content library item resource.
pub trait ItemKind: Kind {
    type Image: ImageKind;
    type Library: LibraryKind;
    fn new_item(
        meta: ObjectMeta,
        id: &str,
        library: &str,
        status: Option<ContentLibraryItemStatus>,
    ) -> Self;
    /// The item's identifier in its library (`spec.id`, the vSphere item UUID).
    fn uuid(&self) -> &str;
    /// The name of the library resource the item belongs to (`spec.libraryName`).
    fn library_name(&self) -> &str;
    fn item_status(&self) -> Option<&ContentLibraryItemStatus>;
}

/// The two kinds of image a VM can refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndexedKind {
    /// `VirtualMachineImage`, namespaced.
    VirtualMachineImage,
    /// `ClusterVirtualMachineImage`, cluster-scoped.
    ClusterVirtualMachineImage,
}

impl IndexedKind {
    /// The kind as written in `spec.image.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            IndexedKind::VirtualMachineImage => "VirtualMachineImage",
            IndexedKind::ClusterVirtualMachineImage => "ClusterVirtualMachineImage",
        }
    }

    /// Parses `spec.image.kind`; `None` for anything else (including "").
    pub fn parse(kind: &str) -> Option<Self> {
        match kind {
            "VirtualMachineImage" => Some(IndexedKind::VirtualMachineImage),
            "ClusterVirtualMachineImage" => Some(IndexedKind::ClusterVirtualMachineImage),
            _ => None,
        }
    }
}

impl fmt::Display for IndexedKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An image resource.
pub trait ImageKind: Kind {
    /// The kind as the webhook's index tells it.
    const INDEXED: IndexedKind;
    fn new_image(
        meta: ObjectMeta,
        provider_ref: Option<ProviderRef>,
        status: Option<VirtualMachineImageStatus>,
    ) -> Self;
    fn provider_ref(&self) -> Option<&ProviderRef>;
    fn image_status(&self) -> Option<&VirtualMachineImageStatus>;
}

macro_rules! namespaced_api {
    ($t:ty) => {
        impl Kind for $t {
            fn api(client: Client, namespace: Option<&str>) -> Api<Self> {
                match namespace {
                    Some(ns) => Api::namespaced(client, ns),
                    None => Api::all(client),
                }
            }
            fn guarded_api(client: Client, namespace: Option<&str>) -> Api<Guarded<Self>> {
                match namespace {
                    Some(ns) => Api::namespaced(client, ns),
                    None => Api::all(client),
                }
            }
        }
    };
}

macro_rules! cluster_api {
    ($t:ty) => {
        impl Kind for $t {
            fn api(client: Client, _namespace: Option<&str>) -> Api<Self> {
                Api::all(client)
            }
            fn guarded_api(client: Client, _namespace: Option<&str>) -> Api<Guarded<Self>> {
                Api::all(client)
            }
        }
    };
}

namespaced_api!(ContentLibrary);
namespaced_api!(ContentLibraryItem);
namespaced_api!(VirtualMachineImage);
cluster_api!(ClusterContentLibrary);
cluster_api!(ClusterContentLibraryItem);
cluster_api!(ClusterVirtualMachineImage);

macro_rules! library_kind {
    ($lib:ty, $item:ty, $scope:expr) => {
        impl LibraryKind for $lib {
            type Item = $item;
            fn id(&self) -> &str {
                &self.spec.id
            }
            fn source(&self) -> Option<&str> {
                self.spec
                    .source
                    .as_deref()
                    .or_else(|| {
                        self.annotations()
                            .get(ANNOTATION_SOURCE)
                            .map(String::as_str)
                    })
                    .filter(|s| !s.is_empty())
            }
            fn library_type(&self) -> LibraryType {
                self.spec.library_type
            }
            fn scope(&self) -> crate::source::Scope {
                $scope
            }
            fn library_status(&self) -> Option<&ContentLibraryStatus> {
                self.status.as_ref()
            }
            fn status_patch(status: ContentLibraryStatus) -> Self {
                let mut lib = <$lib>::new("", Default::default());
                lib.metadata = ObjectMeta::default();
                lib.status = Some(status);
                lib
            }
        }
    };
}

library_kind!(
    ContentLibrary,
    ContentLibraryItem,
    crate::source::Scope::Namespaced
);
library_kind!(
    ClusterContentLibrary,
    ClusterContentLibraryItem,
    crate::source::Scope::Cluster
);

macro_rules! item_kind {
    ($item:ty, $spec:ident, $lib:ty, $image:ty) => {
        impl ItemKind for $item {
            type Image = $image;
            type Library = $lib;
            fn new_item(
                meta: ObjectMeta,
                id: &str,
                library: &str,
                status: Option<ContentLibraryItemStatus>,
            ) -> Self {
                let mut item = <$item>::new(
                    "",
                    $spec {
                        id: id.to_string(),
                        library_name: library.to_string(),
                    },
                );
                item.metadata = meta;
                item.status = status;
                item
            }
            fn uuid(&self) -> &str {
                &self.spec.id
            }
            fn library_name(&self) -> &str {
                &self.spec.library_name
            }
            fn item_status(&self) -> Option<&ContentLibraryItemStatus> {
                self.status.as_ref()
            }
        }
    };
}

item_kind!(
    ContentLibraryItem,
    ContentLibraryItemSpec,
    ContentLibrary,
    VirtualMachineImage
);
item_kind!(
    ClusterContentLibraryItem,
    ClusterContentLibraryItemSpec,
    ClusterContentLibrary,
    ClusterVirtualMachineImage
);

macro_rules! image_kind {
    ($image:ident, $spec:ident) => {
        impl ImageKind for $image {
            const INDEXED: IndexedKind = IndexedKind::$image;
            fn new_image(
                meta: ObjectMeta,
                provider_ref: Option<ProviderRef>,
                status: Option<VirtualMachineImageStatus>,
            ) -> Self {
                let mut image = $image::new("", $spec { provider_ref });
                image.metadata = meta;
                image.status = status;
                image
            }
            fn provider_ref(&self) -> Option<&ProviderRef> {
                self.spec.provider_ref.as_ref()
            }
            fn image_status(&self) -> Option<&VirtualMachineImageStatus> {
                self.status.as_ref()
            }
        }
    };
}

image_kind!(VirtualMachineImage, VirtualMachineImageSpec);
image_kind!(ClusterVirtualMachineImage, ClusterVirtualMachineImageSpec);

/// Label on items naming the library resource they were synced from.
pub const LABEL_LIBRARY: &str = "imageregistry.vmware.com/content-library";
/// Label on everything this operator creates.
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Value of [`LABEL_MANAGED_BY`].
pub const MANAGED_BY: &str = "vmi-operator";
