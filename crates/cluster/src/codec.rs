//! How midgame's own table providers travel from the client to the scheduler.
//!
//! DataFusion serializes listing tables and views itself; anything else is asked of the
//! session's extension codec. midgame's in-memory tables (the allow-list, a
//! materialised view, the empty table of a source never ingested) travel here, as their
//! rows in Arrow IPC. (A clustered lake's tables go to a cluster as listing tables: see
//! [`crate::client`].) Everything else is Ballista's own codec's business.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use arrow::record_batch::RecordBatch;
use ballista_core::serde::BallistaLogicalExtensionCodec;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::datasource::MemTable;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF, WindowUDF};
use datafusion_proto::logical_plan::LogicalExtensionCodec;

/// First byte of an in-memory table's encoding.
const MEMORY: u8 = b'M';

/// Ballista's logical codec, plus in-memory tables.
#[derive(Debug, Default)]
pub struct MidgameCodec {
    inner: BallistaLogicalExtensionCodec,
}

fn internal(what: &str, e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("midgame codec: {what}: {e}"))
}

fn encode_memory(table: &MemTable, buf: &mut Vec<u8>) -> Result<()> {
    let schema = table.schema();
    let mut rows: Vec<RecordBatch> = Vec::new();
    for partition in &table.batches {
        let batches = partition
            .try_read()
            .map_err(|e| internal("an in-memory table is being written", e))?;
        rows.extend(batches.iter().cloned());
    }
    buf.push(MEMORY);
    let mut writer = StreamWriter::try_new(&mut *buf, &schema)?;
    for batch in &rows {
        writer.write(batch)?;
    }
    writer.finish()?;
    Ok(())
}

fn decode_memory(bytes: &[u8], schema: SchemaRef) -> Result<Arc<dyn TableProvider>> {
    let reader = StreamReader::try_new(std::io::Cursor::new(bytes), None)?;
    let batches = reader.collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Arc::new(MemTable::try_new(schema, vec![batches])?))
}

impl LogicalExtensionCodec for MidgameCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        match buf.split_first() {
            Some((&MEMORY, rest)) => decode_memory(rest, schema),
            _ => self
                .inner
                .try_decode_table_provider(buf, table_ref, schema, ctx),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(t) = node.downcast_ref::<MemTable>() {
            return encode_memory(t, buf);
        }
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        self.inner.try_decode_udf(name, buf)
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udf(node, buf)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        self.inner.try_decode_udaf(name, buf)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udaf(node, buf)
    }

    fn try_decode_udwf(&self, name: &str, buf: &[u8]) -> Result<Arc<WindowUDF>> {
        self.inner.try_decode_udwf(name, buf)
    }

    fn try_encode_udwf(&self, node: &WindowUDF, buf: &mut Vec<u8>) -> Result<()> {
        self.inner.try_encode_udwf(node, buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    fn table() -> (SchemaRef, MemTable) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("ip", DataType::Utf8, false),
            Field::new("n", DataType::Int64, true),
        ]));
        let batch = |ips: Vec<&str>, ns: Vec<Option<i64>>| {
            RecordBatch::try_new(
                Arc::clone(&schema),
                vec![
                    Arc::new(StringArray::from(ips)),
                    Arc::new(Int64Array::from(ns)),
                ],
            )
            .unwrap()
        };
        let t = MemTable::try_new(
            Arc::clone(&schema),
            vec![
                vec![batch(vec!["10.0.0.1", "10.0.0.2"], vec![Some(1), None])],
                vec![batch(vec!["198.51.100.7"], vec![Some(3)])],
            ],
        )
        .unwrap();
        (schema, t)
    }

    #[test]
    fn an_in_memory_table_travels_with_its_rows() {
        let (schema, t) = table();
        let codec = MidgameCodec::default();
        let mut buf = Vec::new();
        codec
            .try_encode_table_provider(
                &TableReference::bare("allowlisted_ip"),
                Arc::new(t),
                &mut buf,
            )
            .unwrap();
        assert_eq!(buf[0], MEMORY);
        let ctx = TaskContext::default();
        let back = codec
            .try_decode_table_provider(
                &buf,
                &TableReference::bare("allowlisted_ip"),
                Arc::clone(&schema),
                &ctx,
            )
            .unwrap();
        let back = back.downcast_ref::<MemTable>().unwrap();
        let rows: Vec<RecordBatch> = back
            .batches
            .iter()
            .flat_map(|p| p.try_read().unwrap().clone())
            .collect();
        let all = arrow::compute::concat_batches(&schema, &rows).unwrap();
        assert_eq!(all.num_rows(), 3);
        let ips = all
            .column(0)
            .as_any()
            .downcast_ref::<StringArray>()
            .unwrap();
        assert_eq!(ips.value(2), "198.51.100.7");
        let ns = all.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        assert!(ns.is_null(1));
        assert_eq!(ns.value(2), 3);
    }

    #[test]
    fn an_empty_in_memory_table_keeps_its_columns() {
        let (schema, _) = table();
        let empty = MemTable::try_new(Arc::clone(&schema), vec![vec![]]).unwrap();
        let codec = MidgameCodec::default();
        let mut buf = Vec::new();
        codec
            .try_encode_table_provider(&TableReference::bare("t"), Arc::new(empty), &mut buf)
            .unwrap();
        let back = codec
            .try_decode_table_provider(
                &buf,
                &TableReference::bare("t"),
                Arc::clone(&schema),
                &TaskContext::default(),
            )
            .unwrap();
        assert_eq!(back.schema(), schema);
        let back = back.downcast_ref::<MemTable>().unwrap();
        assert!(
            back.batches
                .iter()
                .all(|p| p.try_read().unwrap().is_empty())
        );
    }

    #[test]
    fn other_providers_are_left_to_ballista() {
        // A view is serialized by DataFusion itself; asked of the codec, it is refused
        // (by Ballista's codec, not taken for an in-memory table).
        let codec = MidgameCodec::default();
        let (schema, _) = table();
        let empty = datafusion::datasource::empty::EmptyTable::new(schema);
        let mut buf = Vec::new();
        assert!(
            codec
                .try_encode_table_provider(&TableReference::bare("t"), Arc::new(empty), &mut buf)
                .is_err()
        );
        assert!(buf.is_empty());
    }
}
