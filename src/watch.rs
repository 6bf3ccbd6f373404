//! The change feed: [`MemFs::watch`] and [`Watcher`].
//!
//! When watchers exist, every publish diffs the new version against the one it replaces
//! (`diff.rs`: cost proportional to what changed), under the commit mutex, and hands each live
//! watcher the changes under its prefix, so a watcher sees every published version's changes in
//! publish order. (Handing watchers the versions themselves, to diff on their own threads, was
//! measured and rejected: the old versions they held were then freed on their threads, which
//! made the writer 3.8x slower.) Writers never wait for a watcher: handing over is a lock-free
//! `try_send` onto a bounded channel (std's `sync_channel`) of at most [`QUEUE`] versions'
//! changes; a watcher with nothing to read spins briefly and then parks, and a writer wakes it
//! only if it parked. (A mutex-guarded queue that the watcher polled, yielding 64 times before
//! it slept on a condition variable, made a writer of small files 7x slower: the writer and the
//! watcher met on that mutex at every version. The same channel with those 64 yields before
//! parking was 15% slower than without, and the watcher fell behind.)
//!
//! When a watcher falls [`QUEUE`] versions behind, the version that does not fit is dropped and
//! the watcher's next call drops what is still queued and yields one [`ChangeKind::Overflow`]
//! event, whose generation is the last version handed over; it resumes with the changes
//! published after that (what changed in between is not reported: take a snapshot and diff
//! it, if that matters). Each version's generation is stored before it is sent, so whatever
//! the overflow dropped is at or before its generation.
//!
//! A watcher made through a handle with credentials ([`MemFs::as_user`]) needs read permission
//! on its prefix (as inotify does) and gets only the changes those credentials may see: in a
//! directory they may list (`diff::visible`).
//!
//! Events carry the generation of the version that first contains them. A transaction or a
//! batch is one version, so all its changes share its generation; operations of several
//! writers that the combiner published together share the last one's.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::diff::{Change, ChangeKind};
use crate::error;
use crate::fs::MemFs;
use crate::path::{at_or_below, VPath};
use crate::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use crate::sync::{AtomicBool, AtomicU64, Ordering};
use crate::tree::ops::Root;

/// How many published versions a watcher may fall behind before it overflows, unless it was
/// made with [`MemFs::watch_with_capacity`].
pub const QUEUE: usize = 4096;

/// One change seen by a [`Watcher`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The generation of the version that first contains the change (for
    /// [`ChangeKind::Overflow`]: of the version the watcher resumes from).
    pub generation: u64,
    /// Absolute path (for [`ChangeKind::Overflow`]: the watched prefix).
    pub path: String,
    pub kind: ChangeKind,
}

/// What the commit protocol shares with one watcher, besides the channel its versions'
/// events travel on (std's bounded `sync_channel`: a push is a lock-free `try_send`, and a
/// watcher with nothing to read spins briefly and then parks, woken only if it parked).
pub(crate) struct Feed {
    prefix: String,
    /// The generation of the last version handed over (what an overflow resumes from).
    generation: AtomicU64,
    /// Set when a version did not fit; the watcher reports it before anything else.
    overflowed: AtomicBool,
}

/// The combiner's end of one feed.
pub(crate) struct Sink {
    feed: Weak<Feed>,
    tx: SyncSender<(u64, Vec<Event>)>,
    /// The credentials of the handle that made the watcher: it gets only the changes they may
    /// see (`diff::visible`).
    cred: crate::access::Cred,
}

