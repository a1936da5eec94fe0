//! # parktwin-units
//!
//! Unit-operation models for parktwin. Each model is a bevy_ecs component holding its
//! parameters (SI-style units in field names), declares its ports to the engine, sets its static
//! transfer coefficients once at build ([`UnitModel::init`]) and, every step, writes its target,
//! port shares and availability (Demand phase) and books its energy, chemicals, money and
//! product (Account phase). Every model's doc comment states its equations, units and sources.
//!
//! Adding a unit type: a module with its component and systems, a variant of [`AnyUnit`], and
//! its systems in [`add_systems`]. The engine's solver is never touched.

use bevy_ecs::prelude::*;
use parktwin_engine::network::{FlowKind, PortDecl, QualityKind, Topology, UnitDecl};
use parktwin_engine::series::Series;
use parktwin_engine::sim::{EngineAccounting, Phase};
use parktwin_engine::state::{Storage, UnitIndex, UnitInputs};

pub mod biological;
pub mod chemistry;
pub mod cooling_tower;
pub mod crystalliser;
pub mod discharge;
pub mod dosing;
pub mod economics;
pub mod generator;
pub mod junction;
pub mod process;
pub mod rain;
pub mod ro;
pub mod source;
pub mod steam;
pub mod tank;
pub mod taxes;
pub mod thermal;
pub mod treatment;
pub mod weather;

pub use cooling_tower::CoolingTower;
pub use discharge::Discharge;
pub use junction::Junction;
pub use process::Process;
pub use source::{Source, SourceKind};
pub use tank::Tank;
pub use treatment::{Feed, Treatment};

pub use biological::Biological;
pub use crystalliser::Crystalliser;
pub use generator::Generator;
pub use rain::RainHarvest;
pub use ro::ReverseOsmosis;
pub use steam::SteamSystem;
pub use taxes::Taxes;
pub use thermal::ThermalDesal;
pub use weather::Weather;

/// Park-wide resources the unit models read (weather, taxes), built from a park file.
#[derive(Clone, Debug, Default)]
pub struct ParkResources {
    /// Weather drivers.
    pub weather: Weather,
    /// Taxes.
    pub taxes: Taxes,
}

impl ParkResources {
    /// Inserts the resources into `world`.
    pub fn insert_into(self, world: &mut World) {
        world.insert_resource(self.weather);
        world.insert_resource(self.taxes);
    }
}

/// Where a unit's static coefficients are written at build.
pub struct InitContext<'a> {
    /// The compiled topology.
    pub topo: &'a Topology,
    /// Number of species.
    pub ns: usize,
    /// Step inputs (static parts: τ, λ, generated, removed, limits).
    pub inputs: &'a mut UnitInputs,
    /// Mixed volumes (initial volume, capacity, concentration).
    pub storage: &'a mut Storage,
}

