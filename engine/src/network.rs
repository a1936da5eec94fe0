//! The park's topology: units, their ports, links between them, and the flat arrays
//! (struct of arrays) compiled from them once at build.
//!
//! A unit has at most one inlet (every link into a unit mixes there) and any number of
//! outlet ports. Each outlet port has a [`PortRole`]:
//!
//! - [`PortRole::Driven`]: its flow is a fixed share of the unit's throughput this step
//!   (a process's wastewater, an RO's permeate, a cooling tower's blowdown). Links leaving a
//!   driven port are routed either by fixed split fractions or as a priority cascade.
//! - [`PortRole::Supply`]: water is *pulled* from it by consumers (a source, a tank's outlet).
//! - [`PortRole::Overflow`]: a tank's spill when it would exceed its capacity.
//! - [`PortRole::Exit`]: water leaving the park without a link (evaporation, drift, product
//!   water, discharge to the environment, leakage).
//!
//! Two dependency graphs are compiled. The *flow* graph orders the allocation: a unit depends
//! on the units whose driven or overflow ports feed it, and a tank with an overflow port
//! depends on the consumers that pull from it (its spill is known only after their pulls).
//! The *quality* graph orders the species solve: a unit depends on every unit that feeds it.
//! Both are split into strongly connected components (Tarjan) in topological order.

use crate::error::NetworkError;
use bevy_ecs::resource::Resource;
use std::collections::HashMap;

/// How a unit's throughput is decided in the flow problem.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlowKind {
    /// Has no inlet; consumers pull from its supply port up to its availability.
    Source,
    /// Its inflow is set by a target (a process's demand, a cooling tower's make-up, a
    /// treatment train's feed set-point); water pushed to it beyond the target is refused and
    /// cascades on; the rest of the target is pulled from supply links; a shortfall is unmet.
    Demand,
    /// Takes all water pushed to it, and pulls from supply links up to an optional target.
    Accept,
    /// Accepts all water pushed to it, stores it, offers its start-of-step contents on its supply
    /// port and spills over its overflow port.
    Tank,
}

/// How a unit's species are carried from its inlet to its outlets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QualityKind {
    /// Stateless: each outlet's concentration is an affine function of the inlet mix,
    /// `C_out = τ·C_in + λ`, per species.
    Affine,
    /// A completely mixed volume (tank, cooling-tower basin): the closed form of
    /// [`crate::mixing`] over the step, linear in the start and inlet concentrations.
    Mixed,
}

/// Where water that leaves the park without a link goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitKind {
    /// Evaporation (carries no dissolved species).
    Evaporation,
    /// Cooling-tower drift (carries recirculating water).
    Drift,
    /// Water bound into the product or otherwise consumed by a process.
    Product,
    /// Discharge to the environment through an outfall.
    Discharge,
    /// Leakage from pipes or units.
    Leak,
    /// Water that could not be routed anywhere (a diagnostic is raised when it happens).
    Spill,
    /// Water bound in sludge or salt cake.
    Solids,
}

impl ExitKind {
    /// All exit kinds in reporting order.
    pub const ALL: [ExitKind; 7] = [
        ExitKind::Evaporation,
        ExitKind::Drift,
        ExitKind::Product,
        ExitKind::Discharge,
        ExitKind::Leak,
        ExitKind::Spill,
        ExitKind::Solids,
    ];

    /// Lower-case name used in outputs.
    pub fn name(self) -> &'static str {
        match self {
            ExitKind::Evaporation => "evaporation",
            ExitKind::Drift => "drift",
            ExitKind::Product => "product",
            ExitKind::Discharge => "discharge",
            ExitKind::Leak => "leak",
            ExitKind::Spill => "spill",
            ExitKind::Solids => "solids",
        }
    }

    /// Index into per-exit-kind arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether water leaving this way is consumption (not discharge, leak or spill) in the
    /// GB/T 12452 sense.
    pub fn is_consumption(self) -> bool {
        matches!(
            self,
            ExitKind::Evaporation | ExitKind::Drift | ExitKind::Product | ExitKind::Solids
        )
    }
}

