//! Running a built park from the command line with what `parktwin run` asks for: park series
//! for the result files, a Sankey period, and the live NDJSON stream.

use crate::observe::{Observers, ParkSeries, run_observed};
use crate::stream::Stream;
use anyhow::{Result, bail};
use parktwin_parks::build::BuiltPark;
use parktwin_parks::summary::RunSummary;
use parktwin_parks::totals::Totals;
use std::io::Write;

/// What a run produced besides the World's own state.
pub struct RunOutcome {
    /// Park series (when results are written).
    pub series: Option<ParkSeries>,
    /// Totals of the Sankey period (when one was asked for).
    pub window: Option<Totals>,
}

/// Steps `built` to its end. `record`: keep park series; `stream`: write one JSON line per
/// step to standard output; `from_h`/`to_h`: the Sankey period in hours from the start.
pub fn run(
    built: &mut BuiltPark,
    record: bool,
    stream: bool,
    from_h: Option<f64>,
    to_h: Option<f64>,
) -> Result<RunOutcome> {
    run_with(built, record, stream, from_h, to_h, None)
}

/// [`run`], with `after_step` called after every step (meter readings, issue #7).
pub fn run_with(
    built: &mut BuiltPark,
    record: bool,
    stream: bool,
    from_h: Option<f64>,
    to_h: Option<f64>,
    mut after_step: Option<&mut dyn FnMut(&parktwin_engine::sim::Simulation)>,
) -> Result<RunOutcome> {
    let meta = built.meta.clone();
    let hours = meta.steps as f64 * meta.dt_h;
    let window = if from_h.is_some() || to_h.is_some() {
        let (a, b) = (from_h.unwrap_or(0.0), to_h.unwrap_or(hours));
        if !(a.is_finite() && b.is_finite() && 0.0 <= a && a < b && b <= hours) {
            bail!("the Sankey period {a} h to {b} h is not within the run (0 to {hours} h)");
        }
        Some((
            (a / meta.dt_h).round() as usize,
            ((b / meta.dt_h).round() as usize).max((a / meta.dt_h).round() as usize + 1),
        ))
    } else {
        None
    };
    let mut series = record.then(|| ParkSeries::new(&meta));
    let stdout = std::io::stdout();
    let mut out = stream.then(|| Stream::new(std::io::BufWriter::new(stdout.lock()), &meta));
    let mut broken = false;
    let hooked = after_step.is_some();
    let mut each = |sim: &parktwin_engine::sim::Simulation| -> std::io::Result<()> {
        if let Some(f) = after_step.as_deref_mut() {
            f(sim);
        }
        if let Some(s) = out.as_mut()
            && !broken
        {
            match s.emit(sim, &meta) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => broken = true,
                r => r?,
            }
        }
        Ok(())
    };
    let totals = run_observed(
        &mut built.sim,
        &built.meta,
        Observers {
            series: series.as_mut(),
            window,
            each_step: if stream || hooked {
                Some(&mut each)
            } else {
                None
            },
        },
    )?;
    Ok(RunOutcome {
        series,
        window: totals,
    })
}

/// Writes the stream's closing line (a closed pipe is not an error).
pub fn end_stream(summary: &RunSummary) -> Result<()> {
    let stdout = std::io::stdout();
    let mut lock = stdout.lock();
    let r = serde_json::to_writer(&mut lock, &crate::stream::end_line(summary))
        .map_err(std::io::Error::from)
        .and_then(|()| lock.write_all(b"\n"))
        .and_then(|()| lock.flush());
    match r {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => Ok(r?),
    }
}
