//! Water chemistry and thermodynamics shared by the unit models: scaling indices, osmotic
//! pressure, the membrane temperature correction and the minimum work of separation.
//!
//! **Langelier and Ryznar indices** (Carrier form; DOMAIN.md "Cooling towers" [S]):
//!
//! ```text
//! pHs = (9.3 + A + B) − (C + D)
//! A = (log10 TDS[mg/L] − 1)/10
//! B = −13.12·log10(T[°C] + 273) + 34.55        (273, as in Carrier's fit, not 273.15)
//! C = log10 Ca[mg/L as CaCO3] − 0.4
//! D = log10 alkalinity[mg/L as CaCO3]
//! LSI = pH − pHs      RSI = 2·pHs − pH      pH_eq = 1.465·log10(alkalinity) + 4.54
//! ```
//!
//! pH convention: unless a unit is told its pH (acid dosing holds it), the recirculating water's
//! pH is its equilibrium pH from alkalinity, `pH_eq` (Puckorius and Brooke's convention, the one
//! the PSI uses), because a tower without pH control settles near it. When every species is
//! concentrated `N` times, `log10 N` enters A, C, D and pH_eq, so
//!
//! ```text
//! LSI(N) = LSI(1) + k_L·log10 N,   k_L = 1.9 + 1.465 (pH_eq) or 1.9 (fixed pH)
//! RSI(N) = RSI(1) − k_R·log10 N,   k_R = 3.8 + 1.465 (pH_eq) or 3.8 (fixed pH)
//! ```
//!
//! and the largest cycles keeping LSI ≤ LSI_max and RSI ≥ RSI_min follow in closed form.
//!
//! **Osmotic pressure**, van 't Hoff with an osmotic coefficient (DOMAIN.md "Reverse osmosis"),
//! in molal form (moles of ions per m³ of *water*, so that it holds for brines too):
//!
//! ```text
//! π = i·φ·b·ρ_w·R·T        i = 2 (NaCl), ρ_w = 1,000 kg/m³, R = 8.314462618 J/(mol·K), T in K
//! b = (C/M)/(ρ − C/1000)   molality, mol/kg water; C in g/m³ (= mg/L), M = 58.44 g/mol
//! ρ = 995 + 756·w,  w = C/(1000·ρ)   solution density, kg/m³ (solved as a quadratic)
//! φ(w) = 0.918 + 0.0889·w + 4.92·w²  osmotic coefficient of NaCl solutions
//! ```
//!
//! The density and osmotic-coefficient correlations are eqs. 4 and 3b of Bartholomew & Mauter
//! (J. Membr. Sci. 573:682, 2019), the ones WaterTAP's NaCl property package uses
//! (`watertap/property_models/NaCl_prop_pack.py`) [P]; φ(0.035) = 0.927, DOMAIN.md's φ ≈ 0.93.
//! TDS is treated as NaCl equivalent; a constant φ may be given instead. For dilute water
//! `π ≈ φ·i·(C/M)·R·T`, the form in DOMAIN.md; seawater at 35 g/L and 25 °C gives 27.9 bar.
//!
//! **Temperature correction factor** of membrane water permeability (Dow FilmTec RO Technical
//! Manual, form 609-00071, "Temperature correction factor") [S]:
//! `TCF = exp(2640·(1/298 − 1/(273 + T)))` for T ≥ 25 °C and `exp(3020·(1/298 − 1/(273 + T)))`
//! below; the net driving pressure needed for the same flux at T is `NDP_25/TCF`.
//!
//! **Minimum work** of separation at recovery r (Elimelech & Phillip, Science 333:712, 2011;
//! DOMAIN.md): `w_min = π_0·ln(1/(1 − r))/r` J/m³ of permeate (π_0 the feed's osmotic pressure
//! in Pa), ÷ 3.6e6 for kWh/m³; a single stage also needs an applied pressure of at least the
//! concentrate's osmotic pressure.

/// Gas constant, J/(mol·K).
pub const R_GAS: f64 = 8.314_462_618;
/// Molar mass of NaCl, g/mol.
pub const M_NACL: f64 = 58.44;
/// Pa per bar.
pub const PA_PER_BAR: f64 = 1e5;
/// kWh per (bar·m³): 1 bar·m³ = 1e5 J = 1/36 kWh.
pub const KWH_PER_BAR_M3: f64 = 1.0 / 36.0;
/// Atmospheric pressure, bar.
pub const P_ATM_BAR: f64 = 1.01325;

/// How the osmotic coefficient φ is found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum OsmoticCoefficient {
    /// A constant φ.
    Constant(f64),
    /// `φ(w) = 0.918 + 0.0889·w + 4.92·w²` for NaCl (Bartholomew & Mauter 2019, eq. 3b).
    NaCl,
}

