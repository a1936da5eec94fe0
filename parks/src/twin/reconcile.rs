//! Observability and per-step data reconciliation of flows and tank volumes, with the global
//! and measurement tests for gross errors (Narasimhan & Jordache 2000, *Data Reconciliation and
//! Gross Error Detection*, ch. 3, 7 and 8; Crowe, Garcia Campos & Hrymak 1983 for the
//! treatment of unmeasured variables by projection).
//!
//! **Balance model.** The variables of one step are, per link `l`, the flow sent at its upstream
//! end `q_from,l` and received at its downstream end `q_to,l` (m³/h); per *open* unit (a source,
//! or a unit with an exit port: evaporation, product, discharge, solids) one free external term
//! `g_u` (withdrawal minus exits, m³/h); per tank its volumes at the start and end of the step
//! `V0_u`, `V1_u` (m³). The linear constraints `C·z = d` are
//!
//! - per link (segment): `q_from,l − q_to,l = 0` (no leak);
//! - per unit: `Σ_in q_to − Σ_out q_from + g_u − (V1_u − V0_u)/Δt = 0`.
//!
//! A flow meter reads one `q` (or a source's `g_u`, or the sum of a unit's incoming `q_to`); a
//! level meter reads `V1_u` with this step's reading and `V0_u` with the previous step's. With
//! `H` the measurement matrix, `W = diag(1/σ)` and `y` the step's readings, the reconciled
//! state is
//!
//! `ẑ = argmin ‖W(y − H z)‖²  subject to  C z = d`.
//!
//! It is solved in the constraints' null space: `z = z₀ + N w` with `z₀ = C⁺ d` and `N` an
//! orthonormal basis of `ker C` (SVD), so `C ẑ = d` holds exactly (to rounding) whatever the
//! data; then `M = W H N`, `w = M⁺ W (y − H z₀)`. A variable is **observable** when its row of
//! `N` lies in the row space of `M` (its value does not depend on the unmeasured directions);
//! unobservable variables are reported as undetermined (NaN). With `b = W(y − H z₀)`, the
//! weighted residuals are `ρ = P b`, `P = I − M M⁺` (a projector: `Cov ρ = P` when `σ` are
//! right), so
//!
//! - **global test**: `γ = ‖ρ‖² ~ χ²(ν)`, `ν = rank P` = the degree of redundancy; the step
//!   fails at level `α` when `γ > χ²₁₋α(ν)`;
//! - **measurement test**: `r_j = ρ_j / √P_jj ~ N(0, 1)` for every redundant meter
//!   (`P_jj > 0`; a meter with `P_jj = 0` is not redundant and cannot be tested); with `p`
//!   tests the critical value is `Φ⁻¹(1 − β/2)`, `β = 1 − (1 − α)^{1/p}` (Šidák). When the
//!   global test fails and the largest `|r_j|` exceeds it, meter `j` is flagged (the largest
//!   normalised residual is the maximum-power test for a single gross error) and the step is
//!   reconciled again without it (serial elimination of one meter). When other meters tie
//!   with it (an equivalent set: meters that share one balance only, whose gross errors look
//!   alike), no meter is named.
//!
//! **Leak signatures.** A leak `δ` on constraint `s` makes `C z = d + δ e_s`, which shifts the
//! weighted residuals by `δ f_s`, `f_s = P W H C⁺ e_s`. Its maximum-likelihood estimate from one
//! step is `δ̂_s = f_sᵀρ / ‖f_s‖²` with standard deviation `1/‖f_s‖` (the generalised likelihood
//! ratio test of Narasimhan & Mah 1987). `f_s = 0` means a leak there cannot be seen (for
//! example inside a unit with a free exit term). Constraints with parallel signatures cannot be
//! told apart: they form one **location** — the segment between meters — which is what leak
//! alarms name (see [`super::leak`]).
//!
//! **Conductivity** makes the salt balance bilinear (`Σ q·c`). It is not reconciled here but
//! sequentially after this step, with the reconciled flows fixed, which makes it linear again
//! (see [`super::salt`]). Pressure readings are passed through (no hydraulic model).

use super::meters::{MeterKind, MeterSet, Site};
use super::stats::{chi2_quantile, normal_quantile};
use nalgebra::{DMatrix, DVector};
use parktwin_engine::network::{FlowKind, PortRole, Topology};
use std::collections::HashMap;

