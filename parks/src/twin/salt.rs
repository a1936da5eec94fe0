//! Conductivity reconciliation: the salt (TDS) balance, reconciled after the flows.
//!
//! **Bilinearity, handled sequentially.** A salt balance `Σ q_in·c_in − Σ q_out·c_out = 0` is
//! bilinear in the flows `q` and the concentrations `c`. Following the sequential approach of
//! Narasimhan & Jordache (2000, ch. 4, bilinear systems), the flows of a step are
//! reconciled first ([`super::reconcile`]: the water balances close exactly); with those flows
//! fixed, every salt balance is *linear* in the concentrations, and the concentrations are
//! reconciled by the same weighted least squares in the null space of the constraints
//! (Crowe 1986 for the projection of the unmeasured concentrations). Limit: the flows' errors
//! are not propagated into the concentration step (the reconciled flows are taken as exact), so
//! the concentration tests are slightly too strict where the flow errors are comparable with
//! the conductivity errors; a simultaneous (nonlinear) solve would weigh both.
//!
//! **Variables of one step** (TDS, mg/L): the concentration `c_p` of the water leaving each port
//! that has a link or a conductivity meter, and the inlet mix `c_u` of each unit whose inlet a
//! conductivity meter reads. A link carries its upstream port's water (a leak does not change
//! its concentration).
//!
//! **Constraints** (`A c = 0`, coefficients the reconciled flows of the step, m³/h):
//!
//! - a unit's inlet mix (where a meter reads it): `x_u·c_u − Σ_{l into u} q_l·c_{p(l)} = 0`,
//!   `x_u = Σ q_l` (the engine's mixing rule, `engine/src/quality.rs`);
//! - a **salt-closed** unit: `Σ_{l into u} q_l·c_{p(l)} − Σ_{p of u} Σ_{l from p} q_l·c_p = 0`
//!   (what enters leaves; evaporation carries no salt and has no term).
//!
//! A unit is salt-closed when its species are conserved and every outflow is metered by the
//! flow reconciliation: not a source, not a water-using unit (processes add salt), stateless
//! (`Affine` quality; a completely mixed volume — tank, cooling-tower basin — stores salt, and
//! its storage change `V1·C1 − V0·C0` needs the contents' concentration, which a meter on its
//! outflow does not read: such units get a free storage term, i.e. no constraint), no exit port
//! but evaporation (product, discharge, drift, solids exits carry salt at an unmeasured flow),
//! and, from the units' inputs at the start of the run, no salt added (`λ = 0` at every port,
//! nothing generated), destroyed or precipitated. RO, nanofiltration and a treatment unit
//! whose reject is a linked port are salt-closed (salt splits between permeate and concentrate,
//! both metered by the flows); their rejection `τ` from the park is *not* imposed — the split is
//! a free part of the balance, so a drifting membrane does not read as a faulty meter. Every
//! other unit is open: its salt balance has a free term and adds no constraint.
//!
//! A conductivity meter reads `EC = c/k` (µS/cm, `k` the meter's TDS factor): in TDS units its
//! reading is `k·EC` with standard deviation `k·σ`. The reconciled state, the global
//! (chi-square) test and the measurement (normalised-residual) test with serial elimination of
//! one flagged meter are those of [`super::reconcile`]; the matrices depend on the step's flows,
//! so they are computed every step. Constraints with an undetermined flow are left out of that
//! step.

use super::meters::{MeterKind, MeterSet, Site};
use super::readings::Aligned;
use super::reconcile::{TestSettings, null_space, pinv, rank};
use super::replay::MeterVerdict;
use super::stats::{chi2_quantile, normal_quantile};
use nalgebra::{DMatrix, DVector};
use parktwin_engine::network::{ExitKind, FlowKind, PortRole, QualityKind, Topology};
use parktwin_engine::state::UnitInputs;
use serde::Serialize;

