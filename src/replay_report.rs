//! The replay's HTML report (`parktwin replay PARK --meters FILE --out DIR` writes
//! `DIR/replay.html`): one self-contained page in the style of the run report
//! ([`crate::report::page_with`]) with inline SVG charts ([`crate::svg::time_chart`]), no script
//! and nothing fetched. Sections: observability (flows, leak locations, concentrations),
//! reconciled against measured series for a few meters, the gross-error tests of the flow and
//! conductivity meters, and the leak alarms with their start time, segment and confidence.

use crate::observe::time_label;
use crate::report::page_with;
use crate::sankey::esc;
use crate::svg::{Series, time_chart};
use parktwin_parks::twin::meters::{MeterKind, MeterSet};
use parktwin_parks::twin::readings::Aligned;
use parktwin_parks::twin::replay::{MeterVerdict, ReplayResult};
use parktwin_parks::twin::salt::{SaltResult, role_name};
use std::fmt::Write as _;

/// What the page shows.
pub struct ReplayPage<'a> {
    /// Park name.
    pub park: &'a str,
    /// The park's start time (`YYYY-MM-DDTHH:MM`).
    pub start: &'a str,
    /// Step length, h.
    pub dt_h: f64,
    /// The meters.
    pub set: &'a MeterSet,
    /// The readings aligned to steps.
    pub aligned: &'a Aligned,
    /// Flow and level reconciliation, tests and alarms.
    pub flows: &'a ReplayResult,
    /// Conductivity reconciliation, when the park has conductivity meters and TDS.
    pub salt: Option<&'a SaltResult>,
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "none".into()
    } else {
        esc(&v.join(", "))
    }
}

fn verdict_table(title: &str, rows: &[MeterVerdict]) -> String {
    let mut s = format!(
        "<table><caption class=\"small\">{}</caption><tr><th>meter</th><th>tested steps</th><th>flagged steps</th><th>mean normalised residual</th><th>persistence z</th><th>verdict</th></tr>",
        esc(title)
    );
    for m in rows {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.1}</td><td class=\"l\">{}</td></tr>",
            esc(&m.meter),
            m.tested_steps,
            m.flagged_steps,
            m.mean_normalised_residual,
            m.persistence_z,
            if m.suspect {
                "<span class=\"fail\">suspect</span>"
            } else if m.tested_steps == 0 {
                "<span class=\"na\">not redundant</span>"
            } else {
                "<span class=\"pass\">sound</span>"
            }
        );
    }
    s.push_str("</table>");
    s
}

