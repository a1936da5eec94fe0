//! Reading a park file: RON text to the schema, with file:line:column for syntax errors.

use crate::schema::Park;
use ron::extensions::Extensions;
use std::fmt;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// One semantic problem in a park file, named by its item path
/// (for example `units[3] "ct_north".cycles`).
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    /// Item path.
    pub item: String,
    /// Line in the file where the item starts, when it could be found.
    pub line: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "line {l}: {}: {}", self.item, self.message),
            None => write!(f, "{}: {}", self.item, self.message),
        }
    }
}

/// Why a park could not be loaded.
#[derive(Debug, Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("{}: cannot read file", path.display())]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid RON for the schema.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Syntax {
        /// File.
        path: PathBuf,
        /// Line (1-based).
        line: usize,
        /// Column (1-based).
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The park is well-formed but inconsistent; every problem found is listed.
    #[error("{}: {} problem{} found:\n{}", path.display(), problems.len(), if problems.len() == 1 { "" } else { "s" }, list(problems))]
    Invalid {
        /// File.
        path: PathBuf,
        /// The problems.
        problems: Vec<Problem>,
    },
}

fn list(problems: &[Problem]) -> String {
    problems
        .iter()
        .map(|p| format!("  - {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A parsed park file with its text (for locating items) and path (for relative files).
#[derive(Clone, Debug)]
pub struct ParkFile {
    /// The park.
    pub park: Park,
    /// Where it was read from.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

impl ParkFile {
    /// The directory relative files are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Line of the first occurrence of `"id"` (a quoted id) in the text.
    pub fn line_of(&self, id: &str) -> Option<usize> {
        let needle = format!("\"{id}\"");
        let pos = self.text.find(&needle)?;
        Some(self.text[..pos].matches('\n').count() + 1)
    }
}

/// The RON options every park file is read with.
pub fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(
        Extensions::UNWRAP_NEWTYPES
            | Extensions::UNWRAP_VARIANT_NEWTYPES
            | Extensions::IMPLICIT_SOME,
    )
}

/// Parses park text; `path` is used in messages and to resolve relative files.
pub fn from_str(text: &str, path: &Path) -> Result<ParkFile, LoadError> {
    match ron_options().from_str::<Park>(text) {
        Ok(park) => Ok(ParkFile {
            park,
            path: path.to_path_buf(),
            text: text.to_string(),
        }),
        Err(e) => Err(LoadError::Syntax {
            path: path.to_path_buf(),
            line: e.span.start.line,
            column: e.span.start.col,
            message: e.code.to_string(),
        }),
    }
}

/// Reads and parses a park file.
pub fn from_path(path: &Path) -> Result<ParkFile, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    from_str(&text, path)
}
