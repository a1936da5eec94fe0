//! Resource limits: the longest horizon validation accepts, the largest sweep a scenario may
//! expand to, and a memory estimate checked before a run starts.
//!
//! Each limit has a default, an environment variable and (in the CLI) a flag:
//!
//! | limit | default | environment | CLI |
//! | --- | --- | --- | --- |
//! | horizon, steps | 87,600 (ten years of hourly steps) | `PARKTWIN_MAX_STEPS` | `--max-steps` |
//! | estimated memory of one run, MB | 4,096 | `PARKTWIN_MAX_MEMORY_MB` | `--max-memory-mb` |
//! | cases of one sweep | 1,000,000 | `PARKTWIN_MAX_CASES` | `--max-cases` |
//!
//! The CLI reads the environment, applies its flags and [`install`]s the result once; library
//! callers that install nothing get the environment's values (or the defaults). A limit only
//! refuses work before it starts, so results never depend on it.
//!
//! **Memory estimate** ([`estimate_memory`]): with `S` steps, `U` units, `L` links and `K`
//! declared species (tracers included),
//!
//! ```text
//! bytes = 16 MiB + S · U · 8                      (program, World, one driver series per unit)
//!       + recorded · (160 MiB + 24 · S · (U·(4 + K) + L))
//! ```
//!
//! `recorded` is 1 when time series are kept (`run --out`, `sweep --series`) and 0 otherwise:
//! then the recorder holds `S·(U·(4 + K) + L)` values (throughput, unmet demand, volume, TDS and
//! each species per unit, flow per link) and the result files are built in memory before their
//! atomic write (long CSV and Parquet buffers: about 150 MB fixed, 12 bytes per value measured).
//! The coefficients come from peak RSS of the demo, coastal and generated parks
//! (`docs/reliability.md`); the estimate is meant to be above the measured peak, within a
//! factor of about two.

use std::sync::OnceLock;

/// Default longest horizon, steps (ten years of hourly steps).
pub const DEFAULT_MAX_STEPS: usize = 87_600;
/// Default memory cap of one run, MB.
pub const DEFAULT_MAX_MEMORY_MB: u64 = 4_096;
/// Default largest sweep, cases.
pub const DEFAULT_MAX_CASES: usize = 1_000_000;

/// The limits in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest horizon validation accepts, steps.
    pub max_steps: usize,
    /// Largest estimated memory of one run, MB (10⁶ bytes).
    pub max_memory_mb: u64,
    /// Largest number of cases a sweep may expand to.
    pub max_cases: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_steps: DEFAULT_MAX_STEPS,
            max_memory_mb: DEFAULT_MAX_MEMORY_MB,
            max_cases: DEFAULT_MAX_CASES,
        }
    }
}

fn env_number<T: std::str::FromStr>(name: &str) -> Result<Option<T>, String> {
    match std::env::var(name) {
        Ok(v) => v
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|_| format!("{name}={v:?} is not a whole number")),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(format!("{name} is not valid text")),
    }
}

impl Limits {
    /// The defaults with `PARKTWIN_MAX_STEPS`, `PARKTWIN_MAX_MEMORY_MB` and
    /// `PARKTWIN_MAX_CASES` applied; an error names a variable that is not a whole number.
    pub fn from_env() -> Result<Limits, String> {
        let d = Limits::default();
        Ok(Limits {
            max_steps: env_number("PARKTWIN_MAX_STEPS")?.unwrap_or(d.max_steps),
            max_memory_mb: env_number("PARKTWIN_MAX_MEMORY_MB")?.unwrap_or(d.max_memory_mb),
            max_cases: env_number("PARKTWIN_MAX_CASES")?.unwrap_or(d.max_cases),
        })
    }
}

static INSTALLED: OnceLock<Limits> = OnceLock::new();

/// Sets the limits of this process (first call wins); returns false when they were already set.
pub fn install(limits: Limits) -> bool {
    INSTALLED.set(limits).is_ok()
}

