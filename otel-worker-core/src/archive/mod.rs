//! The archive tier: immutable blocks of telemetry in an object store (R2 on the Worker,
//! a directory locally), found through metadata in the database. The design, its costs
//! and the measurements behind the block format are in docs/architecture.md ("The
//! archive tier").
//!
//! Split by mechanism: [`block`] is the format, [`objects`] the store it lives in,
//! [`read`] opens blocks, [`compact`] moves old traces from the span rows into blocks,
//! [`lookup`] and [`walk`] read them back for the API, [`matching`] checks spans against
//! a search, [`trace_filter`] finds the blocks of a trace id, [`retention`] drops blocks.
//! On the Worker, [`segments`] is the hot tier (an export a row) and [`rotate`] compacts
//! it into blocks.

pub mod block;
pub mod compact;
pub mod log_block;
pub mod log_compact;
pub mod log_read;
pub mod lookup;
pub mod matching;
pub mod objects;
pub mod read;
pub mod retention;
pub mod rotate;
pub mod segments;
pub mod trace_filter;
pub mod walk;

use std::sync::{Arc, Mutex};

use rustc_hash::FxHashMap;

use crate::store::bloom::Bloom;
use crate::store::logs::LogRecord;
use crate::store::{SpanRecord, StoreError};
use block::TraceRow;
use objects::{ObjectError, ObjectStore};
use read::{OpenBlock, ReadError};

/// Blocks opened (footer and dictionaries) kept per archive: a trace lookup or a search
/// that meets a block again reads only its rows.
pub const OPENED_BLOCKS: usize = 256;

/// Row groups kept decoded per archive (about 1.5 MB each): the pages of one search, and
/// the spans of traces opened one after another, read the same few again.
pub const DECODED_GROUPS: usize = 32;

/// Search filters kept per archive (an archive block's is about 10 bits a distinct term).
pub const CACHED_FILTERS: usize = 2_048;

/// How large an archive's blocks are and how much of them it keeps in memory: a local
/// server has memory to spare; a Worker's isolate has 128 MB for everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Spans a block takes at most (whole traces: one larger trace makes a larger block).
    pub block_spans: u64,
    pub opened_blocks: usize,
    pub decoded_groups: usize,
    pub cached_filters: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            block_spans: compact::BLOCK_SPANS,
            opened_blocks: OPENED_BLOCKS,
            decoded_groups: DECODED_GROUPS,
            cached_filters: CACHED_FILTERS,
        }
    }
}

/// A row group's spans, decoded once.
type DecodedGroup = Arc<Vec<SpanRecord>>;

/// A row group's log records, decoded once.
type DecodedLogGroup = Arc<Vec<LogRecord>>;

/// The archive of one store: where its blocks are, and what reads keep of them. Blocks
/// never change once written, so what is cached stays true until the block is dropped.
pub struct Archive {
    objects: Arc<dyn ObjectStore>,
    opened: Mutex<FxHashMap<i64, Arc<OpenBlock>>>,
    filters: Mutex<FxHashMap<i64, Arc<Bloom>>>,
    groups: Mutex<FxHashMap<(i64, usize), DecodedGroup>>,
    /// A block of log records' row groups, decoded: the pages of a list read the same.
    log_groups: Mutex<FxHashMap<(i64, usize), DecodedLogGroup>>,
    traces: Mutex<FxHashMap<i64, Arc<Vec<TraceRow>>>>,
    /// Whether the blocks count against the store's budget (locally: they share its
    /// disk; on the Worker the budget is D1's and R2 is apart).
    budgeted: bool,
    /// The blocks' bytes as last read, while no block was added or dropped here (the one
    /// process that compacts a local store).
    bytes: Mutex<Option<u64>>,
    limits: Limits,
    /// How long past the cutoff the oldest item waits for a block to fill
    /// ([`Archive::waiting_for_full_blocks`]).
    partial_wait_ns: u64,
    /// The hot tier of segments, on the Worker.
    hot: Option<segments::HotTier>,
}

/// The longest an item waits past the cutoff for a block to fill: under steady ingest a
/// housekeeping run every few seconds would otherwise write a small block each time
/// (5,000 spans at 1,000 a second instead of 65,536), many more blocks for every search
/// to list and probe.
pub const PARTIAL_BLOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(300);

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive").finish_non_exhaustive()
    }
}

impl Archive {
    pub fn new(objects: Arc<dyn ObjectStore>) -> Self {
        Self {
            objects,
            opened: Mutex::default(),
            filters: Mutex::default(),
            groups: Mutex::default(),
            log_groups: Mutex::default(),
            traces: Mutex::default(),
            budgeted: false,
            bytes: Mutex::default(),
            limits: Limits::default(),
            partial_wait_ns: 0,
            hot: None,
        }
    }

    /// Writes a block short of a block's items only once its oldest item is
    /// [`PARTIAL_BLOCK_WAIT`] past the cutoff, or `archive_after` if that is shorter (so
    /// `--archive-after 0s` still archives at once). Without this, every run archives
    /// whatever is past the cutoff.
    pub fn waiting_for_full_blocks(mut self, archive_after: std::time::Duration) -> Self {
        let wait = archive_after.min(PARTIAL_BLOCK_WAIT).as_nanos();
        self.partial_wait_ns = u64::try_from(wait).unwrap_or(u64::MAX);
        self
    }

    /// Whether a block short of a block's items, whose oldest item is at `oldest_ns`,
    /// may be written now, with items archived before `cutoff_ns`.
    pub(crate) fn partial_block_due(&self, oldest_ns: u64, cutoff_ns: u64) -> bool {
        oldest_ns < cutoff_ns.saturating_sub(self.partial_wait_ns)
    }