impl InitContext<'_> {
    /// Index of port `name` of unit `u`.
    ///
    /// # Panics
    /// If the unit does not have that port: ports come from the unit's own declaration, so this
    /// is a programming error in a unit model, never a user-input error.
    pub fn port(&self, u: usize, name: &str) -> usize {
        self.topo
            .port_index(u, name)
            .unwrap_or_else(|| panic!("unit model declares no port {name:?}"))
    }
    /// Sets τ and λ of port `p` for the declared species (`tau.len()` of them; the engine's
    /// tracers are handled by the engine).
    pub fn set_transfer(&mut self, p: usize, tau: &[f64], lambda: &[f64]) {
        let ns = self.ns;
        self.inputs.tau[p * ns..p * ns + tau.len()].copy_from_slice(tau);
        self.inputs.lambda[p * ns..p * ns + lambda.len()].copy_from_slice(lambda);
    }
    /// Sets the mass generated per m³ of throughput, g/m³, per declared species.
    pub fn set_generated(&mut self, u: usize, g: &[f64]) {
        let ns = self.ns;
        self.inputs.generated_g_per_m3[u * ns..u * ns + g.len()].copy_from_slice(g);
    }
    /// Sets the fraction of inlet mass removed by reaction, per declared species.
    pub fn set_removed(&mut self, u: usize, r: &[f64]) {
        let ns = self.ns;
        self.inputs.removed_fraction[u * ns..u * ns + r.len()].copy_from_slice(r);
    }
    /// Sets the fraction of inlet mass leaving as solids, per declared species.
    pub fn set_solids(&mut self, u: usize, f: &[f64]) {
        let ns = self.ns;
        self.inputs.solids_fraction[u * ns..u * ns + f.len()].copy_from_slice(f);
    }
    /// Sets the accepted inlet limits, mg/L, per declared species.
    pub fn set_accept(&mut self, u: usize, l: &[f64]) {
        let ns = self.ns;
        self.inputs.accept_limit[u * ns..u * ns + l.len()].copy_from_slice(l);
    }
    /// Sets a mixed volume's initial volume, capacity, minimum and concentrations.
    pub fn set_volume(&mut self, u: usize, volume: f64, capacity: f64, minimum: f64, conc: &[f64]) {
        let ns = self.ns;
        let s = &mut *self.storage;
        s.volume[u] = volume;
        s.volume_end[u] = volume;
        s.capacity[u] = capacity;
        s.minimum[u] = minimum;
        s.conc[u * ns..u * ns + conc.len()].copy_from_slice(conc);
        s.conc_end[u * ns..u * ns + conc.len()].copy_from_slice(conc);
    }
}

/// What a unit model tells the engine about itself.
pub trait UnitModel {
    /// Type name used in messages and outputs.
    const TYPE_NAME: &'static str;
    /// Flow behaviour.
    fn flow_kind(&self) -> FlowKind;
    /// Quality behaviour.
    fn quality_kind(&self) -> QualityKind {
        QualityKind::Affine
    }
    /// Inlet name, `None` for a source.
    fn inlet(&self) -> Option<&'static str>;
    /// Outlet ports.
    fn ports(&self) -> Vec<PortDecl>;
    /// Writes static coefficients for unit index `u`.
    fn init(&self, u: usize, ctx: &mut InitContext<'_>);
    /// Whether the unit uses water (water leaving it has been used).
    fn uses_water(&self) -> bool {
        false
    }
}

/// Any unit model, for builders.
#[derive(Clone, Debug)]
pub enum AnyUnit {
    /// An intake.
    Source(Source),
    /// A storage tank.
    Tank(Tank),
    /// An enterprise process.
    Process(Process),
    /// A cooling tower.
    CoolingTower(CoolingTower),
    /// A treatment unit.
    Treatment(Treatment),
    /// A splitter or mixer.
    Junction(Junction),
    /// An outfall.
    Discharge(Discharge),
    /// A reverse-osmosis unit.
    ReverseOsmosis(ReverseOsmosis),
    /// Thermal desalination (MED, MVC).
    ThermalDesal(ThermalDesal),
    /// Biological treatment.
    Biological(Biological),
    /// A ZLD crystalliser.
    Crystalliser(Crystalliser),
    /// A steam system.
    SteamSystem(SteamSystem),
    /// Rainwater harvesting.
    RainHarvest(RainHarvest),
    /// On-site generation.
    Generator(Generator),
}

macro_rules! each_unit {
    ($self:expr, $u:ident => $body:expr) => {
        match $self {
            AnyUnit::Source($u) => $body,
            AnyUnit::Tank($u) => $body,
            AnyUnit::Process($u) => $body,
            AnyUnit::CoolingTower($u) => $body,
            AnyUnit::Treatment($u) => $body,
            AnyUnit::Junction($u) => $body,
            AnyUnit::Discharge($u) => $body,
            AnyUnit::ReverseOsmosis($u) => $body,
            AnyUnit::ThermalDesal($u) => $body,
            AnyUnit::Biological($u) => $body,
            AnyUnit::Crystalliser($u) => $body,
            AnyUnit::SteamSystem($u) => $body,
            AnyUnit::RainHarvest($u) => $body,
            AnyUnit::Generator($u) => $body,
        }
    };
}

fn decl_of<M: UnitModel>(m: &M, id: &str, enterprise: Option<u32>) -> UnitDecl {
    UnitDecl {
        id: id.to_string(),
        type_name: M::TYPE_NAME.to_string(),
        flow: m.flow_kind(),
        quality: m.quality_kind(),
        inlet: m.inlet().map(str::to_string),
        ports: m.ports(),
        enterprise,
        uses_water: m.uses_water(),
    }
}

impl AnyUnit {
    /// The engine declaration for this unit.
    pub fn decl(&self, id: &str, enterprise: Option<u32>) -> UnitDecl {
        each_unit!(self, m => decl_of(m, id, enterprise))
    }