impl ReplayPage<'_> {
    fn time(&self, step: usize) -> String {
        time_label(self.start, step as f64 * self.dt_h).replace('T', " ")
    }

    /// Measured against reconciled for meter `m` (reconciled values from `rec`, steps × meters).
    fn meter_chart(&self, m: usize, rec: &[f64], unit: &str) -> String {
        let nm = self.set.meters.len();
        let steps = self.aligned.steps;
        let x: Vec<f64> = (0..steps).map(|k| k as f64 * self.dt_h / 24.0).collect();
        let measured: Vec<f64> = (0..steps).map(|k| self.aligned.get(k, m)).collect();
        let reconciled: Vec<f64> = (0..steps)
            .map(|k| rec.get(k * nm + m).copied().unwrap_or(f64::NAN))
            .collect();
        let id = &self.set.meters[m].id;
        let start = self.start.to_string();
        let lab = move |d: f64| {
            let l = time_label(&start, d * 24.0);
            l.get(5..10).unwrap_or(&l).to_string()
        };
        format!(
            "<figure>{}<figcaption>{} ({}): readings as measured and as reconciled, per step.</figcaption></figure>",
            time_chart(
                &format!("{id}: measured and reconciled"),
                unit,
                &x,
                &[
                    Series {
                        name: "measured".into(),
                        values: measured,
                    },
                    Series {
                        name: "reconciled".into(),
                        values: reconciled,
                    },
                ],
                false,
                &lab,
            ),
            esc(id),
            unit
        )
    }

    /// The page.
    pub fn render(&self) -> String {
        let f = self.flows;
        let o = &f.observability;
        let mut b = String::new();
        let _ = write!(
            b,
            "<h1>Replay of {}: meters, reconciliation and leaks</h1><p class=\"meta\">{} steps of {} h from {}; {} meters; tests at α = {}; CUSUM κ = {}, h = {}. Methods and limits: docs/twin.md.</p>",
            esc(self.park),
            f.steps,
            self.dt_h,
            esc(self.start),
            self.set.meters.len(),
            f.alpha,
            f.cusum.k,
            f.cusum.h
        );
        // Observability.
        b.push_str("<h2>Observability</h2>");
        let _ = write!(
            b,
            "<table><tr><th>flows and levels</th><th></th></tr>\
             <tr><td>balance model</td><td class=\"l\">{} variables, {} constraints, {} measurement slots, degree of redundancy {}</td></tr>\
             <tr><td>links determined</td><td class=\"l\">{} of {}</td></tr>\
             <tr><td>links not determined</td><td class=\"l\">{}</td></tr>\
             <tr><td>tanks determined</td><td class=\"l\">{}</td></tr>\
             <tr><td>redundant (testable) meters</td><td class=\"l\">{}</td></tr>\
             <tr><td>non-redundant meters</td><td class=\"l\">{}</td></tr>\
             <tr><td>not used by the flow reconciliation</td><td class=\"l\">{}</td></tr>\
             <tr><td>balances blind to a leak</td><td class=\"l\">{}</td></tr></table>",
            o.variables,
            o.constraints,
            o.measurement_slots,
            o.redundancy,
            o.determined_links.len(),
            o.determined_links.len() + o.undetermined_links.len(),
            list(&o.undetermined_links),
            list(&o.determined_tanks),
            list(&o.redundant_meters),
            list(&o.non_redundant_meters),
            list(&o.unused_meters),
            list(&o.blind)
        );
        b.push_str("<table><caption class=\"small\">Leak locations the meters tell apart</caption><tr><th>location (segment between meters)</th><th>one-step noise σ (m³/h)</th></tr>");
        for l in &o.locations {
            let _ = write!(
                b,
                "<tr><td>{}</td><td>{:.2}</td></tr>",
                esc(&l.name),
                l.sd_m3_per_h
            );
        }
        b.push_str("</table>");
        if let Some(s) = self.salt {
            let so = &s.observability;
            b.push_str("<table><caption class=\"small\">Concentrations (TDS): each unit's part in the salt balance</caption><tr><th>unit</th><th>salt balance</th></tr>");
            for u in &so.units {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td class=\"l\">{}</td></tr>",
                    esc(&u.unit),
                    role_name(u.role)
                );
            }
            let sometimes: Vec<String> = so
                .sometimes_determined
                .iter()
                .map(|(l, d)| format!("{l} ({d} steps)"))
                .collect();
            let _ = write!(
                b,
                "</table><table><tr><th>concentrations</th><th></th></tr>\
                 <tr><td>balances imposed</td><td class=\"l\">{}</td></tr>\
                 <tr><td>determined in every step</td><td class=\"l\">{}</td></tr>\
                 <tr><td>determined in some steps</td><td class=\"l\">{}</td></tr>\
                 <tr><td>never determined</td><td class=\"l\">{}</td></tr>\
                 <tr><td>redundant conductivity meters</td><td class=\"l\">{}</td></tr>\
                 <tr><td>non-redundant conductivity meters</td><td class=\"l\">{}</td></tr>\
                 <tr><td>largest degree of redundancy</td><td class=\"l\">{}</td></tr></table>",
                list(&so.constraints),
                list(&so.determined),
                list(&sometimes),
                list(&so.undetermined),
                list(&so.redundant_meters),
                list(&so.non_redundant_meters),
                so.max_redundancy
            );
        } else {
            b.push_str("<p class=\"small\">No conductivity reconciliation (no conductivity meter, or no <code>tds</code> species).</p>");
        }
        // Series.
        b.push_str("<h2>Reconciled and measured series</h2>");
        let flow_meters: Vec<usize> = self
            .set
            .meters
            .iter()
            .enumerate()
            .filter(|(_, m)| o.redundant_meters.contains(&m.id))
            .map(|(i, _)| i)
            .take(3)
            .collect();
        for &m in &flow_meters {
            let unit = self.set.meters[m].kind.unit();
            b.push_str(&self.meter_chart(m, &f.meter_reconciled, unit));
        }
        if let Some(s) = self.salt {
            let ce: Vec<usize> = self
                .set
                .meters
                .iter()
                .enumerate()
                .filter(|(_, m)| {
                    m.kind == MeterKind::Conductivity
                        && s.observability.redundant_meters.contains(&m.id)
                })
                .map(|(i, _)| i)
                .take(2)
                .collect();
            for &m in &ce {
                b.push_str(&self.meter_chart(m, &s.meter_reconciled, "µS/cm"));
            }
        }
        // Gross errors.
        b.push_str("<h2>Gross-error tests</h2>");
        let _ = write!(
            b,
            "<p>Flows and levels: global test failed in {} of {} steps ({:.1} %); largest balance residual after reconciliation {:.1e} m³/h. A meter is <em>suspect</em> when |mean normalised residual|·√n &gt; 5 and it was flagged in at least a quarter of its tested steps.</p>",
            f.global_failures,
            f.steps,
            100.0 * f.global_failures as f64 / f.steps.max(1) as f64,
            f.max_balance_residual
        );
        b.push_str(&verdict_table("Flow and level meters", &f.meters));
        if let Some(s) = self.salt {
            let _ = write!(
                b,
                "<p>Conductivity: global test failed in {} of {} tested steps ({:.1} %; the reconciled flows are taken as exact, so this runs above α where flow errors matter); largest relative salt-balance residual {:.1e}.</p>",
                s.global_failures,
                s.tested_steps,
                100.0 * s.global_failures as f64 / s.tested_steps.max(1) as f64,
                s.max_relative_residual
            );
            b.push_str(&verdict_table("Conductivity meters", &s.meters));
        }
        // Alarms.
        b.push_str("<h2>Leak alarms</h2>");
        if f.alarms.is_empty() {
            b.push_str("<p>No leak alarm.</p>");
        } else {
            b.push_str("<table><tr><th>segment</th><th>start</th><th>alarm</th><th>end</th><th>leak (m³/h)</th><th>± se</th><th>confidence</th></tr>");
            for a in &f.alarms {
                let _ = write!(
                    b,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.4}</td></tr>",
                    esc(&a.name),
                    self.time(a.start_step),
                    self.time(a.alarm_step),
                    a.end_step.map_or("—".into(), |e| self.time(e)),
                    a.estimate_m3_per_h,
                    a.estimate_se_m3_per_h,
                    a.confidence
                );
            }
            b.push_str("</table>");
        }
        page_with(&format!("Replay of {}", self.park), &b)
    }
}