/// How a unit enters the salt balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaltRole {
    /// Salt conserved and every outflow metered: a constraint.
    Closed,
    /// A source: the TDS of its water is a free variable.
    Source,
    /// Adds salt (a water-using process, `λ ≠ 0`, or salt generated): free term.
    AddsSalt,
    /// Destroys or precipitates salt: free term.
    RemovesSalt,
    /// Has an exit other than evaporation (salt leaves at an unmeasured flow): free term.
    Exit,
    /// A completely mixed volume: its storage change is not observed, free term.
    Storage,
}

/// The role of unit `u` for species `s` (of `ns`), from the topology and the units' inputs.
pub fn salt_role(topo: &Topology, inputs: &UnitInputs, u: usize, s: usize, ns: usize) -> SaltRole {
    if topo.unit_flow[u] == FlowKind::Source {
        return SaltRole::Source;
    }
    if topo.unit_quality[u] == QualityKind::Mixed {
        return SaltRole::Storage;
    }
    if topo.unit_uses_water[u]
        || inputs.generated_g_per_m3[u * ns + s] != 0.0
        || topo.ports_of(u).any(|p| inputs.lambda[p * ns + s] != 0.0)
    {
        return SaltRole::AddsSalt;
    }
    if inputs.removed_fraction[u * ns + s] != 0.0 || inputs.solids_fraction[u * ns + s] != 0.0 {
        return SaltRole::RemovesSalt;
    }
    if topo
        .ports_of(u)
        .any(|p| matches!(topo.port_role[p], PortRole::Exit(k) if k != ExitKind::Evaporation))
    {
        return SaltRole::Exit;
    }
    SaltRole::Closed
}

/// A variable of the salt model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SaltVar {
    /// TDS of the water leaving a port, mg/L.
    Port(usize),
    /// TDS of a unit's inlet mix, mg/L.
    Inlet(usize),
}

/// A unit and its role.
#[derive(Clone, Debug, Serialize)]
pub struct UnitRole {
    /// Unit id.
    pub unit: String,
    /// Role.
    pub role: SaltRole,
}

/// What the conductivity meters determine over the record.
#[derive(Clone, Debug, Serialize)]
pub struct SaltObservability {
    /// Species reconciled (`tds`).
    pub species: String,
    /// Every unit's role.
    pub units: Vec<UnitRole>,
    /// Salt balances imposed (closed units and inlet mixes read by a meter).
    pub constraints: Vec<String>,
    /// Variables determined in every step.
    pub determined: Vec<String>,
    /// Variables determined in some steps only, with the count of steps.
    pub sometimes_determined: Vec<(String, usize)>,
    /// Variables never determined.
    pub undetermined: Vec<String>,
    /// Conductivity meters tested (redundant) in at least one step.
    pub redundant_meters: Vec<String>,
    /// Conductivity meters never redundant (their reading is taken as it is).
    pub non_redundant_meters: Vec<String>,
    /// Largest degree of redundancy of a step.
    pub max_redundancy: usize,
}

/// The conductivity reconciliation over a record.
#[derive(Clone, Debug, Serialize)]
pub struct SaltResult {
    /// Observability.
    pub observability: SaltObservability,
    /// Steps.
    pub steps: usize,
    /// Steps where the global test failed.
    pub global_failures: usize,
    /// Steps with a global test (redundancy > 0).
    pub tested_steps: usize,
    /// Largest critical value of the measurement test.
    pub z_crit: f64,
    /// Largest relative residual of an imposed salt balance after reconciliation,
    /// `|Σ a_j ĉ_j| / Σ |a_j ĉ_j|`.
    pub max_relative_residual: f64,
    /// Per conductivity meter.
    pub meters: Vec<MeterVerdict>,
    /// Variable labels.
    pub var_labels: Vec<String>,
    /// Variables.
    #[serde(skip)]
    pub vars: Vec<SaltVar>,
    /// Reconciled TDS, mg/L, `steps × vars` (NaN: undetermined).
    #[serde(skip)]
    pub tds: Vec<f64>,
    /// Reconciled reading of every meter, µS/cm, `steps × meters` (NaN: not a conductivity
    /// meter, or undetermined).
    #[serde(skip)]
    pub meter_reconciled: Vec<f64>,
    /// Normalised residual per meter and step (NaN: absent or not redundant).
    #[serde(skip)]
    pub meter_normalised: Vec<f64>,
    /// Conductivity meter flagged per step.
    #[serde(skip)]
    pub flagged: Vec<Option<usize>>,
}

