//! The live stream of `parktwin run --stream`: newline-delimited JSON on standard output, one
//! line per step, written and flushed as the step finishes, for dashboards and pipelines
//! (`parktwin run park.ron --stream | jq ...`, Telegraf's `execd`, a Kafka producer).
//!
//! Every line is one JSON object. Step lines:
//!
//! ```json
//! {"type":"step","step":0,"time":"2025-01-01T00:00","t_h":0.0,
//!  "park":{"intake_m3_per_h":…,"intake_by_kind":{"municipal":…},"discharge_m3_per_h":…,
//!          "consumption_m3_per_h":…,"unmet_m3_per_h":…,"stored_m3":…,
//!          "electricity_kwh":…,"co2e_kg":…,"cost_yuan":…},
//!  "units":{"city":{"flow_m3_per_h":…,"unmet_m3_per_h":…,"volume_m3":…,"tds_mg_per_l":…},…},
//!  "links":{"city->ct":…,…}}
//! ```
//!
//! Units carry their throughput, unmet demand, stored volume (0 without storage) and the
//! concentration of every declared species (`<species>_mg_per_l`: a source's supply, the
//! contents of a mixed volume at the end of the step, the inlet mix otherwise); links their
//! flow in m³/h. After the last step one line `{"type":"end","steps":…,"kpi":{…}}` carries the
//! park's headline KPIs. Rates are m³/h; energy, carbon and cost are per step.

use crate::observe::{ParkSeries, time_label};
use parktwin_engine::network::{FlowKind, QualityKind, Topology};
use parktwin_engine::sim::Simulation;
use parktwin_engine::state::{Clock, Flows, Quality, Species, Storage};
use parktwin_parks::summary::RunSummary;
use parktwin_parks::validate::ParkMeta;
use serde_json::{Map, Value, json};
use std::io::Write;

/// One step line, its fields in the order written.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StepLine {
    /// Always `"step"`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Step index.
    pub step: usize,
    /// Local time of the step's start, `YYYY-MM-DDTHH:MM`.
    pub time: String,
    /// Hours from the start.
    pub t_h: f64,
    /// Park totals of the step.
    pub park: Map<String, Value>,
    /// Units by id.
    pub units: Map<String, Value>,
    /// Link flows by id, m³/h.
    pub links: Map<String, Value>,
}

/// Writes step lines to `out`.
pub struct Stream<W: Write> {
    out: W,
    series: ParkSeries,
}

fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

impl<W: Write> Stream<W> {
    /// A stream for a park.
    pub fn new(out: W, meta: &ParkMeta) -> Self {
        Self {
            out,
            series: ParkSeries::new(meta),
        }
    }

    /// The line of the step just computed.
    pub fn line(&mut self, sim: &Simulation, meta: &ParkMeta) -> StepLine {
        self.series.observe(sim, meta);
        let topo = sim.resource::<Topology>();
        let flows = sim.resource::<Flows>();
        let quality = sim.resource::<Quality>();
        let storage = sim.resource::<Storage>();
        let species = sim.resource::<Species>();
        let clock = sim.resource::<Clock>();
        let step = clock.step - 1;
        let t_h = step as f64 * clock.dt_h;
        let ns = species.len();
        let nc = species.conserved;
        let mut units = Map::new();
        let mut stored = 0.0;
        for u in 0..topo.n_units() {
            let mut o = Map::new();
            o.insert("flow_m3_per_h".into(), num(flows.throughput[u]));
            o.insert("unmet_m3_per_h".into(), num(flows.unmet[u]));
            let v = match topo.unit_quality[u] {
                QualityKind::Mixed => storage.volume[u],
                QualityKind::Affine => 0.0,
            };
            stored += v;
            o.insert("volume_m3".into(), num(v));
            for s in 0..nc {
                let c = if topo.unit_flow[u] == FlowKind::Source {
                    quality.port[topo.unit_port_start[u] as usize * ns + s]
                } else {
                    match topo.unit_quality[u] {
                        QualityKind::Mixed => storage.conc[u * ns + s],
                        QualityKind::Affine => quality.inlet[u * ns + s],
                    }
                };
                o.insert(format!("{}_mg_per_l", species.names[s]), num(c));
            }
            units.insert(topo.unit_id[u].clone(), Value::Object(o));
        }
        let mut links = Map::new();
        for l in 0..topo.n_links() {
            links.insert(topo.link_id[l].clone(), num(flows.link[l]));
        }
        let ps = &self.series;
        let k = ps.steps() - 1;
        let mut by_kind = Map::new();
        let mut intake_total = 0.0;
        let mut park = Map::new();
        let mut consumption = 0.0;
        let mut co2e = 0.0;
        for (c, name) in ps.columns.iter().enumerate() {
            let v = ps.get(k, c);
            if let Some(kind) = name
                .strip_prefix("intake_")
                .and_then(|n| n.strip_suffix("_m3_per_h"))
            {
                by_kind.insert(kind.to_string(), num(v));
                intake_total += v;
            } else if matches!(
                name.as_str(),
                "evaporation_m3_per_h" | "drift_m3_per_h" | "product_m3_per_h" | "solids_m3_per_h"
            ) {
                consumption += v;
            } else if name.starts_with("co2e_") {
                co2e += v;
            }
            if matches!(
                name.as_str(),
                "discharge_m3_per_h" | "electricity_kwh" | "cost_yuan"
            ) {
                park.insert(name.clone(), num(v));
            }
        }
        park.insert("intake_m3_per_h".into(), num(intake_total));
        park.insert("intake_by_kind".into(), Value::Object(by_kind));
        park.insert("consumption_m3_per_h".into(), num(consumption));
        park.insert(
            "unmet_m3_per_h".into(),
            num(flows.unmet.iter().sum::<f64>()),
        );
        park.insert("stored_m3".into(), num(stored));
        park.insert("co2e_kg".into(), num(co2e));
        StepLine {
            kind: "step",
            step,
            time: time_label(&meta.start, t_h),
            t_h,
            park,
            units,
            links,
        }
    }

    /// Writes the line of the step just computed and flushes it.
    pub fn emit(&mut self, sim: &Simulation, meta: &ParkMeta) -> std::io::Result<()> {
        let line = self.line(sim, meta);
        serde_json::to_writer(&mut self.out, &line)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}

/// The closing line: steps, intake, repeated use, carbon, closure and the park's KPIs.
pub fn end_line(summary: &RunSummary) -> Value {
    let kpi: Map<String, Value> = summary
        .kpi
        .park_kpis
        .kpis
        .iter()
        .map(|x| (x.key.clone(), x.value.map(num).unwrap_or(Value::Null)))
        .collect();
    json!({
        "type": "end",
        "steps": summary.steps,
        "intake_m3": summary.water_m3.intake,
        "repeated_use_m3": summary.water_m3.repeated_use,
        "co2e_t": summary.co2e_total_t,
        "max_relative_residual": summary.balance.max_relative_residual,
        "kpi": Value::Object(kpi),
    })
}
