//! The species solve: with the step's flows fixed, concentrations through every unit.
//!
//! Unknowns are the units' inlet mixes `c_u` (per species). A unit's outlet concentration is
//! affine in its inlet mix, `C_p = τ_p·c_u + λ_p`: given by the unit for an affine unit, and by
//! the closed form of [`crate::mixing`] for a mixed volume (`τ = a_in`, `λ = a0·C0`; an
//! evaporation exit carries nothing). The inlet mix of a unit with throughput `x_u > 0` obeys
//!
//! ```text
//! x_u·c_u − Σ_{l into u, from v in the component} q_l·τ_{p(l)}·c_v
//!        = Σ_{l from outside} q_l·C_{p(l)} + Σ_{l from inside} q_l·λ_{p(l)}
//! ```
//!
//! Components of the quality graph are solved in topological order: a unit outside any loop
//! directly, a recycle loop exactly as one small dense system (nalgebra LU), factored once for all
//! species when the loop's transfer coefficients are the same for every species, per species
//! otherwise. Units with no inflow drop out of the system (an outage empties part of a loop
//! without making it singular). A loop with no purge is rejected when the network is compiled.

use crate::diagnostics::{DiagnosticKind, Diagnostics};
use crate::mixing::{MixedCoefficients, mixed_coefficients};
use crate::network::{ExitKind, FlowKind, PortRole, QualityKind, Topology};
use crate::state::{Clock, Flows, Quality, Species, Storage, UnitInputs};
use nalgebra::{DMatrix, DVector};

/// Scratch space reused across steps.
#[derive(Default, Debug)]
pub struct QualitySolver {
    mixed: Vec<Option<MixedCoefficients>>,
    local: Vec<usize>,
    active: Vec<usize>,
    rhs: Vec<f64>,
    conserved: usize,
}

/// Effective transfer (τ, λ) of port `p` for species `s`.
///
/// Tracers (species index ≥ `conserved`) pass through every unit unchanged (τ = 1), start at 0
/// at sources and are reset to 1 at the outlets of water-using units; mixed volumes mix them.
#[inline]
#[expect(
    clippy::too_many_arguments,
    reason = "hot-path helper reading flat arrays"
)]
fn transfer(
    p: usize,
    s: usize,
    ns: usize,
    conserved: usize,
    u: usize,
    topo: &Topology,
    inputs: &UnitInputs,
    storage: &Storage,
    mixed: &[Option<MixedCoefficients>],
) -> (f64, f64) {
    if s >= conserved {
        return match (topo.unit_flow[u], topo.port_role[p]) {
            (FlowKind::Source, _) | (_, PortRole::Exit(ExitKind::Evaporation)) => (0.0, 0.0),
            _ if topo.unit_uses_water[u] => (0.0, 1.0),
            _ if topo.unit_quality[u] == QualityKind::Mixed => {
                let m = mixed[u].expect("mixed coefficients are computed before the solve");
                (m.a_in, m.a0 * storage.conc[u * ns + s])
            }
            _ => (1.0, 0.0),
        };
    }
    match topo.unit_flow[u] {
        FlowKind::Source => (0.0, inputs.lambda[p * ns + s]),
        _ => match topo.unit_quality[u] {
            QualityKind::Affine => (inputs.tau[p * ns + s], inputs.lambda[p * ns + s]),
            QualityKind::Mixed => {
                if topo.port_role[p] == PortRole::Exit(ExitKind::Evaporation) {
                    (0.0, 0.0)
                } else {
                    let m = mixed[u].expect("mixed coefficients are computed before the solve");
                    (m.a_in, m.a0 * storage.conc[u * ns + s])
                }
            }
        },
    }
}

impl QualitySolver {
    /// A new solver.
    pub fn new() -> Self {
        Self::default()
    }

