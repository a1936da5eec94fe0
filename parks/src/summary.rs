//! The run summary: water by source kind and exit, repeated use, species in and out, energy,
//! carbon, cost, balance closure and diagnostics — as one serialisable value, and as text.
//! Per-unit rows carry each producing unit's levelised cost of water (its whole cost over the run
//! per m³ of product water), so retrofits can be compared by LCOW.
//!
//! Intake-accounting policy (DOMAIN.md, "KPIs"; configurable in the park's `kpi` block): by
//! default municipal supply, surface water, groundwater and purchased reclaimed municipal water
//! count as intake (取水量); seawater, brackish water, mine water and rainwater are
//! unconventional water reported beside intake but not in it (GB/T 18916 practice); reclaimed
//! municipal water is both intake and unconventional. Repeated use `V_r` is cooling-water
//! recirculation plus serial reuse (water entering a water-using unit that had already been
//! used, tracked exactly by the 'already used' tracer), and the repeated-use rate is
//! `V_r/(V_i + V_r)` (GB/T 7119). The KPIs per enterprise and the water-balance tables are in
//! [`crate::kpi`]; the summary carries them as `kpi`.

use crate::kpi::{KpiReport, Policy};
use crate::totals::Totals;
use crate::validate::ParkMeta;
use parktwin_engine::diagnostics::{Diagnostic, DiagnosticKind, Diagnostics};
use parktwin_engine::ledger::{Ledger, RELATIVE_TOLERANCE, SPECIES_FLOOR_G, WATER_FLOOR_M3, Worst};
use parktwin_engine::network::{ExitKind, Topology};
use parktwin_engine::record::{Carbon, Cost, Summary};
use parktwin_engine::sim::Simulation;
use parktwin_units::SourceKind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Whether water of `kind` counts as intake under the default policy.
pub fn counts_as_intake(kind: SourceKind) -> bool {
    Policy::of(&crate::schema::KpiSpec::default())
        .intake_kinds
        .iter()
        .any(|k| k == kind.name())
}

/// Water over the run, m³.
#[derive(Clone, Debug, Serialize)]
pub struct WaterSummary {
    /// Withdrawal by source kind.
    pub by_source_kind: BTreeMap<String, f64>,
    /// Intake under the policy.
    pub intake: f64,
    /// Unconventional water (seawater, brackish, mine water, rainwater, reclaimed).
    pub unconventional: f64,
    /// All water entering the park.
    pub total_inflow: f64,
    /// Serial reuse (used water used again).
    pub reuse: f64,
    /// Cooling-water recirculation.
    pub cooling_recirculation: f64,
    /// Repeated use: recirculation + serial reuse.
    pub repeated_use: f64,
    /// `V_r/(V_i + V_r)`.
    pub repeated_use_rate: f64,
    /// Leaving by exit kind.
    pub exits: BTreeMap<String, f64>,
    /// Consumption: evaporation, drift, product, solids.
    pub consumption: f64,
    /// Discharged.
    pub discharge: f64,
    /// Change in stored water.
    pub storage_change: f64,
    /// Demand not met.
    pub unmet_demand: f64,
    /// Units that had unmet demand, with m³.
    pub unmet_by_unit: BTreeMap<String, f64>,
}

/// One species over the run, kg.
#[derive(Clone, Debug, Serialize)]
pub struct SpeciesSummary {
    /// Name.
    pub name: String,
    /// Brought in by sources.
    pub from_sources_kg: f64,
    /// Added by processes.
    pub loads_kg: f64,
    /// Leaving by exit kind.
    pub exits_kg: BTreeMap<String, f64>,
    /// Destroyed by treatment.
    pub reacted_kg: f64,
    /// Change in stored mass.
    pub storage_change_kg: f64,
}

/// Energy over the run.
#[derive(Clone, Debug, Serialize)]
pub struct EnergySummary {
    /// Electricity of units and pumping, kWh.
    pub electricity_kwh: f64,
    /// Of which link pumping, kWh.
    pub pumping_kwh: f64,
    /// Heat, kWh_th.
    pub heat_kwh: f64,
    /// On-site generation, kWh.
    pub generation_kwh: f64,
    /// Grid import after generation, kWh.
    pub grid_import_kwh: f64,
}