/// Density of an NaCl-equivalent solution of `c` g/m³, kg/m³ (`ρ = 995 + 756·w`, solved with
/// `w = c/(1000·ρ)`: `ρ² − 995·ρ − 0.756·c = 0`).
pub fn nacl_density(c_g_per_m3: f64) -> f64 {
    let c = c_g_per_m3.max(0.0);
    0.5 * (995.0 + (995.0 * 995.0 + 4.0 * 0.756 * c).sqrt())
}

/// Osmotic pressure, bar, of water with `tds` mg/L (NaCl equivalent) at `t_c` °C.
pub fn osmotic_pressure_bar(tds_mg_per_l: f64, t_c: f64, phi: OsmoticCoefficient) -> f64 {
    let c = tds_mg_per_l.max(0.0);
    if c == 0.0 {
        return 0.0;
    }
    let rho = nacl_density(c);
    let w = c / (1000.0 * rho);
    let molality = (c / M_NACL) / (rho - c / 1000.0);
    let phi = match phi {
        OsmoticCoefficient::Constant(p) => p,
        OsmoticCoefficient::NaCl => 0.918 + 0.0889 * w + 4.92 * w * w,
    };
    2.0 * phi * molality * 1000.0 * R_GAS * (t_c + 273.15) / PA_PER_BAR
}

/// Membrane temperature correction factor at `t_c` °C (1 at 25 °C).
pub fn temperature_correction_factor(t_c: f64) -> f64 {
    let k = if t_c >= 25.0 { 2640.0 } else { 3020.0 };
    (k * (1.0 / 298.0 - 1.0 / (273.0 + t_c))).exp()
}

/// Thermodynamic minimum specific energy, kWh per m³ of permeate, for a feed of osmotic
/// pressure `pi_feed_bar` at recovery `r` (0 < r < 1).
pub fn minimum_work_kwh_per_m3(pi_feed_bar: f64, r: f64) -> f64 {
    if r <= 0.0 || pi_feed_bar <= 0.0 {
        return 0.0;
    }
    let r = r.min(1.0 - 1e-12);
    pi_feed_bar * (1.0 / (1.0 - r)).ln() / r * KWH_PER_BAR_M3
}

/// Saturation pH `pHs` (Carrier form) for TDS, calcium and alkalinity (mg/L as CaCO3) at
/// `t_c` °C.
pub fn ph_saturation(tds: f64, ca_caco3: f64, alk_caco3: f64, t_c: f64) -> f64 {
    let a = (tds.max(1e-9).log10() - 1.0) / 10.0;
    let b = -13.12 * (t_c + 273.0).log10() + 34.55;
    let c = ca_caco3.max(1e-9).log10() - 0.4;
    let d = alk_caco3.max(1e-9).log10();
    9.3 + a + b - (c + d)
}

/// Equilibrium pH of recirculating water from its alkalinity (mg/L as CaCO3).
pub fn ph_equilibrium(alk_caco3: f64) -> f64 {
    1.465 * alk_caco3.max(1e-9).log10() + 4.54
}

/// Langelier saturation index; `ph` `None` means `pH_eq`.
pub fn lsi(tds: f64, ca: f64, alk: f64, t_c: f64, ph: Option<f64>) -> f64 {
    ph.unwrap_or_else(|| ph_equilibrium(alk)) - ph_saturation(tds, ca, alk, t_c)
}

/// Ryznar stability index; `ph` `None` means `pH_eq`.
pub fn rsi(tds: f64, ca: f64, alk: f64, t_c: f64, ph: Option<f64>) -> f64 {
    2.0 * ph_saturation(tds, ca, alk, t_c) - ph.unwrap_or_else(|| ph_equilibrium(alk))
}

