//! The fused accounting pass's ledger (`engine/src/accounting.rs` with `ledger::judge_and_clear`)
//! judges every unit balance every step in one pass that also clears the step's terms, and no
//! longer adds the units' inflow and outflow into the run totals each step: `Ledger::sync`
//! derives them from the links' `Σ q` and `Σ q·c` (the generated, removed and storage totals are
//! still added per step). These tests check what that relies on:
//!
//! - **The judge still catches damage, by kind, unit and step.** One captured step of a
//!   generated park (tanks, cooling towers, three species and a tracer) is booked again and again
//!   as steps 0–5 by the fused pass and by the separate reference pass (`ledger::book_step`), with
//!   water created on a link, TDS raised at a port, or a NaN at step 4. Both must count the same
//!   violations, report them for the same units at step 4 in the same order, and name the same
//!   unit and step as the worst of the damaged kind with the same relative residual (to 1e-9:
//!   a broken balance's residual is the damage, not rounding). Untouched kinds stay at rounding
//!   level (≤ 1e-12) in both.
//! - **The derived totals do not depend on when they are derived.** A run synced after every
//!   step and one synced once at the end hold the same ledger, bit for bit (every derived field
//!   is written, never added to), and the horizon closure of every unit balance holds to 1e-9
//!   of its largest term plus an absolute 1e-6 m³ or g: the per-step judge's species floor
//!   (`ledger::SPECIES_FLOOR_G`), used for water too, since a horizon sum carries the rounding
//!   of every step (the per-step water floor, `WATER_FLOOR_M3`, is 1e-9 m³ per step).

use crate::common::{generated, generated_with_leak};
use parktwin::engine::accounting::{AccountCache, StepBooks, StepView, account_and_book};
use parktwin::engine::diagnostics::{DiagnosticKind, Diagnostics};
use parktwin::engine::events::ParkModifiers;
use parktwin::engine::ledger::{Ledger, Terms, book_step};
use parktwin::engine::network::Topology;
use parktwin::engine::record::{FlowSums, Summary, UnitOutputs};
use parktwin::engine::state::{
    Clock, Energy, Factors, Flows, Quality, Species, Storage, UnitInputs,
};
use parktwin::parks::build::{BuildOptions, build};
use parktwin::parks::validate::ValidPark;

/// Steps booked per ledger; the damaged one is [`AT`].
const STEPS: usize = 6;
/// The damaged step.
const AT: usize = 4;

/// One step of an ECS run, captured: everything the accounting reads.
struct Captured {
    topo: Topology,
    species: Species,
    inputs: UnitInputs,
    flows: Flows,
    quality: Quality,
    storage: Storage,
    clock: Clock,
    factors: Factors,
    energy: Energy,
    outputs: UnitOutputs,
}

/// Step 10 of a generated 12-enterprise park (seed 7), as the ECS run computed it.
fn captured() -> Captured {
    let mut built = build(generated(12, 7), BuildOptions::default()).expect("builds");
    for _ in 0..10 {
        built.sim.step();
    }
    let start = built.sim.resource::<Storage>().clone();
    built.sim.step();
    let sim = &built.sim;
    let end = sim.resource::<Storage>();
    let mut storage = start;
    storage.volume_end.clone_from(&end.volume_end);
    storage.conc_end.clone_from(&end.conc_end);
    Captured {
        topo: sim.resource::<Topology>().clone(),
        species: sim.resource::<Species>().clone(),
        inputs: sim.resource::<UnitInputs>().clone(),
        flows: sim.resource::<Flows>().clone(),
        quality: sim.resource::<Quality>().clone(),
        storage,
        clock: sim.resource::<Clock>().clone(),
        factors: sim.resource::<Factors>().clone(),
        energy: sim.resource::<Energy>().clone(),
        outputs: sim.resource::<UnitOutputs>().clone(),
    }
}

/// What one pass's ledger reports after [`STEPS`] steps.
struct Judged {
    ledger: Ledger,
    diag: Diagnostics,
}

/// Books the captured step as steps `0..STEPS`, `damage` applied at [`AT`] only, through the
/// separate reference pass (`fused = false`) or the fused pass.
fn book(c: &Captured, fused: bool, damage: &dyn Fn(&Topology, &mut Flows, &mut Quality)) -> Judged {
    let topo = &c.topo;
    let mut ledger = Ledger::new(topo, c.species.conserved);
    let mut diag = Diagnostics::default();
    let mut summary = Summary::new(topo);
    let mut sums = FlowSums::default();
    let mut energy = c.energy.clone();
    let mut cache = AccountCache::default();
    let park = ParkModifiers::default();
    let mut clock = c.clock.clone();
    for step in 0..STEPS {
        clock.step = step;
        let (mut flows, mut quality) = (c.flows.clone(), c.quality.clone());
        if step == AT {
            damage(topo, &mut flows, &mut quality);
        }
        if fused {
            let view = StepView {
                topo,
                species: &c.species,
                inputs: &c.inputs,
                flows: &flows,
                quality: &quality,
                storage: &c.storage,
                clock: &clock,
                factors: &c.factors,
                park: &park,
                outputs: &c.outputs,
            };
            let mut books = StepBooks {
                energy: &mut energy,
                summary: &mut summary,
                ledger: &mut ledger,
                sums: &mut sums,
                diag: &mut diag,
                cache: &mut cache,
            };
            account_and_book(&view, &mut books);
        } else {
            book_step(
                &mut ledger,
                topo,
                &c.species,
                &c.inputs,
                &flows,
                &quality,
                &c.storage,
                &clock,
                &mut diag,
            );
        }
    }
    Judged { ledger, diag }
}

