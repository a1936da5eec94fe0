//! Small inline-SVG charts for the HTML report: line and stacked-area charts over time, grouped
//! or stacked bar charts, and strip plots of distributions. Every chart has a title, labelled
//! axes with units, and a legend; colours come from one palette (Tableau 10) and hold up in
//! greyscale print because series are also told apart by their legend order and line dashes.

use crate::sankey::{esc, fmt_num};
use std::fmt::Write as _;

/// Colours of series, in order.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

const DASHES: [&str; 4] = ["", "6 3", "2 2", "8 3 2 3"];

/// A named series of values.
pub struct Series {
    /// Legend label.
    pub name: String,
    /// Values (one per x).
    pub values: Vec<f64>,
}

/// About five round tick values covering `[lo, hi]`.
pub fn ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo {
        return vec![lo];
    }
    let raw = (hi - lo) / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let start = (lo / step).ceil() * step;
    let mut v = Vec::new();
    let mut x = start;
    while x <= hi + step * 1e-9 {
        v.push(if x.abs() < step * 1e-9 { 0.0 } else { x });
        x += step;
    }
    v
}

struct Frame {
    w: f64,
    h: f64,
    left: f64,
    right: f64,
    top: f64,
    bottom: f64,
    y0: f64,
    y1: f64,
}

impl Frame {
    fn px(&self, f: f64) -> f64 {
        self.left + f * (self.w - self.left - self.right)
    }
    fn py(&self, v: f64) -> f64 {
        let f = if self.y1 > self.y0 {
            (v - self.y0) / (self.y1 - self.y0)
        } else {
            0.0
        };
        self.h - self.bottom - f * (self.h - self.top - self.bottom)
    }
}

fn open(s: &mut String, w: f64, h: f64, title: &str) {
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="{t}"><title>{t}</title><text x="{}" y="16" font-size="13" font-weight="bold" text-anchor="middle">{t}</text>"#,
        w / 2.0,
        t = esc(title)
    );
}

fn y_axis(s: &mut String, f: &Frame, label: &str) {
    for t in ticks(f.y0, f.y1) {
        let y = f.py(t);
        let _ = write!(
            s,
            r##"<line x1="{:.1}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd" stroke-width="0.7"/><text x="{:.1}" y="{y:.1}" font-size="10" text-anchor="end" dominant-baseline="middle">{}</text>"##,
            f.left,
            f.w - f.right,
            f.left - 4.0,
            fmt_num(t)
        );
    }
    let _ = write!(
        s,
        r##"<line x1="{l}" x2="{l}" y1="{}" y2="{}" stroke="#333"/><line x1="{l}" x2="{}" y1="{b}" y2="{b}" stroke="#333"/><text transform="translate(12,{:.1}) rotate(-90)" font-size="11" text-anchor="middle">{}</text>"##,
        f.top,
        f.h - f.bottom,
        f.w - f.right,
        (f.top + f.h - f.bottom) / 2.0,
        esc(label),
        l = f.left,
        b = f.h - f.bottom,
    );
}

fn legend(s: &mut String, f: &Frame, names: &[&str], lines: bool) {
    let x = f.w - f.right + 10.0;
    for (i, n) in names.iter().enumerate() {
        let y = f.top + 6.0 + 15.0 * i as f64;
        let c = PALETTE[i % PALETTE.len()];
        if lines {
            let _ = write!(
                s,
                r#"<line x1="{x}" x2="{}" y1="{y}" y2="{y}" stroke="{c}" stroke-width="2.5" stroke-dasharray="{}"/>"#,
                x + 18.0,
                DASHES[i % DASHES.len()]
            );
        } else {
            let _ = write!(
                s,
                r#"<rect x="{x}" y="{}" width="18" height="9" fill="{c}"/>"#,
                y - 4.5
            );
        }
        let _ = write!(
            s,
            r#"<text x="{}" y="{y}" font-size="10" dominant-baseline="middle">{}</text>"#,
            x + 22.0,
            esc(n)
        );
    }
}

