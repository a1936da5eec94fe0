//! Small array helpers shared by the step's passes: a scaled add over a species vector, a
//! column add, and branch-free scans (any value matching, all finite, any finite, all zero).
//! Each is written so the compiler can keep it straight-line (no early exit, independent
//! partial results), and each does the same floating-point operations as the written-out loop
//! it replaced, so results are bit for bit unchanged.

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

/// `dst[i] += v[i]` for every entry of `v` (`dst` at least as long): a column of run sums.
#[inline(always)]
pub(crate) fn add_into(dst: &mut [f64], v: &[f64]) {
    let dst = &mut dst[..v.len()];
    for (d, &x) in dst.iter_mut().zip(v) {
        *d += x;
    }
}

/// `true` when some value is finite. A value is finite exactly when its exponent bits are not
/// all ones (infinities and NaNs have all ones), so none is finite exactly when the AND of all
/// bit patterns still has every exponent bit set: one AND per value, which vectorises.
pub(crate) fn any_finite(v: &[f64]) -> bool {
    const EXP: u64 = 0x7ff0_0000_0000_0000;
    v.iter().fold(EXP, |acc, x| acc & x.to_bits()) & EXP != EXP
}

/// Whether every value of every column is ±0 (a NaN is not): the bits of all values or-ed
/// with the sign bit shifted out, branch-free over the units so the scan vectorises (one pass
/// instead of one per column).
#[inline(always)]
pub(crate) fn all_zero<const N: usize>(cols: [&[f64]; N]) -> bool {
    let n = cols[0].len();
    let cols = cols.map(|c| &c[..n]);
    let mut acc = 0u64;
    for u in 0..n {
        for c in &cols {
            acc |= c[u].to_bits();
        }
    }
    acc << 1 == 0
}

#[cfg(test)]
mod tests {
    use super::any_finite;

    /// `any_finite` is `any(is_finite)`: on every mix of finite values (zeros of both signs,
    /// subnormals, the largest finite), infinities and NaNs (quiet, signalling, negative).
    #[test]
    fn any_finite_is_is_finite() {
        let special = [
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
            -f64::NAN,
            f64::from_bits(0x7ff0_0000_0000_0001),
        ];
        let finite = [0.0, -0.0, 1e-310, -f64::MAX, f64::MAX, 3.5, -1.0];
        for n in 0..=9 {
            let nonfinite: Vec<f64> = (0..n).map(|i| special[i % special.len()]).collect();
            assert!(!any_finite(&nonfinite), "{nonfinite:?}");
            for &x in &finite {
                for at in 0..=n {
                    let mut v = nonfinite.clone();
                    v.insert(at, x);
                    assert!(any_finite(&v), "{v:?}");
                }
            }
        }
    }
}
