//! A hostile HTTP/1.1 front (test only) for a plain-HTTP registry: per request it relays to
//! the real registry, or answers an endless body, trickles the registry's answer a byte at a
//! time, or answers a body of its own (an error that echoes a password in some encoding).
//!
//! One request per client connection (`Connection: close` both ways), which keeps the framing
//! simple: request bodies are relayed by `Content-Length` or chunked framing, answers until
//! the registry closes. It counts the bytes of the bodies it made up and logs every request.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the front does with one request.
#[derive(Debug, Clone)]
pub enum Act {
    /// Relay it to the registry and the answer back.
    Pass,
    /// Answer 200 with this content type and a chunked body that never ends (64 KiB pieces, as
    /// fast as the client reads; it stops at 8 GiB or when the client goes away).
    Endless(&'static str),
    /// Relay it, and send the answer's head at once but its body one byte every this long.
    Trickle(Duration),
    /// Answer this status, content type and body.
    Answer(u16, &'static str, String),
}

/// A request as the rule sees it.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
    /// The `Host` header (the registry name the client used).
    pub host: String,
}

type Rule = dyn Fn(&Req) -> Act + Send + Sync;

pub struct Hostile {
    /// `127.0.0.1:PORT`.
    pub host: String,
    /// Bytes of made-up bodies written to clients (endless and trickled ones).
    pub made_up: Arc<AtomicU64>,
    /// Every request: `METHOD path` and its `Authorization` header.
    pub seen: Arc<Mutex<Vec<Req>>>,
    stop: Arc<AtomicBool>,
}

impl Hostile {
    /// Listens on a free loopback port in front of `upstream` (`host:port`, plain HTTP).
    pub fn start(upstream: &str, rule: impl Fn(&Req) -> Act + Send + Sync + 'static) -> Hostile {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let made_up = Arc::new(AtomicU64::new(0));
        let seen: Arc<Mutex<Vec<Req>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let rule: Arc<Rule> = Arc::new(rule);
        {
            let (made_up, seen, stop) = (made_up.clone(), seen.clone(), stop.clone());
            let upstream = upstream.to_string();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let (rule, made_up, seen, upstream) = (
                        rule.clone(),
                        made_up.clone(),
                        seen.clone(),
                        upstream.clone(),
                    );
                    std::thread::spawn(move || {
                        let _ = serve(conn, &upstream, &*rule, &made_up, &seen);
                    });
                }
            });
        }
        Hostile {
            host,
            made_up,
            seen,
            stop,
        }
    }

    pub fn made_up_bytes(&self) -> u64 {
        self.made_up.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> Vec<Req> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Hostile {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.host);
    }
}

/// Reads a request or answer head (up to the empty line).
fn read_head(r: &mut impl BufRead) -> io::Result<Vec<String>> {
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if line == "\r\n" || line == "\n" {
            return Ok(lines);
        }
        lines.push(line.trim_end().to_string());
        if lines.len() > 200 {
            return Err(io::ErrorKind::InvalidData.into());
        }
    }
}

fn header<'a>(head: &'a [String], name: &str) -> Option<&'a str> {
    head.iter().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Copies a request body framed by `head` from `r` to `w`.
fn copy_body(r: &mut impl BufRead, w: &mut impl Write, head: &[String]) -> io::Result<()> {
    if header(head, "transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        loop {
            let mut line = String::new();
            r.read_line(&mut line)?;
            w.write_all(line.as_bytes())?;
            let size = u64::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)
                .map_err(io::Error::other)?;
            if size == 0 {
                let mut end = String::new();
                r.read_line(&mut end)?;
                return w.write_all(end.as_bytes());
            }
            io::copy(&mut r.by_ref().take(size + 2), w)?;
        }
    }
    let n: u64 = header(head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    io::copy(&mut r.by_ref().take(n), w)?;
    Ok(())
}

/// The head with `Connection: close` instead of any `Connection` header.
fn closing(head: &[String]) -> String {
    let mut out = String::new();
    for line in head {
        if line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}

fn serve(
    client: TcpStream,
    upstream: &str,
    rule: &Rule,
    made_up: &AtomicU64,
    seen: &Mutex<Vec<Req>>,
) -> io::Result<()> {
    client.set_read_timeout(Some(Duration::from_secs(60)))?;
    let mut client_r = BufReader::new(client.try_clone()?);
    let mut client_w = client.try_clone()?;
    let head = read_head(&mut client_r)?;
    let mut first = head.first().map(String::as_str).unwrap_or("").split(' ');
    let req = Req {
        method: first.next().unwrap_or_default().to_string(),
        path: first.next().unwrap_or_default().to_string(),
        authorization: header(&head, "authorization").map(String::from),
        host: header(&head, "host").unwrap_or_default().to_string(),
    };
    seen.lock().unwrap().push(req.clone());
    let act = rule(&req);
    let result = match act {
        Act::Pass | Act::Trickle(_) => {
            let up = TcpStream::connect(upstream)?;
            up.set_read_timeout(Some(Duration::from_secs(60)))?;
            let mut up_w = up.try_clone()?;
            up_w.write_all(closing(&head).as_bytes())?;
            copy_body(&mut client_r, &mut up_w, &head)?;
            up_w.flush()?;
            let mut up_r = BufReader::new(up);
            match act {
                Act::Trickle(every) => {
                    let answer = read_head(&mut up_r)?;
                    client_w.write_all(closing(&answer).as_bytes())?;
                    client_w.flush()?;
                    let mut byte = [0u8; 1];
                    while up_r.read(&mut byte)? == 1 {
                        std::thread::sleep(every);
                        client_w.write_all(&byte)?;
                        client_w.flush()?;
                        made_up.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(())
                }
                _ => io::copy(&mut up_r, &mut client_w).map(|_| ()),
            }
        }
        Act::Endless(content_type) => {
            copy_body(&mut client_r, &mut io::sink(), &head)?;
            write!(
                client_w,
                "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\
                 Docker-Distribution-API-Version: registry/2.0\r\nConnection: close\r\n\r\n"
            )?;
            let piece = vec![b' '; 64 << 10];
            let mut sent = 0u64;
            while sent < 8 << 30 {
                write!(client_w, "{:x}\r\n", piece.len())?;
                client_w.write_all(&piece)?;
                client_w.write_all(b"\r\n")?;
                sent += piece.len() as u64;
                made_up.fetch_add(piece.len() as u64, Ordering::SeqCst);
            }
            Ok(())
        }
        Act::Answer(status, content_type, body) => {
            copy_body(&mut client_r, &mut io::sink(), &head)?;
            write!(
                client_w,
                "HTTP/1.1 {status} Hostile\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\
                 Docker-Distribution-API-Version: registry/2.0\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )?;
            client_w.flush()
        }
    };
    let _ = client.shutdown(Shutdown::Both);
    result
}
