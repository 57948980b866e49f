//! Hostile registries and careless configs: no credential in plaintext, no secret echoed back,
//! no host file in a layer. Against real `docker-registry` instances, with a loopback TCP
//! proxy that records every plaintext request it is sent.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use support::proxy::{Fault, Proxy};
use support::token::{TokenOptions, TokenServer, TokenUser};
use support::*;

const USER: &str = "dave";
const PASSWORD: &str = "Pa55-w0rd-s3cret";

fn auth_var(host: &str) -> String {
    let mut var = String::from("STEVEDORE_AUTH_");
    var.extend(host.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    var
}

/// A TCP proxy on a loopback port: TLS connections are relayed to the upstream untouched;
/// a connection that starts in plaintext HTTP has its request head recorded and is closed.
struct Sniffer {
    host: String,
    upstream: Arc<Mutex<Option<String>>>,
    plaintext: Arc<Mutex<Vec<String>>>,
}

impl Sniffer {
    fn start() -> Sniffer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let upstream: Arc<Mutex<Option<String>>> = Arc::default();
        let plaintext: Arc<Mutex<Vec<String>>> = Arc::default();
        let (up, seen) = (upstream.clone(), plaintext.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let (up, seen) = (up.clone(), seen.clone());
                std::thread::spawn(move || relay(conn, &up, &seen));
            }
        });
        Sniffer {
            host,
            upstream,
            plaintext,
        }
    }

    fn forward_to(&self, upstream: &str) {
        *self.upstream.lock().unwrap() = Some(upstream.to_string());
    }

    /// Plaintext request heads that carried an `Authorization` header.
    fn plaintext_credentials(&self) -> Vec<String> {
        self.plaintext
            .lock()
            .unwrap()
            .iter()
            .filter(|h| h.to_ascii_lowercase().contains("authorization:"))
            .cloned()
            .collect()
    }

    fn plaintext_requests(&self) -> usize {
        self.plaintext.lock().unwrap().len()
    }
}

fn relay(mut client: TcpStream, upstream: &Mutex<Option<String>>, seen: &Mutex<Vec<String>>) {
    client
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut first = [0u8; 1];
    if client.peek(&mut first).unwrap_or(0) == 0 {
        return;
    }
    if first[0].is_ascii_alphabetic() {
        // Plaintext HTTP: record the head, answer nothing.
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65536 {
            match client.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        seen.lock()
            .unwrap()
            .push(String::from_utf8_lossy(&head).into_owned());
        return;
    }
    let Some(up) = upstream.lock().unwrap().clone() else {
        return;
    };
    let Ok(server) = TcpStream::connect(up) else {
        return;
    };
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let t = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
        let _ = s2.shutdown(std::net::Shutdown::Write);
    });
    let (mut s3, mut c3) = (server, client);
    let _ = std::io::copy(&mut s3, &mut c3);
    let _ = c3.shutdown(std::net::Shutdown::Write);
    let _ = t.join();
}

/// A workspace releasing one `files` image to `prefix`, trusting `ca` (PEM bytes).
fn workspace(prefix: &str, ca: Option<&[u8]>) -> Workspace {
    match ca {
        Some(ca) => Workspace::with_files(
            &[prefix.to_string()],
            &["app"],
            "ca-files = [\"certs/test-ca.pem\"]",
            &[("certs/test-ca.pem", ca)],
        ),
        None => Workspace::new(&[prefix.to_string()], &["app"], ""),
    }
}

#[test]
fn https_registry_sending_uploads_to_http_gets_no_credential() {
    if !have_all(&["docker-registry", "openssl", "htpasswd", "skopeo"]) {
        return;
    }
    let sniffer = Sniffer::start();
    // distribution builds its upload `Location` from `http.host`: an http:// base on the
    // sniffer's own host and port, as a misconfigured TLS terminator would advertise.
    let registry = Registry::start(RegistryOptions {
        tls: true,
        htpasswd: Some((USER.into(), PASSWORD.into())),
        http_host: Some(format!("http://{}", sniffer.host)),
        ..Default::default()
    });
    sniffer.forward_to(&registry.host);

    // The sniffer does see a plaintext credential when one is sent to it.
    let mut probe = TcpStream::connect(&sniffer.host).unwrap();
    probe
        .write_all(b"GET /v2/ HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cHJvYmU6cHJvYmU=\r\n\r\n")
        .unwrap();
    drop(probe);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while sniffer.plaintext_credentials().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(sniffer.plaintext_credentials().len(), 1);
    sniffer.plaintext.lock().unwrap().clear();

    let ca = std::fs::read(registry.ca_file.as_ref().unwrap()).unwrap();
    let prefix = format!("{}/sec", sniffer.host);
    let ws = workspace(&prefix, Some(&ca));
    let secret = format!("{USER}:{PASSWORD}");
    let out = ws.xtask(&["-v", "release"], &[(&auth_var(&sniffer.host), &secret)]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("plain HTTP"), "{text}");
    assert!(text.contains("refused"), "{text}");
    assert!(
        text.contains(&format!(
            "http://{}/v2/sec/app/blobs/uploads/",
            sniffer.host
        )),
        "the error names the URL it was given: {text}"
    );
    assert!(!text.contains(PASSWORD), "{text}");
    assert_eq!(
        sniffer.plaintext_credentials(),
        Vec::<String>::new(),
        "no plaintext request carried Authorization"
    );
    assert_eq!(sniffer.plaintext_requests(), 0, "nothing went in plaintext");
    assert!(registry.tags("sec/app").is_empty(), "no tag moved");
}

