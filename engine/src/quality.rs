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
//! directly; a recycle loop exactly, by tearing. When the solver compiles its index lists for a
//! topology, each loop gets a small set of *tear* units (a greedy feedback vertex set) such
//! that the rest is acyclic. Each step, the
//! other units' inlet mixes are propagated in that acyclic order as affine functions of the tear
//! units' inlet mixes, `c_u = a_u + B_u·c_T`; the tear units' own balances then form a `k × k`
//! system per species (`k` tears, typically 1–2), solved with nalgebra's LU, and the rest follows
//! by back-substitution. This is exact block elimination of the loop's linear system — the same
//! solution as a dense solve, no lag — at a cost linear in the loop's size instead of cubic.
//! Units with no inflow drop out (an outage empties part of a loop without making it singular);
//! a singular tear system is a `singular_loop` diagnostic. A loop with no purge is rejected when
//! the network is compiled.
//!
//! Per-step work runs over lists compiled once per topology ([`Compiled`]; see
//! `docs/solver-caches.md`): the solve order as runs of single-unit records (unit, port range,
//! inlet range), each run ended by a loop; each loop's units with their port ranges; each mixed
//! unit's evaporation and other ports; each mixed unit's ports grouped by which species take
//! the mixed-volume transfer. The step's transfers sit in one table, a row `[τ.., λ..]` of
//! `2·ns` per port ([`Transfer`]), so writing a unit's ports or reading an upstream port in a
//! loop takes one slice: the constants are written when compiled, and each step the affine
//! units' declared species are copied from `UnitInputs` (ranges of ports), the sources' `λ`
//! and the mixed volumes' rows written. The loop solve keeps its coefficients
//! with the species innermost (`[a, B_0, ..]` rows of `ns`), so each per-species loop walks
//! consecutive values. Every sum
//! keeps its terms in link order. One reformulation changes last bits: a loop inlet's
//! `q·(τ·a_v + λ)` is summed as `(q·τ)·a_v + q·λ`, sharing `q·τ` with the `B` rows. Inlet
//! mixes stay divided by `x_u` (not scaled by `1/x_u`), so a mix of equal concentrations — the
//! 'already used' tracer at 1 — comes out exact whenever its flows sum to `x_u` exactly.

use crate::arith::add_scaled;
use crate::diagnostics::{DiagnosticKind, Diagnostics};
use crate::mixing::{MixedCoefficients, mixed_coefficients};
use crate::network::{ExitKind, FlowKind, PortRole, QualityKind, Topology};
use crate::state::{Clock, Flows, Quality, Species, Storage, UnitInputs};
use crate::width::{Dyn, Fixed, Width};
use nalgebra::{DMatrix, DVector};

/// Scratch space reused across steps, the per-topology index lists and the tear plan of every
/// recycle loop.
#[derive(Default, Debug)]
pub struct QualitySolver {
    /// Per unit: the step's mixed-volume coefficients (meaningful for mixed units only).
    mixed: Vec<MixedCoefficients>,
    /// Per port: how its effective transfer is formed (compiled once per topology).
    rules: Vec<PortRule>,
    /// Index lists compiled from the topology and the rules (see [`Compiled`]).
    compiled: Compiled,
    /// Per port: the step's effective transfer `C_p = τ·c_u + λ` as one row of `2·ns`
    /// values, `[τ_0..τ_{ns−1}, λ_0..λ_{ns−1}]` (see [`Transfer`]).
    transfer: Vec<f64>,
    /// Scratch of the loop solves (see [`LoopScratch`]).
    scratch: LoopScratch,
    /// Per quality component: the tear plan of a recycle loop (`None` for a single unit),
    /// made with the index lists.
    plans: Vec<Option<Plan>>,
    conserved: usize,
}

/// Scratch arrays of [`solve_torn`], reused across loops and steps: only grown, and every
/// entry a loop reads is written for that loop first.
#[derive(Default, Debug)]
struct LoopScratch {
    /// Per loop unit: the coefficients of `c_u = a_u + B_u·c_T` as `1 + k` rows of species,
    /// `[a, B_0, .., B_{k−1}]` (species innermost, so each row is one contiguous vector).
    coef: Vec<f64>,
    /// Per tear × species: the tears' inlet mixes.
    solved: Vec<f64>,
    /// Per `k × k` entry (row-major) × species: the tear systems.
    mat: Vec<f64>,
    /// Per tear × species: their right-hand sides.
    rhs: Vec<f64>,
}