/// A variable of the balance model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Var {
    /// Flow sent at a link's upstream end, m³/h.
    LinkFrom(usize),
    /// Flow received at a link's downstream end, m³/h.
    LinkTo(usize),
    /// A unit's free external term (withdrawal minus exits), m³/h.
    External(usize),
    /// A tank's volume at the start of the step, m³.
    TankStart(usize),
    /// A tank's volume at the end of the step, m³.
    TankEnd(usize),
}

/// A balance constraint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Constraint {
    /// `q_from − q_to = 0` on a link.
    Segment(usize),
    /// A unit's water balance.
    Node(usize),
}

/// One measurement slot: a meter read this step (`lag` 0) or last step (`lag` 1) on a
/// combination of variables.
#[derive(Clone, Debug, PartialEq)]
pub struct Slot {
    /// Meter index in the [`MeterSet`].
    pub meter: usize,
    /// 0: this step's reading; 1: the previous step's.
    pub lag: usize,
    /// `(variable, coefficient)` terms.
    pub terms: Vec<(usize, f64)>,
}

/// Precomputed matrices for one pattern of present readings.
#[derive(Clone, Debug)]
struct Pattern {
    /// Slots present, in slot order.
    rows: Vec<usize>,
    /// `W H` (present rows × variables).
    wh: DMatrix<f64>,
    /// `M⁺` (null-space dimension × present rows).
    m_pinv: DMatrix<f64>,
    /// `P = I − M M⁺`.
    p: DMatrix<f64>,
    /// Variables observable with this pattern.
    observable: Vec<bool>,
    /// Leak signatures `f_s` as columns (present rows × constraints).
    f: DMatrix<f64>,
    /// `‖f_s‖` per constraint.
    f_norm: Vec<f64>,
    /// Degree of redundancy `rank P`.
    dof: usize,
    /// Gram matrix of the leak signatures `FᵀF` (constraints × constraints).
    gram: DMatrix<f64>,
}

/// The balance model of a park and its meters (see the module docs).
#[derive(Clone, Debug)]
pub struct Model {
    /// Variables.
    pub vars: Vec<Var>,
    /// Constraints.
    pub constraints: Vec<Constraint>,
    /// Measurement slots (flow and level meters only).
    pub slots: Vec<Slot>,
    /// Human-readable labels of the variables.
    pub var_labels: Vec<String>,
    /// Human-readable labels of the constraints.
    pub constraint_labels: Vec<String>,
    c: DMatrix<f64>,
    c_pinv: DMatrix<f64>,
    null: DMatrix<f64>,
    sd: Vec<f64>,
    dt_h: f64,
    patterns: Vec<Pattern>,
    pattern_index: HashMap<Vec<bool>, usize>,
}

/// Singular values below `RANK_TOL × largest` count as zero.
const RANK_TOL: f64 = 1e-9;

pub(crate) fn pinv(m: &DMatrix<f64>) -> DMatrix<f64> {
    if m.nrows() == 0 || m.ncols() == 0 {
        return DMatrix::zeros(m.ncols(), m.nrows());
    }
    let svd = m.clone().svd(true, true);
    let smax = svd.singular_values.max();
    let eps = (RANK_TOL * smax).max(1e-300);
    svd.pseudo_inverse(eps)
        .unwrap_or_else(|_| DMatrix::zeros(m.ncols(), m.nrows()))
}

/// An orthonormal basis of the null space of `m` (columns).
pub(crate) fn null_space(m: &DMatrix<f64>) -> DMatrix<f64> {
    let n = m.ncols();
    let r = m.nrows().max(n);
    // Pad to square so that the SVD returns the full right singular basis.
    let mut sq = DMatrix::zeros(r, n);
    sq.view_mut((0, 0), (m.nrows(), n)).copy_from(m);
    let svd = sq.svd(false, true);
    let Some(vt) = svd.v_t else {
        return DMatrix::zeros(n, 0);
    };
    let smax = svd.singular_values.max().max(1e-300);
    let cols: Vec<usize> = (0..svd.singular_values.len())
        .filter(|&i| svd.singular_values[i] <= RANK_TOL * smax)
        .collect();
    let mut out = DMatrix::zeros(n, cols.len());
    for (j, &i) in cols.iter().enumerate() {
        for k in 0..n {
            out[(k, j)] = vt[(i, k)];
        }
    }
    out
}

pub(crate) fn rank(m: &DMatrix<f64>) -> usize {
    if m.nrows() == 0 || m.ncols() == 0 {
        return 0;
    }
    let s = m.clone().svd(false, false).singular_values;
    let smax = s.max();
    if smax <= 0.0 {
        return 0;
    }
    s.iter().filter(|&&x| x > RANK_TOL * smax).count()
}

