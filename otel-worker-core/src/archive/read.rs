//! Reading blocks through an [`ObjectStore`] with as few and as small reads as a question
//! needs: a block is opened with one read of its end (footer) and one of its dictionaries,
//! and a trace is then one read of the row group that holds it.

use super::block::{self, BlockError, Dictionaries, Extent, Footer, RowGroupMeta, TraceRow};
use super::log_block;
use super::objects::{ObjectError, ObjectStore};
use crate::store::SpanRecord;
use crate::store::logs::LogRecord;

/// Bytes read from a block's end when opening it: the footer of a block of 65,536 spans
/// (16 row groups) is about 4 KB, so one read almost always does.
pub const FOOTER_READ_BYTES: u64 = 64 * 1024;

/// Why reading the archive failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error(transparent)]
    Objects(#[from] ObjectError),
    #[error("block {key}: {error}")]
    Block { key: String, error: BlockError },
    /// A block its metadata names is not in the store (deleted by retention meanwhile).
    #[error("block {0} is missing")]
    Missing(String),
}

/// A block opened for reading: where it is, its footer and its dictionaries.
#[derive(Debug, Clone)]
pub struct OpenBlock {
    pub key: String,
    pub size: u64,
    pub footer: Footer,
    pub dictionaries: Dictionaries,
}

impl OpenBlock {
    /// Reads the block's footer and dictionaries: two reads (three for a footer larger
    /// than [`FOOTER_READ_BYTES`]).
    pub async fn open(store: &dyn ObjectStore, key: &str) -> Result<Self, ReadError> {
        let failed = |error| ReadError::Block {
            key: key.to_owned(),
            error,
        };
        let (mut tail, size) = store
            .get_suffix(key, FOOTER_READ_BYTES)
            .await?
            .ok_or_else(|| ReadError::Missing(key.to_owned()))?;
        let needed = block::footer_len(&tail).map_err(failed)? + block::TRAILER_BYTES as u64;
        if needed > tail.len() as u64 {
            tail = store
                .get_range(key, size.saturating_sub(needed)..size)
                .await?
                .ok_or_else(|| ReadError::Missing(key.to_owned()))?;
        }
        let footer = block::read_footer(&tail).map_err(failed)?;
        // The resources and the shapes are written one after the other: one read.
        let start = footer.resources.offset;
        let end = footer.shapes.offset.saturating_add(footer.shapes.len);
        let both = store
            .get_range(key, start..end)
            .await?
            .ok_or_else(|| ReadError::Missing(key.to_owned()))?;
        let part = |extent: Extent| {
            let from = usize::try_from(extent.offset.checked_sub(start)?).ok()?;
            both.get(from..from.checked_add(usize::try_from(extent.len).ok()?)?)
        };
        let cut = || BlockError::Corrupt("the dictionaries are cut off".into());
        let dictionaries = match (part(footer.resources), part(footer.shapes)) {
            (Some(resources), Some(shapes)) => block::read_dictionaries(resources, shapes),
            _ => Err(cut()),
        }
        .map_err(failed)?;
        Ok(Self {
            key: key.to_owned(),
            size,
            footer,
            dictionaries,
        })
    }

    /// The spans of `trace_id` (lower-case hex) in this block: one read per row group
    /// that may hold it (one, or two at a boundary), none if the footer rules it out.
    pub async fn trace_spans(
        &self,
        store: &dyn ObjectStore,
        trace_id: &str,
    ) -> Result<Vec<SpanRecord>, ReadError> {
        let mut spans = Vec::new();
        for group in self.footer.row_groups_of(trace_id) {
            let rows = self.row_group(store, group).await?;
            spans.extend(rows.into_iter().filter(|s| s.trace_id == trace_id));
        }
        Ok(spans)
    }

    /// The spans of one of the block's row groups: one read.
    pub async fn row_group(
        &self,
        store: &dyn ObjectStore,
        group: &RowGroupMeta,
    ) -> Result<Vec<SpanRecord>, ReadError> {
        let bytes = self.read(store, group.extent).await?;
        block::read_row_group(&bytes, group, &self.dictionaries).map_err(|error| self.failed(error))
    }

    /// The records of one of a block of log records' row groups: one read.
    pub async fn log_group(
        &self,
        store: &dyn ObjectStore,
        group: &RowGroupMeta,
    ) -> Result<Vec<LogRecord>, ReadError> {
        let bytes = self.read(store, group.extent).await?;
        log_block::read_row_group(&bytes, group, &self.dictionaries)
            .map_err(|error| self.failed(error))
    }

    /// The summaries of the block's traces, by trace id.
    pub async fn traces(&self, store: &dyn ObjectStore) -> Result<Vec<TraceRow>, ReadError> {
        let bytes = self.read(store, self.footer.trace_table).await?;
        block::read_traces(&bytes).map_err(|error| self.failed(error))
    }

    async fn read(&self, store: &dyn ObjectStore, extent: Extent) -> Result<Vec<u8>, ReadError> {
        let end = extent.offset.saturating_add(extent.len);
        let bytes = store
            .get_range(&self.key, extent.offset..end)
            .await?
            .ok_or_else(|| ReadError::Missing(self.key.clone()))?;
        if bytes.len() as u64 != extent.len {
            return Err(self.failed(BlockError::Corrupt(format!(
                "{} bytes where the footer promises {}",
                bytes.len(),
                extent.len
            ))));
        }
        Ok(bytes)
    }

    fn failed(&self, error: BlockError) -> ReadError {
        ReadError::Block {
            key: self.key.clone(),
            error,
        }
    }
}
