//! The OpenPGP module of `rpmbucket-repodata` against the real `gpg` and `rpmsign`: keys made
//! by `gpg --quick-gen-key`, `repomd.xml` signatures checked by `gpg --verify`, and package
//! header signatures made by `rpmsign --addsign` (RSA and Ed25519) checked against keyrings.

use std::fs;
use std::path::Path;

use rpmbucket_repodata::header::RpmHeaders;
use rpmbucket_repodata::trust::{Keyring, Refusal, SigningKey};
use rpmbucket_tests::gpg::{corrupt_signature, Algo, Gpg};
use rpmbucket_tests::{fixture, fx};

fn sign_and_verify(algo: Algo) {
    let gpg = Gpg::new().unwrap();
    let fpr = gpg.generate("Repo Key", algo).unwrap();
    let key = SigningKey::from_armored(&gpg.export_secret(&[&fpr]).unwrap()).unwrap();
    assert_eq!(key.fingerprint(), fpr);
    // The Debug form never shows secret material.
    assert!(!format!("{key:?}").contains("PRIVATE"));

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("repomd.xml");
    let repomd = fs::read(fixture_repomd()).unwrap();
    fs::write(&data, &repomd).unwrap();
    let asc = dir.path().join("repomd.xml.asc");
    fs::write(&asc, key.sign_detached(&repomd).unwrap()).unwrap();
    let published = key.public_keys_armored().unwrap();
    let out = Gpg::verify_with(&published, &asc, &data).unwrap();
    assert!(out.contains("Good signature"), "{out}");

    // One byte changed: gpg refuses, and so does our own check.
    let mut bad = repomd.clone();
    bad[10] ^= 1;
    fs::write(&data, &bad).unwrap();
    let e = Gpg::verify_with(&published, &asc, &data).unwrap_err();
    assert!(format!("{e:#}").contains("BAD signature"), "{e:#}");
    let ring = Keyring::from_armored(&published).unwrap();
    let sig = fs::read_to_string(&asc).unwrap();
    assert!(ring.verify_detached(&bad, &sig).is_err());
    assert_eq!(ring.verify_detached(&repomd, &sig).unwrap(), fpr);

    // A signature made by gpg itself verifies with our keyring.
    fs::write(&data, &repomd).unwrap();
    let gpg_sig = dir.path().join("gpg.asc");
    rpmbucket_tests::run(
        gpg.command()
            .args(["--armor", "--detach-sign", "--local-user", &fpr, "--output"])
            .arg(&gpg_sig)
            .arg(&data),
    )
    .unwrap();
    let gpg_sig = fs::read_to_string(&gpg_sig).unwrap();
    assert_eq!(ring.verify_detached(&repomd, &gpg_sig).unwrap(), fpr);
}

fn fixture_repomd() -> std::path::PathBuf {
    // Any bytes do; a real package file is as good as a repomd.xml.
    fixture(fx::META)
}

#[test]
fn rsa_key_signs_what_gpg_verifies() {
    sign_and_verify(Algo::Rsa);
}

#[test]
fn ed25519_key_signs_what_gpg_verifies() {
    sign_and_verify(Algo::Ed25519);
}

