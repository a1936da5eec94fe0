//! Smart dosing and make-up of cooling towers (issue #7, part 6): the `smart_control` option of a
//! `CoolingTower` (schema and defaults), and the comparison of smart control with fixed cycles on
//! the same park and drivers (`parktwin dosing PARK`).
//!
//! The controller itself (measurement, control law, inhibitor schedule, equations and sources) is
//! [`parktwin_units::dosing`]; this module only resolves its options and runs variants.
//!
//! ```ron
//! CoolingTower(id: "ct", ..., cycles: 8.0,
//!     scaling: (calcium: "ca", alkalinity: "alk", lsi_max: 0.5),
//!     inhibitor: (kg_per_m3: 0.004, lsi_credit: 1.5),
//!     smart_control: (lsi_target: 1.8, sensor: "CE-ct")),
//! ```
//!
//! **Variants compared.** `smart`: the park as written. `fixed N`: the same park with the
//! tower's `smart_control` removed, its `cycles` set to `N`, blowdown on fixed cycles and its LSI
//! and RSI caps removed (per-species limits kept), with the inhibitor at its fixed dose per m³ of
//! make-up. Every variant is stepped with the same drivers and events; after each step the true
//! (noise-free) LSI of each tower's basin at its hot-water temperature is evaluated from
//! `Storage`, so the index statistics compare like with like.

use crate::build::{BuildOptions, build};
use crate::load::{LoadError, ParkFile};
use crate::schema::{BlowdownSpec, UnitSpec};
use crate::summary::summarize;
use crate::validate::validate;
use parktwin_engine::network::Topology;
use parktwin_engine::record::Summary;
use parktwin_engine::state::{Clock, Flows, Species, Storage, UnitInputs};
use parktwin_units::CoolingTower;
use parktwin_units::chemistry::lsi;
use parktwin_units::cooling_tower::hot_water_c;
use parktwin_units::dosing::DosingStep;
use parktwin_units::weather::{Weather, weather_at};
use serde::{Deserialize, Serialize};

/// A cooling tower's smart controller (`smart_control: (...)`; see [`parktwin_units::dosing`]).
/// Needs the tower's `scaling` with `calcium` and `alkalinity`; replaces its blowdown control
/// (`blowdown` must stay `FixedCycles`) and its LSI/RSI caps; `cycles` is the upper bound and
/// `scaling.min_cycles` the lower one.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SmartControlSpec {
    /// Target LSI of the recirculating water at its hot-water temperature.
    pub lsi_target: f64,
    /// Proportional overdrive `K_p`, dimensionless (default 0.5).
    #[serde(default = "default_gain_p")]
    pub gain_p: f64,
    /// Integral time `T_i`, h (default 48; 0 switches the integrator off).
    #[serde(default = "default_integral_h")]
    pub integral_h: f64,
    /// Integrator bound, LSI units (default 0.5).
    #[serde(default = "default_integral_max")]
    pub integral_max: f64,
    /// Un-inhibited LSI limit: no inhibitor at or below it (default: the tower's
    /// `scaling.lsi_max`, else 0.5 [M], the index untreated water is commonly kept under). The
    /// full dose is reached at this limit plus the inhibitor's `lsi_credit`.
    #[serde(default)]
    pub lsi_uninhibited: Option<f64>,
    /// Recirculating inhibitor concentration at full dose, mg/L (default `1000·kg_per_m3·cycles`,
    /// what the fixed dose holds at the design cycles).
    #[serde(default)]
    pub inhibitor_full_mg_per_l: Option<f64>,
    /// Id of a declared `Conductivity` meter whose noise (`sd`, `bias`, TDS factor) the
    /// controller's reading carries (default: none, the true value).
    #[serde(default)]
    pub sensor: Option<String>,
    /// Seed of the sensor's noise stream (default 1).
    #[serde(default = "default_seed")]
    pub sensor_seed: u64,
}

fn default_gain_p() -> f64 {
    0.5
}
fn default_integral_h() -> f64 {
    48.0
}
fn default_integral_max() -> f64 {
    0.5
}
fn default_seed() -> u64 {
    1
}

