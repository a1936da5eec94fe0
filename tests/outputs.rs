//! Result files read back: CSV and Parquet series give the recorded numbers bit for bit, the
//! Sankey diagrams balance at every node and equal the water balance, the GeoJSON is valid
//! RFC 7946, the stream has one line per step, and the report is self-contained.

use crate::common::build_text;
use parktwin::engine::network::Topology;
use parktwin::engine::record::Recorder;
use parktwin::observe::{Observers, ParkSeries, run_observed};
use parktwin::output::write_run_with;
use parktwin::parks::summary::summarize;
use parktwin::parks::totals::Totals;
use parktwin::sankey::{self, Sankey};
use serde_json::Value;
use std::collections::HashMap;

/// A small park with a reuse loop through a tank, a cooling tower, two species and
/// coordinates on every unit but one.
const PARK: &str = r#"Park(
    name: "outputs",
    time: (start: "2025-03-01T00:00", step_h: 1.0, steps: 48),
    species: ["tds", "cod"],
    enterprises: [(id: "mill", value_added_10k_yuan_per_year: 5000.0), (id: "park")],
    units: [
        Source(id: "city", kind: Municipal, quality_mg_per_l: {"tds": 400.0, "cod": 2.0},
               cap_m3_per_h: 500.0, location: [117.70, 39.02]),
        Process(id: "dye", enterprise: "mill", product: "woven dyed fabric", product_unit: "100 m",
                production_per_h: Profile(base: 40.0, daily: [0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 1.2, 1.2, 1.2, 1.2, 1.2, 1.2,
                                                             1.2, 1.2, 1.2, 1.2, 1.2, 1.2, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]),
                water_m3_per_unit: 1.5, consumptive_fraction: 0.1,
                adds_kg_per_m3: {"tds": 2.0, "cod": 1.0}, accepts_mg_per_l: {"tds": 800.0},
                location: [117.71, 39.01]),
        CoolingTower(id: "ct", enterprise: "mill", heat_load_mw: Const(4.0), range_c: 8.0, cycles: 5.0,
                     holding_volume_m3: 200.0, initial_mg_per_l: {"tds": 2000.0}, location: [117.72, 39.01]),
        Treatment(id: "wwtp", enterprise: "park", recovery: 0.8, removal_to_reject: {"tds": 0.6, "cod": 0.2},
                  destroyed: {"cod": 0.7}, kwh_per_m3: 0.5, location: [117.73, 39.00]),
        Tank(id: "reclaimed", enterprise: "park", capacity_m3: 300.0, initial_m3: 100.0,
             initial_mg_per_l: {"tds": 300.0}, location: [117.74, 39.00]),
        Discharge(id: "outfall", enterprise: "park"),
    ],
    links: [
        (from: "city", to: "dye", priority: 10, head_m: 20.0),
        (from: "city", to: "ct", priority: 10, head_m: 20.0),
        (from: "reclaimed.out", to: "ct", priority: 0, head_m: 10.0),
        (from: "dye.waste", to: "wwtp"),
        (from: "ct.blowdown", to: "wwtp"),
        (from: "wwtp.product", to: "reclaimed", capacity_m3_per_h: 30.0),
        (from: "wwtp.product", to: "outfall", priority: 1),
        (from: "wwtp.reject", to: "outfall"),
        (from: "reclaimed.overflow", to: "outfall"),
    ],
)"#;

struct Run {
    dir: tempfile::TempDir,
    sim: parktwin::engine::sim::Simulation,
    meta: parktwin::parks::validate::ParkMeta,
    summary: parktwin::parks::summary::RunSummary,
    series: ParkSeries,
}

fn run() -> Run {
    let mut built = build_text(PARK, true).expect("valid park");
    let mut series = ParkSeries::new(&built.meta);
    run_observed(
        &mut built.sim,
        &built.meta,
        Observers {
            series: Some(&mut series),
            window: None,
            each_step: None,
        },
    )
    .unwrap();
    let summary = summarize(&built.sim, &built.meta);
    let dir = tempfile::tempdir().unwrap();
    write_run_with(
        dir.path(),
        &built.sim,
        &built.meta,
        &summary,
        Some(&series),
        None,
    )
    .unwrap();
    Run {
        dir,
        sim: built.sim,
        meta: built.meta,
        summary,
        series,
    }
}

