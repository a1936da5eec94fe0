//! Named, dated emission factors.
//!
//! Grid electricity, China, consumption side, kg CO2/kWh (MEE/NBS national and regional average
//! factors; DOMAIN.md, "Carbon (China)"): national 2021 0.5568, 2022 0.5366, 2023 0.5306; regional
//! grids 2023: North 0.6361, Northeast 0.5122, East 0.5500, Central 0.5271, Northwest 0.5543,
//! South 0.4042, Southwest 0.2472.

/// `(name, kg CO2/kWh)` of every named grid factor.
pub const GRID_FACTORS: [(&str, f64); 10] = [
    ("CN-national-2021", 0.5568),
    ("CN-national-2022", 0.5366),
    ("CN-national-2023", 0.5306),
    ("CN-north-2023", 0.6361),
    ("CN-northeast-2023", 0.5122),
    ("CN-east-2023", 0.5500),
    ("CN-central-2023", 0.5271),
    ("CN-northwest-2023", 0.5543),
    ("CN-south-2023", 0.4042),
    ("CN-southwest-2023", 0.2472),
];

/// The factor named `name`.
pub fn grid_factor(name: &str) -> Option<f64> {
    GRID_FACTORS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| *v)
}
