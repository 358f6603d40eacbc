//! Choosing, checking and renaming the identifier columns of each file.

use std::path::Path;
use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};

use super::SourceError;

/// Which source column feeds which plugin field, e.g. `email` <- `email_address`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ColumnMapping {
    entries: Vec<(String, String)>,
}

impl ColumnMapping {
    /// A mapping from `(field, column)` pairs, in output order.
    pub fn new(entries: Vec<(String, String)>) -> Self {
        Self { entries }
    }

    /// The output field names.
    pub fn output_fields(&self) -> Vec<String> {
        self.entries.iter().map(|(f, _)| f.clone()).collect()
    }

    /// The source column names.
    pub fn columns(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(_, c)| c.as_str())
    }

    /// Checks a file's schema and prepares the projection.
    pub fn project(&self, path: &Path, schema: &Schema) -> Result<Projection, SourceError> {
        let mut indices = Vec::with_capacity(self.entries.len());
        for (field, column) in &self.entries {
            let Ok(index) = schema.index_of(column) else {
                return Err(SourceError::MissingColumn {
                    path: path.to_owned(),
                    column: column.clone(),
                    field: field.clone(),
                    available: schema
                        .fields()
                        .iter()
                        .map(|f| f.name().as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            let data_type = schema.field(index).data_type();
            if output_type(data_type).is_none() {
                return Err(SourceError::WrongType {
                    path: path.to_owned(),
                    column: column.clone(),
                    field: field.clone(),
                    found: data_type.to_string(),
                });
            }
            indices.push(index);
        }
        let output = Arc::new(Schema::new(
            self.entries
                .iter()
                .zip(&indices)
                .map(|((field, _), &i)| {
                    let dt = output_type(schema.field(i).data_type()).unwrap_or(DataType::Utf8);
                    Field::new(field, dt, true)
                })
                .collect::<Vec<_>>(),
        ));
        Ok(Projection {
            columns: self.entries.iter().map(|(_, c)| c.clone()).collect(),
            indices,
            output,
        })
    }
}

/// The type a column is handed to plugins as: text as Utf8, integers (phones stored as
/// numbers) as Int64, anything else refused.
fn output_type(dt: &DataType) -> Option<DataType> {
    match dt {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Some(DataType::Utf8),
        DataType::Dictionary(_, value) if output_type(value) == Some(DataType::Utf8) => {
            Some(DataType::Utf8)
        }
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => Some(DataType::Int64),
        DataType::Null => Some(DataType::Utf8),
        _ => None,
    }
}

/// A checked projection of one file's columns.
#[derive(Debug, Clone)]
pub struct Projection {
    columns: Vec<String>,
    indices: Vec<usize>,
    output: SchemaRef,
}

impl Projection {
    /// The file's column indices to read, sorted and unique (as Parquet projection wants).
    pub fn read_indices(&self) -> Vec<usize> {
        let mut v = self.indices.clone();
        v.sort_unstable();
        v.dedup();
        v
    }

    /// All file column indices in mapping order.
    pub fn indices(&self) -> &[usize] {
        &self.indices
    }

    /// Each mapped column as (field, source column name, file column index), in mapping order.
    pub fn mapped(&self) -> impl Iterator<Item = (&str, &str, usize)> {
        self.output
            .fields()
            .iter()
            .zip(&self.columns)
            .zip(&self.indices)
            .map(|((field, column), &index)| (field.name().as_str(), column.as_str(), index))
    }

    /// Builds the output batch (fields renamed, types unified) from a batch that has the
    /// mapped columns under their source names.
    pub fn apply(&self, path: &Path, batch: &RecordBatch) -> Result<RecordBatch, SourceError> {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for (column, field) in self.columns.iter().zip(self.output.fields()) {
            let array = batch
                .column_by_name(column)
                .ok_or_else(|| SourceError::Read {
                    path: path.to_owned(),
                    message: format!("column `{column}` vanished from a batch"),
                })?;
            let array = if array.data_type() == field.data_type() {
                array.clone()
            } else {
                arrow_cast::cast(array, field.data_type()).map_err(|e| SourceError::Read {
                    path: path.to_owned(),
                    message: format!(
                        "column `{column}`: cannot convert to {}: {e}",
                        field.data_type()
                    ),
                })?
            };
            arrays.push(array);
        }
        RecordBatch::try_new(self.output.clone(), arrays).map_err(|e| SourceError::Read {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Float64Array, Int32Array, StringArray};

    fn mapping() -> ColumnMapping {
        ColumnMapping::new(vec![
            ("email".into(), "mail".into()),
            ("phone".into(), "tel".into()),
        ])
    }

    #[test]
    fn renames_and_casts() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("other", DataType::Float64, true),
            Field::new("tel", DataType::Int32, true),
            Field::new("mail", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Float64Array::from(vec![1.0])),
                Arc::new(Int32Array::from(vec![5])),
                Arc::new(StringArray::from(vec!["a@b.c"])),
            ],
        )
        .expect("batch");
        let p = mapping()
            .project(Path::new("f.parquet"), &schema)
            .expect("projection");
        assert_eq!(p.read_indices(), vec![1, 2]);
        let out = p.apply(Path::new("f.parquet"), &batch).expect("apply");
        assert_eq!(out.schema().field(0).name(), "email");
        assert_eq!(out.schema().field(1).data_type(), &DataType::Int64);
    }

    #[test]
    fn missing_and_mistyped_columns_name_file_and_column() {
        let schema = Schema::new(vec![Field::new("mail", DataType::Utf8, true)]);
        let e = mapping()
            .project(Path::new("seg.csv"), &schema)
            .expect_err("missing");
        let text = e.to_string();
        assert!(
            text.contains("seg.csv") && text.contains("`tel`") && text.contains("phone"),
            "{text}"
        );

        let schema = Schema::new(vec![
            Field::new("mail", DataType::Float64, true),
            Field::new("tel", DataType::Utf8, true),
        ]);
        let e = mapping()
            .project(Path::new("seg.parquet"), &schema)
            .expect_err("type");
        let text = e.to_string();
        assert!(
            text.contains("`mail`") && text.contains("Float64"),
            "{text}"
        );
    }
}
