//! NSGA-II (Deb, Pratap, Agarwal & Meyarivan 2002, "A fast and elitist multiobjective genetic
//! algorithm: NSGA-II", IEEE Trans. Evol. Comput. 6(2):182–197), with Deb's constrained
//! domination (same paper, §VI).
//!
//! - **Constrained domination**: `a` dominates `b` when `a` is feasible and `b` is not; or both
//!   are infeasible and `a` has the smaller total constraint violation; or both are feasible and
//!   `a` is no worse in every objective and better in one (all objectives minimised).
//! - **Fast non-dominated sort** into fronts `F_1, F_2, …` (O(M·N²)).
//! - **Crowding distance** per front: for each objective, the boundary points get `∞` and an
//!   inner point the normalised gap `(f_{i+1} − f_{i−1})/(f_max − f_min)` summed over objectives.
//! - **Selection**: binary tournaments on the crowded comparison (lower rank, then larger
//!   crowding distance; ties go to the first drawn).
//! - **Variation**: simulated binary crossover (SBX, Deb & Agrawal 1995, Complex Systems 9:115,
//!   bounded form as in Deb's reference code `nsga2-gnuplot-v1.1.6`, distribution index `η_c`)
//!   with probability `p_c` per pair and 0.5 per variable; polynomial mutation (Deb & Goyal 1996,
//!   bounded form, index `η_m`) with probability `p_m` per variable (default `1/n`).
//! - **Elitism**: parents and offspring (2N) are sorted together; fronts fill the next
//!   population in order and the last one that does not fit is cut by descending crowding
//!   distance.
//!
//! Every random draw comes from one ChaCha8 stream seeded by [`Config::seed`] and is made on the
//! calling thread, in a fixed order; evaluation is handed a whole generation at once (the
//! caller may evaluate it in parallel) and only its results, in input order, are used. So the
//! run is bit-identical for any number of evaluation threads. Ties in every sort are broken by
//! position (stable sorts), never by hashing.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Settings of a run.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Population size N (even, ≥ 4).
    pub population: usize,
    /// Number of generations after the initial population.
    pub generations: usize,
    /// Seed of the random stream.
    pub seed: u64,
    /// Crossover probability per pair (default 0.9).
    pub crossover_probability: f64,
    /// SBX distribution index η_c (default 15).
    pub crossover_eta: f64,
    /// Mutation probability per variable (default `1/n`).
    pub mutation_probability: Option<f64>,
    /// Polynomial-mutation distribution index η_m (default 20).
    pub mutation_eta: f64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            population: 100,
            generations: 100,
            seed: 0,
            crossover_probability: 0.9,
            crossover_eta: 15.0,
            mutation_probability: None,
            mutation_eta: 20.0,
        }
    }
}

/// The result of evaluating one decision vector.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Evaluation {
    /// Objective values, all minimised.
    pub objectives: Vec<f64>,
    /// Total constraint violation, ≥ 0; 0 when feasible (`∞` for a failed evaluation).
    pub violation: f64,
}

impl Evaluation {
    /// Whether every constraint holds.
    pub fn feasible(&self) -> bool {
        self.violation <= 0.0
    }
}

/// A member of a population.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Individual {
    /// Decision vector.
    pub x: Vec<f64>,
    /// Its evaluation.
    pub eval: Evaluation,
    /// Non-domination rank (0 for the first front).
    pub rank: usize,
    /// Crowding distance within its front.
    pub crowding: f64,
}

/// Whether `a` constrained-dominates `b` (see the module docs).
pub fn dominates(a: &Evaluation, b: &Evaluation) -> bool {
    match (a.feasible(), b.feasible()) {
        (true, false) => true,
        (false, true) => false,
        (false, false) => a.violation < b.violation,
        (true, true) => {
            let mut better = false;
            for (x, y) in a.objectives.iter().zip(&b.objectives) {
                if x > y {
                    return false;
                }
                if x < y {
                    better = true;
                }
            }
            better
        }
    }
}