    /// Stores exports' spans as segments of the hot tier (one row an export, see
    /// [`segments`]) instead of span rows, on `clock`.
    pub fn with_hot_segments(mut self, clock: segments::Clock) -> Self {
        self.hot = Some(segments::HotTier::new(clock));
        self
    }

    pub fn hot(&self) -> Option<&segments::HotTier> {
        self.hot.as_ref()
    }

    /// Other block sizes and cache sizes than [`Limits::default`].
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Counts the blocks' bytes against the store's budget, for an archive on the same
    /// disk as the database.
    pub fn within_budget(mut self) -> Self {
        self.budgeted = true;
        self
    }

    pub fn is_budgeted(&self) -> bool {
        self.budgeted
    }

    fn known_bytes(&self) -> Option<u64> {
        *lock(&self.bytes)
    }

    fn set_known_bytes(&self, bytes: Option<u64>) {
        *lock(&self.bytes) = bytes;
    }

    pub fn objects(&self) -> &dyn ObjectStore {
        self.objects.as_ref()
    }

    pub fn shared_objects(&self) -> Arc<dyn ObjectStore> {
        self.objects.clone()
    }

    /// Block `block_id` opened, from the cache or read through `objects` (two reads).
    pub async fn open(
        &self,
        objects: &dyn ObjectStore,
        block_id: i64,
        key: &str,
    ) -> Result<Arc<OpenBlock>, ReadError> {
        if let Some(open) = lock(&self.opened).get(&block_id) {
            return Ok(open.clone());
        }
        let open = Arc::new(OpenBlock::open(objects, key).await?);
        let mut opened = lock(&self.opened);
        if opened.len() >= self.limits.opened_blocks {
            opened.clear();
        }
        opened.insert(block_id, open.clone());
        Ok(open)
    }

    /// Row group `index` of block `block_id` (opened as `open`), decoded.
    pub async fn row_group(
        &self,
        objects: &dyn ObjectStore,
        block_id: i64,
        open: &OpenBlock,
        index: usize,
    ) -> Result<Arc<Vec<SpanRecord>>, ReadError> {
        if let Some(spans) = lock(&self.groups).get(&(block_id, index)) {
            return Ok(spans.clone());
        }
        let Some(group) = open.footer.row_groups.get(index) else {
            return Ok(Arc::default());
        };
        let spans = Arc::new(open.row_group(objects, group).await?);
        let mut groups = lock(&self.groups);
        if groups.len() >= self.limits.decoded_groups {
            groups.clear();
        }
        groups.insert((block_id, index), spans.clone());
        Ok(spans)
    }

    /// Row group `index` of block of log records `block_id` (opened as `open`), decoded.
    pub async fn log_group(
        &self,
        block_id: i64,
        open: &OpenBlock,
        index: usize,
    ) -> Result<Arc<Vec<LogRecord>>, ReadError> {
        if let Some(records) = lock(&self.log_groups).get(&(block_id, index)) {
            return Ok(records.clone());
        }
        let Some(group) = open.footer.row_groups.get(index) else {
            return Ok(Arc::default());
        };
        let records = Arc::new(open.log_group(self.objects(), group).await?);
        let mut groups = lock(&self.log_groups);
        if groups.len() >= self.limits.decoded_groups {
            groups.clear();
        }
        groups.insert((block_id, index), records.clone());
        Ok(records)
    }

    /// The trace table of block `block_id` (opened as `open`), decoded.
    pub async fn traces(
        &self,
        objects: &dyn ObjectStore,
        block_id: i64,
        open: &OpenBlock,
    ) -> Result<Arc<Vec<TraceRow>>, ReadError> {
        if let Some(traces) = lock(&self.traces).get(&block_id) {
            return Ok(traces.clone());
        }
        let traces = Arc::new(open.traces(objects).await?);
        let mut tables = lock(&self.traces);
        if tables.len() >= self.limits.opened_blocks {
            tables.clear();
        }
        tables.insert(block_id, traces.clone());
        Ok(traces)
    }

    fn cached_filter(&self, block_id: i64) -> Option<Arc<Bloom>> {
        lock(&self.filters).get(&block_id).cloned()
    }

    fn keep_filter(&self, block_id: i64, bloom: Arc<Bloom>) {
        let mut filters = lock(&self.filters);
        if filters.len() >= self.limits.cached_filters {
            filters.clear();
        }
        filters.insert(block_id, bloom);
    }

    /// Forgets a dropped block.
    fn forget(&self, block_id: i64) {
        self.set_known_bytes(None);
        lock(&self.opened).remove(&block_id);
        lock(&self.filters).remove(&block_id);
        lock(&self.groups).retain(|(block, _), _| *block != block_id);
        lock(&self.log_groups).retain(|(block, _), _| *block != block_id);
        lock(&self.traces).remove(&block_id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The key of a block's object: ids are zero-padded so keys list in id order.
pub fn object_key(level: u8, block_id: i64) -> String {
    format!("blocks/{level}/{block_id:016}.owb")
}

impl From<ObjectError> for StoreError {
    fn from(error: ObjectError) -> Self {
        match error {
            ObjectError::Unavailable(_) => StoreError::Busy(format!("archive: {error}")),
            ObjectError::Refused(_) => StoreError::Other(format!("archive: {error}")),
        }
    }
}

impl From<ReadError> for StoreError {
    fn from(error: ReadError) -> Self {
        match error {
            ReadError::Objects(error) => error.into(),
            other => StoreError::Other(format!("archive: {other}")),
        }
    }
}
