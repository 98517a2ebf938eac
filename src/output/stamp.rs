//! Who made a folder and when: the staging marker, this process's stamp and the host
//! name. Shared by publishing (which writes them) and recovery (which reads them).

use std::fs;

/// The marker file in a staging folder: pvwatch's, and by which process (JSON).
pub const MARKER: &str = ".pvwatch-staging";

/// What the marker says.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Marker {
    pub pvwatch: String,
    pub pid: u32,
    pub host: String,
    pub created_unix_ns: u64,
    pub target: String,
}

/// This process's id and the time now (Unix, ns): the suffix of every name it makes.
pub(super) fn stamp() -> (u32, u64) {
    (std::process::id(), now_ns())
}

pub(super) fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The host name, to tell another machine's folders on a shared disk from ours.
pub(super) fn host() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}
