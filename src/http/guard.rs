//! Slow and greedy clients: a request body must arrive within `CONVENE_BODY_TIMEOUT_SECS`
//! (else 408 and the connection is closed), and one client address may have at most
//! `CONVENE_MAX_REQUESTS_PER_CLIENT` requests under way at once (else 429). Without these, a
//! few thousand connections that each promise a body and never send it held file descriptors
//! and memory for ever, until `/healthz` stopped answering. Headers and idle keep-alive
//! connections are timed by actix-web itself (see `app.rs`).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::ConnectionType;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, ResponseError};
use futures::Stream;
use ipnet::IpNet;

use crate::error::AppError;

/// The most client addresses tracked at once. An entry lives only while its client has a
/// request under way, so this is reached only by that many clients at the same moment; a new
/// address beyond it waits for a free place (429), known ones go on.
const MAX_TRACKED_CLIENTS: usize = 65_536;

/// Answered without counting against the client: probes from the orchestrator and the
/// metrics scraper must get through while a client misbehaves from the same address.
const UNLIMITED_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];

/// What the guard needs from the settings.
#[derive(Clone)]
pub struct Limits {
    pub body_timeout: Duration,
    pub max_requests_per_client: usize,
    pub trusted_proxies: Arc<Vec<IpNet>>,
}

/// Requests under way per client address; shared by every worker thread of the server.
pub struct ClientGate {
    limits: Limits,
    under_way: Mutex<HashMap<IpAddr, usize>>,
    /// Requests admitted since start, for [`ClientGate::trim_memory_after_load`].
    admitted: AtomicU64,
}

/// One admitted request's place; given back when dropped (answered, or the client left).
struct Ticket {
    gate: Arc<ClientGate>,
    client: Option<IpAddr>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let Some(client) = self.client else {
            return;
        };
        let mut under_way = self
            .gate
            .under_way
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(count) = under_way.get_mut(&client) {
            *count -= 1;
            if *count == 0 {
                under_way.remove(&client);
            }
        }
    }
}

impl ClientGate {
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            under_way: Mutex::new(HashMap::new()),
            admitted: AtomicU64::new(0),
        })
    }

    fn admit(self: &Arc<Self>, req: &ServiceRequest) -> Result<Ticket, AppError> {
        self.admitted.fetch_add(1, Ordering::Relaxed);
        let client = if UNLIMITED_PATHS.contains(&req.path()) {
            None
        } else {
            super::client::client_info(
                req.peer_addr().map(|a| a.ip()),
                req.headers(),
                &self.limits.trusted_proxies,
            )
            .ip
            .map(|ip| super::limits::client_key(Some(ip)))
        };
        if let Some(ip) = client {
            let mut under_way = self.under_way.lock().unwrap_or_else(|p| p.into_inner());
            let known = under_way.contains_key(&ip);
            let count = under_way.get(&ip).copied().unwrap_or(0);
            if count >= self.limits.max_requests_per_client
                || (!known && under_way.len() >= MAX_TRACKED_CLIENTS)
            {
                return Err(AppError::TooManyRequests {
                    retry_after_secs: 1,
                    detail: format!(
                        "this address has {count} requests under way; wait for them to finish"
                    ),
                });
            }
            under_way.insert(ip, count + 1);
        }
        Ok(Ticket {
            gate: self.clone(),
            client,
        })
    }

    /// How many client addresses have requests under way (for tests and figures).
    pub fn clients_under_way(&self) -> usize {
        self.under_way
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// Gives memory freed after a burst of connections back to the system. glibc keeps freed
    /// memory for reuse and returns only the top of its heaps; 10,000 stalled connections
    /// left the process hundreds of MB larger after they had gone. Runs every few seconds
    /// while requests arrive, and not at all while the server is idle.
    pub async fn trim_memory_after_load(self: Arc<Self>) {
        let mut seen = 0;
        let mut tick = tokio::time::interval(Duration::from_secs(5));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let admitted = self.admitted.load(Ordering::Relaxed);
            if admitted != seen {
                seen = admitted;
                // The work (a walk over the allocator's free lists) belongs off the async
                // threads.
                let _ = tokio::task::spawn_blocking(release_free_memory).await;
            }
        }
    }
}

fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of the allocator's heaps to the system; it
    // takes the allocator's own locks and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The request body, failing once its deadline has passed without it having arrived.
struct BodyDeadline {
    inner: Payload,
    deadline: Pin<Box<tokio::time::Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl Stream for BodyDeadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.timed_out.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
}

fn closing(mut response: HttpResponse) -> HttpResponse {
    response
        .head_mut()
        .set_connection_type(ConnectionType::Close);
    response
}

/// The middleware: admits the request (or answers 429), puts a deadline on its body, and
/// answers 408 and closes the connection when the body missed it, whatever the handler made
/// of the failed read.
pub fn screen<S>(
    gate: &Arc<ClientGate>,
    mut req: ServiceRequest,
    service: &S,
) -> impl Future<Output = Result<ServiceResponse<BoxBody>, actix_web::Error>> + use<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<BoxBody>, Error = actix_web::Error>,
{
    let admitted = gate.admit(&req);
    let timed_out = Arc::new(AtomicBool::new(false));
    let call = match admitted {
        Err(refusal) => Err(req.into_response(closing(refusal.error_response()))),
        Ok(ticket) => {
            let payload = req.parts_mut().1.take();
            if !matches!(payload, Payload::None) {
                let body: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
                    Box::pin(BodyDeadline {
                        inner: payload,
                        deadline: Box::pin(tokio::time::sleep(gate.limits.body_timeout)),
                        timed_out: timed_out.clone(),
                    });
                req.set_payload(Payload::from(body));
            }
            Ok((service.call(req), ticket))
        }
    };
    async move {
        let (response, ticket) = match call {
            Err(refused) => return Ok(refused),
            Ok(call) => call,
        };
        let response = response.await?;
        if timed_out.load(Ordering::Acquire) {
            return Ok(response.into_response(closing(AppError::RequestTimeout.error_response())));
        }
        // A streamed answer (the live board) counts as under way for as long as it is open;
        // any other is done once it is made.
        Ok(match response.response().body().size() {
            BodySize::Stream => response.map_body(|_, body| {
                BoxBody::new(Ticketed {
                    body,
                    _ticket: ticket,
                })
            }),
            _ => response,
        })
    }
}

/// A response body that holds its request's ticket until it is dropped.
struct Ticketed {
    body: BoxBody,
    _ticket: Ticket,
}

impl MessageBody for Ticketed {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_next(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_count_by_their_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        let counted_as = |ip| super::super::limits::client_key(Some(ip));
        assert_eq!(counted_as(a), counted_as(b));
        assert_ne!(counted_as(a), counted_as(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(counted_as(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }
}