/// Every number of `unit_series.csv`, `link_series.csv` and `park_series.csv` parses back to
/// the recorded value exactly (Rust prints the shortest representation that round-trips).
#[test]
fn csv_series_round_trip_exactly() {
    let r = run();
    let rec = r.sim.resource::<Recorder>();
    let topo = r.sim.resource::<Topology>();
    let (nu, nl, nc) = (topo.n_units(), topo.n_links(), r.meta.species.len());
    let mut rdr = csv::Reader::from_path(r.dir.path().join("unit_series.csv")).unwrap();
    let h = rdr.headers().unwrap().clone();
    assert_eq!(
        h.iter().collect::<Vec<_>>(),
        [
            "step",
            "time",
            "time_h",
            "unit",
            "throughput_m3_per_h",
            "unmet_m3_per_h",
            "volume_m3",
            "tds_mg_per_l",
            "cod_mg_per_l"
        ]
    );
    let mut n = 0;
    for (i, row) in rdr.records().enumerate() {
        let row = row.unwrap();
        let (k, u) = (i / nu, i % nu);
        let x = |c: usize| row[c].parse::<f64>().unwrap();
        assert_eq!(row[0].parse::<usize>().unwrap(), k);
        assert_eq!(&row[3], topo.unit_id[u].as_str());
        assert_eq!(x(4).to_bits(), rec.unit_throughput[i].to_bits());
        assert_eq!(x(5).to_bits(), rec.unit_unmet[i].to_bits());
        assert_eq!(x(6).to_bits(), rec.unit_volume[i].to_bits());
        for s in 0..nc {
            assert_eq!(x(7 + s).to_bits(), rec.unit_conc[i * nc + s].to_bits());
        }
        assert_eq!(
            x(7).to_bits(),
            rec.unit_tds[i].to_bits(),
            "tds column is the TDS series"
        );
        n += 1;
    }
    assert_eq!(n, 48 * nu);
    let mut rdr = csv::Reader::from_path(r.dir.path().join("link_series.csv")).unwrap();
    let mut n = 0;
    for (i, row) in rdr.records().enumerate() {
        let row = row.unwrap();
        assert_eq!(&row[3], topo.link_id[i % nl].as_str());
        assert_eq!(
            row[4].parse::<f64>().unwrap().to_bits(),
            rec.link_flow[i].to_bits()
        );
        n += 1;
    }
    assert_eq!(n, 48 * nl);
    let mut rdr = csv::Reader::from_path(r.dir.path().join("park_series.csv")).unwrap();
    let h = rdr.headers().unwrap().clone();
    assert_eq!(&h[3], "intake_municipal_m3_per_h");
    for (k, row) in rdr.records().enumerate() {
        let row = row.unwrap();
        assert_eq!(
            &row[1],
            format!("2025-03-{:02}T{:02}:00", 1 + k / 24, k % 24)
        );
        for c in 0..r.series.columns.len() {
            assert_eq!(
                row[3 + c].parse::<f64>().unwrap().to_bits(),
                r.series.get(k, c).to_bits()
            );
        }
    }
    // Park series add up to the run's totals.
    let c = r.series.column("intake_municipal_m3_per_h").unwrap();
    let intake: f64 = (0..48).map(|k| r.series.get(k, c)).sum();
    assert!((intake - r.summary.water_m3.intake).abs() <= 1e-9 * intake);
    let c = r.series.column("co2e_electricity_kg").unwrap();
    let co2: f64 = (0..48).map(|k| r.series.get(k, c)).sum();
    assert!((co2 - r.summary.co2e_kg.electricity).abs() <= 1e-9 * co2);
}

