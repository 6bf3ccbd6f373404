//! The original memfs README's thread-pool example: many threads write and read files in one
//! shared filesystem at once. Readers never lock; concurrent writers never lose a change.
//! Run: `cargo run --release --example parallel`

use std::io;
use std::sync::mpsc;
use std::thread;

fn process_file(fs: &memfs::MemFs, i: usize) -> io::Result<String> {
    let path = format!("/parallel/file_{i}.txt");
    fs.writefile(&path, format!("Content for file {i}"))?;
    fs.readfile(&path)
}

fn main() -> io::Result<()> {
    let fs = memfs::create_fs();
    fs.makedirs("/parallel", true)?;

    // A small pool of workers pulling jobs from a shared queue (like ThreadPoolExecutor).
    let workers = 4;
    let jobs = 100;
    let (tx, rx) = mpsc::channel::<usize>();
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    let (done_tx, done_rx) = mpsc::channel::<io::Result<String>>();
    let handles: Vec<_> = (0..workers)
        .map(|_| {
            let fs = fs.clone();
            let rx = rx.clone();
            let done_tx = done_tx.clone();
            thread::spawn(move || loop {
                let job = rx.lock().expect("job queue").recv();
                match job {
                    Ok(i) => done_tx.send(process_file(&fs, i)).expect("result channel"),
                    Err(_) => break,
                }
            })
        })
        .collect();
    for i in 0..jobs {
        tx.send(i).expect("job channel");
    }
    drop(tx);
    drop(done_tx);
    let results: Vec<String> = done_rx.iter().collect::<io::Result<_>>()?;
    for h in handles {
        h.join().expect("worker panicked");
    }

    println!("Processed {} files", results.len());
    let names = fs.listdir("/parallel")?;
    println!("Files in /parallel: {}", names.len());
    assert_eq!(results.len(), jobs);
    assert_eq!(names.len(), jobs);
    Ok(())
}
