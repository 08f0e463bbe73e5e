//! Day-2 commands on one repository (a directory or `s3://BUCKET/PREFIX`): `config`, `add`,
//! `ls`, `rm` and `status`. Each opens the repository's store, asks the engine for its
//! published generation ([`Indexer::snapshot`]) and, where it changes something, publishes
//! through the engine like every other writer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{bail, Context as _};
use clap::Args;
use rpmbucket_engine::layout::normalise_prefix;
use rpmbucket_engine::store::s3::{parse_url, S3Options};
use rpmbucket_engine::{
    retention, store, Change, Compression, Indexer, Layout, ObjectStore, PackagePolicy, Profile,
    PutOptions, RepoConfig, Snapshot, TrustedKeys,
};
use rpmbucket_repodata::page::datetime;

use crate::remote::{flat, runtime};

/// One repository: its store and its root in that store.
pub struct Repo {
    store: Arc<dyn ObjectStore>,
    /// Normalised root (`""` or ending in `/`).
    root: String,
    /// How keys are shown: `s3://bucket/` or `DIR/`.
    display: String,
}

impl Repo {
    /// `s3://BUCKET[/PREFIX]` (the prefix is the repository root) or a directory (the
    /// repository is the directory itself).
    pub async fn open(location: &str) -> anyhow::Result<Repo> {
        if location.starts_with("s3://") {
            let (bucket, prefix) = parse_url(location)?;
            let base = format!("s3://{bucket}");
            let store = store::open(&base, &S3Options::default())
                .await
                .map_err(|e| flat(format!("opening {base}"), e))?;
            return Ok(Repo {
                store,
                root: normalise_prefix(&prefix),
                display: format!("{base}/"),
            });
        }
        let path = location.strip_prefix("file://").unwrap_or(location);
        if !Path::new(path).is_dir() {
            bail!("{path} is not a directory (a repository is a directory or s3://BUCKET/PREFIX)");
        }
        let store = store::open(path, &S3Options::default())
            .await
            .map_err(|e| flat(format!("opening {path}"), e))?;
        Ok(Repo {
            store,
            root: String::new(),
            display: format!("{}/", path.trim_end_matches('/')),
        })
    }

    fn indexer(&self, config: RepoConfig) -> Indexer {
        Indexer::new(self.store.clone(), Layout::from_env(), config)
    }

    fn show(&self, key: &str) -> String {
        format!("{}{key}", self.display)
    }

    async fn snapshot(&self) -> anyhow::Result<Snapshot> {
        self.indexer(RepoConfig::from_env())
            .snapshot(&self.root)
            .await
            .map_err(|e| flat(format!("reading {}", self.show(&self.root)), e))
    }
}

/// Example lines shown under `--help`.
pub const CONFIG_HELP: &str = "\
Keys (applied in order, so later keys override a profile):
  profile=compat|modern              compat: gzip XML + sqlite (createrepo_c 0.x, EL7 yum);
                                     modern: zstd XML, no sqlite (createrepo_c 1.x defaults)
  compression=gz|zstd|xz|bz2|none   XML compression
  sqlite=on|off                      publish the sqlite databases
  changelog-limit=N                  changelog entries kept per package (-1: all)
  keep-versions=N|off                keep the N newest versions per name and arch
  keep-days=D|off                    never drop a package uploaded less than D days ago
  page=on|off                        write the browsable index.html
  package-policy=off|signed|keys     which packages are published: all, signed by a trusted
                                     key or the repository's signing key, signed by a trusted key
  trusted-keys=@FILE|none            armored public keys trusted to sign packages
                                     (`gpg --export --armor`; shown as fingerprints)
  signing=off                        stop signing repomd.xml (shown: the signing key's
                                     fingerprint). The signing key itself is never stored: it is
                                     the publisher's (--signing-key, RPMBUCKET_SIGNING_KEY); a
                                     signed repository is changed only with it (or signing=off).

  max-upload-size=SIZE|off           largest package `serve` and the gateway accept into this
                                     repository: bytes, or with K, M, G, T (KiB…TiB); the
                                     smaller of this and the server's --max-upload applies
Every publisher (the CLI, `rpmbucket serve`, the gateway and the indexer Lambda) uses these
stored settings.