/// `series.parquet` has the documented schema and reads back (with the `parquet` crate's row
/// reader, as pandas, polars and DuckDB read it) to the recorded values bit for bit: units'
/// flows, volumes and concentrations, links' flows and the park series.
#[test]
fn parquet_series_round_trip_exactly() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let r = run();
    let rec = r.sim.resource::<Recorder>();
    let topo = r.sim.resource::<Topology>();
    let (nu, nl, nc) = (topo.n_units(), topo.n_links(), r.meta.species.len());
    let file = std::fs::File::open(r.dir.path().join("series.parquet")).unwrap();
    let reader = SerializedFileReader::new(file).unwrap();
    let schema = reader.metadata().file_metadata().schema_descr();
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
    assert_eq!(
        names,
        ["step", "time", "item_kind", "item", "variable", "value"]
    );
    let unit_index: HashMap<&str, usize> = topo
        .unit_id
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let link_index: HashMap<&str, usize> = topo
        .link_id
        .iter()
        .enumerate()
        .map(|(i, s)| (s.as_str(), i))
        .collect();
    let t0 = 1_740_787_200_000i64; // 2025-03-01T00:00 in ms since 1970
    let mut counts: HashMap<String, usize> = HashMap::new();
    for row in reader.get_row_iter(None).unwrap() {
        use parquet::record::RowAccessor;
        let row = row.unwrap();
        let k = row.get_long(0).unwrap() as usize;
        assert_eq!(
            row.get_timestamp_millis(1).unwrap(),
            t0 + 3_600_000 * k as i64
        );
        let kind = row.get_string(2).unwrap().clone();
        let item = row.get_string(3).unwrap().clone();
        let var = row.get_string(4).unwrap().clone();
        let v = row.get_double(5).unwrap();
        let expected = match kind.as_str() {
            "unit" => {
                let u = unit_index[item.as_str()];
                let i = k * nu + u;
                match var.as_str() {
                    "flow_m3_per_h" => rec.unit_throughput[i],
                    "unmet_m3_per_h" => rec.unit_unmet[i],
                    "volume_m3" => rec.unit_volume[i],
                    "tds_mg_per_l" => rec.unit_conc[i * nc],
                    "cod_mg_per_l" => rec.unit_conc[i * nc + 1],
                    other => panic!("unexpected unit variable {other}"),
                }
            }
            "link" => rec.link_flow[k * nl + link_index[item.as_str()]],
            "park" => r.series.get(k, r.series.column(&var).unwrap()),
            other => panic!("unexpected item kind {other}"),
        };
        assert_eq!(
            v.to_bits(),
            expected.to_bits(),
            "{kind} {item} {var} step {k}"
        );
        *counts.entry(kind).or_insert(0) += 1;
    }
    assert_eq!(counts["unit"], 48 * nu * (3 + nc));
    assert_eq!(counts["link"], 48 * nl);
    assert_eq!(counts["park"], 48 * r.series.columns.len());
}

fn read_sankey(r: &Run, q: &str) -> Sankey {
    let v: Value = serde_json::from_slice(
        &std::fs::read(
            r.dir
                .path()
                .join("sankey")
                .join(format!("{q}.echarts.json")),
        )
        .unwrap(),
    )
    .unwrap();
    Sankey::from_echarts(&v).expect("an ECharts sankey option")
}

