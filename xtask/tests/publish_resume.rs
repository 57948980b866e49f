//! Chunked, resumable blob uploads against a real `docker-registry` behind the fault proxy:
//! a connection broken in the middle of a large blob costs the chunk in flight, not the blob
//! (with layers of tens of MB), and a session the registry dropped ends in one PUT
//! of the blob.

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::proxy::{Fault, Proxy, RequestInfo};
use support::*;

const MIB: usize = 1 << 20;

fn metadata(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// One image, two platforms sharing `large` layers (`(seed, size)`), each with a small layer
/// of its own. Returns the image and the bytes of its unique blobs.
fn large_image(ws: &Workspace, large: Vec<(u64, usize)>) -> (WrittenImage, u64) {
    let spec = ImageSpec {
        name: "app".into(),
        platforms: vec![("linux", "amd64"), ("linux", "arm64")],
        shared: large,
        own: vec![(3, 100_000)],
    };
    let img = write_image(&ws.layout(), &spec, VERSION);
    let unique = img.blobs.iter().map(|(_, s)| s).sum();
    (img, unique)
}

fn is_patch(r: &RequestInfo) -> bool {
    r.method == "PATCH" && r.path.contains("/blobs/uploads/")
}

/// Two layers of 48 and 40 MiB in 4 MiB chunks; the connection
/// is cut in the middle of several PATCHes (at an edge that buffers request bodies, so the
/// registry keeps its session), other PATCHes get 429 with `Retry-After: 1` and 500, and other
/// requests are cut now and then. The push succeeds, resuming each time from the registry's
/// offset, and at most 1.2× the unique data crosses the wire (counted as the bytes the proxy
/// read from stevedore, dropped ones included).
#[test]
fn large_blobs_resume_after_broken_chunks() {
    let reg = Registry::plain();
    let patches = AtomicUsize::new(0);
    let proxy = Proxy::start(&reg.host, move |r| {
        if is_patch(r) {
            return match patches.fetch_add(1, Ordering::SeqCst) {
                1 | 6 | 13 => Fault::ResetAfter {
                    bytes: 2 * MIB as u64,
                    forward: false,
                },
                3 => Fault::Status(429),
                9 => Fault::Status(500),
                _ => Fault::Pass,
            };
        }
        if r.path.contains("/blobs/uploads/") && r.method != "POST" {
            // The session's status queries and finishing PUTs: left alone, so that what the
            // test counts does not depend on which request a fault lands on.
            return Fault::Pass;
        }
        match r.n {
            n if n % 13 == 5 => Fault::ResetAfter {
                bytes: 0,
                forward: false,
            },
            n if n % 11 == 4 => Fault::Status(429),
            _ => Fault::Pass,
        }
    });
    let ws = Workspace::new(std::slice::from_ref(&proxy.host), &["app"], "");
    let (app, unique) = large_image(&ws, vec![(41, 48 * MIB), (42, 40 * MIB)]);
    let meta = ws.path().join("meta.json");
    let start = Instant::now();
    let out = ws.xtask(
        &["push", "--metadata-file", meta.to_str().unwrap()],
        &[("STEVEDORE_CHUNK_SIZE", "4MiB"), ("STEVEDORE_TIMEOUT", "5")],
    );
    let took = start.elapsed();
    let text = output_text(&out);
    assert!(out.status.success(), "{text}\n{:#?}", proxy.log());
    support::assert_tags(&reg, "app", &app.index_bytes);

    let log = proxy.log();
    let patched = log
        .iter()
        .filter(|l| l.starts_with("PATCH ") && l.ends_with("-> 202"))
        .count();
    // 88 MiB in 4 MiB chunks: 22 accepted PATCHes, as many as if nothing had failed.
    assert_eq!(patched, 22, "{log:#?}");
    let cut = log
        .iter()
        .filter(|l| l.starts_with("PATCH ") && l.contains("reset after"))
        .count();
    assert_eq!(cut, 3, "{log:#?}");
    assert!(
        log.iter()
            .any(|l| l.starts_with("GET /v2/app/blobs/uploads/")),
        "resumed by asking the session's offset: {log:#?}"
    );
    assert!(text.contains("resume: upload blob"), "{text}");
    assert!(text.contains("429"), "{text}");
    assert!(
        !text.contains("the upload session is gone"),
        "no session was lost: {text}"
    );

    let sent = proxy.client_bytes();
    let ratio = sent as f64 / unique as f64;
    eprintln!(
        "sent {sent} bytes for {unique} unique ({ratio:.3}×), {} faults, {took:.1?}",
        proxy.faults()
    );
    assert!(ratio <= 1.2, "sent {sent} bytes for {unique}: {log:#?}");
    let m = metadata(&meta);
    assert_eq!(m["uploads"]["bytes"].as_u64().unwrap(), unique, "{m:#}");
    let reported = m["uploads"]["sent"].as_u64().unwrap();
    // stevedore's own count of what it sent (bytes it handed to the connection, so a little
    // more than the proxy read when a connection broke).
    assert!(
        reported >= sent && reported <= sent + 3 * 4 * MIB as u64,
        "{sent} {m:#}"
    );
    assert!(took < Duration::from_secs(60), "{took:?}");
}

/// Distribution 2.x drops an upload session when a PATCH broke after part of its body reached
/// the registry ("upload resumed at wrong offset"): the blob then goes in one PUT (a fresh
/// chunked session would be dropped at the next cut too) and the push still succeeds.
#[test]
fn session_dropped_by_the_registry_falls_back_to_one_put() {
    let reg = Registry::plain();
    let patches = AtomicUsize::new(0);
    let proxy = Proxy::start(&reg.host, move |r| {
        if is_patch(r) && patches.fetch_add(1, Ordering::SeqCst) == 2 {
            Fault::ResetAfter {
                bytes: MIB as u64,
                forward: true,
            }
        } else {
            Fault::Pass
        }
    });
    let ws = Workspace::new(std::slice::from_ref(&proxy.host), &["app"], "");
    let (app, unique) = large_image(&ws, vec![(51, 20 * MIB), (52, 3 * MIB)]);
    let out = ws.xtask(
        &["push"],
        &[("STEVEDORE_CHUNK_SIZE", "4MiB"), ("STEVEDORE_TIMEOUT", "5")],
    );
    let text = output_text(&out);
    assert!(out.status.success(), "{text}\n{:#?}", proxy.log());
    support::assert_tags(&reg, "app", &app.index_bytes);
    assert!(
        text.contains("the upload session is gone") && text.contains("in one request"),
        "{text}"
    );
    let log = proxy.log();
    // The 3 MiB layer (under the chunk size) went in one PUT with its body.
    let posts = log
        .iter()
        .filter(|l| l.starts_with("POST /v2/app/blobs/uploads/"))
        .count();
    let patched = log
        .iter()
        .filter(|l| l.starts_with("PATCH ") && l.ends_with("-> 202"))
        .count();
    // 20 MiB = 5 chunks: 2 accepted in the dropped session, then the whole blob in one PUT.
    assert_eq!(patched, 2, "{log:#?}");
    // Sessions: 2 configs, 1 small layer in one PUT each, the large layer twice (+1 own layer
    // per platform: 2).
    assert_eq!(posts, 7, "{log:#?}");
    let sent = proxy.client_bytes();
    eprintln!(
        "sent {sent} bytes for {unique} unique ({:.3}×)",
        sent as f64 / unique as f64
    );
    // What the dropped session held (8 MiB) and the broken chunk's first MiB were lost.
    assert!(
        sent <= unique + 9 * MIB as u64 + 64 * 1024,
        "{sent} for {unique}"
    );
}

/// A registry that refuses chunked uploads (405 to PATCH): the blob goes in one PUT instead.
#[test]
fn registry_refusing_chunks_gets_one_put() {
    let reg = Registry::plain();
    let proxy = Proxy::start(&reg.host, |r| {
        if is_patch(r) {
            Fault::Status(405)
        } else {
            Fault::Pass
        }
    });
    let ws = Workspace::new(std::slice::from_ref(&proxy.host), &["app"], "");
    let (app, unique) = large_image(&ws, vec![(61, 12 * MIB)]);
    let out = ws.xtask(&["push"], &[("STEVEDORE_CHUNK_SIZE", "4MiB")]);
    let text = output_text(&out);
    assert!(out.status.success(), "{text}\n{:#?}", proxy.log());
    support::assert_tags(&reg, "app", &app.index_bytes);
    assert!(text.contains("refused a chunk (405"), "{text}");
    // The refused first chunk, then the whole blob (and the manifests).
    assert!(
        proxy.client_bytes() <= unique + 4 * MIB as u64 + 64 * 1024,
        "{}",
        proxy.client_bytes()
    );
}