Examples:
  rpmbucket config s3://my-rpms/el9/x86_64/
  rpmbucket config ./repo keep-versions=3 keep-days=14 --dry-run
  rpmbucket config ./repo profile=modern
  rpmbucket config ./repo profile=modern sqlite=on
  rpmbucket config ./repo package-policy=keys trusted-keys=@release-keys.asc
  rpmbucket config s3://my-rpms/el9/ keep-versions=5 --signing-key repo-key.asc
  rpmbucket config ./repo max-upload-size=512M

Exit status: 0 shown or changed, 1 error (bad KEY=VALUE, unreadable repository)";

/// Options of `rpmbucket config`.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// The repository: a directory or s3://BUCKET/PREFIX.
    pub repo: String,
    /// Settings to change, KEY=VALUE (none: show the settings).
    #[arg(value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Show the new settings and what retention would drop, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub signing: crate::trust::SigningArgs,
}

/// Apply one `KEY=VALUE` to `c`; `signing=off` sets `stop_signing`.
fn set_key(c: &mut RepoConfig, kv: &str, stop_signing: &mut bool) -> anyhow::Result<()> {
    let Some((key, value)) = kv.split_once('=') else {
        bail!("{kv:?} is not KEY=VALUE");
    };
    let value = value.trim();
    let off = matches!(value, "off" | "none" | "0" | "no" | "false");
    let on = matches!(value, "on" | "1" | "yes" | "true");
    let number = |what: &str| -> anyhow::Result<u32> {
        value
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .with_context(|| format!("{key}={value}: {what} must be a positive number or off"))
    };
    match key.trim() {
        "profile" => Profile::from_name(value)
            .with_context(|| format!("profile={value}: compat or modern"))?
            .apply(c),
        "compression" => {
            c.compression = Compression::from_name(value)
                .with_context(|| format!("compression={value}: one of gz, zstd, xz, bz2, none"))?
        }
        "sqlite" | "database" if on || off => c.database = on,
        "sqlite" | "database" => bail!("{key}={value}: on or off"),
        "changelog-limit" => {
            c.changelog_limit = value
                .parse::<i32>()
                .ok()
                .filter(|n| *n >= -1)
                .with_context(|| format!("changelog-limit={value}: a number, -1 for all"))?
        }
        "keep-versions" if value == "off" => c.retention.keep_versions = None,
        "keep-versions" => c.retention.keep_versions = Some(number("keep-versions")?),
        "keep-days" if value == "off" => c.retention.keep_days = None,
        "keep-days" => c.retention.keep_days = Some(number("keep-days")?),
        "page" if on || off => c.page = on,
        "page" => bail!("page={value}: on or off"),
        "package-policy" => {
            c.package_policy = PackagePolicy::from_name(value)
                .with_context(|| format!("package-policy={value}: one of off, signed, keys"))?
        }
        "trusted-keys" if value == "none" => c.trusted_keys = TrustedKeys::default(),
        "trusted-keys" => {
            let Some(path) = value.strip_prefix('@') else {
                bail!("trusted-keys={value}: @FILE (armored public keys) or none");
            };
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("trusted-keys: reading {path}"))?;
            let keys = TrustedKeys::from_armored(&text)
                .with_context(|| format!("trusted-keys: {path}"))?;
            if keys.is_empty() {
                bail!("trusted-keys: {path} holds no public key");
            }
            c.trusted_keys = keys;
        }
        "signing" if off => *stop_signing = true,
        "signing" => bail!(
            "signing={value}: only signing=off can be set; to sign, publish with --signing-key \
             FILE (the key is never stored)"
        ),
        "max-upload-size" if value == "off" => c.max_upload_size = None,
        "max-upload-size" => {
            c.max_upload_size = Some(parse_size(value).with_context(|| {
                format!(
                    "max-upload-size={value}: a size in bytes, or with K, M, G or T (KiB to TiB), \
                 or off"
                )
            })?)
        }
        other => bail!(
            "unknown setting {other:?} (profile, compression, sqlite, changelog-limit, \
             keep-versions, keep-days, page, package-policy, trusted-keys, signing, \
             max-upload-size)"
        ),
    }
    Ok(())
}

