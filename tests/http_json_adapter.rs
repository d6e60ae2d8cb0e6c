//! The `http_json` adapter against the loopback emulator, over real HTTP on 127.0.0.1.
#![cfg(feature = "emulator")]

use inventory_sync::adapter::http_json::HttpJsonAdapter;
use inventory_sync::adapter::{
    CartAdapter, CartError, DeltaSend, QuantitySet, SendOutcome, UpdateMode,
};
use inventory_sync::emulator::{Emulator, Fault};
use inventory_sync::secret::Secret;
use inventory_sync::ErrorKind;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

#[path = "../src/adapter/scripted.rs"]
mod scripted;
#[path = "common/waits.rs"]
mod waits;
use scripted::Scripted;

fn adapter(emu: &Emulator) -> HttpJsonAdapter {
    HttpJsonAdapter::new(&emu.url(), None, Duration::from_secs(10)).unwrap()
}

fn delta(key: &str, sku: &str, delta: i64) -> DeltaSend {
    DeltaSend {
        key: key.into(),
        sku: sku.into(),
        remote_ref: None,
        delta,
    }
}

fn set(key: &str, sku: &str, qoh: i64, expected: Option<i64>) -> QuantitySet {
    QuantitySet {
        key: key.into(),
        sku: sku.into(),
        remote_ref: None,
        qoh,
        expected,
    }
}

#[test]
fn apply_and_duplicate_key_applies_once() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("TEE-M", 5);
    emu.set_qoh("TEE-L", 1);
    let a = adapter(&emu);
    assert_eq!(a.update_mode(), UpdateMode::RelativeKeyed);

    let batch = [delta("k1", "TEE-M", -2), delta("k2", "TEE-L", 4)];
    let out = a.apply_deltas(&batch).unwrap();
    assert_eq!(
        out,
        vec![
            SendOutcome::Applied { qoh: Some(3) },
            SendOutcome::Applied { qoh: Some(5) }
        ]
    );
    // The same keys again: duplicates count as applied and change nothing.
    let again = a.apply_deltas(&batch).unwrap();
    assert_eq!(again, out);
    assert_eq!(emu.qoh("TEE-M"), Some(3));
    assert_eq!(emu.qoh("TEE-L"), Some(5));
    assert_eq!(emu.applied_keys(), 2);
    assert_eq!(emu.duplicate_hits(), 2);
    assert_eq!(emu.adjust_requests(), 2);
    assert_eq!(emu.max_batch_seen(), 2);
    assert_eq!(a.apply_deltas(&[]).unwrap(), vec![]);
    assert_eq!(emu.requests(), 2, "an empty batch sends nothing");
}

#[test]
fn unknown_sku_fails_and_is_not_remembered() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("TEE-M", 5);
    let a = adapter(&emu);
    let out = a
        .apply_deltas(&[delta("k1", "NOPE", 1), delta("k2", "TEE-M", 1)])
        .unwrap();
    match &out[0] {
        SendOutcome::Failed { message } => {
            assert!(
                message.contains("NOPE") && message.contains("unknown_sku"),
                "{message}"
            )
        }
        other => panic!("expected Failed, got {other:?}"),
    }
    assert_eq!(out[1], SendOutcome::Applied { qoh: Some(6) });
    // Once the item exists, the same key applies (it was not remembered).
    emu.set_qoh("NOPE", 0);
    assert_eq!(
        a.apply_deltas(&[delta("k1", "NOPE", 1)]).unwrap(),
        vec![SendOutcome::Applied { qoh: Some(1) }]
    );
}

#[test]
fn rejected_and_absurd_values_fail_with_the_carts_message() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("A", 1);
    emu.set_qoh("B", i64::MAX - 1);
    emu.fail_sku("C", "rejected");
    emu.set_qoh("C", 1);
    let a = adapter(&emu);
    let out = a
        .apply_deltas(&[
            delta("k1", "A", 2_000_000_000),
            delta("k2", "B", 5),
            delta("k3", "C", 1),
        ])
        .unwrap();
    for (o, sku) in out.iter().zip(["A", "B", "C"]) {
        match o {
            SendOutcome::Failed { message } => {
                assert!(
                    message.contains(sku) && message.contains("rejected"),
                    "{message}"
                )
            }
            other => panic!("expected Failed for {sku}, got {other:?}"),
        }
    }
    assert_eq!(
        emu.catalogue(),
        vec![("A".into(), 1), ("B".into(), i64::MAX - 1), ("C".into(), 1)]
    );
    assert_eq!(emu.applied_keys(), 0);
}

#[test]
fn set_with_expected_conflicts() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("TEE-M", 5);
    emu.set_qoh("TEE-S", 2);
    let a = adapter(&emu);
    let out = a
        .set_quantities(&[
            set("s1", "TEE-M", 7, Some(4)),
            set("s2", "TEE-S", 9, Some(2)),
            set("s3", "GONE", 1, None),
        ])
        .unwrap();
    assert_eq!(out[0], SendOutcome::Conflict { current: 5 });
    assert_eq!(out[1], SendOutcome::Applied { qoh: Some(9) });
    assert!(matches!(&out[2], SendOutcome::Failed { message } if message.contains("GONE")));
    assert_eq!(emu.qoh("TEE-M"), Some(5));
    assert_eq!(emu.qoh("TEE-S"), Some(9));
    // Without `expected` the set simply applies.
    assert_eq!(
        a.set_quantities(&[set("s4", "TEE-M", 7, None)]).unwrap(),
        vec![SendOutcome::Applied { qoh: Some(7) }]
    );
    assert_eq!(emu.set_requests(), 2);
}