/// Index lists compiled once per topology, so the per-step passes run over contiguous arrays
/// instead of walking the quality components and chasing `links_into(u) → link_from_port[l]`,
/// `ports_of(u)` and the port roles per step.
///
/// Rebuilt (with the constant part of `tau`/`lambda` and the loops' tear plans) whenever the
/// topology's sizes or the species counts differ from `key`, as `rules` is.
#[derive(Default, Debug)]
struct Compiled {
    /// Units, ports, links, quality components, species and declared species it was built for.
    key: Option<[usize; 6]>,
    /// Incoming links of the units in `singles`, each unit's in `Topology::links_into` order
    /// (the summation order).
    inlets: Vec<Inlet>,
    /// The units outside any recycle loop, in solve order.
    singles: Vec<SingleUnit>,
    /// The solve order: each run's units of `singles`, then its loop.
    runs: Vec<Run>,
    /// Units with a mixed volume, with their ports in `mixed_ports`.
    mixed_units: Vec<MixedUnit>,
    /// Per mixed unit: its evaporation ports, then its other ports (each in port order).
    mixed_ports: Vec<u32>,
    /// Ports of sources ([`Rule::SourceLambda`]): their declared species' `λ` is copied from
    /// the units' inputs each step.
    sources: Vec<u32>,
    /// The ports of affine units ([`Rule::Inputs`]) as ranges `[lo, hi)` (consecutive units'
    /// ports merged): their declared species' `(τ, λ)` are copied from the units' inputs each
    /// step. The tracers' rules are [`Rule::Const`] (written once when compiled) or
    /// [`Rule::Mixed`], whose ports are listed per unit in `mixed_fill`.
    affine_runs: Vec<[u32; 2]>,
    /// Per mixed unit with [`Rule::Mixed`] ports: those ports in `mixed_fill_ports`, grouped by
    /// the species the rule covers, so the unit's coefficients and start concentrations are
    /// read once for all its ports.
    mixed_fill: Vec<MixedFill>,
    /// See `mixed_fill`.
    mixed_fill_ports: Vec<u32>,
}

/// A mixed unit's [`Rule::Mixed`] ports in `mixed_fill_ports`: `[start..all_end]` for every
/// species, `[all_end..declared_end]` for the declared species only, `[declared_end..end]` for
/// the tracers only; `start` is the previous record's `end`.
#[derive(Clone, Copy, Debug)]
struct MixedFill {
    u: u32,
    all_end: u32,
    declared_end: u32,
    end: u32,
}

/// A stretch of the solve order: the units `singles[previous end..end]`, then the recycle loop
/// of quality component `cycle` ([`NO_LOOP`] after the last loop).
#[derive(Clone, Copy, Debug)]
struct Run {
    end: u32,
    cycle: u32,
}

/// `Run::cycle` of the stretch after the last loop.
const NO_LOOP: u32 = u32::MAX;

/// A unit outside any loop: its index, its ports `port_lo..port_hi`, its inlets
/// `inlets[in_lo..in_hi]`, and whether it has an inlet mix to solve (not a source).
#[derive(Clone, Copy, Debug)]
struct SingleUnit {
    u: u32,
    port_lo: u32,
    port_hi: u32,
    in_lo: u32,
    in_hi: u32,
    mixes: bool,
}