/// The park with tower `id` on fixed cycles `n` (see the module docs); `None` when `id` is not
/// a cooling tower of the park.
pub fn fixed_variant(file: &ParkFile, id: &str, n: f64) -> Option<ParkFile> {
    let mut f = file.clone();
    let ct = f.park.units.iter_mut().find_map(|u| match u {
        UnitSpec::CoolingTower(s) if s.id == id => Some(s),
        _ => None,
    })?;
    ct.smart_control = None;
    ct.cycles = n;
    ct.blowdown = BlowdownSpec::FixedCycles;
    if let Some(s) = &mut ct.scaling {
        s.lsi_max = None;
        s.rsi_min = None;
    }
    Some(f)
}

/// Ids of the park's cooling towers with a smart controller.
pub fn smart_towers(file: &ParkFile) -> Vec<String> {
    file.park
        .units
        .iter()
        .filter_map(|u| match u {
            UnitSpec::CoolingTower(s) if s.smart_control.is_some() => Some(s.id.clone()),
            _ => None,
        })
        .collect()
}

/// One tower's figures in one variant.
#[derive(Clone, Debug, Serialize)]
pub struct TowerRun {
    /// Tower id.
    pub id: String,
    /// Make-up, m³.
    pub makeup_m3: f64,
    /// Blowdown (excluding drift), m³.
    pub blowdown_m3: f64,
    /// Evaporation, m³.
    pub evaporation_m3: f64,
    /// Chemicals booked by the tower (inhibitor and treatment chemicals), kg.
    pub chemicals_kg: f64,
    /// Their cost, yuan.
    pub chemicals_yuan: f64,
    /// Their carbon, kg CO2e.
    pub chemicals_co2e_kg: f64,
    /// Per step: true LSI of the basin at the end of the step, at the step's hot-water
    /// temperature (NaN when undefined).
    pub lsi: Vec<f64>,
    /// Per step: cycles used.
    pub cycles: Vec<f64>,
    /// The smart controller's record (empty on fixed cycles).
    pub controller: Vec<DosingStep>,
}

/// One variant's run.
#[derive(Clone, Debug, Serialize)]
pub struct VariantRun {
    /// `smart` or `fixed N`.
    pub name: String,
    /// Towers with a controller in the base park, in declaration order.
    pub towers: Vec<TowerRun>,
    /// Park intake (fresh and other counted sources), m³.
    pub intake_m3: f64,
    /// Park carbon, t CO2e.
    pub co2e_t: f64,
    /// Park cost, yuan.
    pub cost_yuan: f64,
    /// Worst relative closure residual of the run (water and species).
    pub max_relative_residual: f64,
    /// Closure violations.
    pub violations: u64,
}