/// `BYTES`, or a number with `K`, `M`, `G`, `T` (binary: KiB … TiB; `KiB`, `KB` and `k` too);
/// a positive size that fits in 64 bits.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    let n: u64 = number.parse().ok().filter(|n| *n > 0)?;
    n.checked_mul(1u64 << shift)
}

/// `signed_by`: fingerprint of the key signing `repomd.xml`, if signed.
fn settings_json(c: &RepoConfig, signed_by: Option<&str>) -> serde_json::Value {
    serde_json::json!({
        "profile": profile_name(c),
        "compression": c.compression.name(),
        "sqlite": c.database,
        "changelog-limit": c.changelog_limit,
        "keep-versions": c.retention.keep_versions,
        "keep-days": c.retention.keep_days,
        "page": c.page,
        "package-policy": c.package_policy.name(),
        "trusted-keys": c.trusted_keys.keyring().fingerprints(),
        "signing": signed_by,
        "max-upload-size": c.max_upload_size,
    })
}

/// `compat`, `modern`, or `custom` for settings that match neither.
fn profile_name(c: &RepoConfig) -> &'static str {
    Profile::of(c).map_or("custom", Profile::name)
}

fn print_settings(c: &RepoConfig, signed_by: Option<&str>) {
    let onoff = |b: bool| if b { "on" } else { "off" };
    let opt = |v: Option<u32>| v.map_or("off".to_string(), |n| n.to_string());
    println!("profile={}", profile_name(c));
    println!("compression={}", c.compression.name());
    println!("sqlite={}", onoff(c.database));
    println!("changelog-limit={}", c.changelog_limit);
    println!("keep-versions={}", opt(c.retention.keep_versions));
    println!("keep-days={}", opt(c.retention.keep_days));
    println!("page={}", onoff(c.page));
    println!("package-policy={}", c.package_policy.name());
    let keys = c.trusted_keys.keyring().fingerprints();
    if keys.is_empty() {
        println!("trusted-keys=none");
    } else {
        println!("trusted-keys={}", keys.join(","));
    }
    println!("signing={}", signed_by.unwrap_or("off"));
    println!(
        "max-upload-size={}",
        c.max_upload_size
            .map_or("off".to_string(), |n| n.to_string())
    );
}

