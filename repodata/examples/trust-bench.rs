//! Cost of signing `repomd.xml` and of checking package signatures (BENCHMARKS.md,
//! "Signed metadata"). Usage:
//! `cargo run --release -p rpmbucket-repodata --example trust-bench -- SECRET.asc TRUSTED.asc REPOMD PKG.rpm...`

use std::time::Instant;

use rpmbucket_repodata::header::RpmHeaders;
use rpmbucket_repodata::parse::FileHasher;
use rpmbucket_repodata::trust::{Keyring, SigningKey};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    assert!(
        args.len() >= 4,
        "usage: SECRET.asc TRUSTED.asc REPOMD PKG.rpm..."
    );
    let t = Instant::now();
    let key = SigningKey::from_armored(&std::fs::read_to_string(&args[0]).unwrap()).unwrap();
    println!(
        "load signing key: {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    let ring = Keyring::from_armored(&std::fs::read_to_string(&args[1]).unwrap()).unwrap();
    let repomd = std::fs::read(&args[2]).unwrap();
    let n = 200;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(key.sign_detached(&repomd).unwrap());
    }
    println!(
        "sign repomd.xml ({} bytes): {:.3} ms per signature",
        repomd.len(),
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
    for pkg in &args[3..] {
        let bytes = std::fs::read(pkg).unwrap();
        let reps = 50;
        let t = Instant::now();
        for _ in 0..reps {
            let h = RpmHeaders::parse(&bytes).unwrap();
            ring.verify_package(&h, &bytes).unwrap();
        }
        let sig = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
        let t = Instant::now();
        for _ in 0..reps {
            let h = RpmHeaders::parse(&bytes).unwrap();
            let mut f = FileHasher::new(&h);
            f.update(&bytes);
            f.finish().unwrap();
        }
        let digest = t.elapsed().as_secs_f64() * 1e3 / reps as f64;
        println!(
            "{pkg} ({} bytes): header signature {sig:.3} ms, payload digest + file sha256 {digest:.3} ms",
            bytes.len()
        );
    }
}
