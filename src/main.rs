//! The `parktwin` command line. All work is done in the libraries; this file parses arguments
//! and maps errors to exit codes (0 success, 1 invalid input or failed run, 2 usage).

use clap::Parser;
use parktwin::cli::{Cli, execute};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
