//! The network as GeoJSON (RFC 7946; opens in QGIS and kepler.gl) and as Graphviz DOT.
//!
//! GeoJSON: one `Point` feature per unit that carries coordinates (`location: (lon, lat)`,
//! WGS 84, RFC 7946 order `[longitude, latitude]`) and one `LineString` per link whose two ends
//! carry coordinates, with the run's flows as properties (`volume_m3`, `mean_flow_m3_per_h`,
//! `max_flow_m3_per_h`, `used_fraction`, `<species>_kg`; units: `throughput_m3`,
//! `electricity_kwh`, `co2e_kg`, …). Written only when some unit carries coordinates.
//!
//! DOT: the topology, one cluster per enterprise, node shapes by unit type, edges labelled and
//! weighted by the volume carried (`dot -Tsvg network.dot > network.svg`).

use crate::sankey::fmt_num;
use parktwin_engine::network::Topology;
use parktwin_parks::totals::Totals;
use parktwin_parks::validate::ParkMeta;
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

fn num(v: f64) -> Value {
    serde_json::Number::from_f64(v)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// The GeoJSON FeatureCollection, or `None` when no unit carries coordinates.
pub fn geojson(topo: &Topology, meta: &ParkMeta, t: &Totals) -> Option<Value> {
    if meta.units.iter().all(|u| u.location.is_none()) {
        return None;
    }
    let hours = t.hours().max(f64::MIN_POSITIVE);
    let mut features = Vec::new();
    for (u, m) in meta.units.iter().enumerate() {
        let Some([lon, lat]) = m.location else {
            continue;
        };
        let ut = &t.units[u];
        let mut p = Map::new();
        p.insert("id".into(), json!(m.id));
        p.insert("name".into(), json!(m.id));
        p.insert("feature".into(), json!("unit"));
        p.insert("type".into(), json!(m.type_name));
        p.insert(
            "enterprise".into(),
            json!(m.enterprise.map(|e| meta.enterprises[e].id.clone())),
        );
        p.insert(
            "source_kind".into(),
            json!(m.source_kind.map(|k| k.name().to_string())),
        );
        p.insert("throughput_m3".into(), num(ut.throughput_m3));
        p.insert("mean_flow_m3_per_h".into(), num(ut.throughput_m3 / hours));
        p.insert("unmet_m3".into(), num(ut.unmet_m3));
        p.insert("reused_m3".into(), num(ut.reused_m3));
        p.insert("electricity_kwh".into(), num(ut.electricity_kwh));
        p.insert("co2e_kg".into(), num(ut.carbon.total()));
        if let Some((prod, unit)) = &m.product {
            p.insert("product".into(), json!(prod));
            p.insert("product_unit".into(), json!(unit));
            p.insert("product_output".into(), num(ut.product));
        }
        features.push(json!({
            "type": "Feature",
            "id": m.id,
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": Value::Object(p),
        }));
    }
    for l in 0..topo.n_links() {
        let (a, b) = (topo.link_from[l] as usize, topo.link_to[l] as usize);
        let (Some(pa), Some(pb)) = (meta.units[a].location, meta.units[b].location) else {
            continue;
        };
        let lt = &t.links[l];
        let mut p = Map::new();
        p.insert("id".into(), json!(topo.link_id[l]));
        p.insert("name".into(), json!(topo.link_id[l]));
        p.insert("feature".into(), json!("link"));
        p.insert("from".into(), json!(meta.units[a].id));
        p.insert("to".into(), json!(meta.units[b].id));
        p.insert("volume_m3".into(), num(lt.volume_m3));
        p.insert("mean_flow_m3_per_h".into(), num(lt.volume_m3 / hours));
        p.insert("max_flow_m3_per_h".into(), num(lt.max_flow_m3_per_h));
        p.insert("pumping_kwh".into(), num(lt.pumping_kwh));
        let used = t.link_used_m3.get(l).copied().unwrap_or(0.0);
        p.insert(
            "used_fraction".into(),
            num(if lt.volume_m3 > 0.0 {
                used / lt.volume_m3
            } else {
                0.0
            }),
        );
        p.insert(
            "leak_m3".into(),
            num(t.link_leak_m3.get(l).copied().unwrap_or(0.0)),
        );
        for (s, name) in t.species.iter().enumerate() {
            p.insert(format!("{name}_kg"), num(t.link_species(l, s) / 1000.0));
        }
        features.push(json!({
            "type": "Feature",
            "id": topo.link_id[l],
            "geometry": {"type": "LineString", "coordinates": [pa, pb]},
            "properties": Value::Object(p),
        }));
    }
    Some(json!({
        "type": "FeatureCollection",
        "name": meta.name,
        "features": features,
    }))
}

fn dot_id(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

fn shape(type_name: &str) -> &'static str {
    match type_name {
        "Source" => "invhouse",
        "Tank" => "cylinder",
        "Process" | "FixedLoad" => "box",
        "CoolingTower" => "trapezium",
        "Treatment" => "hexagon",
        "Splitter" | "Mixer" => "circle",
        "Discharge" => "house",
        _ => "octagon",
    }
}

/// The topology as Graphviz DOT, with the run's volumes on the edges.
pub fn dot(topo: &Topology, meta: &ParkMeta, t: &Totals) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "digraph park {{");
    let _ = writeln!(s, "  label={};", dot_id(&meta.name));
    let _ = writeln!(
        s,
        "  rankdir=LR; fontname=\"Helvetica\"; node [fontname=\"Helvetica\", fontsize=10]; edge [fontname=\"Helvetica\", fontsize=9];"
    );
    let node = |s: &mut String, u: usize, indent: &str| {
        let m = &meta.units[u];
        let _ = writeln!(
            s,
            "{indent}{} [shape={}, label={}];",
            dot_id(&m.id),
            shape(m.type_name),
            dot_id(&format!("{}\\n{}", m.id, m.type_name))
        );
    };
    for (e, spec) in meta.enterprises.iter().enumerate() {
        let _ = writeln!(
            s,
            "  subgraph {} {{",
            dot_id(&format!("cluster_{}", spec.id))
        );
        let _ = writeln!(
            s,
            "    label={}; style=rounded; color=gray50;",
            dot_id(&spec.id)
        );
        for (u, m) in meta.units.iter().enumerate() {
            if m.enterprise == Some(e) {
                node(&mut s, u, "    ");
            }
        }
        let _ = writeln!(s, "  }}");
    }
    for (u, m) in meta.units.iter().enumerate() {
        if m.enterprise.is_none() {
            node(&mut s, u, "  ");
        }
    }
    let vmax = t
        .links
        .iter()
        .map(|l| l.volume_m3)
        .fold(0.0, f64::max)
        .max(f64::MIN_POSITIVE);
    for l in 0..topo.n_links() {
        let (a, b) = (topo.link_from[l] as usize, topo.link_to[l] as usize);
        let port = &topo.port_name[topo.link_from_port[l] as usize];
        let v = t.links[l].volume_m3;
        let _ = writeln!(
            s,
            "  {} -> {} [label={}, penwidth={:.2}, tooltip={}];",
            dot_id(&meta.units[a].id),
            dot_id(&meta.units[b].id),
            dot_id(&format!("{port}\\n{} m³", fmt_num(v))),
            0.5 + 5.5 * (v / vmax).sqrt(),
            dot_id(&topo.link_id[l])
        );
    }
    let _ = writeln!(s, "}}");
    s
}
