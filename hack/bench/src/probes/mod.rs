//! What the phases measure: processes, counters, objects.

pub(crate) mod count;
pub(crate) mod metrics;
pub(crate) mod proc;
