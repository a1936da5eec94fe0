//! Species-count specialisation of the hot loops.
//!
//! The per-step passes (species solve, ledger, flow sums) loop over species inside loops over
//! links, ports and units. With the species count known only at run time, every inner loop pays
//! a loop counter and bounds checks for two to six iterations. These passes are written once,
//! generic over [`Width`], and [`with_width!`](crate::with_width) instantiates them for 0–7
//! declared species ([`Fixed`]), so the inner loops have a constant trip count — unrolled, with
//! the checks proved away — and any larger count runs the same code with [`Dyn`]. The arithmetic
//! and its order are the same in every instantiation, so results do not depend on which one ran.

/// A species count: a compile-time constant or a run-time value.
pub trait Width: Copy {
    /// The count.
    fn n(self) -> usize;
}

/// A count known at compile time.
#[derive(Clone, Copy, Debug)]
pub struct Fixed<const N: usize>;

impl<const N: usize> Width for Fixed<N> {
    #[inline(always)]
    fn n(self) -> usize {
        N
    }
}

/// A count known only at run time.
#[derive(Clone, Copy, Debug)]
pub struct Dyn(pub usize);

impl Width for Dyn {
    #[inline(always)]
    fn n(self) -> usize {
        self.0
    }
}

/// Runs `$body` with `$w` bound to a [`Width`] equal to `$n`: [`Fixed`] for 0–7, [`Dyn`] above.
#[macro_export]
macro_rules! with_width {
    ($n:expr, $w:ident => $body:expr) => {
        match $n {
            0 => {
                let $w = $crate::width::Fixed::<0>;
                $body
            }
            1 => {
                let $w = $crate::width::Fixed::<1>;
                $body
            }
            2 => {
                let $w = $crate::width::Fixed::<2>;
                $body
            }
            3 => {
                let $w = $crate::width::Fixed::<3>;
                $body
            }
            4 => {
                let $w = $crate::width::Fixed::<4>;
                $body
            }
            5 => {
                let $w = $crate::width::Fixed::<5>;
                $body
            }
            6 => {
                let $w = $crate::width::Fixed::<6>;
                $body
            }
            7 => {
                let $w = $crate::width::Fixed::<7>;
                $body
            }
            n => {
                let $w = $crate::width::Dyn(n);
                $body
            }
        }
    };
}