/// One linear reconciliation `min ‖W(y − Hz)‖²` s.t. `A z = 0`, `H` selecting one variable per
/// row.
struct Solved {
    z: DVector<f64>,
    observable: Vec<bool>,
    normalised: Vec<f64>,
    global: Option<(f64, f64)>,
    dof: usize,
    z_crit: f64,
}

fn solve(a: &DMatrix<f64>, null: &DMatrix<f64>, rows: &[(usize, f64, f64)], alpha: f64) -> Solved {
    let n = a.ncols();
    let nr = rows.len();
    let mut wh = DMatrix::zeros(nr, n);
    let mut b = DVector::zeros(nr);
    for (r, &(j, y, sd)) in rows.iter().enumerate() {
        wh[(r, j)] = 1.0 / sd;
        b[r] = y / sd;
    }
    let m = &wh * null;
    let m_pinv = pinv(&m);
    let w = &m_pinv * &b;
    let z = null * &w;
    let p = DMatrix::identity(nr, nr) - &m * &m_pinv;
    let q = DMatrix::identity(null.ncols(), null.ncols()) - &m_pinv * &m;
    let nq = null * q;
    let observable = (0..n)
        .map(|i| nq.row(i).norm() < 1e-7 * (1.0 + null.row(i).norm()))
        .collect();
    let rho = &p * &b;
    let dof = rank(&p);
    let global = (dof > 0).then(|| (rho.norm_squared(), chi2_quantile(1.0 - alpha, dof)));
    let n_tests = (0..nr).filter(|&r| p[(r, r)] > 1e-9).count().max(1);
    let beta = 1.0 - (1.0 - alpha).powf(1.0 / n_tests as f64);
    let z_crit = normal_quantile(1.0 - beta / 2.0);
    let normalised = (0..nr)
        .map(|r| {
            let pjj = p[(r, r)];
            if pjj > 1e-9 {
                rho[r] / pjj.sqrt()
            } else {
                f64::NAN
            }
        })
        .collect();
    Solved {
        z,
        observable,
        normalised,
        global,
        dof,
        z_crit,
    }
}

