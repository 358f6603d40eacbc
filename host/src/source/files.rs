//! Turning the pipeline's `source.path` (a file, a glob or a directory) into files.

use std::path::{Path, PathBuf};

use super::SourceError;

/// A supported file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Apache Parquet.
    Parquet,
    /// CSV with a header row.
    Csv,
    /// Arrow IPC (file or stream).
    Arrow,
}

impl Format {
    /// The format a file name suggests.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "parquet" | "pq" => Some(Format::Parquet),
            "csv" => Some(Format::Csv),
            "arrow" | "ipc" | "feather" | "arrows" => Some(Format::Arrow),
            _ => None,
        }
    }

    /// Name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "Parquet",
            Format::Csv => "CSV",
            Format::Arrow => "Arrow IPC",
        }
    }
}

/// Expands `pattern` (relative paths against `base`) to a sorted list of files and their
/// format. A directory yields its files of a supported format; a glob its matches.
pub fn expand(
    pattern: &str,
    base: &Path,
    format: Option<Format>,
) -> Result<(Vec<PathBuf>, Format), SourceError> {
    let joined = if Path::new(pattern).is_absolute() {
        PathBuf::from(pattern)
    } else {
        base.join(pattern)
    };
    let no_files = |detail: String| SourceError::NoFiles {
        pattern: pattern.to_owned(),
        detail,
    };

    let mut files: Vec<PathBuf> = if pattern.contains(['*', '?', '[']) {
        let text = joined.to_string_lossy().into_owned();
        let paths = glob::glob(&text).map_err(|e| no_files(format!("invalid glob: {e}")))?;
        paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect()
    } else if joined.is_dir() {
        let entries = std::fs::read_dir(&joined).map_err(|source| SourceError::Io {
            path: joined.clone(),
            source,
        })?;
        entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .filter(|p| match format {
                Some(f) => Format::from_path(p) == Some(f),
                None => Format::from_path(p).is_some(),
            })
            .collect()
    } else if joined.is_file() {
        vec![joined.clone()]
    } else {
        return Err(SourceError::Io {
            path: joined,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
        });
    };
    files.sort();

    let first = files
        .first()
        .ok_or_else(|| no_files(format!("nothing matched {}", joined.display())))?;
    let format = match format {
        Some(f) => f,
        None => Format::from_path(first).ok_or_else(|| SourceError::UnknownFormat {
            path: first.clone(),
        })?,
    };
    if let Some(other) = files
        .iter()
        .find(|p| Format::from_path(p).is_some_and(|f| f != format))
    {
        return Err(no_files(format!(
            "{} is not {} like the other files; keep one format per source",
            other.display(),
            format.name()
        )));
    }
    Ok((files, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_glob_and_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        for name in ["b.parquet", "a.parquet", "notes.txt"] {
            std::fs::write(dir.path().join(name), b"x").expect("write");
        }
        let (files, format) = expand(".", dir.path(), None).expect("dir");
        assert_eq!(format, Format::Parquet);
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().expect("name").to_owned())
            .collect();
        assert_eq!(names, ["a.parquet", "b.parquet"]);

        let (files, _) = expand("*.parquet", dir.path(), None).expect("glob");
        assert_eq!(files.len(), 2);

        let (files, _) = expand("a.parquet", dir.path(), None).expect("file");
        assert_eq!(files.len(), 1);
    }

    #[test]
    fn missing_and_empty_are_errors_naming_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = expand("nope.csv", dir.path(), None).expect_err("missing");
        assert!(e.to_string().contains("nope.csv"), "{e}");
        let e = expand("*.csv", dir.path(), None).expect_err("empty glob");
        assert!(e.to_string().contains("*.csv"), "{e}");
        std::fs::write(dir.path().join("data.bin"), b"x").expect("write");
        let e = expand("data.bin", dir.path(), None).expect_err("unknown format");
        assert!(e.to_string().contains("source.format"), "{e}");
    }
}
