//! `parktwin target PARK`: the water cascade analysis of a park ([`parktwin_parks::target`])
//! printed as text or JSON, and with `--out DIR` written as `target.json`, `cascade.csv`,
//! `composite.csv` and a report page `target.html` (the `target` section: the targets, the
//! cascade table and the composite curves as an inline SVG chart).

use crate::output::write_atomic;
use crate::sankey::{esc, fmt_num};
use crate::xy_chart::{Style, XySeries, xy_chart};
use anyhow::{Context, Result};
use parktwin_parks::target::{Extraction, Target, from_park, target};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::Path;

/// What `target` computed: the data used and the targets.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TargetReport {
    /// Park name.
    pub park: String,
    /// The species analysed.
    pub species: String,
    /// The sink/source data and what was left out.
    pub data: Extraction,
    /// The targets.
    pub target: Target,
}

/// Reads, validates and analyses a park.
pub fn analyse(path: &Path, species: &str) -> Result<TargetReport> {
    let file = parktwin_parks::load::from_path(path)?;
    parktwin_parks::validate::validate(&file)?;
    let data = from_park(&file, species)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("{}: no targeting data", path.display()))?;
    let t = target(&data.problem).with_context(|| format!("{}", path.display()))?;
    Ok(TargetReport {
        park: file.park.name.clone(),
        species: species.to_string(),
        data,
        target: t,
    })
}

/// The report as text for the terminal.
pub fn to_text(r: &TargetReport) -> String {
    let t = &r.target;
    let mut s = format!(
        "water cascade analysis of {} for {} (fresh water: {} at {} mg/L)\n",
        r.park, r.species, r.data.fresh_source, r.data.problem.fresh_ppm
    );
    let _ = writeln!(s, "minimum fresh water  {:.6} t/h", t.fresh_t_per_h);
    let _ = writeln!(s, "minimum wastewater   {:.6} t/h", t.wastewater_t_per_h);
    let _ = writeln!(
        s,
        "pinch                {}",
        match &t.pinch_ppm {
            Some(p) if t.pinches_ppm.len() > 1 => format!(
                "{p} mg/L (pinches at {})",
                t.pinches_ppm
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(p) => format!("{p} mg/L"),
            None => "none (threshold problem)".to_string(),
        }
    );
    let _ = writeln!(
        s,
        "sinks {:.6} t/h, sources {:.6} t/h ({} sinks, {} sources)",
        t.sinks_t_per_h,
        t.sources_t_per_h,
        r.data.problem.sinks.len(),
        r.data.problem.sources.len()
    );
    let _ = writeln!(
        s,
        "\n{:>12} {:>12} {:>12} {:>14} {:>14}",
        "C mg/L", "net t/h", "cum t/h", "cum load kg/h", "F_k t/h"
    );
    for l in &t.cascade {
        let _ = writeln!(
            s,
            "{:>12.4} {:>12.4} {:>12.4} {:>14.6} {:>14}",
            l.conc_ppm,
            l.net_flow_t_per_h,
            l.cum_flow_t_per_h,
            l.cum_load_kg_per_h,
            l.fresh_needed_t_per_h
                .map_or("—".to_string(), |f| format!("{f:.4}"))
        );
    }
    if !r.data.notes.is_empty() {
        let _ = writeln!(s, "\nnot in the analysis:");
        for n in &r.data.notes {
            let _ = writeln!(s, "  {n}");
        }
    }
    s
}

/// The `target` section of a report.
pub fn section(r: &TargetReport) -> String {
    let t = &r.target;
    let mut s = String::new();
    let _ = write!(
        s,
        "<h2>Water cascade analysis: {}</h2><p class=\"meta\">Minimum fresh water <b>{} t/h</b>, minimum wastewater <b>{} t/h</b>, pinch <b>{}</b>; fresh water {} at {} mg/L. Method: Manan, Tan &amp; Foo (2004), AIChE J. 50:3169; outlets of fixed-load operations at their maximum concentrations.</p>",
        esc(&r.species),
        fmt_num(t.fresh_t_per_h),
        fmt_num(t.wastewater_t_per_h),
        t.pinch_ppm
            .map_or("none (threshold problem)".to_string(), |p| format!(
                "{} mg/L",
                fmt_num(p)
            )),
        esc(&r.data.fresh_source),
        fmt_num(r.data.problem.fresh_ppm)
    );
    let pts = |v: &[parktwin_parks::target::Point]| {
        v.iter()
            .map(|p| (p.flow_t_per_h, p.load_kg_per_h))
            .collect()
    };
    let chart = xy_chart(
        &format!("Composite curves ({})", r.species),
        "cumulative flow, t/h",
        &format!("cumulative {} load, kg/h", r.species),
        &[
            XySeries {
                name: "sinks".into(),
                points: pts(&t.sink_composite),
                style: Style::Line,
            },
            XySeries {
                name: "fresh water + sources".into(),
                points: pts(&t.source_composite),
                style: Style::Line,
            },
        ],
        true,
    );
    let _ = write!(
        s,
        "<figure>{chart}<figcaption>Material recovery pinch diagram (El-Halwagi): sinks in ascending order of their limits from the origin; fresh water at the target followed by the sources in ascending order of concentration. The source curve lies on or below the sink curve up to the sinks' total flow and touches it at the pinch.</figcaption></figure>"
    );
    s.push_str("<table><tr><th>C, mg/L</th><th>net flow, t/h</th><th>cumulative flow, t/h</th><th>cumulative load, kg/h</th><th>interval fresh water, t/h</th></tr>");
    for l in &t.cascade {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            fmt_num(l.conc_ppm),
            fmt_num(l.net_flow_t_per_h),
            fmt_num(l.cum_flow_t_per_h),
            fmt_num(l.cum_load_kg_per_h),
            l.fresh_needed_t_per_h.map_or("—".into(), fmt_num)
        );
    }
    s.push_str("</table>");
    s.push_str("<table><tr><th>stream</th><th>kind</th><th>flow, t/h</th><th>C, mg/L</th></tr>");
    for (kind, list) in [
        ("sink", &r.data.problem.sinks),
        ("source", &r.data.problem.sources),
    ] {
        for x in list {
            let _ = write!(
                s,
                "<tr><td>{}</td><td class=\"l\">{kind}</td><td>{}</td><td>{}</td></tr>",
                esc(&x.id),
                fmt_num(x.flow_t_per_h),
                fmt_num(x.conc_ppm)
            );
        }
    }
    s.push_str("</table>");
    if !r.data.notes.is_empty() {
        s.push_str("<p class=\"small\">Not in the analysis: ");
        s.push_str(
            &r.data
                .notes
                .iter()
                .map(|n| esc(n))
                .collect::<Vec<_>>()
                .join("; "),
        );
        s.push_str("</p>");
    }
    s
}

