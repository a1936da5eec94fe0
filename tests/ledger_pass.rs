//! The ledger's gathered pass in the engine's fused accounting (`engine/src/ledger/pass.rs`:
//! one pass over the units, each unit's terms gathered from its own link and port lists and
//! judged in registers) against the separate reference pass `ledger::book_step`, which scatters
//! the same terms link by link into arrays and judges them in two passes.
//!
//! Both book the same solved step of a generated park (three species and a tracer, tanks and
//! cooling towers) as steps 0–5 of one ledger, with one kind of damage at step 4: none, 1 m³/h
//! created on a link, TDS raised 1 % at a port, a NaN concentration, a spill and a leak that no
//! other term accounts for (the last two take the pass's path for steps with spills or leaks).
//! The pass claims each unit term in the same operations and order as the reference (its lists
//! ascending, leaks before ports before the unit's own terms), so the two must agree **bit for
//! bit** on every unit's and the park's run totals, the worst closures (relative and absolute
//! residual, unit, step), the violation count and every closure diagnostic. Only the park's
//! species by exit kind are summed in another order (unit by unit): they must agree to 1e-12 of
//! their species' largest exit (about 10⁴ roundings of 1.1e-16 would be needed to reach it).

use crate::judge::{AT, STEPS, Solved, salty_link, solved};
use parktwin::engine::accounting::{AccountCache, StepBooks, StepView, account_and_book};
use parktwin::engine::diagnostics::{DiagnosticKind, Diagnostics};
use parktwin::engine::events::ParkModifiers;
use parktwin::engine::ledger::{Ledger, Terms, Worst, book_step};
use parktwin::engine::network::{ExitKind, PortRole, Topology};
use parktwin::engine::record::{FlowSums, Summary, UnitOutputs};
use parktwin::engine::state::{Energy, Factors, Flows, Quality};
use parktwin::parks::build::{BuildOptions, build};

/// A ledger after [`STEPS`] steps and its diagnostics.
type Booked = (Ledger, Diagnostics);

/// Books the solved step as steps `0..STEPS` through the reference pass and through the fused
/// accounting pass, `tamper` applied at step [`AT`] only: (reference, fused).
fn book_both(s: &Solved, tamper: impl Fn(&Topology, &mut Flows, &mut Quality)) -> (Booked, Booked) {
    let f = &s.f;
    let factors = build(crate::common::generated(12, 7), BuildOptions::default())
        .expect("builds")
        .sim
        .resource::<Factors>()
        .clone();
    let (modifiers, outputs) = (ParkModifiers::default(), UnitOutputs::new(&f.topo));
    let mut reference = (
        Ledger::new(&f.topo, f.species.conserved),
        Diagnostics::default(),
    );
    let mut fused = (
        Ledger::new(&f.topo, f.species.conserved),
        Diagnostics::default(),
    );
    let (mut energy, mut summary) = (Energy::new(&f.topo), Summary::new(&f.topo));
    let (mut sums, mut reuse, mut cache) =
        (FlowSums::default(), Vec::new(), AccountCache::default());
    let mut clock = f.clock.clone();
    for step in 0..STEPS {
        clock.step = step;
        let (mut flows, mut quality) = (s.flows.clone(), s.quality.clone());
        if step == AT {
            tamper(&f.topo, &mut flows, &mut quality);
        }
        book_step(
            &mut reference.0,
            &f.topo,
            &f.species,
            &f.inputs,
            &flows,
            &quality,
            &s.storage,
            &clock,
            &mut reference.1,
        );
        let view = StepView {
            topo: &f.topo,
            species: &f.species,
            inputs: &f.inputs,
            flows: &flows,
            quality: &quality,
            storage: &s.storage,
            clock: &clock,
            factors: &factors,
            park: &modifiers,
            outputs: &outputs,
        };
        let mut books = StepBooks {
            energy: &mut energy,
            summary: &mut summary,
            ledger: &mut fused.0,
            sums: &mut sums,
            reuse: &mut reuse,
            diag: &mut fused.1,
            cache: &mut cache,
        };
        account_and_book(&view, &mut books);
    }
    (reference, fused)
}

/// The five terms as bits.
fn term_bits(t: &Terms) -> [u64; 5] {
    [
        t.inflow,
        t.outflow,
        t.generated,
        t.removed,
        t.storage_change,
    ]
    .map(f64::to_bits)
}

/// A worst closure as comparable data: relative and absolute residual as bits, unit, step.
fn worst(w: &Worst) -> (u64, u64, String, usize) {
    (
        w.relative.to_bits(),
        w.absolute.to_bits(),
        w.item.clone(),
        w.step,
    )
}