#[test]
fn paging_returns_every_item_once() {
    let emu = Emulator::start().unwrap();
    for i in 0..250 {
        emu.set_qoh(&format!("SKU-{i:04}"), i);
    }
    let a = adapter(&emu);
    let mut cursor: Option<String> = None;
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        let page = a.fetch_quantities(cursor.as_deref(), 100).unwrap();
        pages += 1;
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages < 10, "paging does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(all, emu.catalogue());
    assert_eq!(all.len(), 250);
    assert_eq!(emu.get_requests(), 3);
}

#[test]
fn cursors_with_odd_characters_survive_the_round_trip() {
    let emu = Emulator::start().unwrap();
    let skus = ["A&B", "A+B", "A/B?c=d", "A B", "Ä#1", "Z%20"];
    for (i, s) in skus.iter().enumerate() {
        emu.set_qoh(s, i as i64);
    }
    let a = adapter(&emu);
    let mut cursor: Option<String> = None;
    let mut all = Vec::new();
    loop {
        let page = a.fetch_quantities(cursor.as_deref(), 1).unwrap();
        assert!(page.items.len() <= 1);
        all.extend(page.items);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(all, emu.catalogue());
}

#[test]
fn rate_limit_carries_retry_after() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("TEE-M", 5);
    emu.inject(Fault::Status {
        status: 429,
        count: 1,
        retry_after: Some(2),
    });
    let a = adapter(&emu);
    match a.apply_deltas(&[delta("k1", "TEE-M", 1)]) {
        Err(CartError::RateLimited {
            retry_after,
            message,
        }) => {
            assert_eq!(retry_after, Some(Duration::from_secs(2)));
            assert!(message.contains("429"), "{message}");
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert_eq!(emu.qoh("TEE-M"), Some(5));
    // The fault is spent: the next request applies.
    assert_eq!(
        a.apply_deltas(&[delta("k1", "TEE-M", 1)]).unwrap(),
        vec![SendOutcome::Applied { qoh: Some(6) }]
    );
}

#[test]
fn server_errors_are_unavailable_and_other_4xx_rejected() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("TEE-M", 5);
    let a = adapter(&emu);
    emu.inject(Fault::Status {
        status: 503,
        count: 1,
        retry_after: None,
    });
    emu.inject(Fault::Status {
        status: 400,
        count: 1,
        retry_after: None,
    });
    emu.inject(Fault::Status {
        status: 500,
        count: 1,
        retry_after: None,
    });
    match a.apply_deltas(&[delta("k1", "TEE-M", 1)]) {
        Err(CartError::Unavailable(m)) => assert!(m.contains("HTTP 503"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    match a.set_quantities(&[set("s", "TEE-M", 1, None)]) {
        Err(CartError::Rejected(m)) => assert!(m.contains("HTTP 400"), "{m}"),
        other => panic!("expected Rejected, got {other:?}"),
    }
    match a.fetch_quantities(None, 10) {
        Err(CartError::Unavailable(m)) => assert!(m.contains("HTTP 500"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert_eq!(emu.qoh("TEE-M"), Some(5));
    assert_eq!(emu.requests(), 3);
}

#[test]
fn wrong_token_is_unauthorized_and_never_shown() {
    const RIGHT: &str = "right-token-9f8e7d";
    const WRONG: &str = "wrong-token-1a2b3c";
    let emu = Emulator::start().unwrap();
    emu.set_qoh("TEE-M", 5);
    emu.set_token(Some(RIGHT));

    let bad = HttpJsonAdapter::new(
        &emu.url(),
        Some(Secret::new(WRONG)),
        Duration::from_secs(10),
    )
    .unwrap();
    let none = adapter(&emu);
    let mut shown = vec![format!("{bad:?}")];
    for a in [&bad, &none] {
        let e1 = a.apply_deltas(&[delta("k1", "TEE-M", 1)]).unwrap_err();
        let e2 = a
            .set_quantities(&[set("s1", "TEE-M", 1, None)])
            .unwrap_err();
        let e3 = a.fetch_quantities(Some("cur"), 10).unwrap_err();
        for e in [e1, e2, e3] {
            assert!(matches!(e, CartError::Unauthorized(_)), "{e:?}");
            shown.push(format!("{e:?}"));
            shown.push(e.message());
        }
    }
    for text in &shown {
        assert!(
            !text.contains(WRONG) && !text.contains(RIGHT),
            "token shown in {text}"
        );
        assert!(!text.contains("Bearer"), "header shown in {text}");
    }
    assert_eq!(emu.qoh("TEE-M"), Some(5));

    let good = HttpJsonAdapter::new(
        &emu.url(),
        Some(Secret::new(RIGHT)),
        Duration::from_secs(10),
    )
    .unwrap();
    assert!(!format!("{good:?}").contains(RIGHT));
    assert_eq!(
        good.apply_deltas(&[delta("k1", "TEE-M", 1)]).unwrap(),
        vec![SendOutcome::Applied { qoh: Some(6) }]
    );
}

#[test]
fn dropped_after_apply_is_ambiguous_and_a_resend_is_safe() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("TEE-M", 5);
    let a = adapter(&emu);
    // Warm the connection pool so the drop hits a reused keep-alive connection too.
    a.fetch_quantities(None, 10).unwrap();
    emu.inject(Fault::ApplyThenDrop { count: 1 });
    let batch = [delta("k1", "TEE-M", -3)];
    match a.apply_deltas(&batch) {
        Err(CartError::Ambiguous(_)) => {}
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    assert_eq!(emu.qoh("TEE-M"), Some(2), "the cart applied it");
    assert_eq!(
        a.apply_deltas(&batch).unwrap(),
        vec![SendOutcome::Applied { qoh: Some(2) }]
    );
    assert_eq!(emu.qoh("TEE-M"), Some(2), "changed once");
    assert_eq!(emu.applied_keys(), 1);
    assert_eq!(emu.duplicate_hits(), 1);
}

#[test]
fn malformed_answers() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("TEE-M", 5);
    let a = adapter(&emu);
    emu.inject(Fault::MalformedJson { count: 3 });
    match a.apply_deltas(&[delta("k1", "TEE-M", 1)]) {
        Err(CartError::Ambiguous(m)) => assert!(m.contains("malformed answer"), "{m}"),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    // A set's too: the cart took it and may have set the count.
    match a.set_quantities(&[set("s1", "TEE-M", 9, None)]) {
        Err(CartError::Ambiguous(m)) => assert!(m.contains("malformed answer"), "{m}"),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    // A garbled read is worth another try, like a 5xx.
    match a.fetch_quantities(None, 10) {
        Err(CartError::Unavailable(m)) => assert!(m.contains("malformed answer"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // The adjust and the set were applied before the bad answers.
    assert_eq!(emu.qoh("TEE-M"), Some(9));
    assert_eq!(
        a.apply_deltas(&[delta("k1", "TEE-M", 1)]).unwrap(),
        vec![SendOutcome::Applied { qoh: Some(9) }],
        "the re-sent key is a duplicate"
    );
}

#[test]
fn connection_refused_is_unreachable() {
    let emu = Emulator::start().unwrap();
    let url = emu.url();
    emu.shutdown();
    drop(emu);
    let a = HttpJsonAdapter::new(&url, None, Duration::from_secs(5)).unwrap();
    match a.apply_deltas(&[delta("k1", "TEE-M", 1)]) {
        Err(CartError::Unreachable(_)) => {}
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(matches!(
        a.fetch_quantities(None, 1),
        Err(CartError::Unreachable(_))
    ));
}

#[test]
fn urls_must_be_http() {
    for url in [
        "ftp://127.0.0.1/",
        "file:///tmp/x",
        "127.0.0.1:80",
        "",
        "mailto:a@b",
    ] {
        let e = HttpJsonAdapter::new(url, Some(Secret::new("tok-xyz")), Duration::from_secs(1))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{url}");
        assert!(!e.message().contains("tok-xyz"));
    }
    let a = HttpJsonAdapter::new("https://cart.example/api", None, Duration::from_secs(1)).unwrap();
    assert_eq!(a.url(), "https://cart.example/api/");
}

#[test]
fn client_timeout_on_a_hang_is_ambiguous() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("TEE-M", 5);
    let a = HttpJsonAdapter::new(&emu.url(), None, Duration::from_millis(300)).unwrap();
    emu.inject(Fault::Hang { count: 1 });
    match a.apply_deltas(&[delta("k1", "TEE-M", 1)]) {
        Err(CartError::Ambiguous(_)) => {}
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    assert_eq!(emu.qoh("TEE-M"), Some(5), "a hang applies nothing");
    assert_eq!(
        a.apply_deltas(&[delta("k1", "TEE-M", 1)]).unwrap(),
        vec![SendOutcome::Applied { qoh: Some(6) }]
    );
    // Shutdown does not wait 30 s for the hanging connection.
    emu.shutdown();
    assert_eq!(emu.open_connections(), 0);
}

#[test]
fn delay_applies_and_then_answers() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("TEE-M", 5);
    let a = adapter(&emu);
    emu.inject(Fault::Delay { ms: 50, count: 1 });
    assert_eq!(
        a.apply_deltas(&[delta("k1", "TEE-M", 1)]).unwrap(),
        vec![SendOutcome::Applied { qoh: Some(6) }]
    );
    assert!(emu.pending_faults().is_empty());
}

#[test]
fn keep_alive_is_reused_and_threads_end_with_their_connections() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("TEE-M", 0);
    let a = Arc::new(adapter(&emu));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let a = a.clone();
            std::thread::spawn(move || {
                for i in 0..250 {
                    let out = a
                        .apply_deltas(&[delta(&format!("t{t}-{i}"), "TEE-M", 1)])
                        .unwrap();
                    assert!(matches!(out[0], SendOutcome::Applied { .. }));
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(emu.qoh("TEE-M"), Some(1000));
    assert_eq!(emu.requests(), 1000);
    assert!(
        emu.connections_accepted() <= 16,
        "keep-alive not reused: {} connections",
        emu.connections_accepted()
    );
    drop(a);
    assert!(
        emu.wait_for_no_connections(Duration::from_secs(10)),
        "serving threads outlived their connections"
    );
}

#[test]
fn connection_close_is_honoured() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("X", 3);
    let mut s = std::net::TcpStream::connect(emu.addr()).unwrap();
    s.write_all(b"GET /qoh?limit=5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    // Reading to the end terminates only because the server closes the connection.
    // Bounded, so that a server that never closes fails the test instead of hanging it.
    s.set_read_timeout(Some(waits::PATIENCE)).unwrap();
    s.read_to_string(&mut answer)
        .expect("the server ended its answer by closing the connection within 60 s");
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.contains("Connection: close"));
    assert!(
        answer.ends_with(r#"{"items":[{"qoh":3,"sku":"X"}],"next_cursor":null}"#),
        "{answer}"
    );
    assert!(emu.wait_for_no_connections(Duration::from_secs(10)));
}

#[test]
fn many_connections_at_once() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("X", 0);
    // 64 open keep-alive connections, each serving two requests before closing.
    let mut conns: Vec<_> = (0..64)
        .map(|_| std::net::TcpStream::connect(emu.addr()).unwrap())
        .collect();
    for (i, s) in conns.iter_mut().enumerate() {
        let body = format!(r#"{{"adjustments":[{{"key":"c{i}","sku":"X","delta":1}}]}}"#);
        let req = format!(
            "POST /qoh/adjust HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).unwrap();
    }
    for s in conns.iter_mut() {
        s.write_all(b"GET /qoh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut answer = String::new();
        // Bounded, so that a server that never closes fails the test instead of hanging it.
        s.set_read_timeout(Some(waits::PATIENCE)).unwrap();
        s.read_to_string(&mut answer)
            .expect("the server ended its answer by closing the connection within 60 s");
        assert_eq!(answer.matches("HTTP/1.1 200 OK").count(), 2, "{answer}");
    }
    assert_eq!(emu.qoh("X"), Some(64));
    assert_eq!(emu.requests(), 128);
    assert_eq!(emu.connections_accepted(), 64);
    assert!(emu.wait_for_no_connections(Duration::from_secs(10)));
}

/// 100,000 requests through one shared adapter from 8 threads (a few seconds in debug).
#[test]
fn stress_100k_requests() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("X", 0);
    let a = Arc::new(adapter(&emu));
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let a = a.clone();
            std::thread::spawn(move || {
                for i in 0..12_500 {
                    a.apply_deltas(&[delta(&format!("t{t}-{i}"), "X", 1)])
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(emu.qoh("X"), Some(100_000));
    assert!(emu.connections_accepted() <= 32);
    drop(a);
    assert!(emu.wait_for_no_connections(Duration::from_secs(10)));
}

#[test]
fn connection_churn_leaves_no_threads() {
    let emu = Emulator::start().unwrap();
    emu.set_qoh("X", 1);
    for _ in 0..2000 {
        let mut s = std::net::TcpStream::connect(emu.addr()).unwrap();
        s.write_all(b"GET /qoh HTTP/1.0\r\n\r\n").unwrap();
        let mut answer = Vec::new();
        // Bounded, so that a server that never closes fails the test instead of hanging it.
        s.set_read_timeout(Some(waits::PATIENCE)).unwrap();
        s.read_to_end(&mut answer)
            .expect("the server ended its answer by closing the connection within 60 s");
        assert!(answer.starts_with(b"HTTP/1.1 200 OK"));
    }
    assert_eq!(emu.connections_accepted(), 2000);
    assert!(emu.wait_for_no_connections(Duration::from_secs(10)));
}

/// A cart (or a proxy before it) that answers 200 and then streams without end. Counts what it
/// managed to write before the client hung up.
fn endless_answer() -> (String, std::thread::JoinHandle<u64>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let mut written = 0u64;
        for _ in 0..2 {
            let (mut conn, _) = listener.accept().unwrap();
            let mut head = [0u8; 4096];
            let _ = conn.read(&mut head).unwrap();
            conn.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
            )
            .unwrap();
            let chunk = vec![b' '; 1 << 20];
            // Stops on its own at 256 MiB, so a client that reads it all still ends.
            for _ in 0..256 {
                if conn.write_all(&chunk).is_err() {
                    break;
                }
                written += chunk.len() as u64;
            }
        }
        written
    });
    (url, server)
}

/// A runaway answer is refused once it passes the cap (32 MiB), without reading the rest into
/// the host's memory: a write's is a lost answer (it may have applied), a read's an outage.
#[test]
fn an_endless_answer_is_cut_off_not_read_into_memory() {
    let (url, server) = endless_answer();
    let a = HttpJsonAdapter::new(&url, None, Duration::from_secs(30)).unwrap();
    match a.apply_deltas(&[delta("k1", "TEE-M", 1)]) {
        Err(CartError::Ambiguous(m)) => assert!(m.contains("larger than 32768 KiB"), "{m}"),
        other => panic!("expected Ambiguous, got {other:?}"),
    }
    match a.fetch_quantities(None, 10) {
        Err(CartError::Unavailable(m)) => assert!(m.contains("larger than 32768 KiB"), "{m}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    waits::wait_for("the endless server's two answers to end", || {
        server.is_finished()
    });
    let written = server.join().unwrap();
    assert!(
        written < 128 << 20,
        "the client stopped reading each answer soon after the cap: {written} bytes written"
    );
}

/// A cart that quotes the token back (in a 401's body, in a result's message): the adapter's
/// errors and outcomes never hold it, used alone as an integrator may (the library's registry
/// scrubs what adapters say too). They held it verbatim.
#[test]
fn a_token_the_cart_quotes_back_is_never_shown() {
    const TOKEN: &str = "tok-s3cr3t-4711";
    let cart = Scripted::start(vec![
        (401, r#"{"error":"invalid token Bearer tok-s3cr3t-4711"}"#),
        (
            200,
            r#"{"results":[{"key":"s1","status":"rejected","message":"tok-s3cr3t-4711 may not"}]}"#,
        ),
    ]);
    let a =
        HttpJsonAdapter::new(&cart.url, Some(Secret::new(TOKEN)), Duration::from_secs(10)).unwrap();
    let e = a.apply_deltas(&[delta("k1", "TEE-M", 1)]).unwrap_err();
    let o = a.set_quantities(&[set("s1", "TEE-M", 1, None)]).unwrap();
    cart.finish();
    let shown = format!("{e:?} {} {o:?}", e.message());
    assert!(
        !shown.contains(TOKEN) && shown.contains("invalid token") && shown.contains("may not"),
        "{shown}"
    );
}

/// A set answered with a status outside the protocol (a plugin's `updated`) may have been
/// set: `Uncertain`, so Send QOH settles the records the count included rather than send
/// them on top of it. As `Failed` (surely not set), a receiving of 5 the count included
/// went to the cart again, and it offered 5 units the store did not have.
#[test]
fn a_set_answered_outside_the_protocol_may_have_been_set() {
    let cart = Scripted::start(vec![(
        200,
        r#"{"results":[{"key":"s1","status":"updated","qoh":15}]}"#,
    )]);
    let a = HttpJsonAdapter::new(&cart.url, None, Duration::from_secs(10)).unwrap();
    let o = a.set_quantities(&[set("s1", "TEE-M", 15, None)]).unwrap();
    cart.finish();
    assert!(
        matches!(&o[..], [SendOutcome::Uncertain { message }] if message.contains("updated")),
        "{o:?}"
    );
}

/// 408 Request Timeout (a proxy or server gave up waiting for the request: RFC 9110 says it
/// was not processed, and may be sent again), 421 and 425 are "try later", as a 5xx: one
/// such answer had the whole batch bypassed as refused.
#[test]
fn a_request_not_processed_is_tried_again() {
    for status in [408, 421, 425] {
        let emu = Emulator::start().unwrap();
        emu.set_qoh("TEE-M", 5);
        emu.inject(Fault::Status {
            status,
            count: 1,
            retry_after: None,
        });
        let a = adapter(&emu);
        match a.apply_deltas(&[delta("k1", "TEE-M", -1)]) {
            Err(CartError::Unavailable(m)) => assert!(m.contains(&format!("HTTP {status}")), "{m}"),
            other => panic!("{status}: expected Unavailable, got {other:?}"),
        }
        assert_eq!(
            a.apply_deltas(&[delta("k1", "TEE-M", -1)]).unwrap(),
            vec![SendOutcome::Applied { qoh: Some(4) }]
        );
    }
}

/// A token the cart quotes back in another case (a server that logs headers lower-cased) or
/// as a URL quotes it (`%2F` for `/`) is scrubbed like one quoted as sent: until 2026-12-03
/// both reached the error, and through it the troubleshooting view.
#[test]
fn a_token_quoted_back_in_another_case_or_url_encoded_is_never_shown() {
    for (token, echo) in [
        ("TOK-S3CR3T-ABCDEF-4711", "tok-s3cr3t-abcdef-4711"),
        ("tok/s3cr3t+4711==", "tok%2fs3cr3t%2B4711%3D%3D"),
    ] {
        let refused = format!(r#"{{"error":"authorization: bearer {echo} is not valid"}}"#);
        let rejected = format!(
            r#"{{"results":[{{"key":"k1","status":"rejected","message":"token {echo} may not write"}}]}}"#
        );
        let server = Scripted::start(vec![
            (401, Box::leak(refused.into_boxed_str())),
            (200, Box::leak(rejected.into_boxed_str())),
        ]);
        let a = HttpJsonAdapter::new(
            &server.url,
            Some(Secret::new(token)),
            Duration::from_secs(5),
        )
        .unwrap();
        let e = a.apply_deltas(&[delta("k1", "TEE-M", 1)]).unwrap_err();
        let out = a.apply_deltas(&[delta("k1", "TEE-M", 1)]).unwrap();
        server.finish();
        let text = format!("{} {out:?}", e.message()).to_ascii_lowercase();
        assert!(!text.contains(&echo.to_ascii_lowercase()), "{text}");
        assert!(text.contains("***"), "{text}");
    }
}

/// §9a: one result per change. A key answered twice, applied and refused, settles nothing:
/// which holds is not known, and the first taken as it came settled a change the cart may
/// have refused. A keyed change goes again (a duplicate there is harmless), a count is in
/// doubt. Two results that agree are taken.
#[test]
fn a_key_answered_twice_otherwise_settles_nothing() {
    let server = Scripted::start(vec![
        (
            200,
            r#"{"results":[{"key":"k1","status":"applied","qoh":6},{"key":"k1","status":"rejected","qoh":5}]}"#,
        ),
        (
            200,
            r#"{"results":[{"key":"s1","status":"applied","qoh":7},{"key":"s1","status":"conflict","qoh":3}]}"#,
        ),
        (
            200,
            r#"{"results":[{"key":"k2","status":"applied","qoh":6},{"key":"k2","status":"applied","qoh":6}]}"#,
        ),
    ]);
    let a = HttpJsonAdapter::new(&server.url, None, Duration::from_secs(5)).unwrap();
    let out = a.apply_deltas(&[delta("k1", "TEE-M", 1)]).unwrap();
    assert!(matches!(out[0], SendOutcome::Retry { .. }), "{out:?}");
    let out = a.set_quantities(&[set("s1", "TEE-M", 7, Some(5))]).unwrap();
    assert!(matches!(out[0], SendOutcome::Uncertain { .. }), "{out:?}");
    let out = a.apply_deltas(&[delta("k2", "TEE-M", 1)]).unwrap();
    assert_eq!(out, vec![SendOutcome::Applied { qoh: Some(6) }]);
    server.finish();
}

/// A count written as text (`"qoh":"6"`: PHP handing on a database field) is the count:
/// read as a malformed answer, an applied change went again and again, answered
/// `duplicate`, until it was bypassed with the cart holding it.
#[test]
fn a_count_written_as_text_is_read() {
    let server = Scripted::start(vec![
        (
            200,
            r#"{"results":[{"key":"k1","status":"applied","qoh":"6"}]}"#,
        ),
        (
            200,
            r#"{"items":[{"sku":"TEE-M","qoh":" 6 "}],"next_cursor":null}"#,
        ),
    ]);
    let a = HttpJsonAdapter::new(&server.url, None, Duration::from_secs(5)).unwrap();
    let out = a.apply_deltas(&[delta("k1", "TEE-M", 1)]).unwrap();
    assert_eq!(out, vec![SendOutcome::Applied { qoh: Some(6) }]);
    let page = a.fetch_quantities(None, 10).unwrap();
    assert_eq!(page.items, vec![("TEE-M".to_string(), 6)]);
    server.finish();
}

/// A redirect (a shop moved to https, or to another domain) answers every request alike: a
/// setting only the owner can fix. The cart pauses, its changes waiting; refused as a 4xx is,
/// every batch was bypassed the moment it was tried.
#[test]
fn a_redirect_pauses_the_cart() {
    let server = Scripted::start(vec![(301, r#"{"error":"moved"}"#)]);
    let a = HttpJsonAdapter::new(&server.url, None, Duration::from_secs(5)).unwrap();
    let e = a.apply_deltas(&[delta("k1", "TEE-M", 1)]).unwrap_err();
    server.finish();
    assert!(
        matches!(&e, CartError::Unauthorized(m) if m.contains("301") && m.contains("url")),
        "{e:?}"
    );
}

/// The emulator takes the `Bearer` scheme in any case, as HTTP has it (RFC 9110 §11.1).
#[test]
fn the_emulator_takes_the_bearer_scheme_in_any_case() {
    let emu = Emulator::start().unwrap();
    emu.set_token(Some("tok-4711"));
    let addr = emu
        .url()
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .write_all(b"GET /qoh HTTP/1.1\r\nhost: x\r\nauthorization: bearer tok-4711\r\nconnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    // Bounded, so that a server that never closes fails the test instead of hanging it.
    stream.set_read_timeout(Some(waits::PATIENCE)).unwrap();
    stream
        .read_to_string(&mut answer)
        .expect("the server ended its answer by closing the connection within 60 s");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

// From a review against DESIGN §9a (2026-12-03): each failed before its fix.

/// The same at the adapter: the wait the cart named reaches the caller.
#[test]
fn the_adapter_passes_on_a_gateways_retry_after_for_an_adjust() {
    let e = Emulator::start().unwrap();
    e.set_qoh("G1", 10);
    let a = HttpJsonAdapter::new(&e.url(), None, Duration::from_secs(10)).unwrap();
    e.inject(Fault::Status {
        status: 502,
        count: 1,
        retry_after: Some(120),
    });
    match a.apply_deltas(&[delta("k1", "G1", -1)]) {
        Err(CartError::RateLimited {
            retry_after: Some(d),
            ..
        }) => assert_eq!(d, Duration::from_secs(120)),
        other => panic!("expected the cart's wait of 120 s to be passed on, got {other:?}"),
    }
    // The re-send is safe under its key whatever the gateway did.
    assert_eq!(e.qoh("G1"), Some(10));
}

/// §9a: `GET {url}qoh?cursor=C&limit=N` → `{"items":[…],"next_cursor":null|"…"}`.
///
/// A full page without `next_cursor` (a plugin naming it `next` or `nextCursor`) may have
/// more behind it: read as the last page, Get QOH, the drift report and the preflight
/// stopped after it and reported success (until 2026-12-03; found by a review). It is a
/// malformed answer now. A short page without it is the end, as a plugin listing everything
/// in one answer writes it; `null` is the end, whatever the page.
#[test]
fn a_full_page_without_next_cursor_is_not_taken_for_the_last_page() {
    let server = Scripted::start(vec![
        (200, r#"{"items":[{"sku":"A","qoh":1}],"next":"A"}"#),
        (200, r#"{"items":[{"sku":"A","qoh":1}],"nextCursor":"A"}"#),
        (200, r#"{"items":[{"sku":"A","qoh":1}]}"#),
        (200, r#"{"items":[{"sku":"A","qoh":1}],"next_cursor":null}"#),
    ]);
    let a = HttpJsonAdapter::new(&server.url, None, Duration::from_secs(5)).unwrap();
    for _ in 0..2 {
        match a.fetch_quantities(None, 1) {
            Err(CartError::Unavailable(m)) => assert!(m.contains("next_cursor"), "{m}"),
            other => panic!("a full page without `next_cursor` was read as the end: {other:?}"),
        }
    }
    for limit in [500, 1] {
        let page = a.fetch_quantities(None, limit).unwrap();
        assert_eq!(page.next_cursor, None);
        assert_eq!(page.items.len(), 1);
    }
    server.finish();
}

/// A gateway's 502 to `qoh/set` is a lost answer whatever wait it names: the plugin behind
/// it may have set the counts. Read as a rate limit (nothing set; the first version of the
/// change above, the same day), Send QOH kept the records a count included, to go on top of
/// it. A 500 is one too, whatever wait it names: a plugin saving item by item that failed
/// part-way, whose framework adds `Retry-After` to every 5xx (read as a rate limit until
/// 2026-12-04, from a review); a plugin's own 503 is not (the next test).
#[test]
fn a_gateways_502_to_a_count_is_a_lost_answer_whatever_wait_it_names() {
    let server = Scripted::start_with_headers(vec![
        (502, "Retry-After: 30\r\n", "<html>bad gateway</html>"),
        (500, "", r#"{"error":"fatal"}"#),
        (
            500,
            "Retry-After: 30\r\n",
            r#"{"error":"saved TEE-M, then the database went away"}"#,
        ),
        (503, "", r#"{"error":"maintenance"}"#),
    ]);
    let a = HttpJsonAdapter::new(&server.url, None, Duration::from_secs(5)).unwrap();
    let set = [QuantitySet {
        key: "k1".into(),
        sku: "W".into(),
        remote_ref: None,
        qoh: 7,
        expected: None,
    }];
    for lost in [true, true, true, false] {
        let r = a.set_quantities(&set);
        match lost {
            true => assert!(matches!(r, Err(CartError::Ambiguous(_))), "{r:?}"),
            false => assert!(matches!(r, Err(CartError::Unavailable(_))), "{r:?}"),
        }
    }
    server.finish();
}

/// A full page whose `next_cursor` is "" (a plugin writing an empty string where it has no
/// cursor) may have more behind it, as one without the field: refused. Read as the last page
/// until 2026-12-04 (from a review), Get QOH, the drift report and the preflight stopped after
/// one page and never saw the rest of the catalogue. A short page so is the last.
#[test]
fn a_full_page_with_an_empty_next_cursor_is_not_taken_for_the_last_page() {
    let page = r#"{"items":[{"sku":"A","qoh":1},{"sku":"B","qoh":2}],"next_cursor":""}"#;
    let server = Scripted::start(vec![(200, page), (200, page)]);
    let a = HttpJsonAdapter::new(&server.url, None, Duration::from_secs(5)).unwrap();
    let full = a.fetch_quantities(None, 2);
    let short = a.fetch_quantities(None, 3);
    server.finish();
    assert!(
        matches!(&full, Err(CartError::Unavailable(m)) if m.contains("empty next_cursor")),
        "{full:?}"
    );
    assert_eq!(short.map(|p| (p.items.len(), p.next_cursor)), Ok((2, None)));
}

/// A plugin listing its whole catalogue in one answer, whatever `limit` says, without
/// `next_cursor`: a page longer than asked can only be the whole list (the first version of
/// the full-page rule above refused it, and Get QOH failed every time).
#[test]
fn a_page_longer_than_asked_without_next_cursor_is_the_whole_list() {
    let items: Vec<serde_json::Value> = (0..600)
        .map(|i| serde_json::json!({"sku": format!("S{i:03}"), "qoh": 1}))
        .collect();
    let body = serde_json::json!({ "items": items }).to_string().leak();
    let server = Scripted::start(vec![(200, body)]);
    let a = HttpJsonAdapter::new(&server.url, None, Duration::from_secs(5)).unwrap();
    let page = a.fetch_quantities(None, 500).unwrap();
    assert_eq!((page.items.len(), page.next_cursor), (600, None));
    server.finish();
}

/// A plugin paging at a fixed size whatever `limit` asks, naming its cursor `next`: a full
/// page without `next_cursor` is refused, never read as the whole list (a version that asked
/// again with room for one more item took the same page back for the whole list; found by a
/// review and undone the same day).
#[test]
fn a_plugin_paging_at_a_fixed_size_is_not_read_as_one_page() {
    let body = r#"{"items":[{"sku":"A","qoh":1},{"sku":"B","qoh":1}],"next":"B"}"#;
    let server = Scripted::start(vec![(200, body)]);
    let a = HttpJsonAdapter::new(&server.url, None, Duration::from_secs(5)).unwrap();
    let r = a.fetch_quantities(None, 2);
    server.finish();
    assert!(matches!(r, Err(CartError::Unavailable(_))), "{r:?}");
}

/// A PHP plugin whose source file starts with a byte-order mark writes it before every
/// answer, and one on a host showing PHP's notices (`display_errors` on, common on shared
/// hosting; PHP 8.2's "Creation of dynamic property" deprecation in many plugins) writes the
/// notice before its JSON. Every answer was read as malformed: each sale sent and lost
/// (again and again, under its key), and Get QOH failed for good. The JSON after them is read.
#[test]
fn an_answer_after_a_byte_order_mark_or_a_php_notice_is_read() {
    const NOTICE: &str = "<br />\n<b>Deprecated</b>:  Creation of dynamic property Qoh_Plugin::$cache is deprecated in <b>/var/www/wp-content/plugins/qoh/qoh.php</b> on line <b>12</b><br />\n";
    let adjusted = "\u{feff}{\"results\":[{\"key\":\"k1\",\"status\":\"applied\",\"qoh\":4}]}";
    let listed =
        format!("{NOTICE}{{\"items\":[{{\"sku\":\"TEE-M\",\"qoh\":5}}],\"next_cursor\":null}}");
    let cart = Scripted::start(vec![(200, adjusted), (200, listed.leak())]);
    let a = HttpJsonAdapter::new(&cart.url, None, Duration::from_secs(10)).unwrap();
    let o = a.apply_deltas(&[delta("k1", "TEE-M", -1)]);
    let page = a.fetch_quantities(None, 10);
    cart.finish();
    assert!(
        matches!(&o, Ok(v) if v[..] == [SendOutcome::Applied { qoh: Some(4) }]),
        "{o:?}"
    );
    assert_eq!(
        page.map(|p| p.items),
        Ok(vec![("TEE-M".to_owned(), 5)]),
        "the listing after the notice"
    );
}

/// A plugin applying an adjustment batch item by item that fails part-way answers 500: some
/// changes may be applied. The keys make the re-send safe, but read as nothing applied
/// (`Unavailable`) the changes were not marked as possibly on the cart, and an adapter
/// without keys put in this one's place sent them as new. A lost answer now; a 500 naming a
/// wait is still a wait, and a 503 still nothing applied.
#[test]
fn a_500_to_an_adjustment_is_a_lost_answer() {
    let cart = Scripted::start_with_headers(vec![
        (500, "", r#"{"error":"db"}"#),
        (500, "Retry-After: 5\r\n", r#"{"error":"busy"}"#),
        (503, "", r#"{"error":"down"}"#),
    ]);
    let a = HttpJsonAdapter::new(&cart.url, None, Duration::from_secs(10)).unwrap();
    let answers: Vec<_> = (0..3)
        .map(|_| a.apply_deltas(&[delta("k1", "TEE-M", -1)]))
        .collect();
    cart.finish();
    assert!(
        matches!(answers[0], Err(CartError::Ambiguous(_))),
        "{answers:?}"
    );
    assert!(
        matches!(answers[1], Err(CartError::RateLimited { .. })),
        "{answers:?}"
    );
    assert!(
        matches!(answers[2], Err(CartError::Unavailable(_))),
        "{answers:?}"
    );
}

/// §9a matches results to changes by key, not by place: a cart answering a batch in another
/// order (a plugin collecting results in a map) has each outcome land on its own change. Read
/// by place, the refused SKU's change was settled applied and the applied one's sent again.
#[test]
fn results_in_another_order_each_settle_their_own_change() {
    let server = Scripted::start(vec![
        (
            200,
            r#"{"results":[{"key":"k2","status":"unknown_sku"},{"key":"k1","status":"applied","qoh":6}]}"#,
        ),
        (
            200,
            r#"{"results":[{"key":"s2","status":"applied","qoh":9},{"key":"s1","status":"conflict","qoh":3}]}"#,
        ),
    ]);
    let a = HttpJsonAdapter::new(&server.url, None, Duration::from_secs(5)).unwrap();
    let out = a
        .apply_deltas(&[delta("k1", "TEE-M", 1), delta("k2", "GONE", 1)])
        .unwrap();
    assert_eq!(out[0], SendOutcome::Applied { qoh: Some(6) }, "{out:?}");
    assert!(
        matches!(&out[1], SendOutcome::Failed { message } if message.contains("GONE")),
        "{out:?}"
    );
    let out = a
        .set_quantities(&[set("s1", "TEE-M", 7, None), set("s2", "MUG", 9, None)])
        .unwrap();
    assert_eq!(
        out,
        vec![
            SendOutcome::Conflict { current: 3 },
            SendOutcome::Applied { qoh: Some(9) }
        ]
    );
    server.finish();
}
