use std::io::Read;
fn main() {
    let mode = std::env::var("MODE").unwrap_or_default();
    let fs = memfs::MemFs::new();
    fs.create_dir("/w1").unwrap();
    let files: Vec<String> = (0..10_000).map(|i| format!("/w1/f{i}")).collect();
    for p in &files {
        fs.write(p, vec![7u8; 1024]).unwrap();
    }
    let mut total = 0;
    for _ in 0..2 {
        for p in &files {
            match mode.as_str() {
                "handle" => {
                    let mut f = fs.snapshot().open(p).unwrap();
                    let len = f.metadata().unwrap().len() as usize;
                    let mut data = vec![0; len];
                    f.read_exact(&mut data).unwrap();
                    total += data.len();
                }
                "read" => total += fs.read(p).unwrap().len(),
                "meta_read" => {
                    let m = fs.metadata(p).unwrap().len();
                    if m < 65536 {
                        total += fs.read(p).unwrap().len();
                    }
                }
                _ => {}
            }
        }
    }
    println!("{total}");
}
