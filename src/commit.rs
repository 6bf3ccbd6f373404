//! The commit protocol: the one way a new version of the tree is published.
//!
//! Readers `load()` the published root from the [`PublishCell`] (an `ArcSwap`) and never wait.
//! Writers do not race each other on the root: one mutex guards the *working root* (the newest
//! version of the tree), and whoever holds it is the **combiner** (flat combining, Hendler et
//! al., SPAA 2010). A writer that finds the mutex free applies its operation and publishes. A
//! writer that finds it taken does not wait for it: it enqueues its operation (an [`Op`], data
//! built in the caller's thread, bytes already hashed and stored) and spins briefly until the
//! combiner marks it done, trying the mutex in between; then it blocks on the mutex. Whenever
//! it gets the mutex, its operation is either done (it returns) or still queued (it becomes the
//! combiner and drains the queue itself). The combiner applies its own operation and every
//! queued one (up to [`MAX_BATCH`]) to the working root **in place**, publishes once, then
//! marks each queued operation done with its own result.
//!
//! Why in place pays: publishing shares the working root's nodes with the published version, so
//! the first operation after a publish copies the path from the root to the node it changes
//! (`Arc::make_mut`); every later operation of the same batch finds those nodes uniquely owned
//! and changes them without copying. A batch of `k` operations pays for about one path copy
//! and one publish instead of `k`, and the waiting writers never touch the tree or the mutex's
//! cache line while they wait. No writer redoes work because another one published first (the
//! previous protocol, compare-and-swap and retry, did; two writers were slower than one).
//!
//! # Invariants
//! - Every published root is the working root as it was after some operation, so it is the
//!   result of whole operations applied in one serial order (the order the combiners applied
//!   them) to the empty tree; readers and snapshots see only whole versions.
//! - An operation that fails leaves the working root as it was: operations that check
//!   everything before changing anything run directly ([`OnError::Unchanged`]); the others run
//!   on a clone that replaces the working root only on success ([`OnError::Restore`]).
//! - A call returns only after the root its operation ran on is published: its change (or, for
//!   a failed call, everything its outcome depended on) is visible to every thread that loads
//!   the root after it returns. A queued operation is marked done only after that publish.
//! - Nobody waits forever: a queued writer either is marked done by a combiner that drained it,
//!   or gets the mutex and drains the queue itself; a combiner drains at most
//!   [`MAX_BATCH`] operations, so its own caller is not held up without bound.
//! - The generation counts successful operations: the published root's generation is the number
//!   of the last operation it contains (a batch of `k` successes advances it by `k`).
//! - If an operation panics (an engine bug), the working root goes back to the published one,
//!   and the operations of that batch get an error instead of a result; later writers proceed.
//! - The previous published root is dropped after the mutex is released: freeing what only
//!   that version owned is the combiner's time, not the next writer's. (Freeing replaced
//!   versions on a reclaimer thread, one by one or in batches of 64 through a bounded channel,
//!   was measured and rejected: it made one writer 3-4x slower, see BENCHMARKS.md.)
//!
//! The protocol is model-checked in `loom-tests/tests/commit.rs` (under `cfg(loom)` the
//! mutexes, atomics and publish cell are loom's, and a waiter spins twice before it blocks).

use std::io;
// std's Arc for roots, as the publish cell and the tree use (see `sync`'s module doc).
use std::sync::Arc as StdArc;

use crate::error;
use crate::op::Op;
use crate::quota::{Limits, Quota, Usage};
use crate::sync::{self, Arc, AtomicBool, AtomicUsize, Mutex, MutexGuard, Ordering, PublishCell};
use crate::tree::ops::{Root, WriteCtx};

/// A combiner applies at most this many queued operations before it publishes and returns.
pub(crate) const MAX_BATCH: usize = 256;

/// What a failing operation may have done to the root it ran on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OnError {
    /// It checks everything before it changes anything: on `Err` the root is untouched.
    Unchanged,
    /// It may fail half way: run it on a clone, kept only on success.
    Restore,
}

/// A queued operation and, once done, its result.
struct Request {
    op: Op<'static>,
    /// The credentials of the handle that asked (access checks run with them).
    cred: crate::access::Cred,
    result: Mutex<Option<io::Result<u64>>>,
    done: AtomicBool,
}

impl Request {
    fn finish(&self, result: io::Result<u64>) {
        *sync::lock(&self.result) = Some(result);
    }

    fn take(&self) -> io::Result<u64> {
        sync::lock(&self.result)
            .take()
            .unwrap_or_else(|| Err(lost()))
    }
}

fn lost() -> io::Error {
    error::err(
        io::ErrorKind::Other,
        "an operation applied with this one panicked before they were published; \
         this change was not applied",
    )
}

