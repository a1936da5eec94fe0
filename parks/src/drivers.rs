//! Turning [`Driver`]s into step-indexed [`Series`], reading CSV columns relative to the park
//! file. Errors are plain messages; the caller names the item.

use crate::calendar::{Instant, Start, instant};
use crate::schema::Driver;
use parktwin_engine::series::Series;
use std::collections::HashMap;
use std::f64::consts::PI;
use std::path::{Path, PathBuf};

/// A CSV file read once: headers and columns of numbers (or the reason it could not be read).
#[derive(Clone, Debug)]
pub struct CsvTable {
    headers: Vec<String>,
    columns: Vec<Vec<f64>>,
    errors: Vec<Option<String>>,
}

/// What sampling drivers shares within one build: CSV files, read once, and the calendar of
/// the time axis (hour, weekday, month, day of year of every step), computed once instead of
/// once per driver.
#[derive(Default, Debug)]
pub struct DriverCache {
    files: HashMap<PathBuf, Result<CsvTable, String>>,
    calendar: Option<(Start, u64, usize, Vec<Instant>)>,
}

fn read_csv(path: &Path) -> Result<CsvTable, String> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_path(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .iter()
        .map(str::to_string)
        .collect();
    let mut columns = vec![Vec::new(); headers.len()];
    let mut errors: Vec<Option<String>> = vec![None; headers.len()];
    for (row, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| format!("{}: {e}", path.display()))?;
        for (c, col) in columns.iter_mut().enumerate() {
            let cell = rec.get(c).unwrap_or("");
            match cell.parse::<f64>() {
                Ok(v) => col.push(v),
                Err(_) => {
                    if errors[c].is_none() {
                        // Data rows start on line 2 (line 1 is the header).
                        errors[c] = Some(format!(
                            "{}:{}: {cell:?} is not a number",
                            path.display(),
                            row + 2
                        ));
                    }
                    col.push(f64::NAN);
                }
            }
        }
    }
    Ok(CsvTable {
        headers,
        columns,
        errors,
    })
}

impl DriverCache {
    /// The calendar instant of every step of `axis`.
    fn calendar(&mut self, axis: Axis) -> &[Instant] {
        let key = (axis.start, axis.dt_h.to_bits(), axis.steps);
        let fresh = matches!(&self.calendar, Some((s, d, n, _)) if (*s, *d, *n) == key);
        if !fresh {
            let instants = (0..axis.steps)
                .map(|k| instant(axis.start, k as f64 * axis.dt_h))
                .collect();
            self.calendar = Some((key.0, key.1, key.2, instants));
        }
        &self.calendar.as_ref().expect("just filled").3
    }

    fn column(&mut self, path: &Path, column: &str) -> Result<Vec<f64>, String> {
        let table = self
            .files
            .entry(path.to_path_buf())
            .or_insert_with(|| read_csv(path))
            .as_ref()
            .map_err(Clone::clone)?;
        let c = table
            .headers
            .iter()
            .position(|h| h == column)
            .ok_or_else(|| {
                format!(
                    "{} has no column {column:?} (columns: {})",
                    path.display(),
                    table.headers.join(", ")
                )
            })?;
        if let Some(e) = &table.errors[c] {
            return Err(e.clone());
        }
        Ok(table.columns[c].clone())
    }
}

/// The time axis drivers are sampled on.
#[derive(Clone, Copy, Debug)]
pub struct Axis {
    /// Start.
    pub start: Start,
    /// Step length, h.
    pub dt_h: f64,
    /// Steps.
    pub steps: usize,
}

/// Samples `d` on `axis`; relative CSV paths are resolved against `dir`.
pub fn to_series(
    d: &Driver,
    axis: Axis,
    dir: &Path,
    cache: &mut DriverCache,
) -> Result<Series, String> {
    let series = match d {
        Driver::Const(v) => Series::Const(*v),
        Driver::Hourly(v) => {
            if v.len() < axis.steps {
                return Err(format!(
                    "has {} values but the horizon has {} steps",
                    v.len(),
                    axis.steps
                ));
            }
            Series::Values(v[..axis.steps].into())
        }
        Driver::Csv {
            file,
            column,
            scale,
        } => {
            let path = dir.join(file);
            let v = cache.column(&path, column)?;
            if v.len() < axis.steps {
                return Err(format!(
                    "{} column {column:?} has {} rows but the horizon has {} steps",
                    path.display(),
                    v.len(),
                    axis.steps
                ));
            }
            Series::Values(v[..axis.steps].iter().map(|x| x * scale).collect())
        }
        Driver::Profile {
            base,
            daily,
            weekly,
            monthly,
        } => {
            for (name, list, n) in [
                ("daily", daily, 24),
                ("weekly", weekly, 7),
                ("monthly", monthly, 12),
            ] {
                if !list.is_empty() && list.len() != n {
                    return Err(format!("{name} needs {n} factors, got {}", list.len()));
                }
            }
            let f = |list: &Vec<f64>, i: u32| {
                if list.is_empty() {
                    1.0
                } else {
                    list[i as usize]
                }
            };
            let values: Vec<f64> = cache
                .calendar(axis)
                .iter()
                .map(|t| base * f(daily, t.hour) * f(weekly, t.weekday) * f(monthly, t.month))
                .collect();
            Series::Values(values.into())
        }
        Driver::Seasonal {
            mean,
            annual_amplitude,
            peak_day,
            daily_amplitude,
            peak_hour,
        } => {
            // The daily term depends on the hour of day only: on a whole-hour axis it is
            // computed once per hour of the day and reused (the same expression on the same
            // argument, so the same bits); at other times it is computed where it is needed.
            let daily =
                |hour_f: f64| daily_amplitude * (2.0 * PI * (hour_f - peak_hour) / 24.0).cos();
            let mut by_hour: [Option<f64>; 24] = [None; 24];
            let values: Vec<f64> = cache
                .calendar(axis)
                .iter()
                .map(|t| {
                    let d = t.day_of_year as f64 + t.hour_f / 24.0;
                    let whole = t.hour_f.fract() == 0.0 && (0.0..24.0).contains(&t.hour_f);
                    let day = if whole {
                        *by_hour[t.hour_f as usize].get_or_insert_with(|| daily(t.hour_f))
                    } else {
                        daily(t.hour_f)
                    };
                    mean + annual_amplitude * (2.0 * PI * (d - peak_day) / 365.0).cos() + day
                })
                .collect();
            Series::Values(values.into())
        }
    };
    if let Some((i, v)) = series.first_non_finite() {
        return Err(format!("value {v} at step {i} is not finite"));
    }
    Ok(series)
}