/// Balance closure of the run.
#[derive(Clone, Debug, Serialize)]
pub struct BalanceSummary {
    /// Largest relative residual over water and every species, units and park, every step.
    pub max_relative_residual: f64,
    /// Tolerance the residuals are checked against.
    pub relative_tolerance: f64,
    /// Absolute floors.
    pub floors: BTreeMap<String, f64>,
    /// Worst water closure.
    pub water: Worst,
    /// Worst closure per species.
    pub species: BTreeMap<String, Worst>,
    /// Unit-steps over tolerance.
    pub violations: u64,
    /// Park closure over the whole run: inflow − exits − storage change, m³.
    pub park_water_residual_m3: f64,
}

/// Per-unit totals.
#[derive(Clone, Debug, Serialize)]
pub struct UnitRow {
    /// Id.
    pub id: String,
    /// Type.
    #[serde(rename = "type")]
    pub type_name: String,
    /// Enterprise id.
    pub enterprise: Option<String>,
    /// Kind of water, for sources.
    pub source_kind: Option<String>,
    /// Coordinates `[longitude, latitude]`, if given.
    pub location: Option<[f64; 2]>,
    /// Throughput (a source: withdrawal), m³.
    pub throughput_m3: f64,
    /// Unmet, m³.
    pub unmet_m3: f64,
    /// Reused water received, m³.
    pub reused_m3: f64,
    /// Recirculated, m³.
    pub recirculated_m3: f64,
    /// Product output.
    pub product: f64,
    /// Electricity, kWh.
    pub electricity_kwh: f64,
    /// CO2e, kg.
    pub co2e_kg: f64,
    /// Cost, yuan.
    pub cost_yuan: f64,
    /// Water produced by a treatment or desalination unit: what leaves by its product-water
    /// ports (`product`, `permeate`, `distillate`), m³.
    pub product_water_m3: f64,
    /// Levelised cost of water of a producing unit: its whole cost over the run (annualised
    /// capital and fixed O&M, electricity, heat, chemicals, charges) divided by the product water,
    /// yuan/m³; `None` for units that produce none.
    pub lcow_yuan_per_m3: Option<f64>,
}

/// Per-link totals.
#[derive(Clone, Debug, Serialize)]
pub struct LinkRow {
    /// Id.
    pub id: String,
    /// Volume, m³.
    pub volume_m3: f64,
    /// Largest flow, m³/h.
    pub max_flow_m3_per_h: f64,
    /// Pumping, kWh.
    pub pumping_kwh: f64,
}

/// Everything a run reports.
#[derive(Clone, Debug, Serialize)]
pub struct RunSummary {
    /// Park name.
    pub park: String,
    /// Start.
    pub start: String,
    /// Steps.
    pub steps: usize,
    /// Step length, h.
    pub step_h: f64,
    /// Coupling strategy.
    pub strategy: String,
    /// Grid factor used.
    pub grid_factor: String,
    /// Intake policy, in words.
    pub intake_policy: String,
    /// Water, m³.
    pub water_m3: WaterSummary,
    /// Species.
    pub species: Vec<SpeciesSummary>,
    /// Energy.
    pub energy: EnergySummary,
    /// Carbon by origin, kg CO2e.
    pub co2e_kg: Carbon,
    /// Total carbon, t CO2e.
    pub co2e_total_t: f64,
    /// Cost by item, yuan.
    pub cost_yuan: Cost,
    /// Total cost, yuan.
    pub cost_total_yuan: f64,
    /// Closure.
    pub balance: BalanceSummary,
    /// Diagnostic counts by kind.
    pub diagnostics: BTreeMap<String, u64>,
    /// First occurrences of each diagnostic kind.
    pub diagnostics_first: Vec<Diagnostic>,
    /// Per unit.
    pub units: Vec<UnitRow>,
    /// Per link.
    pub links: Vec<LinkRow>,
    /// KPIs per enterprise and for the park, unit-product intake against the Action Plan, and
    /// the water-balance tables.
    pub kpi: KpiReport,
}