/// The combiner's side, behind the mutex.
struct Working {
    /// The newest version; `root.generation` is the number of the last operation applied.
    root: Root,
    /// Queued operations applied in the current batch, to mark done after the publish.
    batch: Vec<Arc<Request>>,
    /// The change feeds (`watch.rs`): each published version is handed to them.
    watchers: crate::watch::Watchers,
    /// The limits and the working root's usage, while limits are set (`quota.rs`).
    quota: Option<Quota>,
}

/// The published root and the machinery that replaces it.
pub(crate) struct Committer {
    cell: PublishCell<Root>,
    working: Mutex<Working>,
    queue: Mutex<Vec<Arc<Request>>>,
    /// How many requests `queue` holds (changed under its lock), so that a combiner with
    /// nothing queued does not take the lock to find out.
    queued: AtomicUsize,
    /// Whether `Working::quota` is set (changed under the working lock), so that asking for
    /// the limits of a filesystem without any takes no lock.
    limited: AtomicBool,
}

/// Held by a combiner while it applies operations: if one panics, the working root goes back
/// to the published version and the batch's queued operations are marked done with an error.
struct Combining<'a> {
    committer: &'a Committer,
    working: MutexGuard<'a, Working>,
}

impl Drop for Combining<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let w = &mut *self.working;
        let applied = w.root.generation;
        w.root = Root::clone(&self.committer.cell.load_full());
        w.root.generation = applied;
        if let Some(q) = &mut w.quota {
            *q = Quota::new(q.limits(), &w.root);
        }
        for req in w.batch.drain(..) {
            req.finish(Err(lost()));
            req.done.store(true, Ordering::Release);
        }
    }
}

/// Runs `f` on `root` with `on_error`'s rule; the generation is the protocol's, whatever `f`
/// does to it (a loader replaces the whole root). With a quota, the version before `f` is kept
/// and the change is charged to the quota; a change the quota refuses is undone.
fn run<T>(
    root: &mut Root,
    on_error: OnError,
    quota: Option<&mut Quota>,
    f: impl FnOnce(&mut Root) -> io::Result<T>,
) -> io::Result<T> {
    let before = root.generation;
    // A node the operation changed that has other links is changed at all of them.
    let f = |root: &mut Root| {
        let v = f(root)?;
        crate::tree::links::sync(root)?;
        Ok(v)
    };
    let out = match (quota, on_error) {
        (None, OnError::Unchanged) => f(root),
        (None, OnError::Restore) => {
            let mut next = root.clone();
            let out = f(&mut next);
            if out.is_ok() {
                *root = next;
            }
            out
        }
        (Some(quota), _) => {
            let old = root.clone();
            let out = f(root).and_then(|v| quota.charge(&old, root).map(|()| v));
            if out.is_err() {
                *root = old;
            }
            out
        }
    };
    if out.is_err() {
        root.links.discard_changes();
    }
    root.generation = before + u64::from(out.is_ok());
    out
}

impl Drop for Committer {
    /// Tells the watchers that nothing more will come.
    fn drop(&mut self) {
        sync::lock(&self.working).watchers.close();
    }
}

impl Committer {
    pub(crate) fn new(root: Root) -> Self {
        Committer {
            cell: PublishCell::from_pointee(root.clone()),
            working: Mutex::new(Working {
                root,
                batch: Vec::new(),
                watchers: Default::default(),
                quota: None,
            }),
            queue: Mutex::new(Vec::new()),
            queued: AtomicUsize::new(0),
            limited: AtomicBool::new(false),
        }
    }

    /// Runs `f` on the published root (pinned only while `f` runs).
    pub(crate) fn with_published<R>(&self, f: impl FnOnce(&Root) -> R) -> R {
        f(&self.cell.load())
    }

    /// Adds a change feed; returns the version published at that moment (the feed receives
    /// every later one).
    pub(crate) fn register_watcher(&self, feed: crate::watch::Sink) -> StdArc<Root> {
        let mut w = sync::lock(&self.working);
        w.watchers.add(feed);
        self.cell.load_full()
    }

    /// Sets (or, unlimited, removes) the quota; the working root's usage is counted once, when
    /// limits are first set.
    pub(crate) fn set_limits(&self, limits: Limits) {
        let mut w = sync::lock(&self.working);
        let w = &mut *w;
        match (&mut w.quota, limits.is_unlimited()) {
            (_, true) => w.quota = None,
            (Some(q), false) => q.set_limits(limits),
            (None, false) => w.quota = Some(Quota::new(limits, &w.root)),
        }
        self.limited.store(w.quota.is_some(), Ordering::Release);
    }

    pub(crate) fn limits(&self) -> Limits {
        if !self.limited.load(Ordering::Acquire) {
            return Limits::default();
        }
        sync::lock(&self.working)
            .quota
            .as_ref()
            .map_or_else(Limits::default, Quota::limits)
    }

