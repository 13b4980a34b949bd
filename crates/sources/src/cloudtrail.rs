//! AWS CloudTrail into `admin` rows (and `ConsoleLogin` also into `auth`).
//!
//! Reads the shapes CloudTrail arrives in: the `{"Records":[...]}` files S3 delivery
//! writes (plain or `.gz`), one record per line (shippers, Panther), and records whose
//! `eventTime` a shipper replaced with `@timestamp`. The identity is the IAM user name,
//! the session name of an assumed role (an Identity Center or SAML session is named after
//! the person), or the ARN for root and services; `eventSource:eventName` becomes the
//! action (`s3:GetObject`), `additionalEventData.bytesTransferredOut` the bytes.

use std::borrow::Cow;

use midgame_schema::{AdminBuilder, AdminRow, AuthBuilder, AuthRow};
use serde::Deserialize;

use crate::lenient::{List, Num, Obj, Text};
use crate::{BadRecord, Chunk, ParseOptions, Parsed};
use midgame_schema::ua;

#[derive(Deserialize, Default)]
struct Envelope<'a> {
    /// Each record's own text, kept as `raw` (a delivered file is one line).
    #[serde(borrow, default, rename = "Records")]
    records: Option<Vec<&'a serde_json::value::RawValue>>,
    #[serde(flatten, borrow)]
    record: Record<'a>,
}

#[derive(Deserialize, Default)]
struct Record<'a> {
    #[serde(borrow, default, rename = "eventTime")]
    event_time: Text<'a>,
    #[serde(borrow, default, rename = "@timestamp")]
    timestamp: Text<'a>,
    #[serde(borrow, default, rename = "eventSource")]
    event_source: Text<'a>,
    #[serde(borrow, default, rename = "eventName")]
    event_name: Text<'a>,
    #[serde(borrow, default, rename = "sourceIPAddress")]
    source_ip: Text<'a>,
    #[serde(borrow, default, rename = "userAgent")]
    user_agent: Text<'a>,
    #[serde(borrow, default, rename = "userIdentity")]
    identity: Obj<Identity<'a>>,
    #[serde(borrow, default, rename = "errorCode")]
    error_code: Text<'a>,
    #[serde(borrow, default, rename = "errorMessage")]
    error_message: Text<'a>,
    #[serde(borrow, default, rename = "responseElements")]
    response: Obj<Response<'a>>,
    #[serde(borrow, default, rename = "additionalEventData")]
    additional: Obj<Additional<'a>>,
    #[serde(borrow, default, rename = "requestParameters")]
    request: Obj<Request<'a>>,
    #[serde(borrow, default)]
    resources: List<Resource<'a>>,
    #[serde(borrow, default, rename = "eventID")]
    event_id: Text<'a>,
    #[serde(borrow, default, rename = "eventType")]
    event_type: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Identity<'a> {
    #[serde(borrow, default, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow, default, rename = "userName")]
    user_name: Text<'a>,
    #[serde(borrow, default)]
    arn: Text<'a>,
    #[serde(borrow, default, rename = "onBehalfOf")]
    on_behalf_of: Obj<OnBehalfOf<'a>>,
}

#[derive(Deserialize, Default)]
struct OnBehalfOf<'a> {
    #[serde(borrow, default, rename = "userId")]
    user_id: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Response<'a> {
    #[serde(borrow, default, rename = "ConsoleLogin")]
    console_login: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Additional<'a> {
    #[serde(default, rename = "bytesTransferredOut")]
    bytes_out: Num,
    #[serde(borrow, default, rename = "MFAUsed")]
    mfa_used: Text<'a>,
}

#[derive(Deserialize, Default)]
struct Request<'a> {
    #[serde(borrow, default, rename = "bucketName")]
    bucket: Text<'a>,
    #[serde(borrow, default)]
    key: Text<'a>,
    #[serde(borrow, default, rename = "userName")]
    user_name: Text<'a>,
    #[serde(borrow, default, rename = "roleName")]
    role_name: Text<'a>,
    #[serde(borrow, default, rename = "groupName")]
    group_name: Text<'a>,
}

/// The principal an IAM call acts on (`AttachUserPolicy` on a user, `AddUserToGroup` of a
/// user, `CreateAccessKey` for a user): its type and name.
fn iam_target<'a>(q: &'a Request<'a>) -> Option<(&'static str, &'a str)> {
    if let Some(u) = q.user_name.value() {
        Some(("AWS::IAM::User", u))
    } else if let Some(r) = q.role_name.value() {
        Some(("AWS::IAM::Role", r))
    } else {
        q.group_name.value().map(|g| ("AWS::IAM::Group", g))
    }
}