/// Runs `file` and records the towers `ids` (see [`VariantRun`]).
pub fn run_variant(file: &ParkFile, name: &str, ids: &[String]) -> Result<VariantRun, DosingError> {
    let valid = validate(file)?;
    let meta = valid.meta.clone();
    let mut built = build(valid, BuildOptions::default())
        .map_err(|e| DosingError::Park(format!("{}: {e}", file.path.display())))?;
    let sim = &mut built.sim;
    let topo = sim.resource::<Topology>().clone();
    let units: Vec<usize> = ids
        .iter()
        .filter_map(|id| topo.unit_id.iter().position(|u| u == id))
        .collect();
    // Tower parameters for the index (hot-water temperature, species of calcium and alkalinity).
    let mut towers: Vec<(usize, CoolingTower)> = Vec::new();
    {
        let world = &mut sim.world;
        let mut q = world.query::<(&parktwin_engine::state::UnitIndex, &CoolingTower)>();
        for (i, ct) in q.iter(world) {
            if units.contains(&i.get()) {
                towers.push((i.get(), ct.clone()));
            }
        }
    }
    towers.sort_by_key(|(u, _)| units.iter().position(|x| x == u));
    let mut runs: Vec<TowerRun> = towers
        .iter()
        .map(|(u, _)| TowerRun {
            id: topo.unit_id[*u].clone(),
            makeup_m3: 0.0,
            blowdown_m3: 0.0,
            evaporation_m3: 0.0,
            chemicals_kg: 0.0,
            chemicals_yuan: 0.0,
            chemicals_co2e_kg: 0.0,
            lsi: Vec::new(),
            cycles: Vec::new(),
            controller: Vec::new(),
        })
        .collect();
    let steps = sim.resource::<Clock>().steps;
    let ns = sim.resource::<Species>().len();
    let (ca, alk, ph) = index_species(&towers);
    for _ in 0..steps {
        let step = sim.resource::<Clock>().step;
        let dt = sim.resource::<Clock>().dt_h;
        sim.step();
        let w = weather_at(sim.world.get_resource::<Weather>(), step);
        let flows = sim.resource::<Flows>();
        let inputs = sim.resource::<UnitInputs>();
        let storage = sim.resource::<Storage>();
        for (k, (u, ct)) in towers.iter().enumerate() {
            let p0 = topo.ports_of(*u).start;
            let m = flows.throughput[*u];
            let r = &mut runs[k];
            r.makeup_m3 += m * dt;
            r.blowdown_m3 += m * inputs.port_share[p0] * dt;
            r.evaporation_m3 += m * inputs.port_share[p0 + 1] * dt;
            let c = &storage.conc[u * ns..u * ns + ns];
            r.lsi.push(match (ca[k], alk[k]) {
                (Some(a), Some(b)) if c[0] > 0.0 && c[a] > 0.0 && c[b] > 0.0 => {
                    lsi(c[0], c[a], c[b], hot_water_c(ct, &w), ph[k])
                }
                _ => f64::NAN,
            });
        }
        let world = &mut sim.world;
        let mut q = world.query::<(&parktwin_engine::state::UnitIndex, &CoolingTower)>();
        for (i, ct) in q.iter(world) {
            if let Some(k) = towers.iter().position(|(u, _)| *u == i.get()) {
                runs[k].cycles.push(ct.cycles_now);
            }
        }
    }
    sim.finish();
    {
        let world = &mut sim.world;
        let mut q = world.query::<(&parktwin_engine::state::UnitIndex, &CoolingTower)>();
        for (i, ct) in q.iter(world) {
            if let Some(k) = towers.iter().position(|(u, _)| *u == i.get())
                && let Some(s) = &ct.smart
            {
                runs[k].controller = s.log.clone();
            }
        }
    }
    let es = sim.resource::<Summary>();
    for (k, (u, _)) in towers.iter().enumerate() {
        let t = &es.units[*u];
        runs[k].chemicals_kg = t.chemicals_kg;
        runs[k].chemicals_yuan = t.cost.chemicals;
        runs[k].chemicals_co2e_kg = t.carbon.chemicals;
    }
    let s = summarize(sim, &meta);
    Ok(VariantRun {
        name: name.to_string(),
        towers: runs,
        intake_m3: s.water_m3.intake,
        co2e_t: s.co2e_total_t,
        cost_yuan: s.cost_total_yuan,
        max_relative_residual: s.balance.max_relative_residual,
        violations: s.balance.violations,
    })
}

/// Why a comparison could not run.
#[derive(Debug, thiserror::Error)]
pub enum DosingError {
    /// The park (or a variant of it) is invalid.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The park has no tower with a controller, or could not be built.
    #[error("{0}")]
    Park(String),
}

type SpeciesOf = (Vec<Option<usize>>, Vec<Option<usize>>, Vec<Option<f64>>);

/// Calcium, alkalinity and controlled pH of each tower (from its scaling section).
fn index_species(towers: &[(usize, CoolingTower)]) -> SpeciesOf {
    let mut out = (Vec::new(), Vec::new(), Vec::new());
    for (_, ct) in towers {
        let s = ct.scaling.as_ref();
        out.0.push(s.and_then(|s| s.calcium));
        out.1.push(s.and_then(|s| s.alkalinity));
        out.2.push(s.and_then(|s| s.ph));
    }
    out
}