/// A chart over time: `x` in days from the start, one line per series (or stacked areas).
/// `x_label(day)` gives a tick label.
pub fn time_chart(
    title: &str,
    y_label: &str,
    x: &[f64],
    series: &[Series],
    stacked: bool,
    x_label: &dyn Fn(f64) -> String,
) -> String {
    let (w, h) = (760.0, 300.0);
    let mut s = String::new();
    open(&mut s, w, h, title);
    if x.is_empty() || series.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">no data</text></svg>"#,
            w / 2.0,
            h / 2.0
        );
        return s;
    }
    let n = x.len();
    let mut cum = vec![0.0; n];
    let mut tops: Vec<Vec<f64>> = Vec::new();
    for se in series {
        let top: Vec<f64> = (0..n)
            .map(|i| {
                let v = se.values.get(i).copied().unwrap_or(f64::NAN);
                if stacked {
                    cum[i] + if v.is_finite() { v } else { 0.0 }
                } else {
                    v
                }
            })
            .collect();
        if stacked {
            cum.clone_from(&top);
        }
        tops.push(top);
    }
    let finite = tops.iter().flatten().copied().filter(|v| v.is_finite());
    let (mut lo, mut hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
        (a.min(v), b.max(v))
    });
    if !lo.is_finite() {
        (lo, hi) = (0.0, 1.0);
    }
    if stacked || lo > 0.0 && lo < 0.5 * hi {
        lo = lo.min(0.0);
    }
    if hi <= lo {
        hi = lo + 1.0;
    }
    let t = ticks(lo, hi);
    let f = Frame {
        w,
        h,
        left: 62.0,
        right: 170.0,
        top: 28.0,
        bottom: 36.0,
        y0: t.first().copied().unwrap_or(lo).min(lo),
        y1: t.last().copied().unwrap_or(hi).max(hi),
    };
    y_axis(&mut s, &f, y_label);
    let (x0, x1) = (x[0], x[n - 1].max(x[0] + 1e-9));
    let fx = |v: f64| f.px((v - x0) / (x1 - x0));
    for tx in ticks(x0, x1) {
        let px = fx(tx);
        let _ = write!(
            s,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{b}" y2="{:.1}" stroke="#333"/><text x="{px:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"##,
            f.h - f.bottom + 4.0,
            f.h - f.bottom + 15.0,
            esc(&x_label(tx)),
            b = f.h - f.bottom
        );
    }
    let _ = write!(
        s,
        r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">date</text>"#,
        f.px(0.5),
        h - 4.0
    );
    for (i, top) in tops.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        let pts: Vec<String> = (0..n)
            .filter(|&k| top[k].is_finite())
            .map(|k| format!("{:.1},{:.1}", fx(x[k]), f.py(top[k])))
            .collect();
        if pts.is_empty() {
            continue;
        }
        if stacked {
            let below: Vec<String> = if i == 0 {
                vec![
                    format!("{:.1},{:.1}", fx(x[n - 1]), f.py(0.0)),
                    format!("{:.1},{:.1}", fx(x[0]), f.py(0.0)),
                ]
            } else {
                (0..n)
                    .rev()
                    .map(|k| format!("{:.1},{:.1}", fx(x[k]), f.py(tops[i - 1][k])))
                    .collect()
            };
            let _ = write!(
                s,
                r#"<polygon points="{} {}" fill="{c}" fill-opacity="0.75" stroke="{c}" stroke-width="0.8"/>"#,
                pts.join(" "),
                below.join(" ")
            );
        } else {
            let _ = write!(
                s,
                r#"<polyline points="{}" fill="none" stroke="{c}" stroke-width="1.6" stroke-dasharray="{}"/>"#,
                pts.join(" "),
                DASHES[i % DASHES.len()]
            );
        }
    }
    let names: Vec<&str> = series.iter().map(|x| x.name.as_str()).collect();
    legend(&mut s, &f, &names, !stacked);
    s.push_str("</svg>");
    s
}

/// Bars per category: one bar per series side by side, or stacked.
pub fn bar_chart(
    title: &str,
    y_label: &str,
    categories: &[String],
    series: &[Series],
    stacked: bool,
) -> String {
    let (w, h) = (760.0, 300.0);
    let mut s = String::new();
    open(&mut s, w, h, title);
    let nc = categories.len();
    if nc == 0 || series.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">no data</text></svg>"#,
            w / 2.0,
            h / 2.0
        );
        return s;
    }
    let val = |i: usize, c: usize| {
        series[i]
            .values
            .get(c)
            .copied()
            .filter(|v| v.is_finite())
            .unwrap_or(0.0)
    };
    let hi = (0..nc)
        .map(|c| {
            if stacked {
                (0..series.len()).map(|i| val(i, c).max(0.0)).sum::<f64>()
            } else {
                (0..series.len()).map(|i| val(i, c)).fold(0.0, f64::max)
            }
        })
        .fold(0.0, f64::max);
    let t = ticks(0.0, if hi > 0.0 { hi } else { 1.0 });
    let f = Frame {
        w,
        h,
        left: 62.0,
        right: 170.0,
        top: 28.0,
        bottom: 46.0,
        y0: 0.0,
        y1: t.last().copied().unwrap_or(hi).max(hi),
    };
    y_axis(&mut s, &f, y_label);
    let slot = (f.w - f.left - f.right) / nc as f64;
    let ns = series.len();
    for c in 0..nc {
        let x0 = f.left + slot * c as f64 + slot * 0.12;
        let bw = slot * 0.76;
        let mut base = 0.0;
        for i in 0..ns {
            let v = val(i, c);
            let color = PALETTE[i % PALETTE.len()];
            let (x, wdt, y_top, y_bot) = if stacked {
                let r = (x0, bw, f.py(base + v.max(0.0)), f.py(base));
                base += v.max(0.0);
                r
            } else {
                let wi = bw / ns as f64;
                (x0 + wi * i as f64, wi, f.py(v.max(0.0)), f.py(0.0))
            };
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{y_top:.1}" width="{:.1}" height="{:.1}" fill="{color}"><title>{} {}: {}</title></rect>"#,
                (wdt - 1.0).max(0.5),
                (y_bot - y_top).max(0.0),
                esc(&categories[c]),
                esc(&series[i].name),
                fmt_num(v)
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
            f.left + slot * (c as f64 + 0.5),
            f.h - f.bottom + 14.0,
            esc(&categories[c])
        );
    }
    let names: Vec<&str> = series.iter().map(|x| x.name.as_str()).collect();
    legend(&mut s, &f, &names, false);
    s.push_str("</svg>");
    s
}

