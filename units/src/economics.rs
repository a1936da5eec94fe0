//! Money and carbon helpers shared by the unit models: annualised capital cost, chemical doses,
//! and the global-warming potentials of direct emissions.
//!
//! **Annualised capital cost** (levelised with a capital recovery factor; any engineering
//! economics text, e.g. Towler & Sinnott, *Chemical Engineering Design*, 2nd ed., §9.7):
//!
//! ```text
//! CRF = i·(1 + i)^n / ((1 + i)^n − 1)        (= 1/n when i = 0)
//! annual = capex·(CRF + f_OM)                 yuan/yr; booked as annual·Δt/8,760 per step
//! ```
//!
//! with `i` the real discount rate, `n` the lifetime in years and `f_OM` fixed operation and
//! maintenance as a fraction of capex per year. Capex is given per unit of capacity (yuan per
//! m³/d, per MW, per kW) times the capacity, so that retrofits can be compared by levelised cost
//! of water: (annual capital + annual operating cost) / water produced.
//!
//! **Chemicals**: a dose in kg per m³ of a unit's feed, with its carbon (kg CO2e/kg) and price
//! (yuan/kg). DOMAIN.md lists indicative carbon factors [M]; they are always user inputs.
//!
//! **Direct emissions** (N₂O and CH₄ from biological treatment) are booked as CO2e with the
//! 100-year global-warming potentials of IPCC AR5 (WG1, ch. 8, Table 8.7: CH₄ 28, N₂O 265),
//! the values the Paris Agreement's enhanced transparency framework requires for national
//! inventories (decision 18/CMA.1) [S]. AR6 values (WG1 Table 7.15: non-fossil CH₄ 27.0, N₂O
//! 273) may be given instead.

use parktwin_engine::state::Booking;

/// Hours in the year used to spread an annual cost over steps.
pub const HOURS_PER_YEAR: f64 = 8760.0;
/// 100-year global-warming potential of CH₄, IPCC AR5.
pub const GWP_CH4_AR5: f64 = 28.0;
/// 100-year global-warming potential of N₂O, IPCC AR5.
pub const GWP_N2O_AR5: f64 = 265.0;

/// Capital recovery factor for real discount rate `i` and lifetime `n` years.
pub fn capital_recovery_factor(i: f64, n: f64) -> f64 {
    if i.abs() < 1e-12 {
        1.0 / n
    } else {
        let g = (1.0 + i).powf(n);
        i * g / (g - 1.0)
    }
}

/// An annualised capital cost (zero when a unit has none).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Capital {
    /// Annualised capital plus fixed O&M, yuan per year.
    pub annual_yuan: f64,
}

impl Capital {
    /// From capex (yuan), lifetime (years), real discount rate and fixed O&M fraction of capex
    /// per year.
    pub fn new(capex_yuan: f64, lifetime_years: f64, discount_rate: f64, fixed_om: f64) -> Self {
        Self {
            annual_yuan: capex_yuan
                * (capital_recovery_factor(discount_rate, lifetime_years) + fixed_om),
        }
    }

    /// Adds this step's share of the annual cost, `annual·Δt/8,760`, to a unit's booking.
    #[inline]
    pub fn book(&self, booking: &mut Booking, dt_h: f64) {
        if self.annual_yuan != 0.0 {
            booking.capital_cost += self.annual_yuan * dt_h / HOURS_PER_YEAR;
        }
    }
}

/// A chemical dosed per m³ of a unit's feed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chemical {
    /// Name, for reports.
    pub name: String,
    /// Dose, kg per m³ of feed.
    pub kg_per_m3: f64,
    /// Carbon, kg CO2e per kg.
    pub co2_per_kg: f64,
    /// Price, yuan per kg.
    pub yuan_per_kg: f64,
}

impl Chemical {
    /// A chemical.
    pub fn new(name: &str, kg_per_m3: f64, co2_per_kg: f64, yuan_per_kg: f64) -> Self {
        Self {
            name: name.to_string(),
            kg_per_m3,
            co2_per_kg,
            yuan_per_kg,
        }
    }

    /// Adds the dose on `volume_m3` of feed to a unit's booking.
    #[inline]
    pub fn book(&self, booking: &mut Booking, volume_m3: f64) {
        book_chemical_kg(booking, self.kg_per_m3 * volume_m3, self);
    }
}

/// Adds `kg` of chemical `c` to a unit's booking (mass, carbon, money).
#[inline]
pub fn book_chemical_kg(booking: &mut Booking, kg: f64, c: &Chemical) {
    booking.chemicals_kg += kg;
    booking.chemicals_co2_kg += kg * c.co2_per_kg;
    booking.chemicals_cost += kg * c.yuan_per_kg;
}

/// Books a list of chemicals on `volume_m3` of feed.
pub fn book_chemicals(booking: &mut Booking, volume_m3: f64, list: &[Chemical]) {
    for c in list {
        c.book(booking, volume_m3);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// `CRF(8 %, 20 yr) = 0.08·1.08^20/(1.08^20 − 1)`; `1.08^20 = 4.660957`, so
    /// `CRF = 0.372877/3.660957 = 0.101852` (standard annuity tables: 0.10185).
    #[test]
    fn crf_by_hand() {
        assert_relative_eq!(
            capital_recovery_factor(0.08, 20.0),
            0.101852,
            max_relative = 1e-5
        );
        assert_relative_eq!(capital_recovery_factor(0.0, 25.0), 0.04);
        let c = Capital::new(1e6, 20.0, 0.08, 0.02);
        assert_relative_eq!(c.annual_yuan, 1e6 * (0.101852 + 0.02), max_relative = 1e-5);
    }
}
