//! Tamper-evident meter records: a SHA-256 hash chain (FIPS 180-4, the `sha2` crate).
//!
//! **Chain file** (NDJSON, one record per line, readable by `parktwin replay` as readings):
//!
//! ```text
//! {"seq":0,"timestamp":"2025-01-01T00:00","meter":"FT-a","value":101.3,"unit":"m3/h","prev":"00…00","hash":"9f…"}
//! ```
//!
//! `hash = SHA-256(seq ␟ timestamp ␟ meter ␟ value ␟ unit ␟ prev)` in lower-case hex, where `␟`
//! is the byte 0x1F, `seq` is decimal, `value` is the shortest decimal that reads back to the
//! same `f64` (empty when missing), and `prev` is the previous record's hash (64 zeros for
//! the first). `seq` counts records from 0.
//!
//! **Checkpoints**: every `every` records and at the end, `seq,hash` is written to
//! `CHAIN.checkpoints.csv`; these are what one anchors outside (an external ledger, a signed
//! e-mail, a regulator's register).
//!
//! **Verification** walks the chain and stops at the first record that fails, saying why:
//! an altered record (its hash does not match its content), a broken link (its `prev` is not
//! the previous record's hash: a record removed, inserted, or altered and re-hashed before it),
//! or a sequence gap (a record removed) or step back (records inserted or reordered). A chain
//! recomputed from the start after an edit is internally valid; an anchored checkpoint
//! (`seq:hash`) catches it, naming the checkpoint whose hash no longer matches — the edit is
//! at or before that record (after the last anchored checkpoint that still matches).

use super::readings::Record;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::io::Write;

/// The `prev` of the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One chained record.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ChainRecord {
    /// Position from 0.
    pub seq: u64,
    /// Local timestamp.
    pub timestamp: String,
    /// Meter id.
    pub meter: String,
    /// Value (`None`: missing).
    pub value: Option<f64>,
    /// Unit.
    pub unit: String,
    /// Previous record's hash.
    pub prev: String,
    /// This record's hash.
    pub hash: String,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of a record's content and its predecessor's hash.
pub fn record_hash(
    seq: u64,
    timestamp: &str,
    meter: &str,
    value: Option<f64>,
    unit: &str,
    prev: &str,
) -> String {
    let mut h = Sha256::new();
    let v = value.map(|v| format!("{v:?}")).unwrap_or_default();
    for (i, part) in [seq.to_string().as_str(), timestamp, meter, &v, unit, prev]
        .iter()
        .enumerate()
    {
        if i > 0 {
            h.update([0x1f]);
        }
        h.update(part.as_bytes());
    }
    hex(&h.finalize())
}

/// Appends `records` to a chain whose last record has `seq` and `hash` (`None`: a new chain).
/// Returns the chained records.
pub fn seal(records: &[Record], last: Option<(u64, String)>) -> Vec<ChainRecord> {
    let (mut seq, mut prev) = match last {
        Some((s, h)) => (s + 1, h),
        None => (0, GENESIS.to_string()),
    };
    let mut out = Vec::with_capacity(records.len());
    for r in records {
        let hash = record_hash(seq, &r.timestamp, &r.meter, r.value, &r.unit, &prev);
        out.push(ChainRecord {
            seq,
            timestamp: r.timestamp.clone(),
            meter: r.meter.clone(),
            value: r.value,
            unit: r.unit.clone(),
            prev: prev.clone(),
            hash: hash.clone(),
        });
        prev = hash;
        seq += 1;
    }
    out
}

/// Writes records as NDJSON lines.
pub fn write_chain<W: Write>(mut w: W, recs: &[ChainRecord]) -> std::io::Result<()> {
    for r in recs {
        serde_json::to_writer(&mut w, r)?;
        w.write_all(b"\n")?;
    }
    w.flush()
}

/// Checkpoints of a chain: every `every`-th record (seq `every−1`, `2·every−1`, …) and the last.
pub fn checkpoints(recs: &[ChainRecord], every: usize) -> Vec<(u64, String)> {
    let every = every.max(1);
    let mut out: Vec<(u64, String)> = recs
        .iter()
        .filter(|r| (r.seq + 1) % every as u64 == 0)
        .map(|r| (r.seq, r.hash.clone()))
        .collect();
    if let Some(l) = recs.last()
        && out.last().map(|c| c.0) != Some(l.seq)
    {
        out.push((l.seq, l.hash.clone()));
    }
    out
}

/// An anchored checkpoint: a hash, optionally with the seq it belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// Record position, when known.
    pub seq: Option<u64>,
    /// Hash.
    pub hash: String,
}

impl std::str::FromStr for Anchor {
    type Err = String;
    /// `SEQ:HASH` or `HASH` (64 hex digits).
    fn from_str(s: &str) -> Result<Self, String> {
        let (seq, hash) = match s.split_once(':') {
            Some((a, b)) => (
                Some(
                    a.trim()
                        .parse::<u64>()
                        .map_err(|_| format!("{a:?} is not a record number"))?,
                ),
                b.trim(),
            ),
            None => (None, s.trim()),
        };
        if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(format!("{hash:?} is not a SHA-256 hash (64 hex digits)"));
        }
        Ok(Anchor {
            seq,
            hash: hash.to_ascii_lowercase(),
        })
    }
}