/// A link carrying more than 1 m³/h whose port has more than 10 g/m³ of species 0 (TDS).
fn salty_link(topo: &Topology, flows: &Flows, quality: &Quality) -> usize {
    let ns = quality.port.len() / topo.n_ports();
    (0..topo.n_links())
        .find(|&l| {
            let p = topo.link_from_port[l] as usize;
            flows.link[l] > 1.0 && quality.port[p * ns] > 10.0
        })
        .expect("the generated park carries salty water")
}

/// The closure diagnostics as (step, unit) in the order reported.
fn reported(d: &Diagnostics) -> Vec<(usize, Option<String>)> {
    d.first
        .iter()
        .filter(|d| d.kind == DiagnosticKind::ClosureViolation)
        .map(|d| (d.step, d.item.clone()))
        .collect()
}

/// Books the damage through both passes and checks they judge alike: the same violations
/// (count, units, steps, order), all at [`AT`]; kind `kind` (0 water, else species `kind − 1`)
/// broken; per kind, the worst at the same step in both passes, and when that is [`AT`] (a
/// kind the damage broke) in the same unit with the same relative residual (both NaN, or
/// within 1e-9), else (identical clean steps keep their first worst) at rounding level in
/// both.
fn judged_alike(damage: &dyn Fn(&Topology, &mut Flows, &mut Quality), kind: usize) {
    let c = captured();
    let reference = book(&c, false, damage);
    let fused = book(&c, true, damage);
    let (r, f) = (&reference.ledger, &fused.ledger);
    assert!(r.violations >= 1, "the damage breaks a balance");
    assert_eq!(f.violations, r.violations);
    assert_eq!(
        fused.diag.count(DiagnosticKind::ClosureViolation),
        f.violations
    );
    let (rd, fd) = (reported(&reference.diag), reported(&fused.diag));
    assert!(!fd.is_empty());
    assert_eq!(fd, rd);
    assert!(fd.iter().all(|(step, _)| *step == AT), "{fd:?}");
    let worst = |l: &Ledger, k: usize| {
        if k == 0 {
            l.worst_water.clone()
        } else {
            l.worst_species[k - 1].clone()
        }
    };
    assert_eq!(worst(r, kind).step, AT, "the damaged kind {kind}");
    for k in 0..=c.species.conserved {
        let (a, b) = (worst(r, k), worst(f, k));
        assert_eq!(b.step, a.step, "kind {k}");
        if a.step == AT {
            assert_eq!(b.item, a.item, "kind {k}");
            assert!(
                (a.relative.is_nan() && b.relative.is_nan())
                    || (a.relative - b.relative).abs() <= 1e-9 * a.relative,
                "kind {k}: {} vs {}",
                a.relative,
                b.relative
            );
        } else {
            assert!(a.relative <= 1e-12 && b.relative <= 1e-12, "kind {k}");
        }
    }
}

/// 1 m³/h created on a link at step 4: both ends' water balances break.
#[test]
fn the_fused_judge_catches_water_created_on_a_link() {
    judged_alike(
        &|topo, flows, quality| {
            let l = salty_link(topo, flows, quality);
            flows.link[l] += 1.0;
        },
        0,
    );
}

/// TDS raised by 1 % at a port at step 4: only TDS balances break.
#[test]
fn the_fused_judge_catches_salt_created_at_a_port() {
    judged_alike(
        &|topo, flows, quality| {
            let ns = quality.port.len() / topo.n_ports();
            let l = salty_link(topo, flows, quality);
            quality.port[topo.link_from_port[l] as usize * ns] *= 1.01;
        },
        1,
    );
}

/// A NaN concentration of species 1 at a port at step 4: caught, and kept as the worst.
#[test]
fn the_fused_judge_catches_and_keeps_a_nan() {
    judged_alike(
        &|topo, flows, quality| {
            let ns = quality.port.len() / topo.n_ports();
            let l = salty_link(topo, flows, quality);
            quality.port[topo.link_from_port[l] as usize * ns + 1] = f64::NAN;
        },
        2,
    );
}

/// The ledger of a run synced after every step (`step`) and of one synced once at the end
/// (`advance`, then `finish`) are the same bits, and every unit's horizon balance closes.
fn sync_is_idempotent(park: &ValidPark) {
    let mut each = build(park.clone(), BuildOptions::default()).expect("builds");
    let mut once = build(park.clone(), BuildOptions::default()).expect("builds");
    let steps = each.sim.resource::<Clock>().steps;
    for _ in 0..steps {
        each.sim.step();
        once.sim.advance();
    }
    each.sim.finish();
    once.sim.finish();
    let json = |l: &Ledger| serde_json::to_string(l).expect("serialises");
    let ledger = each.sim.resource::<Ledger>();
    assert_eq!(json(ledger), json(once.sim.resource::<Ledger>()));
    let closes = |t: &Terms| {
        let scale = [
            t.inflow,
            t.outflow,
            t.generated,
            t.removed,
            t.storage_change,
        ]
        .iter()
        .fold(0.0f64, |m, x| m.max(x.abs()));
        t.residual().abs() <= 1e-9 * scale + 1e-6
    };
    let units = ledger.unit_water_all();
    assert!(units.iter().any(|t| t.inflow > 0.0));
    assert!(units.iter().all(closes));
    assert!(ledger.unit_species_all().iter().all(closes));
}

#[test]
fn derived_totals_do_not_depend_on_when_they_are_synced() {
    sync_is_idempotent(&generated(8, 3));
}

/// With a leak (its water and mass removed from the sending unit: a removed term, added per
/// step, beside the derived inflow and outflow).
#[test]
fn derived_totals_do_not_depend_on_when_they_are_synced_with_a_leak() {
    sync_is_idempotent(&generated_with_leak(8, 60));
}