    /// What the newest version uses (counted now, by a walk, if no limits are set).
    pub(crate) fn usage(&self) -> Usage {
        let w = sync::lock(&self.working);
        match &w.quota {
            Some(q) => q.usage(),
            None => {
                let root = w.root.clone();
                drop(w);
                crate::quota::usage_of(&root)
            }
        }
    }

    /// The published root, pinned.
    pub(crate) fn load_full(&self) -> StdArc<Root> {
        self.cell.load_full()
    }

    /// Applies `op` to the newest version of the tree and returns once it is published: as the
    /// combiner if the mutex is free, otherwise queued for the combiner.
    pub(crate) fn apply(&self, op: &Op, ctx: &WriteCtx) -> io::Result<u64> {
        if let Some(w) = sync::try_lock(&self.working) {
            return self
                .combine(
                    w,
                    Some((op.on_error(), |root: &mut Root| op.apply(root, ctx))),
                    ctx,
                )
                .expect("an own operation gives a result");
        }
        let req = Arc::new(Request {
            // Borrowed by the uncontended path above (no move of the operation, whose paths
            // keep their names inline); copied only here, when it is queued.
            op: op.clone().into_owned(),
            cred: ctx.cred.cloned(),
            result: Mutex::new(None),
            done: AtomicBool::new(false),
        });
        {
            let mut queue = sync::lock(&self.queue);
            queue.push(req.clone());
            self.queued.store(queue.len(), Ordering::Release);
        }
        // Spin a little (the combiner is usually done within microseconds), then block on the
        // mutex: whoever gets it next either finds our request done or drains it itself.
        let mut spins = 0;
        loop {
            if req.done.load(Ordering::Acquire) {
                return req.take();
            }
            let w = if spins < sync::SPIN_LIMIT {
                spins += 1;
                match sync::try_lock(&self.working) {
                    Some(w) => w,
                    None => {
                        sync::spin_hint();
                        continue;
                    }
                }
            } else {
                sync::lock(&self.working)
            };
            if req.done.load(Ordering::Acquire) {
                return req.take();
            }
            // The holder left with our operation still queued: drain it ourselves.
            self.combine(w, None::<(OnError, fn(&mut Root) -> io::Result<()>)>, ctx);
        }
    }

    /// Applies `f` to the newest version of the tree (waiting for the mutex) and returns once
    /// the result is published. `f` runs as the combiner: it must be short (build contents,
    /// hash, compress before calling this) and must not commit itself (the mutex is not
    /// reentrant). An `Err` from `f` publishes nothing of its own.
    pub(crate) fn commit<T>(
        &self,
        on_error: OnError,
        f: impl FnOnce(&mut Root) -> io::Result<T>,
        ctx: &WriteCtx,
    ) -> io::Result<T> {
        self.combine(sync::lock(&self.working), Some((on_error, f)), ctx)
            .expect("an own operation gives a result")
    }

    /// As the combiner: runs its own operation (if any; its result is returned), then the
    /// queued ones, publishes, marks them done.
    fn combine<T>(
        &self,
        working: MutexGuard<'_, Working>,
        own: Option<(OnError, impl FnOnce(&mut Root) -> io::Result<T>)>,
        ctx: &WriteCtx,
    ) -> Option<io::Result<T>> {
        let mut c = Combining {
            committer: self,
            working,
        };
        let start = c.working.root.generation;
        let w = &mut *c.working;
        let out = own.map(|(on_error, f)| run(&mut w.root, on_error, w.quota.as_mut(), f));
        while c.working.batch.len() < MAX_BATCH {
            if self.queued.load(Ordering::Acquire) == 0 {
                // A request queued after this check is drained by its own writer, which keeps
                // trying the mutex while it waits.
                break;
            }
            let queued = {
                let mut queue = sync::lock(&self.queue);
                self.queued.store(0, Ordering::Release);
                std::mem::take(&mut *queue)
            };
            let w = &mut *c.working;
            // In the batch before they run: a panic below still marks every one done.
            let first = w.batch.len();
            w.batch.extend(queued);
            for i in first..w.batch.len() {
                let req = &w.batch[i];
                let ctx = WriteCtx {
                    cred: req.cred.as_ref(),
                    ..*ctx
                };
                let result = run(&mut w.root, req.op.on_error(), w.quota.as_mut(), |root| {
                    req.op.apply(root, &ctx)
                });
                req.finish(result);
            }
        }
        let w = &mut *c.working;
        let old = (w.root.generation != start).then(|| {
            let old = self.cell.swap(StdArc::new(w.root.clone()));
            if !w.watchers.is_empty() {
                w.watchers.publish(&old, &w.root);
            }
            old
        });
        for req in w.batch.drain(..) {
            req.done.store(true, Ordering::Release);
        }
        drop(c);
        drop(old);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blob::BlobStore;
    use crate::path::VPath;
    use crate::sync::AtomicU64;
    use crate::tree::ops;

    fn names(root: &Root) -> Vec<String> {
        match &root.node {
            crate::tree::node::Node::Dir(d) => d
                .children()
                .unwrap()
                .keys()
                .map(|k| k.to_string())
                .collect(),
            _ => unreachable!(),
        }
    }

    struct Fixture {
        c: Committer,
        store: BlobStore,
        inos: AtomicU64,
    }

    impl Fixture {
        fn new() -> Self {
            Fixture {
                c: Committer::new(Root::empty()),
                store: BlobStore::new(),
                inos: AtomicU64::new(2),
            }
        }

        fn ctx(&self) -> WriteCtx<'_> {
            WriteCtx {
                store: &self.store,
                inos: &self.inos,
                cred: None,
            }
        }

        /// Through the queue-or-combine path.
        fn mkdir(&self, name: &str) -> io::Result<u64> {
            self.c.apply(&Op::create_dir(name)?, &self.ctx())
        }

        /// Through the closure path.
        fn commit<T>(
            &self,
            on_error: OnError,
            f: impl FnOnce(&mut Root, &WriteCtx) -> io::Result<T>,
        ) -> io::Result<T> {
            let ctx = self.ctx();
            self.c.commit(on_error, |r| f(r, &ctx), &ctx)
        }
    }

