//! Synthetic RPMs for benchmarks: realistic headers (dozens of files in
//! several directories, versioned requires/provides, changelog, description)
//! with tiny payloads, built with the `rpm` crate's `PackageBuilder`.
//!
//! Output is a pure function of `(index, seed)`: the same arguments always
//! give the same package (build time and mtimes come from the seed, not the
//! clock). Package `i` requires capabilities of packages `< i`, so the set
//! is (apart from `/bin/sh` and libc) closed under its requires.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use rpm::{CompressionWithLevel, Dependency, FileOptions, PackageBuilder};

const WORDS: &[&str] = &[
    "alpha", "bravo", "cargo", "delta", "ember", "flux", "gamma", "harbor", "ion", "jolt", "kappa",
    "lumen", "magma", "nova", "orbit", "pixel", "quartz", "radar", "sigma", "tango", "umbra",
    "vortex", "willow", "xenon", "yodel", "zephyr",
];

const LICENSES: &[&str] = &[
    "MIT",
    "Apache-2.0",
    "GPL-2.0-or-later",
    "BSD-3-Clause",
    "LGPL-2.1-only",
];

/// Base timestamp of generated packages (2024-01-10 12:00:00 UTC).
const BASE_TIME: u32 = 1_704_888_000;

/// splitmix64: tiny, deterministic, good enough to vary package shapes.
struct Rng(u64);

