//! Biological treatment: activated sludge, partial nitritation–anammox and membrane
//! bioreactors; COD and ammonia removal, waste sludge, aeration energy, external carbon, and
//! direct N₂O and CH₄ emissions.
//!
//! **Water and species.** A fraction `s` of the feed leaves as waste sludge (port `sludge`), the
//! rest as effluent (port `product`). COD removal `η_C` and ammonia-nitrogen removal `η_N` are
//! fractions of inlet mass; a further `β` of inlet COD leaves as sludge biomass. Per species, the
//! mass fraction destroyed `δ` and sent to the sludge `ρ`:
//!
//! ```text
//! COD:      δ = η_C − β,  ρ = β + s·(1 − η_C)       (effluent C = (1 − η_C)·c)
//! NH3-N:    δ = η_N,      ρ = s·(1 − η_N)           (nitrified/denitrified; nitrate not tracked)
//! others:   δ = 0,        ρ = s                     (sludge water at bulk concentration)
//! τ_product = (1 − δ − ρ)/(1 − s)     τ_sludge = ρ/s
//! ```
//!
//! so every species balance closes exactly.
//!
//! **Electricity.** Activated sludge and anammox: aeration `O2/SAE` with oxygen
//! `O2 = a·ΔCOD + b·ΔN` (kg), `a` ≈ 0.6 kg O2/kg COD (`1 − 1.42·Y_obs`, Y_obs ≈ 0.28 g VSS/g COD
//! [M]), `b` = 4.57 kg O2/kg NH4-N for full nitrification (Metcalf & Eddy, 5th ed., §7-9 [S]) or
//! 1.9 for partial nitritation–anammox (about 57 % of the ammonium oxidised to nitrite only:
//! 0.57·3.43 [S]), aeration efficiency SAE ≈ 2 kg O2/kWh [M], plus pumping and mixing per m³
//! (default 0.2 kWh/m³; DOMAIN.md: aeration 0.14 [P], whole secondary plant 0.3–0.6 [M]).
//! MBR: `e = 9.5·Q^−0.3` kWh/m³ with `Q` the design capacity in m³/h (WaterTAP data, DOMAIN.md
//! [P]) for the whole plant, so the specific energy falls with size.
//!
//! **External carbon** for denitrification, kg per kg NH3-N removed (methanol 2.5–3 kg/kg NO3-N
//! [S]); anammox needs none (the Action Plan's co-benefit: a high-COD stream sent to the plant
//! replaces purchased carbon, DOMAIN.md).
//!
//! **Direct emissions** (IPCC 2019 Refinement, vol. 5 ch. 6 [S]), booked as CO2e with the GWPs
//! of [`crate::economics`] (AR5 by default):
//!
//! ```text
//! N2O = EF·N_in·44/28                EF = 0.016 kg N2O-N/kg N in the influent (centralised aerobic)
//! CH4 = MCF·B0·ΔCOD                  MCF = 0.03 (centralised aerobic), B0 = 0.25 kg CH4/kg COD
//! ```
//!
//! IPCC gives no separate N₂O factor for anammox; measured single-stage PN/A plants range widely
//! (0.1–5 % of the nitrogen load [M]), so the factor is an input, and the anammox option shows
//! its effect on carbon by origin: less electricity, no carbon source, N₂O as assumed.

use crate::economics::{Capital, Chemical, book_chemical_kg, book_chemicals};
use crate::{InitContext, UnitModel};
use bevy_ecs::prelude::*;
use parktwin_engine::network::{FlowKind, PortDecl, PortRole};
use parktwin_engine::state::{Booking, Clock, Energy, Flows, Quality, Species, UnitIndex};

/// Biological process.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BioProcess {
    /// Activated sludge with nitrification–denitrification.
    ActivatedSludge,
    /// Partial nitritation–anammox.
    Anammox,
    /// Membrane bioreactor of this design capacity, m³/h.
    Mbr {
        /// Design capacity, m³/h.
        capacity_m3_per_h: f64,
    },
}

