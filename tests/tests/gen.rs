//! The synthetic package generator writes valid, distinct RPMs that rpm,
//! createrepo_c and dnf accept.

use std::collections::BTreeSet;
use std::process::Command;

use rpmbucket_tests::{createrepo_c, dnf_nevras, file_url, gen, rpm_nevra, rpm_qf, run};

#[test]
fn generated_packages_are_valid_and_distinct() {
    let dir = tempfile::tempdir().unwrap();
    let paths = gen::generate(40, dir.path(), 7, 2).unwrap();
    assert_eq!(paths.len(), 40);

    let mut nevras = BTreeSet::new();
    for (i, path) in paths.iter().enumerate() {
        // Header and payload digests check out.
        let check = run(Command::new("rpm").args(["-K", "--nosignature"]).arg(path)).unwrap();
        assert!(check.trim_end().ends_with("digests OK"), "{check}");
        let info = run(Command::new("rpm").arg("-qpi").arg(path)).unwrap();
        assert!(info.contains(&format!("Name        : {}", gen::package_name(i as u64))));
        assert!(info.contains("synthetic package generated for rpmbucket benchmarks"));
        let files = rpm_qf(path, "[%{filenames}\n]").unwrap();
        assert!(files.lines().count() >= 20, "{files}");
        let changelog = rpm_qf(path, "[%{changelogtime}\n]").unwrap();
        assert!(changelog.lines().count() >= 2);
        let provides = rpm_qf(
            path,
            "[%{providename} %{provideflags:depflags} %{provideversion}\n]",
        )
        .unwrap();
        assert!(
            provides.contains(&format!("synth-cap-{i} = ")),
            "{provides}"
        );
        nevras.insert(rpm_nevra(path).unwrap());
    }
    assert_eq!(nevras.len(), 40, "distinct NEVRAs");

    createrepo_c(dir.path(), &[]).unwrap();
    assert_eq!(dnf_nevras(&file_url(dir.path())).unwrap(), nevras);
}

#[test]
fn same_seed_same_bytes_other_seed_other_packages() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let pa = gen::generate(5, a.path(), 3, 1).unwrap();
    let pb = gen::generate(5, b.path(), 3, 2).unwrap();
    let pc = gen::generate(5, c.path(), 4, 2).unwrap();
    for (x, y) in pa.iter().zip(&pb) {
        assert_eq!(std::fs::read(x).unwrap(), std::fs::read(y).unwrap());
    }
    let differ = pa
        .iter()
        .zip(&pc)
        .filter(|(x, y)| std::fs::read(x).unwrap() != std::fs::read(y).unwrap())
        .count();
    assert_eq!(differ, 5);
}
