//! vmi-operator: vSphere Content Library templates as VM Operator image resources.

pub mod api;
pub mod cli;
pub mod context;
pub mod conversion;
pub mod crdgen;
pub mod health;
pub mod image;
pub mod kinds;
pub mod metrics;
pub mod operator;
pub mod ovf;
pub mod publish;
pub mod reconciler;
pub mod runtime;
pub mod source;
pub mod stores;
pub mod sync;
pub mod vmi_id;
pub mod webhook;
