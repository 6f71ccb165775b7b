//! The measuring phases, one per fresh control plane (hack/bench.sh starts it).

/// Reconciles (and writes) in flight at once: the operator's default `--concurrency` and
/// write concurrency, used by the floor too.
pub(crate) const CONCURRENCY: usize = 16;

pub(crate) mod floor;
pub(crate) mod operator;

pub(crate) use floor::floor_phase;
pub(crate) use operator::operator_phase;