/// A biological treatment unit (see the module docs).
#[derive(Component, Clone, Debug)]
pub struct Biological {
    /// Process.
    pub process: BioProcess,
    /// COD species index.
    pub cod: Option<usize>,
    /// Ammonia-nitrogen species index.
    pub ammonia: Option<usize>,
    /// COD removal, fraction of inlet mass.
    pub cod_removal: f64,
    /// Ammonia-N removal, fraction of inlet mass.
    pub ammonia_removal: f64,
    /// Waste sludge, fraction of feed.
    pub sludge_fraction: f64,
    /// Fraction of inlet COD leaving in the sludge as biomass.
    pub cod_to_sludge: f64,
    /// Per species: fraction destroyed (derived).
    pub destroyed: Vec<f64>,
    /// Per species: fraction to the sludge (derived).
    pub to_sludge: Vec<f64>,
    /// kg O2 per kg COD removed.
    pub o2_per_cod: f64,
    /// kg O2 per kg NH3-N removed.
    pub o2_per_n: f64,
    /// Aeration efficiency, kg O2/kWh.
    pub kg_o2_per_kwh: f64,
    /// Other electricity, kWh/m³ of feed.
    pub kwh_per_m3: f64,
    /// External carbon source, kg per kg NH3-N removed, and the chemical.
    pub carbon_source: (f64, Chemical),
    /// N2O emission factor, kg N2O-N per kg influent N.
    pub n2o_ef: f64,
    /// CH4 methane correction factor.
    pub ch4_mcf: f64,
    /// CH4 producing capacity, kg CH4 per kg COD.
    pub ch4_b0: f64,
    /// GWP of CH4.
    pub gwp_ch4: f64,
    /// GWP of N2O.
    pub gwp_n2o: f64,
    /// Chemicals per m³ of feed.
    pub chemicals: Vec<Chemical>,
    /// Annualised capital cost.
    pub capital: Capital,
}

impl Biological {
    /// Fills `destroyed` and `to_sludge` for `ns` species from the removals.
    pub fn derive_fractions(&mut self, ns: usize) {
        let s = self.sludge_fraction;
        self.destroyed = vec![0.0; ns];
        self.to_sludge = vec![s; ns];
        if let Some(c) = self.cod {
            self.destroyed[c] = self.cod_removal - self.cod_to_sludge;
            self.to_sludge[c] = self.cod_to_sludge + s * (1.0 - self.cod_removal);
        }
        if let Some(n) = self.ammonia {
            self.destroyed[n] = self.ammonia_removal;
            self.to_sludge[n] = s * (1.0 - self.ammonia_removal);
        }
    }

    /// Electricity (kWh), N2O (kg), CH4 (kg) and carbon source (kg) for `v` m³ of feed at
    /// COD `cod` and ammonia-N `n` mg/L.
    pub fn loads(&self, v: f64, cod: f64, n: f64) -> (f64, f64, f64, f64) {
        let d_cod = self.cod_removal * cod * v / 1000.0;
        let n_in = n * v / 1000.0;
        let d_n = self.ammonia_removal * n_in;
        let e = match self.process {
            BioProcess::Mbr { capacity_m3_per_h } => 9.5 * capacity_m3_per_h.powf(-0.3) * v,
            _ => {
                (self.o2_per_cod * d_cod + self.o2_per_n * d_n) / self.kg_o2_per_kwh
                    + self.kwh_per_m3 * v
            }
        };
        let n2o = self.n2o_ef * n_in * 44.0 / 28.0;
        let ch4 = self.ch4_mcf * self.ch4_b0 * d_cod;
        (e, n2o, ch4, self.carbon_source.0 * d_n)
    }
}

impl UnitModel for Biological {
    const TYPE_NAME: &'static str = "Biological";
    fn flow_kind(&self) -> FlowKind {
        FlowKind::Accept
    }
    fn inlet(&self) -> Option<&'static str> {
        Some("in")
    }
    fn ports(&self) -> Vec<PortDecl> {
        vec![
            PortDecl::new("product", PortRole::Driven),
            PortDecl::new("sludge", PortRole::Driven),
        ]
    }
    fn init(&self, u: usize, ctx: &mut InitContext<'_>) {
        let ns = self.destroyed.len();
        let s = self.sludge_fraction;
        let p = ctx.port(u, "product");
        let w = ctx.port(u, "sludge");
        ctx.inputs.port_share[p] = 1.0 - s;
        ctx.inputs.port_share[w] = s;
        let tp: Vec<f64> = (0..ns)
            .map(|k| (1.0 - self.destroyed[k] - self.to_sludge[k]) / (1.0 - s))
            .collect();
        let tw: Vec<f64> = (0..ns).map(|k| self.to_sludge[k] / s).collect();
        ctx.set_transfer(p, &tp, &vec![0.0; ns]);
        ctx.set_transfer(w, &tw, &vec![0.0; ns]);
        ctx.set_removed(u, &self.destroyed);
    }
}