impl Model {
    /// Builds the balance model of `topo` with the flow and level meters of `set`.
    pub fn new(topo: &Topology, set: &MeterSet) -> Self {
        let nl = topo.n_links();
        let nu = topo.n_units();
        let mut vars = Vec::new();
        let mut labels = Vec::new();
        for l in 0..nl {
            vars.push(Var::LinkFrom(l));
            labels.push(format!("{} (from end)", topo.link_id[l]));
            vars.push(Var::LinkTo(l));
            labels.push(format!("{} (to end)", topo.link_id[l]));
        }
        let mut ext = vec![None; nu];
        let mut tank = vec![None; nu];
        for u in 0..nu {
            let open = topo.unit_flow[u] == FlowKind::Source
                || topo
                    .ports_of(u)
                    .any(|p| matches!(topo.port_role[p], PortRole::Exit(_)));
            if open {
                ext[u] = Some(vars.len());
                vars.push(Var::External(u));
                labels.push(format!("{} external (withdrawal − exits)", topo.unit_id[u]));
            }
            if topo.unit_flow[u] == FlowKind::Tank {
                tank[u] = Some(vars.len());
                vars.push(Var::TankStart(u));
                labels.push(format!("{} volume at step start", topo.unit_id[u]));
                vars.push(Var::TankEnd(u));
                labels.push(format!("{} volume at step end", topo.unit_id[u]));
            }
        }
        let n = vars.len();
        let dt = set.dt_h;
        let mut constraints = Vec::new();
        let mut clabels = Vec::new();
        let mut rows: Vec<Vec<(usize, f64)>> = Vec::new();
        for l in 0..nl {
            constraints.push(Constraint::Segment(l));
            clabels.push(format!("link {}", topo.link_id[l]));
            rows.push(vec![(2 * l, 1.0), (2 * l + 1, -1.0)]);
        }
        for u in 0..nu {
            let mut row = Vec::new();
            for &l in topo.links_into(u) {
                row.push((2 * l as usize + 1, 1.0));
            }
            for l in 0..nl {
                if topo.link_from[l] as usize == u {
                    row.push((2 * l, -1.0));
                }
            }
            if let Some(g) = ext[u] {
                row.push((g, 1.0));
            }
            if let Some(t) = tank[u] {
                row.push((t, 1.0 / dt));
                row.push((t + 1, -1.0 / dt));
            }
            if row.is_empty() {
                continue;
            }
            constraints.push(Constraint::Node(u));
            clabels.push(format!("unit {}", topo.unit_id[u]));
            rows.push(row);
        }
        let mut c = DMatrix::zeros(rows.len(), n);
        for (i, row) in rows.iter().enumerate() {
            for &(j, v) in row {
                c[(i, j)] += v;
            }
        }
        let mut slots = Vec::new();
        let mut sd = Vec::new();
        for (mi, m) in set.meters.iter().enumerate() {
            let terms: Vec<(usize, f64)> = match (m.kind, m.site) {
                (MeterKind::Flow, Site::LinkFrom(l)) => vec![(2 * l, 1.0)],
                (MeterKind::Flow, Site::LinkTo(l)) => vec![(2 * l + 1, 1.0)],
                (MeterKind::Flow, Site::SourceOut(u)) => match ext[u] {
                    Some(g) => vec![(g, 1.0)],
                    None => continue,
                },
                (MeterKind::Flow, Site::UnitIn(u)) => topo
                    .links_into(u)
                    .iter()
                    .map(|&l| (2 * l as usize + 1, 1.0))
                    .collect(),
                (MeterKind::Level, Site::TankVolume(u)) => match tank[u] {
                    Some(t) => {
                        slots.push(Slot {
                            meter: mi,
                            lag: 1,
                            terms: vec![(t, 1.0)],
                        });
                        sd.push(m.sd);
                        vec![(t + 1, 1.0)]
                    }
                    None => continue,
                },
                _ => continue,
            };
            if terms.is_empty() {
                continue;
            }
            slots.push(Slot {
                meter: mi,
                lag: 0,
                terms,
            });
            sd.push(m.sd);
        }
        Self {
            vars,
            constraints,
            slots,
            var_labels: labels,
            constraint_labels: clabels,
            c_pinv: pinv(&c),
            null: null_space(&c),
            c,
            sd,
            dt_h: dt,
            patterns: Vec::new(),
            pattern_index: HashMap::new(),
        }
    }

    /// Number of variables.
    pub fn n_vars(&self) -> usize {
        self.vars.len()
    }

