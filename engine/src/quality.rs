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
//! directly; a recycle loop exactly, by tearing. At its first solve a loop gets a small set of
//! *tear* units (a greedy feedback vertex set) such that the rest is acyclic. Each step, the
//! other units' inlet mixes are propagated in that acyclic order as affine functions of the tear
//! units' inlet mixes, `c_u = a_u + B_u·c_T`; the tear units' own balances then form a `k × k`
//! system per species (`k` tears, typically 1–2), solved with nalgebra's LU, and the rest follows
//! by back-substitution. This is exact block elimination of the loop's linear system — the same
//! solution as a dense solve, no lag — at a cost linear in the loop's size instead of cubic.
//! Units with no inflow drop out (an outage empties part of a loop without making it singular);
//! a singular tear system is a `singular_loop` diagnostic. A loop with no purge is rejected when
//! the network is compiled.

use crate::diagnostics::{DiagnosticKind, Diagnostics};
use crate::mixing::{MixedCoefficients, mixed_coefficients};
use crate::network::{ExitKind, FlowKind, PortRole, QualityKind, Topology};
use crate::state::{Clock, Flows, Quality, Species, Storage, UnitInputs};
use nalgebra::{DMatrix, DVector};

/// Scratch space reused across steps, and the tear plan of every recycle loop.
#[derive(Default, Debug)]
pub struct QualitySolver {
    mixed: Vec<Option<MixedCoefficients>>,
    local: Vec<usize>,
    coef: Vec<f64>,
    plans: Vec<Option<Plan>>,
    conserved: usize,
}

/// How a recycle loop is torn: its units with the `tears` tear units first, then the rest in an
/// order where each depends only on tears and earlier units.
#[derive(Clone, Debug)]
struct Plan {
    order: Vec<u32>,
    tears: usize,
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