/// A mixed unit: its index and its ports in `mixed_ports[start..evap_end]` (evaporation) and
/// `[evap_end..end]` (every other port); `start` is the previous unit's `end`.
#[derive(Clone, Copy, Debug)]
struct MixedUnit {
    u: u32,
    evap_end: u32,
    end: u32,
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
        } else if reads_inputs(u, topo) {
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

/// Whether unit `u`'s ports take their declared species' transfer from the unit's inputs
/// ([`Rule::Inputs`]: an affine unit, neither a source nor a mixed volume); they are copied
/// into the solver's table each step ([`Compiled::affine_runs`]).
fn reads_inputs(u: usize, topo: &Topology) -> bool {
    topo.unit_flow[u] != FlowKind::Source && topo.unit_quality[u] != QualityKind::Mixed
}

/// How a recycle loop is torn: its units with the `tears` tear units first, then the rest in an
/// order where each depends only on tears and earlier units.
#[derive(Clone, Debug)]
struct Plan {
    order: Vec<u32>,
    tears: usize,
    /// Per position in `order`: the unit, its ports, its inlets and whether it is a source.
    units: Vec<LoopUnit>,
    /// Incoming links of each unit of `order`, in `Topology::links_into` order.
    inlets: Vec<LoopInlet>,
}

/// A unit of a loop: its index, its ports `port_lo..port_hi`, its incoming links
/// `Plan::inlets[in_lo..in_hi]`, and whether it is a source (one record, so a visit reads its
/// ranges from one place).
#[derive(Clone, Copy, Debug)]
struct LoopUnit {
    u: u32,
    port_lo: u32,
    port_hi: u32,
    in_lo: u32,
    in_hi: u32,
    source: bool,
}

/// A link into a unit, with its upstream port.
#[derive(Clone, Copy, Debug)]
struct Inlet {
    link: u32,
    port: u32,
}

/// A link into a unit of a loop, with its upstream port and the upstream unit's position in
/// the loop's order ([`OUTSIDE`] for a unit outside the loop).
#[derive(Clone, Copy, Debug)]
struct LoopInlet {
    link: u32,
    port: u32,
    src: u32,
}

/// A count one less than a [`Width`]'s (the declared species when one tracer follows them):
/// a constant when the width is.
#[derive(Clone, Copy, Debug)]
struct AllButOne<W: Width>(W);

impl<W: Width> Width for AllButOne<W> {
    #[inline(always)]
    fn n(self) -> usize {
        self.0.n() - 1
    }
}

/// Copies the units' inputs into the transfer table (rows of `2·ns`, see [`Transfer`]): the
/// declared species' (the first `nc`) `(τ, λ)` of the affine units' ports in `affine_runs`,
/// and the declared species' `λ` of the sources' ports in `sources` (their quality; τ = 0 was
/// written when compiled). The inputs are ports × `ns` species.
#[inline(always)]
fn fill_inputs<W: Width, R: Width>(
    w: W,
    nc: R,
    affine_runs: &[[u32; 2]],
    sources: &[u32],
    transfer: &mut [f64],
    inputs: &UnitInputs,
) {
    let (ns, nc) = (w.n(), nc.n());
    let row = 2 * ns;
    // The three arrays cut to one port count, so a run's slices are checked once each.
    let np = (transfer.len() / row.max(1))
        .min(inputs.tau.len() / ns.max(1))
        .min(inputs.lambda.len() / ns.max(1));
    let (transfer, tau, lambda) = (
        &mut transfer[..np * row],
        &inputs.tau[..np * ns],
        &inputs.lambda[..np * ns],
    );
    for &[lo, hi] in affine_runs {
        let (lo, hi) = (lo as usize, hi as usize);
        let dst = &mut transfer[lo * row..hi * row];
        let (tau, lambda) = (&tau[lo * ns..hi * ns], &lambda[lo * ns..hi * ns]);
        for ((d, t), l) in dst
            .chunks_exact_mut(row)
            .zip(tau.chunks_exact(ns))
            .zip(lambda.chunks_exact(ns))
        {
            let (dt, dl) = d.split_at_mut(ns);
            dt[..nc].copy_from_slice(&t[..nc]);
            dl[..nc].copy_from_slice(&l[..nc]);
        }
    }
    for &p in sources {
        let p = p as usize;
        transfer[p * row + ns..p * row + ns + nc].copy_from_slice(&lambda[p * ns..p * ns + nc]);
    }
}

/// Writes a mixed volume's transfer `τ = a_in`, `λ = a0·C0` into the [`Rule::Mixed`] ports of
/// `fills` (see [`Compiled::mixed_fill`]): every species, the declared species (the first
/// `nc`) or the tracers, as each port's rules say; rows of `2·ns` (see [`Transfer`]).
#[inline(always)]
fn fill_mixed<W: Width, R: Width>(
    w: W,
    nc: R,
    fills: &[MixedFill],
    ports: &[u32],
    transfer: &mut [f64],
    mixed: &[MixedCoefficients],
    conc: &[f64],
) {
    let (ns, nc) = (w.n(), nc.n());
    let mut start = 0;
    for f in fills {
        let u = f.u as usize;
        let m = &mixed[u];
        let c0 = &conc[u * ns..(u + 1) * ns];
        let (all_end, declared_end, end) =
            (f.all_end as usize, f.declared_end as usize, f.end as usize);
        let groups = [
            (&ports[start..all_end], 0..ns),
            (&ports[all_end..declared_end], 0..nc),
            (&ports[declared_end..end], nc..ns),
        ];
        start = end;
        for (group, species) in groups {
            for &p in group {
                let b = p as usize * 2 * ns;
                let (dt, dl) = transfer[b..b + 2 * ns].split_at_mut(ns);
                for s in species.clone() {
                    dt[s] = m.a_in;
                    dl[s] = m.a0 * c0[s];
                }
            }
        }
    }
}

/// `LoopInlet::src` of a link coming from outside the loop.
const OUTSIDE: u32 = u32::MAX;

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
        self.conserved = species.conserved.min(ns);
        // The usual split, one tracer after the declared species, gets both counts as
        // constants.
        let one_tracer = self.conserved + 1 == ns;
        crate::with_width!(ns, w => {
            if one_tracer {
                self.solve_w(w, AllButOne(w), topo, inputs, flows, storage, quality, clock, diag)
            } else {
                let nc = Dyn(self.conserved);
                self.solve_w(w, nc, topo, inputs, flows, storage, quality, clock, diag)
            }
        })
    }

    /// [`Self::solve`] for `w` species, the first `nc` of them declared: the mixed-volume
    /// coefficients, the step's transfer table, the solve order (single units
    /// and loops), and the mixed volumes' end-of-step concentrations.
    #[expect(
        clippy::too_many_arguments,
        reason = "the solve reads every part of the step state"
    )]
    #[inline(never)]
    fn solve_w<W: Width, R: Width>(
        &mut self,
        w: W,
        nc: R,
        topo: &Topology,
        inputs: &UnitInputs,
        flows: &Flows,
        storage: &mut Storage,
        quality: &mut Quality,
        clock: &Clock,
        diag: &mut Diagnostics,
    ) {
        let ns = w.n();
        let nu = topo.n_units();
        let dt = clock.dt_h;
        let key = [
            nu,
            topo.n_ports(),
            topo.n_links(),
            topo.quality_components.len(),
            ns,
            self.conserved,
        ];
        if self.compiled.key != Some(key) {
            self.compile(topo, key);
        }
        // Mixed volumes: coefficients from this step's flows (evaporation and the other
        // outflows each summed in port order).
        let mut start = 0;
        for mu in &self.compiled.mixed_units {
            let (u, evap_end, end) = (mu.u as usize, mu.evap_end as usize, mu.end as usize);
            let ports = &self.compiled.mixed_ports[start..end];
            let (evap_ports, out_ports) = ports.split_at(evap_end - start);
            start = end;
            let mut evap = 0.0;
            for &p in evap_ports {
                evap += flows.port[p as usize];
            }
            let mut out = 0.0;
            for &p in out_ports {
                out += flows.port[p as usize];
            }
            let c = mixed_coefficients(storage.volume[u], flows.throughput[u], evap, out, dt);
            storage.volume_end[u] = if storage.capacity[u].is_finite() {
                c.v1
            } else {
                storage.volume[u]
            };
            self.mixed[u] = c;
        }
        self.effective_transfer(w, nc, inputs, storage);
        let Self {
            compiled,
            plans,
            scratch,
            transfer,
            ..
        } = self;
        let t = Transfer::new(w, transfer, topo.n_ports());
        let mut first = 0;
        for run in &compiled.runs {
            let end = run.end as usize;
            for su in &compiled.singles[first..end] {
                solve_single(w, su, &compiled.inlets, flows, t, quality);
            }
            first = end;
            if let Some(Some(plan)) = plans.get(run.cycle as usize) {
                solve_loop(w, plan, scratch, t, topo, flows, quality, clock, diag);
            }
        }
        // End-of-step concentrations of mixed volumes.
        for mu in &self.compiled.mixed_units {
            let u = mu.u as usize;
            let m = self.mixed[u];
            let c0 = &storage.conc[u * ns..(u + 1) * ns];
            let inlet = &quality.inlet[u * ns..(u + 1) * ns];
            let c1 = &mut storage.conc_end[u * ns..(u + 1) * ns];
            for s in 0..ns {
                c1[s] = m.b0 * c0[s] + m.b_in * inlet[s];
            }
        }
    }

    /// Compiles, for `topo` and the species counts in `key`: the per-port transfer rules, the
    /// index lists of [`Compiled`], every recycle loop's tear plan, and the transfers that
    /// never change ([`Rule::Const`], and a source's τ = 0), which are written here once.
    fn compile(&mut self, topo: &Topology, key: [usize; 6]) {
        let nu = topo.n_units();
        let (ns, nc) = (key[4], key[5]);
        self.mixed = vec![mixed_coefficients(0.0, 0.0, 0.0, 0.0, 1.0); nu];
        self.rules = (0..topo.n_ports())
            .map(|p| PortRule::of(p, topo.port_unit[p] as usize, topo))
            .collect();
        let mut c = Compiled {
            key: Some(key),
            ..Compiled::default()
        };
        let evaporation = |p: usize| topo.port_role[p] == PortRole::Exit(ExitKind::Evaporation);
        for u in 0..nu {
            if topo.unit_quality[u] != QualityKind::Mixed {
                continue;
            }
            c.mixed_ports.extend(
                topo.ports_of(u)
                    .filter(|&p| evaporation(p))
                    .map(|p| p as u32),
            );
            let evap_end = c.mixed_ports.len() as u32;
            c.mixed_ports.extend(
                topo.ports_of(u)
                    .filter(|&p| !evaporation(p))
                    .map(|p| p as u32),
            );
            c.mixed_units.push(MixedUnit {
                u: u as u32,
                evap_end,
                end: c.mixed_ports.len() as u32,
            });
        }
        // The solve order: units outside loops as single records, a run ended by each loop.
        self.plans = vec![None; topo.quality_components.len()];
        for (ci, comp) in topo.quality_components.iter().enumerate() {
            let units = &topo.quality_order[comp.start as usize..comp.end as usize];
            if comp.cyclic {
                self.plans[ci] = Some(plan(units, topo));
                c.runs.push(Run {
                    end: c.singles.len() as u32,
                    cycle: ci as u32,
                });
                continue;
            }
            let u = units[0] as usize;
            let in_lo = c.inlets.len() as u32;
            for &l in topo.links_into(u) {
                c.inlets.push(Inlet {
                    link: l,
                    port: topo.link_from_port[l as usize],
                });
            }
            let ports = topo.ports_of(u);
            c.singles.push(SingleUnit {
                u: u as u32,
                port_lo: ports.start as u32,
                port_hi: ports.end as u32,
                in_lo,
                in_hi: c.inlets.len() as u32,
                mixes: topo.unit_flow[u] != FlowKind::Source,
            });
        }
        c.runs.push(Run {
            end: c.singles.len() as u32,
            cycle: NO_LOOP,
        });
        self.transfer.clear();
        self.transfer.resize(topo.n_ports() * 2 * ns, 0.0);
        for (p, rule) in self.rules.iter().enumerate() {
            let (tau, lambda) = self.transfer[p * 2 * ns..(p + 1) * 2 * ns].split_at_mut(ns);
            for (range, r) in [(0..nc, rule.conserved), (nc..ns, rule.tracer)] {
                match r {
                    Rule::Const(t, l) => {
                        tau[range.clone()].fill(t);
                        lambda[range].fill(l);
                    }
                    Rule::SourceLambda => {
                        tau[range].fill(0.0);
                        c.sources.push(p as u32);
                    }
                    Rule::Inputs => match c.affine_runs.last_mut() {
                        Some([_, hi]) if *hi == p as u32 => *hi += 1,
                        _ => c.affine_runs.push([p as u32, p as u32 + 1]),
                    },
                    // Written per step for mixed units.
                    Rule::Mixed => {}
                }
            }
        }
        // Mixed ports per unit: every species, declared only, tracers only.
        for mu in &c.mixed_units {
            let u = mu.u as usize;
            let rules = &self.rules[topo.ports_of(u)];
            let ports = topo.ports_of(u).zip(rules);
            let groups = [(true, true), (true, false), (false, true)];
            let mut ends = [0u32; 3];
            for (end, (declared, tracer)) in ends.iter_mut().zip(groups) {
                for (p, r) in ports.clone() {
                    if (r.conserved == Rule::Mixed, r.tracer == Rule::Mixed) == (declared, tracer) {
                        c.mixed_fill_ports.push(p as u32);
                    }
                }
                *end = c.mixed_fill_ports.len() as u32;
            }
            c.mixed_fill.push(MixedFill {
                u: u as u32,
                all_end: ends[0],
                declared_end: ends[1],
                end: ends[2],
            });
        }
        self.compiled = c;
    }

    /// Fills the step's effective transfer `(τ, λ)` of the ports whose transfer can change: an
    /// affine unit's declared species from its inputs, a source's `λ` (its quality), a mixed
    /// volume's `(a_in, a0·C0)`. The constant transfers were written by [`Self::compile`] and
    /// nothing else writes them.
    fn effective_transfer<W: Width, R: Width>(
        &mut self,
        w: W,
        nc: R,
        inputs: &UnitInputs,
        storage: &Storage,
    ) {
        let transfer = &mut self.transfer[..];
        let c = &self.compiled;
        let (mixed, conc) = (&self.mixed[..], &storage.conc[..]);
        let (fills, ports) = (&c.mixed_fill[..], &c.mixed_fill_ports[..]);
        fill_inputs(w, nc, &c.affine_runs, &c.sources, transfer, inputs);
        fill_mixed(w, nc, fills, ports, transfer, mixed, conc);
    }
}

