//! Several databases as one store: each trace lives whole on one of them, chosen from
//! its id, and searches read them all and merge newest first ([`super::search`]). One
//! database is the zero-configuration case; on Cloudflare, D1's 10 GB per database is the
//! reason for more.

use std::collections::HashMap;

use rustc_hash::{FxHashMap, FxHashSet};

use super::{Batch, LogRecord, ResourceRecord, ShapeRecord, Store, StoreError};

/// The stores of one home, in a fixed order (the placement of traces depends on it).
#[derive(Clone)]
pub struct Shards {
    stores: Vec<Store>,
}

impl Shards {
    /// `stores` in their configured order; at least one.
    pub fn new(stores: Vec<Store>) -> Option<Self> {
        (!stores.is_empty()).then_some(Self { stores })
    }

    pub fn one(store: Store) -> Self {
        Self {
            stores: vec![store],
        }
    }

    pub fn all(&self) -> &[Store] {
        &self.stores
    }

    /// The index of the store a trace belongs to: jump consistent hashing of the trace
    /// id's last 8 bytes, so adding a store moves only the share of new traces it takes.
    pub fn index_of(&self, trace_id: &str) -> usize {
        let tail = trace_id
            .get(trace_id.len().saturating_sub(16)..)
            .unwrap_or("");
        let key = u64::from_str_radix(tail, 16).unwrap_or(0);
        jump_hash(key, self.stores.len())
    }

    /// The index of the store a log record belongs to: its trace's, or one picked from
    /// its identity when it has no trace.
    pub fn index_of_log(&self, log: &LogRecord) -> usize {
        match &log.trace_id {
            Some(trace_id) => self.index_of(trace_id),
            None => jump_hash(log.identity as u64, self.stores.len()),
        }
    }

    /// The index of the store a metric series (all of its points) belongs to.
    pub fn index_of_series(&self, series_id: i64) -> usize {
        jump_hash(series_id as u64, self.stores.len())
    }

    /// The store a trace belongs to.
    pub fn of(&self, trace_id: &str) -> &Store {
        &self.stores[self.index_of(trace_id)]
    }

    /// The stores to look in for a trace: its own first, then the others (it may have
    /// been stored before the number of stores changed).
    pub fn lookup_order(&self, trace_id: &str) -> impl Iterator<Item = &Store> {
        let home = self.index_of(trace_id);
        std::iter::once(&self.stores[home]).chain(
            self.stores
                .iter()
                .enumerate()
                .filter(move |(i, _)| *i != home)
                .map(|(_, s)| s),
        )
    }

    /// The smallest span limit of any store.
    pub fn max_span_bytes(&self) -> Option<usize> {
        self.stores.iter().filter_map(Store::max_span_bytes).min()
    }

    /// Stores an export, each trace in its store; the stores write concurrently, each in
    /// one transaction.
    pub async fn insert(&self, batch: Batch) -> Result<(), StoreError> {
        if self.stores.len() == 1 {
            return self.stores[0].insert(batch).await;
        }
        let mut parts: HashMap<usize, Batch> = HashMap::new();
        let resources: FxHashMap<i64, &ResourceRecord> =
            batch.resources.iter().map(|r| (r.id, r)).collect();
        let shapes: FxHashMap<i64, &ShapeRecord> = batch.shapes.iter().map(|s| (s.id, s)).collect();
        // The (part, id) pairs already placed, so each part gets a resource or shape once.
        let mut placed_resources: FxHashSet<(usize, i64)> = FxHashSet::default();
        let mut add_resource = |part: &mut Batch, index: usize, id: i64| {
            if let Some(resource) = resources.get(&id)
                && placed_resources.insert((index, id))
            {
                part.resources.push(ResourceRecord::clone(resource));
            }
        };
        let mut placed_shapes: FxHashSet<(usize, i64)> = FxHashSet::default();
        let mut add_shape = |part: &mut Batch, index: usize, id: Option<i64>| {
            if let Some(id) = id
                && let Some(shape) = shapes.get(&id)
                && placed_shapes.insert((index, id))
            {
                part.shapes.push(ShapeRecord::clone(shape));
            }
        };
        for log in batch.logs {
            let index = self.index_of_log(&log);
            let part = parts.entry(index).or_default();
            add_resource(part, index, log.resource_id);
            add_shape(part, index, log.shape_id);
            part.logs.push(log);
        }
        for series in batch.series {
            let index = self.index_of_series(series.id);
            let part = parts.entry(index).or_default();
            add_resource(part, index, series.resource_id);
            part.series.push(series);
        }
        for point in batch.points {
            let part = parts
                .entry(self.index_of_series(point.series_id))
                .or_default();
            part.points.push(point);
        }
        for span in batch.spans {
            let index = self.index_of(&span.trace_id);
            let part = parts.entry(index).or_default();
            add_resource(part, index, span.resource_id);
            add_shape(part, index, span.shape_id);
            part.spans.push(span);
        }
        // Only stores with something to write are called: D1 refuses an empty batch.
        if batch.sampled_out > 0 {
            parts.entry(0).or_default().sampled_out = batch.sampled_out;
        }
        let writes = parts
            .into_iter()
            .map(|(i, part)| self.stores[i].insert(part));
        for result in futures_util::future::join_all(writes).await {
            result?;
        }
        Ok(())
    }
}

/// Lamping and Veach's jump consistent hash: the bucket of `key` among `buckets`.
fn jump_hash(mut key: u64, buckets: usize) -> usize {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < buckets as i64 {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b.max(0) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_spread_evenly_and_a_new_bucket_takes_only_its_share() {
        let keys: Vec<u64> = (0..30_000u64)
            .map(|i| i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .collect();
        let mut counts = [0usize; 3];
        for key in &keys {
            counts[jump_hash(*key, 3)] += 1;
        }
        for count in counts {
            assert!((9_000..11_000).contains(&count), "{counts:?}");
        }
        let moved = keys
            .iter()
            .filter(|k| jump_hash(**k, 3) != jump_hash(**k, 4))
            .count();
        assert!((6_500..8_500).contains(&moved), "{moved} of 30,000 moved");
        assert!(keys.iter().all(|k| jump_hash(*k, 1) == 0));
    }
}
