//! The twin's link to a real, metered park (issue #7): meters and synthetic readings
//! ([`meters`]), measured readings in and their alignment to steps ([`readings`]), observability
//! and per-step reconciliation with gross-error tests ([`reconcile`]), leak detection and
//! localisation by CUSUM ([`leak`]), conductivity (TDS) reconciliation after the flows
//! ([`salt`]), the replay of a park against readings ([`replay`]), and
//! tamper-evident records by a SHA-256 hash chain ([`hashchain`]). `docs/twin.md` describes
//! the formats and methods.

pub mod evaluate;
pub mod hashchain;
pub mod leak;
pub mod meters;
pub mod readings;
pub mod reconcile;
pub mod replay;
pub mod salt;
pub mod stats;
