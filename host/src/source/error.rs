//! Errors reading a segment. Each names the file, and the column where one is at fault.

use std::path::PathBuf;

/// A segment source failure.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A path, glob or directory matched no file of a supported format.
    #[error("{pattern}: no input file found ({detail})")]
    NoFiles {
        /// What the pipeline gave.
        pattern: String,
        /// Why nothing matched.
        detail: String,
    },
    /// The format cannot be told from the file name.
    #[error(
        "{path}: cannot tell the format from the extension; set `source.format` to parquet, csv or arrow"
    )]
    UnknownFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file cannot be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not valid in its format (corrupt Parquet, malformed CSV...).
    #[error("{path}: not a readable {format} file: {message}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Its format.
        format: &'static str,
        /// The decoder's message.
        message: String,
    },
    /// A mapped column is absent from the file.
    #[error(
        "{path}: column `{column}` (mapped to field `{field}`) not found; the file has: {available}"
    )]
    MissingColumn {
        /// The file.
        path: PathBuf,
        /// The column name from the mapping.
        column: String,
        /// The field it was mapped to.
        field: String,
        /// The file's columns.
        available: String,
    },
    /// A mapped column has a type identifiers cannot come in.
    #[error(
        "{path}: column `{column}` (field `{field}`) has type {found}; expected text (or integers)"
    )]
    WrongType {
        /// The file.
        path: PathBuf,
        /// The column.
        column: String,
        /// The field.
        field: String,
        /// The type found.
        found: String,
    },
    /// Reading rows failed part-way.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: PathBuf,
        /// What failed, with the row or column when known.
        message: String,
    },
    /// Object storage failed or refused: no such bucket, nothing matched, access denied...
    /// Never carries credentials.
    #[error("{url}: {message}")]
    Remote {
        /// The object or the pattern, as an `s3://` URL.
        url: String,
        /// What went wrong, and what to do about it when that is known.
        message: String,
    },
}

impl SourceError {
    /// The same error about `path` instead (a downloaded object's temporary file becomes
    /// its URL again).
    pub(crate) fn relabel(self, path: &std::path::Path) -> Self {
        let path = path.to_owned();
        match self {
            SourceError::UnknownFormat { .. } => SourceError::UnknownFormat { path },
            SourceError::Io { source, .. } => SourceError::Io { path, source },
            SourceError::Corrupt {
                format, message, ..
            } => SourceError::Corrupt {
                path,
                format,
                message,
            },
            SourceError::MissingColumn {
                column,
                field,
                available,
                ..
            } => SourceError::MissingColumn {
                path,
                column,
                field,
                available,
            },
            SourceError::WrongType {
                column,
                field,
                found,
                ..
            } => SourceError::WrongType {
                path,
                column,
                field,
                found,
            },
            SourceError::Read { message, .. } => SourceError::Read { path, message },
            other @ (SourceError::NoFiles { .. } | SourceError::Remote { .. }) => other,
        }
    }
}
