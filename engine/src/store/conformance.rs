//! Behaviour every [`ObjectStore`] must show, as `pub async fn` checks that panic on the first
//! deviation (object_store's `integration.rs`). Each check expects a store with no objects; the
//! tests run them against [`LocalStore`](super::local::LocalStore) and against S3 (moto and
//! LocalStack).

use std::collections::BTreeSet;
use std::sync::Arc;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use super::{Error, ObjectStore, PageStart, PutMode, PutOptions};

fn create() -> PutOptions {
    PutOptions {
        mode: PutMode::Create,
        ..Default::default()
    }
}

fn update(etag: &str) -> PutOptions {
    PutOptions {
        mode: PutMode::Update(etag.to_owned()),
        ..Default::default()
    }
}

/// Every check in turn; `many` is the number of keys for [`list_many`] (above 1000 crosses an S3
/// page).
pub async fn run_all(store: Arc<dyn ObjectStore>, many: usize) {
    put_get_head(&*store).await;
    ranges(&*store).await;
    empty_object(&*store).await;
    missing_objects(&*store).await;
    create_twice(&*store).await;
    update_preconditions(&*store).await;
    put_pair(&*store).await;
    conditional_get(&*store).await;
    delete_is_idempotent(&*store).await;
    odd_keys(&*store).await;
    stream(&*store).await;
    put_file(&*store).await;
    copy(&*store).await;
    list_order_and_prefix(&*store).await;
    list_pages(&*store).await;
    update_race(Arc::clone(&store), 5, 4).await;
    create_race(Arc::clone(&store), 5, 4).await;
    list_many(&*store, many).await;
}

/// `get_if_changed`: nothing while the ETag is the one given, the new body and ETag after a
/// write, `NotFound` for a missing key.
pub async fn conditional_get(store: &dyn ObjectStore) {
    let v1 = store
        .put("cond/repomd.xml", Bytes::from_static(b"<v1/>"), create())
        .await
        .unwrap();
    assert!(store
        .get_if_changed("cond/repomd.xml", &v1.etag)
        .await
        .unwrap()
        .is_none());
    let v2 = store
        .put(
            "cond/repomd.xml",
            Bytes::from_static(b"<v2-longer/>"),
            update(&v1.etag),
        )
        .await
        .unwrap();
    let (body, meta) = store
        .get_if_changed("cond/repomd.xml", &v1.etag)
        .await
        .unwrap()
        .expect("changed since v1");
    assert_eq!(&body[..], b"<v2-longer/>");
    assert_eq!(meta.etag, v2.etag);
    assert!(store
        .get_if_changed("cond/repomd.xml", &v2.etag)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        store.get_if_changed("cond/missing.xml", &v2.etag).await,
        Err(Error::NotFound { .. })
    ));
    store.delete("cond/repomd.xml").await.unwrap();
}

/// Put, then get and head agree on bytes, size and ETag.
pub async fn put_get_head(store: &dyn ObjectStore) {
    let body = Bytes::from_static(b"hello, repository");
    let opts = PutOptions {
        content_type: Some("application/xml".into()),
        cache_control: Some("no-cache".into()),
        ..Default::default()
    };
    let put = store.put("pgh/one.xml", body.clone(), opts).await.unwrap();
    assert_eq!(put.key, "pgh/one.xml");
    assert_eq!(put.size, body.len() as u64);
    assert!(!put.etag.is_empty());
    let head = store.head("pgh/one.xml").await.unwrap();
    assert_eq!((head.size, &head.etag), (put.size, &put.etag));
    assert!(head.last_modified > 1_600_000_000, "{head:?}");
    let (got, meta) = store.get("pgh/one.xml").await.unwrap();
    assert_eq!(got, body);
    assert_eq!(meta.etag, put.etag);
    assert_eq!(meta.size, body.len() as u64);
    store.delete("pgh/one.xml").await.unwrap();
}