/// Reconciles the conductivity meters of `set` over the record, with the reconciled link flows
/// `link_flows` (`steps × links`, m³/h, NaN: undetermined) of [`super::replay::replay`] fixed.
/// `s` is the index of TDS among the `ns` species of `inputs` (the units' inputs, which
/// decide which units are salt-closed, see the module docs).
#[expect(
    clippy::too_many_arguments,
    reason = "the salt step reads the model, the flows and the readings"
)]
pub fn reconcile_salt(
    topo: &Topology,
    inputs: &UnitInputs,
    s: usize,
    ns: usize,
    set: &MeterSet,
    aligned: &Aligned,
    link_flows: &[f64],
    tests: TestSettings,
) -> SaltResult {
    let nl = topo.n_links();
    let nu = topo.n_units();
    let np = topo.n_ports();
    let nm = set.meters.len();
    let roles: Vec<SaltRole> = (0..nu).map(|u| salt_role(topo, inputs, u, s, ns)).collect();
    // Variables: ports with a link or a meter, inlets with a meter.
    let mut port_var = vec![None; np];
    let mut inlet_var = vec![None; nu];
    let mut vars = Vec::new();
    let mut labels = Vec::new();
    let port_label = |p: usize| {
        format!(
            "{}.{}",
            topo.unit_id[topo.port_unit[p] as usize], topo.port_name[p]
        )
    };
    let mut links_from_port: Vec<Vec<usize>> = vec![Vec::new(); np];
    for l in 0..nl {
        links_from_port[topo.link_from_port[l] as usize].push(l);
    }
    for p in 0..np {
        let metered = set
            .meters
            .iter()
            .any(|m| m.kind == MeterKind::Conductivity && m.site == Site::PortTds(p));
        if !links_from_port[p].is_empty() || metered {
            port_var[p] = Some(vars.len());
            vars.push(SaltVar::Port(p));
            labels.push(port_label(p));
        }
    }
    for m in &set.meters {
        if let (MeterKind::Conductivity, Site::InletTds(u)) = (m.kind, m.site)
            && inlet_var[u].is_none()
        {
            inlet_var[u] = Some(vars.len());
            vars.push(SaltVar::Inlet(u));
            labels.push(format!("{} inlet mix", topo.unit_id[u]));
        }
    }
    let n = vars.len();
    // Constraint templates: (label, inflow links with sign +1, outflow links with their port
    // variable, inlet variable).
    enum Row {
        Inlet(usize),
        Closed(usize),
    }
    let mut templates = Vec::new();
    let mut constraint_labels = Vec::new();
    for u in 0..nu {
        if inlet_var[u].is_some() {
            templates.push(Row::Inlet(u));
            constraint_labels.push(format!("inlet mix of {}", topo.unit_id[u]));
        }
        if roles[u] == SaltRole::Closed {
            templates.push(Row::Closed(u));
            constraint_labels.push(format!("salt balance of {}", topo.unit_id[u]));
        }
    }
    // Measurement rows: (meter, variable, factor k).
    let meas: Vec<(usize, usize, f64)> = set
        .meters
        .iter()
        .enumerate()
        .filter(|(_, m)| m.kind == MeterKind::Conductivity)
        .filter_map(|(i, m)| {
            let v = match m.site {
                Site::PortTds(p) => port_var[p],
                Site::InletTds(u) => inlet_var[u],
                _ => None,
            }?;
            Some((i, v, m.tds_factor))
        })
        .collect();
    let steps = aligned.steps;
    let mut out = SaltResult {
        observability: SaltObservability {
            species: "tds".into(),
            units: (0..nu)
                .map(|u| UnitRole {
                    unit: topo.unit_id[u].clone(),
                    role: roles[u],
                })
                .collect(),
            constraints: constraint_labels,
            determined: vec![],
            sometimes_determined: vec![],
            undetermined: vec![],
            redundant_meters: vec![],
            non_redundant_meters: vec![],
            max_redundancy: 0,
        },
        steps,
        global_failures: 0,
        tested_steps: 0,
        z_crit: 0.0,
        max_relative_residual: 0.0,
        meters: vec![],
        var_labels: labels.clone(),
        vars: vars.clone(),
        tds: Vec::with_capacity(steps * n),
        meter_reconciled: vec![f64::NAN; steps * nm],
        meter_normalised: vec![f64::NAN; steps * nm],
        flagged: Vec::with_capacity(steps),
    };
    let mut determined_steps = vec![0usize; n];
    let mut tested = vec![0usize; nm];
    let mut flagged = vec![0usize; nm];
    let mut sum_r = vec![0.0; nm];
    for k in 0..steps {
        let q = |l: usize| link_flows.get(k * nl + l).copied().unwrap_or(f64::NAN);
        let mut a_rows: Vec<Vec<(usize, f64)>> = Vec::new();
        for t in &templates {
            let mut row = Vec::new();
            let inflow = |u: usize, row: &mut Vec<(usize, f64)>| {
                let mut x = 0.0;
                for &l in topo.links_into(u) {
                    let l = l as usize;
                    let ql = q(l);
                    x += ql;
                    if let Some(v) = port_var[topo.link_from_port[l] as usize] {
                        row.push((v, ql));
                    }
                }
                x
            };
            match *t {
                Row::Inlet(u) => {
                    let x = inflow(u, &mut row);
                    for e in row.iter_mut() {
                        e.1 = -e.1;
                    }
                    if let Some(v) = inlet_var[u] {
                        row.push((v, x));
                    }
                }
                Row::Closed(u) => {
                    inflow(u, &mut row);
                    for p in topo.ports_of(u) {
                        let Some(v) = port_var[p] else { continue };
                        for &l in &links_from_port[p] {
                            row.push((v, -q(l)));
                        }
                    }
                }
            }
            if row.iter().any(|e| !e.1.is_finite()) || row.iter().all(|e| e.1 == 0.0) {
                continue;
            }
            a_rows.push(row);
        }
        let mut a = DMatrix::zeros(a_rows.len(), n);
        for (i, row) in a_rows.iter().enumerate() {
            for &(j, v) in row {
                a[(i, j)] += v;
            }
        }
        let null = null_space(&a);
        let rows: Vec<(usize, f64, f64)> = meas
            .iter()
            .filter_map(|&(m, v, kf)| {
                let y = aligned.get(k, m);
                y.is_finite().then(|| (v, kf * y, kf * set.meters[m].sd))
            })
            .collect();
        let row_meter: Vec<usize> = meas
            .iter()
            .filter(|&&(m, _, _)| aligned.get(k, m).is_finite())
            .map(|&(m, _, _)| m)
            .collect();
        let first = solve(&a, &null, &rows, tests.alpha);
        out.z_crit = out.z_crit.max(first.z_crit);
        out.observability.max_redundancy = out.observability.max_redundancy.max(first.dof);
        let mut flag = None;
        let mut sol = None;
        if let Some((g, c)) = first.global {
            out.tested_steps += 1;
            if g > c {
                out.global_failures += 1;
                if tests.eliminate {
                    let (mut best, mut bi) = (first.z_crit, None);
                    for (i, &r) in first.normalised.iter().enumerate() {
                        if r.is_finite() && r.abs() > best {
                            best = r.abs();
                            bi = Some(i);
                        }
                    }
                    let tied = bi.is_some_and(|i| {
                        first.normalised.iter().enumerate().any(|(j, &r)| {
                            j != i && r.is_finite() && r.abs() >= best * (1.0 - 1e-6)
                        })
                    });
                    if let Some(i) = bi.filter(|_| !tied) {
                        let mut rows2 = rows.clone();
                        rows2.remove(i);
                        sol = Some(solve(&a, &null, &rows2, tests.alpha));
                        flag = Some(row_meter[i]);
                    }
                }
            }
        }
        for (r, &m) in row_meter.iter().enumerate() {
            let nr = first.normalised[r];
            out.meter_normalised[k * nm + m] = nr;
            if nr.is_finite() {
                tested[m] += 1;
                sum_r[m] += nr;
            }
        }
        if let Some(m) = flag {
            flagged[m] += 1;
        }
        out.flagged.push(flag);
        let sol = sol.as_ref().unwrap_or(&first);
        // Balance residuals of the full solution (the min-norm values of undetermined
        // variables included: the solution satisfies every imposed balance).
        for row in &a_rows {
            let (mut sum, mut mag) = (0.0, 0.0);
            for &(j, v) in row {
                sum += v * sol.z[j];
                mag += (v * sol.z[j]).abs();
            }
            if mag > 0.0 {
                out.max_relative_residual = out.max_relative_residual.max(sum.abs() / mag);
            }
        }
        for j in 0..n {
            if sol.observable[j] {
                determined_steps[j] += 1;
                out.tds.push(sol.z[j]);
            } else {
                out.tds.push(f64::NAN);
            }
        }
        for &(m, v, kf) in &meas {
            if sol.observable[v] {
                out.meter_reconciled[k * nm + m] = sol.z[v] / kf;
            }
        }
    }
    let o = &mut out.observability;
    for (j, label) in labels.iter().enumerate() {
        match determined_steps[j] {
            d if d == steps && steps > 0 => o.determined.push(label.clone()),
            0 => o.undetermined.push(label.clone()),
            d => o.sometimes_determined.push((label.clone(), d)),
        }
    }
    for (m, meter) in set.meters.iter().enumerate() {
        if meter.kind != MeterKind::Conductivity {
            continue;
        }
        if tested[m] > 0 {
            o.redundant_meters.push(meter.id.clone());
        } else {
            o.non_redundant_meters.push(meter.id.clone());
        }
        let nt = tested[m].max(1) as f64;
        let mean = sum_r[m] / nt;
        let pz = mean.abs() * nt.sqrt();
        out.meters.push(MeterVerdict {
            meter: meter.id.clone(),
            tested_steps: tested[m],
            flagged_steps: flagged[m],
            mean_normalised_residual: mean,
            persistence_z: pz,
            suspect: pz > 5.0 && flagged[m] as f64 >= 0.25 * tested[m] as f64,
        });
    }
    out
}

