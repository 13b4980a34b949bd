//! How a session reads the lake's tables: an object store over the local file system
//! that lists, in the tables' folders, only the data files the lake committed, and checks
//! every block it reads against the checksum recorded when the file was committed.
//!
//! So a file an ingest wrote and never committed (a run killed between writing and
//! committing), or one copied into a partition, is not read; and a data file changed on
//! disk is an error naming the file, never different rows and different alerts. Paths
//! outside the tables' folders (the alert table, a `CREATE EXTERNAL TABLE` elsewhere)
//! pass through unchanged.

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use midgame_lake::integrity::{BLOCK_BYTES, DataFile, block_sum};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload, ObjectMeta,
    ObjectStore, ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};

/// The lake's committed files, read with their checksums checked.
#[derive(Debug)]
pub(crate) struct LakeStore {
    inner: Arc<dyn ObjectStore>,
    /// The tables' folders, as store paths.
    tables: Vec<Path>,
    /// Every committed data file (store path) with its record, when it has one.
    files: Arc<HashMap<Path, Option<DataFile>>>,
}

impl fmt::Display for LakeStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "midgame lake ({} committed data files)",
            self.files.len()
        )
    }
}

fn error(msg: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "midgame",
        source: msg.into(),
    }
}

/// Where a lake is: its records (a folder: the lake itself, or the local mirror of a
/// lake on S3) and its data (an object store, the URL it is registered under, and the
/// lake's root in it).
pub(crate) struct Source {
    /// The folder of the lake's records.
    pub(crate) records: std::path::PathBuf,
    /// The mirror of an S3 lake opened here; the records are in it.
    _mirror: Option<midgame_lake::remote_lake::RemoteLake>,
    /// The store the data files are read from.
    pub(crate) store: Arc<dyn ObjectStore>,
    /// The URL the store is registered under (`file://`, `s3://bucket`).
    pub(crate) store_url: url::Url,
    /// The lake's root as a URL prefix for its tables (`/srv/lake`, `s3://bucket/lake`).
    pub(crate) base: String,
    /// The lake's root as a path in the store.
    root: Path,
}

impl Source {
    /// The lake at `lake`: a folder, `s3://bucket/prefix` (its records are mirrored
    /// here), or the mirror of an S3 lake that a writer made.
    pub(crate) fn open(lake: &std::path::Path) -> Result<Self, crate::DetectError> {
        use midgame_lake::remote_lake;
        let not_a_lake = |reason: String| crate::DetectError::NotALake {
            path: lake.display().to_string(),
            reason,
        };
        if remote_lake::is_remote_lake(lake) {
            let url = lake.to_string_lossy().into_owned();
            let mirror = remote_lake::RemoteLake::open_read(&url)?;
            let mut source = Self::s3(mirror.url(), mirror.dir().to_path_buf())?;
            source._mirror = Some(mirror);
            return Ok(source);
        }
        let root = std::path::absolute(lake).map_err(|e| not_a_lake(e.to_string()))?;
        if !midgame_lake::Layout::new(&root).is_lake() {
            return Err(not_a_lake(midgame_lake::Layout::not_a_lake_reason()));
        }
        if let Some(url) = remote_lake::mirrored_url(&root) {
            return Self::s3(&url, root);
        }
        let store_root = Path::from_absolute_path(&root).map_err(|e| not_a_lake(e.to_string()))?;
        Ok(Self {
            base: root.display().to_string(),
            records: root,
            _mirror: None,
            store: Arc::new(LocalFileSystem::new()),
            store_url: url::Url::parse("file://").expect("a valid URL"),
            root: store_root,
        })
    }

    fn s3(url: &str, records: std::path::PathBuf) -> Result<Self, crate::DetectError> {
        let (bucket, prefix) = midgame_lake::remote_lake::parse_lake_url(url)?;
        Ok(Self {
            records,
            _mirror: None,
            store: midgame_lake::remote_lake::s3_store(&bucket, url)?,
            store_url: url::Url::parse(&format!("s3://{bucket}")).map_err(|e| {
                crate::DetectError::NotALake {
                    path: url.to_owned(),
                    reason: e.to_string(),
                }
            })?,
            base: url.trim_end_matches('/').to_owned(),
            root: Path::from(prefix),
        })
    }

    /// The lake's committed data files and clustered tables, from its records.
    pub(crate) fn committed(
        &self,
    ) -> Result<midgame_lake::integrity::Committed, crate::DetectError> {
        Ok(midgame_lake::Lake::inspect(&self.records).committed()?)
    }

    /// `rel` (`auth/date=.../x.parquet`) as a path in the store.
    fn path(&self, rel: &str) -> Path {
        self.root.parts().chain(Path::from(rel).parts()).collect()
    }