/// `rpmbucket config`.
pub fn config(args: &ConfigArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let repo = Repo::open(&args.repo).await?;
        let snap = repo.snapshot().await?;
        let mut c = snap.config.clone();
        let mut stop_signing = false;
        for kv in &args.set {
            set_key(&mut c, kv, &mut stop_signing)?;
        }
        if c.package_policy == PackagePolicy::Keys && c.trusted_keys.is_empty() {
            bail!("package-policy=keys needs trusted-keys=@FILE with at least one public key");
        }
        let stored_signer = snap
            .state
            .settings
            .as_ref()
            .and_then(|s| s.signing_key.clone());
        let signer = if stop_signing {
            None
        } else {
            args.signing.signer()?
        };
        if !args.set.is_empty() && !args.dry_run && !stop_signing && signer.is_none() {
            if let Some(fpr) = &stored_signer {
                bail!(
                    "{} is signed with key {fpr}: give --signing-key FILE (or \
                     RPMBUCKET_SIGNING_KEY) so the republished metadata stays signed, or \
                     signing=off to stop signing",
                    repo.show(&repo.root)
                );
            }
        }
        let signed_after = if args.set.is_empty() {
            stored_signer.clone()
        } else {
            signer.as_ref().map(|s| s.fingerprint())
        };
        c.signer = signer;
        let dropped = if c.retention.is_active() {
            retention::plan(
                snap.state
                    .packages
                    .iter()
                    .map(|(h, e)| (h.as_str(), &*e.package)),
                &c.retention,
                now(),
            )
        } else {
            Vec::new()
        };
        let changed = !args.set.is_empty()
            && (c != snap.config || !snap.exists || signed_after != stored_signer);
        if changed && !args.dry_run {
            let indexer = repo.indexer(c.clone()).overriding_settings();
            // A new policy or new trusted keys apply to every package: a full run checks them
            // all again (and takes in those the old policy refused).
            let retrust = c.package_policy != snap.config.package_policy
                || c.trusted_keys != snap.config.trusted_keys;
            let report = if retrust {
                indexer.reconcile(&repo.root).await
            } else {
                indexer.apply(&repo.root, &[]).await
            };
            let report =
                report.map_err(|e| flat(format!("publishing {}", repo.show(&repo.root)), e))?;
            if args.json {
                let mut v = settings_json(&c, signed_after.as_deref());
                v["removed"] = serde_json::json!(report.removed);
                println!("{v}");
            } else {
                print_settings(&c, signed_after.as_deref());
                for k in &report.removed {
                    println!("  - {} (retention)", repo.show(k));
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        if args.json {
            let mut v = settings_json(&c, signed_after.as_deref());
            if args.dry_run {
                v["would_remove"] = serde_json::json!(dropped
                    .iter()
                    .map(|h| format!("{}{h}", repo.root))
                    .collect::<Vec<_>>());
            }
            println!("{v}");
        } else {
            print_settings(&c, signed_after.as_deref());
            if args.dry_run {
                for h in &dropped {
                    println!(
                        "  - {} (would be dropped by retention)",
                        repo.show(&format!("{}{h}", repo.root))
                    );
                }
                if dropped.is_empty() {
                    println!("(dry run: nothing would be dropped)");
                }
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Example lines of `ls`.
pub const LS_HELP: &str = "\
Examples:
  rpmbucket ls ./repo
  rpmbucket ls s3://my-rpms/el9/x86_64/ --json | jq -r '.[].nevra'";

/// Options of `rpmbucket ls`.
#[derive(Debug, Args)]
pub struct LsArgs {
    /// The repository: a directory or s3://BUCKET/PREFIX.
    pub repo: String,
    /// Print a JSON array.
    #[arg(long)]
    pub json: bool,
}

/// `rpmbucket ls`: the published packages, by name and newest version first.
pub fn ls(args: &LsArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let repo = Repo::open(&args.repo).await?;
        let snap = repo.snapshot().await?;
        let mut pkgs: Vec<_> = snap.state.packages.values().map(|e| &*e.package).collect();
        pkgs.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then_with(|| b.cmp_evr(a))
                .then_with(|| a.arch.cmp(&b.arch))
        });
        if args.json {
            let rows: Vec<serde_json::Value> = pkgs
                .iter()
                .map(|p| {
                    serde_json::json!({
                        "nevra": p.nevra(),
                        "name": p.name, "epoch": p.epoch, "version": p.version,
                        "release": p.release, "arch": p.arch,
                        "size": p.size_package, "build_time": p.time_build,
                        "key": format!("{}{}", snap.root, p.location_href),
                        "pkgid": p.pkgid,
                    })
                })
                .collect();
            println!("{}", serde_json::Value::Array(rows));
            return Ok(ExitCode::SUCCESS);
        }
        let width = pkgs
            .iter()
            .map(|p| p.nevra().len())
            .max()
            .unwrap_or(5)
            .max(5);
        println!(
            "{:width$}  {:>10}  {:16}  KEY",
            "NEVRA", "SIZE", "BUILT (UTC)"
        );
        for p in &pkgs {
            println!(
                "{:width$}  {:>10}  {:16}  {}",
                p.nevra(),
                p.size_package,
                datetime(p.time_build),
                repo.show(&format!("{}{}", snap.root, p.location_href)),
            );
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Example lines of `add`.
pub const ADD_HELP: &str = "\
Examples:
  rpmbucket add ./repo build/RPMS/x86_64/*.rpm
  rpmbucket add s3://my-rpms/el9/x86_64/ hello-1.0-1.x86_64.rpm

Exit status: 0 uploaded and published, 1 error (missing file, store failure),
  2 uploaded but rejected by the indexer (not a readable package)";

/// Options of `rpmbucket add`.
#[derive(Debug, Args)]
pub struct AddArgs {
    /// The repository: a directory or s3://BUCKET/PREFIX.
    pub repo: String,
    /// Packages to upload.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
}

/// `rpmbucket add`: upload (with S3's stored SHA-256) and publish.
pub fn add(args: &AddArgs) -> anyhow::Result<ExitCode> {
    for f in &args.files {
        if !f.is_file() {
            bail!("{}: no such file", f.display());
        }
        if f.extension().is_none_or(|x| x != "rpm") {
            bail!("{}: not an .rpm file", f.display());
        }
    }
    runtime()?.block_on(async {
        let repo = Repo::open(&args.repo).await?;
        let bar = crate::bar::new(args.files.len() as u64, "uploading", false, 2);
        let mut changes = Vec::new();
        for f in &args.files {
            let name = f
                .file_name()
                .and_then(|n| n.to_str())
                .context("file name")?;
            let key = format!("{}{name}", repo.root);
            let opts = PutOptions {
                content_type: Some("application/x-rpm".into()),
                ..PutOptions::default()
            };
            repo.store.put_file(&key, f, opts).await.map_err(|e| {
                flat(
                    format!("uploading {} to {}", f.display(), repo.show(&key)),
                    e,
                )
            })?;
            bar.inc(1);
            changes.push(Change::created(key));
        }
        bar.finish_and_clear();
        publish(&repo, &changes).await
    })
}

/// Publish `changes`, print what changed; exit 2 when something was rejected.
async fn publish(repo: &Repo, changes: &[Change]) -> anyhow::Result<ExitCode> {
    let report = repo
        .indexer(RepoConfig::from_env())
        .apply(&repo.root, changes)
        .await
        .map_err(|e| flat(format!("publishing {}", repo.show(&repo.root)), e))?;
    for k in &report.added {
        println!("+ {}", repo.show(k));
    }
    for k in &report.removed {
        println!("- {}", repo.show(k));
    }
    for (k, reason) in &report.rejected {
        eprintln!("rpmbucket: rejected {}: {reason}", repo.show(k));
    }
    println!(
        "{}: {} packages, revision {}",
        repo.show(&repo.root),
        report.packages,
        report.revision
    );
    Ok(if report.rejected.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Example lines of `rm`.
pub const RM_HELP: &str = "\
Examples:
  rpmbucket rm ./repo hello-1.0-1.x86_64
  rpmbucket rm s3://my-rpms/el9/x86_64/ el9/x86_64/old-2.0-1.noarch.rpm

Each argument is a NEVRA (as `ls` prints it) or a key; every argument must match a package.
Exit status: 0 removed and published, 1 error (nothing removed)";

/// Options of `rpmbucket rm`.
#[derive(Debug, Args)]
pub struct RmArgs {
    /// The repository: a directory or s3://BUCKET/PREFIX.
    pub repo: String,
    /// Packages to remove: NEVRA or key.
    #[arg(required = true, value_name = "NEVRA|KEY")]
    pub packages: Vec<String>,
}

/// `rpmbucket rm`: delete the objects and publish.
pub fn rm(args: &RmArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let repo = Repo::open(&args.repo).await?;
        let snap = repo.snapshot().await?;
        let mut keys = Vec::new();
        for want in &args.packages {
            let found: Vec<String> = snap
                .state
                .packages
                .iter()
                .filter(|(href, e)| {
                    let key = format!("{}{href}", snap.root);
                    e.package.nevra() == *want
                        || key == *want
                        || href.as_str() == want
                        || repo.show(&key) == *want
                })
                .map(|(href, _)| format!("{}{href}", snap.root))
                .collect();
            if found.is_empty() {
                bail!(
                    "{want}: no such package in {} (see `rpmbucket ls`)",
                    repo.show(&snap.root)
                );
            }
            keys.extend(found);
        }
        keys.sort();
        keys.dedup();
        for k in &keys {
            repo.store
                .delete(k)
                .await
                .map_err(|e| flat(format!("deleting {}", repo.show(k)), e))?;
        }
        let changes: Vec<Change> = keys.into_iter().map(Change::removed).collect();
        publish(&repo, &changes).await
    })
}

/// Example lines of `status`.
pub const STATUS_HELP: &str = "\
Examples:
  rpmbucket status ./repo
  rpmbucket status s3://my-rpms/el9/x86_64/ --json

Drift compares the packages in the store with the published metadata: new (not yet indexed),
missing (indexed, object gone) and changed (object replaced). `rpmbucket reconcile` repairs it.
Exit status: 0 shown, 1 error";

/// Options of `rpmbucket status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The repository: a directory or s3://BUCKET/PREFIX.
    pub repo: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `rpmbucket status`.
pub fn status(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let repo = Repo::open(&args.repo).await?;
        let snap = repo.snapshot().await?;
        let layout = Layout::from_env();
        let listing = repo
            .store
            .list(&snap.root)
            .await
            .map_err(|e| flat(format!("listing {}", repo.show(&snap.root)), e))?;
        let listed: BTreeMap<&str, &str> = listing
            .iter()
            .filter(|o| layout.repo_root(&o.key).as_deref() == Some(snap.root.as_str()))
            .map(|o| (&o.key[snap.root.len()..], o.etag.as_str()))
            .collect();
        let st = &snap.state;
        let mut new = Vec::new();
        let mut changed = Vec::new();
        for (href, etag) in &listed {
            let known = st
                .packages
                .get(*href)
                .and_then(|e| e.etag.as_deref())
                .or_else(|| st.rejected.get(*href).map(|r| r.etag.as_str()))
                .or_else(|| st.retired.get(*href).map(|r| r.etag.as_str()));
            match known {
                None if !st.packages.contains_key(*href) => new.push(format!("{}{href}", snap.root)),
                Some(k) if k != *etag => changed.push(format!("{}{href}", snap.root)),
                _ => {}
            }
        }
        let missing: Vec<String> = st
            .packages
            .keys()
            .filter(|h| !listed.contains_key(h.as_str()))
            .map(|h| format!("{}{h}", snap.root))
            .collect();
        let rejected: Vec<serde_json::Value> = st
            .rejected
            .iter()
            .map(|(h, r)| {
                serde_json::json!({"key": format!("{}{h}", snap.root), "reason": r.reason, "since": r.since})
            })
            .collect();
        if args.json {
            let v = serde_json::json!({
                "repository": repo.show(&snap.root),
                "exists": snap.exists,
                "revision": snap.revision,
                "last_publish": snap.published_at,
                "generation": st.generation,
                "packages": snap.package_count,
                "rejected": rejected,
                "retired": st.retired.keys().map(|h| format!("{}{h}", snap.root)).collect::<Vec<_>>(),
                "drift": { "new": new, "missing": missing, "changed": changed },
                "settings": settings_json(
                    &snap.config,
                    st.settings.as_ref().and_then(|s| s.signing_key.as_deref()),
                ),
            });
            println!("{v}");
            return Ok(ExitCode::SUCCESS);
        }
        println!("repository:   {}", repo.show(&snap.root));
        if !snap.exists {
            println!("not published yet (no repodata/repomd.xml)");
        } else {
            println!(
                "last publish: {} UTC (revision {})",
                datetime(snap.published_at),
                snap.revision
            );
            println!("generation:   {}", st.generation);
        }
        println!("packages:     {}", snap.package_count);
        println!("rejected:     {}", st.rejected.len());
        for (h, r) in &st.rejected {
            println!("  ! {}: {}", repo.show(&format!("{}{h}", snap.root)), r.reason);
        }
        if !st.retired.is_empty() {
            println!("retired:      {} (dropped by retention, deleted after the grace period)", st.retired.len());
        }
        let drift = new.len() + missing.len() + changed.len();
        if drift == 0 {
            println!("drift:        none");
        } else {
            println!("drift:        {drift} (run `rpmbucket reconcile` to repair)");
            for k in &new {
                println!("  + {} (not indexed)", repo.show(k));
            }
            for k in &missing {
                println!("  - {} (indexed, object gone)", repo.show(k));
            }
            for k in &changed {
                println!("  ~ {} (object replaced)", repo.show(k));
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Example lines of `promote`.
pub const PROMOTE_HELP: &str = "\
Examples:
  rpmbucket promote s3://my-rpms/el9/testing/ s3://my-rpms/el9/stable/ hello
  rpmbucket promote ./repo/testing ./repo/stable hello-1.2-1.x86_64 tool-2:0.9-3.noarch

NAME means its newest version (per arch); a NEVRA (as `ls` prints it) or a key is exact.
On S3 the copy is server-side (CopyObject): nothing is downloaded or uploaded again. Both
repositories must be in the same bucket (or under one directory).
Exit status: 0 copied and published, 1 error (unknown package, different buckets)";

/// Options of `rpmbucket promote`.
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// Source repository: a directory or s3://BUCKET/PREFIX.
    pub from: String,
    /// Target repository, in the same bucket (or under the same directory tree).
    pub to: String,
    /// Packages: NAME (newest version), NEVRA or key.
    #[arg(required = true, value_name = "NAME|NEVRA")]
    pub packages: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Two repositories in one store: (store, display, from root, to root).
async fn open_pair(from: &str, to: &str) -> anyhow::Result<(Repo, String, String)> {
    if from.starts_with("s3://") || to.starts_with("s3://") {
        let (fb, fp) = parse_url(from).map_err(|e| flat(from.to_string(), e))?;
        let (tb, tp) = parse_url(to).map_err(|e| flat(to.to_string(), e))?;
        if fb != tb {
            bail!("{from} and {to} are in different buckets; promote copies inside one bucket");
        }
        let repo = Repo::open(&format!("s3://{fb}")).await?;
        return Ok((repo, normalise_prefix(&fp), normalise_prefix(&tp)));
    }
    let canon =
        |p: &str| std::fs::canonicalize(p).with_context(|| format!("{p} is not a directory"));
    let (f, t) = (canon(from)?, canon(to)?);
    if !f.is_dir() || !t.is_dir() {
        bail!("{from} and {to} must be directories");
    }
    let mut base = f.clone();
    while !t.starts_with(&base) {
        if !base.pop() {
            bail!("{from} and {to} share no directory");
        }
    }
    let rel = |p: &Path| -> String {
        let r = p
            .strip_prefix(&base)
            .unwrap_or(p)
            .to_string_lossy()
            .to_string();
        normalise_prefix(&r)
    };
    let repo = Repo::open(base.to_str().context("directory name is not UTF-8")?).await?;
    Ok((repo, rel(&f), rel(&t)))
}

/// `rpmbucket promote`.
pub fn promote(args: &PromoteArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let (repo, from, to) = open_pair(&args.from, &args.to).await?;
        if from == to {
            bail!("source and target are the same repository");
        }
        let bar = crate::bar::EngineBar::new(false);
        let (promoted, report) = repo
            .indexer(RepoConfig::from_env())
            .with_progress(bar.hook())
            .promote(&from, &to, &args.packages)
            .await
            .map_err(|e| flat(format!("promoting into {}", repo.show(&to)), e))?;
        bar.clear();
        if args.json {
            let v = serde_json::json!({
                "promoted": promoted,
                "revision": report.revision,
                "packages": report.packages,
                "requests": report.requests,
            });
            println!("{v}");
        } else {
            for p in &promoted {
                println!(
                    "{}: {} -> {}",
                    p.nevra,
                    repo.show(&p.from),
                    repo.show(&p.to)
                );
            }
            println!(
                "{}: {} packages, revision {}",
                repo.show(&to),
                report.packages,
                report.revision
            );
        }
        for (k, reason) in &report.rejected {
            eprintln!("rpmbucket: rejected {}: {reason}", repo.show(k));
        }
        Ok(if report.rejected.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("4GiB"), Some(4 << 30));
        assert_eq!(parse_size(" 2 k "), Some(2048));
        assert_eq!(parse_size("1T"), Some(1 << 40));
        for bad in [
            "0",
            "",
            "-1",
            "1.5G",
            "12X",
            "M",
            "99999999999999999999",
            "16777216T",
        ] {
            assert_eq!(parse_size(bad), None, "{bad}");
        }
    }

    #[test]
    fn max_upload_size_key() {
        let mut c = RepoConfig::default();
        let mut stop = false;
        set_key(&mut c, "max-upload-size=64M", &mut stop).unwrap();
        assert_eq!(c.max_upload_size, Some(64 << 20));
        let e = set_key(&mut c, "max-upload-size=lots", &mut stop).unwrap_err();
        assert!(format!("{e:#}").contains("max-upload-size=lots"), "{e:#}");
        assert_eq!(
            c.max_upload_size,
            Some(64 << 20),
            "a refused value changes nothing"
        );
        set_key(&mut c, "max-upload-size=off", &mut stop).unwrap();
        assert_eq!(c.max_upload_size, None);
        assert!(!stop);
    }
}
