//! Small array helpers shared by the step's passes: a scaled add over a species vector and
//! branch-free scans. Each is written so the compiler can keep it straight-line (no early
//! exit, independent partial results), and each does the same floating-point operations as
//! the written-out loop it replaced, so results are bit for bit unchanged.

/// `dst[s] += a·c[s]` for every species `s` of `dst` (`c` at least as long).
#[inline(always)]
pub(crate) fn add_scaled(dst: &mut [f64], a: f64, c: &[f64]) {
    let c = &c[..dst.len()];
    for (d, &cs) in dst.iter_mut().zip(c) {
        *d += a * cs;
    }
}

/// `true` when every value is finite: `x·0` is 0 for a finite `x` and NaN otherwise, so the
/// sum of those products is 0 exactly when all are finite (no overflow is possible). Four
/// independent partial sums let the compiler vectorise the scan.
pub(crate) fn all_finite(v: &[f64]) -> bool {
    let mut acc = [0.0f64; 4];
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            acc[k] += c[k] * 0.0;
        }
    }
    for (k, &x) in rest.iter().enumerate() {
        acc[k] += x * 0.0;
    }
    (acc[0] + acc[1] + acc[2] + acc[3]) == 0.0
}

/// `true` when `hit(x)` holds for some value, scanned without early exit (four independent
/// lanes) so the compiler can vectorise it.
#[inline(always)]
pub(crate) fn any(v: &[f64], hit: impl Fn(f64) -> bool) -> bool {
    let mut lanes = [false; 4];
    let chunks = v.chunks_exact(4);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..4 {
            lanes[k] |= hit(c[k]);
        }
    }
    rest.iter().any(|&x| hit(x)) || lanes.iter().any(|&h| h)
}
