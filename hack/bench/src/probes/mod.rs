//! What the phases measure: processes, counters, objects, the operator's webhook.

pub(crate) mod count;
pub(crate) mod metrics;
pub(crate) mod proc;
pub(crate) mod webhook;