/// Account phase: aeration and other electricity from this step's solved loads, carbon
/// source, direct N2O and CH4 as CO2e, chemicals, capital.
pub fn account(
    q: Query<(&UnitIndex, &Biological)>,
    clock: Res<Clock>,
    flows: Res<Flows>,
    species: Res<Species>,
    quality: Res<Quality>,
    mut energy: ResMut<Energy>,
) {
    let ns = species.len();
    for (i, b) in &q {
        let u = i.get();
        let dt = clock.dt_h;
        let mut booking = Booking::default();
        b.capital.book(&mut booking, dt);
        let v = flows.throughput[u] * dt;
        if v > 0.0 {
            let c = |k: Option<usize>| k.map_or(0.0, |k| quality.inlet[u * ns + k]);
            let (e, n2o, ch4, carbon) = b.loads(v, c(b.cod), c(b.ammonia));
            booking.electricity_kwh += e;
            booking.other_co2_kg += n2o * b.gwp_n2o + ch4 * b.gwp_ch4;
            book_chemical_kg(&mut booking, carbon, &b.carbon_source.1);
            book_chemicals(&mut booking, v, &b.chemicals);
        }
        energy.assign(u, &booking);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    fn plant(process: BioProcess, o2_per_n: f64) -> Biological {
        let mut b = Biological {
            process,
            cod: Some(1),
            ammonia: Some(2),
            cod_removal: 0.9,
            ammonia_removal: 0.9,
            sludge_fraction: 0.01,
            cod_to_sludge: 0.04,
            destroyed: vec![],
            to_sludge: vec![],
            o2_per_cod: 0.6,
            o2_per_n,
            kg_o2_per_kwh: 2.0,
            kwh_per_m3: 0.2,
            carbon_source: (0.0, Chemical::default()),
            n2o_ef: 0.016,
            ch4_mcf: 0.03,
            ch4_b0: 0.25,
            gwp_ch4: 28.0,
            gwp_n2o: 265.0,
            chemicals: vec![],
            capital: Capital::default(),
        };
        b.derive_fractions(3);
        b
    }

    /// 1,000 m³ at COD 500 and NH3-N 40 mg/L: ΔCOD = 450 kg, N_in = 40 kg, ΔN = 36 kg.
    /// Activated sludge: `O2 = 0.6·450 + 4.57·36 = 434.52` kg → 217.26 kWh + 200 kWh = 417.26 kWh;
    /// anammox: `0.6·450 + 1.9·36 = 338.4` kg → 169.2 + 200 = 369.2 kWh; N2O `0.016·40·44/28`
    /// = 1.00571 kg (266.5 kg CO2e); CH4 `0.03·0.25·450` = 3.375 kg (94.5 kg CO2e); MBR of
    /// 400 m³/h: `9.5·400^−0.3·1000` = 1,574.37 kWh.
    #[test]
    fn loads_by_hand() {
        let (e, n2o, ch4, _) = plant(BioProcess::ActivatedSludge, 4.57).loads(1000.0, 500.0, 40.0);
        assert_relative_eq!(e, 417.26, max_relative = 1e-12);
        assert_relative_eq!(n2o, 0.016 * 40.0 * 44.0 / 28.0, max_relative = 1e-12);
        assert_relative_eq!(ch4, 3.375, max_relative = 1e-12);
        let (e, ..) = plant(BioProcess::Anammox, 1.9).loads(1000.0, 500.0, 40.0);
        assert_relative_eq!(e, 369.2, max_relative = 1e-12);
        let (e, ..) = plant(
            BioProcess::Mbr {
                capacity_m3_per_h: 400.0,
            },
            4.57,
        )
        .loads(1000.0, 500.0, 40.0);
        assert_relative_eq!(e, 9.5 * 400f64.powf(-0.3) * 1000.0, max_relative = 1e-12);
        assert_relative_eq!(e, 1574.37, max_relative = 1e-5);
    }

    /// Fractions conserve every species: `(1 − s)·τ_p + s·τ_w + δ = 1`; the effluent COD is
    /// `(1 − η_C)·c`.
    #[test]
    fn fractions_conserve() {
        let b = plant(BioProcess::ActivatedSludge, 4.57);
        let s = b.sludge_fraction;
        for k in 0..3 {
            let tp = (1.0 - b.destroyed[k] - b.to_sludge[k]) / (1.0 - s);
            let tw = b.to_sludge[k] / s;
            assert_relative_eq!(
                (1.0 - s) * tp + s * tw + b.destroyed[k],
                1.0,
                max_relative = 1e-14
            );
            if k == 1 {
                assert_relative_eq!(tp, 0.1, max_relative = 1e-12);
            }
        }
    }
}
