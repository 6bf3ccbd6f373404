//! Compiles `proto/*.proto` into Rust (prost messages + tonic services). `protox` parses the
//! files in pure Rust, so no system `protoc` is needed.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    compile_protos();
}

fn compile_protos() {
    let files = ["proto/component.proto", "proto/filesystem.proto"];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = match protox::compile(files, ["proto"]) {
        Ok(fds) => fds,
        Err(e) => panic!("invalid .proto file: {e:?}"),
    };
    if let Err(e) = tonic_prost_build::configure()
        .bytes(".memfs.v1.Chunk.data")
        .bytes(".memfs.v1.WriteRequest.data")
        .bytes(".memfs.v1.Payload.raw")
        .compile_fds(fds)
    {
        panic!("generating gRPC code failed: {e}");
    }
}
