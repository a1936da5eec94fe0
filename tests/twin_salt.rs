//! Conductivity (TDS) reconciliation after the flows, and the replay's HTML report (issue #7),
//! on `scenarios/metered_park.ron` (its conductivity meters around the collection mixer and
//! the treatment plant).

use parktwin::engine::network::Topology;
use parktwin::engine::state::{Species, UnitInputs};
use parktwin::parks::load::{ParkFile, from_path};
use parktwin::parks::schema::EventSpec;
use parktwin::parks::twin::evaluate::run_metered;
use parktwin::parks::twin::leak::CusumSettings;
use parktwin::parks::twin::meters::{FaultSpec, MeterKind, MeterSet, synthesize};
use parktwin::parks::twin::readings::{Aligned, write_csv};
use parktwin::parks::twin::reconcile::TestSettings;
use parktwin::parks::twin::replay::{ReplayResult, replay};
use parktwin::parks::twin::salt::{SaltResult, SaltRole, SaltVar, reconcile_salt};
use std::path::PathBuf;

fn park_path() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/metered_park.ron"
    ))
}

fn park() -> ParkFile {
    from_path(&park_path()).expect("the metered park loads")
}

struct Run {
    set: MeterSet,
    truths: Vec<Vec<f64>>,
    aligned: Aligned,
    flows: ReplayResult,
    salt: SaltResult,
    topo: Topology,
}

/// Runs `file`, draws readings with `seed`, reconciles the flows and then the TDS.
fn run(file: &ParkFile, seed: u64) -> Run {
    let (set, truths, built) = run_metered(file, Default::default()).expect("park runs");
    let readings = synthesize(&truths, &set, seed);
    let aligned = Aligned::from_readings(&readings, truths.len(), set.meters.len());
    let topo = built.sim.resource::<Topology>().clone();
    let flows = replay(
        &topo,
        &set,
        &aligned,
        TestSettings::default(),
        CusumSettings::default(),
    );
    let species = built.sim.resource::<Species>();
    let s = species.index("tds").expect("tds declared");
    let salt = reconcile_salt(
        &topo,
        built.sim.resource::<UnitInputs>(),
        s,
        species.len(),
        &set,
        &aligned,
        &flows.link_flows,
        TestSettings::default(),
    );
    Run {
        set,
        truths,
        aligned,
        flows,
        salt,
        topo,
    }
}

fn link(topo: &Topology, id: &str) -> usize {
    topo.link_id
        .iter()
        .position(|x| x == id)
        .expect("link exists")
}

fn port_var(r: &Run, unit: &str, port: &str) -> usize {
    let u = r.topo.unit_index(unit).expect("unit");
    let p = r.topo.port_index(u, port).expect("port");
    r.salt
        .vars
        .iter()
        .position(|v| *v == SaltVar::Port(p))
        .expect("port variable")
}

