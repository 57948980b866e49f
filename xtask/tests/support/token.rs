//! A test-only token server, and a `docker-registry` that trusts it: the bearer-token flow of
//! GHCR and Docker Hub (`GET /v2/` → 401 `WWW-Authenticate: Bearer realm=…,service=…` → token
//! request with basic credentials → `Authorization: Bearer <JWT>`), for real.
//!
//! The server is a thread on a loopback `TcpListener` that answers only
//! `GET /token?service=…&scope=…` (one connection per request). It checks the basic
//! credentials against its users and grants, per `repository:<name>:<actions>` scope asked
//! for, the actions the user may do. Tokens are JWTs signed RS256 with a key made by openssl
//! (`openssl dgst -sha256 -sign`), with the signing certificate in the `x5c` header; the
//! registry's `auth.token.rootcertbundle` is that (self-signed) certificate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use super::{Registry, RegistryOptions};

/// The `service` the registry names in its challenge and expects as the tokens' `aud`.
pub const SERVICE: &str = "test-registry";
/// The tokens' `iss`.
pub const ISSUER: &str = "test-issuer";

/// Distribution accepts a token until 60 s after its `exp` (clock-skew leeway, in 2.8 too):
/// to make a token really expire after `ttl`, its `exp` is set this much earlier.
pub const REGISTRY_LEEWAY: u64 = 60;

/// A user of the token server and the repository actions it may be granted.
#[derive(Debug, Clone)]
pub struct TokenUser {
    pub user: String,
    pub password: String,
    /// `["pull", "push"]`, or `["pull"]` for a read-only user.
    pub actions: Vec<String>,
}

impl TokenUser {
    pub fn new(user: &str, password: &str, actions: &[&str]) -> TokenUser {
        TokenUser {
            user: user.into(),
            password: password.into(),
            actions: actions.iter().map(|a| a.to_string()).collect(),
        }
    }
}

/// What the token server does.
#[derive(Debug, Clone)]
pub struct TokenOptions {
    pub users: Vec<TokenUser>,
    /// How long a token is valid (`expires_in`, and `exp` – [`REGISTRY_LEEWAY`]).
    pub ttl: Duration,
}

/// One token request the server answered.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    /// The user of the basic credentials (`None`: anonymous or refused).
    pub user: Option<String>,
    /// The `scope` parameters asked for.
    pub scopes: Vec<String>,
    /// HTTP status answered (200, or 401 for bad credentials).
    pub status: u16,
    /// `(repository, granted actions)`.
    pub granted: Vec<(String, Vec<String>)>,
}

struct Shared {
    opts: TokenOptions,
    key: PathBuf,
    /// Base64 (standard) DER of the signing certificate, for `x5c`.
    cert_b64: String,
    requests: Mutex<Vec<TokenRequest>>,
    /// Every token issued (to check that none leaks into output).
    tokens: Mutex<Vec<String>>,
    serial: AtomicU64,
}

/// A token server on `127.0.0.1:<port>` (stopped when dropped).
pub struct TokenServer {
    pub port: u16,
    /// `http://127.0.0.1:PORT/token`.
    pub realm: String,
    /// The signing certificate (PEM): the registry's `rootcertbundle`.
    pub cert: PathBuf,
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    _dir: tempfile::TempDir,
}

impl TokenServer {
    pub fn start(opts: TokenOptions) -> TokenServer {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
                "-days",
                "2",
                "-subj",
                "/CN=test-issuer",
            ])
            .current_dir(dir.path())
            .output()
            .expect("openssl is installed");
        assert!(out.status.success(), "openssl req: {out:?}");
        let cert = dir.path().join("cert.pem");
        let pem = std::fs::read_to_string(&cert).unwrap();
        // The base64 between the PEM armour lines is the DER, standard-encoded.
        let cert_b64: String = pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect::<Vec<_>>()
            .concat();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            opts,
            key: dir.path().join("key.pem"),
            cert_b64,
            requests: Mutex::new(Vec::new()),
            tokens: Mutex::new(Vec::new()),
            serial: AtomicU64::new(0),
        });
        let stop = Arc::new(AtomicBool::new(false));
        {
            let (shared, stop) = (shared.clone(), stop.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let shared = shared.clone();
                    std::thread::spawn(move || {
                        let _ = serve(conn, &shared);
                    });
                }
            });
        }
        TokenServer {
            port,
            realm: format!("http://127.0.0.1:{port}/token"),
            cert,
            shared,
            stop,
            _dir: dir,
        }
    }

    /// Every token request answered so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Every token issued so far.
    pub fn tokens(&self) -> Vec<String> {
        self.shared.tokens.lock().unwrap().clone()
    }

    /// Starts a `docker-registry` whose `auth.token` trusts this server. `creds` are what the
    /// returned [`Registry`]'s skopeo helpers log in with (skopeo does the token flow itself).
    pub fn registry(&self, creds: (&str, &str)) -> Registry {
        self.registry_with(creds, false)
    }

    /// [`TokenServer::registry`] serving HTTPS (the token realm stays plain HTTP).
    pub fn registry_with(&self, creds: (&str, &str), tls: bool) -> Registry {
        let auth = format!(
            "auth:\n  token:\n    realm: {}\n    service: {SERVICE}\n    issuer: {ISSUER}\n    \
             rootcertbundle: {}\n",
            self.realm,
            self.cert.display()
        );
        Registry::start(RegistryOptions {
            auth: Some((auth, (creds.0.to_string(), creds.1.to_string()))),
            log_level: Some("info"),
            tls,
            ..Default::default()
        })
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Answers one request on `conn`, then closes it.
fn serve(conn: TcpStream, shared: &Shared) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let mut authorization = None;
    let mut content_length = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
            if k == "authorization" {
                authorization = Some(v);
            } else if k == "content-length" {
                content_length = v.parse().unwrap_or(0);
            }
        }
    }
    if content_length > 0 {
        let mut body = vec![0; content_length.min(1 << 20)];
        reader.read_exact(&mut body)?;
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let (status, body) = if method != "GET" || path != "/token" {
        (404, r#"{"errors":[{"code":"NOT_FOUND"}]}"#.to_string())
    } else {
        answer(shared, query, authorization.as_deref())
    };
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        _ => "Not Found",
    };
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )?;
    conn.flush()
}