/// The role of an outlet port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PortRole {
    /// Flow is a share of the unit's throughput, routed over the port's links.
    Driven,
    /// Consumers pull from it.
    Supply,
    /// A tank's spill.
    Overflow,
    /// Leaves the park without a link.
    Exit(ExitKind),
}

/// A port as declared by a unit type.
#[derive(Clone, Debug)]
pub struct PortDecl {
    /// Port name, used in link endpoints as `unit.port`.
    pub name: String,
    /// Its role.
    pub role: PortRole,
    /// Whether a driven port must be linked (an unlinked optional port must carry no flow).
    pub required: bool,
}

impl PortDecl {
    /// A port with `role`; driven and overflow ports are required by default.
    pub fn new(name: &str, role: PortRole) -> Self {
        Self {
            name: name.to_string(),
            role,
            required: matches!(role, PortRole::Driven | PortRole::Overflow),
        }
    }

    /// Marks a driven port as optional.
    pub fn optional(mut self) -> Self {
        self.required = false;
        self
    }
}

/// A unit as declared to the network builder.
#[derive(Clone, Debug)]
pub struct UnitDecl {
    /// Stable unique id.
    pub id: String,
    /// Type name for messages and outputs (for example `"CoolingTower"`).
    pub type_name: String,
    /// Flow behaviour.
    pub flow: FlowKind,
    /// Quality behaviour.
    pub quality: QualityKind,
    /// The inlet's name (for example `"makeup"`), or `None` for a source.
    pub inlet: Option<String>,
    /// Outlet ports.
    pub ports: Vec<PortDecl>,
    /// Index of the enterprise the unit belongs to, if any.
    pub enterprise: Option<u32>,
    /// Whether the unit uses water (a process, a cooling tower): water leaving it has been used,
    /// and water entering it that was used before counts as repeated use.
    pub uses_water: bool,
}

/// A link as declared to the network builder.
#[derive(Clone, Debug)]
pub struct LinkDecl {
    /// Stable unique id (defaults to `from->to` in the park language).
    pub id: String,
    /// Upstream unit id.
    pub from_unit: String,
    /// Upstream port name; `None` means the unit's only linkable outlet.
    pub from_port: Option<String>,
    /// Downstream unit id.
    pub to_unit: String,
    /// Downstream inlet name, if given (checked against the unit's inlet).
    pub to_port: Option<String>,
    /// Capacity, m³/h (`f64::INFINITY` when unbounded).
    pub capacity_m3_per_h: f64,
    /// Pump head, m.
    pub head_m: f64,
    /// Wire-to-water pump efficiency (pump × motor), 0–1.
    pub pump_efficiency: f64,
    /// Priority among the links of the same port or inlet: lower goes first.
    pub priority: i32,
    /// Fixed split fraction of the upstream port's flow (all links of a port or none).
    pub split_fraction: Option<f64>,
}

/// A strongly connected component of a dependency graph.
#[derive(Clone, Debug)]
pub struct Component {
    /// Start of its units in the order array.
    pub start: u32,
    /// End (exclusive) of its units in the order array.
    pub end: u32,
    /// Whether it contains a cycle (more than one unit, or a self-link).
    pub cyclic: bool,
    /// Supply units (sources, tanks) pulled from by this component's units (flow graph only).
    pub supplies: Vec<u32>,
}