/// Largest cycles `N` for which water of make-up composition concentrated `N` times keeps
/// `LSI ≤ lsi_max` and `RSI ≥ rsi_min` (either bound may be `None`); `f64::INFINITY` when
/// no bound applies or the make-up lacks calcium or alkalinity data.
pub fn max_cycles_by_index(
    tds: f64,
    ca: f64,
    alk: f64,
    t_c: f64,
    ph: Option<f64>,
    lsi_max: Option<f64>,
    rsi_min: Option<f64>,
) -> f64 {
    if !(tds > 0.0 && ca > 0.0 && alk > 0.0) {
        return f64::INFINITY;
    }
    let eq = if ph.is_none() { 1.465 } else { 0.0 };
    let mut n = f64::INFINITY;
    if let Some(l) = lsi_max {
        let l1 = lsi(tds, ca, alk, t_c, ph);
        n = n.min(10f64.powf((l - l1) / (1.9 + eq)));
    }
    if let Some(r) = rsi_min {
        let r1 = rsi(tds, ca, alk, t_c, ph);
        n = n.min(10f64.powf((r1 - r) / (3.8 + eq)));
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use approx::assert_relative_eq;

    /// Seawater 35,000 mg/L at 25 °C: `ρ = (995 + √(995² + 4·0.756·35,000))/2 = 1,020.918`,
    /// `w = 0.034283`, `b = (35,000/58.44)/(1,020.918 − 35) = 0.607459` mol/kg,
    /// `φ = 0.918 + 0.0889·0.034283 + 4.92·0.034283² = 0.926830`,
    /// `π = 2·0.926831·0.607474·1000·8.314463·298.15/1e5 = 27.91` bar (DOMAIN.md: 25–28 bar).
    #[test]
    fn seawater_osmotic_pressure_by_hand() {
        let rho = nacl_density(35_000.0);
        assert_relative_eq!(rho, 1020.918, max_relative = 1e-6);
        let pi = osmotic_pressure_bar(35_000.0, 25.0, OsmoticCoefficient::NaCl);
        assert_relative_eq!(pi, 27.91, max_relative = 5e-4);
        // Rule of thumb 0.7–0.8 bar per 1,000 mg/L for brackish water.
        let pi_bw = osmotic_pressure_bar(2_000.0, 25.0, OsmoticCoefficient::Constant(0.93));
        assert!((1.4..=1.6).contains(&pi_bw), "{pi_bw}");
    }

    /// LSI of a typical make-up: TDS 500, Ca 200, alkalinity 150 mg/L as CaCO3, pH 7.8, 25 °C:
    /// `A = (2.69897 − 1)/10 = 0.169897`, `B = −13.12·log10(298) + 34.55 = 2.088283`,
    /// `C = 2.30103 − 0.4 = 1.90103`, `D = 2.176091`, `pHs = 9.3 + 2.258180 − 4.077121 = 7.481058`,
    /// `LSI = 0.318942`, `RSI = 7.162117`.
    #[test]
    fn langelier_and_ryznar_by_hand() {
        let phs = ph_saturation(500.0, 200.0, 150.0, 25.0);
        assert_relative_eq!(phs, 7.481058, max_relative = 1e-6);
        assert_relative_eq!(
            lsi(500.0, 200.0, 150.0, 25.0, Some(7.8)),
            0.318942,
            max_relative = 1e-5
        );
        assert_relative_eq!(
            rsi(500.0, 200.0, 150.0, 25.0, Some(7.8)),
            7.162117,
            max_relative = 1e-6
        );
    }

    /// The closed form for the largest cycles agrees with evaluating the index at `N` times the
    /// make-up composition.
    #[test]
    fn max_cycles_closed_form_matches_index() {
        for ph in [None, Some(7.8)] {
            let n = max_cycles_by_index(400.0, 120.0, 90.0, 38.0, ph, Some(2.0), None);
            let l = lsi(400.0 * n, 120.0 * n, 90.0 * n, 38.0, ph);
            assert_relative_eq!(l, 2.0, max_relative = 1e-12);
            let n = max_cycles_by_index(400.0, 120.0, 90.0, 38.0, ph, None, Some(5.0));
            let r = rsi(400.0 * n, 120.0 * n, 90.0 * n, 38.0, ph);
            assert_relative_eq!(r, 5.0, max_relative = 1e-12);
        }
    }

    /// `TCF(25) = 1`; at 15 °C `exp(3020·(1/298 − 1/288)) = exp(−0.351883) = 0.703362`.
    #[test]
    fn temperature_correction_by_hand() {
        assert_relative_eq!(temperature_correction_factor(25.0), 1.0);
        assert_relative_eq!(
            temperature_correction_factor(15.0),
            0.703362,
            max_relative = 1e-5
        );
    }

    /// `w_min(π0 = 27.91 bar, r = 0.5) = 27.91·ln 2/0.5/36 = 1.0749` kWh/m³ (Elimelech & Phillip
    /// 2011 give ≈ 1.06 kWh/m³ for 35 g/L seawater at 50 % recovery).
    #[test]
    fn minimum_work_by_hand() {
        assert_relative_eq!(
            minimum_work_kwh_per_m3(27.91, 0.5),
            27.91 * 2f64.ln() / 0.5 / 36.0,
            max_relative = 1e-12
        );
        assert!((1.0..1.1).contains(&minimum_work_kwh_per_m3(27.91, 0.5)));
    }
}
