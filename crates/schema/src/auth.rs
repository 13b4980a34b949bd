//! Typed row builder of the `auth` table.

use std::sync::{Arc, OnceLock};

use arrow::array::{
    ArrayRef, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, RecordBatch,
    StringBuilder, TimestampMillisecondBuilder,
};
use arrow::datatypes::SchemaRef;

/// The Arrow schema of the `auth` table (shared, built once).
#[must_use]
pub fn auth_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(crate::table::auth_schema_uncached)
        .clone()
}

/// One `auth` row, borrowing its text from the parsed record.
///
/// Field meanings are those of [`crate::AUTH_COLUMNS`].
#[derive(Debug, Default, Clone)]
#[allow(missing_docs)]
pub struct AuthRow<'a> {
    pub time_ms: i64,
    /// Not a column: when the device's local time occurred twice (the hour a clock goes
    /// back), its later reading; the builder keeps it for ingest to choose by file order.
    pub time_later_ms: Option<i64>,
    pub source: &'a str,
    pub class_uid: i32,
    pub activity_id: i32,
    pub event_type: &'a str,
    pub activity: &'a str,
    pub outcome: &'a str,
    pub status_detail: Option<&'a str>,
    pub user: Option<&'a str>,
    pub user_raw: Option<&'a str>,
    pub src_ip: Option<&'a str>,
    pub geo_lat: Option<f64>,
    pub geo_lon: Option<f64>,
    pub geo_accuracy_km: Option<f64>,
    pub geo_city: Option<&'a str>,
    pub geo_country: Option<&'a str>,
    pub asn: Option<i64>,
    pub as_org: Option<&'a str>,
    pub is_proxy: Option<bool>,
    pub device_id: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub os: Option<&'a str>,
    pub browser: Option<&'a str>,
    pub app: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub is_mfa: Option<bool>,
    pub mfa_factor: Option<&'a str>,
    pub behaviors: Option<&'a str>,
    pub bytes_in: Option<i64>,
    pub bytes_out: Option<i64>,
    pub duration_s: Option<i64>,
    pub provenance: crate::Provenance<'a>,
}

/// Column builders of the `auth` table; append rows, then [`AuthBuilder::finish`].
#[allow(missing_docs)]
pub struct AuthBuilder {
    time: TimestampMillisecondBuilder,
    time_ms: Int64Builder,
    source: StringBuilder,
    class_uid: Int32Builder,
    activity_id: Int32Builder,
    event_type: StringBuilder,
    activity: StringBuilder,
    outcome: StringBuilder,
    status_detail: StringBuilder,
    user: StringBuilder,
    user_raw: StringBuilder,
    src_ip: StringBuilder,
    geo_lat: Float64Builder,
    geo_lon: Float64Builder,
    geo_accuracy_km: Float64Builder,
    geo_city: StringBuilder,
    geo_country: StringBuilder,
    asn: Int64Builder,
    as_org: StringBuilder,
    is_proxy: BooleanBuilder,
    device_id: StringBuilder,
    user_agent: StringBuilder,
    os: StringBuilder,
    browser: StringBuilder,
    app: StringBuilder,
    session_id: StringBuilder,
    is_mfa: BooleanBuilder,
    mfa_factor: StringBuilder,
    behaviors: StringBuilder,
    bytes_in: Int64Builder,
    bytes_out: Int64Builder,
    duration_s: Int64Builder,
    file: StringBuilder,
    line: Int64Builder,
    raw: StringBuilder,
    rows: usize,
    door: crate::Door,
    nulled: u64,
    ambiguous: Vec<(usize, i64)>,
}

fn strings(rows: usize, bytes_per_row: usize) -> StringBuilder {
    StringBuilder::with_capacity(rows, rows * bytes_per_row)
}

impl AuthBuilder {
    /// Builders sized for `rows` rows.
    #[must_use]
    pub fn with_capacity(rows: usize) -> Self {
        Self {
            time: TimestampMillisecondBuilder::with_capacity(rows).with_timezone("UTC"),
            time_ms: Int64Builder::with_capacity(rows),
            source: strings(rows, 8),
            class_uid: Int32Builder::with_capacity(rows),
            activity_id: Int32Builder::with_capacity(rows),
            event_type: strings(rows, 32),
            activity: strings(rows, 12),
            outcome: strings(rows, 8),
            status_detail: strings(rows, 8),
            user: strings(rows, 24),
            user_raw: strings(rows, 24),
            src_ip: strings(rows, 15),
            geo_lat: Float64Builder::with_capacity(rows),
            geo_lon: Float64Builder::with_capacity(rows),
            geo_accuracy_km: Float64Builder::with_capacity(rows),
            geo_city: strings(rows, 10),
            geo_country: strings(rows, 2),
            asn: Int64Builder::with_capacity(rows),
            as_org: strings(rows, 16),
            is_proxy: BooleanBuilder::with_capacity(rows),
            device_id: strings(rows, 32),
            user_agent: strings(rows, 120),
            os: strings(rows, 8),
            browser: strings(rows, 8),
            app: strings(rows, 12),
            session_id: strings(rows, 24),
            is_mfa: BooleanBuilder::with_capacity(rows),
            mfa_factor: strings(rows, 8),
            behaviors: strings(rows, 32),
            bytes_in: Int64Builder::with_capacity(rows),
            bytes_out: Int64Builder::with_capacity(rows),
            duration_s: Int64Builder::with_capacity(rows),
            file: strings(rows, 32),
            line: Int64Builder::with_capacity(rows),
            raw: strings(rows, 0),
            rows: 0,
            door: crate::Door::default(),
            nulled: 0,
            ambiguous: Vec::new(),
        }
    }

