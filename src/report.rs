//! The self-contained HTML report (`parktwin report RUN_DIR -o report.html`, or
//! `parktwin run PARK --report FILE`): one file with inline SVG charts and no network fetch, no
//! script and no external style, readable on screen and in print.
//!
//! A run's report shows: a Sankey of the park's water; intake by source kind over time; tank
//! levels; TDS (or another species) at chosen points; energy and carbon by origin per month;
//! unit-product intake against the Action Plan; the KPI table against targets with the intake
//! policy; the GB/T 12452 water-balance table; discharge per species; caveats and diagnostics.
//! It reads what `parktwin run --out RUN_DIR` writes (`summary.json`, `kpis.json`,
//! `park_series.csv`, `unit_series.csv`, `sankey/water.echarts.json`).
//!
//! A sweep's report ([`sweep_section`]) shows the distribution of each KPI over the scenarios and
//! a table ranking them; [`read_results_csv`] reads a `results.csv` with one row per scenario.

use crate::observe::time_label;
use crate::sankey::{Sankey, esc, fmt_num};
use crate::svg::{Series, bar_chart, strip_chart, time_chart};
use anyhow::{Context, Result};
use parktwin_parks::kpi::{KPI_KEYS, KpiReport, describe, format_value};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

/// What the report shows.
#[derive(Clone, Debug, Default)]
pub struct ReportOptions {
    /// Units whose concentration is charted (default: tanks, cooling towers and outfalls).
    pub points: Vec<String>,
    /// Species charted at those points (default `tds`).
    pub species: Option<String>,
}

