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
use crate::width::Width;
use nalgebra::{DMatrix, DVector};

/// Scratch space reused across steps, and the tear plan of every recycle loop.
#[derive(Default, Debug)]
pub struct QualitySolver {
    /// Per unit: the step's mixed-volume coefficients (meaningful for mixed units only).
    mixed: Vec<MixedCoefficients>,
    /// Units with a mixed volume.
    mixed_units: Vec<u32>,
    /// Per port: how its effective transfer is formed (compiled once per topology).
    rules: Vec<PortRule>,
    /// Per port × species: the step's effective transfer `C_p = τ·c_u + λ`.
    tau: Vec<f64>,
    /// See `tau`.
    lambda: Vec<f64>,
    local: Vec<usize>,
    coef: Vec<f64>,
    solved: Vec<f64>,
    mat: Vec<f64>,
    rhs: Vec<f64>,
    plans: Vec<Option<Plan>>,
    conserved: usize,
}

/// How a port's effective transfer is formed, decided once from the topology.
#[derive(Clone, Copy, Debug, PartialEq)]
struct PortRule {
    /// Declared species.
    conserved: Rule,
    /// Tracers.
    tracer: Rule,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Rule {
    /// A constant pair (τ, λ).
    Const(f64, f64),
    /// A source: τ = 0, λ from the unit's inputs (its supply quality).
    SourceLambda,
    /// An affine unit: τ and λ from the unit's inputs.
    Inputs,
    /// A mixed volume: τ = a_in, λ = a0·C0.
    Mixed,
}

impl PortRule {
    /// The rule of port `p` of unit `u`.
    ///
    /// Declared species: a source's port carries its quality (τ = 0); an affine unit's port
    /// τ and λ from the unit; a mixed volume's outflow mean, except its evaporation, which
    /// carries nothing. Tracers pass through every unit unchanged (τ = 1), start at 0 at sources
    /// and in evaporation, are reset to 1 at the outlets of water-using units, and mix in mixed
    /// volumes.
    fn of(p: usize, u: usize, topo: &Topology) -> Self {
        let evap = topo.port_role[p] == PortRole::Exit(ExitKind::Evaporation);
        let source = topo.unit_flow[u] == FlowKind::Source;
        let mixed = topo.unit_quality[u] == QualityKind::Mixed;
        let conserved = if source {
            Rule::SourceLambda
        } else if !mixed {
            Rule::Inputs
        } else if evap {
            Rule::Const(0.0, 0.0)
        } else {
            Rule::Mixed
        };
        let tracer = if source || evap {
            Rule::Const(0.0, 0.0)
        } else if topo.unit_uses_water[u] {
            Rule::Const(0.0, 1.0)
        } else if mixed {
            Rule::Mixed
        } else {
            Rule::Const(1.0, 0.0)
        };
        Self { conserved, tracer }
    }
}

/// How a recycle loop is torn: its units with the `tears` tear units first, then the rest in an
/// order where each depends only on tears and earlier units.
#[derive(Clone, Debug)]
struct Plan {
    order: Vec<u32>,
    tears: usize,
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
        crate::with_width!(species.len(), w => {
            self.solve_w(w, topo, species, inputs, flows, storage, quality, clock, diag)
        })
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the solve reads every part of the step state"
    )]
    #[inline(never)]
    fn solve_w<W: Width>(
        &mut self,
        w: W,
        topo: &Topology,
        species: &Species,
        inputs: &UnitInputs,
        flows: &Flows,
        storage: &mut Storage,
        quality: &mut Quality,
        clock: &Clock,
        diag: &mut Diagnostics,
    ) {
        let ns = w.n();
        self.conserved = species.conserved;
        let nu = topo.n_units();
        let dt = clock.dt_h;
        if self.rules.len() != topo.n_ports() || self.mixed.len() != nu {
            self.compile(topo);
        }
        // Mixed volumes: coefficients from this step's flows.
        for &u in &self.mixed_units {
            let u = u as usize;
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
            self.mixed[u] = c;
        }
        self.effective_transfer(w, topo, inputs, storage);
        self.local.resize(nu, usize::MAX);

        for (ci, comp) in topo.quality_components.iter().enumerate() {
            let units = &topo.quality_order[comp.start as usize..comp.end as usize];
            if !comp.cyclic {
                let u = units[0] as usize;
                self.solve_single(w, u, topo, flows, quality);
                continue;
            }
            self.solve_loop(w, ci, units, topo, flows, quality, clock, diag);
        }
        // End-of-step concentrations of mixed volumes.
        for &u in &self.mixed_units {
            let u = u as usize;
            let m = self.mixed[u];
            let c0 = &storage.conc[u * ns..(u + 1) * ns];
            let inlet = &quality.inlet[u * ns..(u + 1) * ns];
            let c1 = &mut storage.conc_end[u * ns..(u + 1) * ns];
            for s in 0..ns {
                c1[s] = m.b0 * c0[s] + m.b_in * inlet[s];
            }
        }
    }

    /// Compiles the per-port transfer rules and the list of mixed units for `topo`.
    fn compile(&mut self, topo: &Topology) {
        let nu = topo.n_units();
        self.mixed = vec![mixed_coefficients(0.0, 0.0, 0.0, 0.0, 1.0); nu];
        self.mixed_units = (0..nu)
            .filter(|&u| topo.unit_quality[u] == QualityKind::Mixed)
            .map(|u| u as u32)
            .collect();
        self.rules = (0..topo.n_ports())
            .map(|p| PortRule::of(p, topo.port_unit[p] as usize, topo))
            .collect();
        self.plans.clear();
    }

    /// Fills the step's effective transfer `(τ, λ)` of every port and species from the rules,
    /// the units' inputs and the mixed-volume coefficients.
    fn effective_transfer<W: Width>(
        &mut self,
        w: W,
        topo: &Topology,
        inputs: &UnitInputs,
        storage: &Storage,
    ) {
        let ns = w.n();
        let nc = self.conserved;
        let n = topo.n_ports() * ns;
        self.tau.resize(n, 0.0);
        self.lambda.resize(n, 0.0);
        for (p, rule) in self.rules.iter().enumerate() {
            let u = topo.port_unit[p] as usize;
            let base = p * ns;
            let tau = &mut self.tau[base..base + ns];
            let lambda = &mut self.lambda[base..base + ns];
            let in_tau = &inputs.tau[base..base + ns];
            let in_lambda = &inputs.lambda[base..base + ns];
            for (range, r) in [(0..nc, rule.conserved), (nc..ns, rule.tracer)] {
                match r {
                    Rule::Const(t, l) => {
                        for s in range {
                            (tau[s], lambda[s]) = (t, l);
                        }
                    }
                    Rule::SourceLambda => {
                        for s in range {
                            (tau[s], lambda[s]) = (0.0, in_lambda[s]);
                        }
                    }
                    Rule::Inputs => {
                        for s in range {
                            (tau[s], lambda[s]) = (in_tau[s], in_lambda[s]);
                        }
                    }
                    Rule::Mixed => {
                        let m = &self.mixed[u];
                        let c0 = &storage.conc[u * ns..(u + 1) * ns];
                        for s in range {
                            (tau[s], lambda[s]) = (m.a_in, m.a0 * c0[s]);
                        }
                    }
                }
            }
        }
    }

    fn solve_single<W: Width>(
        &self,
        w: W,
        u: usize,
        topo: &Topology,
        flows: &Flows,
        quality: &mut Quality,
    ) {
        let ns = w.n();
        let x = flows.throughput[u];
        let Quality { inlet, port } = quality;
        let inlet = &mut inlet[u * ns..(u + 1) * ns];
        inlet.fill(0.0);
        if x > 0.0 && topo.unit_flow[u] != FlowKind::Source {
            for &l in topo.links_into(u) {
                let q = flows.link[l as usize];
                if q == 0.0 {
                    continue;
                }
                let p = topo.link_from_port[l as usize] as usize;
                let cp = &port[p * ns..(p + 1) * ns];
                for s in 0..ns {
                    inlet[s] += q * cp[s];
                }
            }
            for c in inlet.iter_mut() {
                *c /= x;
            }
        }
        self.write_ports(w, u, topo, quality);
    }

    fn write_ports<W: Width>(&self, w: W, u: usize, topo: &Topology, quality: &mut Quality) {
        let ns = w.n();
        let Quality { inlet, port } = quality;
        let inlet = &inlet[u * ns..(u + 1) * ns];
        for p in topo.ports_of(u) {
            let base = p * ns;
            let out = &mut port[base..base + ns];
            let (tau, lambda) = (&self.tau[base..base + ns], &self.lambda[base..base + ns]);
            for s in 0..ns {
                out[s] = tau[s] * inlet[s] + lambda[s];
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
    fn solve_loop<W: Width>(
        &mut self,
        w_: W,
        ci: usize,
        units: &[u32],
        topo: &Topology,
        flows: &Flows,
        quality: &mut Quality,
        clock: &Clock,
        diag: &mut Diagnostics,
    ) {
        let ns = w_.n();
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
        // The others in order: c_u = a_u + B_u·c_T. A unit's sources inside the loop come
        // earlier in the order (or are tears), so its coefficient block is written from blocks
        // before it.
        let blk = ns * w;
        for i in k..n {
            let u = order[i] as usize;
            let x = flows.throughput[u];
            if x <= 0.0 || topo.unit_flow[u] == FlowKind::Source {
                continue;
            }
            let (head, tail) = self.coef.split_at_mut(i * blk);
            let dst = &mut tail[..blk];
            for &l in topo.links_into(u) {
                let q = flows.link[l as usize];
                if q == 0.0 {
                    continue;
                }
                let v = topo.link_from[l as usize] as usize;
                let p = topo.link_from_port[l as usize] as usize;
                let jv = self.local[v];
                if jv == usize::MAX {
                    let cp = &quality.port[p * ns..(p + 1) * ns];
                    for s in 0..ns {
                        dst[s * w] += q * cp[s];
                    }
                } else {
                    let src = &head[jv * blk..(jv + 1) * blk];
                    let tau = &self.tau[p * ns..(p + 1) * ns];
                    let lambda = &self.lambda[p * ns..(p + 1) * ns];
                    for s in 0..ns {
                        let d = &mut dst[s * w..(s + 1) * w];
                        let sr = &src[s * w..(s + 1) * w];
                        d[0] += q * (tau[s] * sr[0] + lambda[s]);
                        for b in 1..w {
                            d[b] += q * tau[s] * sr[b];
                        }
                    }
                }
            }
            for c in dst.iter_mut() {
                *c /= x;
            }
        }
        // The tears' own balances: (x_t·e_t − Σ q·τ·B_v)·c_T = Σ q·(τ·a_v + λ) + outside.
        let mut singular = false;
        let mut solved = std::mem::take(&mut self.solved);
        solved.clear();
        solved.resize(k * ns, 0.0);
        let mut mat = std::mem::take(&mut self.mat);
        mat.resize(k * k, 0.0);
        let mut rhs = std::mem::take(&mut self.rhs);
        rhs.resize(k, 0.0);
        for s in 0..ns {
            mat.fill(0.0);
            rhs.fill(0.0);
            for j in 0..k {
                let u = order[j] as usize;
                let x = flows.throughput[u];
                if x <= 0.0 || topo.unit_flow[u] == FlowKind::Source {
                    mat[j * k + j] = 1.0;
                    continue;
                }
                mat[j * k + j] += x;
                for &l in topo.links_into(u) {
                    let q = flows.link[l as usize];
                    if q == 0.0 {
                        continue;
                    }
                    let v = topo.link_from[l as usize] as usize;
                    let p = topo.link_from_port[l as usize] as usize;
                    let jv = self.local[v];
                    if jv == usize::MAX {
                        rhs[j] += q * quality.port[p * ns + s];
                    } else {
                        let (tau, lambda) = (self.tau[p * ns + s], self.lambda[p * ns + s]);
                        let src = (jv * ns + s) * w;
                        rhs[j] += q * (tau * self.coef[src] + lambda);
                        for m in 0..k {
                            mat[j * k + m] -= q * tau * self.coef[src + 1 + m];
                        }
                    }
                }
            }
            if k == 1 {
                // One tear (the common case): the 1 × 1 system directly.
                let c = rhs[0] / mat[0];
                if c.is_finite() {
                    solved[s] = c;
                } else {
                    singular = true;
                }
                continue;
            }
            let a = DMatrix::from_row_slice(k, k, &mat);
            let b = DVector::from_column_slice(&rhs);
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
            self.write_ports(w_, u as usize, topo, quality);
        }
        for &u in &order {
            self.local[u as usize] = usize::MAX;
        }
        self.plans[ci].as_mut().expect("planned").order = order;
        self.solved = solved;
        self.mat = mat;
        self.rhs = rhs;
    }
}
