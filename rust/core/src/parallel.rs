//! The worker pool every parallel algorithm of the core runs on.
//!
//! rayon's global pool cannot survive `fork()`: the child process inherits the pool's bookkeeping but
//! not its threads, so the first parallel call in the child waits forever. Python forks worker
//! processes all the time (multiprocessing, `datasets.map(num_proc=...)`, DataLoader workers), so the
//! bindings run every call inside [`install`], which uses a pool owned by the current process and
//! builds a fresh one when it finds itself in a forked child.

use std::sync::{Arc, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};

static POOL: Mutex<Option<(u32, Arc<ThreadPool>)>> = Mutex::new(None);

/// The current process's pool (all cores), built on first use and again after a fork.
pub fn pool() -> Option<Arc<ThreadPool>> {
    let pid = std::process::id();
    let mut slot = POOL.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((owner, pool)) = slot.as_ref() {
        if *owner == pid {
            return Some(Arc::clone(pool));
        }
    }
    if let Some((_, stale)) = slot.take() {
        // Inherited from the parent: its threads do not exist here, so it can be neither used nor
        // shut down (dropping it would signal threads that are gone). Leak it on purpose.
        std::mem::forget(stale);
    }
    let built = ThreadPoolBuilder::new()
        .thread_name(|i| format!("imagegpt-{i}"))
        .build()
        .ok()?;
    let pool = Arc::new(built);
    *slot = Some((pid, Arc::clone(&pool)));
    Some(pool)
}

/// Runs `f` on the current process's pool (or on the calling thread if no pool can be started), so
/// that the parallel iterators inside `f` use threads that exist in this process.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match pool() {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn runs_parallel_work_and_reuses_the_pool() {
        let sum: u64 = install(|| (0..10_000u64).into_par_iter().sum());
        assert_eq!(sum, 10_000 * 9_999 / 2);
        let a = pool().expect("pool");
        let b = pool().expect("pool");
        assert!(Arc::ptr_eq(&a, &b));
    }
}