/// The compiled topology: flat arrays indexed by unit, port and link index.
///
/// Built once per scenario and never changed while it runs.
#[derive(Resource, Clone, Debug)]
pub struct Topology {
    /// Unit ids, by unit index.
    pub unit_id: Vec<String>,
    /// Unit type names.
    pub unit_type: Vec<String>,
    /// Flow kind per unit.
    pub unit_flow: Vec<FlowKind>,
    /// Quality kind per unit.
    pub unit_quality: Vec<QualityKind>,
    /// Inlet name per unit.
    pub unit_inlet: Vec<Option<String>>,
    /// Enterprise index per unit.
    pub unit_enterprise: Vec<Option<u32>>,
    /// Whether the unit uses water.
    pub unit_uses_water: Vec<bool>,
    /// CSR start of each unit's ports (length `n_units + 1`).
    pub unit_port_start: Vec<u32>,
    /// Owner unit per port.
    pub port_unit: Vec<u32>,
    /// Role per port.
    pub port_role: Vec<PortRole>,
    /// Name per port.
    pub port_name: Vec<String>,
    /// CSR start of each port's links in `port_links` (length `n_ports + 1`).
    pub port_link_start: Vec<u32>,
    /// Link indices by port, in routing order (priority, then declaration).
    pub port_links: Vec<u32>,
    /// Whether the port's links carry fixed split fractions.
    pub port_split: Vec<bool>,
    /// Link ids.
    pub link_id: Vec<String>,
    /// Upstream port per link.
    pub link_from_port: Vec<u32>,
    /// Upstream unit per link.
    pub link_from: Vec<u32>,
    /// Downstream unit per link.
    pub link_to: Vec<u32>,
    /// Capacity per link, m³/h.
    pub link_cap: Vec<f64>,
    /// Split fraction per link (0 when the port cascades).
    pub link_split: Vec<f64>,
    /// Head per link, m.
    pub link_head_m: Vec<f64>,
    /// Wire-to-water efficiency per link.
    pub link_eta: Vec<f64>,
    /// Pumping electricity per m³ sent, kWh/m³: `ρ·g·H/(η·3.6e6)` of each link's head and
    /// efficiency ([`crate::record::pumping_kwh_per_m3`]), derived from `link_head_m` and
    /// `link_eta` here, where they are set: a topology is built only by
    /// [`NetworkBuilder::compile`] and neither value changes at run time (no event edits a
    /// link's head or efficiency; scenario overrides change the park before it is compiled).
    /// The fused accounting pass books `e = (q + leak)·Δt·k` with it.
    pub link_pump_kwh_per_m3: Vec<f64>,
    /// CSR start of each unit's incoming links pushed by driven or overflow ports.
    pub in_push_start: Vec<u32>,
    /// Incoming pushed links, by unit.
    pub in_push: Vec<u32>,
    /// CSR start of each unit's incoming supply links (pulled), in pull order.
    pub in_pull_start: Vec<u32>,
    /// Incoming supply links, by unit, in pull order (priority, then declaration).
    pub in_pull: Vec<u32>,
    /// CSR start of each unit's incoming links of any kind.
    pub in_all_start: Vec<u32>,
    /// All incoming links by unit.
    pub in_all: Vec<u32>,
    /// Units in flow-solve order.
    pub flow_order: Vec<u32>,
    /// Flow-graph components in topological order.
    pub flow_components: Vec<Component>,
    /// Units in quality-solve order.
    pub quality_order: Vec<u32>,
    /// Quality-graph components in topological order.
    pub quality_components: Vec<Component>,
    /// Size of the largest quality component.
    pub largest_loop: usize,
}

impl Topology {
    /// Number of units.
    pub fn n_units(&self) -> usize {
        self.unit_id.len()
    }
    /// Number of ports.
    pub fn n_ports(&self) -> usize {
        self.port_unit.len()
    }
    /// Number of links.
    pub fn n_links(&self) -> usize {
        self.link_id.len()
    }
    /// Ports of unit `u`.
    pub fn ports_of(&self, u: usize) -> std::ops::Range<usize> {
        self.unit_port_start[u] as usize..self.unit_port_start[u + 1] as usize
    }
    /// Links leaving port `p`, in routing order.
    pub fn links_of_port(&self, p: usize) -> &[u32] {
        &self.port_links[self.port_link_start[p] as usize..self.port_link_start[p + 1] as usize]
    }
    /// Pushed links into unit `u`.
    pub fn pushed_into(&self, u: usize) -> &[u32] {
        &self.in_push[self.in_push_start[u] as usize..self.in_push_start[u + 1] as usize]
    }
    /// Supply links into unit `u`, in pull order.
    pub fn pulled_into(&self, u: usize) -> &[u32] {
        &self.in_pull[self.in_pull_start[u] as usize..self.in_pull_start[u + 1] as usize]
    }
    /// All links into unit `u`.
    pub fn links_into(&self, u: usize) -> &[u32] {
        &self.in_all[self.in_all_start[u] as usize..self.in_all_start[u + 1] as usize]
    }
    /// Index of the unit with `id`.
    pub fn unit_index(&self, id: &str) -> Option<usize> {
        self.unit_id.iter().position(|x| x == id)
    }
    /// Index of port `name` of unit `u`.
    pub fn port_index(&self, u: usize, name: &str) -> Option<usize> {
        self.ports_of(u).find(|&p| self.port_name[p] == name)
    }
    /// `unit.port` label of port `p`.
    pub fn port_label(&self, p: usize) -> String {
        format!(
            "{}.{}",
            self.unit_id[self.port_unit[p] as usize], self.port_name[p]
        )
    }
}