/// Ranged reads: inside, clipped at the end, wholly past the end, empty.
pub async fn ranges(store: &dyn ObjectStore) {
    let body: Bytes = (0..=255u8).cycle().take(10_000).collect::<Vec<_>>().into();
    let put = store
        .put("rng/blob", body.clone(), PutOptions::default())
        .await
        .unwrap();
    let cases = [
        (0, 1),
        (0, 96),
        (100, 5000),
        (9990, 10_000),
        (9990, 20_000),
        (0, 10_000),
    ];
    for (start, end) in cases {
        let (got, meta) = store.get_range("rng/blob", start..end).await.unwrap();
        let clipped = &body[start as usize..(end as usize).min(body.len())];
        assert_eq!(got, clipped, "range {start}..{end}");
        assert_eq!(
            meta.size, 10_000,
            "range {start}..{end}: size is the whole object's"
        );
        assert_eq!(meta.etag, put.etag);
    }
    for (start, end) in [(10_000, 10_100), (50_000, 60_000), (10, 10)] {
        let (got, meta) = store.get_range("rng/blob", start..end).await.unwrap();
        assert!(got.is_empty(), "range {start}..{end}");
        assert_eq!(meta.size, 10_000, "range {start}..{end}");
    }
    store.delete("rng/blob").await.unwrap();
}

/// A zero-byte object can be written, read whole and by range.
pub async fn empty_object(store: &dyn ObjectStore) {
    let put = store
        .put("empty/obj", Bytes::new(), PutOptions::default())
        .await
        .unwrap();
    assert_eq!(put.size, 0);
    let (got, meta) = store.get("empty/obj").await.unwrap();
    assert!(got.is_empty());
    assert_eq!(meta.size, 0);
    let (got, meta) = store.get_range("empty/obj", 0..100).await.unwrap();
    assert!(got.is_empty());
    assert_eq!(meta.size, 0);
    assert_eq!(store.head("empty/obj").await.unwrap().size, 0);
    store.delete("empty/obj").await.unwrap();
}

/// Reading a missing key is `NotFound` everywhere.
pub async fn missing_objects(store: &dyn ObjectStore) {
    let nf = |r: Result<(), Error>| assert!(matches!(r, Err(Error::NotFound { .. })), "{r:?}");
    nf(store.head("missing/x").await.map(drop));
    nf(store.get("missing/x").await.map(drop));
    nf(store.get_range("missing/x", 0..10).await.map(drop));
    nf(store.get_stream("missing/x").await.map(drop));
    assert!(store.list("missing/").await.unwrap().is_empty());
}

/// `Create` succeeds once, then fails with `AlreadyExists` and leaves the first body.
pub async fn create_twice(store: &dyn ObjectStore) {
    store
        .put("create/k", Bytes::from_static(b"first"), create())
        .await
        .unwrap();
    let err = store
        .put("create/k", Bytes::from_static(b"second"), create())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::AlreadyExists { ref key } if key == "create/k"),
        "{err:?}"
    );
    assert_eq!(store.get("create/k").await.unwrap().0, "first");
    store.delete("create/k").await.unwrap();
    // After a delete the key can be created again.
    store
        .put("create/k", Bytes::from_static(b"third"), create())
        .await
        .unwrap();
    store.delete("create/k").await.unwrap();
}

/// `Update` with the current ETag wins; with a stale one, or on a missing key, `Precondition`.
pub async fn update_preconditions(store: &dyn ObjectStore) {
    let v1 = store
        .put("upd/k", Bytes::from_static(b"v1"), PutOptions::default())
        .await
        .unwrap();
    let v2 = store
        .put("upd/k", Bytes::from_static(b"v2"), update(&v1.etag))
        .await
        .unwrap();
    assert_ne!(v1.etag, v2.etag);
    let err = store
        .put("upd/k", Bytes::from_static(b"v3"), update(&v1.etag))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Precondition { ref key } if key == "upd/k"),
        "{err:?}"
    );
    let (got, meta) = store.get("upd/k").await.unwrap();
    assert_eq!(
        (got.as_ref(), meta.etag.as_str()),
        (&b"v2"[..], v2.etag.as_str())
    );
    let err = store
        .put("upd/none", Bytes::from_static(b"x"), update(&v2.etag))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Precondition { .. }), "{err:?}");
    assert!(matches!(
        store.head("upd/none").await,
        Err(Error::NotFound { .. })
    ));
    store.delete("upd/k").await.unwrap();
}

