//! The change feed: [`MemFs::watch`] and [`Watcher`].
//!
//! When watchers exist, every publish diffs the new version against the one it replaces
//! (`diff.rs`: cost proportional to what changed), under the commit mutex, and hands each live
//! watcher the changes under its prefix, so a watcher sees every published version's changes in
//! publish order. (Handing watchers the versions themselves, to diff on their own threads, was
//! measured and rejected: the old versions they held were then freed on their threads, which
//! made the writer 3.8x slower.) Writers never wait for a watcher: handing over is a push onto a
//! queue of at most [`QUEUE`] versions' changes; when a watcher falls that far behind, its queue
//! is emptied, it yields one [`ChangeKind::Overflow`] event, and it resumes with the changes
//! published after that (what changed in between is not reported: take a snapshot and diff it,
//! if that matters).
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
use crate::sync::{self, Condvar, Mutex};
use crate::tree::ops::Root;

/// How many published versions a watcher may fall behind before it overflows, unless it was
/// made with [`MemFs::watch_with_capacity`].
pub const QUEUE: usize = 4096;

/// How many times a watcher with nothing to read yields before it sleeps.
const LOOKS_BEFORE_SLEEP: u32 = 64;

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

/// What the commit protocol shares with one watcher.
pub(crate) struct Feed {
    prefix: String,
    state: Mutex<FeedState>,
    ready: Condvar,
}

struct FeedState {
    /// The events of each published version not read yet (only versions with changes under the
    /// prefix).
    versions: VecDeque<Vec<Event>>,
    /// The generation of the last version handed over (what an overflow resumes from).
    generation: u64,
    capacity: usize,
    /// Set when the queue overflowed; the watcher reports it before anything else.
    overflowed: bool,
    /// The filesystem is gone: nothing more will come.
    closed: bool,
    /// The watcher sleeps on `ready` (writers wake it only then: a wake-up is a system call).
    waiting: bool,
}

impl Feed {
    /// Called by the combiner for every published version, with its changes.
    fn push(&self, generation: u64, changes: &[Change]) {
        // Built before the lock is taken: the watcher waits on that lock, not on this filter.
        let events: Vec<Event> = changes
            .iter()
            .filter(|c| at_or_below(&self.prefix, &c.path))
            .map(|c| Event {
                generation,
                path: c.path.clone(),
                kind: c.kind,
            })
            .collect();
        let mut s = sync::lock(&self.state);
        s.generation = generation;
        if events.is_empty() {
            return;
        }
        if s.versions.len() >= s.capacity {
            s.versions.clear();
            s.overflowed = true;
        }
        s.versions.push_back(events);
        let wake = s.waiting;
        drop(s);
        if wake {
            self.ready.notify_one();
        }
    }

    /// Called when the filesystem is dropped.
    pub(crate) fn close(&self) {
        sync::lock(&self.state).closed = true;
        self.ready.notify_all();
    }
}

/// A live feed of the changes under one path, from the moment it was created; see the module
/// documentation. Also an `Iterator` that blocks for the next event and ends when the
/// filesystem is dropped.
pub struct Watcher {
    feed: Arc<Feed>,
    pending: VecDeque<Event>,
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
            state: Mutex::new(FeedState {
                generation: 0,
                versions: VecDeque::new(),
                capacity: versions,
                waiting: false,
                overflowed: false,
                closed: false,
            }),
            ready: Condvar::new(),
        });
        // Registered under the commit mutex, with the version published at that moment, so
        // the first version the feed receives is the next one.
        let last = self.register_watcher(Arc::downgrade(&feed));
        if crate::tree::ops::stat(&last, &p, false).is_err() {
            return Err(error::not_found(format!("{p} (nothing to watch there)")));
        }
        Ok(Watcher {
            feed,
            pending: VecDeque::new(),
        })
    }
}

impl Watcher {
    /// The next event, waiting at most `timeout` for one; `None` if none came (or the
    /// filesystem is gone).
    pub fn recv_timeout(&mut self, timeout: Duration) -> Option<Event> {
        let deadline = Instant::now() + timeout;
        // Before sleeping, look again a few times: under a stream of writes the next version is
        // microseconds away, and a watcher that never sleeps costs writers no wake-up calls.
        let mut looks = 0;
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            let mut s = sync::lock(&self.feed.state);
            if s.overflowed {
                s.overflowed = false;
                // What was queued when it overflowed is gone; later versions follow.
                return Some(Event {
                    generation: s.generation,
                    path: self.feed.prefix.clone(),
                    kind: ChangeKind::Overflow,
                });
            }
            if let Some(events) = s.versions.pop_front() {
                self.pending.extend(events);
                continue;
            }
            if s.closed {
                return None;
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            if looks < LOOKS_BEFORE_SLEEP {
                looks += 1;
                drop(s);
                std::thread::yield_now();
                continue;
            }
            looks = 0;
            s.waiting = true;
            let (mut s, _) = self
                .feed
                .ready
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|p| p.into_inner());
            s.waiting = false;
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
            let s = sync::lock(&self.feed.state);
            if s.closed && s.versions.is_empty() && !s.overflowed {
                return None;
            }
        }
    }
}

/// The commit protocol's list of watchers.
#[derive(Default)]
pub(crate) struct Watchers(Vec<Weak<Feed>>);

impl Watchers {
    pub(crate) fn add(&mut self, feed: Weak<Feed>) {
        self.0.push(feed);
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Hands the changes from `old` to `new` (just published) to every live watcher,
    /// forgetting the dropped ones.
    pub(crate) fn publish(&mut self, old: &Root, new: &Root) {
        self.0.retain(|w| w.strong_count() > 0);
        if self.0.is_empty() {
            return;
        }
        let changes = crate::diff::diff_roots(old, new);
        for w in &self.0 {
            if let Some(feed) = w.upgrade() {
                feed.push(new.generation, &changes);
            }
        }
    }

    pub(crate) fn close(&mut self) {
        for w in self.0.drain(..) {
            if let Some(feed) = w.upgrade() {
                feed.close();
            }
        }
    }
}
