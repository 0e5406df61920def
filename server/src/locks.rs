//! Per-key async locks: concurrent duplicates of one hand-off (or one charge) run one at a time,
//! so exactly one Toss call is made and the others see its stored outcome.
//! (One process only; several instances would need a database-level lock.)

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

type Map = Arc<Mutex<HashMap<String, Arc<AsyncMutex<()>>>>>;

#[derive(Clone, Default)]
pub struct KeyedLocks {
    map: Map,
}

/// Holds the lock of one key; the entry is removed when nobody else waits for it.
pub struct KeyGuard {
    map: Map,
    key: String,
    guard: Option<OwnedMutexGuard<()>>,
}

impl KeyedLocks {
    pub async fn lock(&self, key: &str) -> KeyGuard {
        let m = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.entry(key.to_string()).or_default().clone()
        };
        let guard = m.lock_owned().await;
        KeyGuard {
            map: self.map.clone(),
            key: key.to_string(),
            guard: Some(guard),
        }
    }

    /// Number of keys currently tracked (for tests).
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for KeyGuard {
    fn drop(&mut self) {
        drop(self.guard.take());
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if map
            .get(&self.key)
            .is_some_and(|a| Arc::strong_count(a) == 1)
        {
            map.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serializes_and_cleans_up() {
        let locks = KeyedLocks::default();
        let counter = Arc::new(Mutex::new((0u32, 0u32))); // (inside, max inside)
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (locks, counter) = (locks.clone(), counter.clone());
            tasks.push(tokio::spawn(async move {
                let _g = locks.lock("k").await;
                {
                    let mut c = counter.lock().unwrap();
                    c.0 += 1;
                    c.1 = c.1.max(c.0);
                }
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                counter.lock().unwrap().0 -= 1;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(counter.lock().unwrap().1, 1);
        assert!(locks.is_empty());
    }
}
