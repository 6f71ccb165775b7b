//! The fixed timeouts of source I/O (`vmi-operator run --help` states them).

use std::time::Duration;

/// Connecting (TCP + TLS) must finish within this.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// No single read may stall longer than this, even while streaming a large body.
pub(crate) const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// A whole API call (JSON request and answer) must finish within this.
pub(crate) const API_TIMEOUT: Duration = Duration::from_secs(60);
/// A whole descriptor download must finish within this (32 MiB at a slow 200 KiB/s).
pub(crate) const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(180);
/// A whole OVA streamed through `read_ova` (several GiB) must finish within this; a stalled
/// one fails sooner, on READ_TIMEOUT.
pub(crate) const OVA_TIMEOUT: Duration = Duration::from_secs(3600);