#[derive(Deserialize, Default)]
struct Resource<'a> {
    #[serde(borrow, default, rename = "ARN")]
    arn: Text<'a>,
    #[serde(borrow, default, rename = "type")]
    kind: Text<'a>,
}

/// Whether a record looks like CloudTrail.
#[must_use]
fn looks_like(text: &[u8]) -> bool {
    let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
    text.first() == Some(&b'{')
        && ((has(b"\"eventSource\"") && has(b"\"eventName\"")) || has(b"{\"Records\""))
}

/// Parse every record of a chunk.
#[must_use]
fn parse(chunk: &Chunk, opts: &ParseOptions) -> Parsed {
    let mut admin = opts.admin_builder(chunk.len());
    let mut auth = opts.auth_builder(0);
    let mut bad = Vec::new();
    let mut skipped = 0;
    for rec in chunk.records() {
        match parse_text(rec.text, rec.line, opts, &mut admin, &mut auth) {
            Ok(n) => skipped += n,
            Err(reason) => bad.push(BadRecord::new(rec.line, reason, rec.text)),
        }
    }
    Parsed {
        nulled: auth.take_nulled() + admin.take_nulled(),
        ambiguous: auth.take_ambiguous(),
        auth: (!auth.is_empty()).then(|| auth.finish()),
        admin: (!admin.is_empty()).then(|| admin.finish()),
        bad,
        skipped,
    }
}

/// The number of records skipped (CloudTrail Insights events: CloudTrail's own analysis,
/// not an action), or why the record is bad.
fn parse_text(
    bytes: &[u8],
    line: u64,
    opts: &ParseOptions,
    admin: &mut AdminBuilder,
    auth: &mut AuthBuilder,
) -> Result<u64, String> {
    let (text, env): (&str, Envelope<'_>) = crate::json_record(bytes, "a CloudTrail record")?;
    match env.records {
        // A delivered file: every record, each with the file's line (they share it).
        Some(records) => {
            let mut errors = Vec::new();
            let mut skipped = 0;
            for (i, raw) in records.iter().enumerate() {
                let r = match serde_json::from_str::<Record<'_>>(raw.get()) {
                    Ok(r) => r,
                    Err(e) => {
                        errors.push(format!("record {}: not a CloudTrail record: {e}", i + 1));
                        continue;
                    }
                };
                match add(&r, Some(raw.get()), line, opts, admin, auth) {
                    Ok(true) => {}
                    Ok(false) => skipped += 1,
                    Err(e) => errors.push(format!("record {}: {e}", i + 1)),
                }
            }
            match errors.first() {
                None => Ok(skipped),
                Some(first) if errors.len() == 1 => Err(first.clone()),
                Some(first) => Err(format!("{first} (and {} more)", errors.len() - 1)),
            }
        }
        None => {
            add(&env.record, Some(text), line, opts, admin, auth).map(|added| u64::from(!added))
        }
    }
}

/// The person or principal behind a record: (normalised, raw).
fn identity<'a>(
    id: Option<&'a Identity<'a>>,
    opts: &ParseOptions,
) -> (Option<Cow<'a, str>>, Option<&'a str>) {
    let Some(id) = id else { return (None, None) };
    let kind = id.kind.value().unwrap_or("");
    let arn = id.arn.value();
    // An assumed role's session is a person when it is named after one (SAML, Identity
    // Center: `.../role/jdoe@example.com`); otherwise (`i-0317...`, `botocore-session`) it
    // is the role's session, kept as `role/session` without a default domain.
    let session = arn
        .filter(|_| kind == "AssumedRole")
        .and_then(|a| a.split_once(":assumed-role/").map(|(_, rs)| rs));
    if let Some(rs) = session {
        let name = rs.rsplit('/').next().unwrap_or(rs);
        return if name.contains('@') {
            (Some(opts.identities.normalise(name)), Some(name))
        } else {
            (Some(Cow::Owned(rs.to_lowercase())), Some(rs))
        };
    }
    let person = match kind {
        "IAMUser" | "IdentityCenterUser" => id.user_name.value(),
        _ => None,
    }
    .or_else(|| id.on_behalf_of.as_ref().and_then(|o| o.user_id.value()));
    match person {
        Some(p) => (Some(opts.identities.normalise(p)), Some(p)),
        // Root, services, anonymous: the ARN as it is (no default domain).
        None => (arn.map(|a| Cow::Owned(a.to_lowercase())), arn),
    }
}

