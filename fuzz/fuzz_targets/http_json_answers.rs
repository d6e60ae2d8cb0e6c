//! What a cart answers, as the http_json adapter reads it (issue 5): a loopback server replies
//! to every request with the fuzzer's bytes as a 200 body; the adapter must turn any of it
//! into outcomes or an error, never a panic, and give one outcome per item sent.
#![no_main]

use inventory_sync::adapter::http_json::HttpJsonAdapter;
use inventory_sync::adapter::{CartAdapter, DeltaSend, QuantitySet};
use libfuzzer_sys::fuzz_target;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// The body the server sends next.
static BODY: Mutex<Vec<u8>> = Mutex::new(Vec::new());

fn adapter() -> &'static HttpJsonAdapter {
    static A: OnceLock<HttpJsonAdapter> = OnceLock::new();
    A.get_or_init(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                // One request per connection: read the head and body, answer, close.
                let mut buf = vec![0u8; 1 << 16];
                let mut got = 0;
                loop {
                    let Ok(n) = conn.read(&mut buf[got..]) else { break };
                    if n == 0 {
                        break;
                    }
                    got += n;
                    let text = String::from_utf8_lossy(&buf[..got]);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap_or(0)))
                            .unwrap_or(0);
                        if got >= end + 4 + len {
                            break;
                        }
                    }
                }
                let body = BODY.lock().unwrap().clone();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = conn.write_all(head.as_bytes());
                let _ = conn.write_all(&body);
            }
        });
        HttpJsonAdapter::new(&url, None, Duration::from_secs(5)).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let a = adapter();
    *BODY.lock().unwrap() = data.to_vec();
    let deltas = vec![
        DeltaSend { key: "k1".into(), sku: "A".into(), remote_ref: None, delta: -1 },
        DeltaSend { key: "k2".into(), sku: "B".into(), remote_ref: None, delta: 2 },
    ];
    if let Ok(out) = a.apply_deltas(&deltas) {
        assert_eq!(out.len(), deltas.len());
    }
    let sets = vec![QuantitySet { key: "s1".into(), sku: "A".into(), remote_ref: None, qoh: 3, expected: Some(1) }];
    if let Ok(out) = a.set_quantities(&sets) {
        assert_eq!(out.len(), sets.len());
    }
    let _ = a.fetch_quantities(Some("c"), 10);
});
