//! Flows as Sankey diagrams: water (m³), any species (kg; salt is `tds`), energy (kWh) and
//! CO2e (kg) over a run or any window of it, as node-link data that ECharts and Plotly load as
//! they are, and as an SVG picture for the report.
//!
//! # Layered, acyclic form
//!
//! ECharts refuses cycles, and every park with reuse has them. The water and species diagrams
//! are therefore drawn in stages, left to right: **supply** (sources, water released from
//! storage, reuse-loop returns) → the park's units in flow order (use, treatment, storage) →
//! **exits** (evaporation, drift, product, discharge, leak, solids, spill, water stored).
//! Units are ordered along the flow (a unit comes after every unit that feeds it, except around
//! a loop, where the unit with the most inflow from units already placed goes first); a link
//! that points back in this order closes a loop. Such a **loop link is drawn cut in two**: its
//! water leaves the upstream unit into an exit-stage node `out: reuse loop → X` on the right, and
//! the same amount enters `X` from a supply-stage node `in: reuse loop → X` on the left. The two
//! nodes of a loop carry equal values, so every unit's node still balances (inflow = outflow,
//! with storage changes drawn as `in: from storage` / `out: stored` and species made or
//! destroyed inside a unit as `in: added in units` / `out: removed in units`), and the exit
//! stage plus the loop nodes equal the supply stage.
//!
//! Energy and CO2e diagrams are acyclic by nature: origin (grid electricity, on-site
//! generation, heat; or the carbon of electricity, heat, chemicals, other) → enterprise → end
//! use (link pumping, or the unit type's own equipment).
//!
//! ECharts: `echarts.init(el).setOption(json)` with the `*.echarts.json` file (an option
//! object). Plotly: `Plotly.newPlot(el, fig.data, fig.layout)` or
//! `plotly.io.read_json("….plotly.json")` with the `*.plotly.json` file (a figure).

use parktwin_engine::network::{ExitKind, Topology};
use parktwin_parks::totals::Totals;
use parktwin_parks::validate::ParkMeta;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A node.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Node {
    /// Unique name (label).
    pub name: String,
    /// Column, 0 = supply.
    pub depth: usize,
    /// `source`, `unit`, `loop_in`, `loop_out`, `storage_in`, `storage_out`, `internal_in`,
    /// `internal_out`, `exit`, `origin`, `enterprise`, `use`.
    pub kind: String,
}

/// A link between nodes (indices).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Link {
    /// Upstream node.
    pub source: usize,
    /// Downstream node.
    pub target: usize,
    /// Amount over the period.
    pub value: f64,
}

/// A Sankey diagram.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Sankey {
    /// What flows (`water`, a species name, `energy`, `co2e`).
    pub quantity: String,
    /// Its unit (`m³`, `kg`, `kWh`, `kg CO2e`).
    pub unit: String,
    /// Title.
    pub title: String,
    /// Period covered.
    pub period: String,
    /// Nodes.
    pub nodes: Vec<Node>,
    /// Links.
    pub links: Vec<Link>,
}

struct Builder {
    nodes: Vec<Node>,
    index: BTreeMap<String, usize>,
    links: BTreeMap<(usize, usize), f64>,
}

impl Builder {
    fn new() -> Self {
        Self {
            nodes: Vec::new(),
            index: BTreeMap::new(),
            links: BTreeMap::new(),
        }
    }
    fn node(&mut self, name: &str, depth: usize, kind: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.nodes.len();
        self.nodes.push(Node {
            name: name.to_string(),
            depth,
            kind: kind.to_string(),
        });
        self.index.insert(name.to_string(), i);
        i
    }
    fn link(&mut self, a: usize, b: usize, v: f64) {
        if v > 0.0 && v.is_finite() {
            *self.links.entry((a, b)).or_insert(0.0) += v;
        }
    }
    fn finish(self, quantity: &str, unit: &str, title: String, period: String) -> Sankey {
        // Keep only nodes that carry something, renumbered in creation order.
        let mut used = vec![false; self.nodes.len()];
        for &(a, b) in self.links.keys() {
            used[a] = true;
            used[b] = true;
        }
        let mut map = vec![usize::MAX; self.nodes.len()];
        let mut nodes = Vec::new();
        for (i, n) in self.nodes.into_iter().enumerate() {
            if used[i] {
                map[i] = nodes.len();
                nodes.push(n);
            }
        }
        let links = self
            .links
            .into_iter()
            .map(|((a, b), v)| Link {
                source: map[a],
                target: map[b],
                value: v,
            })
            .collect();
        Sankey {
            quantity: quantity.to_string(),
            unit: unit.to_string(),
            title,
            period,
            nodes,
            links,
        }
    }
}

