//! Fault injection (`MemFs::set_faults`): which calls a rule acts on, what it does, and that a
//! seeded plan is reproducible.

use std::io::{ErrorKind, Write};
use std::time::{Duration, Instant};

use memfs::{Fault, FaultPlan, FaultRule, MemFs};

fn eio() -> Fault {
    Fault::Error(ErrorKind::Other)
}

#[test]
fn a_rule_acts_on_its_op_and_prefix_after_n_calls_k_times_and_changes_nothing() {
    let fs = MemFs::new();
    fs.create_dir("/out").unwrap();
    fs.create_dir("/other").unwrap();
    fs.set_faults(Some(
        FaultPlan::new(1).rule(
            FaultRule::new(Fault::Error(ErrorKind::StorageFull))
                .op("write")
                .prefix("/out/")
                .after(2)
                .times(2),
        ),
    ));
    let results: Vec<bool> = (0..6)
        .map(|i| fs.write(format!("/out/f{i}"), "x").is_ok())
        .collect();
    assert_eq!(results, [true, true, false, false, true, true]);
    assert!(
        !fs.exists("/out/f2") && !fs.exists("/out/f3"),
        "a failed write wrote"
    );
    // Other paths and other operations are not touched.
    fs.write("/other/f", "x").unwrap();
    fs.append("/out/f0", "more").unwrap();
    let e = {
        fs.set_faults(Some(
            FaultPlan::new(1).rule(FaultRule::new(eio()).op("rename").prefix("/other")),
        ));
        // A rename matches on its source or its destination.
        fs.rename("/out/f0", "/other/g").unwrap_err()
    };
    assert!(
        e.to_string()
            .contains("injected fault: rename /out/f0 -> /other/g"),
        "{e}"
    );
    assert!(fs.exists("/out/f0"));
    let plan = fs.set_faults(None).unwrap();
    assert_eq!(plan.acted(), [1]);
    fs.rename("/out/f0", "/other/g").unwrap();
}

#[test]
fn a_delay_slows_the_call_and_then_it_runs() {
    let fs = MemFs::new();
    fs.set_faults(Some(FaultPlan::new(1).rule(
        FaultRule::new(Fault::Delay(Duration::from_millis(30))).op("create_dir"),
    )));
    let t = Instant::now();
    fs.create_dir("/slow").unwrap();
    assert!(t.elapsed() >= Duration::from_millis(30));
    assert!(fs.isdir("/slow"));
}

#[test]
fn the_same_seed_fails_the_same_calls() {
    let pattern = |seed: u64| {
        let fs = MemFs::new();
        fs.set_faults(Some(
            FaultPlan::new(seed).rule(FaultRule::new(eio()).probability(0.3)),
        ));
        (0..200)
            .map(|i| fs.write(format!("/f{i}"), "x").is_err())
            .collect::<Vec<bool>>()
    };
    let a = pattern(42);
    assert_eq!(a, pattern(42));
    assert_ne!(a, pattern(43));
    let failed = a.iter().filter(|f| **f).count();
    assert!((30..=90).contains(&failed), "{failed} of 200 at p = 0.3");
}

#[test]
fn handles_transactions_and_batches_are_covered() {
    let fs = MemFs::new();
    fs.set_faults(Some(
        FaultPlan::new(1)
            .rule(FaultRule::new(eio()).op("flush").prefix("/h"))
            .rule(FaultRule::new(eio()).op("commit").times(1))
            .rule(FaultRule::new(eio()).op("write").prefix("/tx")),
    ));
    let mut f = fs.create("/h").unwrap();
    f.write_all(b"data").unwrap();
    assert!(f.flush().is_err());
    // A write inside a transaction fails where it is made.
    let mut tx = fs.begin();
    assert!(tx.write("/tx/a", "1").is_err());
    tx.write("/ok", "1").unwrap();
    assert!(tx.commit().is_err(), "the commit rule acts once");
    assert!(!fs.exists("/ok"));
    fs.batch(|b| b.write("/ok", "2")).unwrap();
    assert_eq!(fs.read_to_string("/ok").unwrap(), "2");
}

/// Reads fail only where a rule names them: a rule without names leaves every read alone; a
/// named read fails (or waits) on its prefix, on the fast lane and the general one alike
/// (`a/b` relative and `/x/../a/b` reach the same rule), and `open` covers handles.
#[test]
fn reads_fail_where_a_rule_names_them() {
    let fs = MemFs::new();
    fs.create_dir_all("/in/sub").unwrap();
    fs.write("/in/sub/a", "data").unwrap();
    fs.write("/keep", "k").unwrap();
    fs.set_faults(Some(FaultPlan::new(3).rule(FaultRule::new(eio()))));
    assert_eq!(fs.read("/in/sub/a").unwrap(), b"data");
    assert!(fs.write("/x", "y").is_err());
    let eacces = Fault::Error(ErrorKind::PermissionDenied);
    fs.set_faults(Some(
        FaultPlan::new(3)
            .rule(
                FaultRule::new(eacces)
                    .op("read")
                    .op("read_dir")
                    .op("metadata")
                    .op("open")
                    .op("walk")
                    .prefix("/in"),
            )
            .rule(FaultRule::new(Fault::Error(ErrorKind::Other)).op("read_link")),
    ));
    let denied = |r: std::io::Result<()>| {
        assert_eq!(r.unwrap_err().kind(), ErrorKind::PermissionDenied);
    };
    denied(fs.read("/in/sub/a").map(drop));
    denied(fs.read("/x/../in/sub/a").map(drop));
    denied(fs.read_to_string("in/sub/a").map(drop));
    denied(fs.read_dir("/in").map(drop));
    denied(fs.listdir("/in/sub").map(drop));
    denied(fs.metadata("/in/sub/a").map(drop));
    denied(fs.open("/in/sub/a").map(drop));
    denied(fs.walk("/in").map(drop));
    // Not named, or elsewhere: untouched. Questions never fail.
    fs.symlink_metadata("/in/sub/a").unwrap();
    assert_eq!(fs.read("/keep").unwrap(), b"k");
    assert!(fs.exists("/in/sub/a") && fs.isfile("/in/sub/a") && fs.isdir("/in"));
    fs.write("/in/sub/b", "w").unwrap();
    // A snapshot reads without the plan.
    assert_eq!(fs.snapshot().read("/in/sub/a").unwrap(), b"data");
    let plan = fs.set_faults(None).unwrap();
    assert_eq!(plan.acted(), [8, 0]);
    assert_eq!(fs.read("/in/sub/a").unwrap(), b"data");
}
