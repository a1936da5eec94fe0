//! The ledger's judge over several steps of one run. The judge finds each step's largest
//! relative residual per balance kind in a pass that writes nothing per balance, and rescans the
//! step for the unit, the residual and the diagnostics only when it has a violation or a new
//! worst. These tests book one solved step of a generated park (three species and a tracer,
//! tanks and cooling towers) again and again as steps 0, 1, 2, … of one ledger, tampering with
//! one of them, and check that a tampered balance is caught by kind, unit and step after the
//! run's worst is set, that a NaN is caught and kept, and that an untampered repeat replaces
//! nothing (the worst is the first among equals).

use crate::common::{Frame, allocate, frame, generated};
use parktwin::engine::diagnostics::{DiagnosticKind, Diagnostics};
use parktwin::engine::ledger::{Ledger, book_step};
use parktwin::engine::network::Topology;
use parktwin::engine::priority::Priority;
use parktwin::engine::quality::QualitySolver;
use parktwin::engine::state::{Flows, Quality, Storage};

/// Steps booked per ledger; the tampered one is [`AT`].
const STEPS: usize = 6;
/// The step that is tampered with.
const AT: usize = 4;

/// Step 10 of a generated 12-enterprise park, allocated and solved.
struct Solved {
    f: Frame,
    flows: Flows,
    quality: Quality,
    storage: Storage,
}

fn solved() -> Solved {
    let f = frame(generated(12, 7), 10);
    let mut flows = Flows::new(&f.topo);
    allocate(&f, &f.inputs, &mut Priority::new(), &mut flows);
    let (mut storage, mut quality) = (f.storage.clone(), f.quality.clone());
    QualitySolver::new().solve(
        &f.topo,
        &f.species,
        &f.inputs,
        &flows,
        &mut storage,
        &mut quality,
        &f.clock,
        &mut Diagnostics::default(),
    );
    Solved {
        f,
        flows,
        quality,
        storage,
    }
}

/// Books the solved step as steps `0..STEPS` of one ledger, `tamper` applied at step [`AT`]
/// only.
fn book(s: &Solved, tamper: impl Fn(&Topology, &mut Flows, &mut Quality)) -> (Ledger, Diagnostics) {
    let f = &s.f;
    let mut ledger = Ledger::new(&f.topo, f.species.conserved);
    let mut diag = Diagnostics::default();
    let mut clock = f.clock.clone();
    for step in 0..STEPS {
        clock.step = step;
        let (mut flows, mut quality) = (s.flows.clone(), s.quality.clone());
        if step == AT {
            tamper(&f.topo, &mut flows, &mut quality);
        }
        book_step(
            &mut ledger,
            &f.topo,
            &f.species,
            &f.inputs,
            &flows,
            &quality,
            &s.storage,
            &clock,
            &mut diag,
        );
    }
    (ledger, diag)
}

/// A link carrying more than 1 m³/h whose port has more than 10 g/m³ of species 0 (TDS), with
/// the ids of the units its port's concentrations reach: the port's unit and the receiving
/// unit of every link leaving that port.
fn salty_link(topo: &Topology, flows: &Flows, quality: &Quality) -> (usize, Vec<String>) {
    let ns = quality.port.len() / topo.n_ports();
    let l = (0..topo.n_links())
        .find(|&l| {
            let p = topo.link_from_port[l] as usize;
            flows.link[l] > 1.0 && quality.port[p * ns] > 10.0
        })
        .expect("the generated park carries salty water");
    let p = topo.link_from_port[l];
    let mut ends = vec![topo.unit_id[topo.link_from[l] as usize].clone()];
    for k in (0..topo.n_links()).filter(|&k| topo.link_from_port[k] == p) {
        ends.push(topo.unit_id[topo.link_to[k] as usize].clone());
    }
    (l, ends)
}