/// A name that is not a unit id: unit ids never collide with the stage nodes.
fn free_name(meta: &ParkMeta, name: String) -> String {
    let mut n = name;
    while meta.units.iter().any(|u| u.id == n) {
        n.push('\u{2009}');
    }
    n
}

/// The order of units along the flow and the depth of each (see the module docs).
/// `w[a][b]` is what unit `a` sends to unit `b`.
fn flow_order(
    n: usize,
    edges: &BTreeMap<(usize, usize), f64>,
    is_source: &[bool],
    is_use: &[bool],
) -> Vec<usize> {
    let mut preds: Vec<Vec<(usize, f64)>> = vec![Vec::new(); n];
    for (&(a, b), &v) in edges {
        if a != b && v > 0.0 {
            preds[b].push((a, v));
        }
    }
    let mut pos = vec![usize::MAX; n];
    let mut placed = 0;
    // Sources first.
    for u in 0..n {
        if is_source[u] {
            pos[u] = placed;
            placed += 1;
        }
    }
    while placed < n {
        let ready = (0..n)
            .find(|&u| pos[u] == usize::MAX && preds[u].iter().all(|&(a, _)| pos[a] != usize::MAX));
        // Around a loop: a water-using unit already fed by placed units goes first (so loops
        // are cut where treated or stored water returns to use), else the unit with the most
        // inflow from placed units.
        let pick = ready.unwrap_or_else(|| {
            let fed = |u: usize| -> f64 {
                preds[u]
                    .iter()
                    .filter(|p| pos[p.0] != usize::MAX)
                    .map(|p| p.1)
                    .sum()
            };
            // Fewer unplaced water-using suppliers first: the cut then falls on links from
            // treatment or storage, not on a cascade between uses.
            let waiting_uses = |u: usize| -> usize {
                preds[u]
                    .iter()
                    .filter(|p| pos[p.0] == usize::MAX && is_use[p.0])
                    .count()
            };
            (0..n)
                .filter(|&u| pos[u] == usize::MAX)
                .max_by(|&x, &y| {
                    let kx = (is_use[x] && fed(x) > 0.0, fed(x));
                    let ky = (is_use[y] && fed(y) > 0.0, fed(y));
                    kx.0.cmp(&ky.0)
                        .then(waiting_uses(y).cmp(&waiting_uses(x)))
                        .then(kx.1.total_cmp(&ky.1))
                        .then(y.cmp(&x))
                })
                .unwrap_or(0)
        });
        pos[pick] = placed;
        placed += 1;
    }
    pos
}

/// Depth of each unit: longest path over forward edges; sources at 0, others at least 1.
fn depths(
    n: usize,
    edges: &BTreeMap<(usize, usize), f64>,
    pos: &[usize],
    is_source: &[bool],
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&u| pos[u]);
    let mut depth = vec![0usize; n];
    for &u in &order {
        if !is_source[u] {
            depth[u] = depth[u].max(1);
        }
        for (&(a, b), &v) in edges.range((u, 0)..=(u, usize::MAX)) {
            if v > 0.0 && a != b && pos[a] < pos[b] {
                depth[b] = depth[b].max(depth[u] + 1);
            }
        }
    }
    depth
}

fn period_label(meta: &ParkMeta, t: &Totals) -> String {
    let from = t.first_step as f64 * t.dt_h;
    let to = from + t.hours();
    format!(
        "{} h to {} h after {} ({} steps)",
        from, to, meta.start, t.steps
    )
}

