//! Per-scenario run state as flat arrays (struct of arrays), indexed by unit, port, link and
//! species. Unit systems write their step coefficients into [`UnitInputs`]; the strategy
//! writes [`Flows`]; the species solve writes [`Quality`]; mixed volumes live in [`Storage`].
//!
//! Units inside: flows in m³/h, volumes in m³, concentrations in mg/L (= g/m³), masses in g,
//! energy in kWh, carbon in kg CO2e, money in yuan. The step length is `dt_h` hours.

use crate::network::Topology;
use bevy_ecs::component::Component;
use bevy_ecs::resource::Resource;

/// Index of a unit's entity in the topology's flat arrays.
#[derive(Component, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnitIndex(pub u32);

impl UnitIndex {
    /// As `usize`.
    #[inline]
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// The park's species: the declared ones (conserved, index 0 is always TDS) followed by the
/// engine's tracers.
///
/// A tracer is carried through the same linear solve but is not conserved: the
/// [`USED_TRACER`] is the fraction of a stream that has already been used (0 at sources, reset
/// to 1 at the outlets of water-using units, mixed everywhere else), which gives repeated use
/// exactly (water that has only passed treatment, desalination or storage stays at 0).
#[derive(Resource, Clone, Debug)]
pub struct Species {
    /// Names: declared species, then tracers.
    pub names: Vec<String>,
    /// Number of declared (conserved) species; the rest are tracers.
    pub conserved: usize,
}

/// Name of the 'already used' tracer.
pub const USED_TRACER: &str = "_used";

impl Species {
    /// Declared species plus the engine's tracers.
    pub fn with_tracers(declared: Vec<String>) -> Self {
        let conserved = declared.len();
        let mut names = declared;
        names.push(USED_TRACER.to_string());
        Self { names, conserved }
    }

    /// Number of species including tracers.
    #[inline]
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Index of the 'already used' tracer.
    pub fn used_tracer(&self) -> Option<usize> {
        self.index(USED_TRACER)
    }

    /// Whether species `s` is a tracer.
    #[inline]
    pub fn is_tracer(&self, s: usize) -> bool {
        s >= self.conserved
    }
    /// Whether no species is declared (never true for a built park: TDS is always present).
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
    /// Index of `name`.
    pub fn index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }
}

/// Simulation time: step index, step length and horizon. Time is `step × dt_h`, never summed.
#[derive(Resource, Clone, Debug)]
pub struct Clock {
    /// The step being computed (0-based).
    pub step: usize,
    /// Number of steps in the horizon.
    pub steps: usize,
    /// Step length, hours.
    pub dt_h: f64,
    /// Day of year (0-based) of step 0.
    pub start_day_of_year: u32,
    /// Hour of day (0–23) of step 0.
    pub start_hour: u32,
}

impl Clock {
    /// Hours since the start of the run at the beginning of `step`.
    #[inline]
    pub fn hours(&self) -> f64 {
        self.step as f64 * self.dt_h
    }
}

/// What every unit states for this step (written in the Demand phase).
#[derive(Resource, Clone, Debug)]
pub struct UnitInputs {
    /// Per unit: the inflow a Demand unit needs, or the pull target of an Accept/Tank unit
    /// (0 when it does not pull), m³/h.
    pub target: Vec<f64>,
    /// Per unit: whether it is in service this step (set by events).
    pub online: Vec<bool>,
    /// Per unit: multiplier on the unit's driving load this step (events, demand noise); unit
    /// models multiply their production or heat load by it.
    pub load_factor: Vec<f64>,
    /// Per unit: cap on a source's availability this step, m³/h (events).
    pub supply_cap: Vec<f64>,
    /// Per link: loss while the link carries water this step, m³/h (events).
    pub link_leak: Vec<f64>,
    /// Per unit: how much consumers may pull from a source or tank this step, m³/h.
    pub supply_avail: Vec<f64>,
    /// Per port: share of the unit's throughput leaving by this port (driven and exit ports).
    pub port_share: Vec<f64>,
    /// Per port × species: transfer coefficient τ of an affine unit (`C_out = τ·C_in + λ`).
    pub tau: Vec<f64>,
    /// Per port × species: additive concentration λ, mg/L (loads, or a source's quality).
    pub lambda: Vec<f64>,
    /// Per unit × species: mass generated per m³ of throughput, g/m³ (loads, source quality).
    pub generated_g_per_m3: Vec<f64>,
    /// Per unit × species: fraction of inlet mass destroyed by reaction (oxidised, converted to
    /// gas), leaving without a port.
    pub removed_fraction: Vec<f64>,
    /// Per unit × species: fraction of inlet mass leaving as solids (crystallised salt, sludge
    /// solids), booked as the `solids` exit of the species balance.
    pub solids_fraction: Vec<f64>,
    /// Per unit × species: the highest inlet concentration the unit accepts, mg/L
    /// (`f64::INFINITY` when unlimited).
    pub accept_limit: Vec<f64>,
}

