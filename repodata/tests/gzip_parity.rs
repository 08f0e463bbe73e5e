//! Our gzip files are modifyrepo_c's, byte for byte: for the same input the real `modifyrepo_c`
//! (createrepo_c's `gzopen`/`gzwrite`, C zlib at level 6) and [`CompressedFile`] /
//! [`gzip_member`] write the same bytes, so the repomd records agree in checksum, size,
//! open-checksum and open-size. The inputs cover one deflate block, many blocks with the window
//! sliding, text with few matches and an empty file. Without modifyrepo_c the test
//! fails under `CI` and skips loudly elsewhere (`rpmbucket_testenv`).

use std::path::Path;

use rpmbucket_repodata::compress::{gzip_member, CompressedFile, Compression};
use rpmbucket_repodata::repomd::Repomd;

/// A deterministic pseudo-random sequence (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Inputs of different shapes, by name.
fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let small = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<updates/>\n".to_vec();
    // XML-like text with repeats at every distance: several MB, many blocks, the window slides.
    let mut xml = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<updates>\n".to_vec();
    for i in 0..40_000u64 {
        let r = rng.next();
        xml.extend_from_slice(
            format!(
                "  <update id=\"FX-{i:05}\" type=\"{}\"><title>fx-{} {}</title></update>\n",
                ["security", "bugfix", "enhancement"][(r % 3) as usize],
                r % 997,
                r >> 40
            )
            .as_bytes(),
        );
    }
    xml.extend_from_slice(b"</updates>\n");
    // Printable noise (modifyrepo_c refuses input its libmagic cannot name): few matches,
    // blocks of mostly literals.
    let mut noise = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<noise>\n".to_vec();
    noise.extend((0..300_000).map(|i| match i % 61 {
        60 => b'\n',
        _ => b'A' + (rng.next() >> 59) as u8 + (rng.next() >> 60) as u8,
    }));
    noise.extend_from_slice(b"</noise>\n");
    vec![
        ("small.xml", small),
        ("big.xml", xml),
        ("noise.txt", noise),
        ("empty.xml", Vec::new()),
    ]
}

/// Runs modifyrepo_c on `src` into `repodata/` and returns the written file and its record.
fn modifyrepo(src: &Path, repodata: &Path) -> (Vec<u8>, rpmbucket_repodata::repomd::RepomdRecord) {
    let name = src.file_name().unwrap().to_str().unwrap().replace('.', "_");
    rpmbucket_testenv::modifyrepo_c(&[&format!("--mdtype={name}")], src, repodata);
    let md = Repomd::parse(&std::fs::read(repodata.join("repomd.xml")).unwrap()).unwrap();
    let rec = md
        .record(&name)
        .expect("the record modifyrepo_c added")
        .clone();
    let bytes = std::fs::read(repodata.parent().unwrap().join(&rec.location_href)).unwrap();
    (bytes, rec)
}

#[test]
fn gzip_files_equal_modifyrepo_c() {
    if !rpmbucket_testenv::tool("modifyrepo_c") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let repodata = rpmbucket_testenv::empty_repodata(dir.path());
    for (name, data) in inputs() {
        let src = dir.path().join(name);
        std::fs::write(&src, &data).unwrap();
        let (theirs, rec) = modifyrepo(&src, &repodata);
        assert!(rec.location_href.ends_with(".gz"), "{name}: {rec:?}");

        // A file written in uneven pieces, as the writers feed it.
        let path = dir.path().join(format!("{name}.gz"));
        let mut f = CompressedFile::create(&path, Compression::Gz).unwrap();
        for piece in data.chunks(7919) {
            f.write_all(piece).unwrap();
        }
        let digest = f.finish().unwrap();
        let ours = std::fs::read(&path).unwrap();
        assert_eq!(&ours[..10], &theirs[..10], "{name}: gzip header");
        assert!(
            ours == theirs,
            "{name}: {} bytes from us, {} from modifyrepo_c; first difference at byte {:?}",
            ours.len(),
            theirs.len(),
            ours.iter().zip(&theirs).position(|(a, b)| a != b)
        );
        assert_eq!(
            (
                &digest.checksum,
                digest.size,
                &digest.open_checksum,
                digest.open_size
            ),
            (
                &rec.checksum,
                rec.size,
                rec.open_checksum.as_ref().unwrap(),
                rec.open_size.unwrap()
            ),
            "{name}: record"
        );
        // One member in one call, as the engine makes each chunk's.
        assert!(gzip_member(&data) == theirs, "{name}: gzip_member");
    }
}