/// Fast non-dominated sort: the fronts as lists of indices into `evals`, best first; each
/// front in ascending index order.
pub fn non_dominated_sort(evals: &[Evaluation]) -> Vec<Vec<usize>> {
    let n = evals.len();
    let mut dominated_by: Vec<Vec<usize>> = vec![Vec::new(); n];
    let mut count = vec![0usize; n];
    for p in 0..n {
        for q in p + 1..n {
            if dominates(&evals[p], &evals[q]) {
                dominated_by[p].push(q);
                count[q] += 1;
            } else if dominates(&evals[q], &evals[p]) {
                dominated_by[q].push(p);
                count[p] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| count[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &p in &current {
            for &q in &dominated_by[p] {
                count[q] -= 1;
                if count[q] == 0 {
                    next.push(q);
                }
            }
        }
        next.sort_unstable();
        fronts.push(std::mem::replace(&mut current, next));
    }
    fronts
}

/// Crowding distances of the members `front` of `evals` (in the order of `front`).
pub fn crowding_distance(evals: &[Evaluation], front: &[usize]) -> Vec<f64> {
    let n = front.len();
    let mut d = vec![0.0; n];
    if n <= 2 {
        return vec![f64::INFINITY; n];
    }
    let m = evals[front[0]].objectives.len();
    let mut order: Vec<usize> = (0..n).collect();
    for k in 0..m {
        let f = |i: usize| evals[front[i]].objectives[k];
        order.sort_by(|&a, &b| f(a).total_cmp(&f(b)));
        let (lo, hi) = (f(order[0]), f(order[n - 1]));
        d[order[0]] = f64::INFINITY;
        d[order[n - 1]] = f64::INFINITY;
        let span = hi - lo;
        if span > 0.0 && span.is_finite() {
            for j in 1..n - 1 {
                d[order[j]] += (f(order[j + 1]) - f(order[j - 1])) / span;
            }
        }
    }
    d
}

fn uniform(rng: &mut ChaCha8Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// Bounded SBX on one variable pair; returns the two children.
fn sbx(rng: &mut ChaCha8Rng, y1: f64, y2: f64, lo: f64, hi: f64, eta: f64) -> (f64, f64) {
    if (y1 - y2).abs() <= 1e-14 || hi <= lo {
        return (y1, y2);
    }
    let (a, b) = if y1 < y2 { (y1, y2) } else { (y2, y1) };
    let u = uniform(rng);
    let child = |beta: f64| {
        let alpha = 2.0 - beta.powf(-(eta + 1.0));
        if u <= 1.0 / alpha {
            (u * alpha).powf(1.0 / (eta + 1.0))
        } else {
            (1.0 / (2.0 - u * alpha)).powf(1.0 / (eta + 1.0))
        }
    };
    let bq1 = child(1.0 + 2.0 * (a - lo) / (b - a));
    let c1 = 0.5 * ((a + b) - bq1 * (b - a));
    let bq2 = child(1.0 + 2.0 * (hi - b) / (b - a));
    let c2 = 0.5 * ((a + b) + bq2 * (b - a));
    let (c1, c2) = (c1.clamp(lo, hi), c2.clamp(lo, hi));
    if uniform(rng) <= 0.5 {
        (c2, c1)
    } else {
        (c1, c2)
    }
}

/// Bounded polynomial mutation of one variable.
fn mutate(rng: &mut ChaCha8Rng, y: f64, lo: f64, hi: f64, eta: f64) -> f64 {
    if hi <= lo {
        return y;
    }
    let d1 = (y - lo) / (hi - lo);
    let d2 = (hi - y) / (hi - lo);
    let u = uniform(rng);
    let p = 1.0 / (eta + 1.0);
    let dq = if u < 0.5 {
        let v = 2.0 * u + (1.0 - 2.0 * u) * (1.0 - d1).powf(eta + 1.0);
        v.powf(p) - 1.0
    } else {
        let v = 2.0 * (1.0 - u) + 2.0 * (u - 0.5) * (1.0 - d2).powf(eta + 1.0);
        1.0 - v.powf(p)
    };
    (y + dq * (hi - lo)).clamp(lo, hi)
}

/// Ranks and crowding distances of `pop`, in place.
fn assign(pop: &mut [Individual]) {
    let evals: Vec<Evaluation> = pop.iter().map(|i| i.eval.clone()).collect();
    for (r, front) in non_dominated_sort(&evals).iter().enumerate() {
        let d = crowding_distance(&evals, front);
        for (&i, &di) in front.iter().zip(&d) {
            pop[i].rank = r;
            pop[i].crowding = di;
        }
    }
}

/// Crowded comparison: `a` is preferred to `b`.
fn better(a: &Individual, b: &Individual) -> bool {
    a.rank < b.rank || (a.rank == b.rank && a.crowding > b.crowding)
}

fn tournament<'a>(rng: &mut ChaCha8Rng, pop: &'a [Individual]) -> &'a Individual {
    let n = pop.len() as u64;
    let a = &pop[(rng.next_u64() % n) as usize];
    let b = &pop[(rng.next_u64() % n) as usize];
    if better(b, a) { b } else { a }
}

/// Why a run could not start.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum Nsga2Error {
    /// The population is too small or odd.
    #[error("population {0} must be even and at least 4")]
    Population(usize),
    /// A bound is not finite or lower is above upper.
    #[error("variable {index}: bounds [{lo}, {hi}] must be finite with lo ≤ hi")]
    Bounds {
        /// Variable index.
        index: usize,
        /// Lower bound.
        lo: f64,
        /// Upper bound.
        hi: f64,
    },
    /// No variables.
    #[error("no decision variables")]
    NoVariables,
    /// The evaluator returned the wrong number of results.
    #[error("the evaluator returned {got} results for {want} candidates")]
    Evaluator {
        /// Returned.
        got: usize,
        /// Expected.
        want: usize,
    },
}

/// Runs NSGA-II on the box `bounds` (one `(lo, hi)` per variable).
///
/// `evaluate` gets a whole generation's decision vectors and returns their evaluations in the
/// same order. `on_generation(g, population)` is called after the initial population (`g = 0`)
/// and after each generation. Returns the final population, ranked (rank 0 is the Pareto front
/// found).
pub fn run(
    config: &Config,
    bounds: &[(f64, f64)],
    evaluate: &mut dyn FnMut(&[Vec<f64>]) -> Vec<Evaluation>,
    on_generation: &mut dyn FnMut(usize, &[Individual]),
) -> Result<Vec<Individual>, Nsga2Error> {
    let n = config.population;
    if n < 4 || n % 2 == 1 {
        return Err(Nsga2Error::Population(n));
    }
    if bounds.is_empty() {
        return Err(Nsga2Error::NoVariables);
    }
    for (index, &(lo, hi)) in bounds.iter().enumerate() {
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(Nsga2Error::Bounds { index, lo, hi });
        }
    }
    let nv = bounds.len();
    let pm = config.mutation_probability.unwrap_or(1.0 / nv as f64);
    let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
    let mut eval_all = |xs: Vec<Vec<f64>>| -> Result<Vec<Individual>, Nsga2Error> {
        let evals = evaluate(&xs);
        if evals.len() != xs.len() {
            return Err(Nsga2Error::Evaluator {
                got: evals.len(),
                want: xs.len(),
            });
        }
        Ok(xs
            .into_iter()
            .zip(evals)
            .map(|(x, eval)| Individual {
                x,
                eval,
                rank: 0,
                crowding: 0.0,
            })
            .collect())
    };
    let initial: Vec<Vec<f64>> = (0..n)
        .map(|_| {
            bounds
                .iter()
                .map(|&(lo, hi)| lo + uniform(&mut rng) * (hi - lo))
                .collect()
        })
        .collect();
    let mut pop = eval_all(initial)?;
    assign(&mut pop);
    on_generation(0, &pop);
    for g in 1..=config.generations {
        let mut children = Vec::with_capacity(n);
        while children.len() < n {
            let p1 = tournament(&mut rng, &pop).x.clone();
            let p2 = tournament(&mut rng, &pop).x.clone();
            let (mut c1, mut c2) = (p1.clone(), p2.clone());
            if uniform(&mut rng) <= config.crossover_probability {
                for v in 0..nv {
                    if uniform(&mut rng) <= 0.5 {
                        let (lo, hi) = bounds[v];
                        let (a, b) = sbx(&mut rng, p1[v], p2[v], lo, hi, config.crossover_eta);
                        c1[v] = a;
                        c2[v] = b;
                    }
                }
            }
            for c in [&mut c1, &mut c2] {
                for v in 0..nv {
                    if uniform(&mut rng) <= pm {
                        let (lo, hi) = bounds[v];
                        c[v] = mutate(&mut rng, c[v], lo, hi, config.mutation_eta);
                    }
                }
            }
            children.push(c1);
            children.push(c2);
        }
        let offspring = eval_all(children)?;
        let mut all = pop;
        all.extend(offspring);
        let evals: Vec<Evaluation> = all.iter().map(|i| i.eval.clone()).collect();
        let mut next: Vec<Individual> = Vec::with_capacity(n);
        for (r, front) in non_dominated_sort(&evals).iter().enumerate() {
            let d = crowding_distance(&evals, front);
            let mut members: Vec<(usize, f64)> = front.iter().copied().zip(d).collect();
            if next.len() + members.len() > n {
                // Stable: equal distances keep their index order.
                members.sort_by(|a, b| b.1.total_cmp(&a.1));
                members.truncate(n - next.len());
            }
            for (i, di) in members {
                let mut ind = all[i].clone();
                ind.rank = r;
                ind.crowding = di;
                next.push(ind);
            }
            if next.len() == n {
                break;
            }
        }
        pop = next;
        // Ranks and distances within the new population (the cut changes the last front's).
        assign(&mut pop);
        on_generation(g, &pop);
    }
    Ok(pop)
}