impl Rng {
    fn new(seed: u64, index: u64) -> Self {
        Self(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xD1B5_4A32_D192_ED03)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform-ish in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// Name of synthetic package `index` (distinct for distinct indexes).
pub fn package_name(index: u64) -> String {
    format!(
        "synth-{}-{index:06}",
        WORDS[(index % WORDS.len() as u64) as usize]
    )
}

/// Builds synthetic package number `index` for `seed`.
pub fn package(index: u64, seed: u64) -> Result<rpm::Package> {
    let mut rng = Rng::new(seed, index);
    let name = package_name(index);
    let version = format!(
        "{}.{}.{}",
        rng.range(0, 9),
        rng.range(0, 30),
        rng.range(0, 99)
    );
    let release = format!("{}.el9", rng.range(1, 20));
    let arch = if rng.range(0, 2) == 0 {
        "noarch"
    } else {
        "x86_64"
    };
    let license = rng.pick(LICENSES);
    let word = rng.pick(WORDS);
    let summary = format!("Synthetic {word} package number {index} for benchmarks");
    let build_time = BASE_TIME + (seed % 1000) as u32 * 86_400 + index as u32 % 86_400;

    let mut b = PackageBuilder::new(&name, &version, license, arch, &summary);
    b.using_config(
        rpm::BuildConfig::default()
            .compression(CompressionWithLevel::Gzip(1))
            .source_date(build_time),
    );
    b.release(release.as_str())
        .url(format!("https://example.org/{name}"))
        .vendor("rpmbucket synthetic")
        .packager("Benchmark Generator <bench@example.org>")
        .group("Applications/System")
        .build_host("gen.rpmbucket.test")
        .description(format!(
            "{name} is a synthetic package generated for rpmbucket benchmarks.\n\
             It carries a realistic header (files, dependencies, changelog) and a\n\
             tiny payload. The {word} subsystem is entirely fictional; seed {seed}."
        ));
    if rng.range(0, 4) == 0 {
        b.epoch(rng.range(1, 3) as u32);
    }

    // Files: a program, a config file, docs, a data tree, maybe a library.
    let share = format!("/usr/share/{name}");
    b.with_file_contents(
        format!("#!/bin/sh\necho {name}\n"),
        FileOptions::new(format!("/usr/bin/{name}")).permissions(0o755),
    )?;
    b.with_file_contents(
        format!("# {name} configuration\nlevel = {}\n", rng.range(1, 9)),
        FileOptions::new(format!("/etc/{name}/{name}.conf"))
            .config()
            .noreplace(),
    )?;
    b.with_dir_entry(FileOptions::dir(format!("/etc/{name}")))?;
    b.with_file_contents(
        format!("README for {name}\n"),
        FileOptions::new(format!("/usr/share/doc/{name}/README")).doc(),
    )?;
    b.with_file_contents(
        license.to_string(),
        FileOptions::new(format!("/usr/share/licenses/{name}/LICENSE")).license(),
    )?;
    b.with_dir_entry(FileOptions::dir(share.clone()))?;
    let dirs = rng.range(2, 6);
    for d in 0..dirs {
        let dir = format!("{share}/{}-{d}", rng.pick(WORDS));
        b.with_dir_entry(FileOptions::dir(dir.clone()))?;
        for f in 0..rng.range(4, 12) {
            b.with_file_contents(
                format!("{index}:{d}:{f}\n"),
                FileOptions::new(format!(
                    "{dir}/data-{f:02}.{}",
                    rng.pick(&["txt", "json", "xml"])
                )),
            )?;
        }
    }
    b.with_symlink(FileOptions::symlink(
        format!("/usr/bin/{name}-link"),
        format!("/usr/bin/{name}"),
    ))?;
    b.with_ghost(FileOptions::ghost(format!("/var/log/{name}.log")))?;

    // Dependencies.
    b.provides(Dependency::eq(
        format!("synth-cap-{index}"),
        version.as_str(),
    ));
    b.provides(Dependency::any(format!("synth-virtual({word})")));
    b.requires(Dependency::any("/bin/sh"));
    if arch == "x86_64" {
        let major = rng.range(1, 5);
        let lib = format!("/usr/lib64/lib{name}.so.{major}");
        b.with_file_contents(
            format!("not an ELF object ({name})\n"),
            FileOptions::new(lib).permissions(0o755),
        )?;
        b.provides(Dependency::any(format!("lib{name}.so.{major}()(64bit)")));
        b.requires(Dependency::any("libc.so.6()(64bit)"));
        b.requires(Dependency::any("libc.so.6(GLIBC_2.34)(64bit)"));
    }
    for _ in 0..rng.range(0, 4).min(index) {
        let dep = rng.range(0, index - 1);
        let dep_ver = format!("{}.{}", rng.range(0, 1), rng.range(0, 9));
        match rng.range(0, 2) {
            0 => b.requires(Dependency::greater_eq(format!("synth-cap-{dep}"), dep_ver)),
            1 => b.requires(Dependency::any(package_name(dep))),
            _ => b.recommends(Dependency::any(package_name(dep))),
        };
    }
    if rng.range(0, 3) == 0 {
        b.obsoletes(Dependency::less(format!("{name}-legacy"), version.as_str()));
        b.conflicts(Dependency::less_eq(format!("synth-old-{word}"), "1.0"));
    }

    // Changelog, newest first (rpm's order).
    let entries = rng.range(2, 6);
    for e in 0..entries {
        let when = build_time - (e as u32) * 7 * 86_400;
        b.add_changelog_entry(
            format!(
                "Benchmark Generator <bench@example.org> - {version}-{}",
                entries - e
            ),
            format!(
                "- Change number {} of {name}\n- Tweak the {word} subsystem",
                entries - e
            ),
            when,
        );
    }
    b.build().with_context(|| format!("building {name}"))
}

/// The file name rpmbuild would give the package.
pub fn file_name(pkg: &rpm::Package) -> Result<String> {
    let m = &pkg.metadata;
    Ok(format!(
        "{}-{}-{}.{}.rpm",
        m.get_name()?,
        m.get_version()?,
        m.get_release()?,
        m.get_arch()?
    ))
}

/// Writes packages `0..count` for `seed` into `out` (created if missing),
/// using `threads` worker threads. Returns the written paths in index order.
pub fn generate(count: u64, out: &Path, seed: u64, threads: usize) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let threads = threads.max(1) as u64;
    let chunks: Vec<Result<Vec<PathBuf>>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                s.spawn(move || {
                    let mut paths = Vec::new();
                    let mut i = t;
                    while i < count {
                        let pkg = package(i, seed)?;
                        let path = out.join(file_name(&pkg)?);
                        pkg.write_file(&path)
                            .with_context(|| format!("writing {}", path.display()))?;
                        paths.push(path);
                        i += threads;
                    }
                    Ok(paths)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("generator thread panicked"))
            .collect()
    });
    // Thread t produced indexes t, t+threads, ...: interleave back into order.
    let chunks = chunks.into_iter().collect::<Result<Vec<_>>>()?;
    let mut iters: Vec<_> = chunks.into_iter().map(Vec::into_iter).collect();
    let mut paths = Vec::with_capacity(count as usize);
    for i in 0..count {
        paths.push(
            iters[(i % threads) as usize]
                .next()
                .expect("one path per index"),
        );
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_distinct() {
        let a = package(7, 42).unwrap();
        let b = package(7, 42).unwrap();
        let mut ba = Vec::new();
        let mut bb = Vec::new();
        a.write(&mut ba).unwrap();
        b.write(&mut bb).unwrap();
        assert_eq!(ba, bb, "same index and seed give identical bytes");
        let c = package(8, 42).unwrap();
        assert_ne!(file_name(&a).unwrap(), file_name(&c).unwrap());
    }
}