#[test]
fn newest_secret_key_signs_and_every_key_is_published() {
    let gpg = Gpg::new().unwrap();
    let a = gpg.generate("Key A", Algo::Ed25519).unwrap();
    // Creation times have a resolution of one second.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let b = gpg.generate("Key B", Algo::Rsa).unwrap();

    // Secret A + public B: A signs (B announced ahead of the switch).
    let text = gpg.export_secret(&[&a]).unwrap() + &gpg.export_public(&[&b]).unwrap();
    let key = SigningKey::from_armored(&text).unwrap();
    assert_eq!(key.fingerprint(), a);
    let published = Keyring::from_armored(&key.public_keys_armored().unwrap()).unwrap();
    assert_eq!(published.fingerprints(), vec![a.clone(), b.clone()]);

    // Both secret keys, in either order: the newer one (B) signs.
    for order in [[&a, &b], [&b, &a]] {
        let text = gpg.export_secret(&[order[0], order[1]]).unwrap();
        let key = SigningKey::from_armored(&text).unwrap();
        assert_eq!(key.fingerprint(), b);
        let sig = key.sign_detached(b"x").unwrap();
        let only_a = Keyring::from_armored(&gpg.export_public(&[&a]).unwrap()).unwrap();
        assert!(only_a.verify_detached(b"x", &sig).is_err());
        assert_eq!(key.keyring().verify_detached(b"x", &sig).unwrap(), b);
    }

    // A public key alone cannot sign.
    let e = SigningKey::from_armored(&gpg.export_public(&[&a]).unwrap()).unwrap_err();
    assert!(e.to_string().contains("no secret key"), "{e}");
}

fn verdict(ring: &Keyring, rpm: &Path) -> Result<String, Refusal> {
    let bytes = fs::read(rpm).unwrap();
    let headers = RpmHeaders::parse(&bytes).unwrap();
    ring.verify_package(&headers, &bytes)
}

#[test]
fn package_signatures_by_rpmsign() {
    let gpg = Gpg::new().unwrap();
    let rsa = gpg.generate("Release RSA", Algo::Rsa).unwrap();
    let ed = gpg.generate("Release Ed", Algo::Ed25519).unwrap();
    let other = gpg.generate("Someone Else", Algo::Rsa).unwrap();
    let trusted = Keyring::from_armored(&gpg.export_public(&[&rsa, &ed]).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let copy = |name: &str| {
        let p = dir.path().join(name);
        fs::copy(fixture(fx::BASIC), &p).unwrap();
        p
    };

    let by_rsa = copy("rsa.rpm");
    gpg.rpmsign(&by_rsa, &rsa).unwrap();
    assert_eq!(verdict(&trusted, &by_rsa), Ok(rsa.clone()));

    let by_ed = copy("ed.rpm");
    gpg.rpmsign(&by_ed, &ed).unwrap();
    assert_eq!(verdict(&trusted, &by_ed), Ok(ed.clone()));

    let unsigned = copy("unsigned.rpm");
    assert_eq!(verdict(&trusted, &unsigned), Err(Refusal::Unsigned));

    let by_other = copy("other.rpm");
    gpg.rpmsign(&by_other, &other).unwrap();
    assert_eq!(
        verdict(&trusted, &by_other),
        Err(Refusal::UnknownKey(other[other.len() - 16..].to_string()))
    );
    assert_eq!(
        verdict(&trusted, &by_other).unwrap_err().to_string(),
        format!("unknown key 0x{}", &other[other.len() - 16..])
    );

    for (name, fpr) in [("bad-rsa.rpm", &rsa), ("bad-ed.rpm", &ed)] {
        let bad = copy(name);
        gpg.rpmsign(&bad, fpr).unwrap();
        corrupt_signature(&bad).unwrap();
        let r = verdict(&trusted, &bad);
        assert!(matches!(r, Err(Refusal::BadSignature(_))), "{name}: {r:?}");
        assert!(r.unwrap_err().to_string().starts_with("bad signature"));
    }

    // A header byte changed after signing (the summary): the signature no longer verifies.
    let tampered = copy("tampered.rpm");
    gpg.rpmsign(&tampered, &rsa).unwrap();
    let mut bytes = fs::read(&tampered).unwrap();
    let at = bytes
        .windows(4)
        .rposition(|w| w == b"fx-b")
        .expect("name in header");
    bytes[at + 3] = b'c';
    fs::write(&tampered, bytes).unwrap();
    assert!(matches!(
        verdict(&trusted, &tampered),
        Err(Refusal::BadSignature(_))
    ));

    // An empty keyring knows no key.
    assert!(matches!(
        verdict(&Keyring::default(), &by_rsa),
        Err(Refusal::UnknownKey(_))
    ));
}