/// Index statistics of a tower's run after `skip` steps: min, max, and the number of steps
/// outside `target ± band`.
pub fn band_stats(lsi: &[f64], skip: usize, target: f64, band: f64) -> (f64, f64, usize) {
    let tail = lsi.get(skip..).unwrap_or(&[]);
    let min = tail.iter().copied().fold(f64::INFINITY, f64::min);
    let max = tail.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let out = tail
        .iter()
        .filter(|l| !((target - band)..=(target + band)).contains(*l))
        .count();
    (min, max, out)
}

/// The comparison of smart control with fixed cycles on one park.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Tower the fixed variants change (the first with a controller).
    pub tower: String,
    /// Its target LSI.
    pub lsi_target: f64,
    /// Band half-width the statistics use.
    pub band: f64,
    /// Steps skipped before the statistics (the start-up).
    pub skip_steps: usize,
    /// Smart control first, then one fixed variant per cycles asked for.
    pub variants: Vec<VariantRun>,
}

/// Runs the park as written (smart) and on each of `fixed` cycles (every tower with a
/// controller switched to fixed cycles), with the index statistics over `target ± band` after
/// `skip` steps.
pub fn compare(
    file: &ParkFile,
    fixed: &[f64],
    band: f64,
    skip: usize,
) -> Result<Comparison, DosingError> {
    let ids = smart_towers(file);
    let Some(first) = ids.first() else {
        return Err(DosingError::Park(format!(
            "{}: no CoolingTower has smart_control, so there is nothing to compare",
            file.path.display()
        )));
    };
    let target = file
        .park
        .units
        .iter()
        .find_map(|u| match u {
            UnitSpec::CoolingTower(s) if &s.id == first => {
                s.smart_control.as_ref().map(|c| c.lsi_target)
            }
            _ => None,
        })
        .unwrap_or(f64::NAN);
    let mut variants = vec![run_variant(file, "smart", &ids)?];
    for &n in fixed {
        let mut f = file.clone();
        for id in &ids {
            if let Some(v) = fixed_variant(&f, id, n) {
                f = v;
            }
        }
        variants.push(run_variant(&f, &format!("fixed {n}"), &ids)?);
    }
    Ok(Comparison {
        tower: first.clone(),
        lsi_target: target,
        band,
        skip_steps: skip,
        variants,
    })
}

impl Comparison {
    /// The comparison as a Markdown table (first tower).
    pub fn to_markdown(&self) -> String {
        let mut s = format!(
            "Tower {:?}, target LSI {:.2} ± {:.2} (statistics after step {}):\n\n",
            self.tower, self.lsi_target, self.band, self.skip_steps
        );
        s.push_str("| variant | make-up m³ | blowdown m³ | cycles min–max | LSI min | LSI max | steps out of band | inhibitor + chemicals kg | chemicals yuan | chemicals kg CO2e | park intake m³ | park t CO2e | park cost yuan | worst closure |\n");
        s.push_str("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for v in &self.variants {
            let Some(t) = v.towers.first() else { continue };
            let (lo, hi, out) = band_stats(&t.lsi, self.skip_steps, self.lsi_target, self.band);
            let nmin = t.cycles.iter().copied().fold(f64::INFINITY, f64::min);
            let nmax = t.cycles.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            s.push_str(&format!(
                "| {} | {:.0} | {:.0} | {:.2}–{:.2} | {:.3} | {:.3} | {} of {} | {:.1} | {:.0} | {:.1} | {:.0} | {:.2} | {:.0} | {:.1e} |\n",
                v.name,
                t.makeup_m3,
                t.blowdown_m3,
                nmin,
                nmax,
                lo,
                hi,
                out,
                t.lsi.len().saturating_sub(self.skip_steps),
                t.chemicals_kg,
                t.chemicals_yuan,
                t.chemicals_co2e_kg,
                v.intake_m3,
                v.co2e_t,
                v.cost_yuan,
                v.max_relative_residual,
            ));
        }
        s
    }
}