#[test]
fn https_registry_with_plain_http_token_realm_gets_no_credential() {
    if !have_all(&["docker-registry", "openssl"]) {
        return;
    }
    let server = TokenServer::start(TokenOptions {
        users: vec![TokenUser::new(USER, PASSWORD, &["pull", "push"])],
        ttl: Duration::from_secs(300),
    });
    let registry = server.registry_with((USER, PASSWORD), true);
    assert!(server.realm.starts_with("http://"));
    let ca = std::fs::read(registry.ca_file.as_ref().unwrap()).unwrap();
    let ws = workspace(&format!("{}/sec", registry.host), Some(&ca));
    let secret = format!("{USER}:{PASSWORD}");
    let out = ws.xtask(&["-v", "release"], &[(&auth_var(&registry.host), &secret)]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("token realm"), "{text}");
    assert!(text.contains("is not HTTPS"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    assert!(
        server.requests().is_empty(),
        "the plain-HTTP token server was never asked: {:?}",
        server.requests()
    );
}

#[test]
fn echoed_authorization_header_is_redacted_everywhere() {
    if !have_all(&["docker-registry", "htpasswd", "skopeo"]) {
        return;
    }
    let registry = Registry::with_auth(USER, PASSWORD);
    // Every upload request is refused with a 403 whose body echoes the Authorization header.
    let proxy = Proxy::start(&registry.host, |r| {
        if r.method == "POST" {
            Fault::EchoAuthorization(403)
        } else {
            Fault::Pass
        }
    });
    let ws = workspace(&format!("{}/sec", proxy.host), None);
    let secret = format!("{USER}:{PASSWORD}");
    let out = ws.xtask(&["-v", "release"], &[(&auth_var(&proxy.host), &secret)]);
    let text = output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(proxy.faults() > 0, "the registry echoed the header");
    assert!(text.contains("403"), "{text}");
    assert!(text.contains("<redacted>"), "{text}");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&secret);
    for form in [PASSWORD, secret.as_str(), b64.as_str(), &b64[..12]] {
        assert!(!text.contains(form), "{form:?} leaked: {text}");
    }
}

/// A native `files` image whose source is `src` (and the files the repository holds).
fn files_workspace(src: &str, files: &[(&str, &[u8])]) -> Workspace {
    let ws = Workspace::with_files(&["127.0.0.1:1/sec".to_string()], &[], "", files);
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    ws.write(
        "images/release.toml",
        format!(
            "{config}\n[images.app]\nnative = {{ files = [{{ src = {src:?}, dst = \"/x\" }}] }}\n"
        ),
    );
    ws.commit("files image");
    ws
}

#[test]
fn files_from_outside_the_workspace_fail_plan_build_and_release() {
    let outside = tempfile::tempdir().unwrap();
    let secret_file = outside.path().join("shadow");
    std::fs::write(&secret_file, "root:$6$host-secret\n").unwrap();
    let absolute = secret_file.display().to_string();
    let cases = [
        (absolute.as_str(), "absolute path"),
        ("../../outside/secret", "leaves the workspace"),
        ("files/link", "outside the workspace root"),
    ];
    for (src, why) in cases {
        let ws = files_workspace(src, &[]);
        std::os::unix::fs::symlink(&secret_file, ws.path().join("files/link")).unwrap();
        ws.commit("link");
        for cmd in [
            &["plan"][..],
            &["build"][..],
            &["release", "--dry-run"][..],
            &["release"][..],
        ] {
            let out = ws.xtask(cmd, &[]);
            let text = output_text(&out);
            assert_eq!(out.status.code(), Some(1), "{src} {cmd:?}: {text}");
            assert!(
                text.contains("images.app.native.files[0].src"),
                "{src} {cmd:?}: {text}"
            );
            assert!(text.contains(why), "{src} {cmd:?}: {text}");
            assert!(!text.contains("host-secret"), "{text}");
        }
        let layout = ws.path().join("target/stevedore/oci");
        assert!(
            !layout.join("blobs").exists(),
            "{src}: no layer was written"
        );
    }
}

#[test]
fn symlink_inside_the_workspace_is_copied_as_its_target() {
    let ws = files_workspace("files/link", &[("files/real.txt", b"inside\n")]);
    std::os::unix::fs::symlink("real.txt", ws.path().join("files/link")).unwrap();
    ws.commit("link");
    let out = ws.xtask(&["build"], &[]);
    assert_ok(&out);
    let layout = ws.path().join("target/stevedore/oci");
    assert!(blobs_contain(&layout, b"inside\n"));
}

/// Whether some gzip layer blob of the layout holds `needle` once decompressed.
fn blobs_contain(layout: &Path, needle: &[u8]) -> bool {
    let dir = layout.join("blobs/sha256");
    std::fs::read_dir(dir).unwrap().flatten().any(|e| {
        let bytes = std::fs::read(e.path()).unwrap();
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .is_ok()
            && out.windows(needle.len()).any(|w| w == needle)
    })
}

#[test]
fn image_name_that_climbs_out_is_refused_before_any_directory_is_made() {
    let ws = Workspace::new(&["127.0.0.1:1/sec".to_string()], &["app"], "");
    let config = std::fs::read_to_string(ws.path().join("images/release.toml")).unwrap();
    ws.write(
        "images/release.toml",
        format!(
            "{config}\n[images.\"../../ESCAPE\"]\nnative = {{ files = [{{ src = \"files/hello.txt\", dst = \"/x\" }}] }}\n"
        ),
    );
    ws.commit("escape");
    for cmd in [&["plan"][..], &["build"][..], &["release", "--dry-run"][..]] {
        let out = ws.xtask(cmd, &[]);
        let text = output_text(&out);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}: {text}");
        assert!(text.contains("images.\"../../ESCAPE\""), "{text}");
        assert!(text.contains("repository path component"), "{text}");
    }
    let escaped = ws.path().join("target/stevedore/../../ESCAPE");
    assert!(!escaped.exists());
}