        for (ci, comp) in topo.quality_components.iter().enumerate() {
            let units = &topo.quality_order[comp.start as usize..comp.end as usize];
            if !comp.cyclic {
                let u = units[0] as usize;
                self.solve_single(u, topo, ns, inputs, flows, storage, quality);
                continue;
            }
            self.solve_loop(
                ci, units, topo, ns, inputs, flows, storage, quality, clock, diag,
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

    /// The tear plan of the cyclic component starting at `start` in the quality order: tear
    /// units first, then the others in an order where each depends only on tears and earlier
    /// units. Computed once per component and cached.
    fn plan(&mut self, ci: usize, units: &[u32], topo: &Topology) -> usize {
        if self.plans.len() < topo.quality_components.len() {
            self.plans.resize(topo.quality_components.len(), None);
        }
        if let Some(p) = &self.plans[ci] {
            return p.tears;
        }
        let n = units.len();
        let pos: std::collections::HashMap<u32, usize> =
            units.iter().enumerate().map(|(i, &u)| (u, i)).collect();
        // Edges inside the component: v → u when a link goes from v to u.
        let mut preds: Vec<Vec<usize>> = vec![Vec::new(); n];
        let mut succs: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, &u) in units.iter().enumerate() {
            for &l in topo.links_into(u as usize) {
                if let Some(&j) = pos.get(&topo.link_from[l as usize]) {
                    preds[i].push(j);
                    succs[j].push(i);
                }
            }
        }
        // Greedy feedback vertex set: strip nodes that cannot be on a cycle, then tear the node
        // with the most in × out edges among the rest; repeat until nothing cyclic is left.
        let mut alive = vec![true; n];
        let mut tears = Vec::new();
        loop {
            let mut changed = true;
            while changed {
                changed = false;
                for i in 0..n {
                    if !alive[i] {
                        continue;
                    }
                    let ins = preds[i].iter().filter(|&&j| alive[j]).count();
                    let outs = succs[i].iter().filter(|&&j| alive[j]).count();
                    let self_loop = preds[i].contains(&i);
                    if (ins == 0 || outs == 0) && !self_loop {
                        alive[i] = false;
                        changed = true;
                    }
                }
            }
            let best = (0..n).filter(|&i| alive[i]).max_by_key(|&i| {
                let ins = preds[i].iter().filter(|&&j| alive[j]).count();
                let outs = succs[i].iter().filter(|&&j| alive[j]).count();
                (ins * outs, std::cmp::Reverse(i))
            });
            match best {
                Some(i) => {
                    tears.push(i);
                    alive[i] = false;
                }
                None => break,
            }
        }
        // Topological order of the non-tear units (Kahn), ignoring edges from tears.
        let is_tear: Vec<bool> = (0..n).map(|i| tears.contains(&i)).collect();
        let mut indeg: Vec<usize> = (0..n)
            .map(|i| preds[i].iter().filter(|&&j| !is_tear[j]).count())
            .collect();
        let mut ready: std::collections::BTreeSet<usize> =
            (0..n).filter(|&i| !is_tear[i] && indeg[i] == 0).collect();
        let mut order: Vec<u32> = tears.iter().map(|&i| units[i]).collect();
        while let Some(i) = ready.pop_first() {
            order.push(units[i]);
            for &j in &succs[i] {
                if !is_tear[j] && !is_tear[i] {
                    indeg[j] -= 1;
                    if indeg[j] == 0 {
                        ready.insert(j);
                    }
                }
            }
        }
        debug_assert_eq!(order.len(), n, "tearing leaves an acyclic remainder");
        let k = tears.len();
        self.plans[ci] = Some(Plan { order, tears: k });
        k
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "internal helper over the step state"
    )]
    fn solve_loop(
        &mut self,
        ci: usize,
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
        let k = self.plan(ci, units, topo);
        let order = std::mem::take(&mut self.plans[ci].as_mut().expect("planned").order);
        let n = order.len();
        let w = 1 + k; // per unit and species: a, then B[0..k]
        for (i, &u) in order.iter().enumerate() {
            self.local[u as usize] = i;
        }
        self.coef.clear();
        self.coef.resize(n * ns * w, 0.0);
        // Tear units: c_t = unknown j.
        for j in 0..k {
            let u = order[j] as usize;
            if flows.throughput[u] > 0.0 && topo.unit_flow[u] != FlowKind::Source {
                for s in 0..ns {
                    self.coef[(j * ns + s) * w + 1 + j] = 1.0;
                }
            }
        }
        // The others in order: c_u = a_u + B_u·c_T.
        for i in k..n {
            let u = order[i] as usize;
            let x = flows.throughput[u];
            if x <= 0.0 || topo.unit_flow[u] == FlowKind::Source {
                continue;
            }
            for &l in topo.links_into(u) {
                let q = flows.link[l as usize];
                if q == 0.0 {
                    continue;
                }
                let v = topo.link_from[l as usize] as usize;
                let p = topo.link_from_port[l as usize] as usize;
                let jv = self.local[v];
                for s in 0..ns {
                    let dst = (i * ns + s) * w;
                    if jv == usize::MAX {
                        self.coef[dst] += q * quality.port[p * ns + s];
                    } else {
                        let (tau, lambda) = transfer(
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
                        let src = (jv * ns + s) * w;
                        self.coef[dst] += q * (tau * self.coef[src] + lambda);
                        for b in 1..w {
                            self.coef[dst + b] += q * tau * self.coef[src + b];
                        }
                    }
                }
            }
            for s in 0..ns {
                let dst = (i * ns + s) * w;
                for b in 0..w {
                    self.coef[dst + b] /= x;
                }
            }
        }
        // The tears' own balances: (x_t·e_t − Σ q·τ·B_v)·c_T = Σ q·(τ·a_v + λ) + outside.
        let mut singular = false;
        let mut solved = vec![0.0; k * ns];
        for s in 0..ns {
            let mut a = DMatrix::<f64>::zeros(k, k);
            let mut b = DVector::<f64>::zeros(k);
            for j in 0..k {
                let u = order[j] as usize;
                let x = flows.throughput[u];
                if x <= 0.0 || topo.unit_flow[u] == FlowKind::Source {
                    a[(j, j)] = 1.0;
                    continue;
                }
                a[(j, j)] += x;
                for &l in topo.links_into(u) {
                    let q = flows.link[l as usize];
                    if q == 0.0 {
                        continue;
                    }
                    let v = topo.link_from[l as usize] as usize;
                    let p = topo.link_from_port[l as usize] as usize;
                    let jv = self.local[v];
                    if jv == usize::MAX {
                        b[j] += q * quality.port[p * ns + s];
                    } else {
                        let (tau, lambda) = transfer(
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
                        let src = (jv * ns + s) * w;
                        b[j] += q * (tau * self.coef[src] + lambda);
                        for m in 0..k {
                            a[(j, m)] -= q * tau * self.coef[src + 1 + m];
                        }
                    }
                }
            }
            match a.lu().solve(&b) {
                Some(c) if c.iter().all(|v| v.is_finite()) => {
                    for j in 0..k {
                        solved[j * ns + s] = c[j];
                    }
                }
                _ => singular = true,
            }
        }
        if singular {
            let first = order[0] as usize;
            diag.push(
                DiagnosticKind::SingularLoop,
                clock.step,
                Some(&topo.unit_id[first]),
                || {
                    format!(
                        "species system of the loop through {} is singular; its concentrations are set to zero this step",
                        topo.unit_id[first]
                    )
                },
            );
        }
        // Back-substitute and emit.
        for (i, &u) in order.iter().enumerate() {
            let u = u as usize;
            for s in 0..ns {
                let src = (i * ns + s) * w;
                let mut c = self.coef[src];
                for m in 0..k {
                    c += self.coef[src + 1 + m] * solved[m * ns + s];
                }
                quality.inlet[u * ns + s] = if singular { 0.0 } else { c };
            }
        }
        for &u in &order {
            self.write_ports(u as usize, topo, ns, inputs, storage, quality);
        }
        for &u in &order {
            self.local[u as usize] = usize::MAX;
        }
        self.plans[ci].as_mut().expect("planned").order = order;
    }
}
