//! Tests against the shared loopback control plane of `hack/cluster.sh` (see
//! `vmi_test_support::cluster`), each in its own namespace. The tests that run the operator take
//! turns (`vmi_test_support::operator::one_operator_test`): an operator watches every namespace.

mod api_e2e;
mod cluster_smoke;
mod ha_e2e;
mod operator_e2e;
mod sourcepolicy;
mod vcsim_e2e;
mod watch_namespace;
mod webhook_e2e;