/// The limits in force: those [`install`]ed, else the environment's, else the defaults.
pub fn current() -> Limits {
    *INSTALLED.get_or_init(|| Limits::from_env().unwrap_or_default())
}

/// A memory estimate of one run and what it is made of (see the module documentation).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MemoryEstimate {
    /// Steps.
    pub steps: usize,
    /// Units.
    pub units: usize,
    /// Links.
    pub links: usize,
    /// Species, tracers included.
    pub species: usize,
    /// Whether time series are recorded.
    pub recorded: bool,
    /// The estimate, bytes.
    pub bytes: u64,
}

/// Estimates the memory of one run (see the module documentation for the formula).
pub fn estimate_memory(
    steps: usize,
    units: usize,
    links: usize,
    species: usize,
    recorded: bool,
) -> MemoryEstimate {
    let (s, u, l, k) = (steps as f64, units as f64, links as f64, species as f64);
    const MIB: f64 = 1024.0 * 1024.0;
    let mut bytes = 16.0 * MIB + s * u * 8.0;
    if recorded {
        let values = s * (u * (4.0 + k) + l);
        bytes += 160.0 * MIB + values * 24.0;
    }
    MemoryEstimate {
        steps,
        units,
        links,
        species,
        recorded,
        bytes: bytes.min(u64::MAX as f64) as u64,
    }
}

impl MemoryEstimate {
    /// `Err` with what to change when the estimate is above `max_memory_mb`.
    pub fn check(&self, max_memory_mb: u64) -> Result<(), String> {
        let mb = self.bytes.div_ceil(1_000_000);
        if mb <= max_memory_mb {
            return Ok(());
        }
        let what = if self.recorded {
            "time series recorded"
        } else {
            "no time series"
        };
        let advice = if self.recorded {
            "shorten time.steps, run without time series (no --out / --series), or raise the cap with --max-memory-mb or PARKTWIN_MAX_MEMORY_MB"
        } else {
            "shorten time.steps, split the park, or raise the cap with --max-memory-mb or PARKTWIN_MAX_MEMORY_MB"
        };
        Err(format!(
            "estimated memory {mb} MB ({} steps × {} units, {} links, {} species, {what}) is above the cap of {max_memory_mb} MB: {advice}",
            self.steps, self.units, self.links, self.species
        ))
    }
}

/// Checks the memory estimate of a validated park against the limits in force.
pub fn check_park(valid: &crate::validate::ValidPark, recorded: bool) -> Result<(), String> {
    estimate_memory(
        valid.meta.steps,
        valid.topology.n_units(),
        valid.topology.n_links(),
        valid.meta.species.len() + 1,
        recorded,
    )
    .check(current().max_memory_mb)
}

/// `Err` unless `name` can be used as one file-name component on every common file system:
/// non-empty, at most 200 bytes, no `/`, `\`, control characters, and not `.` or `..` or
/// starting with `.` (hidden, and where temporary files go).
pub fn check_file_name(name: &str) -> Result<(), String> {
    let bad = name.is_empty()
        || name.len() > 200
        || name.starts_with('.')
        || name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control());
    if bad {
        Err(format!(
            "{name:?} cannot name output files: use 1 to 200 characters without '/', '\\' or control characters, not starting with '.'"
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimate_grows_with_every_factor_and_checks_the_cap() {
        let a = estimate_memory(8760, 100, 200, 3, false);
        let b = estimate_memory(8760, 100, 200, 3, true);
        assert!(b.bytes > a.bytes);
        assert!(estimate_memory(17520, 100, 200, 3, true).bytes > b.bytes);
        assert!(a.check(4096).is_ok());
        let e = b.check(1).unwrap_err();
        assert!(e.contains("above the cap of 1 MB"), "{e}");
    }

    #[test]
    fn file_names() {
        assert!(check_file_name("demo_sweep").is_ok());
        assert!(check_file_name("sweep park").is_ok());
        for bad in ["", ".", "..", "../x", "a/b", "a\\b", ".hidden", "a\nb"] {
            assert!(check_file_name(bad).is_err(), "{bad:?}");
        }
    }
}
