//! Domain problems found while a scenario runs, kept as data for the report.
//!
//! Systems never panic on a domain problem and never return errors: they push a
//! [`Diagnostic`] here. Every occurrence is counted by kind and unit; the first
//! [`Diagnostics::KEEP_PER_KIND`] of each kind are kept in full.

use bevy_ecs::resource::Resource;
use serde::Serialize;
use std::collections::BTreeMap;

/// What went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiagnosticKind {
    /// A Demand unit got less than its target.
    UnmetDemand,
    /// Water had nowhere to go and left as spill.
    Unroutable,
    /// A tank spilled over its overflow port.
    Overflow,
    /// A tank was drawn down to its minimum.
    DryTank,
    /// A value became NaN or infinite (and was quarantined).
    NonFinite,
    /// A unit's or the park's balance did not close within tolerance.
    ClosureViolation,
    /// A unit's inlet mix exceeded what it accepts.
    InletQuality,
    /// A discharge exceeded a permit limit.
    PermitExceeded,
    /// An iterative solve did not converge.
    NonConvergence,
    /// A recycle loop's species system was singular.
    SingularLoop,
    /// A unit model's physics guard fired (for example a second-law check).
    Physics,
    /// A source's permit cap was reached.
    CapReached,
    /// A strategy's optimisation had no solution for a step (the strategy fell back).
    Infeasible,
}

/// One occurrence.
#[derive(Clone, Debug, Serialize)]
pub struct Diagnostic {
    /// Kind.
    pub kind: DiagnosticKind,
    /// Step at which it happened.
    pub step: usize,
    /// Unit or link id, if any.
    pub item: Option<String>,
    /// Human-readable detail.
    pub message: String,
}

/// Count and first occurrences per kind.
#[derive(Resource, Clone, Debug, Default, Serialize)]
pub struct Diagnostics {
    /// Occurrences per kind and item (item `""` when none).
    pub counts: BTreeMap<(DiagnosticKind, String), u64>,
    /// First occurrences, at most [`Self::KEEP_PER_KIND`] per kind.
    pub first: Vec<Diagnostic>,
    kept: BTreeMap<DiagnosticKind, usize>,
}

impl Diagnostics {
    /// How many occurrences of each kind are kept in full.
    pub const KEEP_PER_KIND: usize = 20;

    /// Records one occurrence; the message is only built when it will be kept.
    pub fn push(
        &mut self,
        kind: DiagnosticKind,
        step: usize,
        item: Option<&str>,
        message: impl FnOnce() -> String,
    ) {
        *self
            .counts
            .entry((kind, item.unwrap_or("").to_string()))
            .or_insert(0) += 1;
        let kept = self.kept.entry(kind).or_insert(0);
        if *kept < Self::KEEP_PER_KIND {
            *kept += 1;
            self.first.push(Diagnostic {
                kind,
                step,
                item: item.map(str::to_string),
                message: message(),
            });
        }
    }

    /// Total occurrences of `kind`.
    pub fn count(&self, kind: DiagnosticKind) -> u64 {
        self.counts
            .iter()
            .filter(|((k, _), _)| *k == kind)
            .map(|(_, n)| n)
            .sum()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}