/// Why verification failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Failure {
    /// A line that is not a chain record.
    Unreadable,
    /// The record's hash does not match its content.
    Altered,
    /// Its `prev` is not the previous record's hash.
    BrokenLink,
    /// Its `seq` skips ahead: records are missing before it.
    Gap,
    /// Its `seq` goes back or repeats: records inserted or reordered.
    OutOfSequence,
    /// An anchored checkpoint no longer matches.
    Anchor,
}

/// The first bad record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BadRecord {
    /// Line in the file (1-based).
    pub line: usize,
    /// Its `seq`, when readable.
    pub seq: Option<u64>,
    /// What failed.
    pub failure: Failure,
    /// Explanation.
    pub message: String,
}

/// Result of a verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// Records checked.
    pub records: usize,
    /// Hash of the last good record.
    pub last_hash: Option<String>,
    /// The first bad record (None: the chain is intact).
    pub bad: Option<BadRecord>,
    /// Anchors checked and found.
    pub anchors_matched: usize,
}

/// Verifies a chain file's text against optional anchored checkpoints.
pub fn verify(text: &str, anchors: &[Anchor]) -> Verdict {
    let mut prev = GENESIS.to_string();
    let mut expect_seq = 0u64;
    let mut records = 0;
    let mut seen: Vec<(u64, String)> = Vec::new();
    let mut lines: Vec<usize> = Vec::new();
    let fail =
        |line: usize, seq: Option<u64>, failure: Failure, message: String, n, last| Verdict {
            records: n,
            last_hash: last,
            bad: Some(BadRecord {
                line,
                seq,
                failure,
                message,
            }),
            anchors_matched: 0,
        };
    for (i, line) in text.lines().enumerate() {
        let ln = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let last = (records > 0).then(|| prev.clone());
        let r: ChainRecord = match serde_json::from_str(line) {
            Ok(r) => r,
            Err(e) => {
                return fail(
                    ln,
                    None,
                    Failure::Unreadable,
                    format!("line {ln} is not a chain record: {e}"),
                    records,
                    last,
                );
            }
        };
        let h = record_hash(r.seq, &r.timestamp, &r.meter, r.value, &r.unit, &r.prev);
        if h != r.hash {
            return fail(
                ln,
                Some(r.seq),
                Failure::Altered,
                format!(
                    "record {} (line {ln}) was altered: its content does not hash to its stored hash",
                    r.seq
                ),
                records,
                last,
            );
        }
        if r.seq > expect_seq {
            return fail(
                ln,
                Some(r.seq),
                Failure::Gap,
                format!(
                    "line {ln} holds record {} where record {expect_seq} should be: {} record(s) removed before it, or records reordered",
                    r.seq,
                    r.seq - expect_seq
                ),
                records,
                last,
            );
        }
        if r.seq < expect_seq {
            return fail(
                ln,
                Some(r.seq),
                Failure::OutOfSequence,
                format!(
                    "line {ln} holds record {} again (line {} already did): a record was inserted at or after line {}, or records were reordered",
                    r.seq, lines[r.seq as usize], lines[r.seq as usize]
                ),
                records,
                last,
            );
        }
        if r.prev != prev {
            return fail(
                ln,
                Some(r.seq),
                Failure::BrokenLink,
                format!(
                    "record {} (line {ln}) does not link to the record before it: a record was inserted, removed or altered and re-hashed before it",
                    r.seq
                ),
                records,
                last,
            );
        }
        prev = r.hash.clone();
        seen.push((r.seq, r.hash));
        lines.push(ln);
        expect_seq += 1;
        records += 1;
    }
    let last = (records > 0).then(|| prev.clone());
    let mut matched = 0;
    for a in anchors {
        let ok = match a.seq {
            Some(s) => seen.get(s as usize).is_some_and(|x| x.1 == a.hash),
            None => seen.iter().any(|x| x.1 == a.hash),
        };
        if !ok {
            let msg = match a.seq {
                Some(s) if (s as usize) < seen.len() => format!(
                    "record {s} no longer has the anchored hash {}: the chain was rewritten at or before record {s}",
                    a.hash
                ),
                Some(s) => format!(
                    "the chain has {} records; anchored record {s} is missing (records removed from the end)",
                    seen.len()
                ),
                None => format!(
                    "no record has the anchored hash {}: the chain was rewritten or truncated",
                    a.hash
                ),
            };
            let line = a.seq.map_or(0, |s| s as usize + 1);
            return Verdict {
                records,
                last_hash: last,
                bad: Some(BadRecord {
                    line,
                    seq: a.seq,
                    failure: Failure::Anchor,
                    message: msg,
                }),
                anchors_matched: matched,
            };
        }
        matched += 1;
    }
    Verdict {
        records,
        last_hash: last,
        bad: None,
        anchors_matched: matched,
    }
}
