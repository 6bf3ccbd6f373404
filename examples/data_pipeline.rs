//! The original memfs README's data processing pipeline: CSV in, JSON out, a transformed
//! JSON and a text report, all through `File` handles on an in-memory filesystem, with the
//! `csv` and `serde_json` crates.
//! Run: `cargo run --release --example data_pipeline`

use std::io::{self, BufRead, Write};

use serde_json::{json, Map, Value};

fn other(e: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::other(e)
}

fn main() -> io::Result<()> {
    let fs = memfs::create_fs();
    fs.makedirs("/data/raw", true)?;
    fs.makedirs("/data/processed", true)?;
    fs.makedirs("/data/reports", true)?;

    // 1. A CSV file, written through a File handle.
    println!("1. Creating CSV data in the virtual filesystem...");
    let mut writer = csv::Writer::from_writer(fs.create("/data/raw/input.csv")?);
    writer
        .write_record(["id", "name", "value"])
        .map_err(other)?;
    for (id, name, value) in [
        (1, "Alpha", 100),
        (2, "Beta", 200),
        (3, "Gamma", 300),
        (4, "Delta", 400),
    ] {
        writer
            .write_record([id.to_string(), name.to_string(), value.to_string()])
            .map_err(other)?;
    }
    writer.flush()?; // flushes csv's buffer and publishes the file
    drop(writer);

    // 2. CSV -> JSON (like csv.DictReader: every value is a string).
    println!("2. Processing CSV to JSON...");
    let mut reader = csv::Reader::from_reader(fs.open("/data/raw/input.csv")?);
    let headers = reader.headers().map_err(other)?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(other)?;
        let row: Map<String, Value> = headers
            .iter()
            .zip(record.iter())
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        rows.push(Value::Object(row));
    }
    let out = fs.create("/data/processed/output.json")?;
    serde_json::to_writer_pretty(out, &rows).map_err(other)?;

    // 3. Transform: value as a number, plus a calculated field.
    println!("3. Transforming JSON data...");
    let mut data: Vec<Map<String, Value>> =
        serde_json::from_reader(fs.open("/data/processed/output.json")?).map_err(other)?;
    for item in &mut data {
        let value: i64 = item["value"]
            .as_str()
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "bad value"))?;
        item.insert("value".into(), json!(value));
        item.insert("double_value".into(), json!(value * 2));
    }

    // 4. Save the transformed data.
    println!("4. Saving transformed data...");
    serde_json::to_writer_pretty(fs.create("/data/processed/transformed.json")?, &data)
        .map_err(other)?;

    // 5. A report.
    println!("5. Generating report...");
    let total: i64 = data.iter().map(|i| i["value"].as_i64().unwrap_or(0)).sum();
    let mut report = fs.create("/data/reports/report.txt")?;
    writeln!(report, "DATA PROCESSING REPORT")?;
    writeln!(report, "=====================\n")?;
    writeln!(report, "Processed {} records\n", data.len())?;
    writeln!(report, "Total value: {total}")?;
    writeln!(
        report,
        "Average value: {}\n",
        total as f64 / data.len() as f64
    )?;
    writeln!(report, "Records:")?;
    for item in &data {
        writeln!(
            report,
            "  - {}: {} (doubled: {})",
            item["name"].as_str().unwrap_or("?"),
            item["value"],
            item["double_value"]
        )?;
    }
    drop(report);

    // 6. The directory structure.
    println!("\nFinal directory structure:");
    for (root, dirs, files) in fs.walk("/")? {
        println!("Directory: {root}");
        if !dirs.is_empty() {
            println!("  Subdirectories: {}", dirs.join(", "));
        }
        if !files.is_empty() {
            println!("  Files: {}", files.join(", "));
        }
    }

    // 7. The report, read line by line through a File handle.
    println!("\nGenerated report content:\n{}", "-".repeat(30));
    for line in io::BufReader::new(fs.open("/data/reports/report.txt")?).lines() {
        println!("{}", line?);
    }
    println!("{}", "-".repeat(30));

    assert_eq!(total, 1000);
    assert_eq!(data[3]["double_value"], json!(800));
    assert_eq!(fs.find("*.json", "/data")?.len(), 2);
    Ok(())
}