impl SaltResult {
    /// The report section (Markdown).
    pub fn to_markdown(&self) -> String {
        let o = &self.observability;
        let mut t = String::from("\n## Conductivity (TDS) reconciliation\n\n");
        t.push_str(
            "Sequential: the flows of each step are reconciled first, then the TDS with those \
             flows fixed (linear); the flows' errors are not carried into this step.\n\n",
        );
        let closed: Vec<String> = o
            .units
            .iter()
            .filter(|u| u.role == SaltRole::Closed)
            .map(|u| u.unit.clone())
            .collect();
        let open: Vec<String> = o
            .units
            .iter()
            .filter(|u| u.role != SaltRole::Closed)
            .map(|u| format!("{} ({})", u.unit, role_name(u.role)))
            .collect();
        t.push_str(&format!(
            "- Salt-closed units: {}\n- Open units (free salt term): {}\n- Balances imposed: {}\n",
            list(&closed),
            list(&open),
            list(&o.constraints)
        ));
        t.push_str(&format!(
            "- Determined in every step: {}\n- Determined in some steps: {}\n- Never determined: {}\n",
            list(&o.determined),
            list(
                &o.sometimes_determined
                    .iter()
                    .map(|(l, d)| format!("{l} ({d} steps)"))
                    .collect::<Vec<_>>()
            ),
            list(&o.undetermined)
        ));
        t.push_str(&format!(
            "- Redundant conductivity meters: {}; non-redundant: {}; largest degree of redundancy {}\n\n",
            list(&o.redundant_meters),
            list(&o.non_redundant_meters),
            o.max_redundancy
        ));
        t.push_str(&format!(
            "{} steps; {} with a global test, which failed in {}; largest relative salt-balance residual {:.1e}.\n\n",
            self.steps, self.tested_steps, self.global_failures, self.max_relative_residual
        ));
        if !self.meters.is_empty() {
            t.push_str(&super::replay::meter_table(&self.meters));
        }
        t
    }
}

