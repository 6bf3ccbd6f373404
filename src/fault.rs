//! Fault injection, for testing code that uses memfs: [`FaultPlan`] and
//! [`MemFs::set_faults`].
//!
//! A plan is a list of [`FaultRule`]s, each matching operations by name (`write`, `append`,
//! `rename`, ..., as the `MemFs` methods are called; `flush` for a `File` handle's publish;
//! `commit` for a transaction's or a batch's commit; reads of a `MemFs`, `read`, `read_dir`,
//! `metadata`, `open`, ..., only when a rule names them) and by path prefix, and saying
//! what to do to the matching calls: fail with an `ErrorKind` (nothing is changed) or wait a
//! given time first. A rule can skip the first `after` matching calls, act at most `times`
//! times, and act on each call with a probability, drawn from the plan's seeded generator, so a
//! run is reproducible. The first rule that acts on a call decides. Off by default; with no
//! plan installed a write or a read pays one relaxed atomic load. (`exists`, `isfile` and
//! `isdir` answer a question and cannot fail: no fault applies to them; snapshots and
//! transactions read without the plan, which is the filesystem's.)

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error;
use crate::fs::MemFs;
use crate::path::at_or_below;
use crate::sync::{self, Mutex};

/// What a rule does to a call it acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Fail with this kind; the operation changes nothing.
    Error(io::ErrorKind),
    /// Wait this long, then run the operation.
    Delay(Duration),
}

/// One rule of a [`FaultPlan`].
#[derive(Debug, Clone)]
pub struct FaultRule {
    ops: Vec<String>,
    prefix: String,
    after: u64,
    times: Option<u64>,
    probability: f64,
    fault: Fault,
    seen: u64,
    acted: u64,
}

impl FaultRule {
    /// A rule doing `fault` to every write operation on every path (reads only when named
    /// with [`FaultRule::op`]).
    pub fn new(fault: Fault) -> Self {
        FaultRule {
            ops: Vec::new(),
            prefix: "/".into(),
            after: 0,
            times: None,
            probability: 1.0,
            fault,
            seen: 0,
            acted: 0,
        }
    }

    /// Only operations with this name: a write (`write`, `append`, `create_dir`, `rename`,
    /// `flush`, `commit`, ...) or a read (`read`, `read_dir`, `metadata`, `symlink_metadata`,
    /// `walk`, `get_metadata`, `read_link`, `canonicalize`, `open`; `read_to_string` is a
    /// `read`, `listdir` a `read_dir`); several calls add names.
    pub fn op(mut self, name: &str) -> Self {
        self.ops.push(name.to_string());
        self
    }

    /// Only paths at or below `prefix` (for a rename or copy: the source or the destination).
    pub fn prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.trim_end_matches('/').to_string();
        if self.prefix.is_empty() {
            self.prefix = "/".into();
        }
        self
    }

    /// Let the first `n` matching calls through.
    pub fn after(mut self, n: u64) -> Self {
        self.after = n;
        self
    }

    /// Act at most `n` times.
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Act on each eligible call with probability `p` (0 to 1), drawn from the plan's seed.
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = p.clamp(0.0, 1.0);
        self
    }

    /// A rule without names matches every write; a read only where it is named.
    fn matches(&self, op: &str, read: bool, paths: &[&str]) -> bool {
        let named = if self.ops.is_empty() {
            !read
        } else {
            self.ops.iter().any(|o| o == op)
        };
        named && paths.iter().any(|p| at_or_below(&self.prefix, p))
    }
}

/// A seeded list of [`FaultRule`]s (see the module documentation).
#[derive(Debug, Clone)]
pub struct FaultPlan {
    rules: Vec<FaultRule>,
    rng: u64,
}

impl FaultPlan {
    /// An empty plan whose random draws follow `seed`.
    pub fn new(seed: u64) -> Self {
        FaultPlan {
            rules: Vec::new(),
            rng: seed ^ 0x9e37_79b9_7f4a_7c15,
        }
    }

