//! Compiles `proto/*.proto` into Rust with prost, using protox (a pure-Rust protobuf
//! compiler) so that no system `protoc` is needed.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from("proto");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("proto/ directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "proto"))
        .collect();
    files.sort();
    println!("cargo:rerun-if-changed=proto");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
    }
    let fds = protox::compile(&files, [&dir]).expect("compile proto/ with protox");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    // Keep the compiled descriptors: tests compare them with the official definitions.
    std::fs::write(out.join("ftapi_fds.bin"), prost::Message::encode_to_vec(&fds)).expect("write descriptor set");
    let mut cfg = prost_build::Config::new();
    // Messages that carry secrets get a hand-written, redacting Debug (src/pb.rs).
    cfg.skip_debug([".Trd_UnlockTrade.C2S", ".InitConnect.S2C"]);
    cfg.compile_fds(fds).expect("generate Rust from proto descriptors");
}
