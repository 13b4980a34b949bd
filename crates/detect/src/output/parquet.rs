//! A Parquet file, zstd-compressed.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;

/// Batches of `schema` as the bytes of one Parquet file.
///
/// # Errors
/// A batch does not match the schema.
pub fn to_bytes(
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<Vec<u8>, super::OutputError> {
    with_metadata(schema, batches, Vec::new())
}

/// [`to_bytes`] with key-value metadata in the file footer.
///
/// # Errors
/// A batch does not match the schema.
pub fn with_metadata(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    metadata: Vec<KeyValue>,
) -> Result<Vec<u8>, super::OutputError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("3 is a valid zstd level"),
        ))
        .set_key_value_metadata((!metadata.is_empty()).then_some(metadata))
        .build();
    let mut bytes = Vec::new();
    let mut w = ArrowWriter::try_new(&mut bytes, schema.clone(), Some(props))?;
    for b in batches {
        w.write(b)?;
    }
    w.close()?;
    Ok(bytes)
}
