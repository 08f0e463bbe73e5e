//! Feeds arbitrary bytes through the whole header path: extent, parse, record, XML.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rpmbucket_repodata::header::{header_extent, RpmHeaders};
use rpmbucket_repodata::parse::{FileHasher, FileInfo, ParseOptions};
use rpmbucket_repodata::xml::{filelists_chunk, other_chunk, primary_chunk};
use rpmbucket_repodata::Package;

fuzz_target!(|data: &[u8]| {
    let _ = header_extent(data);
    let Ok(headers) = RpmHeaders::parse(data) else { return };
    let mut hasher = FileHasher::new(&headers);
    hasher.update(data);
    let _ = hasher.finish();
    let info = FileInfo {
        location_href: "fuzz.rpm".into(),
        checksum_type: "sha256".into(),
        ..Default::default()
    };
    for limit in [-1, 10] {
        let opts = ParseOptions { changelog_limit: limit };
        if let Ok(p) = Package::from_headers(&headers, &info, &opts) {
            let mut out = Vec::new();
            primary_chunk(&p, &mut out);
            filelists_chunk(&p, &mut out);
            other_chunk(&p, &mut out);
        }
    }
});