fn kind_name(k: DiagnosticKind) -> String {
    serde_json::to_value(k)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{k:?}"))
}

/// Summarises a finished run.
pub fn summarize(sim: &Simulation, meta: &ParkMeta) -> RunSummary {
    let topo = sim.resource::<Topology>();
    let s = sim.resource::<Summary>();
    let ledger = sim.resource::<Ledger>();
    let diag = sim.resource::<Diagnostics>();
    let strategy = sim
        .resource::<parktwin_engine::flow::Strategy>()
        .0
        .name()
        .to_string();

    let policy = Policy::of(&meta.kpi);
    let mut by_kind: BTreeMap<String, f64> = BTreeMap::new();
    let (mut intake, mut uncon, mut total) = (0.0, 0.0, 0.0);
    for (u, m) in meta.units.iter().enumerate() {
        if let Some(k) = m.source_kind {
            let w = s.units[u].throughput_m3;
            *by_kind.entry(k.name().to_string()).or_insert(0.0) += w;
            total += w;
            if policy.intake_kinds.iter().any(|n| n == k.name()) {
                intake += w;
            }
            if k.is_unconventional() {
                uncon += w;
            }
        }
    }
    let mut exits: BTreeMap<String, f64> = BTreeMap::new();
    for k in ExitKind::ALL {
        let v: f64 = s.units.iter().map(|t| t.exits_m3[k.index()]).sum();
        exits.insert(k.name().to_string(), v);
    }
    let consumption: f64 = ExitKind::ALL
        .iter()
        .filter(|k| k.is_consumption())
        .map(|k| exits[k.name()])
        .sum();
    let reuse: f64 = s.units.iter().map(|t| t.reused_m3).sum();
    let recirc: f64 = s.units.iter().map(|t| t.recirculated_m3).sum();
    let repeated = reuse + recirc;
    let unmet_by_unit: BTreeMap<String, f64> = s
        .units
        .iter()
        .enumerate()
        .filter(|(_, t)| t.unmet_m3 > 0.0)
        .map(|(u, t)| (topo.unit_id[u].clone(), t.unmet_m3))
        .collect();
    let all_exits: f64 = exits.values().sum();
    let storage_change = s.storage_end_m3 - s.storage_start_m3;
    let water = WaterSummary {
        by_source_kind: by_kind,
        intake,
        unconventional: uncon,
        total_inflow: total,
        reuse,
        cooling_recirculation: recirc,
        repeated_use: repeated,
        repeated_use_rate: if intake + repeated > 0.0 {
            repeated / (intake + repeated)
        } else {
            0.0
        },
        consumption,
        discharge: exits["discharge"],
        exits,
        storage_change,
        unmet_demand: s.units.iter().map(|t| t.unmet_m3).sum(),
        unmet_by_unit,
    };
    let species: Vec<SpeciesSummary> = (0..meta.species.len())
        .map(|k| SpeciesSummary {
            name: meta.species[k].clone(),
            from_sources_kg: ledger.species_from_sources[k] / 1000.0,
            loads_kg: ledger.species_loads[k] / 1000.0,
            exits_kg: ExitKind::ALL
                .iter()
                .map(|e| {
                    (
                        e.name().to_string(),
                        ledger.species_by_exit[k][e.index()] / 1000.0,
                    )
                })
                .collect(),
            reacted_kg: ledger.species_reacted[k] / 1000.0,
            storage_change_kg: ledger.park_species[k].storage_change / 1000.0,
        })
        .collect();
    let electricity: f64 = s.units.iter().map(|t| t.electricity_kwh).sum();
    let energy = EnergySummary {
        electricity_kwh: electricity,
        pumping_kwh: s.pumping_kwh,
        heat_kwh: s.units.iter().map(|t| t.heat_kwh).sum(),
        generation_kwh: s.units.iter().map(|t| t.generation_kwh).sum(),
        grid_import_kwh: s.grid_import_kwh,
    };
    let mut floors = BTreeMap::new();
    floors.insert("water_m3_per_step".to_string(), WATER_FLOOR_M3);
    floors.insert("species_g_per_step".to_string(), SPECIES_FLOOR_G);
    let balance = BalanceSummary {
        max_relative_residual: ledger.max_relative_residual(),
        relative_tolerance: RELATIVE_TOLERANCE,
        floors,
        water: ledger.worst_water.clone(),
        species: meta
            .species
            .iter()
            .zip(&ledger.worst_species)
            .map(|(n, w)| (n.clone(), w.clone()))
            .collect(),
        violations: ledger.violations,
        park_water_residual_m3: total - all_exits - storage_change,
    };
    let mut diagnostics: BTreeMap<String, u64> = BTreeMap::new();
    for ((k, _), n) in &diag.counts {
        *diagnostics.entry(kind_name(*k)).or_insert(0) += n;
    }
    // Product water of each unit: the links leaving its product-water ports.
    let mut product_water = vec![0.0; topo.n_units()];
    for l in 0..topo.n_links() {
        let p = topo.link_from_port[l] as usize;
        if matches!(
            topo.port_name[p].as_str(),
            "product" | "permeate" | "distillate"
        ) {
            product_water[topo.link_from[l] as usize] += s.links[l].volume_m3;
        }
    }
    let units = s
        .units
        .iter()
        .enumerate()
        .map(|(u, t)| UnitRow {
            id: topo.unit_id[u].clone(),
            type_name: meta.units[u].type_name.to_string(),
            enterprise: meta.units[u]
                .enterprise
                .map(|e| meta.enterprises[e].id.clone()),
            source_kind: meta.units[u].source_kind.map(|k| k.name().to_string()),
            location: meta.units[u].location,
            throughput_m3: t.throughput_m3,
            unmet_m3: t.unmet_m3,
            reused_m3: t.reused_m3,
            recirculated_m3: t.recirculated_m3,
            product: t.product,
            electricity_kwh: t.electricity_kwh,
            co2e_kg: t.carbon.total(),
            cost_yuan: t.cost.total(),
            product_water_m3: product_water[u],
            lcow_yuan_per_m3: (product_water[u] > 0.0).then(|| t.cost.total() / product_water[u]),
        })
        .collect();
    let links = s
        .links
        .iter()
        .enumerate()
        .map(|(l, t)| LinkRow {
            id: topo.link_id[l].clone(),
            volume_m3: t.volume_m3,
            max_flow_m3_per_h: t.max_flow_m3_per_h,
            pumping_kwh: t.pumping_kwh,
        })
        .collect();
    RunSummary {
        park: meta.name.clone(),
        start: meta.start.clone(),
        steps: s.steps,
        step_h: meta.dt_h,
        strategy,
        grid_factor: meta.grid_label.clone(),
        intake_policy: policy.text.clone(),
        water_m3: water,
        species,
        energy,
        co2e_kg: s.carbon,
        co2e_total_t: s.carbon.total() / 1000.0,
        cost_yuan: s.cost,
        cost_total_yuan: s.cost.total(),
        balance,
        diagnostics,
        diagnostics_first: diag.first.clone(),
        units,
        links,
        kpi: crate::kpi::compute(topo, meta, &Totals::capture(sim)),
    }
}

