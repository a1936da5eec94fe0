//! Totals of a run, or of any window of it: per unit, per link and per species, in volumes (m³),
//! masses (g), energy (kWh) and carbon (kg CO2e), gathered from the engine's summary
//! accumulators ([`Summary`]), its ledger ([`Ledger`]) and the recorder's always-on flow sums
//! ([`FlowSums`]). KPIs, water-balance tables and Sankey diagrams are all built from a
//! [`Totals`], so they agree with each other and with the ledger's closure.
//!
//! A window is the difference of two captures: capture at the window's first step, run on,
//! capture again, and take [`Totals::since`]. Every total is a sum over steps, so the difference
//! is exact (largest flows are not: they are those of the later capture).

use parktwin_engine::ledger::{Ledger, Terms};
use parktwin_engine::network::Topology;
use parktwin_engine::record::{Carbon, FlowSums, LinkTotals, Recorder, Summary, UnitTotals};
use parktwin_engine::sim::Simulation;
use parktwin_engine::state::{Clock, Species, Storage};

/// Totals of a run or window (see the module docs).
#[derive(Clone, Debug)]
pub struct Totals {
    /// Steps covered.
    pub steps: usize,
    /// First step covered.
    pub first_step: usize,
    /// Step length, h.
    pub dt_h: f64,
    /// Declared species (conserved), TDS first.
    pub species: Vec<String>,
    /// Per unit: the engine's totals (throughput, exits by kind, energy, carbon, product,
    /// recirculation, serial reuse).
    pub units: Vec<UnitTotals>,
    /// Per link: volume carried (leaks excluded), pumping.
    pub links: Vec<LinkTotals>,
    /// Per unit: water ledger terms, m³.
    pub unit_water: Vec<Terms>,
    /// Per unit × species: mass ledger terms, g.
    pub unit_species: Vec<Terms>,
    /// Per link: used water carried (the 'already used' tracer × flow), m³.
    pub link_used_m3: Vec<f64>,
    /// Per link: water lost by leaks, m³.
    pub link_leak_m3: Vec<f64>,
    /// Per link × species: mass carried, g.
    pub link_species_g: Vec<f64>,
    /// Per unit × exit kind × species: mass leaving the park, g (links' leaks booked to the
    /// sending unit).
    pub exit_species_g: Vec<f64>,
    /// Park carbon by origin (grid electricity net of on-site generation), kg CO2e.
    pub carbon: Carbon,
    /// Park grid import, kWh.
    pub grid_import_kwh: f64,
    /// Stored water per unit at the window's start, m³.
    pub volume_start_m3: Vec<f64>,
}

fn sub_terms(a: &Terms, b: &Terms) -> Terms {
    Terms {
        inflow: a.inflow - b.inflow,
        outflow: a.outflow - b.outflow,
        generated: a.generated - b.generated,
        removed: a.removed - b.removed,
        storage_change: a.storage_change - b.storage_change,
    }
}

fn sub_carbon(a: &Carbon, b: &Carbon) -> Carbon {
    Carbon {
        electricity: a.electricity - b.electricity,
        heat: a.heat - b.heat,
        chemicals: a.chemicals - b.chemicals,
        other: a.other - b.other,
    }
}

fn sub_vec(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter()
        .zip(b.iter().chain(std::iter::repeat(&0.0)))
        .map(|(x, y)| x - y)
        .collect()
}

fn scaled(v: &[f64], n: usize, k: f64) -> Vec<f64> {
    if v.len() == n {
        v.iter().map(|x| x * k).collect()
    } else {
        vec![0.0; n]
    }
}

impl Totals {
    /// Totals from the start of the run to now.
    pub fn capture(sim: &Simulation) -> Self {
        let topo = sim.resource::<Topology>();
        let summary = sim.resource::<Summary>();
        let ledger = sim.resource::<Ledger>();
        let species = sim.resource::<Species>();
        let dt = sim.resource::<Clock>().dt_h;
        let sums: &FlowSums = &sim.resource::<Recorder>().sums;
        let nc = species.conserved;
        let (nu, nl) = (topo.n_units(), topo.n_links());
        let nk = parktwin_engine::network::ExitKind::ALL.len();
        Totals {
            steps: summary.steps,
            first_step: 0,
            dt_h: dt,
            species: species.names[..nc].to_vec(),
            units: summary.units.clone(),
            links: summary.links.clone(),
            unit_water: ledger.unit_water_all(),
            unit_species: ledger.unit_species_all(),
            link_used_m3: scaled(&sums.link_used, nl, dt),
            link_leak_m3: scaled(&sums.link_leak, nl, dt),
            link_species_g: scaled(&sums.link_species, nl * nc, dt),
            exit_species_g: scaled(&sums.exit_species, nu * nk * nc, dt),
            carbon: summary.carbon,
            grid_import_kwh: summary.grid_import_kwh,
            volume_start_m3: initial_volumes(sim),
        }
    }

