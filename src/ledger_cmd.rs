//! `parktwin ledger seal` and `parktwin ledger verify`: tamper-evident meter records (the
//! chain format is documented in `parktwin_parks::twin::hashchain`).

use anyhow::{Context, Result, bail};
use parktwin_parks::twin::hashchain::{
    Anchor, ChainRecord, checkpoints, seal, verify, write_chain,
};
use parktwin_parks::twin::readings::read_records;
use std::path::{Path, PathBuf};

/// The checkpoints file written beside a chain.
pub fn checkpoints_path(chain: &Path) -> PathBuf {
    let mut s = chain.as_os_str().to_owned();
    s.push(".checkpoints.csv");
    PathBuf::from(s)
}

/// Appends the readings of `input` (long CSV or NDJSON) to the chain `out` (created when
/// missing; an existing chain is verified first) and rewrites its checkpoints file.
pub fn run_seal(input: &Path, out: &Path, every: usize) -> Result<String> {
    let (records, bad) = read_records(input).map_err(anyhow::Error::msg)?;
    if let Some((line, why)) = bad.first() {
        bail!(
            "{}: line {line}: {why} ({} unreadable records; nothing sealed)",
            input.display(),
            bad.len()
        );
    }
    let mut existing: Vec<ChainRecord> = Vec::new();
    if out.exists() {
        let text =
            std::fs::read_to_string(out).with_context(|| format!("reading {}", out.display()))?;
        let v = verify(&text, &[]);
        if let Some(b) = v.bad {
            bail!("{}: {} (not appending)", out.display(), b.message);
        }
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            existing.push(serde_json::from_str(line)?);
        }
    }
    let last = existing.last().map(|r| (r.seq, r.hash.clone()));
    let new = seal(&records, last);
    existing.extend(new.iter().cloned());
    let mut bytes = Vec::new();
    write_chain(&mut bytes, &existing)?;
    crate::output::write_atomic(out, &bytes)
        .with_context(|| format!("writing {}", out.display()))?;
    let cps = checkpoints(&existing, every);
    let mut s = String::from("seq,hash\n");
    for (seq, h) in &cps {
        s.push_str(&format!("{seq},{h}\n"));
    }
    let cp = checkpoints_path(out);
    crate::output::write_atomic(&cp, s.as_bytes())
        .with_context(|| format!("writing {}", cp.display()))?;
    let head = existing.last().map(|r| format!("{}:{}", r.seq, r.hash));
    Ok(format!(
        "sealed {} records into {} ({} in the chain)\ncheckpoints {} ({} entries)\nhead      {}\n",
        new.len(),
        out.display(),
        existing.len(),
        cp.display(),
        cps.len(),
        head.unwrap_or_default()
    ))
}

/// Reads anchors from a `seq,hash` checkpoints file.
pub fn read_checkpoints(path: &Path) -> Result<Vec<Anchor>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let a: Anchor = line
            .replacen(',', ":", 1)
            .parse()
            .map_err(|e: String| anyhow::anyhow!("{}: line {}: {e}", path.display(), i + 1))?;
        out.push(a);
    }
    Ok(out)
}

/// Verifies a chain; `Ok(text)` when intact, an error naming the first bad record otherwise.
pub fn run_verify(chain: &Path, anchors: &[Anchor]) -> Result<String> {
    let text =
        std::fs::read_to_string(chain).with_context(|| format!("reading {}", chain.display()))?;
    let v = verify(&text, anchors);
    match v.bad {
        None => Ok(format!(
            "{}: intact, {} records, {} anchored checkpoints matched\nhead      {}\n",
            chain.display(),
            v.records,
            v.anchors_matched,
            v.last_hash.unwrap_or_default()
        )),
        Some(b) => bail!(
            "{}: TAMPERED: {} ({} records verified before it)",
            chain.display(),
            b.message,
            v.records
        ),
    }
}