/// Conductivity reconciliation recovers the true TDS within the noise: for every redundant
/// conductivity meter the RMS error of its reconciled reading over 336 steps is at most
/// 1.15 σ (1.15 allows 3.5 standard errors of an RMS over 336 samples, 1/√(2·336) = 3.9 %, and
/// the reconciled flows' small errors, which the sequential step takes as exact), and over these
/// meters the squared error is smaller than the raw readings'. Given the reconciled flows the
/// reconciled TDS closes the salt balances of the mixer `collect` and the treatment `wwtp` to
/// 1e-9 relative (`|Σ q·c| / Σ |q·c|`; they are constraints). The engine's true values satisfy
/// the mixer's balance with the true flows to 1e-9 relative (the model is the engine's).
#[test]
fn salt_reconciliation_recovers_true_tds_and_closes_the_salt_balance() {
    let r = run(&park(), 7);
    assert!(
        r.salt.max_relative_residual < 1e-9,
        "{}",
        r.salt.max_relative_residual
    );
    let nm = r.set.meters.len();
    let (mut total_rec, mut total_raw, mut checked) = (0.0, 0.0, 0);
    for (m, meter) in r.set.meters.iter().enumerate() {
        if !r.salt.observability.redundant_meters.contains(&meter.id) {
            continue;
        }
        let (mut se, mut raw, mut n) = (0.0, 0.0, 0.0);
        for k in 0..r.salt.steps {
            let v = r.salt.meter_reconciled[k * nm + m];
            assert!(v.is_finite(), "{} undetermined at step {k}", meter.id);
            se += (v - r.truths[k][m]).powi(2);
            raw += (r.aligned.get(k, m) - r.truths[k][m]).powi(2);
            n += 1.0;
        }
        let rms = (se / n).sqrt();
        assert!(
            rms <= 1.15 * meter.sd,
            "{}: RMS error {rms} µS/cm above 1.15 σ = {}",
            meter.id,
            1.15 * meter.sd
        );
        total_rec += se / (meter.sd * meter.sd);
        total_raw += raw / (meter.sd * meter.sd);
        checked += 1;
    }
    assert!(checked >= 5, "{checked} redundant conductivity meters");
    assert!(total_rec < total_raw, "{total_rec} vs raw {total_raw}");
    // The salt balances recomputed from the output series.
    let nl = r.topo.n_links();
    let nv = r.salt.vars.len();
    let (dw, bw, cw) = (
        link(&r.topo, "dyeing.waste->collect"),
        link(&r.topo, "brewing.waste->collect"),
        link(&r.topo, "collect->wwtp"),
    );
    let (pr, rj) = (
        link(&r.topo, "wwtp.product->reclaimed"),
        link(&r.topo, "wwtp.reject->outfall"),
    );
    let vd = port_var(&r, "dyeing", "waste");
    let vb = port_var(&r, "brewing", "waste");
    let vc = port_var(&r, "collect", "out");
    let vp = port_var(&r, "wwtp", "product");
    let vr = port_var(&r, "wwtp", "reject");
    for k in 0..r.salt.steps {
        let q = |l: usize| r.flows.link_flows[k * nl + l];
        let c = |v: usize| r.salt.tds[k * nv + v];
        let terms = [q(dw) * c(vd), q(bw) * c(vb), -q(cw) * c(vc)];
        let rel = terms.iter().sum::<f64>().abs() / terms.iter().map(|x| x.abs()).sum::<f64>();
        assert!(rel < 1e-9, "step {k}: mixer salt residual {rel}");
        let terms = [q(cw) * c(vc), -q(pr) * c(vp), -q(rj) * c(vr)];
        let rel = terms.iter().sum::<f64>().abs() / terms.iter().map(|x| x.abs()).sum::<f64>();
        assert!(rel < 1e-9, "step {k}: treatment salt residual {rel}");
    }
    // The truth: meters FT-dyeing-waste, FT-brewing-waste, FT-wwtp read the mixer's flows,
    // CE-dyeing-waste, CE-brewing-waste, CE-wwtp-in its concentrations (same factor k).
    let i = |id: &str| r.set.index(id).expect("meter");
    for (k, t) in r.truths.iter().enumerate() {
        let terms = [
            t[i("FT-dyeing-waste")] * t[i("CE-dyeing-waste")],
            t[i("FT-brewing-waste")] * t[i("CE-brewing-waste")],
            -t[i("FT-wwtp")] * t[i("CE-wwtp-in")],
        ];
        let rel = terms.iter().sum::<f64>().abs() / terms.iter().map(|x| x.abs()).sum::<f64>();
        assert!(rel < 1e-9, "step {k}: true mixer salt residual {rel}");
    }
}

/// Observability of the concentrations: the mixer and the treatment plant are salt-closed;
/// the processes add salt, the tank and the tower basin are mixed volumes, the outfall is an
/// exit; the tower's and the city's conductivity meters sit on open units only and are not
/// redundant; the five meters around the closed units are; the tank's outflow is never
/// determined (no meter on it, and its balance is open).
#[test]
fn observability_of_the_concentrations() {
    let r = run(&park(), 1);
    let o = &r.salt.observability;
    let role = |u: &str| o.units.iter().find(|x| x.unit == u).expect("unit").role;
    assert_eq!(role("collect"), SaltRole::Closed);
    assert_eq!(role("wwtp"), SaltRole::Closed);
    assert_eq!(role("dyeing"), SaltRole::AddsSalt);
    assert_eq!(role("reclaimed"), SaltRole::Storage);
    assert_eq!(role("outfall"), SaltRole::Exit);
    assert_eq!(role("city"), SaltRole::Source);
    assert_eq!(
        o.non_redundant_meters,
        vec!["CE-ct".to_string(), "CE-city".to_string()]
    );
    for m in [
        "CE-dyeing-waste",
        "CE-brewing-waste",
        "CE-wwtp-in",
        "CE-product",
        "CE-reject",
    ] {
        assert!(o.redundant_meters.contains(&m.to_string()), "{m}: {o:?}");
    }
    assert!(o.determined.contains(&"collect.out".to_string()), "{o:?}");
    assert!(
        o.undetermined.contains(&"reclaimed.out".to_string()),
        "{o:?}"
    );
    assert_eq!(o.max_redundancy, 2);
}