/// `put_pair`: both objects written when the first's precondition holds (ETags as `head`
/// reports them); nothing written when it does not.
pub async fn put_pair(store: &dyn ObjectStore) {
    let (a, b) = ("pair/dir/repomd.xml", "pair/dir/repomd.xml.asc");
    let (m1, r) = store
        .put_pair(
            (a, Bytes::from_static(b"r1"), create()),
            (b, Bytes::from_static(b"s1"), PutOptions::default()),
        )
        .await
        .unwrap();
    let s1 = r.unwrap();
    assert_eq!(store.head(a).await.unwrap().etag, m1.etag);
    assert_eq!(store.head(b).await.unwrap().etag, s1.etag);
    // A stale precondition on the first: neither object changes.
    let err = store
        .put_pair(
            (a, Bytes::from_static(b"r2"), update("\"stale\"")),
            (b, Bytes::from_static(b"s2"), PutOptions::default()),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Precondition { ref key } if key == a),
        "{err:?}"
    );
    assert_eq!(store.get(a).await.unwrap().0.as_ref(), b"r1");
    assert_eq!(store.get(b).await.unwrap().0.as_ref(), b"s1");
    // The current ETag: both replaced.
    let (m2, r) = store
        .put_pair(
            (a, Bytes::from_static(b"r2"), update(&m1.etag)),
            (b, Bytes::from_static(b"s2"), PutOptions::default()),
        )
        .await
        .unwrap();
    r.unwrap();
    assert_ne!(m1.etag, m2.etag);
    assert_eq!(store.get(a).await.unwrap().0.as_ref(), b"r2");
    assert_eq!(store.get(b).await.unwrap().0.as_ref(), b"s2");
    // Keys in different directories work too.
    let (_, r) = store
        .put_pair(
            ("pair/x", Bytes::from_static(b"x"), create()),
            (
                "pair/other/y",
                Bytes::from_static(b"y"),
                PutOptions::default(),
            ),
        )
        .await
        .unwrap();
    r.unwrap();
    assert_eq!(store.get("pair/other/y").await.unwrap().0.as_ref(), b"y");
    for k in [a, b, "pair/x", "pair/other/y"] {
        store.delete(k).await.unwrap();
    }
}

/// Rewriting an object changes its ETag each time, even with a body it had before, so a stale
/// `Update` cannot slip through. Not part of [`run_all`]: S3's ETag is the body's MD5.
pub async fn etag_changes_on_every_write(store: &dyn ObjectStore) {
    let mut seen = BTreeSet::new();
    let mut etag = String::new();
    for i in 0..20u32 {
        // Alternate two bodies so content-derived ETags would repeat.
        let body = Bytes::from(format!("body {}", i % 2));
        let meta = store
            .put("etag/k", body, PutOptions::default())
            .await
            .unwrap();
        assert!(
            seen.insert(meta.etag.clone()),
            "write {i}: ETag repeated: {}",
            meta.etag
        );
        etag = meta.etag;
    }
    assert_eq!(store.head("etag/k").await.unwrap().etag, etag);
    store.delete("etag/k").await.unwrap();
}

/// Deleting twice, or deleting what never existed, is fine.
pub async fn delete_is_idempotent(store: &dyn ObjectStore) {
    store
        .put("del/k", Bytes::from_static(b"x"), PutOptions::default())
        .await
        .unwrap();
    store.delete("del/k").await.unwrap();
    store.delete("del/k").await.unwrap();
    store.delete("del/never").await.unwrap();
    assert!(matches!(
        store.head("del/k").await,
        Err(Error::NotFound { .. })
    ));
}