fn is_acyclic(s: &Sankey) -> bool {
    let n = s.nodes.len();
    let mut indeg = vec![0; n];
    for l in &s.links {
        indeg[l.target] += 1;
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut seen = 0;
    while let Some(i) = ready.pop() {
        seen += 1;
        for l in s.links.iter().filter(|l| l.source == i) {
            indeg[l.target] -= 1;
            if indeg[l.target] == 0 {
                ready.push(l.target);
            }
        }
    }
    seen == n
}

/// The water Sankey as written for ECharts: acyclic (the reuse loop tank → tower → WWTP →
/// tank is cut into a loop-return and a loop-supply node of equal value), every unit node
/// balances (in = out, storage drawn as nodes), and the stages equal the balance: sources =
/// withdrawals, exit nodes = exits by kind, supply stage = exit stage. The TDS and COD
/// diagrams balance the same way in kg, with COD destroyed in the WWTP as `out: removed in
/// units`; energy and carbon diagrams total the run's electricity + heat and CO2e.
#[test]
fn sankey_node_totals_equal_the_balance() {
    let r = run();
    let s = read_sankey(&r, "water");
    assert!(is_acyclic(&s), "ECharts needs an acyclic graph");
    let tot = s.node_totals();
    let w = &r.summary.water_m3;
    let rel = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs().max(1.0);
    let mut loops_in = 0.0;
    let mut loops_out = 0.0;
    for (i, n) in s.nodes.iter().enumerate() {
        let (inn, out) = tot[i];
        match n.kind.as_str() {
            "unit" => assert!(rel(inn, out), "{}: in {inn} out {out}", n.name),
            "source" => assert!(rel(out, w.by_source_kind["municipal"]), "{}", n.name),
            "exit" => {
                let kind = n.name.trim_start_matches("out: ");
                assert!(
                    rel(inn, w.exits[kind]),
                    "{kind}: {inn} vs {}",
                    w.exits[kind]
                );
            }
            "loop_in" => loops_in += out,
            "loop_out" => loops_out += inn,
            _ => {}
        }
    }
    assert!(loops_in > 0.0, "the park has a reuse loop");
    assert!(rel(loops_in, loops_out));
    let supply: f64 = s
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.depth == 0)
        .map(|(i, _)| tot[i].1)
        .sum();
    let last = s.nodes.iter().map(|n| n.depth).max().unwrap();
    let exits: f64 = s
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.depth == last)
        .map(|(i, _)| tot[i].0)
        .sum();
    assert!(rel(supply, exits), "{supply} vs {exits}");
    assert!(rel(
        supply - loops_in,
        w.total_inflow + (-w.storage_change).max(0.0)
    ));
    // Species: every unit balances in kg; COD is destroyed in the WWTP.
    for q in ["tds", "cod"] {
        let s = read_sankey(&r, q);
        assert!(is_acyclic(&s));
        let tot = s.node_totals();
        for (i, n) in s.nodes.iter().enumerate() {
            if n.kind == "unit" {
                let (a, b) = tot[i];
                assert!(
                    (a - b).abs() <= 1e-9 * a.max(b).max(1.0),
                    "{q} {}: {a} {b}",
                    n.name
                );
            }
        }
        let discharged: f64 = s
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.name == "out: discharge")
            .map(|(i, _)| tot[i].0)
            .sum();
        let sp = r.summary.species.iter().find(|x| x.name == q).unwrap();
        assert!(rel(discharged, sp.exits_kg["discharge"]), "{q}");
        if q == "cod" {
            assert!(s.nodes.iter().any(|n| n.name == "out: removed in units"));
        }
    }
    let e = read_sankey(&r, "energy");
    let origin: f64 = e
        .links
        .iter()
        .filter(|l| e.nodes[l.source].depth == 0)
        .map(|l| l.value)
        .sum();
    assert!(rel(
        origin,
        r.summary.energy.electricity_kwh + r.summary.energy.heat_kwh
    ));
    let c = read_sankey(&r, "co2e");
    let origin: f64 = c
        .links
        .iter()
        .filter(|l| c.nodes[l.source].depth == 0)
        .map(|l| l.value)
        .sum();
    assert!(rel(origin, r.summary.co2e_total_t * 1000.0));
    // The Plotly figure carries the same links by index.
    let p: Value = serde_json::from_slice(
        &std::fs::read(r.dir.path().join("sankey/water.plotly.json")).unwrap(),
    )
    .unwrap();
    let d = &p["data"][0];
    assert_eq!(d["type"], "sankey");
    assert_eq!(d["node"]["label"].as_array().unwrap().len(), s.nodes.len());
    assert_eq!(d["link"]["value"].as_array().unwrap().len(), s.links.len());
}