/// The closure diagnostics as (step, unit, message).
fn closures(d: &Diagnostics) -> Vec<(usize, Option<String>, String)> {
    d.first
        .iter()
        .filter(|x| x.kind == DiagnosticKind::ClosureViolation)
        .map(|x| (x.step, x.item.clone(), x.message.clone()))
        .collect()
}

/// Everything the module docs list agrees; returns the reference's violation count.
fn assert_agree(reference: &Booked, fused: &Booked) -> u64 {
    let (a, b) = (&reference.0, &fused.0);
    let all = |l: &Ledger| {
        let mut v: Vec<[u64; 5]> = l.unit_water_all().iter().map(term_bits).collect();
        v.extend(l.unit_species_all().iter().map(term_bits));
        v.push(term_bits(&l.park_water));
        v.extend(l.park_species.iter().map(term_bits));
        v
    };
    assert!(all(a) == all(b), "unit and park terms bit for bit");
    assert_eq!(worst(&a.worst_water), worst(&b.worst_water));
    for (wa, wb) in a.worst_species.iter().zip(&b.worst_species) {
        assert_eq!(worst(wa), worst(wb));
    }
    assert_eq!(a.violations, b.violations);
    assert_eq!(
        reference.1.count(DiagnosticKind::ClosureViolation),
        fused.1.count(DiagnosticKind::ClosureViolation)
    );
    assert_eq!(closures(&reference.1), closures(&fused.1));
    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&a.species_reacted), bits(&b.species_reacted));
    assert_eq!(bits(&a.species_from_sources), bits(&b.species_from_sources));
    assert_eq!(bits(&a.species_loads), bits(&b.species_loads));
    for (ra, rb) in a.species_by_exit.iter().zip(&b.species_by_exit) {
        let scale = ra.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        for (x, y) in ra.iter().zip(rb) {
            assert!(
                (x - y).abs() <= 1e-12 * scale || x.to_bits() == y.to_bits(),
                "species by exit: {ra:?} / {rb:?}"
            );
        }
    }
    a.violations
}

#[test]
fn gathered_ledger_matches_the_reference_on_clean_steps() {
    let (reference, fused) = book_both(&solved(), |_, _, _| {});
    assert_eq!(assert_agree(&reference, &fused), 0);
    assert!(fused.0.max_relative_residual() <= 1e-12);
}

#[test]
fn gathered_ledger_matches_the_reference_on_created_water() {
    let (reference, fused) = book_both(&solved(), |topo, flows, quality| {
        let (l, _) = salty_link(topo, flows, quality);
        flows.link[l] += 1.0;
    });
    assert!(assert_agree(&reference, &fused) >= 2);
    assert_eq!(fused.0.worst_water.step, AT);
}

#[test]
fn gathered_ledger_matches_the_reference_on_created_salt_and_a_nan() {
    for value in [None, Some(f64::NAN)] {
        let (reference, fused) = book_both(&solved(), |topo, flows, quality| {
            let ns = quality.port.len() / topo.n_ports();
            let (l, _) = salty_link(topo, flows, quality);
            let at = topo.link_from_port[l] as usize * ns + usize::from(value.is_some());
            quality.port[at] = value.unwrap_or(quality.port[at] * 1.01);
        });
        assert!(assert_agree(&reference, &fused) >= 1);
        let k = usize::from(value.is_some());
        assert_eq!(fused.0.worst_species[k].step, AT);
        assert_eq!(fused.0.worst_species[k].relative.is_nan(), value.is_some());
    }
}

/// An unaccounted spill at a driven port and an unaccounted leak on a link: both remove water
/// from the sending unit only, and take the pass's path for steps with spills or leaks.
#[test]
fn gathered_ledger_matches_the_reference_on_a_spill_and_a_leak() {
    let (reference, fused) = book_both(&solved(), |topo, flows, quality| {
        let (l, _) = salty_link(topo, flows, quality);
        let p = topo.link_from_port[l] as usize;
        assert!(matches!(
            topo.port_role[p],
            PortRole::Driven | PortRole::Supply
        ));
        flows.spill[p] += 0.5;
    });
    assert!(assert_agree(&reference, &fused) >= 1);
    assert_eq!(fused.0.worst_water.step, AT);
    let (reference, fused) = book_both(&solved(), |topo, flows, quality| {
        let (l, _) = salty_link(topo, flows, quality);
        flows.leak[l] += 0.5;
    });
    assert!(assert_agree(&reference, &fused) >= 1);
    assert_eq!(fused.0.worst_water.step, AT);
    let leak = ExitKind::Leak.index();
    assert!(fused.0.species_by_exit.iter().any(|row| row[leak] > 0.0));
}