/// Keys with spaces, `+`, `%`, `~` and non-ASCII survive put, get and list unchanged.
pub async fn odd_keys(store: &dyn ObjectStore) {
    let keys = [
        "odd/my package 1.0.rpm",
        "odd/c++-libs+1.0-1.x86_64.rpm",
        "odd/percent%20not-decoded.rpm",
        "odd/tilde~and=equals&amp.rpm",
        "odd/ünïcödé/пакет-1.0.rpm",
        "odd/emoji-📦.rpm",
    ];
    for key in keys {
        store
            .put(key, Bytes::from(key.as_bytes().to_vec()), create())
            .await
            .unwrap();
        assert_eq!(store.get(key).await.unwrap().0, key.as_bytes(), "{key}");
        assert_eq!(store.head(key).await.unwrap().key, key);
    }
    let listed: Vec<String> = store
        .list("odd/")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    let mut expected: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(listed, expected);
    for key in keys {
        store.delete(key).await.unwrap();
    }
}

/// Streaming get returns the whole body, across several chunks for a large object.
pub async fn stream(store: &dyn ObjectStore) {
    let body: Bytes = (0..3_000_000u32)
        .map(|i| (i % 253) as u8)
        .collect::<Vec<_>>()
        .into();
    store
        .put("stream/big", body.clone(), PutOptions::default())
        .await
        .unwrap();
    let (s, meta) = store.get_stream("stream/big").await.unwrap();
    assert_eq!(meta.size, body.len() as u64);
    let chunks: Vec<Bytes> = s.try_collect().await.unwrap();
    assert_eq!(chunks.concat(), body);
    store.delete("stream/big").await.unwrap();
}

/// `put_file` stores a file's bytes and honours `Create`.
pub async fn put_file(store: &dyn ObjectStore) {
    let dir = std::env::temp_dir().join(format!("rpmbucket-conf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join(format!("put-file-{:p}", store));
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 241) as u8).collect();
    std::fs::write(&src, &body).unwrap();
    let meta = store
        .put_file("file/pkg.rpm", &src, create())
        .await
        .unwrap();
    assert_eq!(meta.size, body.len() as u64);
    assert_eq!(store.get("file/pkg.rpm").await.unwrap().0, body);
    let err = store
        .put_file("file/pkg.rpm", &src, create())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AlreadyExists { .. }), "{err:?}");
    std::fs::remove_file(&src).unwrap();
    store.delete("file/pkg.rpm").await.unwrap();
}

/// `copy` duplicates an object under another key (odd characters included), overwriting the
/// target; a missing source is `NotFound` and leaves the target alone.
pub async fn copy(store: &dyn ObjectStore) {
    let body: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let src = "copy/from/g++ 1.0+x%20~.rpm";
    store
        .put(src, Bytes::from(body.clone()), create())
        .await
        .unwrap();
    let meta = store
        .copy(src, "copy/to/g++.rpm", PutOptions::default())
        .await
        .unwrap();
    assert_eq!((meta.key.as_str(), meta.size), ("copy/to/g++.rpm", 70_000));
    let (got, head) = store.get("copy/to/g++.rpm").await.unwrap();
    assert_eq!(got, body);
    assert_eq!(head.etag, meta.etag);
    // Overwrites.
    store
        .put("copy/other", Bytes::from_static(b"other"), create())
        .await
        .unwrap();
    store
        .copy("copy/other", "copy/to/g++.rpm", PutOptions::default())
        .await
        .unwrap();
    assert_eq!(&store.get("copy/to/g++.rpm").await.unwrap().0[..], b"other");
    let err = store
        .copy("copy/missing", "copy/to/g++.rpm", PutOptions::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(&store.get("copy/to/g++.rpm").await.unwrap().0[..], b"other");
    // The source is untouched.
    assert_eq!(store.get(src).await.unwrap().0, body);
    for k in [src, "copy/to/g++.rpm", "copy/other"] {
        store.delete(k).await.unwrap();
    }
}

/// `list` returns keys in byte order, filtered by a prefix that need not end at a `/`.
pub async fn list_order_and_prefix(store: &dyn ObjectStore) {
    let keys = [
        "ls/b", "ls/a/z", "ls/a/b/c", "ls/a-", "ls/ab", "ls/A", "ls/a/b0", "lsx",
    ];
    for key in keys {
        store
            .put(key, Bytes::from_static(b"1"), PutOptions::default())
            .await
            .unwrap();
    }
    let list = |prefix: &'static str| async move {
        let metas = store.list(prefix).await.unwrap();
        for m in &metas {
            assert_eq!(m.size, 1, "{m:?}");
            assert!(!m.etag.is_empty(), "{m:?}");
        }
        metas.into_iter().map(|m| m.key).collect::<Vec<_>>()
    };
    let mut all: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| k.starts_with("ls/"))
        .collect();
    all.sort();
    assert_eq!(list("ls/").await, all);
    assert_eq!(
        list("ls/a").await,
        ["ls/a-", "ls/a/b/c", "ls/a/b0", "ls/a/z", "ls/ab"]
    );
    assert_eq!(list("ls/a/b").await, ["ls/a/b/c", "ls/a/b0"]);
    assert_eq!(list("ls/a/b/").await, ["ls/a/b/c"]);
    assert_eq!(list("ls/nothing").await, Vec::<String>::new());
    assert_eq!(list("ls").await.len(), keys.len());
    for key in keys {
        store.delete(key).await.unwrap();
    }
}

