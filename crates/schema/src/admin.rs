//! Typed row builder of the `admin` table.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Int32Builder, Int64Builder, RecordBatch, StringBuilder, TimestampMillisecondBuilder,
};

use crate::table::admin_schema;

/// One `admin` row, borrowing its text from the parsed record.
///
/// Field meanings are those of [`crate::ADMIN_COLUMNS`].
#[derive(Debug, Default, Clone)]
#[allow(missing_docs)]
pub struct AdminRow<'a> {
    pub time_ms: i64,
    pub source: &'a str,
    pub tool: Option<&'a str>,
    pub user: Option<&'a str>,
    pub user_raw: Option<&'a str>,
    pub src_ip: Option<&'a str>,
    pub geo_country: Option<&'a str>,
    pub asn: Option<i64>,
    pub session_id: Option<&'a str>,
    pub action: &'a str,
    pub activity_id: i32,
    pub target_type: Option<&'a str>,
    pub target_id: Option<&'a str>,
    pub customer_id: Option<&'a str>,
    pub records: Option<i64>,
    pub bytes: Option<i64>,
    pub outcome: &'a str,
    pub user_agent: Option<&'a str>,
    pub provenance: crate::Provenance<'a>,
}

/// Column builders of the `admin` table; append rows, then [`AdminBuilder::finish`].
pub struct AdminBuilder {
    time: TimestampMillisecondBuilder,
    time_ms: Int64Builder,
    source: StringBuilder,
    tool: StringBuilder,
    user: StringBuilder,
    user_raw: StringBuilder,
    src_ip: StringBuilder,
    geo_country: StringBuilder,
    asn: Int64Builder,
    session_id: StringBuilder,
    action: StringBuilder,
    activity_id: Int32Builder,
    target_type: StringBuilder,
    target_id: StringBuilder,
    customer_id: StringBuilder,
    records: Int64Builder,
    bytes: Int64Builder,
    outcome: StringBuilder,
    user_agent: StringBuilder,
    file: StringBuilder,
    line: Int64Builder,
    raw: StringBuilder,
    rows: usize,
    door: crate::Door,
    nulled: u64,
}

fn strings(rows: usize, bytes_per_row: usize) -> StringBuilder {
    StringBuilder::with_capacity(rows, rows * bytes_per_row)
}

impl AdminBuilder {
    /// Builders sized for `rows` rows.
    #[must_use]
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            time: TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC"),
            time_ms: Int64Builder::with_capacity(rows),
            source: strings(rows, 11),
            tool: strings(rows, 16),
            user: strings(rows, 24),
            user_raw: strings(rows, 24),
            src_ip: strings(rows, 15),
            geo_country: strings(rows, 2),
            asn: Int64Builder::with_capacity(rows),
            session_id: strings(rows, 16),
            action: strings(rows, 16),
            activity_id: Int32Builder::with_capacity(rows),
            target_type: strings(rows, 8),
            target_id: strings(rows, 8),
            customer_id: strings(rows, 8),
            records: Int64Builder::with_capacity(rows),
            bytes: Int64Builder::with_capacity(rows),
            outcome: strings(rows, 7),
            user_agent: strings(rows, 100),
            file: strings(rows, 32),
            line: Int64Builder::with_capacity(rows),
            raw: strings(rows, 0),
            rows: 0,
            door: crate::Door::default(),
            nulled: 0,
        }
    }

    /// Check row times against `door` (see [`crate::Door`]).
    #[must_use]
    pub fn with_door(mut self, door: crate::Door) -> Self {
        self.door = door;
        self
    }

    /// Values stored as null because they were not valid (addresses that are not IP
    /// addresses, coordinates off the globe) since the last call.
    pub fn take_nulled(&mut self) -> u64 {
        std::mem::take(&mut self.nulled)
    }

    /// Rows appended so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row was appended.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Append one row, its values checked at the door: a time outside the window is
    /// refused, an invalid address or coordinate is stored as null (and counted).
    ///
    /// # Errors
    /// The row's time is outside the door's window; nothing is appended then.
    pub fn append(&mut self, r: &AdminRow<'_>) -> Result<(), String> {
        self.door.check_time(r.time_ms)?;
        self.time.append_value(r.time_ms);
        self.time_ms.append_value(r.time_ms);
        self.source.append_value(r.source);
        self.tool.append_option(r.tool);
        self.user.append_option(r.user);
        self.user_raw.append_option(r.user_raw);
        self.src_ip
            .append_option(crate::door::address(r.src_ip, &mut self.nulled));
        self.geo_country.append_option(r.geo_country);
        self.asn.append_option(r.asn);
        self.session_id.append_option(r.session_id);
        self.action.append_value(r.action);
        self.activity_id.append_value(r.activity_id);
        self.target_type.append_option(r.target_type);
        self.target_id.append_option(r.target_id);
        self.customer_id.append_option(r.customer_id);
        self.records.append_option(r.records);
        self.bytes.append_option(r.bytes);
        self.outcome.append_value(r.outcome);
        self.user_agent.append_option(r.user_agent);
        self.file.append_value(r.provenance.file);
        self.line.append_value(r.provenance.line);
        self.raw.append_option(r.provenance.raw);
        self.rows += 1;
        Ok(())
    }

    /// The rows as a batch of [`admin_schema`]; the builder is left empty.
    #[must_use]
    pub fn finish(&mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish()),
            Arc::new(self.time_ms.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.tool.finish()),
            Arc::new(self.user.finish()),
            Arc::new(self.user_raw.finish()),
            Arc::new(self.src_ip.finish()),
            Arc::new(self.geo_country.finish()),
            Arc::new(self.asn.finish()),
            Arc::new(self.session_id.finish()),
            Arc::new(self.action.finish()),
            Arc::new(self.activity_id.finish()),
            Arc::new(self.target_type.finish()),
            Arc::new(self.target_id.finish()),
            Arc::new(self.customer_id.finish()),
            Arc::new(self.records.finish()),
            Arc::new(self.bytes.finish()),
            Arc::new(self.outcome.finish()),
            Arc::new(self.user_agent.finish()),
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.raw.finish()),
        ];
        self.rows = 0;
        RecordBatch::try_new(admin_schema(), columns)
            .expect("the builders follow ADMIN_COLUMNS one to one")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_becomes_a_batch_of_the_admin_schema() {
        let mut b = AdminBuilder::with_capacity(2);
        b.append(&AdminRow {
            time_ms: 1_659_607_953_000,
            source: "admin-audit",
            user: Some("jdoe@example.com"),
            action: "customer.export",
            activity_id: 7,
            records: Some(1200),
            outcome: "success",
            ..AdminRow::default()
        })
        .unwrap();
        let batch = b.finish();
        assert_eq!(batch.num_rows(), 1);
        assert_eq!(batch.schema(), admin_schema());
        assert!(b.is_empty());
    }
}