/// Collects unit and link declarations and compiles them into a [`Topology`].
#[derive(Default, Debug)]
pub struct NetworkBuilder {
    units: Vec<UnitDecl>,
    links: Vec<LinkDecl>,
}

impl NetworkBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a unit; returns its index.
    pub fn add_unit(&mut self, unit: UnitDecl) -> usize {
        self.units.push(unit);
        self.units.len() - 1
    }

    /// Adds a link.
    pub fn add_link(&mut self, link: LinkDecl) {
        self.links.push(link);
    }

    /// Units declared so far.
    pub fn units(&self) -> &[UnitDecl] {
        &self.units
    }

    /// Checks the declarations and compiles the topology. Every problem found is returned.
    pub fn compile(self) -> Result<Topology, Vec<NetworkError>> {
        compile(self.units, self.links)
    }
}

fn compile(units: Vec<UnitDecl>, links: Vec<LinkDecl>) -> Result<Topology, Vec<NetworkError>> {
    let mut errors = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, u) in units.iter().enumerate() {
        if index.insert(u.id.as_str(), i).is_some() {
            errors.push(NetworkError::DuplicateUnit { id: u.id.clone() });
        }
    }
    // Ports.
    let mut unit_port_start = Vec::with_capacity(units.len() + 1);
    let mut port_unit = Vec::new();
    let mut port_role = Vec::new();
    let mut port_name = Vec::new();
    let mut port_required = Vec::new();
    for (i, u) in units.iter().enumerate() {
        unit_port_start.push(port_unit.len() as u32);
        for p in &u.ports {
            port_unit.push(i as u32);
            port_role.push(p.role);
            port_name.push(p.name.clone());
            port_required.push(p.required);
        }
    }
    unit_port_start.push(port_unit.len() as u32);
    let n_ports = port_unit.len();

    // Resolve links.
    struct Resolved {
        decl_index: usize,
        from: usize,
        port: usize,
        to: usize,
    }
    let mut resolved = Vec::new();
    let mut seen_pairs: HashMap<(usize, usize), usize> = HashMap::new();
    let mut link_ids: HashMap<&str, usize> = HashMap::new();
    for (li, l) in links.iter().enumerate() {
        if link_ids.insert(l.id.as_str(), li).is_some() {
            errors.push(NetworkError::DuplicateLink { link: l.id.clone() });
        }
        let from = index.get(l.from_unit.as_str()).copied();
        let to = index.get(l.to_unit.as_str()).copied();
        if from.is_none() {
            errors.push(NetworkError::UnknownUnit {
                link: l.id.clone(),
                unit: l.from_unit.clone(),
            });
        }
        if to.is_none() {
            errors.push(NetworkError::UnknownUnit {
                link: l.id.clone(),
                unit: l.to_unit.clone(),
            });
        }
        let (Some(from), Some(to)) = (from, to) else {
            continue;
        };
        let ports = unit_port_start[from] as usize..unit_port_start[from + 1] as usize;
        let linkable: Vec<usize> = ports
            .clone()
            .filter(|&p| !matches!(port_role[p], PortRole::Exit(_)))
            .collect();
        let port = match &l.from_port {
            Some(name) => match ports.clone().find(|&p| &port_name[p] == name) {
                Some(p) if matches!(port_role[p], PortRole::Exit(_)) => {
                    errors.push(NetworkError::ExitPortLinked {
                        link: l.id.clone(),
                        port: format!("{}.{}", l.from_unit, name),
                    });
                    continue;
                }
                Some(p) => p,
                None => {
                    errors.push(NetworkError::UnknownPort {
                        link: l.id.clone(),
                        unit: l.from_unit.clone(),
                        port: name.clone(),
                        known: linkable.iter().map(|&p| port_name[p].clone()).collect(),
                    });
                    continue;
                }
            },
            None => {
                if linkable.len() == 1 {
                    linkable[0]
                } else {
                    errors.push(NetworkError::AmbiguousPort {
                        link: l.id.clone(),
                        unit: l.from_unit.clone(),
                        known: linkable.iter().map(|&p| port_name[p].clone()).collect(),
                    });
                    continue;
                }
            }
        };
        match (&units[to].inlet, &l.to_port) {
            (None, _) => {
                errors.push(NetworkError::NoInlet {
                    link: l.id.clone(),
                    unit: units[to].id.clone(),
                });
                continue;
            }
            (Some(inlet), Some(given)) if inlet != given => {
                errors.push(NetworkError::UnknownInlet {
                    link: l.id.clone(),
                    unit: units[to].id.clone(),
                    port: given.clone(),
                    inlet: inlet.clone(),
                });
                continue;
            }
            _ => {}
        }
        if let Some(prev) = seen_pairs.insert((port, to), li) {
            errors.push(NetworkError::DoubleLink {
                link: l.id.clone(),
                other: links[prev].id.clone(),
            });
            continue;
        }
        if l.capacity_m3_per_h.is_nan() || l.capacity_m3_per_h < 0.0 {
            errors.push(NetworkError::BadLinkValue {
                link: l.id.clone(),
                what: "capacity_m3_per_h",
                value: l.capacity_m3_per_h,
            });
        }
        if !(l.head_m.is_finite() && l.head_m >= 0.0) {
            errors.push(NetworkError::BadLinkValue {
                link: l.id.clone(),
                what: "head_m",
                value: l.head_m,
            });
        }
        if !(l.pump_efficiency > 0.0 && l.pump_efficiency <= 1.0) {
            errors.push(NetworkError::BadLinkValue {
                link: l.id.clone(),
                what: "pump_efficiency",
                value: l.pump_efficiency,
            });
        }
        if let Some(f) = l.split_fraction
            && !(0.0..=1.0).contains(&f)
        {
            errors.push(NetworkError::BadLinkValue {
                link: l.id.clone(),
                what: "split_fraction",
                value: f,
            });
        }
        if port_role[port] == PortRole::Supply
            && !matches!(
                units[to].flow,
                FlowKind::Demand | FlowKind::Accept | FlowKind::Tank
            )
        {
            errors.push(NetworkError::NoInlet {
                link: l.id.clone(),
                unit: units[to].id.clone(),
            });
        }
        resolved.push(Resolved {
            decl_index: li,
            from,
            port,
            to,
        });
    }

    // Port routing order and split checks.
    let n_links = resolved.len();
    let mut by_port: Vec<Vec<usize>> = vec![Vec::new(); n_ports];
    for (k, r) in resolved.iter().enumerate() {
        by_port[r.port].push(k);
    }
    let mut port_split = vec![false; n_ports];
    for p in 0..n_ports {
        let list = &mut by_port[p];
        list.sort_by_key(|&k| (links[resolved[k].decl_index].priority, k));
        let label = format!("{}.{}", units[port_unit[p] as usize].id, port_name[p]);
        if list.is_empty() {
            if port_required[p] {
                errors.push(NetworkError::UnlinkedPort { port: label });
            }
            continue;
        }
        let with_split = list
            .iter()
            .filter(|&&k| links[resolved[k].decl_index].split_fraction.is_some())
            .count();
        if with_split > 0 {
            if with_split != list.len() {
                errors.push(NetworkError::PartialSplit { port: label });
            } else if port_role[p] == PortRole::Supply {
                errors.push(NetworkError::SplitOnSupply { port: label });
            } else {
                let total: f64 = list
                    .iter()
                    .map(|&k| links[resolved[k].decl_index].split_fraction.unwrap_or(0.0))
                    .sum();
                if (total - 1.0).abs() > 1e-9 {
                    errors.push(NetworkError::SplitSum { port: label, total });
                } else {
                    port_split[p] = true;
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }

    // Flat link arrays in resolved order.
    let mut t = Topology {
        unit_id: units.iter().map(|u| u.id.clone()).collect(),
        unit_type: units.iter().map(|u| u.type_name.clone()).collect(),
        unit_flow: units.iter().map(|u| u.flow).collect(),
        unit_quality: units.iter().map(|u| u.quality).collect(),
        unit_inlet: units.iter().map(|u| u.inlet.clone()).collect(),
        unit_enterprise: units.iter().map(|u| u.enterprise).collect(),
        unit_uses_water: units.iter().map(|u| u.uses_water).collect(),
        unit_port_start,
        port_unit,
        port_role,
        port_name,
        port_link_start: Vec::with_capacity(n_ports + 1),
        port_links: Vec::with_capacity(n_links),
        port_split,
        link_id: resolved
            .iter()
            .map(|r| links[r.decl_index].id.clone())
            .collect(),
        link_from_port: resolved.iter().map(|r| r.port as u32).collect(),
        link_from: resolved.iter().map(|r| r.from as u32).collect(),
        link_to: resolved.iter().map(|r| r.to as u32).collect(),
        link_cap: resolved
            .iter()
            .map(|r| links[r.decl_index].capacity_m3_per_h)
            .collect(),
        link_split: resolved
            .iter()
            .map(|r| links[r.decl_index].split_fraction.unwrap_or(0.0))
            .collect(),
        link_head_m: resolved
            .iter()
            .map(|r| links[r.decl_index].head_m)
            .collect(),
        link_eta: resolved
            .iter()
            .map(|r| links[r.decl_index].pump_efficiency)
            .collect(),
        link_pump_kwh_per_m3: resolved
            .iter()
            .map(|r| {
                let l = &links[r.decl_index];
                crate::record::pumping_kwh_per_m3(l.head_m, l.pump_efficiency)
            })
            .collect(),
        in_push_start: Vec::new(),
        in_push: Vec::new(),
        in_pull_start: Vec::new(),
        in_pull: Vec::new(),
        in_all_start: Vec::new(),
        in_all: Vec::new(),
        flow_order: Vec::new(),
        flow_components: Vec::new(),
        quality_order: Vec::new(),
        quality_components: Vec::new(),
        largest_loop: 0,
    };
    for list in &by_port {
        t.port_link_start.push(t.port_links.len() as u32);
        t.port_links.extend(list.iter().map(|&k| k as u32));
    }
    t.port_link_start.push(t.port_links.len() as u32);

    let n_units = units.len();
    let mut push_in: Vec<Vec<u32>> = vec![Vec::new(); n_units];
    let mut pull_in: Vec<Vec<u32>> = vec![Vec::new(); n_units];
    for (k, r) in resolved.iter().enumerate() {
        if t.port_role[r.port] == PortRole::Supply {
            pull_in[r.to].push(k as u32);
        } else {
            push_in[r.to].push(k as u32);
        }
    }
    for list in &mut pull_in {
        list.sort_by_key(|&k| (links[resolved[k as usize].decl_index].priority, k));
    }
    let csr = |lists: &[Vec<u32>]| {
        let mut start = Vec::with_capacity(lists.len() + 1);
        let mut flat = Vec::new();
        for l in lists {
            start.push(flat.len() as u32);
            flat.extend_from_slice(l);
        }
        start.push(flat.len() as u32);
        (start, flat)
    };
    (t.in_push_start, t.in_push) = csr(&push_in);
    (t.in_pull_start, t.in_pull) = csr(&pull_in);
    let all_in: Vec<Vec<u32>> = (0..n_units)
        .map(|u| {
            let mut v = push_in[u].clone();
            v.extend_from_slice(&pull_in[u]);
            v.sort_unstable();
            v
        })
        .collect();
    (t.in_all_start, t.in_all) = csr(&all_in);

    // Flow dependency graph: edge a -> b means b is computed after a.
    let mut flow_edges: Vec<Vec<usize>> = vec![Vec::new(); n_units];
    let mut quality_edges: Vec<Vec<usize>> = vec![Vec::new(); n_units];
    for r in &resolved {
        quality_edges[r.from].push(r.to);
        match t.port_role[r.port] {
            PortRole::Supply => {
                if units[r.from].flow == FlowKind::Tank {
                    // A tank's spill depends on what its consumers pulled.
                    flow_edges[r.to].push(r.from);
                }
            }
            _ => flow_edges[r.from].push(r.to),
        }
    }
    let (order, comps) = sccs(&flow_edges);
    t.flow_order = order;
    t.flow_components = comps;
    let mut comps = std::mem::take(&mut t.flow_components);
    for c in &mut comps {
        let mut supplies = Vec::new();
        for &u in &t.flow_order[c.start as usize..c.end as usize] {
            for &l in t.pulled_into(u as usize) {
                supplies.push(t.link_from[l as usize]);
            }
        }
        supplies.sort_unstable();
        supplies.dedup();
        c.supplies = supplies;
    }
    t.flow_components = comps;
    let (order, comps) = sccs(&quality_edges);
    t.largest_loop = comps
        .iter()
        .filter(|c| c.cyclic)
        .map(|c| (c.end - c.start) as usize)
        .max()
        .unwrap_or(0);
    t.quality_order = order;
    t.quality_components = comps;
    // A recycle loop needs a way out for dissolved species: an exit that carries water with its
    // species (anything but evaporation) or a link leaving the loop.
    let mut member = vec![usize::MAX; n_units];
    for (ci, c) in t.quality_components.iter().enumerate() {
        for &u in &t.quality_order[c.start as usize..c.end as usize] {
            member[u as usize] = ci;
        }
    }
    for (ci, c) in t.quality_components.iter().enumerate() {
        if !c.cyclic {
            continue;
        }
        let units_in = &t.quality_order[c.start as usize..c.end as usize];
        let purged = units_in.iter().any(|&u| {
            t.ports_of(u as usize).any(|p| match t.port_role[p] {
                PortRole::Exit(ExitKind::Evaporation) => false,
                PortRole::Exit(_) => true,
                _ => t
                    .links_of_port(p)
                    .iter()
                    .any(|&l| member[t.link_to[l as usize] as usize] != ci),
            })
        });
        if !purged {
            errors.push(NetworkError::NoPurge {
                units: units_in
                    .iter()
                    .map(|&u| t.unit_id[u as usize].clone())
                    .collect(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(t)
}

/// Tarjan's algorithm (iterative), returning the units in topological order of components
/// (upstream first) and the components. Within a component, units keep ascending index order,
/// so that the order is stable for a given declaration order.
pub fn sccs(edges: &[Vec<usize>]) -> (Vec<u32>, Vec<Component>) {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0usize;
    let mut found: Vec<Vec<usize>> = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        let mut call: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut i)) = call.last_mut() {
            if *i < edges[v].len() {
                let w = edges[v][*i];
                *i += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    call.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
            } else {
                call.pop();
                if let Some(&(parent, _)) = call.last() {
                    low[parent] = low[parent].min(low[v]);
                }
                if low[v] == index[v] {
                    let mut comp = Vec::new();
                    loop {
                        let w = stack.pop().expect("tarjan stack holds the component");
                        on_stack[w] = false;
                        comp.push(w);
                        if w == v {
                            break;
                        }
                    }
                    comp.sort_unstable();
                    found.push(comp);
                }
            }
        }
    }
    // Tarjan emits components in reverse topological order.
    found.reverse();
    let mut order = Vec::with_capacity(n);
    let mut comps = Vec::with_capacity(found.len());
    for comp in found {
        let start = order.len() as u32;
        let cyclic = comp.len() > 1 || edges[comp[0]].contains(&comp[0]);
        order.extend(comp.iter().map(|&u| u as u32));
        comps.push(Component {
            start,
            end: order.len() as u32,
            cyclic,
            supplies: Vec::new(),
        });
    }
    (order, comps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tarjan_orders_components_upstream_first() {
        // 0 -> 1 -> 2 -> 1, 2 -> 3
        let edges = vec![vec![1], vec![2], vec![1, 3], vec![]];
        let (order, comps) = sccs(&edges);
        assert_eq!(comps.len(), 3);
        assert_eq!(order[0], 0);
        assert!(comps[1].cyclic);
        assert_eq!(&order[1..3], &[1, 2]);
        assert_eq!(order[3], 3);
        assert!(!comps[0].cyclic && !comps[2].cyclic);
    }

    #[test]
    fn self_loop_is_cyclic() {
        let (_, comps) = sccs(&[vec![0]]);
        assert!(comps[0].cyclic);
    }
}