/// Water (`species = None`, m³) or one species (kg) through the park over the window of `t`.
pub fn material(topo: &Topology, meta: &ParkMeta, t: &Totals, species: Option<usize>) -> Sankey {
    let n = topo.n_units();
    let is_source: Vec<bool> = (0..n)
        .map(|u| meta.units[u].source_kind.is_some())
        .collect();
    let scale = if species.is_some() { 1e-3 } else { 1.0 };
    let link_value = |l: usize| match species {
        None => t.links[l].volume_m3,
        Some(s) => t.link_species(l, s) * scale,
    };
    let mut edges: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for l in 0..topo.n_links() {
        let (a, b) = (topo.link_from[l] as usize, topo.link_to[l] as usize);
        *edges.entry((a, b)).or_insert(0.0) += link_value(l);
    }
    // Order and depth by water, so every diagram of a park has the same layout.
    let mut water: BTreeMap<(usize, usize), f64> = BTreeMap::new();
    for l in 0..topo.n_links() {
        let (a, b) = (topo.link_from[l] as usize, topo.link_to[l] as usize);
        *water.entry((a, b)).or_insert(0.0) += t.links[l].volume_m3;
    }
    let is_use: Vec<bool> = (0..n).map(|u| meta.units[u].is_use).collect();
    let pos = flow_order(n, &water, &is_source, &is_use);
    let depth = depths(n, &water, &pos, &is_source);
    let last = depth.iter().copied().max().unwrap_or(0) + 1;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&u| pos[u]);
    let mut g = Builder::new();
    let mut unit_node = vec![0usize; n];
    for &u in &order {
        unit_node[u] = g.node(
            &meta.units[u].id,
            depth[u],
            if is_source[u] { "source" } else { "unit" },
        );
    }
    for (&(a, b), &v) in &edges {
        if pos[a] < pos[b] {
            g.link(unit_node[a], unit_node[b], v);
        } else {
            let id = &meta.units[b].id;
            let out = g.node(
                &free_name(meta, format!("out: reuse loop → {id}")),
                last,
                "loop_out",
            );
            let inn = g.node(
                &free_name(meta, format!("in: reuse loop → {id}")),
                0,
                "loop_in",
            );
            g.link(unit_node[a], out, v);
            g.link(inn, unit_node[b], v);
        }
    }
    let nc = t.n_species();
    for &u in &order {
        for k in ExitKind::ALL {
            let v = match species {
                None => t.units[u].exits_m3[k.index()],
                Some(s) => t.exit_species(u, k.index(), s) * scale,
            };
            if v > 0.0 {
                let e = g.node(&free_name(meta, format!("out: {}", k.name())), last, "exit");
                g.link(unit_node[u], e, v);
            }
        }
        let ds = match species {
            None => t.unit_water[u].storage_change,
            Some(s) => t.unit_species[u * nc + s].storage_change * scale,
        };
        if ds > 0.0 {
            let e = g.node(&free_name(meta, "out: stored".into()), last, "storage_out");
            g.link(unit_node[u], e, ds);
        } else if ds < 0.0 {
            let e = g.node(&free_name(meta, "in: from storage".into()), 0, "storage_in");
            g.link(e, unit_node[u], -ds);
        }
        // Species made or destroyed inside a unit (loads, reaction, solids): the node's residual.
        if let Some(s) = species
            && !is_source[u]
        {
            let inflow: f64 = (0..topo.n_links())
                .filter(|&l| topo.link_to[l] as usize == u)
                .map(link_value)
                .sum();
            let outflow: f64 = (0..topo.n_links())
                .filter(|&l| topo.link_from[l] as usize == u)
                .map(link_value)
                .sum();
            let exits: f64 = ExitKind::ALL
                .iter()
                .map(|k| t.exit_species(u, k.index(), s) * scale)
                .sum();
            let net = outflow + exits + ds - inflow;
            let size = inflow.max(outflow + exits).max(ds.abs());
            if net > 1e-9 * size {
                let e = g.node(
                    &free_name(meta, "in: added in units".into()),
                    0,
                    "internal_in",
                );
                g.link(e, unit_node[u], net);
            } else if net < -1e-9 * size {
                let e = g.node(
                    &free_name(meta, "out: removed in units".into()),
                    last,
                    "internal_out",
                );
                g.link(unit_node[u], e, -net);
            }
        }
    }
    let (q, unit, title) = match species {
        None => (
            "water".to_string(),
            "m³",
            format!("Water through {}", meta.name),
        ),
        Some(s) => (
            t.species[s].clone(),
            "kg",
            format!("{} through {}", t.species[s].to_uppercase(), meta.name),
        ),
    };
    g.finish(&q, unit, title, period_label(meta, t))
}

fn enterprise_label(meta: &ParkMeta, u: usize) -> String {
    match meta.units[u].enterprise {
        Some(e) => format!("enterprise: {}", meta.enterprises[e].id),
        None => "park (no enterprise)".to_string(),
    }
}

