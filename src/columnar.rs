//! Time series as one Parquet file per run, in long (tidy) form: one row per step, item and
//! variable, typed columns, Snappy-compressed, dictionary-encoded strings.
//!
//! ```text
//! step      INT64                       0, 1, 2, …
//! time      INT64 TIMESTAMP(MILLIS)     local time of the step's start (no time zone)
//! item_kind STRING                      "unit", "link" or "park"
//! item      STRING                      unit id, link id ("from->to"), or "park"
//! variable  STRING                      "flow_m3_per_h", "unmet_m3_per_h", "volume_m3",
//!                                       "<species>_mg_per_l", park columns (see observe.rs)
//! value     DOUBLE
//! ```
//!
//! Long form is what pandas, polars and DuckDB filter and pivot directly, and it holds units,
//! links and park series with different variables in one file:
//!
//! ```text
//! duckdb:  SELECT time, value FROM 'series.parquet'
//!          WHERE item = 'steel_ct' AND variable = 'tds_mg_per_l';
//!          PIVOT (FROM 'series.parquet' WHERE item_kind = 'unit') ON variable USING first(value)
//!          GROUP BY time, item;
//! polars:  pl.read_parquet("series.parquet").filter(pl.col("item_kind") == "link")
//!            .pivot(on="item", index="time", values="value")
//! pandas:  pd.read_parquet("series.parquet").pivot_table(index=["time", "item"],
//!            columns="variable", values="value")
//! ```
//!
//! Rows are ordered by item kind (units, links, park), item (declaration order), variable,
//! then step; a row group holds at most one million rows.

use anyhow::Result;
use parquet::basic::Compression;
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::sync::Arc;

/// The Parquet schema of the series file.
pub const SCHEMA: &str = "message parktwin_series {
    REQUIRED INT64 step;
    REQUIRED INT64 time (TIMESTAMP(MILLIS, false));
    REQUIRED BYTE_ARRAY item_kind (STRING);
    REQUIRED BYTE_ARRAY item (STRING);
    REQUIRED BYTE_ARRAY variable (STRING);
    REQUIRED DOUBLE value;
}";

const ROW_GROUP: usize = 1_000_000;

/// Builds the long table and writes it as Parquet bytes.
pub struct LongWriter {
    writer: SerializedFileWriter<Vec<u8>>,
    step: Vec<i64>,
    time: Vec<i64>,
    kind: Vec<ByteArray>,
    item: Vec<ByteArray>,
    variable: Vec<ByteArray>,
    value: Vec<f64>,
}

impl LongWriter {
    /// A new writer.
    pub fn new() -> Result<Self> {
        let schema = Arc::new(parse_message_type(SCHEMA)?);
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_dictionary_enabled(true)
            .set_created_by(format!("parktwin {}", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Self {
            writer: SerializedFileWriter::new(Vec::new(), schema, Arc::new(props))?,
            step: Vec::new(),
            time: Vec::new(),
            kind: Vec::new(),
            item: Vec::new(),
            variable: Vec::new(),
            value: Vec::new(),
        })
    }

    /// Appends one series: `values[k]` is step `k`, at `times[k]` (ms).
    pub fn series(
        &mut self,
        kind: &str,
        item: &str,
        variable: &str,
        times: &[i64],
        values: impl Iterator<Item = f64>,
    ) -> Result<()> {
        let (k, i, v) = (
            ByteArray::from(kind),
            ByteArray::from(item),
            ByteArray::from(variable),
        );
        for (step, x) in values.enumerate() {
            self.step.push(step as i64);
            self.time.push(times[step]);
            self.kind.push(k.clone());
            self.item.push(i.clone());
            self.variable.push(v.clone());
            self.value.push(x);
            if self.step.len() >= ROW_GROUP {
                self.flush()?;
            }
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.step.is_empty() {
            return Ok(());
        }
        let mut rg = self.writer.next_row_group()?;
        let mut c = 0;
        while let Some(mut col) = rg.next_column()? {
            match c {
                0 => {
                    col.typed::<Int64Type>()
                        .write_batch(&self.step, None, None)?;
                }
                1 => {
                    col.typed::<Int64Type>()
                        .write_batch(&self.time, None, None)?;
                }
                2 => {
                    col.typed::<ByteArrayType>()
                        .write_batch(&self.kind, None, None)?;
                }
                3 => {
                    col.typed::<ByteArrayType>()
                        .write_batch(&self.item, None, None)?;
                }
                4 => {
                    col.typed::<ByteArrayType>()
                        .write_batch(&self.variable, None, None)?;
                }
                _ => {
                    col.typed::<DoubleType>()
                        .write_batch(&self.value, None, None)?;
                }
            }
            col.close()?;
            c += 1;
        }
        rg.close()?;
        self.step.clear();
        self.time.clear();
        self.kind.clear();
        self.item.clear();
        self.variable.clear();
        self.value.clear();
        Ok(())
    }

    /// Finishes the file and returns its bytes.
    pub fn finish(mut self) -> Result<Vec<u8>> {
        self.flush()?;
        Ok(self.writer.into_inner()?)
    }
}
