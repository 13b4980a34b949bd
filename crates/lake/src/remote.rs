//! Archives on object storage: `s3://bucket/okta/**/*.json.gz` in an `[[archive]]`,
//! listed and read through `object_store` with the usual AWS environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` for S3-compatible stores; instance and container credentials).
//!
//! An object is downloaded whole into the lake's `_tmp/` and ingested under its URL (the
//! manifest and every row's `file` name `s3://...`); an object the manifest already holds
//! with the same size and time is not downloaded again.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::{LakeError, io_err};

/// One object an archive pattern matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteObject {
    /// `s3://bucket/key`.
    pub url: String,
    /// Its key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Last modified (ms since the epoch).
    pub modified_ms: i64,
}

/// A glob pattern over one bucket.
pub struct RemoteArchive {
    store: Arc<dyn ObjectStore>,
    bucket: String,
    pattern: glob::Pattern,
    prefix: String,
    runtime: tokio::runtime::Runtime,
}

fn remote_err(url: &str, e: impl std::fmt::Display) -> LakeError {
    LakeError::Remote {
        url: url.to_owned(),
        reason: e.to_string().replace('\n', " "),
    }
}

/// `(bucket, key pattern)` of `s3://bucket/key...`.
#[must_use]
pub fn parse_s3(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty()).then_some((bucket, key))
}

/// Whether an archive path names object storage.
#[must_use]
pub fn is_remote(path: &str) -> bool {
    path.starts_with("s3://")
}

impl RemoteArchive {
    /// The archive of an `s3://bucket/pattern` URL, with credentials and endpoint from the
    /// environment.
    ///
    /// # Errors
    /// The URL is not `s3://bucket/...`, the pattern is malformed, or the client cannot be
    /// built (a missing region, say).
    pub fn s3(url: &str) -> Result<Self, LakeError> {
        let (bucket, key) =
            parse_s3(url).ok_or_else(|| remote_err(url, "not an s3://bucket/key pattern"))?;
        let pattern = glob::Pattern::new(key).map_err(|e| LakeError::Pattern {
            pattern: url.to_owned(),
            reason: e.to_string(),
        })?;
        let store = crate::remote_lake::s3_store(bucket, url)?;
        let prefix = key
            .split('/')
            .take_while(|c| !c.contains(['*', '?', '[']))
            .collect::<Vec<_>>()
            .join("/");
        Ok(Self {
            store,
            bucket: bucket.to_owned(),
            pattern,
            prefix,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| remote_err(url, e))?,
        })
    }

    fn url_of(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// The objects the pattern matches, sorted by key.
    ///
    /// # Errors
    /// The bucket cannot be listed (bad credentials, no such bucket, the network): one
    /// error naming the URL.
    pub fn list(&self) -> Result<Vec<RemoteObject>, LakeError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.as_str()));
        let url = self.url_of(&self.prefix);
        let metas: Vec<object_store::ObjectMeta> = self
            .runtime
            .block_on(self.store.list(prefix.as_ref()).try_collect())
            .map_err(|e| remote_err(&url, e))?;
        let options = glob::MatchOptions {
            case_sensitive: true,
            require_literal_separator: true,
            require_literal_leading_dot: false,
        };
        let mut out: Vec<RemoteObject> = metas
            .into_iter()
            .filter(|m| self.pattern.matches_with(m.location.as_ref(), options))
            .map(|m| RemoteObject {
                url: self.url_of(m.location.as_ref()),
                key: m.location.to_string(),
                size: m.size,
                modified_ms: m.last_modified.timestamp_millis(),
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Download `o` whole into `dest` (written beside it and renamed), with the object's
    /// time as the file's.
    ///
    /// # Errors
    /// The object cannot be read, or the file written.
    pub fn download(&self, o: &RemoteObject, dest: &Path) -> Result<(), LakeError> {
        let bytes = self
            .runtime
            .block_on(async {
                self.store
                    .get(&ObjectPath::from(o.key.as_str()))
                    .await?
                    .bytes()
                    .await
            })
            .map_err(|e| remote_err(&o.url, e))?;
        let tmp: PathBuf = dest.with_extension("part");
        fs_err::write(&tmp, &bytes).map_err(io_err(&tmp))?;
        let f = fs_err::File::options()
            .write(true)
            .open(&tmp)
            .map_err(io_err(&tmp))?;
        if let Some(t) = chrono::DateTime::from_timestamp_millis(o.modified_ms) {
            let _ = f.file().set_modified(t.into());
        }
        f.sync_all().map_err(io_err(&tmp))?;
        fs_err::rename(&tmp, dest).map_err(io_err(dest))?;
        Ok(())
    }
}
