//! Meter readings in and out: the long CSV and NDJSON formats, and alignment to the park's
//! steps with gaps, duplicates and out-of-order records reported.
//!
//! **Long CSV** (one reading per row, header required, columns in this order):
//!
//! ```text
//! timestamp,meter,value,unit
//! 2025-01-01T00:00,FT-city,412.7,m3/h
//! 2025-01-01T00:00,LT-tank,398.2,m3
//! ```
//!
//! **NDJSON** (one object per line, same fields):
//! `{"timestamp":"2025-01-01T00:00","meter":"FT-city","value":412.7,"unit":"m3/h"}`.
//!
//! - `timestamp` is local time `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS` (no time zone, the
//!   convention of the park's `time.start`); a space may replace the `T`.
//! - `meter` is a meter id of the park; `unit` must be the meter kind's unit (`m3/h`, `m3`,
//!   `uS/cm`, `kPa`); `value` is a number; an empty value is a missing reading.
//! - A reading belongs to the step whose interval `[start + k·Δt, start + (k+1)·Δt)` contains
//!   its timestamp (synthetic readings are stamped at the start of their step, and a flow
//!   reading is the step's mean rate). Several readings of one meter in one step are averaged
//!   and counted as duplicates.
//! - Records need not be sorted: a record earlier than the previous record of the same meter is
//!   counted as out of order and still used. Records of unknown meters, in the wrong unit,
//!   outside the run, or unreadable are skipped and reported (unreadable ones with their line).
//! - A step without a reading of a meter is a gap; the report gives each meter's missing steps
//!   and longest gap.

use super::meters::{MeterSet, Reading};
use crate::calendar::{civil_from_days, days_from_civil, parse_start};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::path::Path;

/// Minutes since 1970-01-01T00:00 of a `YYYY-MM-DDTHH:MM[:SS]` timestamp.
pub fn parse_timestamp(s: &str) -> Option<f64> {
    let s = s.trim();
    let (date, time) = s.split_once('T').or_else(|| s.split_once(' '))?;
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let mo: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    if dp.next().is_some() || !(1..=12).contains(&mo) || !(1..=31).contains(&d) {
        return None;
    }
    let mut tp = time.split(':');
    let h: u32 = tp.next()?.parse().ok()?;
    let mi: u32 = tp.next()?.parse().ok()?;
    let sec: f64 = match tp.next() {
        Some(x) => x.parse().ok()?,
        None => 0.0,
    };
    if tp.next().is_some() || h > 23 || mi > 59 || !(0.0..60.0).contains(&sec) {
        return None;
    }
    Some((days_from_civil(y, mo, d) * 1440 + (h * 60 + mi) as i64) as f64 + sec / 60.0)
}

/// The `YYYY-MM-DDTHH:MM` label of `minutes` since 1970-01-01 (rounded to the minute).
pub fn format_timestamp(minutes: f64) -> String {
    let m = minutes.round() as i64;
    let (y, mo, d) = civil_from_days(m.div_euclid(1440));
    let r = m.rem_euclid(1440);
    format!("{y:04}-{mo:02}-{d:02}T{:02}:{:02}", r / 60, r % 60)
}

/// Minutes since 1970-01-01 of the park's start (`time.start`), if it parses.
pub fn start_minutes(start: &str) -> Option<f64> {
    parse_start(start).map(|s| (s.days * 1440 + s.minutes as i64) as f64)
}

/// Writes readings as long CSV (see the module docs).
pub fn write_csv<W: Write>(
    mut w: W,
    readings: &[Reading],
    set: &MeterSet,
    start_min: f64,
) -> std::io::Result<()> {
    writeln!(w, "timestamp,meter,value,unit")?;
    for &(k, m, v) in readings {
        let meter = &set.meters[m];
        writeln!(
            w,
            "{},{},{},{}",
            format_timestamp(start_min + k as f64 * set.dt_h * 60.0),
            meter.id,
            v,
            meter.kind.unit()
        )?;
    }
    w.flush()
}

/// Records read from a file, and the unreadable ones as `(line, reason)`.
pub type Parsed = (Vec<Record>, Vec<(usize, String)>);