/// The tear plan of the recycle loop through `units` (one quality component).
fn plan(units: &[u32], topo: &Topology) -> Plan {
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
    // Each unit's incoming links with their upstream port and the upstream unit's position
    // in `order` (outside the loop: `OUTSIDE`), in `links_into` order.
    let at: std::collections::HashMap<u32, u32> = order
        .iter()
        .enumerate()
        .map(|(i, &u)| (u, i as u32))
        .collect();
    let mut inlets = Vec::new();
    let mut loop_units = Vec::with_capacity(n);
    for &u in &order {
        let in_lo = inlets.len() as u32;
        for &l in topo.links_into(u as usize) {
            let from = topo.link_from[l as usize];
            inlets.push(LoopInlet {
                link: l,
                port: topo.link_from_port[l as usize],
                src: at.get(&from).copied().unwrap_or(OUTSIDE),
            });
        }
        let ports = topo.ports_of(u as usize);
        loop_units.push(LoopUnit {
            u,
            port_lo: ports.start as u32,
            port_hi: ports.end as u32,
            in_lo,
            in_hi: inlets.len() as u32,
            source: topo.unit_flow[u as usize] == FlowKind::Source,
        });
    }
    Plan {
        order,
        tears: tears.len(),
        units: loop_units,
        inlets,
    }
}

