//! Tests that start a control plane of their own and break it, the operator or its input
//! (`vmi_test_support::fault`). They run one at a time, whatever `--test-threads` says: each
//! `FaultCluster::start` waits for the previous test's cluster to be gone.

mod bad_input_operator;
mod fault_apiserver;
mod fault_fifo;
mod fault_malformed;
mod fault_operator;
mod fault_relist;
mod fault_source;
mod vmware_api;