    /// The totals of the window from `earlier` (a capture at an earlier step) to `self`.
    pub fn since(&self, earlier: &Totals) -> Totals {
        let units = self
            .units
            .iter()
            .zip(&earlier.units)
            .map(|(a, b)| {
                let mut d = a.clone();
                d.throughput_m3 -= b.throughput_m3;
                d.target_m3 -= b.target_m3;
                d.unmet_m3 -= b.unmet_m3;
                for k in 0..d.exits_m3.len() {
                    d.exits_m3[k] -= b.exits_m3[k];
                }
                d.electricity_kwh -= b.electricity_kwh;
                d.heat_kwh -= b.heat_kwh;
                d.generation_kwh -= b.generation_kwh;
                d.chemicals_kg -= b.chemicals_kg;
                d.carbon = sub_carbon(&a.carbon, &b.carbon);
                d.cost.electricity -= b.cost.electricity;
                d.cost.heat -= b.cost.heat;
                d.cost.chemicals -= b.cost.chemicals;
                d.cost.water -= b.cost.water;
                d.cost.capital -= b.cost.capital;
                d.product -= b.product;
                d.recirculated_m3 -= b.recirculated_m3;
                d.unmet_steps -= b.unmet_steps;
                d.reused_m3 -= b.reused_m3;
                d.steam_t -= b.steam_t;
                d.condensate_returned_t -= b.condensate_returned_t;
                d
            })
            .collect();
        let links = self
            .links
            .iter()
            .zip(&earlier.links)
            .map(|(a, b)| {
                let mut d = a.clone();
                d.volume_m3 -= b.volume_m3;
                d.pumping_kwh -= b.pumping_kwh;
                d
            })
            .collect();
        Totals {
            steps: self.steps - earlier.steps,
            first_step: earlier.first_step + earlier.steps,
            dt_h: self.dt_h,
            species: self.species.clone(),
            units,
            links,
            unit_water: self
                .unit_water
                .iter()
                .zip(&earlier.unit_water)
                .map(|(a, b)| sub_terms(a, b))
                .collect(),
            unit_species: self
                .unit_species
                .iter()
                .zip(&earlier.unit_species)
                .map(|(a, b)| sub_terms(a, b))
                .collect(),
            link_used_m3: sub_vec(&self.link_used_m3, &earlier.link_used_m3),
            link_leak_m3: sub_vec(&self.link_leak_m3, &earlier.link_leak_m3),
            link_species_g: sub_vec(&self.link_species_g, &earlier.link_species_g),
            exit_species_g: sub_vec(&self.exit_species_g, &earlier.exit_species_g),
            carbon: sub_carbon(&self.carbon, &earlier.carbon),
            grid_import_kwh: self.grid_import_kwh - earlier.grid_import_kwh,
            volume_start_m3: earlier.volume_end_m3(),
        }
    }

    /// Hours covered.
    pub fn hours(&self) -> f64 {
        self.steps as f64 * self.dt_h
    }

    /// Number of declared species.
    pub fn n_species(&self) -> usize {
        self.species.len()
    }

    /// Stored water per unit at the end of the window, m³.
    pub fn volume_end_m3(&self) -> Vec<f64> {
        self.volume_start_m3
            .iter()
            .zip(&self.unit_water)
            .map(|(v, t)| v + t.storage_change)
            .collect()
    }

    /// Mass of species `s` leaving unit `u` by exit kind `k` (index in `ExitKind::ALL`), g.
    pub fn exit_species(&self, u: usize, k: usize, s: usize) -> f64 {
        let nk = parktwin_engine::network::ExitKind::ALL.len();
        let nc = self.n_species();
        self.exit_species_g
            .get((u * nk + k) * nc + s)
            .copied()
            .unwrap_or(0.0)
    }

    /// Mass of species `s` carried by link `l`, g.
    pub fn link_species(&self, l: usize, s: usize) -> f64 {
        self.link_species_g
            .get(l * self.n_species() + s)
            .copied()
            .unwrap_or(0.0)
    }
}

/// Stored water per unit at the start of the run: the end-of-run volume less the ledger's
/// storage change (exact, since the ledger sums the same volume changes).
fn initial_volumes(sim: &Simulation) -> Vec<f64> {
    let storage = sim.resource::<Storage>();
    let ledger = sim.resource::<Ledger>();
    storage
        .volume
        .iter()
        .enumerate()
        .map(|(u, v)| v - ledger.unit_water(u).storage_change)
        .collect()
}