/// A Sankey over a window (hours 12 to 36) balances too, and its exits are the window's.
#[test]
fn sankey_over_a_period() {
    let mut built = build_text(PARK, false).unwrap();
    let t = run_observed(
        &mut built.sim,
        &built.meta,
        Observers {
            series: None,
            window: Some((12, 36)),
            each_step: None,
        },
    )
    .unwrap()
    .expect("window totals");
    assert_eq!((t.first_step, t.steps), (12, 24));
    let full = Totals::capture(&built.sim);
    let topo = built.sim.resource::<Topology>();
    let s = sankey::material(topo, &built.meta, &t, None);
    assert!(is_acyclic(&s));
    for (i, n) in s.nodes.iter().enumerate() {
        if n.kind == "unit" {
            let (a, b) = s.node_totals()[i];
            assert!((a - b).abs() <= 1e-9 * a.max(1.0), "{}: {a} {b}", n.name);
        }
    }
    let city = topo.unit_index("city").unwrap();
    assert!(t.units[city].throughput_m3 < full.units[city].throughput_m3);
    assert!(t.units[city].throughput_m3 > 0.0);
}

/// `network.geojson` is an RFC 7946 FeatureCollection: Point features for the units with
/// coordinates (all but the outfall), LineStrings for links between two located units, every
/// position `[longitude, latitude]` in range, properties carrying the flows, no `crs` member.
#[test]
fn geojson_is_valid() {
    let r = run();
    let g: Value =
        serde_json::from_slice(&std::fs::read(r.dir.path().join("network.geojson")).unwrap())
            .unwrap();
    assert_eq!(g["type"], "FeatureCollection");
    assert!(g.get("crs").is_none());
    let features = g["features"].as_array().unwrap();
    let pos_ok = |p: &Value| {
        let a = p.as_array().unwrap();
        a.len() == 2
            && (-180.0..=180.0).contains(&a[0].as_f64().unwrap())
            && (-90.0..=90.0).contains(&a[1].as_f64().unwrap())
    };
    let (mut points, mut lines) = (0, 0);
    for f in features {
        assert_eq!(f["type"], "Feature");
        assert!(f["properties"].is_object());
        let geom = &f["geometry"];
        match geom["type"].as_str().unwrap() {
            "Point" => {
                assert!(pos_ok(&geom["coordinates"]));
                assert!(f["properties"]["throughput_m3"].as_f64().is_some());
                points += 1;
            }
            "LineString" => {
                let c = geom["coordinates"].as_array().unwrap();
                assert!(c.len() >= 2 && c.iter().all(pos_ok));
                assert!(f["properties"]["volume_m3"].as_f64().unwrap() >= 0.0);
                assert!(f["properties"]["tds_kg"].as_f64().is_some());
                lines += 1;
            }
            other => panic!("unexpected geometry {other}"),
        }
    }
    assert_eq!(points, 5);
    // Links between located units: all but the three into the outfall.
    assert_eq!(lines, 6);
    let dot = std::fs::read_to_string(r.dir.path().join("network.dot")).unwrap();
    assert!(dot.starts_with("digraph park {"));
    assert_eq!(dot.matches(" -> ").count(), 9);
    assert!(dot.contains("subgraph \"cluster_mill\""));
}

