//! A minimal HTTP/1.1 static file server (GET and HEAD only; the nginx role in scenarios)
//! and client (GET, plain `http://` only), over `std::net`.
//!
//! The server answers one request per connection (`Connection: close`), maps `/a/b` to
//! `<root>/a/b`, serves `index.html` for directories, refuses paths that climb out of the
//! root, and answers 405 to other methods.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs as _};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// Largest request head the server reads.
const MAX_HEAD: usize = 16 * 1024;

/// Serves files under `root` on `listener` until the process ends. One thread per
/// connection; `log` receives one line per request.
pub(crate) fn serve(listener: &TcpListener, root: &Path, log: &(dyn Fn(&str) + Sync)) {
    std::thread::scope(|scope| {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            scope.spawn(move || {
                if let Some(line) = handle_connection(stream, root) {
                    log(&line);
                }
            });
        }
    });
}

fn status_text(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    }
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        _ => "application/octet-stream",
    }
}

/// Decodes `%XX` escapes; `None` for malformed escapes.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Maps a request target to a file under `root`, or the status to answer.
fn resolve(root: &Path, target: &str) -> Result<PathBuf, u16> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if !path.starts_with('/') {
        return Err(400);
    }
    let decoded = percent_decode(path).ok_or(400u16)?;
    let decoded = String::from_utf8(decoded).map_err(|_| 400u16)?;
    if decoded.contains('\0') {
        return Err(400);
    }
    let mut full = root.to_path_buf();
    for component in Path::new(&decoded).components() {
        match component {
            Component::Normal(part) => full.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return Err(403),
        }
    }
    if full.is_dir() {
        full.push("index.html");
    }
    if full.is_file() { Ok(full) } else { Err(404) }
}

/// Answers one request on `stream`; returns a log line.
pub(crate) fn handle_connection(mut stream: TcpStream, root: &Path) -> Option<String> {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    // Drain the headers (bounded).
    let mut head = request_line.len();
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).ok()?;
        head += n;
        if n == 0 || line == "\r\n" || line == "\n" || head > MAX_HEAD {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let (code, body, ctype) = if method != "GET" && method != "HEAD" {
        (
            405,
            status_text(405).as_bytes().to_vec(),
            "text/plain; charset=utf-8",
        )
    } else {
        match resolve(root, target).and_then(|p| std::fs::read(&p).map(|b| (p, b)).map_err(|_| 403))
        {
            Ok((path, bytes)) => (200, bytes, content_type(&path)),
            Err(code) => (
                code,
                status_text(code).as_bytes().to_vec(),
                "text/plain; charset=utf-8",
            ),
        }
    };
    let mut response = format!(
        "HTTP/1.1 {code} {}\r\nContent-Length: {}\r\nContent-Type: {ctype}\r\nConnection: close\r\n",
        status_text(code),
        body.len()
    );
    if code == 405 {
        response.push_str("Allow: GET, HEAD\r\n");
    }
    response.push_str("\r\n");
    let mut out = response.into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(&body);
    }
    stream.write_all(&out).ok()?;
    let _ = stream.flush();
    Some(format!("{method} {target} {code} {}", body.len()))
}

/// An HTTP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Response {
    /// Status code.
    pub status: u16,
    /// Header lines as `(name lowercased, value)`.
    pub headers: Vec<(String, String)>,
    /// Body (chunked encoding decoded).
    pub body: Vec<u8>,
}

/// Why a GET failed (no response, or an unreadable one).
#[derive(Debug, thiserror::Error)]
pub(crate) enum GetError {
    /// Not an `http://host[:port]/path` URL.
    #[error("unsupported URL `{url}`: {reason} (hint: plain http://host[:port]/path)")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Name resolution or connection failed.
    #[error("cannot connect to `{addr}`")]
    Connect {
        /// host:port.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Sending or receiving failed.
    #[error("request to `{url}` failed")]
    Io {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The reply is not HTTP/1.x.
    #[error("malformed response from `{url}`: {reason}")]
    Malformed {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: &'static str,
    },
}

/// `host:port` (port 80 when none is written) and the path of an `http://` URL.
fn split_url(url: &str) -> Result<(String, String), String> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        if url.starts_with("https://") {
            "https is not supported".to_owned()
        } else {
            "the scheme is not `http://`".to_owned()
        }
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    // `[v6]` or `[v6]:port`, else `host` or `host:port`.
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let (v6, after) = inner
            .split_once(']')
            .ok_or_else(|| "an IPv6 address misses its closing `]`".to_owned())?;
        let port = match after {
            "" => None,
            p => Some(
                p.strip_prefix(':')
                    .ok_or_else(|| format!("`{p}` after the IPv6 address is not `:PORT`"))?,
            ),
        };
        (format!("[{v6}]"), port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() || host == "[]" {
        return Err("the host is empty".to_owned());
    }
    let port = match port {
        None => 80,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("the port `{p}` is not a number from 1 to 65535")),
        },
    };
    Ok((format!("{host}:{port}"), path.to_owned()))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

/// Sends `GET url` and reads the whole response, each network step bounded by `timeout`.
pub(crate) fn get(url: &str, timeout: Duration) -> Result<Response, GetError> {
    let (authority, path) = split_url(url).map_err(|reason| GetError::Url {
        url: url.to_owned(),
        reason,
    })?;
    let connect_err = |source| GetError::Connect {
        addr: authority.clone(),
        source,
    };
    let addrs: Vec<SocketAddr> = authority.to_socket_addrs().map_err(connect_err)?.collect();
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let mut stream = stream.ok_or_else(|| connect_err(last))?;
    let io_err = |source| GetError::Io {
        url: url.to_owned(),
        source,
    };
    stream.set_read_timeout(Some(timeout)).map_err(io_err)?;
    stream.set_write_timeout(Some(timeout)).map_err(io_err)?;
    let host = authority.strip_suffix(":80").unwrap_or(&authority);
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: nfslab-io/{}\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    stream.write_all(request.as_bytes()).map_err(io_err)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io_err)?;
    parse_response(&raw, true).map_err(|reason| GetError::Malformed {
        url: url.to_owned(),
        reason,
    })
}

