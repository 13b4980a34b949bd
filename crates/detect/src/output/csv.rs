//! CSV with a header, through `arrow-csv` (quoting where a field needs it, times in
//! RFC 3339, nulls empty).

use std::io::Write;

use arrow::array::RecordBatch;

/// Batches as CSV, one header.
///
/// # Errors
/// Writing fails.
pub fn batches(out: &mut dyn Write, batches: &[RecordBatch]) -> Result<(), super::OutputError> {
    let mut w = arrow_csv::WriterBuilder::new()
        .with_header(true)
        .build(&mut *out);
    for b in batches {
        w.write(b)?;
    }
    Ok(())
}