/// The inlet mix of a unit outside any loop, `c_u = Σ_l q_l·C_{p(l)} / x_u` (links in
/// `links_into` order; zero without inflow), then its ports.
#[inline(always)]
fn solve_single<W: Width>(
    w: W,
    su: &SingleUnit,
    inlets: &[Inlet],
    flows: &Flows,
    t: Transfer,
    quality: &mut Quality,
) {
    let ns = w.n();
    let u = su.u as usize;
    let x = flows.throughput[u];
    let Quality { inlet, port } = quality;
    let inlet = &mut inlet[u * ns..(u + 1) * ns];
    inlet.fill(0.0);
    if x > 0.0 && su.mixes {
        for inl in &inlets[su.in_lo as usize..su.in_hi as usize] {
            let q = flows.link[inl.link as usize];
            if q == 0.0 {
                continue;
            }
            let p = inl.port as usize;
            let cp = &port[p * ns..(p + 1) * ns];
            for s in 0..ns {
                inlet[s] += q * cp[s];
            }
        }
        for c in inlet.iter_mut() {
            *c /= x;
        }
    }
    write_ports(w, u, su.port_lo, su.port_hi, t, quality);
}

/// A recycle loop's step: [`solve_torn`] with the coefficient width `1 + k` as a constant for
/// one and two tears.
#[expect(
    clippy::too_many_arguments,
    reason = "internal helper over the step state"
)]
fn solve_loop<W: Width>(
    w: W,
    plan: &Plan,
    scratch: &mut LoopScratch,
    t: Transfer,
    topo: &Topology,
    flows: &Flows,
    quality: &mut Quality,
    clock: &Clock,
    diag: &mut Diagnostics,
) {
    let (p, s) = (plan, scratch);
    match plan.tears {
        1 => solve_torn(w, Fixed::<2>, p, s, t, topo, flows, quality, clock, diag),
        2 => solve_torn(w, Fixed::<3>, p, s, t, topo, flows, quality, clock, diag),
        k => solve_torn(w, Dyn(1 + k), p, s, t, topo, flows, quality, clock, diag),
    }
}