impl UnitInputs {
    /// Neutral inputs for `topo` with `ns` species: targets 0, everything online, shares 0,
    /// pass-through transfer (τ = 1, λ = 0), no limits.
    pub fn new(topo: &Topology, ns: usize) -> Self {
        let nu = topo.n_units();
        let np = topo.n_ports();
        Self {
            target: vec![0.0; nu],
            online: vec![true; nu],
            load_factor: vec![1.0; nu],
            supply_cap: vec![f64::INFINITY; nu],
            link_leak: vec![0.0; topo.n_links()],
            supply_avail: vec![0.0; nu],
            port_share: vec![0.0; np],
            tau: vec![1.0; np * ns],
            lambda: vec![0.0; np * ns],
            generated_g_per_m3: vec![0.0; nu * ns],
            removed_fraction: vec![0.0; nu * ns],
            solids_fraction: vec![0.0; nu * ns],
            accept_limit: vec![f64::INFINITY; nu * ns],
        }
    }
}

/// The step's flows (written by the coupling strategy in the Allocate phase).
#[derive(Resource, Clone, Debug)]
pub struct Flows {
    /// Per link, m³/h.
    pub link: Vec<f64>,
    /// Per unit: total inflow (a source: total withdrawal), m³/h.
    pub throughput: Vec<f64>,
    /// Per unit: unmet part of a Demand unit's target, m³/h.
    pub unmet: Vec<f64>,
    /// Per port: flow leaving by the port (driven, exit, supply and overflow), m³/h.
    pub port: Vec<f64>,
    /// Per port: part of the port's flow that no link could take (leaves the park as spill).
    pub spill: Vec<f64>,
    /// Per link: water lost from the link (leaves the park as the upstream unit's leak), m³/h.
    /// The upstream port sends `link + leak`; the downstream unit receives `link`.
    pub leak: Vec<f64>,
}

impl Flows {
    /// Zero flows for `topo`.
    pub fn new(topo: &Topology) -> Self {
        Self {
            link: vec![0.0; topo.n_links()],
            throughput: vec![0.0; topo.n_units()],
            unmet: vec![0.0; topo.n_units()],
            port: vec![0.0; topo.n_ports()],
            spill: vec![0.0; topo.n_ports()],
            leak: vec![0.0; topo.n_links()],
        }
    }
}

/// Concentrations solved this step (the Solve phase), mg/L.
#[derive(Resource, Clone, Debug)]
pub struct Quality {
    /// Per unit × species: flow-weighted inlet mix.
    pub inlet: Vec<f64>,
    /// Per port × species: concentration of water leaving by the port (for a mixed volume, the
    /// flow-weighted mean over the step).
    pub port: Vec<f64>,
}

impl Quality {
    /// Zero concentrations for `topo`.
    pub fn new(topo: &Topology, ns: usize) -> Self {
        Self {
            inlet: vec![0.0; topo.n_units() * ns],
            port: vec![0.0; topo.n_ports() * ns],
        }
    }
}

/// Completely mixed volumes (tanks, cooling-tower basins): volume and concentration at the start
/// of the step, and at its end once solved. Entries of non-mixed units are unused.
#[derive(Resource, Clone, Debug)]
pub struct Storage {
    /// Per unit: volume at the start of the step, m³.
    pub volume: Vec<f64>,
    /// Per unit: volume at the end of the step, m³.
    pub volume_end: Vec<f64>,
    /// Per unit: capacity, m³ (infinite for a basin of fixed volume).
    pub capacity: Vec<f64>,
    /// Per unit: the lowest volume the unit may be drawn down to, m³.
    pub minimum: Vec<f64>,
    /// Per unit × species: concentration at the start of the step.
    pub conc: Vec<f64>,
    /// Per unit × species: concentration at the end of the step.
    pub conc_end: Vec<f64>,
}

impl Storage {
    /// Empty storage for `topo`.
    pub fn new(topo: &Topology, ns: usize) -> Self {
        let nu = topo.n_units();
        Self {
            volume: vec![0.0; nu],
            volume_end: vec![0.0; nu],
            capacity: vec![f64::INFINITY; nu],
            minimum: vec![0.0; nu],
            conc: vec![0.0; nu * ns],
            conc_end: vec![0.0; nu * ns],
        }
    }
}

