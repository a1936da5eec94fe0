//! `parktwin dosing PARK`: smart dosing and make-up against fixed cycles on the same park
//! (`parks::dosing`; docs/dosing.md). Prints the KPI table (Markdown) or JSON, and with `--out`
//! writes every variant's per-step series of the first controlled tower as `dosing.csv`.

use crate::atomic::write_atomic;
use anyhow::{Context, Result};
use parktwin_parks::dosing::{Comparison, compare};
use parktwin_parks::load::from_path;
use std::fmt::Write as _;
use std::path::Path;

/// Runs the comparison: the park as written, then each of `fixed` cycles (the design cycles of
/// the first controlled tower when empty); index statistics over `target ± band` after
/// `skip_h` hours.
pub fn run(park: &Path, fixed: &[f64], band: f64, skip_h: f64) -> Result<Comparison> {
    let file = from_path(park)?;
    let fixed: Vec<f64> = if fixed.is_empty() {
        let ids = parktwin_parks::dosing::smart_towers(&file);
        file.park
            .units
            .iter()
            .filter_map(|u| match u {
                parktwin_parks::schema::UnitSpec::CoolingTower(s) if ids.first() == Some(&s.id) => {
                    Some(s.cycles)
                }
                _ => None,
            })
            .collect()
    } else {
        fixed.to_vec()
    };
    let skip = (skip_h / file.park.time.step_h).ceil().max(0.0) as usize;
    Ok(compare(&file, &fixed, band, skip)?)
}

/// Per-step series of the first tower in every variant: `variant,step,lsi,cycles`, plus the
/// controller's measured TDS, measured LSI, integrator and inhibitor kg for the smart variant.
pub fn series_csv(c: &Comparison) -> String {
    let mut s = String::from(
        "variant,step,lsi,cycles,tds_measured_mg_per_l,lsi_measured,integral,inhibitor_kg\n",
    );
    for v in &c.variants {
        let Some(t) = v.towers.first() else { continue };
        for (k, l) in t.lsi.iter().enumerate() {
            let n = t.cycles.get(k).copied().unwrap_or(f64::NAN);
            let _ = match t.controller.get(k) {
                Some(d) => writeln!(
                    s,
                    "{},{k},{l},{n},{},{},{},{}",
                    v.name, d.tds_measured_mg_per_l, d.lsi, d.integral, d.inhibitor_kg
                ),
                None => writeln!(s, "{},{k},{l},{n},,,,", v.name),
            };
        }
    }
    s
}

/// Writes `dosing.csv` and `dosing.md` into `dir`.
pub fn write(dir: &Path, c: &Comparison) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomic(&dir.join("dosing.csv"), series_csv(c).as_bytes())?;
    write_atomic(&dir.join("dosing.md"), c.to_markdown().as_bytes())?;
    Ok(())
}