/// The step's effective transfer of every port and species, `C_p = τ·c_u + λ`: one row of
/// `2·ns` values per port, `[τ_0..τ_{ns−1}, λ_0..λ_{ns−1}]`, in one array cut to the ports'
/// length, so a port's row (or a unit's rows) is one slice and one bounds check. The constant
/// entries are written when the lists are compiled, the rest each step by
/// [`QualitySolver::effective_transfer`] (an affine unit's declared species copied from
/// `UnitInputs::tau/lambda`, whose tracer columns are never read).
#[derive(Clone, Copy)]
struct Transfer<'a>(&'a [f64]);

impl<'a> Transfer<'a> {
    /// The solver's table for `ports` ports of `w` species.
    fn new<W: Width>(w: W, table: &'a [f64], ports: usize) -> Self {
        Self(&table[..ports * 2 * w.n()])
    }

    /// The rows of ports `lo..hi`.
    #[inline(always)]
    fn rows<W: Width>(self, w: W, lo: usize, hi: usize) -> &'a [f64] {
        &self.0[lo * 2 * w.n()..hi * 2 * w.n()]
    }
}

/// Unit `u`'s outlet concentrations from its inlet mix: `C_p = τ_p·c_u + λ_p` for each of its
/// ports `port_lo..port_hi` and species.
#[inline(always)]
fn write_ports<W: Width>(
    w: W,
    u: usize,
    port_lo: u32,
    port_hi: u32,
    t: Transfer,
    quality: &mut Quality,
) {
    let ns = w.n();
    let (lo, hi) = (port_lo as usize, port_hi as usize);
    let Quality { inlet, port } = quality;
    affine_rows(
        w,
        &mut port[lo * ns..hi * ns],
        t.rows(w, lo, hi),
        &inlet[u * ns..(u + 1) * ns],
    );
}

/// `out_p = τ_p·c + λ_p` for each row `p` of `ns` species, `[τ, λ]` from `rows` (`2·ns` per
/// row, see [`Transfer`]).
///
/// A unit has a few ports, so the rows are walked one by one by their index over slices cut
/// to the row count (one bounds check per row covers both), not by zipped chunk iterators,
/// which are vectorised two rows at a time behind run-time overlap checks that cost more than
/// they save for two to four rows.
#[inline(always)]
fn affine_rows<W: Width>(w: W, out: &mut [f64], rows: &[f64], c: &[f64]) {
    let ns = w.n();
    if ns == 0 {
        return;
    }
    let c = &c[..ns];
    let n = out.len() / ns;
    let (out, rows) = (&mut out[..n * ns], &rows[..n * 2 * ns]);
    for i in 0..n {
        let o = &mut out[i * ns..(i + 1) * ns];
        let (tau, lambda) = rows[i * 2 * ns..(i + 1) * 2 * ns].split_at(ns);
        for s in 0..ns {
            o[s] = tau[s] * c[s] + lambda[s];
        }
    }
}