/// One raw record as read from a file.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub struct Record {
    /// Local timestamp.
    pub timestamp: String,
    /// Meter id.
    pub meter: String,
    /// Value (`None`: missing).
    pub value: Option<f64>,
    /// Unit.
    pub unit: String,
}

/// Reads records from a long CSV or NDJSON file (NDJSON when the name ends in `.ndjson` or
/// `.jsonl`, or the first non-blank character is `{`). Unreadable records are returned as
/// `(line, reason)` and skipped.
pub fn read_records(path: &Path) -> Result<Parsed, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.to_string_lossy();
    let ndjson =
        name.ends_with(".ndjson") || name.ends_with(".jsonl") || text.trim_start().starts_with('{');
    if ndjson {
        Ok(parse_ndjson(&text))
    } else {
        parse_csv(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// Parses NDJSON records (blank lines are skipped).
pub fn parse_ndjson(text: &str) -> Parsed {
    let mut recs = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in std::io::Cursor::new(text).lines().enumerate() {
        let Ok(line) = line else {
            bad.push((i + 1, "not UTF-8".into()));
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(&line) {
            Ok(r) => recs.push(r),
            Err(e) => bad.push((i + 1, e.to_string())),
        }
    }
    (recs, bad)
}

/// Parses long CSV records (header `timestamp,meter,value,unit`).
pub fn parse_csv(text: &str) -> Result<Parsed, String> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = rdr
        .headers()
        .map_err(|e| format!("line 1: {e}"))?
        .iter()
        .map(str::to_string)
        .collect::<Vec<_>>();
    if header != ["timestamp", "meter", "value", "unit"] {
        return Err(format!(
            "line 1: the header must be timestamp,meter,value,unit (found {})",
            header.join(",")
        ));
    }
    let mut recs = Vec::new();
    let mut bad = Vec::new();
    for r in rdr.records() {
        let r = match r {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                bad.push((line, e.to_string()));
                continue;
            }
        };
        let line = r.position().map_or(0, |p| p.line() as usize);
        if r.len() != 4 {
            bad.push((line, format!("{} fields, 4 expected", r.len())));
            continue;
        }
        let value = if r[2].is_empty() {
            None
        } else {
            match r[2].parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    bad.push((line, format!("value {:?} is not a finite number", &r[2])));
                    continue;
                }
            }
        };
        recs.push(Record {
            timestamp: r[0].to_string(),
            meter: r[1].to_string(),
            value,
            unit: r[3].to_string(),
        });
    }
    Ok((recs, bad))
}

/// What alignment found, per meter.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct MeterReport {
    /// Meter id.
    pub meter: String,
    /// Steps with at least one reading.
    pub readings: usize,
    /// Steps without a reading.
    pub missing_steps: usize,
    /// Longest run of steps without a reading.
    pub longest_gap_steps: usize,
    /// Records earlier than the meter's previous record.
    pub out_of_order: usize,
    /// Readings merged into a step that already had one.
    pub duplicates: usize,
    /// Records whose unit is not the meter's.
    pub wrong_unit: usize,
}

/// What alignment found, for the whole file.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct AlignReport {
    /// Records read.
    pub records: usize,
    /// Records used.
    pub used: usize,
    /// Per meter.
    pub meters: Vec<MeterReport>,
    /// Records of meters the park does not have, by id.
    pub unknown_meters: BTreeMap<String, usize>,
    /// Records outside the run.
    pub outside_run: usize,
    /// Records with an empty value.
    pub empty_values: usize,
    /// Records with a timestamp that does not parse.
    pub bad_timestamps: usize,
    /// Unreadable records: (line, reason), the first 20.
    pub unreadable: Vec<(usize, String)>,
    /// Number of unreadable records.
    pub unreadable_count: usize,
}

impl AlignReport {
    /// Short text for the terminal.
    pub fn to_text(&self) -> String {
        let mut t = format!(
            "readings  {} records, {} used, {} outside the run, {} empty, {} bad timestamps, {} unreadable\n",
            self.records,
            self.used,
            self.outside_run,
            self.empty_values,
            self.bad_timestamps,
            self.unreadable_count
        );
        for (id, n) in &self.unknown_meters {
            t.push_str(&format!("          unknown meter {id:?}: {n} records\n"));
        }
        for (line, why) in self.unreadable.iter().take(5) {
            t.push_str(&format!("          line {line}: {why}\n"));
        }
        for m in &self.meters {
            if m.missing_steps + m.out_of_order + m.duplicates + m.wrong_unit > 0 {
                t.push_str(&format!(
                    "          {}: {} missing steps (longest gap {}), {} out of order, {} duplicates, {} wrong unit\n",
                    m.meter, m.missing_steps, m.longest_gap_steps, m.out_of_order, m.duplicates, m.wrong_unit
                ));
            }
        }
        t
    }
}