/// A conductivity meter biased by 5 σ (CE-wwtp-in, σ = 70 µS/cm, +350 µS/cm all run; it is in
/// both closed balances, so it is not in an equivalent set) is flagged by the measurement test
/// in most steps and reported as suspect; no other conductivity meter is suspect. Without the
/// fault no conductivity meter is suspect.
#[test]
fn a_5_sigma_biased_conductivity_meter_is_flagged() {
    let clean = run(&park(), 3);
    for m in &clean.salt.meters {
        assert!(!m.suspect, "fault-free: {m:?}");
    }
    let mut file = park();
    file.park.events.push(EventSpec::MeterFault {
        meter: "CE-wwtp-in".into(),
        fault: FaultSpec::Bias(350.0),
        from_h: 0.0,
        to_h: 336.0,
    });
    let r = run(&file, 3);
    let v = r
        .salt
        .meters
        .iter()
        .find(|m| m.meter == "CE-wwtp-in")
        .expect("meter");
    assert!(v.suspect, "{v:?}");
    assert!(
        v.flagged_steps as f64 > 0.5 * v.tested_steps as f64,
        "{v:?}"
    );
    for m in &r.salt.meters {
        if m.meter != "CE-wwtp-in" {
            assert!(!m.suspect, "{m:?}");
        }
    }
}

/// `parktwin replay --out DIR` writes the HTML report and the reconciled conductivity series:
/// `replay.html` is one self-contained page (no script, no `src`, `href`, `url(` or `@import`
/// reference, no external style) with the observability, series, gross-error and alarm sections, one SVG chart per
/// charted meter (three flow meters, two conductivity meters), the conductivity meters' table,
/// and balanced tags (every `<table>`, `<figure>`, `<svg>` closed); `conductivity.csv` has a
/// row per conductivity meter and step with a reconciled value for the redundant ones.
#[test]
fn replay_writes_the_html_report_and_the_conductivity_series() {
    let file = park();
    let (set, truths, _) = run_metered(&file, Default::default()).expect("park runs");
    let readings = synthesize(&truths, &set, 5);
    let dir = tempfile::tempdir().expect("temp dir");
    let csv = dir.path().join("readings.csv");
    let mut bytes = Vec::new();
    let start = parktwin::parks::twin::readings::start_minutes("2025-07-01T00:00").expect("start");
    write_csv(&mut bytes, &readings, &set, start).expect("csv");
    std::fs::write(&csv, bytes).expect("write readings");
    let out = dir.path().join("replay");
    parktwin::replay::run_replay(
        &park_path(),
        &csv,
        Some(&out),
        TestSettings::default(),
        CusumSettings::default(),
    )
    .expect("replay runs");
    let html = std::fs::read_to_string(out.join("replay.html")).expect("replay.html");
    assert!(html.starts_with("<!DOCTYPE html>"));
    for title in [
        "<h2>Observability</h2>",
        "<h2>Reconciled and measured series</h2>",
        "<h2>Gross-error tests</h2>",
        "<h2>Leak alarms</h2>",
        "Concentrations (TDS)",
        "Conductivity meters",
        "CE-wwtp-in",
    ] {
        assert!(html.contains(title), "missing {title}");
    }
    // (`xmlns="http://www.w3.org/2000/svg"` names a namespace; it fetches nothing.)
    for forbidden in ["<script", "src=", "href=", "url(", "<link", "@import"] {
        assert!(!html.contains(forbidden), "found {forbidden}");
    }
    assert_eq!(html.matches("<svg").count(), 5);
    for tag in ["table", "figure", "svg", "tr"] {
        let open =
            html.matches(&format!("<{tag}>")).count() + html.matches(&format!("<{tag} ")).count();
        assert_eq!(
            open,
            html.matches(&format!("</{tag}>")).count(),
            "unbalanced <{tag}>"
        );
    }
    let cond = std::fs::read_to_string(out.join("conductivity.csv")).expect("conductivity.csv");
    let n_ce = set
        .meters
        .iter()
        .filter(|m| m.kind == MeterKind::Conductivity)
        .count();
    assert_eq!(cond.lines().count(), 1 + n_ce * truths.len());
    let reconciled_rows = cond
        .lines()
        .skip(1)
        .filter(|l| l.contains(",CE-reject,"))
        .filter(|l| {
            l.split(',')
                .nth(4)
                .is_some_and(|v| v.parse::<f64>().is_ok())
        })
        .count();
    assert_eq!(reconciled_rows, truths.len());
    let rec = std::fs::read_to_string(out.join("reconciled.csv")).expect("reconciled.csv");
    assert!(rec.contains(",tds,\"collect.out\","));
}
