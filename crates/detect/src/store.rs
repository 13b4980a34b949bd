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
    inner: LocalFileSystem,
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

fn store_path(p: &std::path::Path) -> object_store::Result<Path> {
    Path::from_absolute_path(p).map_err(|e| object_store::Error::Generic {
        store: "midgame",
        source: Box::new(e),
    })
}

fn error(msg: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "midgame",
        source: msg.into(),
    }
}

impl LakeStore {
    /// The store of the lake at `root` (absolute), committing `files`.
    pub(crate) fn new(
        root: &std::path::Path,
        committed: midgame_lake::integrity::Committed,
    ) -> object_store::Result<Self> {
        let tables = midgame_schema::Table::ALL
            .iter()
            .map(|t| store_path(&root.join(t.name)))
            .collect::<object_store::Result<Vec<_>>>()?;
        let mut files = HashMap::new();
        for (rel, record) in committed.files {
            files.insert(store_path(&root.join(rel))?, record);
        }
        Ok(Self {
            inner: LocalFileSystem::new(),
            tables,
            files: Arc::new(files),
        })
    }

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