const STYLE: &str = r#"
body{font-family:"DejaVu Sans","Noto Sans","Noto Sans CJK SC","WenQuanYi Zen Hei",system-ui,sans-serif;margin:20px auto;max-width:1010px;color:#222;font-size:13px;line-height:1.4}
h1{font-size:21px;margin:0 0 4px}h2{font-size:16px;border-bottom:1px solid #bbb;padding-bottom:2px;margin:26px 0 8px}
p.meta{color:#555;margin:2px 0}
table{border-collapse:collapse;font-size:11.5px;margin:6px 0 10px}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right;vertical-align:top}
th{background:#f3f3f3;text-align:left}td:first-child{text-align:left}
td.l{text-align:left}
.pass{color:#17661b;font-weight:bold}.fail{color:#b21f1f;font-weight:bold}.na{color:#888}
figure{margin:8px 0 14px;page-break-inside:avoid}figcaption{font-size:11.5px;color:#444;max-width:900px}
svg.chart{max-width:100%;height:auto;font-family:inherit}
.small{font-size:11px;color:#555}
.grid{display:flex;flex-wrap:wrap;gap:6px}
@media print{body{margin:0;max-width:none;font-size:11px}h2{page-break-after:avoid}table,figure{page-break-inside:avoid}}
"#;

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<meta name=\"generator\" content=\"parktwin {}\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        esc(title)
    )
}

/// A whole report page around `body` (for the `target` and `optimize` pages).
pub fn page_with(title: &str, body: &str) -> String {
    page(title, body)
}

/// A CSV file as its header and rows of strings.
fn read_csv(path: &Path) -> Result<(Vec<String>, Vec<csv::StringRecord>)> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("reading {}", path.display()))?;
    let header = r.headers()?.iter().map(str::to_string).collect();
    let rows = r.records().collect::<Result<Vec<_>, _>>()?;
    Ok((header, rows))
}

fn f(r: &csv::StringRecord, i: usize) -> f64 {
    r.get(i).and_then(|x| x.parse().ok()).unwrap_or(f64::NAN)
}

/// Buckets of steps for charts: days (or hours for runs up to three days).
struct Buckets {
    x: Vec<f64>,
    of_step: Vec<usize>,
    per_day: bool,
}

fn buckets(times_h: &[f64]) -> Buckets {
    let span = times_h.last().copied().unwrap_or(0.0) - times_h.first().copied().unwrap_or(0.0);
    let per_day = span > 72.0;
    let key = |t: f64| if per_day { (t / 24.0).floor() } else { t };
    let mut x = Vec::new();
    let mut of_step = Vec::with_capacity(times_h.len());
    for &t in times_h {
        let k = key(t);
        if x.last() != Some(&k) {
            x.push(k);
        }
        of_step.push(x.len() - 1);
    }
    Buckets {
        x,
        of_step,
        per_day,
    }
}

fn mean_by(b: &Buckets, v: &[f64]) -> Vec<f64> {
    let mut sum = vec![0.0; b.x.len()];
    let mut n = vec![0usize; b.x.len()];
    for (k, &x) in v.iter().enumerate() {
        if x.is_finite() {
            sum[b.of_step[k]] += x;
            n[b.of_step[k]] += 1;
        }
    }
    sum.iter()
        .zip(&n)
        .map(|(s, &n)| if n > 0 { s / n as f64 } else { f64::NAN })
        .collect()
}

fn status(p: Option<bool>) -> String {
    match p {
        Some(true) => r#"<span class="pass">PASS</span>"#.to_string(),
        Some(false) => r#"<span class="fail">FAIL</span>"#.to_string(),
        None => String::new(),
    }
}

fn kpi_section(k: &KpiReport) -> String {
    let mut s = String::new();
    let scopes: Vec<_> = std::iter::once(&k.park_kpis)
        .chain(&k.enterprises)
        .collect();
    let _ = write!(
        s,
        "<h2>KPIs against targets</h2><table><tr><th>indicator</th>"
    );
    for sc in &scopes {
        let _ = write!(s, "<th>{}</th>", esc(&sc.scope));
    }
    s.push_str("</tr>");
    for key in KPI_KEYS {
        let (name, zh, ..) = describe(key);
        let _ = write!(
            s,
            "<tr><td>{} <span class=\"small\" lang=\"zh\">{}</span></td>",
            esc(name),
            esc(zh)
        );
        for sc in &scopes {
            match sc.get(key) {
                Some(x) => {
                    let v = format_value(x, x.value);
                    let target = x
                        .target
                        .map(|_| {
                            format!(
                                "<br><span class=\"small\">target {} {}</span> {}",
                                if x.higher_is_better { "≥" } else { "≤" },
                                format_value(x, x.target),
                                status(x.pass)
                            )
                        })
                        .unwrap_or_default();
                    let class = if x.value.is_none() {
                        " class=\"na\""
                    } else {
                        ""
                    };
                    let _ = write!(
                        s,
                        "<td{class} title=\"{}\">{}{target}</td>",
                        esc(&x.note),
                        esc(&v)
                    );
                }
                None => s.push_str("<td></td>"),
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    let _ = write!(
        s,
        "<p class=\"small\"><b>Intake policy.</b> {}</p><table><tr><th>indicator</th><th>formula</th><th>definition</th><th>standard</th></tr>",
        esc(&k.policy.text)
    );
    for key in KPI_KEYS {
        let (name, _, std, formula, def, _) = describe(key);
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            esc(name),
            esc(formula),
            esc(def),
            esc(std)
        );
    }
    s.push_str("</table>");
    let notes: Vec<String> = scopes
        .iter()
        .flat_map(|sc| {
            sc.kpis
                .iter()
                .filter(|x| !x.note.is_empty())
                .map(move |x| format!("{} / {}: {}", sc.scope, x.name, x.note))
        })
        .collect();
    if !notes.is_empty() {
        let _ = write!(
            s,
            "<p class=\"small\">Notes: {}.</p>",
            esc(&notes.join("; "))
        );
    }
    s
}

fn product_section(k: &KpiReport) -> String {
    let mut s = String::from("<h2>Unit-product intake against the Action Plan</h2>");
    let compared: Vec<_> = k
        .products
        .iter()
        .filter(|p| p.reference.is_some() && p.m3_per_unit.is_some())
        .collect();
    if !compared.is_empty() {
        let cats: Vec<String> = compared
            .iter()
            .map(|p| {
                format!(
                    "{} ({})",
                    p.product,
                    p.reference.as_ref().map(|r| r.unit.as_str()).unwrap_or("")
                )
            })
            .collect();
        let pick = |g: &dyn Fn(&parktwin_parks::kpi::ProductIntake) -> f64| {
            compared.iter().map(|p| g(p)).collect::<Vec<f64>>()
        };
        let chart = bar_chart(
            "Unit-product intake vs 2020 baseline and 2025 target",
            "m³ per product unit",
            &cats,
            &[
                Series {
                    name: "this run".into(),
                    values: pick(&|p| p.m3_per_unit.unwrap_or(f64::NAN)),
                },
                Series {
                    name: "2020 baseline".into(),
                    values: pick(&|p| {
                        p.reference
                            .as_ref()
                            .map(|r| r.baseline_2020)
                            .unwrap_or(f64::NAN)
                    }),
                },
                Series {
                    name: "2025 target".into(),
                    values: pick(&|p| {
                        p.reference
                            .as_ref()
                            .map(|r| r.target_2025)
                            .unwrap_or(f64::NAN)
                    }),
                },
            ],
            false,
        );
        let _ = write!(
            s,
            "<figure>{chart}<figcaption>Intake per unit of product (policy intake of the enterprise, transfers included) beside the Action Plan's national 2020 average and its 2025 target.</figcaption></figure>"
        );
    }
    s.push_str("<table><tr><th>enterprise</th><th>product</th><th>output</th><th>intake, m³</th><th>m³/unit</th><th>2020 baseline</th><th>2025 target</th><th>vs target</th><th>distance</th><th>note</th></tr>");
    for p in &k.products {
        let r = p.reference.as_ref();
        let _ = write!(
            s,
            "<tr><td>{}</td><td class=\"l\">{}</td><td>{} {}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l small\">{}</td></tr>",
            esc(&p.enterprise),
            esc(&p.product),
            fmt_num(p.output),
            esc(&p.product_unit),
            fmt_num(p.intake_m3),
            p.m3_per_unit
                .map(|v| format!("{v:.3}"))
                .unwrap_or_else(|| "n/a".into()),
            r.map(|r| format!("{} {}", r.baseline_2020, r.unit))
                .unwrap_or_default(),
            r.map(|r| format!("{:.3} (−{} %)", r.target_2025, r.reduction_2025_pct))
                .unwrap_or_default(),
            status(p.meets_target_2025),
            match (p.distance_to_target, p.distance_to_target_pct) {
                (Some(d), Some(pc)) => format!("{d:+.3} ({pc:+.1} %)"),
                _ => String::new(),
            },
            esc(&[p.allocation.as_str(), p.note.as_str()]
                .iter()
                .filter(|x| !x.is_empty())
                .copied()
                .collect::<Vec<_>>()
                .join("; "))
        );
    }
    let _ = write!(
        s,
        "</table><p class=\"small\">Source: {}.</p>",
        esc(&k.action_plan_source)
    );
    s
}

fn balance_section(k: &KpiReport) -> String {
    let mut s = String::from(
        "<h2>Water balance (GB/T 12452), m³ over the run</h2><table><tr><th>item</th>",
    );
    for b in &k.balances {
        let _ = write!(s, "<th>{}</th>", esc(&b.scope));
    }
    s.push_str("</tr>");
    let mut kinds: Vec<String> = Vec::new();
    for b in &k.balances {
        for key in b.inflow_by_kind.keys() {
            if !kinds.contains(key) {
                kinds.push(key.clone());
            }
        }
    }
    let row = |s: &mut String,
               label: &str,
               bold: bool,
               g: &dyn Fn(&parktwin_parks::kpi::WaterBalance) -> String| {
        let (o, c) = if bold { ("<b>", "</b>") } else { ("", "") };
        let _ = write!(s, "<tr><td>{o}{}{c}</td>", esc(label));
        for b in &k.balances {
            let _ = write!(s, "<td>{o}{}{c}</td>", g(b));
        }
        s.push_str("</tr>");
    };
    for kind in &kinds {
        row(
            &mut s,
            &format!("in: {}", kind.replace('_', " ")),
            false,
            &|b| {
                let v = b.inflow_by_kind.get(kind).copied().unwrap_or(0.0);
                let mark = match b.counted_as_intake.get(kind) {
                    Some(true) => " ✱",
                    _ => "",
                };
                format!("{}{mark}", fmt_num(v))
            },
        );
    }
    let m = |v: f64| fmt_num(v);
    row(&mut s, "ΣV_in total inflow", true, &|b| m(b.total_inflow));
    row(&mut s, "V_i intake (✱ counted)", true, &|b| m(b.intake));
    row(&mut s, "unconventional water", false, &|b| {
        m(b.unconventional)
    });
    row(&mut s, "recirculated (cooling)", false, &|b| {
        m(b.recirculated)
    });
    row(&mut s, "serial reuse", false, &|b| m(b.serial_reuse));
    row(&mut s, "V_r repeated use", true, &|b| m(b.repeated_use));
    row(&mut s, "V_t = V_i + V_r total use", false, &|b| {
        m(b.total_use)
    });
    row(&mut s, "evaporation", false, &|b| m(b.evaporation));
    row(&mut s, "drift", false, &|b| m(b.drift));
    row(&mut s, "into product", false, &|b| m(b.product));
    row(&mut s, "in solids", false, &|b| m(b.solids));
    row(&mut s, "V_co consumption", true, &|b| m(b.consumption));
    row(&mut s, "V_d discharge", true, &|b| m(b.discharge));
    row(&mut s, "drained to others", false, &|b| {
        m(b.drained_to_others)
    });
    row(&mut s, "V_l leakage", false, &|b| m(b.leakage));
    row(&mut s, "spill", false, &|b| m(b.spill));
    row(&mut s, "ΣV_out total outflow", true, &|b| {
        m(b.total_outflow)
    });
    row(&mut s, "ΔS storage change", false, &|b| m(b.storage_change));
    row(&mut s, "closure ΣV_in − ΣV_out − ΔS", false, &|b| {
        format!("{:.3e}", b.closure_m3)
    });
    row(&mut s, "closure error δ", true, &|b| {
        format!("{:.1e} {}", b.closure_error, status(Some(b.closure_ok)))
    });
    let _ = write!(
        s,
        "</table><p class=\"small\">δ = |ΣV_in − ΣV_out − ΔS|/ΣV_in, accepted up to {} %. Enterprise columns treat each enterprise as a separate accounting unit: water received from outside it is its intake (transfer_used: reclaimed or used water; transfer_unused: fresh water passed on), water it sends to units outside it is drained to others; at park level those transfers are internal.</p>",
        100.0 * k.policy.closure_tolerance
    );
    s.push_str("<h2>Discharge per species</h2><table><tr><th>scope</th><th>species</th><th>to the environment, kg</th><th>drained to others, kg</th></tr>");
    for sc in std::iter::once(&k.park_kpis).chain(&k.enterprises) {
        for (sp, v) in &sc.discharge_kg {
            let _ = write!(
                s,
                "<tr><td>{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&sc.scope),
                esc(sp),
                fmt_num(*v),
                sc.drained_kg
                    .get(sp)
                    .map(|x| fmt_num(*x))
                    .unwrap_or_default()
            );
        }
    }
    s.push_str("</table>");
    s
}

/// Renders the report of a run directory written by `parktwin run --out`.
pub fn render_run(dir: &Path, opts: &ReportOptions) -> Result<String> {
    let summary: Value = serde_json::from_slice(
        &std::fs::read(dir.join("summary.json"))
            .with_context(|| format!("reading {}", dir.join("summary.json").display()))?,
    )?;
    let kpi: KpiReport = serde_json::from_slice(&std::fs::read(dir.join("kpis.json"))?)
        .context("reading kpis.json")?;
    let park = summary["park"].as_str().unwrap_or("park").to_string();
    let start = summary["start"].as_str().unwrap_or("").to_string();
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>{}</h1><p class=\"meta\">{} steps of {} h from {}; strategy {}; grid factor {}.</p>",
        esc(&park),
        summary["steps"],
        summary["step_h"],
        esc(&start),
        esc(summary["strategy"].as_str().unwrap_or("")),
        esc(summary["grid_factor"].as_str().unwrap_or(""))
    );
    let w = &summary["water_m3"];
    let g = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let _ = write!(
        body,
        "<p class=\"meta\">Intake {} m³; repeated use {} m³ (rate {}); discharge {} m³; electricity {} kWh; {} t CO2e; cost {} yuan; largest balance residual {:.1e} (tolerance {:.0e}).</p>",
        fmt_num(g(&w["intake"])),
        fmt_num(g(&w["repeated_use"])),
        format_value(
            kpi.park_kpis
                .get("repeated_use_rate")
                .expect("always present"),
            kpi.park_kpis.value("repeated_use_rate")
        ),
        fmt_num(g(&w["discharge"])),
        fmt_num(g(&summary["energy"]["electricity_kwh"])),
        fmt_num(g(&summary["co2e_total_t"])),
        fmt_num(g(&summary["cost_total_yuan"])),
        g(&summary["balance"]["max_relative_residual"]),
        g(&summary["balance"]["relative_tolerance"])
    );
    // Water Sankey.
    body.push_str("<h2>Water through the park</h2>");
    match std::fs::read(dir.join("sankey").join("water.echarts.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|v| Sankey::from_echarts(&v))
    {
        Some(sk) => {
            let _ = write!(
                body,
                "<figure>{}<figcaption>Water in m³ ({}), left to right: supply, units in flow order, exits. A reuse loop is cut in two: water returning upstream leaves into <i>out: reuse loop → X</i> on the right and re-enters from <i>in: reuse loop → X</i> on the left (equal amounts). Storage changes appear as <i>in: from storage</i> and <i>out: stored</i>.</figcaption></figure>",
                sk.to_svg(1000.0, 520.0),
                esc(&sk.period)
            );
        }
        None => body.push_str("<p>No Sankey data (sankey/water.echarts.json).</p>"),
    }
    // Park series.
    let units: Vec<Value> = summary["units"].as_array().cloned().unwrap_or_default();
    let unit_type = |id: &str| -> String {
        units
            .iter()
            .find(|u| u["id"] == id)
            .and_then(|u| u["type"].as_str())
            .unwrap_or("")
            .to_string()
    };
    let label_of = |per_day: bool| {
        let start = start.clone();
        move |x: f64| {
            let h = if per_day { x * 24.0 } else { x };
            let l = time_label(&start, h);
            if per_day {
                l.get(5..10).unwrap_or(&l).to_string()
            } else {
                l.get(5..16).unwrap_or(&l).replace('T', " ")
            }
        }
    };
    if let Ok((header, rows)) = read_csv(&dir.join("park_series.csv")) {
        let th = header.iter().position(|h| h == "time_h").unwrap_or(2);
        let times: Vec<f64> = rows.iter().map(|r| f(r, th)).collect();
        let b = buckets(&times);
        let col = |name: &str| header.iter().position(|h| h == name);
        let series_of = |cols: &[(String, usize)]| -> Vec<Series> {
            cols.iter()
                .map(|(n, c)| Series {
                    name: n.clone(),
                    values: mean_by(&b, &rows.iter().map(|r| f(r, *c)).collect::<Vec<_>>()),
                })
                .collect()
        };
        let intake: Vec<(String, usize)> = header
            .iter()
            .enumerate()
            .filter_map(|(i, h)| {
                h.strip_prefix("intake_")
                    .and_then(|k| k.strip_suffix("_m3_per_h"))
                    .map(|k| (k.replace('_', " "), i))
            })
            .collect();
        let lab = label_of(b.per_day);
        let _ = write!(
            body,
            "<h2>Intake by source kind</h2><figure>{}<figcaption>Withdrawal by source kind, {} mean, m³/h (stacked).</figcaption></figure>",
            time_chart(
                "Intake by source kind",
                "m³/h",
                &b.x,
                &series_of(&intake),
                true,
                &lab
            ),
            if b.per_day { "daily" } else { "hourly" }
        );
        // Energy and carbon by origin per month (or day).
        let labels: Vec<String> = rows
            .iter()
            .map(|r| {
                let t = r.get(1).unwrap_or("");
                t.get(
                    ..if times.last().copied().unwrap_or(0.0) > 60.0 * 24.0 {
                        7
                    } else {
                        10
                    },
                )
                .unwrap_or(t)
                .to_string()
            })
            .collect();
        let mut cats: Vec<String> = Vec::new();
        let mut idx = Vec::with_capacity(labels.len());
        for l in &labels {
            if cats.last() != Some(l) {
                cats.push(l.clone());
            }
            idx.push(cats.len() - 1);
        }
        let sum_by = |c: Option<usize>, k: f64| -> Vec<f64> {
            let mut v = vec![0.0; cats.len()];
            if let Some(c) = c {
                for (i, r) in rows.iter().enumerate() {
                    let x = f(r, c);
                    if x.is_finite() {
                        v[idx[i]] += x * k;
                    }
                }
            }
            v
        };
        let grid = sum_by(col("grid_import_kwh"), 1e-3);
        let elec = sum_by(col("electricity_kwh"), 1e-3);
        let onsite: Vec<f64> = elec
            .iter()
            .zip(&grid)
            .map(|(e, g)| (e - g).max(0.0))
            .collect();
        let energy = [
            Series {
                name: "grid electricity".into(),
                values: grid,
            },
            Series {
                name: "on-site electricity".into(),
                values: onsite,
            },
            Series {
                name: "heat".into(),
                values: sum_by(col("heat_kwh"), 1e-3),
            },
        ];
        let carbon = [
            Series {
                name: "electricity".into(),
                values: sum_by(col("co2e_electricity_kg"), 1e-3),
            },
            Series {
                name: "heat".into(),
                values: sum_by(col("co2e_heat_kg"), 1e-3),
            },
            Series {
                name: "chemicals".into(),
                values: sum_by(col("co2e_chemicals_kg"), 1e-3),
            },
            Series {
                name: "other (water, direct)".into(),
                values: sum_by(col("co2e_other_kg"), 1e-3),
            },
        ];
        let _ = write!(
            body,
            "<h2>Energy and carbon by origin</h2><figure>{}</figure><figure>{}<figcaption>Per period: electricity from the grid (after on-site generation, hour by hour) and on site, heat; CO2e of grid electricity, heat, chemicals and other sources (purchased water, direct emissions).</figcaption></figure>",
            bar_chart("Energy by origin", "MWh", &cats, &energy, true),
            bar_chart("Carbon by origin", "t CO2e", &cats, &carbon, true)
        );
    } else {
        body.push_str("<p>No park series (park_series.csv).</p>");
    }
    // Unit series: tank levels and concentrations.
    if let Ok((header, rows)) = read_csv(&dir.join("unit_series.csv")) {
        let col = |name: &str| header.iter().position(|h| h == name);
        let (cu, ct, cv) = (
            col("unit").unwrap_or(3),
            col("time_h").unwrap_or(2),
            col("volume_m3"),
        );
        let species = opts.species.clone().unwrap_or_else(|| "tds".to_string());
        let cc = col(&format!("{species}_mg_per_l"));
        let tanks: Vec<String> = units
            .iter()
            .filter(|u| u["type"] == "Tank")
            .filter_map(|u| u["id"].as_str().map(str::to_string))
            .collect();
        let points: Vec<String> = if opts.points.is_empty() {
            units
                .iter()
                .filter(|u| {
                    matches!(
                        u["type"].as_str(),
                        Some("Tank" | "CoolingTower" | "Discharge")
                    )
                })
                .filter_map(|u| u["id"].as_str().map(str::to_string))
                .collect()
        } else {
            opts.points.clone()
        };
        // Per unit: times, volumes, concentrations.
        type Columns = (Vec<f64>, Vec<f64>, Vec<f64>);
        let mut by_unit: BTreeMap<&str, Columns> = BTreeMap::new();
        for r in &rows {
            let id = r.get(cu).unwrap_or("");
            if !tanks.iter().any(|t| t == id) && !points.iter().any(|p| p == id) {
                continue;
            }
            let e = by_unit
                .entry(
                    tanks
                        .iter()
                        .chain(&points)
                        .find(|x| *x == id)
                        .map(String::as_str)
                        .unwrap_or(""),
                )
                .or_default();
            e.0.push(f(r, ct));
            e.1.push(cv.map(|c| f(r, c)).unwrap_or(f64::NAN));
            e.2.push(cc.map(|c| f(r, c)).unwrap_or(f64::NAN));
        }
        let chart_for =
            |ids: &[String], which: usize, title: &str, unit: &str, what: &str| -> String {
                let Some(first) = ids.iter().find_map(|i| by_unit.get(i.as_str())) else {
                    return format!("<p>No {what} to chart.</p>");
                };
                let b = buckets(&first.0);
                let series: Vec<Series> = ids
                    .iter()
                    .filter_map(|i| {
                        by_unit.get(i.as_str()).map(|v| Series {
                            name: format!("{i} ({})", unit_type(i)),
                            values: mean_by(&b, if which == 1 { &v.1 } else { &v.2 }),
                        })
                    })
                    .collect();
                let lab = label_of(b.per_day);
                format!(
                    "<figure>{}<figcaption>{}, {} mean.</figcaption></figure>",
                    time_chart(title, unit, &b.x, &series, false, &lab),
                    esc(title),
                    if b.per_day { "daily" } else { "hourly" }
                )
            };
        body.push_str("<h2>Tank levels</h2>");
        body.push_str(&chart_for(
            &tanks,
            1,
            "Stored volume of tanks",
            "m³",
            "tanks",
        ));
        let _ = write!(
            body,
            "<h2>{} at chosen points</h2>",
            esc(&species.to_uppercase())
        );
        body.push_str(&chart_for(
            &points,
            2,
            &format!("{} concentration", species.to_uppercase()),
            "mg/L",
            "points",
        ));
        body.push_str("<p class=\"small\">Concentration of a tank or cooling tower: its contents at the end of each step; of other units: their inlet mix.</p>");
    } else {
        body.push_str("<p>No unit series (unit_series.csv).</p>");
    }
    body.push_str(&kpi_section(&kpi));
    body.push_str(&product_section(&kpi));
    body.push_str(&balance_section(&kpi));
    if !kpi.caveats.is_empty() {
        body.push_str("<h2>Caveats</h2><ul>");
        for c in &kpi.caveats {
            let _ = write!(body, "<li>{}</li>", esc(c));
        }
        body.push_str("</ul>");
    }
    body.push_str("<h2>Diagnostics</h2>");
    match summary["diagnostics"].as_object() {
        Some(d) if !d.is_empty() => {
            body.push_str("<table><tr><th>kind</th><th>count</th></tr>");
            for (k, n) in d {
                let _ = write!(body, "<tr><td>{}</td><td>{}</td></tr>", esc(k), n);
            }
            body.push_str("</table>");
        }
        _ => body.push_str("<p>None.</p>"),
    }
    if dir.join("results.csv").exists() {
        let rows = read_results_csv(&dir.join("results.csv"))?;
        body.push_str(&sweep_section(&rows, None));
    }
    let _ = write!(
        body,
        "<p class=\"small\">Made by parktwin {} from {}. Self-contained: no scripts, fonts or data are fetched.</p>",
        env!("CARGO_PKG_VERSION"),
        esc(&dir.display().to_string())
    );
    Ok(page(&format!("{park} — parktwin report"), &body))
}

/// One scenario of a sweep: its id and its figures by column name (KPI keys, `intake_m3`, …).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SweepRow {
    /// Scenario id.
    pub scenario: String,
    /// Figures by column.
    pub values: BTreeMap<String, f64>,
}

/// Reads a `results.csv` with one row per scenario (as `parktwin sweep` writes it): the column
/// named `scenario` or `id` (else the first) is the scenario id; every other column with
/// numbers, except `index`, is a figure. Empty or non-numeric cells (a failed case) are left
/// out of that scenario's figures.
pub fn read_results_csv(path: &Path) -> Result<Vec<SweepRow>> {
    let (header, rows) = read_csv(path)?;
    let id = header
        .iter()
        .position(|h| h == "scenario" || h == "id")
        .unwrap_or(0);
    Ok(rows
        .iter()
        .map(|r| SweepRow {
            scenario: r.get(id).unwrap_or("").to_string(),
            values: header
                .iter()
                .enumerate()
                .filter(|(i, h)| *i != id && h.as_str() != "index")
                .filter_map(|(i, h)| {
                    r.get(i)
                        .and_then(|x| x.parse::<f64>().ok())
                        .filter(|v| v.is_finite())
                        .map(|v| (h.clone(), v))
                })
                .collect(),
        })
        .collect())
}

/// Whether higher values of a sweep column are better: rates and KPIs by their definition,
/// anything else (intake, discharge, energy, carbon, cost) lower.
pub fn higher_is_better(column: &str) -> bool {
    if KPI_KEYS.contains(&column) {
        describe(column).5
    } else {
        column.ends_with("_rate") && !column.contains("leak")
    }
}

/// The sweep part of a report: the distribution of each figure over the scenarios (one strip
/// plot per column, with the median and range) and a table ranking the scenarios by `rank_by`
/// (default: the repeated-use rate when present, else the first column), best first.
pub fn sweep_section(rows: &[SweepRow], rank_by: Option<&str>) -> String {
    let mut s = String::new();
    let _ = write!(s, "<h2>Sweep: {} scenarios</h2>", rows.len());
    let mut columns: Vec<String> = Vec::new();
    for r in rows {
        for k in r.values.keys() {
            if !columns.contains(k) {
                columns.push(k.clone());
            }
        }
    }
    // KPI columns first, in their order, then the rest alphabetically.
    columns.sort_by_key(|c| {
        (
            KPI_KEYS.iter().position(|k| k == c).unwrap_or(usize::MAX),
            c.clone(),
        )
    });
    if rows.is_empty() || columns.is_empty() {
        s.push_str("<p>No scenario results.</p>");
        return s;
    }
    s.push_str("<div class=\"grid\">");
    for c in &columns {
        let values: Vec<f64> = rows
            .iter()
            .filter_map(|r| r.values.get(c).copied())
            .collect();
        let (title, unit, scale) = if KPI_KEYS.contains(&c.as_str()) {
            let (name, ..) = describe(c);
            if c.ends_with("_rate") {
                (name.to_string(), "%".to_string(), 100.0)
            } else {
                (name.to_string(), "m³/10⁴ yuan".to_string(), 1.0)
            }
        } else {
            (
                c.replace('_', " "),
                c.rsplit('_').next().unwrap_or("").to_string(),
                1.0,
            )
        };
        let v: Vec<f64> = values.iter().map(|x| x * scale).collect();
        let _ = write!(
            s,
            "<figure>{}</figure>",
            strip_chart(&title, &unit, &v, None)
        );
    }
    s.push_str("</div>");
    let key = rank_by
        .map(str::to_string)
        .filter(|k| columns.contains(k))
        .unwrap_or_else(|| {
            if columns.iter().any(|c| c == "repeated_use_rate") {
                "repeated_use_rate".to_string()
            } else {
                columns[0].clone()
            }
        });
    let hib = higher_is_better(&key);
    let mut ranked: Vec<&SweepRow> = rows.iter().collect();
    ranked.sort_by(|a, b| {
        let (x, y) = (a.values.get(&key), b.values.get(&key));
        match (x, y) {
            (Some(x), Some(y)) => {
                if hib {
                    y.total_cmp(x)
                } else {
                    x.total_cmp(y)
                }
            }
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        }
        .then(a.scenario.cmp(&b.scenario))
    });
    let _ = write!(
        s,
        "<p>Scenarios ranked by <b>{}</b> ({} is better).</p><table><tr><th>rank</th><th>scenario</th>",
        esc(&key),
        if hib { "higher" } else { "lower" }
    );
    for c in &columns {
        let _ = write!(s, "<th>{}</th>", esc(c));
    }
    s.push_str("</tr>");
    for (i, r) in ranked.iter().enumerate() {
        let _ = write!(s, "<tr><td>{}</td><td>{}</td>", i + 1, esc(&r.scenario));
        for c in &columns {
            let cell = match r.values.get(c) {
                Some(v) if c.ends_with("_rate") => format!("{:.2} %", 100.0 * v),
                Some(v) => fmt_num(*v),
                None => "—".to_string(),
            };
            let _ = write!(s, "<td>{cell}</td>");
        }
        s.push_str("</tr>");
    }
    s.push_str("</table>");
    s
}

/// A whole report page for a sweep alone.
pub fn render_sweep(title: &str, rows: &[SweepRow], rank_by: Option<&str>) -> String {
    page(
        title,
        &format!("<h1>{}</h1>{}", esc(title), sweep_section(rows, rank_by)),
    )
}

/// Renders the report of `dir`: a run (`kpis.json` present, with a sweep section when a
/// `results.csv` is there too) or a sweep alone (`results.csv` only).
pub fn render(dir: &Path, opts: &ReportOptions) -> Result<String> {
    // A `parktwin target --out` directory: its own page.
    if !dir.join("kpis.json").exists()
        && let Some(html) = crate::target::render_dir(dir)?
    {
        return Ok(html);
    }
    if !dir.join("kpis.json").exists() && dir.join("compare.json").exists() {
        let rows = crate::compare::read(dir)?;
        let title = format!("Strategy comparison: {}", dir.display());
        return Ok(page(&title, &crate::compare::section(&title, &rows)));
    }
    if !dir.join("kpis.json").exists() && dir.join("results.csv").exists() {
        let rows = read_results_csv(&dir.join("results.csv"))?;
        return Ok(render_sweep(
            &format!("Sweep report: {}", dir.display()),
            &rows,
            None,
        ));
    }
    render_run(dir, opts)
}
