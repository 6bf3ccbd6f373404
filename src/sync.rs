//! The synchronisation shim: the only module that names `std::sync`'s locks and atomics,
//! `loom::sync` or `arc_swap`.
//!
//! Normal builds re-export `std`'s types and `arc_swap::ArcSwap` (as [`PublishCell`]); under
//! `cfg(loom)` (set by the `loom-tests/` crate) the same names are loom's, so the blob store's
//! insert/release protocol and the commit protocol can be model-checked over every
//! interleaving. Code imports `Mutex`, the atomics and the publish cell from here, never from
//! `std::sync` or `arc_swap` directly; so does the blob store for the `Arc` whose count its
//! release protocol reads (`sync::Arc`).
//!
//! One thing stays `std::sync::Arc` in every build: the tree's nodes and the published
//! `Arc<Root>` (`tree/`, `fs.rs`, `snapshot.rs`, `transaction.rs`, ...), because `imbl` and
//! `arc_swap` are built on std's `Arc`. Their counts are read only by std itself
//! (`Arc::make_mut`, drop), whose thread safety is std's to guarantee, not ours to model.
//!
//! `arc_swap` is not loom-aware, so under loom the publish cell is a loom `Mutex` around the
//! current `Arc`, with the same method names (`load`, `load_full`, `compare_and_swap`,
//! `rcu`, `store`, `swap`, `from_pointee`). The model thus checks the commit protocol built on the cell (load, apply,
//! compare-and-swap, retry), taking the cell's own linearizability (arc-swap's job, tested by
//! arc-swap) as given.

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicU64, AtomicUsize, Ordering},
    Arc, Mutex, MutexGuard,
};

/// The cell through which a new root is published: readers load the current `Arc`, writers
/// compare-and-swap a new one in.
#[cfg(not(loom))]
pub(crate) type PublishCell<T> = arc_swap::ArcSwap<T>;

/// What [`PublishCell::load`] returns: derefs to the loaded `Arc`.
#[cfg(not(loom))]
pub(crate) use arc_swap::Guard;

#[cfg(loom)]
pub(crate) use loom_cell::{Guard, PublishCell};

#[cfg(loom)]
mod loom_cell {
    use std::sync::Arc;

    /// A loom-checkable stand-in for `ArcSwap<T>`: every access is one loom lock, so loom
    /// interleaves threads at each load and each compare-and-swap.
    pub(crate) struct PublishCell<T> {
        current: loom::sync::Mutex<Arc<T>>,
    }

    /// A loaded value (arc-swap's `Guard<Arc<T>>` has the same shape).
    pub(crate) struct Guard<T>(Arc<T>);

    impl<T> std::ops::Deref for Guard<T> {
        type Target = Arc<T>;
        fn deref(&self) -> &Arc<T> {
            &self.0
        }
    }

    impl<T> Guard<T> {
        pub(crate) fn into_inner(g: Self) -> Arc<T> {
            g.0
        }
    }

    impl<T> PublishCell<T> {
        pub(crate) fn from_pointee(value: T) -> Self {
            PublishCell {
                current: loom::sync::Mutex::new(Arc::new(value)),
            }
        }

        pub(crate) fn load(&self) -> Guard<T> {
            Guard(self.load_full())
        }

        pub(crate) fn load_full(&self) -> Arc<T> {
            self.current.lock().unwrap().clone()
        }

        /// Stores `new` if the current value is `current` (pointer identity); returns the value
        /// that was current, like `ArcSwap::compare_and_swap`.
        pub(crate) fn compare_and_swap(&self, current: &Arc<T>, new: Arc<T>) -> Guard<T> {
            let mut cur = self.current.lock().unwrap();
            if Arc::ptr_eq(&cur, current) {
                Guard(std::mem::replace(&mut *cur, new))
            } else {
                Guard(cur.clone())
            }
        }

        #[allow(dead_code)] // ArcSwap's API, for code that publishes without a loop
        pub(crate) fn store(&self, new: Arc<T>) {
            *self.current.lock().unwrap() = new;
        }

        #[allow(dead_code)] // ArcSwap's API, for code that publishes without a loop
        pub(crate) fn swap(&self, new: Arc<T>) -> Arc<T> {
            std::mem::replace(&mut *self.current.lock().unwrap(), new)
        }

        pub(crate) fn rcu(&self, mut f: impl FnMut(&Arc<T>) -> T) {
            let mut cur = self.load_full();
            loop {
                let new = Arc::new(f(&cur));
                let prev = self.compare_and_swap(&cur, new);
                if Arc::ptr_eq(&prev, &cur) {
                    return;
                }
                cur = Guard::into_inner(prev);
            }
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