/// A short name of a role.
pub fn role_name(r: SaltRole) -> &'static str {
    match r {
        SaltRole::Closed => "closed",
        SaltRole::Source => "source",
        SaltRole::AddsSalt => "adds salt",
        SaltRole::RemovesSalt => "removes salt",
        SaltRole::Exit => "unmetered exit",
        SaltRole::Storage => "mixed volume",
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The conductivity step of a replay of `file`: builds the park (for the units' inputs, which
/// decide the salt-closed units) and reconciles the conductivity meters with the reconciled
/// link flows. `None` when the park declares no `tds` species or has no conductivity meter.
pub fn reconcile_salt_of_park(
    file: &crate::load::ParkFile,
    set: &MeterSet,
    aligned: &Aligned,
    link_flows: &[f64],
    tests: TestSettings,
) -> Result<Option<SaltResult>, String> {
    if !set.meters.iter().any(|m| m.kind == MeterKind::Conductivity) {
        return Ok(None);
    }
    let valid = crate::validate::validate(file).map_err(|e| e.to_string())?;
    let built = crate::build::build(valid, crate::build::BuildOptions::default())
        .map_err(|e| e.to_string())?;
    let species = built.sim.resource::<parktwin_engine::state::Species>();
    let Some(s) = species.index("tds") else {
        return Ok(None);
    };
    let ns = species.len();
    let topo = built.sim.resource::<Topology>();
    let inputs = built.sim.resource::<UnitInputs>();
    Ok(Some(reconcile_salt(
        topo, inputs, s, ns, set, aligned, link_flows, tests,
    )))
}