    /// Gram matrix `FᵀF` of the leak signatures of pattern `id` (see [`StepResult::pattern`]).
    pub fn gram(&self, id: usize) -> &DMatrix<f64> {
        &self.patterns[id].gram
    }

    /// Pattern id of the readings present (`present[slot]`), computed once per pattern.
    pub fn pattern_id(&mut self, present: &[bool]) -> usize {
        if let Some(&i) = self.pattern_index.get(present) {
            return i;
        }
        let rows: Vec<usize> = (0..self.slots.len()).filter(|&i| present[i]).collect();
        let n = self.vars.len();
        let mut wh = DMatrix::zeros(rows.len(), n);
        for (r, &i) in rows.iter().enumerate() {
            for &(j, v) in &self.slots[i].terms {
                wh[(r, j)] += v / self.sd[i];
            }
        }
        let m = &wh * &self.null;
        let m_pinv = pinv(&m);
        let p = DMatrix::identity(rows.len(), rows.len()) - &m * &m_pinv;
        let q = DMatrix::identity(self.null.ncols(), self.null.ncols()) - &m_pinv * &m;
        let nq = &self.null * q;
        let observable = (0..n)
            .map(|i| nq.row(i).norm() < 1e-7 * (1.0 + self.null.row(i).norm()))
            .collect();
        let f = &p * &wh * &self.c_pinv;
        let f_norm = (0..f.ncols()).map(|s| f.column(s).norm()).collect();
        let dof = rank(&p);
        let gram = f.transpose() * &f;
        self.patterns.push(Pattern {
            rows,
            wh,
            m_pinv,
            p,
            observable,
            f,
            f_norm,
            dof,
            gram,
        });
        let id = self.patterns.len() - 1;
        self.pattern_index.insert(present.to_vec(), id);
        id
    }
}

/// Settings of the statistical tests.
#[derive(Clone, Copy, Debug)]
pub struct TestSettings {
    /// Level of the global test (and family level of the measurement tests), default 0.05.
    pub alpha: f64,
    /// Re-reconcile without the meter flagged by the measurement test (default true).
    pub eliminate: bool,
}

impl Default for TestSettings {
    fn default() -> Self {
        Self {
            alpha: 0.05,
            eliminate: true,
        }
    }
}

/// The result of reconciling one step.
#[derive(Clone, Debug, Default)]
pub struct StepResult {
    /// Reconciled variables (NaN: not observable this step).
    pub z: Vec<f64>,
    /// Largest balance residual `‖C ẑ − d‖∞` over every constraint (unobservable variables
    /// included: the solution closes every balance), m³/h.
    pub max_balance_residual: f64,
    /// Global test statistic `γ` and its critical value; `None` without redundancy.
    pub global: Option<(f64, f64)>,
    /// Degree of redundancy.
    pub dof: usize,
    /// Normalised residual per slot (NaN: absent or not redundant).
    pub normalised: Vec<f64>,
    /// Critical value of the measurement test.
    pub z_crit: f64,
    /// Meter flagged as a gross error this step.
    pub flagged: Option<usize>,
    /// Standardised leak statistic `f_sᵀρ/‖f_s‖` per constraint (NaN where `f_s = 0`).
    pub leak_stat: Vec<f64>,
    /// Leak estimate `δ̂_s`, m³/h, per constraint (NaN where `f_s = 0`).
    pub leak_estimate: Vec<f64>,
    /// `f_sᵀρ` per constraint (0 where `f_s = 0`).
    pub leak_dot: Vec<f64>,
    /// Pattern of present readings of the first pass (for [`Model::gram`]).
    pub pattern: usize,
}

/// Per-step reconciliation state: the model, its cached patterns, and the previous readings.
pub struct Reconciler {
    /// The model.
    pub model: Model,
    /// Test settings.
    pub settings: TestSettings,
    prev: Vec<f64>,
}

impl Reconciler {
    /// A reconciler for `model`.
    pub fn new(model: Model, settings: TestSettings, n_meters: usize) -> Self {
        Self {
            model,
            settings,
            prev: vec![f64::NAN; n_meters],
        }
    }

