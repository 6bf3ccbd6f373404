//! The synchronisation shim: the only module that names `std::sync`'s locks and atomics,
//! `loom::sync` or `arc_swap`.
//!
//! Normal builds re-export `std`'s types and `arc_swap::ArcSwap` (as [`PublishCell`]); under
//! `cfg(loom)` (set by the `loom-tests/` crate) the same names are loom's, so the blob store's
//! insert/release protocol and the commit protocol can be model-checked over every
//! interleaving. Code imports `Mutex`, the atomics, the channel and the publish cell from here,
//! never from `std::sync` or `arc_swap` directly; so does the blob store for the `Arc` whose
//! count its release protocol reads (`sync::Arc`).
//!
//! One thing stays `std::sync::Arc` in every build: the tree's nodes and the published
//! `Arc<Root>` (`tree/`, `fs.rs`, `snapshot.rs`, `transaction.rs`, ...), because `imbl` and
//! `arc_swap` are built on std's `Arc`. Their counts are read only by std itself
//! (`Arc::make_mut`, drop), whose thread safety is std's to guarantee, not ours to model.
//!
//! `arc_swap` is not loom-aware, so under loom the publish cell is a loom `Mutex` around the
//! current `Arc`, with the method names the engine uses (`load`, `load_full`, `swap`,
//! `from_pointee`). The model thus checks the commit protocol built on the cell, the
//! combiner's mutex, the queue and the waiters' spin (`commit.rs`), taking the cell's own linearizability
//! (arc-swap's job, tested by arc-swap) as given.

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

/// The change feed's bounded channel (`watch.rs`) is std's in every build: loom has no bounded
/// channel, and the feed is outside the modelled protocol (the combiner only `try_send`s).
pub(crate) use std::sync::mpsc;

/// The cell through which a new root is published: readers load the current `Arc`, the writer
/// holding the commit mutex swaps a new one in.
#[cfg(not(loom))]
pub(crate) type PublishCell<T> = arc_swap::ArcSwap<T>;

#[cfg(loom)]
pub(crate) use loom_cell::PublishCell;

#[cfg(loom)]
mod loom_cell {
    use std::sync::Arc;

    /// A loom-checkable stand-in for `ArcSwap<T>`: every access is one loom lock, so loom
    /// interleaves threads at each load and each swap.
    pub(crate) struct PublishCell<T> {
        current: loom::sync::Mutex<Arc<T>>,
    }

    impl<T> PublishCell<T> {
        pub(crate) fn from_pointee(value: T) -> Self {
            PublishCell {
                current: loom::sync::Mutex::new(Arc::new(value)),
            }
        }

        /// `ArcSwap::load` returns a guard that derefs to the `Arc`; a clone does the same.
        pub(crate) fn load(&self) -> Arc<T> {
            self.load_full()
        }

        pub(crate) fn load_full(&self) -> Arc<T> {
            self.current.lock().unwrap().clone()
        }

        pub(crate) fn swap(&self, new: Arc<T>) -> Arc<T> {
            std::mem::replace(&mut *self.current.lock().unwrap(), new)
        }
    }
}

/// Waits a little before retry number `attempt` of a transaction that lost to a concurrent
/// commit: yields at first, then sleeps exponentially longer (capped at about 1 ms). Under loom
/// it is one yield, so the model checker can run the other threads.
pub(crate) fn backoff(attempt: u32) {
    #[cfg(not(loom))]
    {
        if attempt < 3 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(std::time::Duration::from_micros(1 << attempt.min(10)));
        }
    }
    #[cfg(loom)]
    {
        let _ = attempt;
        loom::thread::yield_now();
    }
}

/// Locks `m`, recovering the data if a panicking thread poisoned it: every critical section in
/// memfs leaves its data consistent before anything that can panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    #[cfg(not(loom))]
    {
        m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
    #[cfg(loom)]
    {
        m.lock().unwrap()
    }
}

/// Locks `m` if it is free; `None` if another thread holds it. A poisoned mutex is recovered,
/// as in [`lock`].
pub(crate) fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(g) => Some(g),
        Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

/// How many times a queued writer tries the commit mutex (with [`spin_hint`] in between)
/// before it blocks on it. Under loom, twice: enough for the model to check a waiter that sees
/// its operation done while spinning, without the branches of a long spin.
#[cfg(not(loom))]
pub(crate) const SPIN_LIMIT: u32 = 128;
#[cfg(loom)]
pub(crate) const SPIN_LIMIT: u32 = 2;

/// One step of a spin: a CPU hint; under loom a yield, so the model runs the other threads.
pub(crate) fn spin_hint() {
    #[cfg(not(loom))]
    std::hint::spin_loop();
    #[cfg(loom)]
    loom::thread::yield_now();
}
