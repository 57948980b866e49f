//! A fault-injecting HTTP/1.1 proxy (test only) between stevedore and a plain-HTTP registry.
//!
//! It understands just enough HTTP to frame requests and responses (Content-Length and chunked
//! bodies), so that a rule can decide, per request, to pass it through, cut the connection in
//! the middle of the request body, answer a status itself (500, 429 with `Retry-After`), or
//! stall without answering. It counts requests, the request-body bytes it forwarded and those
//! it read from the client (forwarded or not).

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward to the registry and relay the answer.
    Pass,
    /// Forward the head and half the body, then close both connections.
    ResetMidBody,
    /// Read the head and `bytes` of the body, then close both connections. With `forward`
    /// the head and those bytes reach the registry first (it sees a broken request); without,
    /// nothing reaches it (an edge that buffers request bodies, like nginx's default, lost
    /// the client).
    ResetAfter { bytes: u64, forward: bool },
    /// Answer this status with an empty body (and `Retry-After: 1` for 429).
    Status(u16),
    /// Read the request, answer nothing for this long, then close.
    Stall(Duration),
    /// Answer this status with an error body that echoes the request's `Authorization`
    /// header, as a careless registry or proxy does.
    EchoAuthorization(u16),
}

/// What a rule sees of a request.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// 0-based index of the request among every request the proxy received.
    pub n: usize,
    pub method: String,
    pub path: String,
    /// The declared body length (`None` when chunked or absent).
    pub content_length: Option<u64>,
}

#[derive(Debug, Default)]
pub struct Stats {
    pub requests: AtomicUsize,
    /// Request-body bytes forwarded to the registry (also the partial ones).
    pub upload_bytes: AtomicU64,
    /// Request-body bytes read from the client: forwarded, dropped by a fault, or answered
    /// with an injected status.
    pub client_bytes: AtomicU64,
    pub faults: AtomicUsize,
    /// `METHOD path -> status` of every request (faults included).
    pub log: Mutex<Vec<String>>,
}

type Rule = dyn Fn(&RequestInfo) -> Fault + Send + Sync;

