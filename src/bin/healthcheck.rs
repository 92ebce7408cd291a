//! `healthcheck [URL]`: exits 0 when `GET URL` answers 200, 1 otherwise. The containers'
//! HEALTHCHECK uses it (the runtime image has no curl). URL defaults to `$HEALTHCHECK_URL`, then
//! `http://127.0.0.1:5000/health`. Plain HTTP on loopback only: nothing more is needed here.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn check(url: &str) -> Result<(), String> {
    let rest = url.strip_prefix("http://").ok_or("only http:// URLs")?;
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let mut stream = TcpStream::connect(authority).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(3)))
        .map_err(|e| e.to_string())?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).map_err(|e| e.to_string())?;
    match &head[9..12] {
        b"200" => Ok(()),
        other => Err(format!("status {}", String::from_utf8_lossy(other))),
    }
}

fn main() {
    let url = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("HEALTHCHECK_URL").ok())
        .unwrap_or_else(|| "http://127.0.0.1:5000/health".into());
    if let Err(err) = check(&url) {
        eprintln!("unhealthy: {url}: {err}");
        std::process::exit(1);
    }
}