/// The report page of a directory written by `parktwin target --out`, if it is one.
pub fn render_dir(dir: &Path) -> Result<Option<String>> {
    let path = dir.join("target.json");
    if !path.exists() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let r: TargetReport =
        serde_json::from_str(&text).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(page(&r)))
}

fn page(r: &TargetReport) -> String {
    crate::report::page_with(
        &format!("Water cascade analysis: {}", r.park),
        &format!("<h1>Targets: {}</h1>{}", esc(&r.park), section(r)),
    )
}

/// Writes `target.json`, `cascade.csv`, `composite.csv` and `target.html` into `dir`.
pub fn write(dir: &Path, r: &TargetReport) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    write_atomic(
        &dir.join("target.json"),
        serde_json::to_string_pretty(r)?.as_bytes(),
    )?;
    let mut c = String::from(
        "conc_mg_per_l,net_flow_t_per_h,cum_flow_t_per_h,interval_load_kg_per_h,cum_load_kg_per_h,fresh_needed_t_per_h\n",
    );
    for l in &r.target.cascade {
        let _ = writeln!(
            c,
            "{},{},{},{},{},{}",
            l.conc_ppm,
            l.net_flow_t_per_h,
            l.cum_flow_t_per_h,
            l.interval_load_kg_per_h,
            l.cum_load_kg_per_h,
            l.fresh_needed_t_per_h
                .map_or(String::new(), |f| f.to_string())
        );
    }
    write_atomic(&dir.join("cascade.csv"), c.as_bytes())?;
    let mut c = String::from("curve,flow_t_per_h,load_kg_per_h\n");
    for (name, v) in [
        ("sink", &r.target.sink_composite),
        ("source", &r.target.source_composite),
    ] {
        for p in v {
            let _ = writeln!(c, "{name},{},{}", p.flow_t_per_h, p.load_kg_per_h);
        }
    }
    write_atomic(&dir.join("composite.csv"), c.as_bytes())?;
    write_atomic(&dir.join("target.html"), page(r).as_bytes())?;
    Ok(())
}