/// What an inlet of `q` m³/h from loop unit `v` adds to a balance: `v`'s outlet is
/// `C_p = τ·c_v + λ` with `c_v = a_v + B_v·c_T`, so `q·C_p = (q·τ)·a_v + q·λ + (q·τ)·B_v·c_T`.
/// Adds `a[s] += (q·τ[s])·a_v[s] + q·λ[s]` and `b_m[s] += sign·(q·τ[s])·B_{v,m}[s]` for every
/// species `s` and row `m` (`src` = `[a_v, B_v]`, `b` the `k` rows of `B`; `sign` is ±1, so
/// `sign·x` is exact). `q·τ` is formed once per species for every row; the sum
/// `q·(τ·a_v + λ)` it replaces is the same quantity, distributed. `row` is the upstream
/// port's `[τ, λ]` ([`Transfer`]).
#[inline(always)]
#[expect(
    clippy::too_many_arguments,
    reason = "the two widths, the balance's rows and the inlet"
)]
fn add_through<W: Width, C: Width>(
    w: W,
    cw: C,
    a: &mut [f64],
    b: &mut [f64],
    sign: f64,
    q: f64,
    row: &[f64],
    src: &[f64],
) {
    let (ns, k) = (w.n(), cw.n() - 1);
    let a = &mut a[..ns];
    let (a_v, b_v) = src.split_at(ns);
    let (a_v, b_v, b) = (&a_v[..ns], &b_v[..k * ns], &mut b[..k * ns]);
    let (tau, lambda) = row.split_at(ns);
    let (tau, lambda) = (&tau[..ns], &lambda[..ns]);
    for s in 0..ns {
        let qt = q * tau[s];
        a[s] += qt * a_v[s] + q * lambda[s];
        for m in 0..k {
            b[m * ns + s] += sign * qt * b_v[m * ns + s];
        }
    }
}

