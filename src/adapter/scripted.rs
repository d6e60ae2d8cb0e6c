//! A loopback HTTP server for adapter unit tests: scripted answers, recorded requests.

/// A loopback server answering scripted (status, body) pairs in order, one connection
/// each; it records every request's first line, `Authorization` header and body.
pub(crate) struct Scripted {
    /// The server's base URL.
    pub url: String,
    seen: std::sync::Arc<parking_lot::Mutex<Vec<(String, String, String)>>>,
    thread: Option<std::thread::JoinHandle<()>>,
    answers: usize,
}

/// The first line [`Scripted::finish`] sends to end a script not all asked for.
const END: &str = "END-OF-SCRIPT";

impl Scripted {
    /// Serves `script`, one (status, body) per connection; status 0 closes the connection
    /// after reading the request, without an answer (a lost answer).
    pub fn start(script: Vec<(u16, &'static str)>) -> Scripted {
        Scripted::start_with_headers(script.into_iter().map(|(s, b)| (s, "", b)).collect())
    }

    /// As [`Scripted::start`], each answer with header lines of its own (`"name: value\r\n"`
    /// each, or "").
    pub fn start_with_headers(script: Vec<(u16, &'static str, &'static str)>) -> Scripted {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let seen = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
        let log = seen.clone();
        let answers = script.len();
        let thread = std::thread::spawn(move || {
            for (status, headers, body) in script {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream);
                let mut first = String::new();
                reader.read_line(&mut first).unwrap();
                if first.trim_end() == END {
                    return;
                }
                let (mut auth, mut len) = (String::new(), 0usize);
                loop {
                    let mut line = String::new();
                    reader.read_line(&mut line).unwrap();
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    let (k, v) = line.split_once(':').unwrap();
                    match k.to_ascii_lowercase().as_str() {
                        "authorization" => auth = v.trim().to_owned(),
                        "content-length" => len = v.trim().parse().unwrap(),
                        _ => {}
                    }
                }
                let mut body_in = vec![0; len];
                reader.read_exact(&mut body_in).unwrap();
                log.lock().push((
                    first.trim_end().to_owned(),
                    auth,
                    String::from_utf8_lossy(&body_in).into_owned(),
                ));
                let mut stream = reader.into_inner();
                if status == 0 {
                    continue;
                }
                write!(
                    stream,
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{headers}\r\n{body}",
                    body.len()
                )
                .unwrap();
            }
        });
        Scripted {
            url,
            seen,
            thread: Some(thread),
            answers,
        }
    }

    /// Waits for the script to be served; every request's (first line, Authorization, body).
    /// Called once the calls under test returned: answers left over fail the test (the
    /// code asked for fewer than the script expects), rather than wait for ever.
    pub fn finish(mut self) -> Vec<(String, String, String)> {
        let asked = self.seen.lock().len();
        if asked < self.answers {
            use std::io::Write;
            let addr = self.url.trim_start_matches("http://").trim_end_matches('/');
            let mut end = std::net::TcpStream::connect(addr).unwrap();
            writeln!(end, "{END}\r").unwrap();
        }
        self.thread.take().unwrap().join().unwrap();
        let seen = self.seen.lock().clone();
        assert_eq!(
            seen.len(),
            self.answers,
            "the script's answers were not all asked for; the requests: {seen:?}"
        );
        seen
    }
}