fn m3(v: f64) -> String {
    if v.abs() >= 1e6 {
        format!("{:.3} Mm³", v / 1e6)
    } else {
        format!("{v:.1} m³")
    }
}

impl RunSummary {
    /// The summary as readable text.
    pub fn to_text(&self) -> String {
        let mut o = String::new();
        let w = &self.water_m3;
        let _ = writeln!(o, "park      {}", self.park);
        let _ = writeln!(
            o,
            "horizon   {} steps of {} h from {}; strategy {}",
            self.steps, self.step_h, self.start, self.strategy
        );
        let _ = writeln!(o, "\nwater");
        for (k, v) in &w.by_source_kind {
            let _ = writeln!(o, "  intake from {k:<22} {}", m3(*v));
        }
        let _ = writeln!(o, "  intake (policy)                 {}", m3(w.intake));
        let _ = writeln!(
            o,
            "  unconventional water            {}",
            m3(w.unconventional)
        );
        let _ = writeln!(o, "  serial reuse                    {}", m3(w.reuse));
        let _ = writeln!(
            o,
            "  cooling recirculation           {}",
            m3(w.cooling_recirculation)
        );
        let _ = writeln!(
            o,
            "  repeated-use rate               {:.2} %",
            100.0 * w.repeated_use_rate
        );
        let _ = writeln!(o, "  discharge                       {}", m3(w.discharge));
        for (k, v) in &w.exits {
            if k != "discharge" && *v != 0.0 {
                let _ = writeln!(o, "  {k:<31} {}", m3(*v));
            }
        }
        let _ = writeln!(
            o,
            "  consumption (evap+drift+product) {}",
            m3(w.consumption)
        );
        let _ = writeln!(
            o,
            "  storage change                  {}",
            m3(w.storage_change)
        );
        let _ = writeln!(
            o,
            "  unmet demand                    {}",
            m3(w.unmet_demand)
        );
        let _ = writeln!(
            o,
            "\nspecies (kg)        in: sources      loads   out: discharge   consumed    reacted   Δstorage   (consumed = product + drift + solids)"
        );
        for s in &self.species {
            let _ = writeln!(
                o,
                "  {:<16} {:>12.0} {:>10.0} {:>15.0} {:>10.0} {:>10.0} {:>10.0}",
                s.name,
                s.from_sources_kg,
                s.loads_kg,
                s.exits_kg["discharge"],
                s.exits_kg["product"] + s.exits_kg["drift"] + s.exits_kg["solids"],
                s.reacted_kg,
                s.storage_change_kg
            );
        }
        let e = &self.energy;
        let _ = writeln!(o, "\nenergy");
        let _ = writeln!(
            o,
            "  electricity                     {:.0} kWh (pumping {:.0})",
            e.electricity_kwh, e.pumping_kwh
        );
        let _ = writeln!(
            o,
            "  heat                            {:.0} kWh_th",
            e.heat_kwh
        );
        let c = &self.co2e_kg;
        let _ = writeln!(
            o,
            "\ncarbon    {:.1} t CO2e (electricity {:.1}, heat {:.1}, chemicals {:.1}, other {:.1}); grid {}",
            self.co2e_total_t,
            c.electricity / 1e3,
            c.heat / 1e3,
            c.chemicals / 1e3,
            c.other / 1e3,
            self.grid_factor
        );
        let k = &self.cost_yuan;
        let _ = writeln!(
            o,
            "cost      {:.0} yuan (water {:.0}, electricity {:.0}, heat {:.0}, chemicals {:.0}, capital {:.0})",
            self.cost_total_yuan, k.water, k.electricity, k.heat, k.chemicals, k.capital
        );
        let b = &self.balance;
        let _ = writeln!(
            o,
            "\nbalance   largest relative residual {:.2e} (tolerance {:.0e}; water worst at {} step {}); {} violations",
            b.max_relative_residual, b.relative_tolerance, b.water.item, b.water.step, b.violations
        );
        if self.diagnostics.is_empty() {
            let _ = writeln!(o, "diagnostics none");
        } else {
            let _ = writeln!(o, "diagnostics");
            for (k, n) in &self.diagnostics {
                let first = self
                    .diagnostics_first
                    .iter()
                    .find(|d| kind_name(d.kind) == *k)
                    .map(|d| format!(" (first at step {}: {})", d.step, d.message))
                    .unwrap_or_default();
                let _ = writeln!(o, "  {k:<18} {n}{first}");
            }
        }
        let _ = writeln!(o);
        o.push_str(&self.kpi.to_text());
        o
    }
}