impl Sink {
    /// Called by the combiner for every published version, with its changes; `false` once the
    /// watcher is gone.
    fn push(&self, generation: u64, changes: &[Change]) -> bool {
        let Some(feed) = self.feed.upgrade() else {
            return false;
        };
        let events: Vec<Event> = changes
            .iter()
            .filter(|c| at_or_below(&feed.prefix, &c.path))
            .map(|c| Event {
                generation,
                path: c.path.clone(),
                kind: c.kind,
            })
            .collect();
        feed.generation.store(generation, Ordering::Release);
        if events.is_empty() {
            return true;
        }
        match self.tx.try_send((generation, events)) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                feed.overflowed.store(true, Ordering::Release);
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// A live feed of the changes under one path, from the moment it was created; see the module
/// documentation. Also an `Iterator` that blocks for the next event and ends when the
/// filesystem is dropped.
pub struct Watcher {
    feed: Arc<Feed>,
    rx: Receiver<(u64, Vec<Event>)>,
    pending: VecDeque<Event>,
    /// After an overflow: versions up to this generation were covered by it.
    skip_to: u64,
    /// The filesystem is gone and every version it sent was read.
    closed: bool,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("prefix", &self.feed.prefix)
            .finish_non_exhaustive()
    }
}

impl MemFs {
    /// Watches `prefix` (a directory or a file, which must exist): every change at or below
    /// it published after this call, in publish order, none missed (see [`Watcher`]).
    pub fn watch(&self, prefix: impl AsRef<std::path::Path>) -> io::Result<Watcher> {
        self.watch_with_capacity(prefix, QUEUE)
    }

    /// [`MemFs::watch`], overflowing only after `versions` unread versions (at least 1).
    pub fn watch_with_capacity(
        &self,
        prefix: impl AsRef<std::path::Path>,
        versions: usize,
    ) -> io::Result<Watcher> {
        let p = VPath::parse(prefix)?;
        if versions == 0 {
            return Err(error::invalid_input(
                "a watcher needs room for at least one version",
            ));
        }
        let feed = Arc::new(Feed {
            prefix: p.as_string(),
            generation: AtomicU64::new(0),
            overflowed: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::sync_channel(versions);
        let cred = crate::view::Source::credentials(self).cloned();
        // Registered under the commit mutex, with the version published at that moment, so
        // the first version the feed receives is the next one.
        let last = self.register_watcher(Sink {
            feed: Arc::downgrade(&feed),
            tx,
            cred: cred.clone(),
        });
        if crate::tree::ops::stat(&last, &p, false).is_err() {
            return Err(error::not_found(format!("{p} (nothing to watch there)")));
        }
        if let Some(c) = &cred {
            // As inotify: watching needs read permission on what is watched.
            crate::access::check_read(&last, &p, false, crate::access::ReadNeed::Read, c)?;
        }
        Ok(Watcher {
            feed,
            rx,
            pending: VecDeque::new(),
            skip_to: 0,
            closed: false,
        })
    }
}

impl Watcher {
    /// The next event, waiting at most `timeout` for one; `None` if none came (or the
    /// filesystem is gone).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.feed.overflowed.swap(false, Ordering::AcqRel) {
                // What was queued is dropped; the versions it covered up to now with it.
                while self.rx.try_recv().is_ok() {}
                let generation = self.feed.generation.load(Ordering::Acquire);
                self.skip_to = generation;
                self.pending.clear();
                return Some(Event {
                    generation,
                    path: self.feed.prefix.clone(),
                    kind: ChangeKind::Overflow,
                });
            }
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            if self.closed {
                return None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok((generation, events)) => {
                    if generation > self.skip_to {
                        self.pending.extend(events);
                    }
                }
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => self.closed = true,
            }
        }
    }
}

impl Iterator for Watcher {
    type Item = Event;

    /// Blocks until the next event; `None` once the filesystem is dropped and every event is
    /// delivered.
    fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.recv_timeout(Duration::from_secs(3600)) {
                return Some(e);
            }
            if self.closed && self.pending.is_empty() {
                return None;
            }
        }
    }
}

/// The commit protocol's list of watchers.
#[derive(Default)]
pub(crate) struct Watchers(Vec<Sink>);

impl Watchers {
    pub(crate) fn add(&mut self, sink: Sink) {
        self.0.push(sink);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Hands the changes from `old` to `new` (just published) to every live watcher,
    /// forgetting the dropped ones.
    pub(crate) fn publish(&mut self, old: &Root, new: &Root) {
        self.0.retain(|s| s.feed.strong_count() > 0);
        if self.0.is_empty() {
            return;
        }
        let changes = crate::diff::diff_roots(old, new);
        self.0.retain(|s| match &s.cred {
            None => s.push(new.generation, &changes),
            Some(c) => {
                let seen = crate::diff::visible(changes.clone(), old, new, c);
                s.push(new.generation, &seen)
            }
        });
    }

    /// The filesystem is gone: each watcher reads what was sent, then ends.
    pub(crate) fn close(&mut self) {
        self.0.clear();
    }
}
