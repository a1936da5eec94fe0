//! Errors raised when a network is compiled or a simulation is built.
//!
//! Domain problems that arise while a scenario runs (unmet demand, overflow, closure
//! violations) are not errors: they are data in [`crate::diagnostics::Diagnostics`].

use thiserror::Error;

/// A problem found while compiling a network's topology. Items are named by their ids.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum NetworkError {
    /// Two units share an id.
    #[error("unit id {id:?} is used more than once")]
    DuplicateUnit {
        /// The repeated id.
        id: String,
    },
    /// Two links share an id.
    #[error("link id {link:?} is used more than once")]
    DuplicateLink {
        /// The repeated id.
        link: String,
    },
    /// A link names a unit that does not exist.
    #[error("link {link:?} names unknown unit {unit:?}")]
    UnknownUnit {
        /// Link id.
        link: String,
        /// The unknown unit id.
        unit: String,
    },
    /// A link names an outlet port the unit does not have.
    #[error("link {link:?}: unit {unit:?} has no outlet {port:?} (its outlets: {known:?})")]
    UnknownPort {
        /// Link id.
        link: String,
        /// Unit id.
        unit: String,
        /// The unknown port.
        port: String,
        /// Ports the unit has.
        known: Vec<String>,
    },
    /// A link leaves a unit with several outlets without naming one.
    #[error(
        "link {link:?}: unit {unit:?} has several outlets {known:?}; name one as \"{unit}.PORT\""
    )]
    AmbiguousPort {
        /// Link id.
        link: String,
        /// Unit id.
        unit: String,
        /// Ports the unit has.
        known: Vec<String>,
    },
    /// A link starts at an exit port (evaporation, discharge, ...), which leaves the park.
    #[error("link {link:?}: {port} leaves the park and cannot be linked")]
    ExitPortLinked {
        /// Link id.
        link: String,
        /// `unit.port`.
        port: String,
    },
    /// A link ends at a unit without an inlet (a source) or one that cannot draw water.
    #[error("link {link:?}: unit {unit:?} has no inlet that can take this link")]
    NoInlet {
        /// Link id.
        link: String,
        /// Unit id.
        unit: String,
    },
    /// A link names an inlet the unit does not have.
    #[error("link {link:?}: unit {unit:?} has no inlet {port:?} (its inlet is {inlet:?})")]
    UnknownInlet {
        /// Link id.
        link: String,
        /// Unit id.
        unit: String,
        /// Given inlet name.
        port: String,
        /// The unit's inlet.
        inlet: String,
    },
    /// Two links join the same outlet port to the same unit.
    #[error("link {link:?} joins the same port and unit as link {other:?}")]
    DoubleLink {
        /// Link id.
        link: String,
        /// The earlier link.
        other: String,
    },
    /// A link parameter is out of range.
    #[error("link {link:?}: {what} = {value} is out of range")]
    BadLinkValue {
        /// Link id.
        link: String,
        /// Field name.
        what: &'static str,
        /// The value.
        value: f64,
    },
    /// A required outlet port has no link.
    #[error("outlet {port} is not linked; its water must go somewhere")]
    UnlinkedPort {
        /// `unit.port`.
        port: String,
    },
    /// Some but not all links of a port carry split fractions.
    #[error("outlet {port}: either every link or no link carries a split_fraction")]
    PartialSplit {
        /// `unit.port`.
        port: String,
    },
    /// Split fractions on a supply port (water is pulled from it, not split).
    #[error("outlet {port} is pulled from by its consumers; split fractions do not apply")]
    SplitOnSupply {
        /// `unit.port`.
        port: String,
    },
    /// Split fractions do not add up to one.
    #[error("outlet {port}: split fractions add up to {total}, not 1")]
    SplitSum {
        /// `unit.port`.
        port: String,
        /// Their sum.
        total: f64,
    },
    /// A recycle loop has no way out for some species.
    #[error("loop through {units:?} has no purge: species would accumulate without limit")]
    NoPurge {
        /// Units of the loop.
        units: Vec<String>,
    },
}
