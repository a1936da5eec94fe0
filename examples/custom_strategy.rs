//! A researcher's coupling strategy in one file, without touching the engine.
//!
//! `Proportional` splits every consumer's missing demand over its supply links in proportion to
//! what each supplier still has this step (instead of the priority cascade's "reuse first,
//! fresh last" order), and sends each driven port's water down its links in equal shares. It
//! does not compute flows itself: it writes a [`Plan`] of those free choices and lets the
//! engine's [`Realiser`] turn it into flows that balance every unit exactly (links and consumers
//! are bounded, what a link refuses cascades on, what none takes is spill).
//!
//! ```sh
//! cargo run --release --example custom_strategy -- scenarios/demo_park.ron
//! ```
//!
//! It prints the run summary and the park's fresh-water intake next to the priority cascade's.

use parktwin::engine::diagnostics::Diagnostics;
use parktwin::engine::flow::{AllocationContext, CouplingStrategy};
use parktwin::engine::network::PortRole;
use parktwin::engine::state::Flows;
use parktwin::engine::strategy::realise::{Plan, PullMode, Realiser};
use parktwin::parks::build::{BuildOptions, build};
use parktwin::parks::load::from_path;
use parktwin::parks::summary::summarize;
use parktwin::parks::validate::validate;
use std::process::ExitCode;

/// Pull in proportion to availability; split driven ports equally.
#[derive(Default)]
struct Proportional {
    realiser: Realiser,
    plan: Option<Plan>,
}

impl CouplingStrategy for Proportional {
    fn name(&self) -> &str {
        "proportional"
    }

    fn allocate(&mut self, ctx: &AllocationContext<'_>, flows: &mut Flows, diag: &mut Diagnostics) {
        let topo = ctx.topo;
        let mut plan = self.plan.take().unwrap_or_else(|| Plan {
            link: vec![0.0; topo.n_links()],
            pull: PullMode::ShareOfTarget,
        });
        // Driven and overflow ports: equal shares over their links.
        for p in 0..topo.n_ports() {
            if matches!(topo.port_role[p], PortRole::Driven | PortRole::Overflow) {
                let links = topo.links_of_port(p);
                for &l in links {
                    plan.link[l as usize] = 1.0 / links.len() as f64;
                }
            }
        }
        // Pulls: shares of the missing demand, in proportion to each supplier's availability.
        for u in 0..topo.n_units() {
            let pulls = topo.pulled_into(u);
            let avail = |l: u32| {
                let s = topo.link_from[l as usize] as usize;
                if ctx.inputs.online[s] {
                    ctx.inputs.supply_avail[s].max(0.0)
                } else {
                    0.0
                }
            };
            let total: f64 = pulls.iter().map(|&l| avail(l)).sum();
            for &l in pulls {
                plan.link[l as usize] = if total > 0.0 { avail(l) / total } else { 0.0 };
            }
        }
        self.realiser.realise(&plan, ctx, flows, diag);
        self.plan = Some(plan);
    }
}

fn main() -> ExitCode {
    let Some(path) = std::env::args().nth(1) else {
        eprintln!("usage: custom_strategy PARK.ron");
        return ExitCode::FAILURE;
    };
    let run = |strategy: Option<Box<dyn CouplingStrategy>>| -> Result<_, String> {
        let file = from_path(std::path::Path::new(&path)).map_err(|e| e.to_string())?;
        let valid = validate(&file).map_err(|e| e.to_string())?;
        let mut built = build(
            valid,
            BuildOptions {
                strategy,
                ..Default::default()
            },
        )
        .map_err(|e| e.to_string())?;
        built.sim.run();
        Ok(summarize(&built.sim, &built.meta))
    };
    let (mine, theirs) = match (
        run(Some(Box::new(Proportional::default()))),
        run(Some(Box::new(parktwin::engine::priority::Priority::new()))),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", mine.to_text());
    println!(
        "\nintake: {} {:.0} m³, priority {:.0} m³; unmet demand {:.0} m³ against {:.0} m³; worst closure {:.1e}",
        mine.strategy,
        mine.water_m3.intake,
        theirs.water_m3.intake,
        mine.water_m3.unmet_demand,
        theirs.water_m3.unmet_demand,
        mine.balance.max_relative_residual
    );
    ExitCode::SUCCESS
}
