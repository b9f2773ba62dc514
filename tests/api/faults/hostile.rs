//! Hostile clients and a full disk, against a real `convene serve`: random 30 KB method names
//! (memory and the size of a `/metrics` scrape stay bounded), thousands of request bodies that
//! never arrive (`/healthz` keeps answering, each gets 408, memory comes back), and a SQLite
//! database on a file system that fills up (503 with a clear problem, not ready, recovery by
//! itself once there is room).

use std::time::{Duration, Instant};

use rand::Rng;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};

use super::{report, rounds};
use crate::hardening::{authority, exchange, read_answer, stalled_signup};
use crate::instances::{Instance, organizer_token};

/// The resident memory of a process, in kB, from /proc.
fn rss_kb(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/PID/status")
}

fn mb(kb: u64) -> String {
    format!("{:.1}MB", kb as f64 / 1024.0)
}

/// Polls the process's memory until it is within `margin_kb` of `target_kb` or `within` has
/// passed; returns the last reading.
async fn rss_settles(pid: u32, target_kb: u64, margin_kb: u64, within: Duration) -> u64 {
    let deadline = Instant::now() + within;
    loop {
        let now = rss_kb(pid);
        if now <= target_kb + margin_kb || Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn started() -> Instance {
    let mut instance = Instance::start(&[]);
    instance.wait_ready();
    instance
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: run with --ignored"]
async fn hostile_method_names() {
    let instance = started();
    let pid = instance.child.id();
    let requests = rounds(3) * 1000;
    let client = reqwest::Client::new();
    client
        .get(format!("{}/metrics", instance.base))
        .send()
        .await
        .unwrap();
    let before = rss_kb(pid);
    let started_at = Instant::now();
    let base = instance.base.clone();
    let mut answered = 0;
    // Eight clients at a time, each request on its own connection.
    for batch in 0..requests.div_ceil(8) {
        let sends: Vec<_> = (0..8.min(requests - batch * 8))
            .map(|_| {
                let method: String = {
                    let mut rng = rand::rng();
                    (0..30_000)
                        .map(|_| char::from(rng.random_range(b'A'..=b'Z')))
                        .collect()
                };
                let base = base.clone();
                tokio::spawn(async move {
                    let request = format!(
                        "{method} /events/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                    );
                    exchange(&base, request.as_bytes(), Duration::from_secs(10)).await
                })
            })
            .collect();
        for send in sends {
            let (answer, _) = send.await.unwrap();
            if answer.starts_with("HTTP/1.1 ") {
                answered += 1;
            }
        }
    }
    let took = started_at.elapsed();
    let right_after = rss_kb(pid);
    let scrape = client
        .get(format!("{}/metrics", instance.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let settled = rss_settles(pid, before, 10 * 1024, Duration::from_secs(20)).await;
    report(
        "hostile_method_names",
        &[
            ("requests", requests.to_string()),
            ("answered", answered.to_string()),
            ("secs", format!("{:.1}", took.as_secs_f64())),
            ("rss_before", mb(before)),
            ("rss_right_after", mb(right_after)),
            ("rss_settled", mb(settled)),
            ("scrape_bytes", scrape.len().to_string()),
        ],
    );
    assert_eq!(answered, requests, "every request got an answer");
    assert!(
        scrape.len() < 64 * 1024,
        "the scrape grew to {} bytes",
        scrape.len()
    );
    assert!(
        !scrape.contains("AAAAAAAAAA") && scrape.contains(r#"method="other""#),
        "a client-chosen method became a label"
    );
    assert!(
        settled <= before + 20 * 1024,
        "memory grew from {} to {}",
        mb(before),
        mb(settled)
    );
}

/// A loopback address of its own for the `i`th client (all of 127.0.0.0/8 reaches the
/// loopback interface), so that the per-client cap does not hide what stalled bodies do.
fn client_address(i: usize) -> std::net::SocketAddr {
    let octets = [
        127,
        (10 + i / 62_500) as u8,
        ((i / 250) % 250 + 1) as u8,
        (i % 250 + 1) as u8,
    ];
    (std::net::Ipv4Addr::from(octets), 0).into()
}

async fn stall_from(source: std::net::SocketAddr, server: std::net::SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(source).unwrap();
    let mut stream = socket.connect(server).await.unwrap();
    let host = server.to_string();
    stream.write_all(&stalled_signup(&host)).await.unwrap();
    stream
}

async fn healthz_answers(client: &reqwest::Client, base: &str) -> (usize, Duration) {
    let mut ok = 0;
    let mut slowest = Duration::ZERO;
    for _ in 0..5 {
        let asked = Instant::now();
        let answer = client
            .get(format!("{base}/healthz"))
            .timeout(Duration::from_secs(2))
            .send()
            .await;
        slowest = slowest.max(asked.elapsed());
        if answer.is_ok_and(|a| a.status() == 200) {
            ok += 1;
        }
    }
    (ok, slowest)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: run with --ignored"]
async fn stalled_bodies() {
    // A long body timeout, so that every stalled body is held at the same time while memory
    // and health are measured; the default is 5 s.
    let body_timeout = 20;
    let cap = 128;
    let mut instance = Instance::start(&[
        ("CONVENE_BODY_TIMEOUT_SECS", body_timeout.to_string()),
        ("CONVENE_MAX_REQUESTS_PER_CLIENT", cap.to_string()),
    ]);
    instance.wait_ready();
    let pid = instance.child.id();
    let server: std::net::SocketAddr = authority(&instance.base).parse().unwrap();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    healthz_answers(&client, &instance.base).await;
    let before = rss_kb(pid);

    let connections = rounds(5) * 2000;
    let opening = Instant::now();
    let mut held = Vec::with_capacity(connections);
    for chunk in (0..connections).collect::<Vec<_>>().chunks(500) {
        let opened = futures::future::join_all(
            chunk
                .iter()
                .map(|i| tokio::spawn(stall_from(client_address(*i), server))),
        )
        .await;
        held.extend(opened.into_iter().map(Result::unwrap));
    }
    let open_secs = opening.elapsed().as_secs_f64();
    // One address that tries to hold more than its share: the rest is refused at once.
    let greedy_source: std::net::SocketAddr = "127.9.9.9:0".parse().unwrap();
    let mut greedy = Vec::new();
    for _ in 0..cap + 50 {
        greedy.push(stall_from(greedy_source, server).await);
    }
    let greedy_answers = futures::future::join_all(
        greedy
            .iter_mut()
            .map(|stream| read_answer(stream, Duration::from_millis(500))),
    )
    .await;
    let refused = greedy_answers
        .iter()
        .filter(|(answer, _)| answer.starts_with("HTTP/1.1 429"))
        .count();
    let during = rss_kb(pid);
    let (healthy, slowest) = healthz_answers(&client, &instance.base).await;
    let measured_within = opening.elapsed();

    // Every stalled body gets its 408 and its connection closed.
    let waiting = Instant::now();
    let answers = futures::future::join_all(held.into_iter().map(|mut stream| {
        tokio::spawn(async move {
            read_answer(&mut stream, Duration::from_secs(body_timeout + 30)).await
        })
    }))
    .await;
    let timed_out = answers
        .iter()
        .filter(|a| {
            let (answer, closed) = a.as_ref().unwrap();
            answer.starts_with("HTTP/1.1 408") && *closed
        })
        .count();
    let answered_secs = waiting.elapsed().as_secs_f64();
    drop(greedy);
    let after = rss_settles(pid, before, 20 * 1024, Duration::from_secs(30)).await;
    let (healthy_after, _) = healthz_answers(&client, &instance.base).await;
    report(
        "stalled_bodies",
        &[
            ("connections", connections.to_string()),
            ("open_secs", format!("{open_secs:.1}")),
            (
                "measured_within_secs",
                format!("{:.1}", measured_within.as_secs_f64()),
            ),
            ("body_timeout_secs", body_timeout.to_string()),
            ("got_408_and_closed", timed_out.to_string()),
            ("all_answered_within_secs", format!("{answered_secs:.1}")),
            ("one_address_tried", (cap + 50).to_string()),
            ("one_address_refused_429", refused.to_string()),
            ("healthz_ok_during", format!("{healthy}/5")),
            ("healthz_slowest_ms", slowest.as_millis().to_string()),
            ("rss_before", mb(before)),
            ("rss_during", mb(during)),
            ("rss_after", mb(after)),
        ],
    );
    assert!(
        measured_within < Duration::from_secs(body_timeout),
        "opening and measuring took {measured_within:?}: not all were held at once"
    );
    assert_eq!(healthy, 5, "/healthz stopped answering");
    assert_eq!(healthy_after, 5);
    assert_eq!(timed_out, connections, "every stalled body gets 408");
    assert_eq!(refused, 50, "one address holds at most {cap} requests");
    assert!(
        after <= before + 20 * 1024,
        "memory stayed at {} after the connections closed (from {})",
        mb(after),
        mb(before)
    );
}

/// A small tmpfs, unmounted when dropped.
struct SmallDisk {
    folder: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts a 4 MB tmpfs, or None when this process may not mount (not root).
    fn mount() -> Option<SmallDisk> {
        let folder = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs"])
            .arg(folder.path())
            .output()
            .is_ok_and(|o| o.status.success());
        mounted.then_some(SmallDisk { folder })
    }

    fn path(&self) -> &std::path::Path {
        self.folder.path()
    }

    /// Writes a file until the file system is full; returns the bytes written.
    fn fill(&self) -> u64 {
        use std::io::Write;
        let mut file = std::fs::File::create(self.path().join("filler")).unwrap();
        let chunk = vec![0u8; 16 * 1024];
        let mut written = 0;
        // At most the size of the file system, in chunks.
        for _ in 0..(4 * 1024 * 1024 / chunk.len() + 1) {
            match file.write(&chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => written += n as u64,
            }
        }
        let _ = file.sync_all();
        written
    }

    fn free(&self) {
        std::fs::remove_file(self.path().join("filler")).unwrap();
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.folder.path())
            .status();
    }
}

async fn status_of(client: &reqwest::Client, url: &str) -> u16 {
    client.get(url).send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "fault suite: run with --ignored"]
async fn disk_full() {
    let Some(disk) = SmallDisk::mount() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "the disk-full test must run in CI: it needs to mount a tmpfs (run as root)"
        );
        eprintln!("skipped: mounting a tmpfs is not permitted here (run as root)");
        return;
    };
    let env = [(
        "CONVENE_DATABASE_URL",
        format!("sqlite://{}", disk.path().join("convene.db").display()),
    )];
    let mut instance = Instance::start(&env);
    instance.wait_ready();
    let token = organizer_token(&env, instance.data.path());
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let base = instance.base.clone();
    let created = client
        .post(format!("{base}/api/v1/events"))
        .bearer_auth(&token)
        .json(&crate::helpers::event_json("full-disk", None))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let signup = |n: usize| {
        client
            .post(format!("{base}/api/v1/events/full-disk/registrations"))
            .json(&serde_json::json!({
                "name": format!("Person {n}"),
                "email": format!("person{n}@example.org"),
            }))
            .send()
    };
    assert_eq!(signup(0).await.unwrap().status(), 202);

    let filled = disk.fill();
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut refusal = None;
    let attempts = 500;
    for n in 1..=attempts {
        let answer = signup(n).await.unwrap();
        *statuses.entry(answer.status().as_u16()).or_default() += 1;
        if answer.status() != 202 {
            let kind = answer.headers()["content-type"]
                .to_str()
                .unwrap()
                .to_owned();
            refusal = Some((n, answer.status(), kind, answer.text().await.unwrap()));
            break;
        }
    }
    let (first_refused, status, content_type, problem) =
        refusal.expect("a signup is refused once the disk is full");
    let ready_while_full = status_of(&client, &format!("{base}/readyz")).await;
    let health_while_full = status_of(&client, &format!("{base}/healthz")).await;
    // The same for a person using the page.
    let page = client
        .get(format!("{base}/events/full-disk"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = crate::pages::csrf_of(&page);
    let form = client
        .post(format!("{base}/events/full-disk/signup"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Paula Page"),
            ("email", "paula@example.org"),
            ("website", ""),
        ])
        .send()
        .await
        .unwrap();
    let form_status = form.status().as_u16();
    let form_page = form.text().await.unwrap();

    disk.free();
    let freed = Instant::now();
    let deadline = freed + Duration::from_secs(30);
    while status_of(&client, &format!("{base}/readyz")).await != 200 {
        assert!(
            Instant::now() < deadline,
            "still not ready 30 s after space was freed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_ms = freed.elapsed().as_millis();
    let after = signup(attempts + 1).await.unwrap().status().as_u16();
    report(
        "disk_full",
        &[
            ("filler_bytes", filled.to_string()),
            (
                "signups_accepted_until_full",
                (first_refused - 1).to_string(),
            ),
            ("statuses", format!("{statuses:?}")),
            ("readyz_while_full", ready_while_full.to_string()),
            ("healthz_while_full", health_while_full.to_string()),
            ("page_status_while_full", form_status.to_string()),
            ("ready_again_ms", recovered_ms.to_string()),
            ("signup_after_freeing", after.to_string()),
        ],
    );
    assert_eq!(status, 503, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert!(
        problem.contains("urn:convene:problem:storage-full"),
        "{problem}"
    );
    assert!(problem.contains("no room left"), "{problem}");
    assert_eq!(ready_while_full, 503);
    assert_eq!(health_while_full, 200);
    assert_eq!(form_status, 503);
    assert!(
        form_page.contains("run out of storage space"),
        "{form_page}"
    );
    assert_eq!(after, 202, "signups work again once there is room");
    drop(instance);
    drop(disk);
}