/// The KPI tables are written as CSV too, and `kpis.json` reads back into the same report.
#[test]
fn kpi_tables_are_written() {
    let r = run();
    let k: parktwin::parks::kpi::KpiReport =
        serde_json::from_slice(&std::fs::read(r.dir.path().join("kpis.json")).unwrap()).unwrap();
    assert_eq!(k, r.summary.kpi);
    let mut rdr = csv::Reader::from_path(r.dir.path().join("kpis.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    // Park, mill, park utility: eight KPIs each.
    assert_eq!(rows.len(), 3 * 8);
    let rate = rows
        .iter()
        .find(|r| &r[0] == "(park)" && &r[1] == "repeated_use_rate")
        .unwrap();
    assert_eq!(
        rate[7].parse::<f64>().unwrap(),
        r.summary.water_m3.repeated_use_rate
    );
    let wb = std::fs::read_to_string(r.dir.path().join("water_balance.csv")).unwrap();
    assert_eq!(wb.lines().count(), 1 + 3);
    let p = std::fs::read_to_string(r.dir.path().join("products.csv")).unwrap();
    assert!(p.contains("woven dyed fabric"));
}

/// The live stream: one JSON object per line and step, with the time, the park's intake and
/// every unit's state; the last line closes with the KPIs.
#[test]
fn stream_has_one_line_per_step() {
    let mut built = build_text(PARK, false).unwrap();
    let meta = built.meta.clone();
    let mut buf: Vec<u8> = Vec::new();
    {
        let mut st = parktwin::stream::Stream::new(&mut buf, &meta);
        let mut each = |sim: &parktwin::engine::sim::Simulation| st.emit(sim, &meta);
        run_observed(
            &mut built.sim,
            &built.meta,
            Observers {
                series: None,
                window: None,
                each_step: Some(&mut each),
            },
        )
        .unwrap();
    }
    let summary = summarize(&built.sim, &built.meta);
    let text = String::from_utf8(buf).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 48);
    assert_eq!(lines[0]["type"], "step");
    assert_eq!(lines[25]["time"], "2025-03-02T01:00");
    assert!(lines[3]["units"]["ct"]["tds_mg_per_l"].as_f64().unwrap() > 0.0);
    let intake: f64 = lines
        .iter()
        .map(|l| l["park"]["intake_m3_per_h"].as_f64().unwrap())
        .sum();
    assert!((intake - summary.water_m3.intake).abs() <= 1e-9 * intake);
    let end = parktwin::stream::end_line(&summary);
    assert_eq!(end["type"], "end");
    assert!(end["kpi"]["repeated_use_rate"].as_f64().is_some());
}

/// The report of a run directory is one self-contained HTML file: inline SVG charts (Sankey,
/// intake, tank levels, TDS, energy, carbon, products), the KPI and balance tables, no script
/// and no reference to anything outside the file.
#[test]
fn report_is_self_contained() {
    let r = run();
    let html = parktwin::report::render(r.dir.path(), &Default::default()).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.matches("<svg").count() >= 7,
        "{}",
        html.matches("<svg").count()
    );
    assert!(!html.contains("<script"));
    assert!(!html.contains("NaN"));
    let without_ns = html.replace("http://www.w3.org/2000/svg", "");
    assert!(!without_ns.contains("http://") && !without_ns.contains("https://"));
    assert!(!without_ns.contains("src="));
    for needle in [
        "repeated-use rate",
        "GB/T 12452",
        "woven dyed fabric",
        "Intake by source kind",
        "Stored volume of tanks",
        "TDS concentration",
        "Carbon by origin",
        "Intake policy",
    ] {
        assert!(html.contains(needle), "missing {needle}");
    }
}

/// The sweep section ranks synthetic scenarios by the repeated-use rate (higher first) and
/// draws one distribution per figure; a `results.csv` with a failed row (empty cells) reads.
#[test]
fn sweep_section_ranks_scenarios() {
    use parktwin::report::{SweepRow, read_results_csv, sweep_section};
    let rows: Vec<SweepRow> = [
        ("base", 0.91, 6.9e6),
        ("ro2", 0.95, 5.1e6),
        ("dry", 0.89, 7.4e6),
    ]
    .iter()
    .map(|(id, r, i)| SweepRow {
        scenario: id.to_string(),
        values: [
            ("repeated_use_rate".to_string(), *r),
            ("intake_m3".to_string(), *i),
        ]
        .into_iter()
        .collect(),
    })
    .collect();
    let html = sweep_section(&rows, None);
    assert_eq!(html.matches("<svg").count(), 2);
    let pos = |id: &str| html.find(&format!("<td>{id}</td>")).unwrap();
    assert!(pos("ro2") < pos("base") && pos("base") < pos("dry"));
    // Ranked by intake, lower first.
    let html = sweep_section(&rows, Some("intake_m3"));
    let pos = |id: &str| html.find(&format!("<td>{id}</td>")).unwrap();
    assert!(pos("ro2") < pos("base") && pos("base") < pos("dry"));
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("results.csv");
    std::fs::write(
        &p,
        "scenario,status,repeated_use_rate,intake_m3\nbase,ok,0.91,6.9e6\nbad,failed,,\n",
    )
    .unwrap();
    let rows = read_results_csv(&p).unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows[1].values.is_empty());
    let page = parktwin::report::render(dir.path(), &Default::default()).unwrap();
    assert!(page.contains("Sweep: 2 scenarios"));
}