/// Readings aligned to steps: `values[k·meters + m]`, NaN where missing.
#[derive(Clone, Debug, PartialEq)]
pub struct Aligned {
    /// Steps.
    pub steps: usize,
    /// Meters.
    pub meters: usize,
    /// Values, step-major.
    pub values: Vec<f64>,
}

impl Aligned {
    /// Value of meter `m` at step `k` (NaN: missing).
    pub fn get(&self, k: usize, m: usize) -> f64 {
        self.values[k * self.meters + m]
    }

    /// Aligned values straight from synthetic readings (no file in between).
    pub fn from_readings(readings: &[Reading], steps: usize, meters: usize) -> Self {
        let mut values = vec![f64::NAN; steps * meters];
        for &(k, m, v) in readings {
            if k < steps {
                values[k * meters + m] = v;
            }
        }
        Self {
            steps,
            meters,
            values,
        }
    }
}

/// Aligns records to `steps` steps of `set.dt_h` hours from `start_min` (see the module docs).
pub fn align(
    records: &[Record],
    unreadable: Vec<(usize, String)>,
    set: &MeterSet,
    start_min: f64,
    steps: usize,
) -> (Aligned, AlignReport) {
    let nm = set.meters.len();
    let mut sum = vec![0.0; steps * nm];
    let mut count = vec![0u32; steps * nm];
    let mut rep = AlignReport {
        records: records.len() + unreadable.len(),
        unreadable_count: unreadable.len(),
        unreadable: unreadable.into_iter().take(20).collect(),
        meters: set
            .meters
            .iter()
            .map(|m| MeterReport {
                meter: m.id.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let index: BTreeMap<&str, usize> = set
        .meters
        .iter()
        .enumerate()
        .map(|(i, m)| (m.id.as_str(), i))
        .collect();
    let mut last_t = vec![f64::NEG_INFINITY; nm];
    let dt_min = set.dt_h * 60.0;
    for r in records {
        let Some(&m) = index.get(r.meter.as_str()) else {
            *rep.unknown_meters.entry(r.meter.clone()).or_default() += 1;
            continue;
        };
        let Some(t) = parse_timestamp(&r.timestamp) else {
            rep.bad_timestamps += 1;
            continue;
        };
        if t < last_t[m] {
            rep.meters[m].out_of_order += 1;
        }
        last_t[m] = last_t[m].max(t);
        if r.unit != set.meters[m].kind.unit() {
            rep.meters[m].wrong_unit += 1;
            continue;
        }
        let Some(v) = r.value else {
            rep.empty_values += 1;
            continue;
        };
        let pos = (t - start_min) / dt_min;
        // A timestamp within a millisecond of a step boundary belongs to the later step.
        let k = (pos + 1e-9 / dt_min.max(1e-12)).floor();
        if !(k >= 0.0 && (k as usize) < steps) {
            rep.outside_run += 1;
            continue;
        }
        let i = k as usize * nm + m;
        if count[i] > 0 {
            rep.meters[m].duplicates += 1;
        }
        sum[i] += v;
        count[i] += 1;
        rep.used += 1;
    }
    let mut values = vec![f64::NAN; steps * nm];
    for m in 0..nm {
        let mut gap = 0;
        let r = &mut rep.meters[m];
        for k in 0..steps {
            let i = k * nm + m;
            if count[i] > 0 {
                values[i] = sum[i] / count[i] as f64;
                r.readings += 1;
                gap = 0;
            } else {
                r.missing_steps += 1;
                gap += 1;
                r.longest_gap_steps = r.longest_gap_steps.max(gap);
            }
        }
    }
    (
        Aligned {
            steps,
            meters: nm,
            values,
        },
        rep,
    )
}