    /// Adds a rule (rules are tried in the order they were added).
    pub fn rule(mut self, rule: FaultRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// How many times each rule has acted so far, in rule order.
    pub fn acted(&self) -> Vec<u64> {
        self.rules.iter().map(|r| r.acted).collect()
    }

    fn draw(&mut self) -> f64 {
        // xorshift64*: deterministic, good enough for choosing calls.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The fault for this call, if a rule acts on it.
    fn decide(&mut self, op: &str, read: bool, paths: &[&str]) -> Option<Fault> {
        for i in 0..self.rules.len() {
            if !self.rules[i].matches(op, read, paths) {
                continue;
            }
            let r = &mut self.rules[i];
            r.seen += 1;
            if r.seen <= r.after || r.times.is_some_and(|t| r.acted >= t) {
                continue;
            }
            let p = r.probability;
            if p < 1.0 && self.draw() >= p {
                continue;
            }
            let r = &mut self.rules[i];
            r.acted += 1;
            return Some(r.fault);
        }
        None
    }
}

/// The plan installed on a filesystem, if any.
#[derive(Default)]
pub(crate) struct Faults {
    on: AtomicBool,
    plan: Mutex<Option<FaultPlan>>,
}

impl Faults {
    /// Whether a plan is installed (one relaxed load).
    #[inline]
    pub(crate) fn enabled(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Checks a write operation against the plan: `Err` if a rule makes it fail (after its
    /// delay, if it has one).
    #[inline]
    pub(crate) fn check(&self, op: &str, paths: &[&str]) -> io::Result<()> {
        self.check_call(op, false, paths)
    }

    /// Checks a read (`read`, `read_dir`, `metadata`, `open`, ...) of `path` as given by the
    /// caller (made absolute and normalised when it parses).
    #[inline]
    pub(crate) fn check_read(&self, op: &str, path: &std::path::Path) -> io::Result<()> {
        if !self.enabled() {
            return Ok(());
        }
        let text = crate::path::VPath::parse(path)
            .map(|p| p.as_string())
            .unwrap_or_else(|_| path.to_string_lossy().into_owned());
        self.check_call(op, true, &[&text])
    }

    fn check_call(&self, op: &str, read: bool, paths: &[&str]) -> io::Result<()> {
        if !self.on.load(Ordering::Relaxed) {
            return Ok(());
        }
        let fault = sync::lock(&self.plan)
            .as_mut()
            .and_then(|plan| plan.decide(op, read, paths));
        match fault {
            None => Ok(()),
            Some(Fault::Delay(d)) => {
                std::thread::sleep(d);
                Ok(())
            }
            Some(Fault::Error(kind)) => Err(error::err(
                kind,
                format!("injected fault: {op} {}", paths.join(" -> ")),
            )),
        }
    }
}

impl MemFs {
    /// Installs a fault plan (replacing any other), or removes it with `None`. Returns the plan
    /// that was installed before, with its counts (see [`FaultPlan::acted`]).
    ///
    /// ```
    /// use memfs::{Fault, FaultPlan, FaultRule};
    /// use std::io::ErrorKind;
    ///
    /// // The code under test: retries a write up to three times.
    /// fn save(fs: &memfs::MemFs, path: &str, data: &str) -> std::io::Result<u32> {
    ///     let mut attempts = 0;
    ///     loop {
    ///         attempts += 1;
    ///         match fs.write(path, data) {
    ///             Ok(()) => return Ok(attempts),
    ///             Err(e) if attempts < 3 && e.kind() == ErrorKind::StorageFull => continue,
    ///             Err(e) => return Err(e),
    ///         }
    ///     }
    /// }
    ///
    /// let fs = memfs::MemFs::new();
    /// fs.create_dir("/out")?;
    /// // The first two writes under /out fail with ENOSPC, then writes work again.
    /// let plan = FaultPlan::new(7).rule(
    ///     FaultRule::new(Fault::Error(ErrorKind::StorageFull)).op("write").prefix("/out").times(2),
    /// );
    /// fs.set_faults(Some(plan));
    /// assert_eq!(save(&fs, "/out/report.txt", "ok")?, 3);
    /// assert_eq!(fs.read_to_string("/out/report.txt")?, "ok");
    /// let used = fs.set_faults(None).unwrap();
    /// assert_eq!(used.acted(), [2]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_faults(&self, plan: Option<FaultPlan>) -> Option<FaultPlan> {
        let faults = self.faults();
        let mut slot = sync::lock(&faults.plan);
        faults.on.store(plan.is_some(), Ordering::Relaxed);
        std::mem::replace(&mut *slot, plan)
    }
}