/// Electricity and heat (kWh) by origin → enterprise → end use over the window of `t`.
/// Grid and on-site electricity are split in the park's proportion.
pub fn energy(topo: &Topology, meta: &ParkMeta, t: &Totals) -> Sankey {
    let mut g = Builder::new();
    let n = topo.n_units();
    let mut pumping = vec![0.0; n];
    for l in 0..topo.n_links() {
        pumping[topo.link_from[l] as usize] += t.links[l].pumping_kwh;
    }
    let elec: f64 = t.units.iter().map(|u| u.electricity_kwh).sum();
    let grid_share = if elec > 0.0 {
        (t.grid_import_kwh / elec).clamp(0.0, 1.0)
    } else {
        1.0
    };
    let grid = g.node("grid electricity", 0, "origin");
    let onsite = g.node("on-site generation", 0, "origin");
    let heat = g.node("heat", 0, "origin");
    for u in 0..n {
        let ut = &t.units[u];
        let ent = g.node(&enterprise_label(meta, u), 1, "enterprise");
        let e = ut.electricity_kwh;
        g.link(grid, ent, e * grid_share);
        g.link(onsite, ent, e * (1.0 - grid_share));
        g.link(heat, ent, ut.heat_kwh);
        let pump = g.node("use: pumping", 2, "use");
        g.link(ent, pump, pumping[u]);
        let own = g.node(&format!("use: {}", meta.units[u].type_name), 2, "use");
        g.link(ent, own, (e - pumping[u]).max(0.0) + ut.heat_kwh);
    }
    g.finish(
        "energy",
        "kWh",
        format!("Energy of {}", meta.name),
        period_label(meta, t),
    )
}