fn add(
    r: &Record<'_>,
    text: Option<&str>,
    line: u64,
    opts: &ParseOptions,
    admin: &mut AdminBuilder,
    auth: &mut AuthBuilder,
) -> Result<bool, String> {
    if r.event_type.value() == Some("AwsCloudTrailInsight") {
        return Ok(false);
    }
    let when = r
        .event_time
        .value()
        .or_else(|| r.timestamp.value())
        .ok_or("missing `eventTime`")?;
    let time_ms = crate::time::parse_time_ms(when)
        .ok_or_else(|| format!("`eventTime` is not a timestamp: {when:?}"))?;
    let source = r.event_source.value().ok_or("missing `eventSource`")?;
    let name = r.event_name.value().ok_or("missing `eventName`")?;
    let (user, user_raw) = identity(r.identity.as_ref(), opts);
    let service = source.split('.').next().unwrap_or(source);
    let action = format!("{service}:{name}");
    let failed = r.error_code.value().is_some();
    let request = r.request.as_ref();
    let object = request.and_then(|q| {
        let bucket = q.bucket.value()?;
        Some(match q.key.value() {
            Some(k) => format!("{bucket}/{k}"),
            None => bucket.to_owned(),
        })
    });
    let resource = r.resources.0.first();
    let iam = request.filter(|_| service == "iam").and_then(iam_target);
    let target_id = resource
        .and_then(|x| x.arn.value().map(str::to_owned))
        .or_else(|| iam.map(|(_, name)| name.to_owned()))
        .or(object);
    let target_type = resource
        .and_then(|x| x.kind.value())
        .or(iam.map(|(t, _)| t))
        .or_else(|| {
            request.and_then(|q| {
                q.bucket.value().map(|_| {
                    if q.key.value().is_some() {
                        "AWS::S3::Object"
                    } else {
                        "AWS::S3::Bucket"
                    }
                })
            })
        });
    let provenance = opts.provenance(line, text);
    admin.append(&AdminRow {
        time_ms,
        source: "cloudtrail",
        tool: Some(source),
        user: user.as_deref(),
        user_raw,
        src_ip: r
            .source_ip
            .value()
            .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()),
        session_id: r.event_id.value(),
        action: &action,
        activity_id: crate::admin_audit::activity_of(name),
        target_type,
        target_id: target_id.as_deref(),
        bytes: r.additional.as_ref().and_then(|a| a.bytes_out.as_i64()),
        outcome: if failed { "failure" } else { "success" },
        user_agent: r.user_agent.value(),
        provenance,
        ..AdminRow::default()
    })?;
    if name == "ConsoleLogin" {
        let result = r.response.as_ref().and_then(|x| x.console_login.value());
        let outcome = match result {
            Some("Success") => "success",
            Some(_) => "failure",
            None if failed => "failure",
            None => "unknown",
        };
        let agent = r.user_agent.value();
        let mfa = r.additional.as_ref().and_then(|a| a.mfa_used.value());
        auth.append(&AuthRow {
            time_ms,
            source: "cloudtrail",
            class_uid: 3002,
            activity_id: 1,
            event_type: "ConsoleLogin",
            activity: "Logon",
            outcome,
            status_detail: r.error_message.value(),
            user: user.as_deref(),
            user_raw,
            src_ip: r.source_ip.value(),
            user_agent: agent,
            os: agent.and_then(ua::os_family),
            browser: agent.and_then(ua::browser_family),
            app: Some("AWS Console"),
            is_mfa: mfa.map(|m| m == "Yes"),
            provenance,
            ..AuthRow::default()
        })?;
    }
    Ok(true)
}

/// The `cloudtrail` source.
#[derive(Debug, Clone, Copy)]
pub struct CloudTrail;

impl crate::Source for CloudTrail {
    fn name(&self) -> &'static str {
        "cloudtrail"
    }

    fn about(&self) -> &'static str {
        "AWS CloudTrail (`{\"Records\":[...]}` files or one record per line)."
    }

    fn looks_like(&self, record: &[u8]) -> bool {
        looks_like(record)
    }

    fn table(&self) -> &'static str {
        midgame_schema::ADMIN
    }

    fn columns(&self) -> &'static [&'static str] {
        &[
            "tool",
            "user",
            "user_raw",
            "src_ip",
            "session_id",
            "target_type",
            "target_id",
            "bytes",
            "user_agent",
        ]
    }

    fn parse(&self, chunk: &Chunk, opts: &ParseOptions) -> Parsed {
        parse(chunk, opts)
    }
}