    /// Reconciles one step from its readings (`readings[m]`, NaN: missing), in step order.
    pub fn step(&mut self, readings: &[f64]) -> StepResult {
        let ns = self.model.slots.len();
        let mut y = vec![f64::NAN; ns];
        for (i, s) in self.model.slots.iter().enumerate() {
            y[i] = if s.lag == 0 {
                readings[s.meter]
            } else {
                self.prev[s.meter]
            };
        }
        self.prev.copy_from_slice(readings);
        let present: Vec<bool> = y.iter().map(|v| v.is_finite()).collect();
        // d: zero for segments; nodes have no constant term (tank start volumes are variables).
        let nc = self.model.constraints.len();
        let d = DVector::zeros(nc);
        let z0 = &self.model.c_pinv * &d;
        let mut res = self.solve(&present, &y, &z0);
        if self.settings.eliminate
            && let Some((g, crit)) = res.global
            && g > crit
        {
            let (mut best, mut bi) = (res.z_crit, None);
            for (i, &r) in res.normalised.iter().enumerate() {
                if r.is_finite() && r.abs() > best {
                    best = r.abs();
                    bi = Some(i);
                }
            }
            // Meters whose normalised residuals tie with the largest form an equivalent set
            // (a gross error in any of them looks the same): none of them can be named.
            let tied = bi.is_some_and(|i| {
                res.normalised.iter().enumerate().any(|(j, &r)| {
                    j != i
                        && self.model.slots[j].meter != self.model.slots[i].meter
                        && r.is_finite()
                        && r.abs() >= best * (1.0 - 1e-6)
                })
            });
            if let Some(i) = bi.filter(|_| !tied) {
                let meter = self.model.slots[i].meter;
                let mut present2 = present.clone();
                for (j, s) in self.model.slots.iter().enumerate() {
                    if s.meter == meter {
                        present2[j] = false;
                    }
                }
                let again = self.solve(&present2, &y, &z0);
                // Keep the first pass's tests and leak statistics; take the reconciled values
                // without the flagged meter.
                res.z = again.z;
                res.max_balance_residual = again.max_balance_residual;
                res.flagged = Some(meter);
            }
        }
        res
    }

    fn solve(&mut self, present: &[bool], y: &[f64], z0: &DVector<f64>) -> StepResult {
        let alpha = self.settings.alpha;
        let null = self.model.null.clone();
        let ns = self.model.slots.len();
        let nc = self.model.constraints.len();
        let pid = self.model.pattern_id(present);
        let pat = &self.model.patterns[pid];
        let p_rows = pat.rows.len();
        let mut b = DVector::zeros(p_rows);
        let hz0 = &pat.wh * z0;
        for (r, &i) in pat.rows.iter().enumerate() {
            b[r] = y[i] / self.model.sd[i] - hz0[r];
        }
        let w = &pat.m_pinv * &b;
        let z = z0 + &null * &w;
        let rho = &pat.p * &b;
        let mut zv: Vec<f64> = z.iter().copied().collect();
        for (i, v) in zv.iter_mut().enumerate() {
            if !pat.observable[i] {
                *v = f64::NAN;
            }
        }
        let dof = pat.dof;
        let global = (dof > 0).then(|| (rho.norm_squared(), chi2_quantile(1.0 - alpha, dof)));
        let n_tests = (0..p_rows).filter(|&r| pat.p[(r, r)] > 1e-9).count().max(1);
        let beta = 1.0 - (1.0 - alpha).powf(1.0 / n_tests as f64);
        let z_crit = normal_quantile(1.0 - beta / 2.0);
        let mut normalised = vec![f64::NAN; ns];
        for (r, &i) in pat.rows.iter().enumerate() {
            let pjj = pat.p[(r, r)];
            if pjj > 1e-9 {
                normalised[i] = rho[r] / pjj.sqrt();
            }
        }
        let mut leak_stat = vec![f64::NAN; nc];
        let mut leak_estimate = vec![f64::NAN; nc];
        let mut leak_dot = vec![0.0; nc];
        for s in 0..nc {
            let fn_ = pat.f_norm[s];
            if fn_ > 1e-6 {
                let dot = pat.f.column(s).dot(&rho);
                leak_dot[s] = dot;
                leak_stat[s] = dot / fn_;
                leak_estimate[s] = dot / (fn_ * fn_);
            }
        }
        // Balance residual of the reconciled state, over the full (unmasked) vector.
        let cz = self.c_times(&z);
        let max_balance_residual = cz.iter().fold(0.0f64, |a, &x| a.max(x.abs()));
        StepResult {
            z: zv,
            max_balance_residual,
            global,
            dof,
            normalised,
            z_crit,
            flagged: None,
            leak_stat,
            leak_estimate,
            leak_dot,
            pattern: pid,
        }
    }

    fn c_times(&self, z: &DVector<f64>) -> Vec<f64> {
        (&self.model.c * z).iter().copied().collect()
    }

    /// The step length, h.
    pub fn dt_h(&self) -> f64 {
        self.model.dt_h
    }
}
