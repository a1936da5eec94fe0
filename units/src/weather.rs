//! Park weather: hourly dry- and wet-bulb air temperature and rainfall, read by the units that
//! depend on them (cooling-tower evaporation and water temperatures, rainwater harvesting).
//!
//! A park file may give a `weather` section; without one the defaults below apply every step.
//! They are deliberately constant (a mild, dry day) so that a park without weather data never
//! acquires a seasonal signal it was not given: dry bulb 20 °C, wet bulb 15 °C (about 60 %
//! relative humidity at sea level, from the psychrometric chart), no rain.

use bevy_ecs::prelude::*;
use parktwin_engine::series::Series;

/// Default dry-bulb temperature, °C.
pub const DEFAULT_DRY_BULB_C: f64 = 20.0;
/// Default wet-bulb temperature, °C.
pub const DEFAULT_WET_BULB_C: f64 = 15.0;

/// Hourly weather drivers of the park.
#[derive(Resource, Clone, Debug)]
pub struct Weather {
    /// Dry-bulb air temperature, °C.
    pub dry_bulb_c: Series,
    /// Wet-bulb air temperature, °C.
    pub wet_bulb_c: Series,
    /// Rainfall, mm/h (a depth per hour: 1 mm on 1 m² is 1 L).
    pub rainfall_mm_per_h: Series,
}

impl Default for Weather {
    fn default() -> Self {
        Self {
            dry_bulb_c: Series::Const(DEFAULT_DRY_BULB_C),
            wet_bulb_c: Series::Const(DEFAULT_WET_BULB_C),
            rainfall_mm_per_h: Series::Const(0.0),
        }
    }
}

/// The weather of one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WeatherNow {
    /// Dry-bulb air temperature, °C.
    pub dry_bulb_c: f64,
    /// Wet-bulb air temperature, °C.
    pub wet_bulb_c: f64,
    /// Rainfall, mm/h.
    pub rainfall_mm_per_h: f64,
}

impl Weather {
    /// The weather at `step`.
    pub fn at(&self, step: usize) -> WeatherNow {
        WeatherNow {
            dry_bulb_c: self.dry_bulb_c.at(step),
            wet_bulb_c: self.wet_bulb_c.at(step),
            rainfall_mm_per_h: self.rainfall_mm_per_h.at(step).max(0.0),
        }
    }
}

/// The weather at `step` from an optional resource (the defaults when a World has none, as in
/// worlds built without a park file).
pub fn weather_at(w: Option<&Weather>, step: usize) -> WeatherNow {
    match w {
        Some(w) => w.at(step),
        None => Weather::default().at(step),
    }
}
