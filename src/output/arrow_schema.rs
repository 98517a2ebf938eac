//! The Arrow schema each Parquet output records (the `ARROW:schema` key of the file
//! metadata, which Arrow readers use to choose their types).
//!
//! The schema is polars' own at the oldest compatibility level (strings `LargeUtf8`, lists
//! `LargeList` of `element`, dates `Date32`), with one change: the `period` column is
//! `Utf8`. The period folders are hive partitions (`period=<label>`), and pyarrow's
//! `partitioning="hive"` infers the partition column as `string` (`Utf8`); a `period`
//! column of another type in the files is a conflict it refuses ("Unable to merge: Field
//! period has incompatible types: large_string vs string"). Polars cannot write a `Utf8`
//! column itself, but the Parquet data are the same bytes either way (a UTF-8
//! `BYTE_ARRAY`): only the recorded hint differs, so it is encoded here and handed to the
//! writer, which then records it instead of its own.

use std::sync::Arc;

use arrow_schema::{DataType as ArrowType, Field, Schema as ArrowSchemaRs};
use base64::Engine as _;
use polars::prelude::{DataType, KeyValueMetadata, Schema};

use crate::schema::col;

/// The metadata key Arrow readers look for.
const ARROW_SCHEMA_KEY: &str = "ARROW:schema";

/// The Arrow type recorded for a column of polars type `dtype`, or `None` for a type the
/// outputs never have ([`super::check_bi_types`] refuses them first).
fn arrow_type(name: &str, dtype: &DataType) -> Option<ArrowType> {
    Some(match dtype {
        DataType::Boolean => ArrowType::Boolean,
        DataType::Int32 => ArrowType::Int32,
        DataType::Int64 => ArrowType::Int64,
        DataType::Float64 => ArrowType::Float64,
        DataType::Date => ArrowType::Date32,
        DataType::String if name == col::PERIOD => ArrowType::Utf8,
        DataType::String => ArrowType::LargeUtf8,
        DataType::List(inner) if matches!(**inner, DataType::String) => {
            ArrowType::LargeList(Arc::new(Field::new("element", ArrowType::LargeUtf8, true)))
        }
        _ => return None,
    })
}

/// The file metadata recording the Arrow schema of a frame of `schema` (see the module
/// header); `None` when a column has a type outside [`arrow_type`], in which case the
/// writer records its own.
pub(super) fn arrow_schema_metadata(schema: &Schema) -> Option<KeyValueMetadata> {
    let fields = schema
        .iter()
        .map(|(name, dtype)| arrow_type(name, dtype).map(|t| Field::new(name.as_str(), t, true)))
        .collect::<Option<Vec<_>>>()?;
    Some(KeyValueMetadata::from_static(vec![(
        ARROW_SCHEMA_KEY.to_string(),
        encode(&ArrowSchemaRs::new(fields)),
    )]))
}

/// The schema as Arrow writers record it in Parquet: a legacy IPC message (continuation
/// marker, little-endian length, the flatbuffer), base64 (as arrow-rs's
/// `parquet::arrow::encode_arrow_schema` and polars' `schema_to_metadata_key`).
fn encode(schema: &ArrowSchemaRs) -> String {
    use arrow_ipc::writer::{DictionaryTracker, IpcDataGenerator, IpcWriteOptions};
    let mut tracker = DictionaryTracker::new(true);
    let message = IpcDataGenerator::default()
        .schema_to_bytes_with_dictionary_tracker(schema, &mut tracker, &IpcWriteOptions::default())
        .ipc_message;
    let mut bytes = Vec::with_capacity(message.len() + 8);
    bytes.extend_from_slice(&[255u8; 4]);
    bytes.extend_from_slice(&(message.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&message);
    base64::engine::general_purpose::STANDARD.encode(&bytes)
}
