//! An x–y chart for the report: polylines (composite curves) and scatter points (Pareto fronts),
//! with labelled axes, a legend and the palette of [`crate::svg`].

use crate::sankey::{esc, fmt_num};
use crate::svg::{PALETTE, ticks};
use std::fmt::Write as _;

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// Points joined by straight lines (with markers).
    Line,
    /// Points only.
    Points,
    /// Small grey points (background: every evaluation).
    Faint,
}

/// A named set of `(x, y)` points.
pub struct XySeries {
    /// Legend label.
    pub name: String,
    /// The points; non-finite ones are skipped.
    pub points: Vec<(f64, f64)>,
    /// How to draw them.
    pub style: Style,
}

fn range(v: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for x in v.filter(|x| x.is_finite()) {
        lo = lo.min(x);
        hi = hi.max(x);
    }
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    if hi <= lo {
        let pad = lo.abs().max(1.0) * 0.05;
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.04;
    (lo - pad, hi + pad)
}

/// An SVG x–y chart. `from_zero` starts both axes at 0 when the data are non-negative.
pub fn xy_chart(
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[XySeries],
    from_zero: bool,
) -> String {
    let (w, h) = (760.0, 360.0);
    let (left, right, top, bottom) = (70.0, 170.0, 28.0, 44.0);
    let all = || series.iter().flat_map(|s| s.points.iter().copied());
    let (mut x0, x1) = range(all().map(|p| p.0));
    let (mut y0, y1) = range(all().map(|p| p.1));
    if from_zero {
        x0 = x0.min(0.0);
        y0 = y0.min(0.0);
    }
    let px = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| h - bottom - (y - y0) / (y1 - y0) * (h - top - bottom);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}"><title>{t}</title><text x="{}" y="16" font-size="13" font-weight="bold" text-anchor="middle">{t}</text>"#,
        w / 2.0,
        t = esc(title)
    );
    for t in ticks(y0, y1) {
        let y = py(t);
        let _ = write!(
            s,
            r##"<line x1="{left}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd" stroke-width="0.7"/><text x="{:.1}" y="{y:.1}" font-size="10" text-anchor="end" dominant-baseline="middle">{}</text>"##,
            w - right,
            left - 4.0,
            fmt_num(t)
        );
    }
    for t in ticks(x0, x1) {
        let x = px(t);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{top}" y2="{:.1}" stroke="#eee" stroke-width="0.7"/><text x="{x:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"##,
            h - bottom,
            h - bottom + 14.0,
            fmt_num(t)
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{left}" x2="{left}" y1="{top}" y2="{b}" stroke="#333"/><line x1="{left}" x2="{r}" y1="{b}" y2="{b}" stroke="#333"/><text transform="translate(14,{:.1}) rotate(-90)" font-size="11" text-anchor="middle">{}</text><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
        (top + h - bottom) / 2.0,
        esc(y_label),
        (left + w - right) / 2.0,
        h - 8.0,
        esc(x_label),
        b = h - bottom,
        r = w - right,
    );
    let mut colour = 0usize;
    for (i, ser) in series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = ser
            .points
            .iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite())
            .collect();
        let c = match ser.style {
            Style::Faint => "#bbb",
            _ => {
                colour += 1;
                PALETTE[(colour - 1) % PALETTE.len()]
            }
        };
        if ser.style == Style::Line && pts.len() > 1 {
            let d: Vec<String> = pts
                .iter()
                .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
                .collect();
            let _ = write!(
                s,
                r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#,
                d.join(" ")
            );
        }
        let r = match ser.style {
            Style::Faint => 2.0,
            Style::Line => 2.5,
            Style::Points => 3.5,
        };
        for &(x, y) in &pts {
            let _ = write!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="{r}" fill="{c}"/>"#,
                px(x),
                py(y)
            );
        }
        let ly = top + 6.0 + 15.0 * i as f64;
        let lx = w - right + 10.0;
        let _ = write!(
            s,
            r#"<circle cx="{}" cy="{ly}" r="4" fill="{c}"/><text x="{}" y="{ly}" font-size="10" dominant-baseline="middle">{}</text>"#,
            lx + 6.0,
            lx + 16.0,
            esc(&ser.name)
        );
    }
    s.push_str("</svg>");
    s
}
