//! The synchronisation shim: the only module that names `std::sync` or `loom::sync`.
//!
//! Normal builds re-export `std`'s types; under `cfg(loom)` (set by the `loom-tests/` crate) the
//! same names are loom's, so the blob store's insert/release protocol and the commit protocol
//! can be model-checked over every interleaving. Code that must be loom-checkable imports
//! `Arc`, `Mutex` and the atomics from here, never from `std::sync` directly.

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