    /// The store that serves the committed files of the lake, checked.
    pub(crate) fn lake_store(&self, committed: midgame_lake::integrity::Committed) -> LakeStore {
        let tables = midgame_schema::Table::ALL
            .iter()
            .map(|t| self.path(t.name))
            .collect();
        let files = committed
            .files
            .into_iter()
            .map(|(rel, record)| (self.path(&rel), record))
            .collect();
        LakeStore {
            inner: Arc::clone(&self.store),
            tables,
            files: Arc::new(files),
        }
    }
}

impl LakeStore {
    fn in_tables(&self, p: &Path) -> bool {
        self.tables.iter().any(|t| p.prefix_matches(t))
    }

    /// Whether the store shows `p`: anything outside the tables, committed files in them.
    fn shows(&self, p: &Path) -> bool {
        !self.in_tables(p) || self.files.contains_key(p)
    }

    /// Bytes `range` of a committed file, read whole blocks at a time and each block
    /// checked against its checksum.
    async fn read_checked(
        &self,
        location: &Path,
        record: &DataFile,
        range: Range<u64>,
    ) -> object_store::Result<Bytes> {
        let first = range.start / BLOCK_BYTES;
        let last = range.end.div_ceil(BLOCK_BYTES).max(first + 1);
        let span = first * BLOCK_BYTES..(last * BLOCK_BYTES).min(record.len);
        let bytes = self.inner.get_range(location, span.clone()).await?;
        if bytes.len() as u64 != span.end - span.start {
            return Err(error(format!(
                "{}: shorter than the manifest says ({} bytes read of {}..{}): the data file changed on disk",
                record.path,
                bytes.len(),
                span.start,
                span.end
            )));
        }
        for block in first..last {
            let at = usize::try_from((block - first) * BLOCK_BYTES).unwrap_or(usize::MAX);
            let end = (at + usize::try_from(BLOCK_BYTES).unwrap_or(usize::MAX)).min(bytes.len());
            let want = record
                .blocks
                .get(usize::try_from(block).unwrap_or(usize::MAX));
            if want.map(String::as_str) != Some(block_sum(&bytes[at..end]).as_str()) {
                return Err(error(format!(
                    "{}: block {block} (bytes {}..) does not match its checksum in the manifest: the data file is corrupt; midgame verify names every such file",
                    record.path,
                    block * BLOCK_BYTES
                )));
            }
        }
        let from = usize::try_from(range.start - span.start).unwrap_or(0);
        let to = usize::try_from(range.end - span.start).unwrap_or(bytes.len());
        Ok(bytes.slice(from..to))
    }

    fn checked_meta(
        &self,
        meta: ObjectMeta,
        record: &DataFile,
    ) -> object_store::Result<ObjectMeta> {
        if meta.size == record.len {
            Ok(meta)
        } else {
            Err(error(format!(
                "{}: {} bytes, the manifest says {}: the data file changed on disk",
                record.path, meta.size, record.len
            )))
        }
    }
}

#[async_trait::async_trait]
impl ObjectStore for LakeStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if !self.in_tables(location) {
            return self.inner.get_opts(location, options).await;
        }
        let Some(entry) = self.files.get(location) else {
            return Err(object_store::Error::NotFound {
                path: location.to_string(),
                source: "not a committed data file of the lake".into(),
            });
        };
        let Some(record) = entry else {
            // Committed before checksums were recorded.
            return self.inner.get_opts(location, options).await;
        };
        let meta = self.checked_meta(self.inner.head(location).await?, record)?;
        let range = match &options.range {
            Some(r) => r
                .as_range(record.len)
                .map_err(|e| error(format!("{location}: {e}")))?,
            None => 0..record.len,
        };
        if options.head {
            return Ok(GetResult {
                payload: GetResultPayload::Stream(futures::stream::empty().boxed()),
                meta,
                range,
                attributes: object_store::Attributes::default(),
            });
        }
        let bytes = self.read_checked(location, record, range.clone()).await?;
        Ok(GetResult {
            payload: GetResultPayload::Stream(futures::stream::once(async { Ok(bytes) }).boxed()),
            meta,
            range,
            attributes: object_store::Attributes::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let tables = self.tables.clone();
        let files = Arc::clone(&self.files);
        self.inner
            .list(prefix)
            .filter(move |r| {
                let keep = match r {
                    Ok(meta) => {
                        !tables.iter().any(|t| meta.location.prefix_matches(t))
                            || files.contains_key(&meta.location)
                    }
                    Err(_) => true,
                };
                futures::future::ready(keep)
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        let mut result = self.inner.list_with_delimiter(prefix).await?;
        result.objects.retain(|m| self.shows(&m.location));
        Ok(result)
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