/// Parses a complete HTTP/1.x response; `has_body` is false for answers to HEAD.
pub(crate) fn parse_response(raw: &[u8], has_body: bool) -> Result<Response, &'static str> {
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("no end of headers")?;
    let head = std::str::from_utf8(&raw[..head_end]).map_err(|_| "headers are not text")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("empty response")?;
    let mut parts = status_line.split_whitespace();
    if !parts.next().is_some_and(|v| v.starts_with("HTTP/1.")) {
        return Err("not an HTTP/1.x status line");
    }
    let status = parts
        .next()
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or("no status code")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let rest = &raw[head_end + 4..];
    let body = if !has_body {
        Vec::new()
    } else if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest).ok_or("bad chunked body")?
    } else if let Some(len) = header("content-length") {
        let len: usize = len.parse().map_err(|_| "bad content-length")?;
        rest.get(..len)
            .ok_or("body shorter than content-length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(Response {
        status,
        headers,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_server(root: &Path) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let root = root.to_path_buf();
        std::thread::spawn(move || serve(&listener, &root, &|_| {}));
        format!("http://{addr}")
    }

    fn raw_request(base: &str, request: &str) -> Response {
        let addr = base.strip_prefix("http://").unwrap();
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).unwrap();
        parse_response(&raw, !request.starts_with("HEAD")).unwrap()
    }

    #[test]
    fn serves_files_index_and_errors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("index.html"), "<h1>nfslab</h1>").unwrap();
        std::fs::create_dir(dir.path().join("sub dir")).unwrap();
        std::fs::write(dir.path().join("sub dir/data.txt"), "payload").unwrap();
        let base = start_server(dir.path());
        let timeout = Duration::from_secs(5);

        let r = get(&format!("{base}/"), timeout).unwrap();
        assert_eq!(
            (r.status, r.body.as_slice()),
            (200, b"<h1>nfslab</h1>".as_slice())
        );
        let r = get(&format!("{base}/sub%20dir/data.txt?x=1"), timeout).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, b"payload".as_slice()));
        assert!(
            r.headers
                .iter()
                .any(|(k, v)| k == "content-type" && v.starts_with("text/plain"))
        );
        assert_eq!(
            get(&format!("{base}/missing"), timeout).unwrap().status,
            404
        );
        assert_eq!(
            get(&format!("{base}/sub%20dir/../../etc/passwd"), timeout)
                .unwrap()
                .status,
            403
        );

        let head = raw_request(&base, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert!(
            head.headers
                .contains(&("content-length".to_owned(), "15".to_owned()))
        );
        let post = raw_request(
            &base,
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(post.status, 405);
        assert!(
            post.headers
                .contains(&("allow".to_owned(), "GET, HEAD".to_owned()))
        );
    }

    #[test]
    fn client_errors_and_chunked_bodies() {
        assert!(matches!(
            get("https://example.com/", Duration::from_secs(1)),
            Err(GetError::Url { .. })
        ));
        assert!(matches!(
            get("ftp://x/", Duration::from_secs(1)),
            Err(GetError::Url { .. })
        ));
        // A closed port on loopback refuses the connection.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(matches!(
            get(&format!("http://127.0.0.1:{port}/"), Duration::from_secs(1)),
            Err(GetError::Connect { .. })
        ));
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw, true).unwrap().body, b"hello world");
        assert!(parse_response(b"garbage", true).is_err());
        assert_eq!(
            split_url("http://h/x"),
            Ok(("h:80".to_owned(), "/x".to_owned()))
        );
        assert_eq!(
            split_url("http://h:8080"),
            Ok(("h:8080".to_owned(), "/".to_owned()))
        );
        assert_eq!(
            split_url("http://[::1]:8080/a"),
            Ok(("[::1]:8080".to_owned(), "/a".to_owned()))
        );
        assert_eq!(
            split_url("http://[::1]/"),
            Ok(("[::1]:80".to_owned(), "/".to_owned()))
        );
        for bad in [
            "http://h:port/",
            "http://h:0/",
            "http://h:65536/",
            "http://:80/",
            "http://[::1/",
        ] {
            assert!(split_url(bad).is_err(), "{bad}");
        }
        assert!(
            split_url("http://web:port/")
                .unwrap_err()
                .contains("`port` is not a number from 1 to 65535")
        );
    }
}
