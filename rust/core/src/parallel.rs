//! The worker pools every parallel algorithm of the core runs on: the only place threads are made.
//!
//! rayon's pools cannot survive `fork()`: the child process inherits a pool's bookkeeping but not its
//! threads, so the first parallel call in the child waits forever. Python forks worker processes all
//! the time (multiprocessing, `datasets.map(num_proc=...)`, DataLoader workers), so every parallel
//! call runs inside [`install`] / [`install_with`], on a pool owned by the current process: pools are
//! keyed by their thread count (`None`: all cores) and by the process id that built them, and a
//! forked child, finding its parent's pools, abandons them and builds its own on first use.
//! Thread counts are validated in one place, [`check_threads`].

use std::sync::{Arc, Mutex};

use rayon::{ThreadPool, ThreadPoolBuilder};
use thiserror::Error;

/// Most threads one pool may have (a typo like `num_threads=10**6` is an error, not a hang).
pub const MAX_THREADS: usize = 1024;

/// Most pools kept at once (distinct thread counts); the least recently built goes first.
const MAX_POOLS: usize = 8;

/// The pools of the process `pid`: `(threads, pool)`.
struct Pools {
    pid: u32,
    pools: Vec<(Option<usize>, Arc<ThreadPool>)>,
}

static POOLS: Mutex<Pools> = Mutex::new(Pools {
    pid: 0,
    pools: Vec::new(),
});

/// A thread count out of range (see [`check_threads`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("num_threads must be None (all cores) or an integer from 1 to {MAX_THREADS}, got {value}")]
pub struct ThreadCountError {
    /// The requested count, as the caller wrote it.
    pub value: String,
}

/// Checks a requested thread count: `None` (all cores) or `1..=MAX_THREADS`. The one message every
/// binding shows.
pub fn check_threads<N: TryInto<usize> + Copy + std::fmt::Display>(
    threads: Option<N>,
) -> Result<Option<usize>, ThreadCountError> {
    match threads {
        None => Ok(None),
        Some(n) => match n.try_into() {
            Ok(t) if (1..=MAX_THREADS).contains(&t) => Ok(Some(t)),
            _ => Err(ThreadCountError {
                value: n.to_string(),
            }),
        },
    }
}

/// The current process's pool of `threads` threads (`None`: all cores), built on first use and again
/// after a fork; None when the count is invalid or no thread can be started.
pub fn pool_with(threads: Option<usize>) -> Option<Arc<ThreadPool>> {
    let threads = check_threads(threads).ok()?;
    let pid = std::process::id();
    let mut slot = POOLS.lock().unwrap_or_else(|p| p.into_inner());
    if slot.pid != pid {
        // Inherited from the parent: their threads do not exist here, so they can be neither used
        // nor shut down (dropping one would signal threads that are gone). Leak them on purpose.
        for (_, stale) in slot.pools.drain(..) {
            std::mem::forget(stale);
        }
        slot.pid = pid;
    }
    if let Some((_, pool)) = slot.pools.iter().find(|(t, _)| *t == threads) {
        return Some(Arc::clone(pool));
    }
    let mut builder = ThreadPoolBuilder::new().thread_name(|i| format!("imagegpt-{i}"));
    if let Some(n) = threads {
        builder = builder.num_threads(n);
    }
    let pool = Arc::new(builder.build().ok()?);
    if slot.pools.len() >= MAX_POOLS {
        // Built in this process: dropping it ends its threads once no call uses it any more.
        slot.pools.remove(0);
    }
    slot.pools.push((threads, Arc::clone(&pool)));
    Some(pool)
}

/// The current process's pool on all cores.
pub fn pool() -> Option<Arc<ThreadPool>> {
    pool_with(None)
}

/// Runs `f` on the current process's pool of `threads` threads (or on the calling thread if no
/// pool can be started), so that the parallel iterators inside `f` use threads that exist in this
/// process. Validate `threads` with [`check_threads`] first: an invalid count runs on the caller.
pub fn install_with<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> R {
    match pool_with(threads) {
        Some(pool) => pool.install(f),
        None => f(),
    }
}

/// [`install_with`] on all cores.
pub fn install<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    install_with(None, f)
}

/// The number of threads [`install_with`] runs `threads` on.
pub fn num_threads(threads: Option<usize>) -> usize {
    pool_with(threads).map_or(1, |p| p.current_num_threads())
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
        let c = pool_with(Some(2)).expect("pool");
        assert_eq!(c.current_num_threads(), 2);
        assert!(Arc::ptr_eq(&c, &pool_with(Some(2)).expect("pool")));
        assert_eq!(install_with(Some(3), rayon::current_num_threads), 3);
        assert_eq!(num_threads(Some(1)), 1);
    }

    #[test]
    fn thread_counts_are_checked_in_one_place() {
        assert_eq!(check_threads(None::<usize>), Ok(None));
        assert_eq!(check_threads(Some(4usize)), Ok(Some(4)));
        assert!(check_threads(Some(-3i64))
            .unwrap_err()
            .to_string()
            .contains("got -3"));
        for bad in [0, MAX_THREADS + 1, usize::MAX] {
            let e = check_threads(Some(bad)).unwrap_err().to_string();
            assert!(e.contains(&format!("got {bad}")), "{e}");
        }
        assert!(pool_with(Some(0)).is_none());
        // an invalid count runs on the caller instead of hanging or panicking
        assert_eq!(install_with(Some(0), || 7), 7);
    }
}
