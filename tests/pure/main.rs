//! Tests that need no cluster: OVF/OVA parsing and its edge cases, publish, the CRDs and their
//! conversions, the sources against loopback servers, mocks and vcsim, the webhook over TLS, the
//! bad-input sweep.
//! One binary (one link) for all of them; each module was a test binary of its own.

mod bad_input_sweep;
mod conversion_roundtrip;
mod crds_drift;
mod ovf_edge_cases;
mod ovf_fixtures;
mod ovf_ova;
mod ovf_parity;
mod ovf_proptest;
mod publish_layout;
mod source_published;
mod source_vsphere;
mod source_vsphere_mock;
mod vendor_templates;
mod webhook_serve;
