//! The `memfs` command line (the full CLI comes with its own issue).

fn main() {
    println!(
        "memfs {} - an in-memory virtual filesystem\n",
        env!("CARGO_PKG_VERSION")
    );
    println!("Usage: memfs <COMMAND>\n\nThe command line is not built yet; use the library (see README.md).");
}
