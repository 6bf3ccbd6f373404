//! A data pipeline that snapshots before a risky step, fails half-way, and rolls back; then
//! the same step as a transaction, where a failure publishes nothing at all.
//! Run: `cargo run --release --example snapshot_rollback`

use std::io;

use memfs::MemFs;

/// The risky step: parses every raw record and writes one output file per record. A record
/// that does not parse stops the step with an error, after the earlier outputs were written.
fn transform(fs: &MemFs) -> io::Result<usize> {
    fs.create_dir_all("/data/out")?;
    let mut done = 0;
    for name in fs.listdir("/data/raw")? {
        let text = fs.read_to_string(format!("/data/raw/{name}"))?;
        let value: i64 = text.trim().parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("bad record {name}: {text:?}"),
            )
        })?;
        fs.write(format!("/data/out/{name}"), (value * 2).to_string())?;
        fs.append("/data/progress.log", format!("transformed {name}\n"))?;
        done += 1;
    }
    Ok(done)
}

/// The same step inside a transaction: all outputs appear at once, or none.
fn transform_atomically(fs: &MemFs) -> io::Result<usize> {
    fs.transaction(|tx| {
        tx.create_dir_all("/data/out")?;
        let mut done = 0;
        for name in tx.listdir("/data/raw")? {
            let text = tx.read_to_string(format!("/data/raw/{name}"))?;
            let value: i64 = text.trim().parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("bad record {name}: {text:?}"),
                )
            })?;
            tx.write(format!("/data/out/{name}"), (value * 2).to_string())?;
            tx.append("/data/progress.log", format!("transformed {name}\n"))?;
            done += 1;
        }
        Ok(done)
    })
}

fn show(fs: &MemFs, label: &str) -> io::Result<()> {
    println!("  [{label}]");
    for (dir, _, files) in fs.walk("/data")? {
        for f in files {
            let path = format!("{dir}/{f}");
            let text = fs.read_to_string(&path)?;
            println!("    {path:<24} {:?}", text.trim_end());
        }
    }
    Ok(())
}

fn main() -> io::Result<()> {
    let fs = memfs::create_fs();
    fs.create_dir_all("/data/raw")?;
    for (name, text) in [("a", "1"), ("b", "2"), ("c", "oops"), ("d", "4")] {
        fs.write(format!("/data/raw/{name}"), text)?;
    }

    println!("1. snapshot, run the step, it fails half-way, restore the snapshot");
    let before = fs.snapshot(); // O(1)
    match transform(&fs) {
        Ok(n) => println!("  step succeeded on {n} records"),
        Err(e) => {
            println!("  step failed: {e}");
            show(&fs, "what the failed step left behind")?;
            fs.restore(&before).unwrap();
            show(&fs, "after restore")?;
        }
    }
    assert!(!fs.exists("/data/out") && !fs.exists("/data/progress.log"));

    println!("2. the same step as a transaction: the failure publishes nothing");
    let generation = fs.generation();
    match transform_atomically(&fs) {
        Ok(n) => println!("  step succeeded on {n} records"),
        Err(e) => println!("  step failed: {e}"),
    }
    println!(
        "  generation {generation} -> {} (nothing was published)",
        fs.generation()
    );
    assert_eq!(fs.generation(), generation);
    assert!(!fs.exists("/data/out"));

    println!("3. fix the bad record and run it again: every output appears at once");
    fs.write("/data/raw/c", "3")?;
    let n = transform_atomically(&fs)?;
    println!("  step succeeded on {n} records");
    show(&fs, "final")?;
    assert_eq!(fs.read_to_string("/data/out/d")?, "8");
    println!(
        "  the snapshot taken in step 1 still shows {:?} in /data",
        before.listdir("/data")?
    );
    println!("  stats: {:?}", fs.stats());
    Ok(())
}