/// CO2e (kg) by origin → enterprise → end use over the window of `t`. Units book electricity
/// carbon gross; it is scaled to the park's net grid carbon (after on-site generation).
pub fn carbon(topo: &Topology, meta: &ParkMeta, t: &Totals) -> Sankey {
    let mut g = Builder::new();
    let n = topo.n_units();
    let gross: f64 = t.units.iter().map(|u| u.carbon.electricity).sum();
    let k_e = if gross > 0.0 {
        t.carbon.electricity / gross
    } else {
        1.0
    };
    let mut pumping_share = vec![0.0; n];
    for l in 0..topo.n_links() {
        pumping_share[topo.link_from[l] as usize] += t.links[l].pumping_kwh;
    }
    let origins = [
        g.node("electricity (grid)", 0, "origin"),
        g.node("heat", 0, "origin"),
        g.node("chemicals", 0, "origin"),
        g.node("other (purchased water, direct)", 0, "origin"),
    ];
    for u in 0..n {
        let c = &t.units[u].carbon;
        let ent = g.node(&enterprise_label(meta, u), 1, "enterprise");
        let vals = [c.electricity * k_e, c.heat, c.chemicals, c.other];
        for (o, v) in origins.iter().zip(vals) {
            g.link(*o, ent, v);
        }
        let e = t.units[u].electricity_kwh;
        let f_pump = if e > 0.0 {
            (pumping_share[u] / e).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let pump = g.node("use: pumping", 2, "use");
        g.link(ent, pump, vals[0] * f_pump);
        let own = g.node(&format!("use: {}", meta.units[u].type_name), 2, "use");
        g.link(
            ent,
            own,
            vals[0] * (1.0 - f_pump) + vals[1] + vals[2] + vals[3],
        );
    }
    g.finish(
        "co2e",
        "kg CO2e",
        format!("Carbon of {}", meta.name),
        period_label(meta, t),
    )
}

impl Sankey {
    /// Sum of link values into and out of each node.
    pub fn node_totals(&self) -> Vec<(f64, f64)> {
        let mut t = vec![(0.0, 0.0); self.nodes.len()];
        for l in &self.links {
            t[l.source].1 += l.value;
            t[l.target].0 += l.value;
        }
        t
    }

    /// An ECharts option object (`chart.setOption(json)`).
    pub fn to_echarts(&self) -> Value {
        let data: Vec<Value> = self
            .nodes
            .iter()
            .map(|n| json!({"name": n.name, "depth": n.depth, "kind": n.kind}))
            .collect();
        let links: Vec<Value> = self
            .links
            .iter()
            .map(|l| {
                json!({
                    "source": self.nodes[l.source].name,
                    "target": self.nodes[l.target].name,
                    "value": l.value,
                })
            })
            .collect();
        json!({
            "title": {"text": self.title, "subtext": format!("{} in {}; {}", self.quantity, self.unit, self.period)},
            "tooltip": {"trigger": "item", "triggerOn": "mousemove"},
            "series": [{
                "type": "sankey",
                "left": 40, "right": 180, "top": 60, "bottom": 20,
                "nodeAlign": "left",
                "emphasis": {"focus": "adjacency"},
                "lineStyle": {"color": "gradient", "curveness": 0.5, "opacity": 0.4},
                "label": {"fontSize": 11},
                "data": data,
                "links": links,
            }],
        })
    }

    /// A Plotly figure (`{"data": [...], "layout": {...}}`).
    pub fn to_plotly(&self) -> Value {
        json!({
            "data": [{
                "type": "sankey",
                "arrangement": "snap",
                "valueformat": ".4s",
                "valuesuffix": format!(" {}", self.unit),
                "node": {
                    "label": self.nodes.iter().map(|n| n.name.clone()).collect::<Vec<_>>(),
                    "pad": 12,
                    "thickness": 14,
                },
                "link": {
                    "source": self.links.iter().map(|l| l.source).collect::<Vec<_>>(),
                    "target": self.links.iter().map(|l| l.target).collect::<Vec<_>>(),
                    "value": self.links.iter().map(|l| l.value).collect::<Vec<_>>(),
                },
            }],
            "layout": {
                "title": {"text": format!("{} ({}; {})", self.title, self.unit, self.period)},
                "font": {"size": 11},
            },
        })
    }

    /// Reads back the nodes and links of an ECharts option written by [`Sankey::to_echarts`].
    pub fn from_echarts(v: &Value) -> Option<Sankey> {
        let series = v.get("series")?.get(0)?;
        let mut nodes = Vec::new();
        let mut index = BTreeMap::new();
        for n in series.get("data")?.as_array()? {
            let name = n.get("name")?.as_str()?.to_string();
            index.insert(name.clone(), nodes.len());
            nodes.push(Node {
                name,
                depth: n.get("depth").and_then(Value::as_u64).unwrap_or(0) as usize,
                kind: n
                    .get("kind")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
            });
        }
        let mut links = Vec::new();
        for l in series.get("links")?.as_array()? {
            links.push(Link {
                source: *index.get(l.get("source")?.as_str()?)?,
                target: *index.get(l.get("target")?.as_str()?)?,
                value: l.get("value")?.as_f64()?,
            });
        }
        let sub = v
            .get("title")
            .and_then(|t| t.get("subtext"))
            .and_then(Value::as_str)
            .unwrap_or("");
        let (q, rest) = sub.split_once(" in ").unwrap_or(("", ""));
        let (unit, period) = rest.split_once("; ").unwrap_or((rest, ""));
        Some(Sankey {
            quantity: q.to_string(),
            unit: unit.to_string(),
            title: v
                .get("title")
                .and_then(|t| t.get("text"))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            period: period.to_string(),
            nodes,
            links,
        })
    }

    /// The diagram as an SVG picture (nodes in columns by depth, bands proportional to value).
    pub fn to_svg(&self, width: f64, height: f64) -> String {
        let totals = self.node_totals();
        let value: Vec<f64> = totals.iter().map(|(i, o)| i.max(*o)).collect();
        let ncol = self.nodes.iter().map(|n| n.depth).max().unwrap_or(0) + 1;
        let (left, right, top, bottom) = (10.0, 250.0, 10.0, 10.0);
        let pad = 8.0;
        let node_w = 12.0;
        let mut cols: Vec<Vec<usize>> = vec![Vec::new(); ncol];
        for (i, n) in self.nodes.iter().enumerate() {
            cols[n.depth].push(i);
        }
        let avail = height - top - bottom;
        let k = cols
            .iter()
            .filter(|c| !c.is_empty())
            .map(|c| {
                let sum: f64 = c.iter().map(|&i| value[i]).sum();
                (avail - pad * (c.len() as f64 - 1.0)).max(avail * 0.3) / sum.max(f64::MIN_POSITIVE)
            })
            .fold(f64::INFINITY, f64::min);
        let k = if k.is_finite() { k } else { 0.0 };
        let span = width - left - right - node_w;
        let x_of = |d: usize| {
            left + if ncol > 1 {
                span * d as f64 / (ncol - 1) as f64
            } else {
                0.0
            }
        };
        let mut y = vec![0.0; self.nodes.len()];
        let mut h = vec![0.0; self.nodes.len()];
        for c in &cols {
            let mut yy = top;
            for &i in c {
                y[i] = yy;
                h[i] = (value[i] * k).max(1.0);
                yy += h[i] + pad;
            }
        }
        let palette = [
            "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
            "#9c755f", "#bab0ac",
        ];
        let color = |i: usize| -> &'static str {
            match self.nodes[i].kind.as_str() {
                "exit" | "internal_out" => "#9c755f",
                "loop_in" | "loop_out" => "#59a14f",
                "storage_in" | "storage_out" => "#76b7b2",
                _ => palette[i % palette.len()],
            }
        };
        let mut out_off = vec![0.0; self.nodes.len()];
        let mut in_off = vec![0.0; self.nodes.len()];
        let mut s = String::new();
        let _ = write!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart sankey" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{}">"#,
            esc(&self.title)
        );
        // Band ends: leaving a node ordered by the target's height, entering ordered by the
        // source's height, so bands do not cross needlessly.
        let nl = self.links.len();
        let mut y0s = vec![0.0; nl];
        let mut y1s = vec![0.0; nl];
        let mut by_out: Vec<usize> = (0..nl).collect();
        by_out.sort_by(|&a, &b| {
            let (la, lb) = (&self.links[a], &self.links[b]);
            la.source
                .cmp(&lb.source)
                .then(y[la.target].total_cmp(&y[lb.target]))
        });
        for &li in &by_out {
            let l = &self.links[li];
            y0s[li] = y[l.source] + out_off[l.source];
            out_off[l.source] += l.value * k;
        }
        let mut by_in: Vec<usize> = (0..nl).collect();
        by_in.sort_by(|&a, &b| {
            let (la, lb) = (&self.links[a], &self.links[b]);
            la.target
                .cmp(&lb.target)
                .then(y[la.source].total_cmp(&y[lb.source]))
        });
        for &li in &by_in {
            let l = &self.links[li];
            y1s[li] = y[l.target] + in_off[l.target];
            in_off[l.target] += l.value * k;
        }
        for (li, l) in self.links.iter().enumerate() {
            let w = l.value * k;
            let x0 = x_of(self.nodes[l.source].depth) + node_w;
            let x1 = x_of(self.nodes[l.target].depth);
            let (y0, y1) = (y0s[li], y1s[li]);
            let xm = (x0 + x1) / 2.0;
            let _ = write!(
                s,
                r#"<path d="M{x0:.1},{y0:.2} C{xm:.1},{y0:.2} {xm:.1},{y1:.2} {x1:.1},{y1:.2} L{x1:.1},{:.2} C{xm:.1},{:.2} {xm:.1},{:.2} {x0:.1},{:.2} Z" fill="{}" fill-opacity="0.35"><title>{} → {}: {} {}</title></path>"#,
                y1 + w,
                y1 + w,
                y0 + w,
                y0 + w,
                color(l.source),
                esc(&self.nodes[l.source].name),
                esc(&self.nodes[l.target].name),
                fmt_num(l.value),
                esc(&self.unit)
            );
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let x = x_of(n.depth);
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{:.2}" width="{node_w}" height="{:.2}" fill="{}"><title>{}: {} {}</title></rect>"#,
                y[i],
                h[i],
                color(i),
                esc(&n.name),
                fmt_num(value[i]),
                esc(&self.unit)
            );
            // Labels right of the node in the left half and in the last column, left of it
            // otherwise.
            let (tx, anchor) = if 2 * n.depth < ncol || n.depth + 1 == ncol {
                (x + node_w + 4.0, "start")
            } else {
                (x - 4.0, "end")
            };
            let _ = write!(
                s,
                r#"<text x="{tx:.1}" y="{:.2}" font-size="10" text-anchor="{anchor}" dominant-baseline="middle">{} ({})</text>"#,
                y[i] + h[i] / 2.0,
                esc(&n.name),
                fmt_num(value[i])
            );
        }
        s.push_str("</svg>");
        s
    }
}

/// Escapes text for HTML and SVG.
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A number with an SI-like suffix (k, M, G) and three to four significant digits.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.2} G", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1} k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a == 0.0 {
        "0".to_string()
    } else {
        format!("{v:.3}")
    }
}
