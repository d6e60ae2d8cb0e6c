//! Enqueues N no-op jobs into an effectum queue, one `add_job` (one transaction) each, then
//! lets one worker complete them all; prints one `key=value` line the ratios report parses.
//!
//! `invsync-peer-bench <jobs> <dir> [wal|wal1k|shipped]`: `wal` (the default) sets the file to
//! WAL before effectum opens it; `wal1k` also gives it 1 KiB pages first (the page size of an
//! inventory_sync store; SQLite's default, which effectum keeps, is 4 KiB); `shipped` leaves
//! it as effectum leaves it (it asks for WAL under the pragma name `journal`, which SQLite
//! ignores, so the file stays in rollback-journal mode).

use effectum::{Job, JobRunner, Queue, RunningJob, Worker};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Ctx {
    done: Arc<AtomicUsize>,
    target: usize,
    all_done: Arc<tokio::sync::Notify>,
}

async fn no_op(job: RunningJob, ctx: Ctx) -> Result<(), effectum::Error> {
    // Complete explicitly so the count below only moves once the completion is written.
    job.complete(()).await?;
    if ctx.done.fetch_add(1, Ordering::SeqCst) + 1 == ctx.target {
        ctx.all_done.notify_one();
    }
    Ok(())
}

fn pragma(conn: &rusqlite::Connection, name: &str) -> String {
    conn.query_row(&format!("PRAGMA {name}"), [], |r| {
        r.get::<_, rusqlite::types::Value>(0)
    })
    .map(|v| match v {
        rusqlite::types::Value::Text(s) => s,
        rusqlite::types::Value::Integer(n) => n.to_string(),
        other => format!("{other:?}"),
    })
    .unwrap_or_else(|e| format!("error: {e}"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let jobs: usize = args
        .next()
        .and_then(|s| s.parse().ok())
        .expect("usage: invsync-peer-bench <jobs> <dir> [wal|shipped]");
    let dir = PathBuf::from(args.next().expect("a directory for the queue file"));
    let mode = args.next().unwrap_or_else(|| "wal".into());
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("effectum-{mode}.db"));
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    if mode == "wal" || mode == "wal1k" {
        // WAL is persistent in the file: every connection effectum opens later uses it.
        let c = rusqlite::Connection::open(&path).unwrap();
        if mode == "wal1k" {
            // Only an empty file takes a page size, and a WAL file keeps the one it has.
            c.pragma_update(None, "page_size", 1024).unwrap();
        }
        let m: String = c
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(m, "wal");
    }

    let queue = Queue::new(&path).await.expect("open the effectum queue");
    // What the file really runs with, seen from a fresh connection (journal mode is per file;
    // synchronous is per connection: effectum sets NORMAL on its writer connection only).
    let probe = rusqlite::Connection::open(&path).unwrap();
    let journal = pragma(&probe, "journal_mode");
    let page_size = pragma(&probe, "page_size");
    drop(probe);

    let payload = br#"{"sku":"SKU-000001","delta":-1}"#.to_vec();
    let started = Instant::now();
    for _ in 0..jobs {
        Job::builder("noop")
            .payload(payload.clone())
            .add_to(&queue)
            .await
            .expect("add a job");
    }
    let enqueued = started.elapsed();

    let ctx = Ctx {
        done: Arc::new(AtomicUsize::new(0)),
        target: jobs,
        all_done: Arc::new(tokio::sync::Notify::new()),
    };
    let runner = JobRunner::builder("noop", no_op).build();
    let drain_started = Instant::now();
    let worker = Worker::builder(&queue, ctx.clone())
        .max_concurrency(50)
        .jobs([runner])
        .build()
        .await
        .expect("start a worker");
    if ctx.done.load(Ordering::SeqCst) < jobs {
        tokio::time::timeout(Duration::from_secs(600), ctx.all_done.notified())
            .await
            .expect("all jobs completed within 10 minutes");
    }
    let drained = drain_started.elapsed();
    let total = started.elapsed();
    worker.unregister(None).await.ok();
    queue.close(Duration::from_secs(5)).await.ok();

    // Check on the file itself that every job was completed and none is left active.
    let probe = rusqlite::Connection::open(&path).unwrap();
    let count = |sql: &str| -> i64 { probe.query_row(sql, [], |r| r.get(0)).unwrap() };
    let succeeded = count("SELECT COUNT(*) FROM jobs WHERE status = 'succeeded'");
    let active = count("SELECT COUNT(*) FROM active_jobs");
    assert_eq!(
        (succeeded, active),
        (jobs as i64, 0),
        "every job completed (status 'succeeded') and no job is left active"
    );

    println!(
        "peer=effectum mode={mode} jobs={jobs} succeeded={succeeded} journal_mode={journal} \
         page_size={page_size} writer_synchronous=NORMAL \
         enqueue_s={:.4} complete_s={:.4} total_s={:.4} jobs_per_s={:.1}",
        enqueued.as_secs_f64(),
        drained.as_secs_f64(),
        total.as_secs_f64(),
        jobs as f64 / total.as_secs_f64()
    );
}
