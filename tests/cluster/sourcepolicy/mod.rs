//! The source policy and network faults between the operator and its sources (issue 16).
//!
//! - `policy`: the policy on real sockets, without a cluster: a namespaced file:// library is
//!   refused before anything is opened; an allowed prefix works and its hrefs are held to it;
//!   loopback, link-local and the pod's own addresses are refused, also through a redirect and
//!   through a name that resolves to them. Cases that need an address other than loopback run
//!   in two network namespaces of their own (`netns`).
//! - `faults`: source-level faults on real sockets: a server that never answers, one that
//!   resets mid-body, one that vanishes, TLS with an expired or wrong-host certificate; each is
//!   bounded by the flags' timeouts and recovers.
//! - `cluster`: the whole path against the shared control plane (`make cluster-up`) with the
//!   operator binary: refusals end as Ready=False with the rule's reason and a Warning event
//!   (default policy, nothing read); faults (never answers, slow loris, reset, vanished, slower
//!   than the sync interval) delete nothing, say why, and recover.
//! - `session`: the operator's vCenter session (vcsim behind a proxy that ends it on cue) ends
//!   mid-listing and mid-download: one re-login, nothing deleted, the library stays Ready; and
//!   while logins are refused: Ready=False with SourceAuthFailed, nothing deleted, recovery.
//!
//! Needs root for the namespaces (`ip netns`), like the rest of `make test` on CI. Its
//! operators take turns with the other operator tests of this binary.

mod cluster;
mod faults;
mod netns;
mod policy;
mod server;
mod session;

use std::path::Path;

use vmi_test_support::library::{self, LibraryWriter};

/// A one-item published library in `dir` (item `<name>`), returning its writer and item UUID.
pub fn one_item_library(dir: &Path, name: &str) -> (LibraryWriter, String) {
    let mut lib = LibraryWriter::new(dir);
    let (href, size) = lib.file(&format!("{name}/photon.ovf"), &library::photon_descriptor());
    let uuid = lib.ovf_items(name, 1, &href, size).remove(0);
    lib.write();
    (lib, uuid)
}