/// `(status, body)` for `GET /token?<query>`.
fn answer(shared: &Shared, query: &str, authorization: Option<&str>) -> (u16, String) {
    let params: Vec<(String, String)> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (percent_decode(k), percent_decode(v)))
        .collect();
    let param = |name: &str| {
        params
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect::<Vec<_>>()
    };
    // Several scopes come as several `scope` parameters, or space-separated in one.
    let scopes: Vec<String> = param("scope")
        .iter()
        .flat_map(|s| s.split(' ').map(String::from).collect::<Vec<_>>())
        .filter(|s| !s.is_empty())
        .collect();
    let user = authorization
        .and_then(|a| a.strip_prefix("Basic "))
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .and_then(|b| String::from_utf8(b).ok())
        .and_then(|s| {
            let (u, p) = s.split_once(':')?;
            shared
                .opts
                .users
                .iter()
                .find(|x| x.user == u && x.password == p)
                .cloned()
        });
    let mut record = TokenRequest {
        user: user.as_ref().map(|u| u.user.clone()),
        scopes: scopes.clone(),
        status: 401,
        granted: Vec::new(),
    };
    let Some(user) = user else {
        shared.requests.lock().unwrap().push(record);
        return (
            401,
            r#"{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}"#.into(),
        );
    };
    if param("service").first().map(String::as_str) != Some(SERVICE) {
        shared.requests.lock().unwrap().push(record);
        return (401, r#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.into());
    }
    let mut access = Vec::new();
    for scope in &scopes {
        let mut it = scope.splitn(3, ':');
        let (Some("repository"), Some(name), Some(actions)) = (it.next(), it.next(), it.next())
        else {
            continue;
        };
        let granted: Vec<String> = actions
            .split(',')
            .filter(|a| user.actions.iter().any(|x| x == a))
            .map(String::from)
            .collect();
        record.granted.push((name.to_string(), granted.clone()));
        access.push(serde_json::json!({
            "type": "repository", "name": name, "actions": granted
        }));
    }
    let now = now_secs();
    let ttl = shared.opts.ttl.as_secs().max(1);
    let serial = shared.serial.fetch_add(1, Ordering::SeqCst);
    let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [shared.cert_b64]});
    let claims = serde_json::json!({
        "iss": ISSUER,
        "sub": user.user,
        "aud": SERVICE,
        "exp": now + ttl - REGISTRY_LEEWAY,
        "nbf": now - 10,
        "iat": now,
        "jti": format!("token-{serial}-{now}"),
        "access": access,
    });
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    let input = format!("{}.{}", b64(&header), b64(&claims));
    let sig = sign(&shared.key, input.as_bytes());
    let jwt = format!(
        "{input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    );
    record.status = 200;
    shared.requests.lock().unwrap().push(record);
    shared.tokens.lock().unwrap().push(jwt.clone());
    let body = serde_json::json!({
        "token": jwt,
        "access_token": jwt,
        "expires_in": ttl,
        "issued_at": rfc3339(now),
    });
    (200, body.to_string())
}

/// RSA-SHA256 signature of `data` with the PEM key at `key` (`openssl dgst -sha256 -sign`).
fn sign(key: &Path, data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl is installed");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl dgst: {out:?}");
    out.stdout
}

/// `%XX` and `+` decoding of a query component.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
            (b'+', _, _) => out.push(b' '),
            (c, _, _) => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `YYYY-MM-DDTHH:MM:SSZ` for seconds since the epoch.
fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}
