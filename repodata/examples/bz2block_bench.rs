//! Times `bz2block::compress` against a plain one-stream bzip2 of the same file, and the
//! incremental case (a newer version of the file with the older one's blocks to reuse).
//!
//! `cargo run --release -p rpmbucket-repodata --example bz2block_bench -- OLD [NEW [OUT_DIR]]`
//!
//! With OUT_DIR, the level 5 / 256 KiB streams of OLD (`old.bz2`) and of NEW compressed reusing
//! OLD's blocks (`new.bz2`) are written there, to check them with other decoders.

use std::io::Write;
use std::time::Instant;

use rpmbucket_repodata::bz2block::{compress, max_slice_len};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(old_path) = args.first() else {
        eprintln!("usage: bz2block_bench OLD [NEW [OUT_DIR]]");
        std::process::exit(2);
    };
    let old = std::fs::read(old_path).expect("read OLD");
    println!("input: {} bytes", old.len());
    for level in [9, 5] {
        let t = Instant::now();
        let mut enc = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::new(level));
        enc.write_all(&old).unwrap();
        let plain = enc.finish().unwrap();
        println!(
            "level {level} plain bzip2 crate: {} bytes, {:.2} s",
            plain.len(),
            t.elapsed().as_secs_f64()
        );
        for slice in [64 * 1024, 128 * 1024, 256 * 1024, max_slice_len(level)] {
            for threads in [1, 2] {
                let t = Instant::now();
                let b = compress(&old, slice, level, threads, None).unwrap();
                println!(
                    "level {level} slice {slice} threads {threads}: {} bytes ({:+.2}% vs plain), {} blocks, {:.2} s",
                    b.stream.len(),
                    (b.stream.len() as f64 / plain.len() as f64 - 1.0) * 100.0,
                    b.blocks.len(),
                    t.elapsed().as_secs_f64()
                );
            }
        }
    }
    if let Some(new_path) = args.get(1) {
        let new = std::fs::read(new_path).expect("read NEW");
        for (level, slice) in [
            (5, 64 * 1024),
            (5, 128 * 1024),
            (5, 256 * 1024),
            (9, 64 * 1024),
            (9, 256 * 1024),
            (9, max_slice_len(9)),
        ] {
            let prev = compress(&old, slice, level, 2, None).unwrap();
            for threads in [1, 2] {
                let t = Instant::now();
                let b = compress(
                    &new,
                    slice,
                    level,
                    threads,
                    Some((&prev.stream, &prev.blocks)),
                )
                .unwrap();
                println!(
                    "incremental level {level} slice {slice} threads {threads}: reused {} compressed {}, {:.3} s",
                    b.reused,
                    b.compressed,
                    t.elapsed().as_secs_f64()
                );
                if let (Some(dir), 5, 262_144, 2) = (args.get(2), level, slice, threads) {
                    let dir = std::path::Path::new(dir);
                    std::fs::write(dir.join("old.bz2"), &prev.stream).expect("write old.bz2");
                    std::fs::write(dir.join("new.bz2"), &b.stream).expect("write new.bz2");
                }
            }
        }
    }
}