/// One strip plot of a distribution: every value as a dot, with the median and the range;
/// `mark` (a value) drawn as a dashed line (a target).
pub fn strip_chart(title: &str, unit: &str, values: &[f64], mark: Option<f64>) -> String {
    let (w, h) = (360.0, 120.0);
    let mut s = String::new();
    open(&mut s, w, h, title);
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="middle">no values</text></svg>"#,
            w / 2.0,
            h / 2.0
        );
        return s;
    }
    let mut sorted = v.clone();
    sorted.sort_by(f64::total_cmp);
    let (mut lo, mut hi) = (sorted[0], sorted[sorted.len() - 1]);
    if let Some(m) = mark {
        lo = lo.min(m);
        hi = hi.max(m);
    }
    if hi <= lo {
        let d = if lo == 0.0 { 1.0 } else { lo.abs() * 0.05 };
        lo -= d;
        hi += d;
    }
    let t = ticks(lo, hi);
    let (lo, hi) = (
        t.first().copied().unwrap_or(lo).min(lo),
        t.last().copied().unwrap_or(hi).max(hi),
    );
    let (left, right, yline) = (20.0, 20.0, 62.0);
    let px = |x: f64| left + (x - lo) / (hi - lo) * (w - left - right);
    let _ = write!(
        s,
        r##"<line x1="{left}" x2="{}" y1="{yline}" y2="{yline}" stroke="#333"/>"##,
        w - right
    );
    for tk in t {
        let x = px(tk);
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="{yline}" y2="{}" stroke="#333"/><text x="{x:.1}" y="{}" font-size="9" text-anchor="middle">{}</text>"##,
            yline + 4.0,
            yline + 15.0,
            fmt_num(tk)
        );
    }
    let median = sorted[sorted.len() / 2];
    let (x0, x1) = (px(sorted[0]), px(sorted[sorted.len() - 1]));
    let _ = write!(
        s,
        r##"<rect x="{x0:.1}" y="{}" width="{:.1}" height="16" fill="#4e79a7" fill-opacity="0.15" stroke="#4e79a7"/><line x1="{m:.1}" x2="{m:.1}" y1="{}" y2="{}" stroke="#e15759" stroke-width="2"/>"##,
        yline - 28.0,
        (x1 - x0).max(1.0),
        yline - 30.0,
        yline - 10.0,
        m = px(median)
    );
    for (i, x) in v.iter().enumerate() {
        let jitter = ((i * 7919) % 11) as f64 - 5.0;
        let _ = write!(
            s,
            r##"<circle cx="{:.1}" cy="{:.1}" r="2.6" fill="#4e79a7"/>"##,
            px(*x),
            yline - 20.0 + jitter
        );
    }
    if let Some(m) = mark {
        let _ = write!(
            s,
            r##"<line x1="{x:.1}" x2="{x:.1}" y1="24" y2="{yline}" stroke="#59a14f" stroke-width="1.5" stroke-dasharray="4 2"/><text x="{x:.1}" y="{}" font-size="9" text-anchor="middle" fill="#2d6a2d">target</text>"##,
            yline + 27.0,
            x = px(m)
        );
    }
    let _ = write!(
        s,
        r#"<text x="{}" y="{}" font-size="10" text-anchor="middle">{} (median {}, n = {})</text>"#,
        w / 2.0,
        h - 4.0,
        esc(unit),
        fmt_num(median),
        v.len()
    );
    s.push_str("</svg>");
    s
}
