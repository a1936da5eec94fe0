//! China's water-resource tax and environmental-protection tax, applied park-wide.
//!
//! **Water-resource tax** (水资源税; pilot since 2016, nationwide since December 2024): yuan per m³
//! withdrawn, by source kind, booked by each source on its withdrawal in addition to its own
//! price (rates vary by province and use: surface water 0.1–1.6, groundwater 0.2–4 yuan/m³ [M]).
//!
//! **Environmental-protection tax** (环境保护税法, 2018) on water pollutants, per outfall and step:
//!
//! ```text
//! equivalents_s = m_s/v_s           m_s kg discharged, v_s kg per pollution equivalent
//! tax = rate·Σ(the `n` largest equivalents_s)     n = 3 for general water pollutants
//! ```
//!
//! with the law's equivalent values (COD 1 kg, ammonia nitrogen 0.8, total phosphorus 0.25,
//! suspended solids 4 [S]) and a provincial rate of 1.4–14 yuan per equivalent [S]. The law
//! computes the top pollutants monthly; per step here (a small difference when the ranking of
//! pollutants changes within a month). Both taxes are booked as water charges.

use bevy_ecs::prelude::*;

/// The environmental-protection tax.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvironmentalTax {
    /// Rate, yuan per pollution equivalent.
    pub yuan_per_equivalent: f64,
    /// Per species: kg per equivalent (infinite: not taxed).
    pub kg_per_equivalent: Vec<f64>,
    /// Pollutants taxed per outfall.
    pub taxed_pollutants: usize,
    /// Per unit: whether the unit is a taxed outfall.
    pub outfall: Vec<bool>,
}

impl EnvironmentalTax {
    /// Tax, yuan, on discharging `v` m³ at concentrations `c` (mg/L per declared species).
    pub fn tax(&self, v: f64, c: &[f64]) -> f64 {
        let mut eq: Vec<f64> = self
            .kg_per_equivalent
            .iter()
            .zip(c)
            .filter(|(k, _)| k.is_finite() && **k > 0.0)
            .map(|(k, c)| v * c / 1000.0 / k)
            .collect();
        eq.sort_by(|a, b| b.total_cmp(a));
        eq.iter().take(self.taxed_pollutants).sum::<f64>() * self.yuan_per_equivalent
    }
}

/// Park-wide taxes.
#[derive(Resource, Clone, Debug, Default, PartialEq)]
pub struct Taxes {
    /// Water-resource tax by source kind (index of `SourceKind::ALL`), yuan/m³.
    pub resource_tax_yuan_per_m3: [f64; 8],
    /// The environmental-protection tax, if levied.
    pub environmental: Option<EnvironmentalTax>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// 10,000 m³ at COD 40, NH3-N 4, TP 0.4 and SS 10 mg/L: equivalents COD 400, NH3-N 50,
    /// TP 16, SS 25; the top three (400 + 50 + 25) at 12 yuan = 5,700 yuan.
    #[test]
    fn environmental_tax_by_hand() {
        let t = EnvironmentalTax {
            yuan_per_equivalent: 12.0,
            kg_per_equivalent: vec![f64::INFINITY, 1.0, 0.8, 0.25, 4.0],
            taxed_pollutants: 3,
            outfall: vec![true],
        };
        assert_relative_eq!(
            t.tax(10_000.0, &[500.0, 40.0, 4.0, 0.4, 10.0]),
            5700.0,
            max_relative = 1e-12
        );
    }
}