/// Every closure diagnostic is of step [`AT`] and names one of `ends`; their count is the
/// ledger's violation count.
fn violations_only_at(ledger: &Ledger, diag: &Diagnostics, ends: &[String]) {
    assert!(ledger.violations >= 1);
    assert_eq!(
        diag.count(DiagnosticKind::ClosureViolation),
        ledger.violations
    );
    let found: Vec<_> = diag
        .first
        .iter()
        .filter(|d| d.kind == DiagnosticKind::ClosureViolation)
        .collect();
    assert!(!found.is_empty());
    for d in found {
        assert_eq!(d.step, AT, "{}", d.message);
        let item = d.item.as_deref().expect("a unit's balance");
        assert!(ends.iter().any(|e| e == item), "{item}: {}", d.message);
    }
}

#[test]
fn repeated_clean_steps_keep_the_first_worst() {
    let s = solved();
    let (ledger, diag) = book(&s, |_, _, _| {});
    assert_eq!(ledger.violations, 0);
    assert_eq!(diag.count(DiagnosticKind::ClosureViolation), 0);
    // The same terms every step: equal relative residuals never replace the first worst.
    assert_eq!(ledger.worst_water.step, 0);
    assert!(ledger.worst_species.iter().all(|w| w.step == 0));
    assert!(ledger.max_relative_residual() <= 1e-12);
}

/// 1 m³/h created on a link in step 4, after steps 0–3 set the run's worst: both ends' water
/// balances break (by 1 m³ against the 1e-9 relative tolerance), caught at step 4.
#[test]
fn water_created_late_in_a_run_is_caught_by_unit_and_step() {
    let s = solved();
    let (_, ends) = salty_link(&s.f.topo, &s.flows, &s.quality);
    let (ledger, diag) = book(&s, |topo, flows, quality| {
        let (l, _) = salty_link(topo, flows, quality);
        flows.link[l] += 1.0;
    });
    violations_only_at(&ledger, &diag, &ends);
    assert_eq!(ledger.worst_water.step, AT);
    assert!(ends.contains(&ledger.worst_water.item));
    assert!((ledger.worst_water.absolute.abs() - 1.0).abs() < 1e-6);
}

/// TDS raised by 1 % at a port in step 4: only TDS balances break (kind 1, species 0), at the
/// link's ends; water and the other species keep their step-0 worst.
#[test]
fn salt_created_late_in_a_run_is_caught_by_kind_unit_and_step() {
    let s = solved();
    let (_, ends) = salty_link(&s.f.topo, &s.flows, &s.quality);
    let (ledger, diag) = book(&s, |topo, flows, quality| {
        let ns = quality.port.len() / topo.n_ports();
        let (l, _) = salty_link(topo, flows, quality);
        quality.port[topo.link_from_port[l] as usize * ns] *= 1.01;
    });
    violations_only_at(&ledger, &diag, &ends);
    let tds = &ledger.worst_species[0];
    assert_eq!(tds.step, AT);
    assert!(ends.contains(&tds.item));
    assert!(tds.relative > 1e-4);
    assert_eq!(ledger.worst_water.step, 0);
    assert!(ledger.worst_species[1..].iter().all(|w| w.step == 0));
}

/// A NaN concentration of species 1 at a port in step 4 is a violation of that species'
/// balances at the link's ends; the worst of species 1 becomes NaN at step 4 and the clean
/// steps after it do not replace it.
#[test]
fn a_nan_is_caught_and_kept() {
    let s = solved();
    let (_, ends) = salty_link(&s.f.topo, &s.flows, &s.quality);
    let (ledger, diag) = book(&s, |topo, flows, quality| {
        let ns = quality.port.len() / topo.n_ports();
        let (l, _) = salty_link(topo, flows, quality);
        quality.port[topo.link_from_port[l] as usize * ns + 1] = f64::NAN;
    });
    violations_only_at(&ledger, &diag, &ends);
    let cod = &ledger.worst_species[1];
    assert!(cod.relative.is_nan() && cod.absolute.is_nan());
    assert_eq!(cod.step, AT);
    assert!(ends.contains(&cod.item));
    assert!(!ledger.worst_water.relative.is_nan());
    assert!(ledger.worst_water.relative <= 1e-12);
}