/// Energy, chemicals and money booked by units and links this step (the Account phase).
#[derive(Resource, Clone, Debug)]
pub struct Energy {
    /// Per unit: electricity, kWh this step (unit equipment, not link pumping).
    pub electricity_kwh: Vec<f64>,
    /// Per unit: heat, kWh_th this step.
    pub heat_kwh: Vec<f64>,
    /// Per unit: on-site generation credited against grid import, kWh this step.
    pub generation_kwh: Vec<f64>,
    /// Per unit: chemicals, kg this step.
    pub chemicals_kg: Vec<f64>,
    /// Per unit: CO2e of chemicals, kg this step.
    pub chemicals_co2_kg: Vec<f64>,
    /// Per unit: money for chemicals, yuan this step.
    pub chemicals_cost: Vec<f64>,
    /// Per unit: other money (water purchase, discharge fees), yuan this step.
    pub water_cost: Vec<f64>,
    /// Per unit: other direct CO2e (embodied in purchased water, process emissions), kg.
    pub other_co2_kg: Vec<f64>,
    /// Per unit: emission factor of the unit's own heat source, kg CO2/kWh_th (NaN: the park's
    /// heat factor applies; 0 for waste heat).
    pub heat_kg_per_kwh: Vec<f64>,
    /// Per unit: price of the unit's own heat, yuan/kWh_th (NaN: the park's heat price applies;
    /// 0 for waste heat).
    pub heat_yuan_per_kwh: Vec<f64>,
    /// Per unit: annualised capital cost booked this step, yuan.
    pub capital_cost: Vec<f64>,
    /// Per link: pumping electricity, kWh this step.
    pub pumping_kwh: Vec<f64>,
}

impl Energy {
    /// Zeros for `topo`.
    pub fn new(topo: &Topology) -> Self {
        let nu = topo.n_units();
        Self {
            electricity_kwh: vec![0.0; nu],
            heat_kwh: vec![0.0; nu],
            generation_kwh: vec![0.0; nu],
            chemicals_kg: vec![0.0; nu],
            chemicals_co2_kg: vec![0.0; nu],
            chemicals_cost: vec![0.0; nu],
            water_cost: vec![0.0; nu],
            other_co2_kg: vec![0.0; nu],
            heat_kg_per_kwh: vec![f64::NAN; nu],
            heat_yuan_per_kwh: vec![f64::NAN; nu],
            capital_cost: vec![0.0; nu],
            pumping_kwh: vec![0.0; topo.n_links()],
        }
    }

    /// Writes unit `u`'s bookings of this step, `b`, into the per-unit arrays (the heat
    /// overrides are left as they are: a unit with its own heat source writes them itself).
    #[inline]
    pub fn assign(&mut self, u: usize, b: &Booking) {
        self.electricity_kwh[u] = b.electricity_kwh;
        self.heat_kwh[u] = b.heat_kwh;
        self.generation_kwh[u] = b.generation_kwh;
        self.chemicals_kg[u] = b.chemicals_kg;
        self.chemicals_co2_kg[u] = b.chemicals_co2_kg;
        self.chemicals_cost[u] = b.chemicals_cost;
        self.water_cost[u] = b.water_cost;
        self.other_co2_kg[u] = b.other_co2_kg;
        self.capital_cost[u] = b.capital_cost;
    }
}

/// One unit's bookings of one step, summed in a local and then written with
/// [`Energy::assign`].
///
/// Why: the per-unit [`Energy`] arrays used to be zeroed at the start of every step (eleven
/// arrays, every unit) for the unit systems to add to. Instead each Account-phase unit system
/// starts a `Booking` at zero for each of its units, adds to it what it used to add to the
/// arrays, in the same order, and assigns the result, on every step and on every path (a unit
/// that books nothing this step assigns zeros). Each entry therefore sees exactly the
/// operations it saw before (`0.0 + a + b …`, including `0.0 + (−0.0) = +0.0`), and the entries
/// of units whose type books nothing stay at their initial zero. Rule for unit systems: write
/// `Energy`'s per-unit arrays only through [`Energy::assign`], once per unit and step.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Booking {
    /// Electricity, kWh.
    pub electricity_kwh: f64,
    /// Heat, kWh_th.
    pub heat_kwh: f64,
    /// On-site generation, kWh.
    pub generation_kwh: f64,
    /// Chemicals, kg.
    pub chemicals_kg: f64,
    /// CO2e of chemicals, kg.
    pub chemicals_co2_kg: f64,
    /// Money for chemicals, yuan.
    pub chemicals_cost: f64,
    /// Other money (water purchase, discharge fees), yuan.
    pub water_cost: f64,
    /// Other direct CO2e, kg.
    pub other_co2_kg: f64,
    /// Annualised capital cost, yuan.
    pub capital_cost: f64,
}

/// Park-wide factors for energy, carbon and cost, sampled each step.
#[derive(Resource, Clone, Debug)]
pub struct Factors {
    /// Grid electricity emission factor, kg CO2/kWh.
    pub grid_kg_per_kwh: crate::series::Series,
    /// Electricity price, yuan/kWh.
    pub electricity_price: crate::series::Series,
    /// Heat emission factor, kg CO2/kWh_th (0 for waste heat).
    pub heat_kg_per_kwh: f64,
    /// Heat price, yuan/kWh_th.
    pub heat_price: f64,
    /// Name and date of the grid factor, for reports.
    pub grid_label: String,
}