pub struct Proxy {
    /// `127.0.0.1:PORT` of the proxy.
    pub host: String,
    pub stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`, plain HTTP).
    pub fn start(
        upstream: &str,
        rule: impl Fn(&RequestInfo) -> Fault + Send + Sync + 'static,
    ) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let stats = Arc::new(Stats::default());
        let stop = Arc::new(AtomicBool::new(false));
        let rule: Arc<Rule> = Arc::new(rule);
        let counter = Arc::new(AtomicUsize::new(0));
        {
            let (stats, stop, upstream) = (stats.clone(), stop.clone(), upstream.to_string());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (stats, rule, counter, upstream) = (
                        stats.clone(),
                        rule.clone(),
                        counter.clone(),
                        upstream.clone(),
                    );
                    std::thread::spawn(move || {
                        let _ = serve(conn, &upstream, &*rule, &counter, &stats);
                    });
                }
            });
        }
        Proxy { host, stats, stop }
    }

    pub fn requests(&self) -> usize {
        self.stats.requests.load(Ordering::SeqCst)
    }

    pub fn upload_bytes(&self) -> u64 {
        self.stats.upload_bytes.load(Ordering::SeqCst)
    }

    pub fn client_bytes(&self) -> u64 {
        self.stats.client_bytes.load(Ordering::SeqCst)
    }

    pub fn faults(&self) -> usize {
        self.stats.faults.load(Ordering::SeqCst)
    }

    pub fn log(&self) -> Vec<String> {
        self.stats.log.lock().unwrap().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host);
    }
}

struct Head {
    text: String,
    first: String,
    content_length: Option<u64>,
    chunked: bool,
    close: bool,
}

fn read_head(r: &mut impl BufRead) -> io::Result<Option<Head>> {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return if text.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        let end = line == "\r\n" || line == "\n";
        text.push_str(&line);
        if end {
            break;
        }
    }
    let first = text.lines().next().unwrap_or_default().to_string();
    let mut content_length = None;
    let mut chunked = false;
    let mut close = false;
    for line in text.lines().skip(1) {
        if let Some((k, v)) = line.split_once(':') {
            let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_ascii_lowercase());
            match k.as_str() {
                "content-length" => content_length = v.parse().ok(),
                "transfer-encoding" => chunked = v.contains("chunked"),
                "connection" => close = v == "close",
                _ => {}
            }
        }
    }
    Ok(Some(Head {
        text,
        first,
        content_length,
        chunked,
        close,
    }))
}

/// Copies a framed body from `r` to `w` (`w` may be `io::sink()`); stops after `limit` bytes
/// of payload when given (returns `Ok(false)` then). Counts payload bytes into each of `counts`.
fn copy_body(
    r: &mut impl BufRead,
    w: &mut impl Write,
    head: &Head,
    limit: Option<u64>,
    counts: &[&AtomicU64],
) -> io::Result<bool> {
    let mut sent = 0u64;
    let mut buf = vec![0u8; 64 * 1024];
    let mut copy_n = |r: &mut dyn Read, w: &mut dyn Write, mut n: u64, sent: &mut u64| {
        while n > 0 {
            let want = (buf.len() as u64).min(n) as usize;
            let want = match limit {
                Some(l) if *sent + want as u64 > l => (l - *sent) as usize,
                _ => want,
            };
            if want == 0 {
                return Ok(false);
            }
            let got = r.read(&mut buf[..want])?;
            if got == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            w.write_all(&buf[..got])?;
            for count in counts {
                count.fetch_add(got as u64, Ordering::SeqCst);
            }
            *sent += got as u64;
            n -= got as u64;
        }
        Ok(true)
    };
    if head.chunked {
        loop {
            let mut line = String::new();
            r.read_line(&mut line)?;
            w.write_all(line.as_bytes())?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(io::Error::other)?;
            if size == 0 {
                // Trailers until the empty line.
                loop {
                    let mut t = String::new();
                    r.read_line(&mut t)?;
                    w.write_all(t.as_bytes())?;
                    if t == "\r\n" || t.is_empty() {
                        break;
                    }
                }
                return Ok(true);
            }
            if !copy_n(r, w, size, &mut sent)? {
                return Ok(false);
            }
            let mut crlf = [0u8; 2];
            r.read_exact(&mut crlf)?;
            w.write_all(&crlf)?;
        }
    } else if let Some(n) = head.content_length {
        copy_n(r, w, n, &mut sent)
    } else {
        Ok(true)
    }
}

fn serve(
    client: TcpStream,
    upstream: &str,
    rule: &Rule,
    counter: &AtomicUsize,
    stats: &Stats,
) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut client_r = BufReader::with_capacity(256 * 1024, client.try_clone()?);
    let mut client_w = client.try_clone()?;
    let mut up: Option<(BufReader<TcpStream>, TcpStream)> = None;
    let sink_count = AtomicU64::new(0);
    loop {
        let Some(req) = read_head(&mut client_r)? else {
            return Ok(());
        };
        let mut parts = req.first.split_whitespace();
        let method = parts.next().unwrap_or_default().to_string();
        let path = parts.next().unwrap_or_default().to_string();
        let info = RequestInfo {
            n: counter.fetch_add(1, Ordering::SeqCst),
            method: method.clone(),
            path: path.clone(),
            content_length: if req.chunked {
                None
            } else {
                req.content_length
            },
        };
        stats.requests.fetch_add(1, Ordering::SeqCst);
        let fault = rule(&info);
        let short_path = path.split('?').next().unwrap_or_default().to_string();
        let log = |status: String| {
            stats
                .log
                .lock()
                .unwrap()
                .push(format!("{method} {short_path} -> {status}"));
        };
        match fault {
            Fault::Pass | Fault::ResetMidBody => {
                if up.is_none() {
                    let s = TcpStream::connect(upstream)?;
                    s.set_read_timeout(Some(Duration::from_secs(60)))?;
                    up = Some((BufReader::new(s.try_clone()?), s));
                }
                let (up_r, up_w) = up.as_mut().unwrap();
                up_w.write_all(req.text.as_bytes())?;
                if fault == Fault::ResetMidBody {
                    stats.faults.fetch_add(1, Ordering::SeqCst);
                    let half = req.content_length.unwrap_or(0) / 2;
                    let _ = copy_body(
                        &mut client_r,
                        up_w,
                        &req,
                        Some(half),
                        &[&stats.upload_bytes, &stats.client_bytes],
                    );
                    log("reset".into());
                    let _ = up_w.shutdown(Shutdown::Both);
                    let _ = client.shutdown(Shutdown::Both);
                    return Ok(());
                }
                copy_body(
                    &mut client_r,
                    up_w,
                    &req,
                    None,
                    &[&stats.upload_bytes, &stats.client_bytes],
                )?;
                up_w.flush()?;
                let Some(resp) = read_head(up_r)? else {
                    return Ok(());
                };
                client_w.write_all(resp.text.as_bytes())?;
                let status: u16 = resp
                    .first
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(0);
                log(status.to_string());
                let no_body = method == "HEAD" || status == 204 || status == 304 || status < 200;
                if !no_body {
                    if resp.chunked || resp.content_length.is_some() {
                        copy_body(up_r, &mut client_w, &resp, None, &[&sink_count])?;
                    } else {
                        io::copy(up_r, &mut client_w)?;
                        let _ = client.shutdown(Shutdown::Both);
                        return Ok(());
                    }
                }
                client_w.flush()?;
                if resp.close || req.close {
                    let _ = client.shutdown(Shutdown::Both);
                    return Ok(());
                }
            }
            Fault::ResetAfter { bytes, forward } => {
                stats.faults.fetch_add(1, Ordering::SeqCst);
                if forward {
                    if up.is_none() {
                        let s = TcpStream::connect(upstream)?;
                        up = Some((BufReader::new(s.try_clone()?), s));
                    }
                    let (_, up_w) = up.as_mut().unwrap();
                    up_w.write_all(req.text.as_bytes())?;
                    let _ = copy_body(
                        &mut client_r,
                        up_w,
                        &req,
                        Some(bytes),
                        &[&stats.upload_bytes, &stats.client_bytes],
                    );
                    let _ = up_w.flush();
                    let _ = up_w.shutdown(Shutdown::Both);
                } else {
                    let _ = copy_body(
                        &mut client_r,
                        &mut io::sink(),
                        &req,
                        Some(bytes),
                        &[&stats.client_bytes],
                    );
                    if let Some((_, up_w)) = &up {
                        let _ = up_w.shutdown(Shutdown::Both);
                    }
                }
                log(format!("reset after {bytes}"));
                let _ = client.shutdown(Shutdown::Both);
                return Ok(());
            }
            Fault::Status(code) => {
                stats.faults.fetch_add(1, Ordering::SeqCst);
                copy_body(
                    &mut client_r,
                    &mut io::sink(),
                    &req,
                    None,
                    &[&sink_count, &stats.client_bytes],
                )?;
                let retry = if code == 429 {
                    "Retry-After: 1\r\n"
                } else {
                    ""
                };
                let body =
                    format!(r#"{{"errors":[{{"code":"INJECTED","message":"injected {code}"}}]}}"#);
                write!(
                    client_w,
                    "HTTP/1.1 {code} Injected\r\n{retry}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )?;
                client_w.flush()?;
                log(format!("{code} (injected)"));
            }
            Fault::EchoAuthorization(code) => {
                stats.faults.fetch_add(1, Ordering::SeqCst);
                copy_body(
                    &mut client_r,
                    &mut io::sink(),
                    &req,
                    None,
                    &[&sink_count, &stats.client_bytes],
                )?;
                let auth = req
                    .text
                    .lines()
                    .find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.trim()
                            .eq_ignore_ascii_case("authorization")
                            .then(|| v.trim().to_string())
                    })
                    .unwrap_or_default();
                let body = format!(
                    r#"{{"errors":[{{"code":"DENIED","message":"access denied for Authorization: {auth}"}}]}}"#
                );
                write!(
                    client_w,
                    "HTTP/1.1 {code} Denied\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                )?;
                client_w.flush()?;
                log(format!("{code} (echoed Authorization)"));
            }
            Fault::Stall(d) => {
                stats.faults.fetch_add(1, Ordering::SeqCst);
                copy_body(
                    &mut client_r,
                    &mut io::sink(),
                    &req,
                    None,
                    &[&sink_count, &stats.client_bytes],
                )?;
                log("stalled".into());
                std::thread::sleep(d);
                let _ = client.shutdown(Shutdown::Both);
                return Ok(());
            }
        }
    }
}