    fn mkdir(root: &mut Root, ctx: &WriteCtx, name: &str) -> io::Result<()> {
        ops::create_dir(root, ctx, &VPath::parse(name)?)
    }

    #[test]
    fn generation_counts_successful_operations() {
        let f = Fixture::new();
        f.mkdir("/a").unwrap();
        assert!(f.mkdir("/a").is_err());
        f.mkdir("/b").unwrap();
        assert_eq!(f.c.with_published(|r| r.generation), 2);
        assert_eq!(f.c.with_published(names), ["a", "b"]);
    }

    #[test]
    fn restore_discards_what_a_failing_operation_did_half_way() {
        let f = Fixture::new();
        let e = f
            .commit(OnError::Restore, |r, c| {
                mkdir(r, c, "/half")?;
                mkdir(r, c, "/half")
            })
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert!(f.c.with_published(names).is_empty());
        f.mkdir("/next").unwrap();
        assert_eq!(f.c.with_published(names), ["next"]);
    }

    #[test]
    fn an_operation_that_panics_half_way_changes_nothing_and_later_writers_proceed() {
        let f = Fixture::new();
        f.mkdir("/before").unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            f.commit(OnError::Unchanged, |r, c| -> io::Result<()> {
                mkdir(r, c, "/half").unwrap();
                panic!("an engine bug")
            })
        }));
        assert!(panicked.is_err());
        f.mkdir("/after").unwrap();
        assert_eq!(f.c.with_published(names), ["after", "before"]);
    }

    #[test]
    fn queued_operations_get_an_error_when_the_combiner_panics() {
        let f = Fixture::new();
        let started = std::sync::Barrier::new(2);
        std::thread::scope(|s| {
            let queued = s.spawn(|| {
                started.wait();
                f.mkdir("/queued")
            });
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                f.commit(OnError::Unchanged, |r, c| -> io::Result<()> {
                    mkdir(r, c, "/half").unwrap();
                    started.wait();
                    // Wait until the other writer has queued its operation.
                    while sync::lock(&f.c.queue).is_empty() {
                        std::thread::yield_now();
                    }
                    panic!("an engine bug")
                })
            }));
            // It was drained by the combiner that panicked: an error, or (if it queued too
            // late for that batch) applied by the next combiner. Never a hang, never half.
            match queued.join().unwrap() {
                Ok(_) => assert_eq!(f.c.with_published(names), ["queued"]),
                Err(e) => {
                    assert!(e.to_string().contains("panicked"), "{e}");
                    assert!(f.c.with_published(names).is_empty());
                }
            }
        });
    }

    #[test]
    fn many_threads_each_get_their_own_result_and_nothing_is_lost() {
        let f = Fixture::new();
        std::thread::scope(|s| {
            for t in 0..8 {
                let f = &f;
                s.spawn(move || {
                    for i in 0..200 {
                        let name = format!("/t{t}-{i}");
                        f.mkdir(&name).unwrap();
                        // The same name again fails, for this caller only.
                        let again = f.mkdir(&name);
                        assert_eq!(again.unwrap_err().kind(), io::ErrorKind::AlreadyExists);
                        // Returned means published: this thread sees its own change.
                        assert!(f
                            .c
                            .with_published(|r| names(r).contains(&name[1..].to_string())));
                    }
                });
            }
        });
        assert_eq!(f.c.with_published(names).len(), 1600);
        assert_eq!(f.c.with_published(|r| r.generation), 1600);
    }
}