    /// Solves the step: fills `quality` and the end-of-step volumes and concentrations of
    /// mixed units in `storage`.
    #[expect(
        clippy::too_many_arguments,
        reason = "the solve reads every part of the step state"
    )]
    pub fn solve(
        &mut self,
        topo: &Topology,
        species: &Species,
        inputs: &UnitInputs,
        flows: &Flows,
        storage: &mut Storage,
        quality: &mut Quality,
        clock: &Clock,
        diag: &mut Diagnostics,
    ) {
        let ns = species.len();
        self.conserved = species.conserved;
        let nu = topo.n_units();
        let dt = clock.dt_h;
        // Mixed volumes: coefficients from this step's flows.
        self.mixed.clear();
        self.mixed.resize(nu, None);
        for u in 0..nu {
            if topo.unit_quality[u] != QualityKind::Mixed {
                continue;
            }
            let mut evap = 0.0;
            let mut out = 0.0;
            for p in topo.ports_of(u) {
                let f = flows.port[p];
                if topo.port_role[p] == PortRole::Exit(ExitKind::Evaporation) {
                    evap += f;
                } else {
                    out += f;
                }
            }
            let c = mixed_coefficients(storage.volume[u], flows.throughput[u], evap, out, dt);
            storage.volume_end[u] = if storage.capacity[u].is_finite() {
                c.v1
            } else {
                storage.volume[u]
            };
            self.mixed[u] = Some(c);
        }
        self.local.resize(nu, usize::MAX);

        for comp in &topo.quality_components {
            let units = &topo.quality_order[comp.start as usize..comp.end as usize];
            if !comp.cyclic {
                let u = units[0] as usize;
                self.solve_single(u, topo, ns, inputs, flows, storage, quality);
                continue;
            }
            self.solve_loop(
                units, topo, ns, inputs, flows, storage, quality, clock, diag,
            );
        }
        // End-of-step concentrations of mixed volumes.
        for u in 0..nu {
            if let Some(m) = self.mixed[u] {
                for s in 0..ns {
                    storage.conc_end[u * ns + s] =
                        m.b0 * storage.conc[u * ns + s] + m.b_in * quality.inlet[u * ns + s];
                }
            }
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "internal helper over the step state"
    )]
    fn solve_single(
        &self,
        u: usize,
        topo: &Topology,
        ns: usize,
        inputs: &UnitInputs,
        flows: &Flows,
        storage: &Storage,
        quality: &mut Quality,
    ) {
        let x = flows.throughput[u];
        let inlet = &mut quality.inlet[u * ns..(u + 1) * ns];
        inlet.fill(0.0);
        if x > 0.0 && topo.unit_flow[u] != FlowKind::Source {
            for &l in topo.links_into(u) {
                let q = flows.link[l as usize];
                if q == 0.0 {
                    continue;
                }
                let p = topo.link_from_port[l as usize] as usize;
                let cp = &quality.port[p * ns..(p + 1) * ns];
                for s in 0..ns {
                    inlet[s] += q * cp[s];
                }
            }
            for c in inlet.iter_mut() {
                *c /= x;
            }
        }
        self.write_ports(u, topo, ns, inputs, storage, quality);
    }

    fn write_ports(
        &self,
        u: usize,
        topo: &Topology,
        ns: usize,
        inputs: &UnitInputs,
        storage: &Storage,
        quality: &mut Quality,
    ) {
        for p in topo.ports_of(u) {
            for s in 0..ns {
                let (tau, lambda) = transfer(
                    p,
                    s,
                    ns,
                    self.conserved,
                    u,
                    topo,
                    inputs,
                    storage,
                    &self.mixed,
                );
                quality.port[p * ns + s] = tau * quality.inlet[u * ns + s] + lambda;
            }
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "internal helper over the step state"
    )]
    fn solve_loop(
        &mut self,
        units: &[u32],
        topo: &Topology,
        ns: usize,
        inputs: &UnitInputs,
        flows: &Flows,
        storage: &Storage,
        quality: &mut Quality,
        clock: &Clock,
        diag: &mut Diagnostics,
    ) {
        // Units with inflow take part; the others have no inlet mix this step.
        self.active.clear();
        for &u in units {
            let u = u as usize;
            self.local[u] = usize::MAX;
            quality.inlet[u * ns..(u + 1) * ns].fill(0.0);
            if flows.throughput[u] > 0.0 && topo.unit_flow[u] != FlowKind::Source {
                self.local[u] = self.active.len();
                self.active.push(u);
            }
        }
        // Inactive members still emit what they held (a tank drawn down with no inflow).
        for &u in units {
            let u = u as usize;
            if self.local[u] == usize::MAX {
                self.write_ports(u, topo, ns, inputs, storage, quality);
            }
        }
        let n = self.active.len();
        if n == 0 {
            return;
        }
        // Is the transfer the same for every species? Then factor once.
        let mut uniform = true;
        'check: for &u in &self.active {
            for &l in topo.links_into(u) {
                let v = topo.link_from[l as usize] as usize;
                if self.local[v] == usize::MAX {
                    continue;
                }
                let p = topo.link_from_port[l as usize] as usize;
                let (t0, _) = transfer(
                    p,
                    0,
                    ns,
                    self.conserved,
                    v,
                    topo,
                    inputs,
                    storage,
                    &self.mixed,
                );
                for s in 1..self.conserved {
                    let (ts, _) = transfer(
                        p,
                        s,
                        ns,
                        self.conserved,
                        v,
                        topo,
                        inputs,
                        storage,
                        &self.mixed,
                    );
                    if ts != t0 {
                        uniform = false;
                        break 'check;
                    }
                }
            }
        }
        // Right-hand sides, n × ns.
        self.rhs.clear();
        self.rhs.resize(n * ns, 0.0);
        for (i, &u) in self.active.iter().enumerate() {
            for &l in topo.links_into(u) {
                let q = flows.link[l as usize];
                if q == 0.0 {
                    continue;
                }
                let v = topo.link_from[l as usize] as usize;
                let p = topo.link_from_port[l as usize] as usize;
                for s in 0..ns {
                    let add = if self.local[v] == usize::MAX {
                        quality.port[p * ns + s]
                    } else {
                        transfer(
                            p,
                            s,
                            ns,
                            self.conserved,
                            v,
                            topo,
                            inputs,
                            storage,
                            &self.mixed,
                        )
                        .1
                    };
                    self.rhs[i * ns + s] += q * add;
                }
            }
        }
        let build = |s: usize, solver: &Self| {
            let mut a = DMatrix::<f64>::zeros(n, n);
            for (i, &u) in solver.active.iter().enumerate() {
                a[(i, i)] += flows.throughput[u];
                for &l in topo.links_into(u) {
                    let q = flows.link[l as usize];
                    let v = topo.link_from[l as usize] as usize;
                    let j = solver.local[v];
                    if q == 0.0 || j == usize::MAX {
                        continue;
                    }
                    let p = topo.link_from_port[l as usize] as usize;
                    let (tau, _) = transfer(
                        p,
                        s,
                        ns,
                        solver.conserved,
                        v,
                        topo,
                        inputs,
                        storage,
                        &solver.mixed,
                    );
                    a[(i, j)] -= q * tau;
                }
            }
            a
        };
        let mut species_sets: Vec<Vec<usize>> = if uniform {
            vec![(0..self.conserved).collect()]
        } else {
            (0..self.conserved).map(|s| vec![s]).collect()
        };
        species_sets.extend((self.conserved..ns).map(|s| vec![s]));
        for set in species_sets {
            let a = build(set[0], self);
            let lu = a.lu();
            let mut ok = true;
            for &s in &set {
                let b = DVector::from_iterator(n, (0..n).map(|i| self.rhs[i * ns + s]));
                match lu.solve(&b) {
                    Some(c) if c.iter().all(|v| v.is_finite()) => {
                        for (i, &u) in self.active.iter().enumerate() {
                            quality.inlet[u * ns + s] = c[i];
                        }
                    }
                    _ => ok = false,
                }
            }
            if !ok {
                let first = self.active[0];
                diag.push(DiagnosticKind::SingularLoop, clock.step, Some(&topo.unit_id[first]), || {
                    format!(
                        "species system of the loop through {} is singular; its inlet concentrations are set to zero this step",
                        topo.unit_id[first]
                    )
                });
            }
        }
        for i in 0..n {
            let u = self.active[i];
            self.write_ports(u, topo, ns, inputs, storage, quality);
        }
        // Leave the map clean for the next loop (a loop downstream must not take these units
        // for its own).
        for &u in &self.active {
            self.local[u] = usize::MAX;
        }
    }
}