    /// Rows (by position since the last [`AuthBuilder::finish`]) whose time occurred
    /// twice on the device's clock, with the later reading; emptied by the call.
    pub fn take_ambiguous(&mut self) -> Vec<(usize, i64)> {
        std::mem::take(&mut self.ambiguous)
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
    pub fn append(&mut self, r: &AuthRow<'_>) -> Result<(), String> {
        self.door.check_time(r.time_ms)?;
        if let Some(later) = r.time_later_ms {
            self.ambiguous.push((self.rows, later));
        }
        self.time.append_value(r.time_ms);
        self.time_ms.append_value(r.time_ms);
        self.source.append_value(r.source);
        self.class_uid.append_value(r.class_uid);
        self.activity_id.append_value(r.activity_id);
        self.event_type.append_value(r.event_type);
        self.activity.append_value(r.activity);
        self.outcome.append_value(r.outcome);
        self.status_detail.append_option(r.status_detail);
        self.user.append_option(r.user);
        self.user_raw.append_option(r.user_raw);
        self.src_ip
            .append_option(crate::door::address(r.src_ip, &mut self.nulled));
        let (lat, lon) = crate::door::coordinates(r.geo_lat, r.geo_lon, &mut self.nulled);
        self.geo_lat.append_option(lat);
        self.geo_lon.append_option(lon);
        self.geo_accuracy_km
            .append_option(crate::door::distance(r.geo_accuracy_km, &mut self.nulled));
        self.geo_city.append_option(r.geo_city);
        self.geo_country.append_option(r.geo_country);
        self.asn.append_option(r.asn);
        self.as_org.append_option(r.as_org);
        self.is_proxy.append_option(r.is_proxy);
        self.device_id.append_option(r.device_id);
        self.user_agent.append_option(r.user_agent);
        self.os.append_option(r.os);
        self.browser.append_option(r.browser);
        self.app.append_option(r.app);
        self.session_id.append_option(r.session_id);
        self.is_mfa.append_option(r.is_mfa);
        self.mfa_factor.append_option(r.mfa_factor);
        self.behaviors.append_option(r.behaviors);
        self.bytes_in.append_option(r.bytes_in);
        self.bytes_out.append_option(r.bytes_out);
        self.duration_s.append_option(r.duration_s);
        self.file.append_value(r.provenance.file);
        self.line.append_value(r.provenance.line);
        self.raw.append_option(r.provenance.raw);
        self.rows += 1;
        Ok(())
    }

    /// The rows as a batch of [`auth_schema`]; the builder is left empty.
    #[must_use]
    pub fn finish(&mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.time.finish()),
            Arc::new(self.time_ms.finish()),
            Arc::new(self.source.finish()),
            Arc::new(self.class_uid.finish()),
            Arc::new(self.activity_id.finish()),
            Arc::new(self.event_type.finish()),
            Arc::new(self.activity.finish()),
            Arc::new(self.outcome.finish()),
            Arc::new(self.status_detail.finish()),
            Arc::new(self.user.finish()),
            Arc::new(self.user_raw.finish()),
            Arc::new(self.src_ip.finish()),
            Arc::new(self.geo_lat.finish()),
            Arc::new(self.geo_lon.finish()),
            Arc::new(self.geo_accuracy_km.finish()),
            Arc::new(self.geo_city.finish()),
            Arc::new(self.geo_country.finish()),
            Arc::new(self.asn.finish()),
            Arc::new(self.as_org.finish()),
            Arc::new(self.is_proxy.finish()),
            Arc::new(self.device_id.finish()),
            Arc::new(self.user_agent.finish()),
            Arc::new(self.os.finish()),
            Arc::new(self.browser.finish()),
            Arc::new(self.app.finish()),
            Arc::new(self.session_id.finish()),
            Arc::new(self.is_mfa.finish()),
            Arc::new(self.mfa_factor.finish()),
            Arc::new(self.behaviors.finish()),
            Arc::new(self.bytes_in.finish()),
            Arc::new(self.bytes_out.finish()),
            Arc::new(self.duration_s.finish()),
            Arc::new(self.file.finish()),
            Arc::new(self.line.finish()),
            Arc::new(self.raw.finish()),
        ];
        self.rows = 0;
        RecordBatch::try_new(auth_schema(), columns)
            .expect("the builders follow AUTH_COLUMNS one to one")
    }
}