/// Block elimination of a torn loop (see the module docs). Per unit the coefficients
/// `[a, B_0..B_{k−1}]` (`cw` = `1 + k` rows of `ns` species) of `c_u = a_u + B_u·c_T`:
/// a tear's are `e_j`; another unit's are `(Σ_{l outside} q_l·C_{p(l)} +
/// Σ_{l from v inside} q_l·(τ_{p(l)}·[a_v, B_v] + [λ_{p(l)}, 0])) / x_u`. Then the tears'
/// balances `(x_t·e_t − Σ q·τ·B_v)·c_T = Σ q·(τ·a_v + λ) + Σ q·C_outside` per species, and
/// back-substitution, each unit's ports written right after its inlet mix.
///
/// Every array is laid out with the species innermost (a coefficient row, a tear-system entry
/// and a right-hand side are each one contiguous vector of `ns`), so each per-species loop
/// reads and writes consecutive values; every entry's terms are summed in link order.
#[expect(
    clippy::too_many_arguments,
    reason = "internal helper over the step state"
)]
fn solve_torn<W: Width, C: Width>(
    w_: W,
    cw: C,
    plan: &Plan,
    scratch: &mut LoopScratch,
    t: Transfer,
    topo: &Topology,
    flows: &Flows,
    quality: &mut Quality,
    clock: &Clock,
    diag: &mut Diagnostics,
) {
    let ns = w_.n();
    let w = cw.n(); // per unit: the row a, then the rows B[0..k]
    // The tear count, as a constant when the width is.
    let k = w - 1;
    debug_assert_eq!(k, plan.tears);
    let units = &plan.units[..];
    let n = units.len();
    let blk = ns * w;
    // Grown only: each unit's block is zeroed below before it is written.
    if scratch.coef.len() < n * blk {
        scratch.coef.resize(n * blk, 0.0);
    }
    let coef = &mut scratch.coef[..n * blk];
    let (throughput, link) = (&flows.throughput[..], &flows.link[..]);
    // Written as the dense solve's tests were, so a non-finite throughput takes the same path.
    let active = |lu: &LoopUnit| throughput[lu.u as usize] > 0.0 && !lu.source;
    let skipped = |lu: &LoopUnit, x: f64| x <= 0.0 || lu.source;
    // Tear units: c_t = unknown j (all zero when the tear has no inflow).
    for (j, lu) in units[..k].iter().enumerate() {
        let dst = &mut coef[j * blk..(j + 1) * blk];
        dst.fill(0.0);
        if active(lu) {
            dst[(1 + j) * ns..(2 + j) * ns].fill(1.0);
        }
    }
    // The others in order: c_u = a_u + B_u·c_T. A unit's sources inside the loop come
    // earlier in the order (or are tears), so its coefficient block is written from blocks
    // before it.
    for (i, lu) in units.iter().enumerate().skip(k) {
        let x = throughput[lu.u as usize];
        let (head, tail) = coef.split_at_mut(i * blk);
        let dst = &mut tail[..blk];
        dst.fill(0.0);
        if skipped(lu, x) {
            continue;
        }
        let (da, db) = dst.split_at_mut(ns);
        for inl in &plan.inlets[lu.in_lo as usize..lu.in_hi as usize] {
            let q = link[inl.link as usize];
            if q == 0.0 {
                continue;
            }
            let (p, jv) = (inl.port as usize, inl.src);
            if jv == OUTSIDE {
                add_scaled(da, q, &quality.port[p * ns..(p + 1) * ns]);
            } else {
                let jv = jv as usize;
                let through = t.rows(w_, p, p + 1);
                let src = &head[jv * blk..(jv + 1) * blk];
                add_through(w_, cw, da, db, 1.0, q, through, src);
            }
        }
        for c in dst.iter_mut() {
            *c /= x;
        }
    }
    // The tears' own balances: entry (j, m) of the system and row j of the right-hand side,
    // each a vector over species. Each entry sums its terms in link order, as the
    // species-by-species assembly did.
    let LoopScratch {
        solved, mat, rhs, ..
    } = scratch;
    mat.clear();
    mat.resize(k * k * ns, 0.0);
    rhs.clear();
    rhs.resize(k * ns, 0.0);
    // Exact-length slices: the entry checks below fold away, and the writes do not make the
    // compiler reload the vectors' pointers.
    let (mat, rhs) = (&mut mat[..k * k * ns], &mut rhs[..k * ns]);
    for (j, lu) in units[..k].iter().enumerate() {
        let x = throughput[lu.u as usize];
        let diag_jj = &mut mat[(j * k + j) * ns..(j * k + j + 1) * ns];
        if skipped(lu, x) {
            diag_jj.fill(1.0);
            continue;
        }
        for m in diag_jj.iter_mut() {
            *m += x;
        }
        let r = &mut rhs[j * ns..(j + 1) * ns];
        for inl in &plan.inlets[lu.in_lo as usize..lu.in_hi as usize] {
            let q = link[inl.link as usize];
            if q == 0.0 {
                continue;
            }
            let (p, jv) = (inl.port as usize, inl.src);
            if jv == OUTSIDE {
                add_scaled(r, q, &quality.port[p * ns..(p + 1) * ns]);
            } else {
                let jv = jv as usize;
                let through = t.rows(w_, p, p + 1);
                let src = &coef[jv * blk..(jv + 1) * blk];
                let row = &mut mat[j * k * ns..(j + 1) * k * ns];
                add_through(w_, cw, r, row, -1.0, q, through, src);
            }
        }
    }
    let mut singular = false;
    solved.clear();
    solved.resize(k * ns, 0.0);
    let solved = &mut solved[..k * ns];
    if k == 1 {
        // One tear (the common case): the 1 × 1 system of each species directly.
        for s in 0..ns {
            let c = rhs[s] / mat[s];
            if c.is_finite() {
                solved[s] = c;
            } else {
                singular = true;
            }
        }
    } else {
        for s in 0..ns {
            let a = DMatrix::from_fn(k, k, |r, c| mat[(r * k + c) * ns + s]);
            let b = DVector::from_fn(k, |r, _| rhs[r * ns + s]);
            match a.lu().solve(&b) {
                Some(c) if c.iter().all(|v| v.is_finite()) => {
                    for j in 0..k {
                        solved[j * ns + s] = c[j];
                    }
                }
                _ => singular = true,
            }
        }
    }
    if singular {
        let first = plan.order[0] as usize;
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
    // Back-substitute, and emit each unit's ports from its inlet mix.
    let solved = &solved[..];
    for (i, lu) in units.iter().enumerate() {
        let u = lu.u as usize;
        let (ra, rb) = coef[i * blk..(i + 1) * blk].split_at(ns);
        let inlet = &mut quality.inlet[u * ns..(u + 1) * ns];
        if singular {
            inlet.fill(0.0);
        } else {
            for s in 0..ns {
                let mut c = ra[s];
                for m in 0..k {
                    c += rb[m * ns + s] * solved[m * ns + s];
                }
                inlet[s] = c;
            }
        }
        write_ports(w_, u, lu.port_lo, lu.port_hi, t, quality);
    }
}