/// `writers` tasks race `rounds` times to `Update` one key from the same ETag: each round
/// exactly one wins and the others get `Precondition`.
pub async fn update_race(store: Arc<dyn ObjectStore>, writers: usize, rounds: usize) {
    let key = "race/repomd.xml";
    let mut meta = store
        .put(key, Bytes::from_static(b"round 0"), create())
        .await
        .unwrap();
    for round in 1..=rounds {
        let barrier = Arc::new(tokio::sync::Barrier::new(writers));
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let (store, barrier, etag) =
                    (Arc::clone(&store), Arc::clone(&barrier), meta.etag.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let body = Bytes::from(format!("round {round} writer {w}"));
                    (w, store.put(key, body, update(&etag)).await)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (w, Ok(m)) => winners.push((w, m)),
                (_, Err(Error::Precondition { .. })) => {}
                (w, Err(e)) => panic!("round {round} writer {w}: {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let (w, won) = winners.pop().unwrap();
        let (got, now) = store.get(key).await.unwrap();
        assert_eq!(got, format!("round {round} writer {w}"));
        assert_eq!(now.etag, won.etag);
        meta = won;
    }
    store.delete(key).await.unwrap();
}

/// `writers` tasks race `rounds` times to `Create` one new key: each round exactly one wins, the
/// others get `AlreadyExists` (or `Precondition`, S3's answer to a concurrent conditional write),
/// and the winner's body is what is stored. The first publish of a repository relies on this.
pub async fn create_race(store: Arc<dyn ObjectStore>, writers: usize, rounds: usize) {
    for round in 1..=rounds {
        let key = format!("create-race/{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(writers));
        let tasks: Vec<_> = (0..writers)
            .map(|w| {
                let (store, barrier, key) = (Arc::clone(&store), Arc::clone(&barrier), key.clone());
                tokio::spawn(async move {
                    barrier.wait().await;
                    let body = Bytes::from(format!("round {round} writer {w}"));
                    (w, store.put(&key, body, create()).await)
                })
            })
            .collect();
        let mut winners = Vec::new();
        for task in tasks {
            match task.await.unwrap() {
                (w, Ok(m)) => winners.push((w, m)),
                (_, Err(Error::AlreadyExists { .. } | Error::Precondition { .. })) => {}
                (w, Err(e)) => panic!("round {round} writer {w}: {e:?}"),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let (w, won) = winners.pop().unwrap();
        let (got, now) = store.get(&key).await.unwrap();
        assert_eq!(got, format!("round {round} writer {w}"));
        assert_eq!(now.etag, won.etag);
        store.delete(&key).await.unwrap();
    }
}

/// Every page of `prefix` from `start`, `max_keys` at a time; each page is checked to hold
/// at most `max_keys` keys.
pub async fn pages(
    store: &dyn ObjectStore,
    prefix: &str,
    start: PageStart,
    max_keys: usize,
) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut start = start;
    loop {
        let page = store.list_page(prefix, &start, max_keys).await.unwrap();
        assert!(page.objects.len() <= max_keys, "{page:?}");
        out.push(page.objects.into_iter().map(|m| m.key).collect());
        match page.next {
            Some(token) => start = PageStart::Token(token),
            None => return out,
        }
    }
}

/// `list_page` walks the same keys as `list`, in the same order, one bounded page at a time,
/// and `PageStart::After` resumes after any key (a directory's name included).
pub async fn list_pages(store: &dyn ObjectStore) {
    let keys = [
        "pg/b",
        "pg/a/z",
        "pg/a/b/c",
        "pg/a/b/d",
        "pg/a-",
        "pg/ab",
        "pg/A",
        "pg/a/b0",
        "pgx",
        "pg/c/d/e/f",
    ];
    for key in keys {
        store
            .put(key, Bytes::from_static(b"1"), PutOptions::default())
            .await
            .unwrap();
    }
    for prefix in ["pg/", "pg", "pg/a/", "pg/a", "pg/a/b/", "nothing/"] {
        let all: Vec<String> = store
            .list(prefix)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        // The listing itself, as the pages are checked against it (the directory store lists
        // and pages with one walk).
        let mut expected: Vec<&str> = keys.into_iter().filter(|k| k.starts_with(prefix)).collect();
        expected.sort_unstable();
        assert_eq!(all, expected, "prefix {prefix:?}");
        for max_keys in [1, 2, 3, 1000] {
            let got = pages(store, prefix, PageStart::First, max_keys).await;
            assert_eq!(got.concat(), all, "prefix {prefix:?}, {max_keys} a page");
            // Full pages but the last (which may be empty only when the store cannot know).
            for page in &got[..got.len() - 1] {
                assert_eq!(page.len(), max_keys, "prefix {prefix:?}: {got:?}");
            }
            for after in [
                "pg/a", "pg/a/", "pg/a/b", "pg/a/b/c", "pg/a/b0", "pg/b", "pg/c", "pg/",
            ] {
                let expected: Vec<String> =
                    all.iter().filter(|k| k.as_str() > after).cloned().collect();
                let got = pages(store, prefix, PageStart::After(after.into()), max_keys).await;
                assert_eq!(got.concat(), expected, "prefix {prefix:?} after {after:?}");
            }
        }
    }
    for key in keys {
        store.delete(key).await.unwrap();
    }
}

/// More keys than one listing page; all come back, in order.
pub async fn list_many(store: &dyn ObjectStore, n: usize) {
    let keys: Vec<String> = (0..n)
        .map(|i| format!("many/{:05}-{}", (i * 7919) % n, i))
        .collect();
    futures::stream::iter(keys.iter())
        .map(|key| async move { store.put(key, Bytes::from_static(b"m"), create()).await })
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let listed: Vec<String> = store
        .list("many/")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key)
        .collect();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(listed.len(), n);
    assert_eq!(listed, expected);
    let paged = pages(store, "many/", PageStart::First, 97).await;
    assert_eq!(paged.len(), n.div_ceil(97).max(1), "pages of 97");
    assert_eq!(paged.concat(), expected);
    futures::stream::iter(keys.iter())
        .map(|key| store.delete(key))
        .buffer_unordered(16)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert!(store.list("many/").await.unwrap().is_empty());
}

/// Hostile keys are refused with `InvalidKey` by every operation, before touching anything.
pub async fn hostile_keys_rejected(store: &dyn ObjectStore) {
    let keys = [
        "",
        "/etc/passwd",
        "../escape",
        "a/../../escape",
        "a/./b",
        ".",
        "..",
        "a//b",
        "a/",
        "a\\b",
        "a\0b",
        "a\nb",
        "a\x7fb",
        ".rpmbucket-lock",
        "x/.rpmbucket-tmp-1",
    ];
    for key in keys {
        let inv = |r: Result<(), Error>| {
            assert!(matches!(r, Err(Error::InvalidKey { .. })), "{key:?}: {r:?}");
        };
        inv(store
            .put(key, Bytes::from_static(b"x"), PutOptions::default())
            .await
            .map(drop));
        inv(store
            .put(key, Bytes::from_static(b"x"), create())
            .await
            .map(drop));
        inv(store.get(key).await.map(drop));
        inv(store.head(key).await.map(drop));
        inv(store.get_range(key, 0..1).await.map(drop));
        inv(store.get_stream(key).await.map(drop));
        inv(store.delete(key).await);
    }
}
