//! Slow and greedy clients: headers that dribble in are cut off, a stalled body times out, and
//! the connection limit holds the rest in the backlog until there is room.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{Db, Env};
use crate::{stories, SQLITE};

stories! {
    SQLITE => a_client_that_dribbles_its_headers_is_cut_off,
    SQLITE => a_stalled_body_times_out_with_a_json_answer,
    SQLITE => the_connection_limit_holds_new_clients_until_there_is_room,
}

fn address(env: &Env) -> String {
    env.base.trim_start_matches("http://").to_owned()
}

/// Sends `GET /api/health` one byte every 100 ms; returns how long until the server hung up.
async fn dribble(addr: &str) -> Duration {
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = b"GET /api/health HTTP/1.1\r\nHost: x\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    for byte in request.iter() {
        if stream.write_all(&[*byte]).await.is_err() {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut buf = [0u8; 64];
        match tokio::time::timeout(Duration::from_millis(1), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => panic!("the server answered a request whose headers never finished"),
            Err(_) => {}
        }
    }
    panic!(
        "the whole dribbled request was accepted ({:?})",
        started.elapsed()
    );
}

async fn a_client_that_dribbles_its_headers_is_cut_off(db: Db) {
    let env = Env::start_with(db, |s| s.limits.header_timeout = Duration::from_millis(800)).await;
    let cut_after = dribble(&address(&env)).await;
    assert!(
        cut_after < Duration::from_secs(3),
        "cut off after {cut_after:?}"
    );
    // Everyone else is served as usual.
    let r = env.http.get(env.url("/api/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

async fn a_stalled_body_times_out_with_a_json_answer(db: Db) {
    let env = Env::start_with(db, |s| s.limits.body_timeout = Duration::from_millis(500)).await;
    let mut stream = TcpStream::connect(address(&env)).await.unwrap();
    stream
        .write_all(b"POST /api/billing/issue HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"authKey\":")
        .await
        .unwrap();
    let started = Instant::now();
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("\"code\":\"INVALID_REQUEST\""), "{text}");
}

async fn the_connection_limit_holds_new_clients_until_there_is_room(db: Db) {
    let env = Env::start_with(db, |s| {
        s.limits.max_connections = 2;
        s.limits.header_timeout = Duration::from_millis(1500);
    })
    .await;
    let addr = address(&env);
    let hogs: Vec<_> = (0..2)
        .map(|_| tokio::spawn(dribble_owned(addr.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    let r = env.http.get(env.url("/api/health")).send().await.unwrap();
    let waited = started.elapsed();
    assert_eq!(r.status(), 200);
    assert!(
        waited > Duration::from_millis(700),
        "served before the hogs were cut off: {waited:?}"
    );
    for hog in hogs {
        hog.await.unwrap();
    }
}

async fn dribble_owned(addr: String) -> Duration {
    dribble(&addr).await
}