    /// Writes static coefficients for unit index `u`.
    pub fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        each_unit!(self, m => m.init(u, ctx))
    }

    /// Spawns the unit's entity with its index.
    pub fn spawn(self, world: &mut World, u: usize) -> Entity {
        let index = UnitIndex(u as u32);
        each_unit!(self, m => world.spawn((index, m)).id())
    }

    /// The unit's main driver, read every step through [`parktwin_engine::series::Drivers`]
    /// (a process's production, a cooling tower's circulation or heat load); `None` for types
    /// whose systems read their series themselves.
    pub fn driver(&self) -> Option<&Series> {
        match self {
            AnyUnit::Process(p) => Some(&p.production_per_h),
            AnyUnit::CoolingTower(ct) => Some(ct.driver()),
            _ => None,
        }
    }

    /// Type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            AnyUnit::Source(_) => Source::TYPE_NAME,
            AnyUnit::Tank(_) => Tank::TYPE_NAME,
            AnyUnit::Process(_) => Process::TYPE_NAME,
            AnyUnit::CoolingTower(_) => CoolingTower::TYPE_NAME,
            AnyUnit::Treatment(_) => Treatment::TYPE_NAME,
            AnyUnit::Junction(_) => Junction::TYPE_NAME,
            AnyUnit::Discharge(_) => Discharge::TYPE_NAME,
            AnyUnit::ReverseOsmosis(_) => ReverseOsmosis::TYPE_NAME,
            AnyUnit::ThermalDesal(_) => ThermalDesal::TYPE_NAME,
            AnyUnit::Biological(_) => Biological::TYPE_NAME,
            AnyUnit::Crystalliser(_) => Crystalliser::TYPE_NAME,
            AnyUnit::SteamSystem(_) => SteamSystem::TYPE_NAME,
            AnyUnit::RainHarvest(_) => RainHarvest::TYPE_NAME,
            AnyUnit::Generator(_) => Generator::TYPE_NAME,
        }
    }
}

/// Adds every unit type's systems to the step schedule: Demand-phase systems chained, and
/// Account-phase systems chained before the engine's accounting.
pub fn add_systems(schedule: &mut Schedule) {
    schedule.add_systems(
        (
            source::demand,
            tank::demand,
            process::demand,
            cooling_tower::demand,
            treatment::demand,
            ro::demand,
            thermal::demand,
            crystalliser::demand,
            steam::demand,
            rain::demand,
        )
            .chain()
            .in_set(Phase::Demand),
    );
    schedule.add_systems(
        (
            source::account,
            process::account,
            cooling_tower::account,
            treatment::account,
            discharge::account,
            ro::account,
            thermal::account,
            biological::account,
            crystalliser::account,
            steam::account,
            rain::account,
            generator::account,
        )
            .chain()
            .in_set(Phase::Account)
            .before(EngineAccounting),
    );
}

/// Specific heat of water, J/(kg·K) (at 25 °C: 4,181; 4,186 is the conventional engineering
/// value used here).
pub const CP_WATER: f64 = 4186.0;
