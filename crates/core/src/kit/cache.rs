//! Read caches of the package endpoints' hot path (resolved repositories, the versions a
//! download names, rendered documents), valid while the store's change counter
//! ([`reliquary_store::Store::changes`]) has not moved since the value was read: any committed
//! write on this node — and, on PostgreSQL, on any node — invalidates them all.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A bounded map of values stamped with the change counter they were read under.
pub(crate) struct StampedCache<K, V> {
    entries: Mutex<HashMap<K, (u64, Instant, V)>>,
    capacity: usize,
    max_age: Duration,
}

impl<K: Eq + Hash, V: Clone> StampedCache<K, V> {
    pub(crate) fn new(capacity: usize, max_age: Duration) -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
            capacity,
            max_age,
        }
    }

    /// The value cached under `key`, if it was read at change `stamp` and is younger than the
    /// maximum age.
    pub(crate) fn get(&self, key: &K, stamp: u64) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        let (at, when, value) = entries.get(key)?;
        (*at == stamp && when.elapsed() < self.max_age).then(|| value.clone())
    }

    /// Keeps `value`, read after the change counter was observed at `stamp`.
    pub(crate) fn insert(&self, key: K, stamp: u64, value: V) {
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= self.capacity {
            // Simple and bounded: a full cache starts over (entries of older stamps are dead).
            entries.retain(|_, (at, _, _)| *at == stamp);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(key, (stamp, Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_served_only_under_the_stamp_it_was_read_at() {
        let cache = StampedCache::new(2, Duration::from_secs(60));
        cache.insert("a", 1, 10);
        assert_eq!(cache.get(&"a", 1), Some(10));
        assert_eq!(cache.get(&"a", 2), None);
        cache.insert("b", 1, 20);
        cache.insert("c", 2, 30);
        assert_eq!(cache.get(&"c", 2), Some(30));
        assert_eq!(
            cache.get(&"a", 1),
            None,
            "a full cache drops entries of older stamps"
        );
    }

    #[test]
    fn a_value_expires_after_the_maximum_age() {
        let cache = StampedCache::new(8, Duration::ZERO);
        cache.insert("a", 1, 10);
        assert_eq!(cache.get(&"a", 1), None);
    }
}
