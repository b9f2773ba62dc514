//! Our SMTP client: lettre speaks the protocol, we open the connections.
//!
//! lettre's own transport leaves Nagle's algorithm on, and it writes a message's body and its
//! final `.` line separately, so every message waited for the server's delayed ACK (about
//! 40 ms on Linux): one instance could not send more than a couple of hundred messages a
//! second. Here each TCP connection is opened with `TCP_NODELAY`, then handed to lettre
//! (`AsyncSmtpConnection::connect_with_transport`), which does EHLO, STARTTLS, AUTH and the
//! mail transaction. Idle connections are kept for reuse.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::Message;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::net::TcpStream;

use super::DeliveryError;

/// How the connection is secured, from the URL: `smtp://` plain (or `?tls=opportunistic`),
/// `smtp://…?tls=required` STARTTLS, `smtps://` TLS from the first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    None,
    Opportunistic,
    StartTls,
    Implicit,
}

/// Where and how to deliver, read from `CONVENE_SMTP_URL`.
#[derive(Debug, Clone)]
pub struct SmtpServer {
    host: String,
    port: u16,
    security: Security,
    hello: ClientId,
    credentials: Option<Credentials>,
}

impl SmtpServer {
    pub fn from_url(raw: &str) -> Result<Self, String> {
        let url = url::Url::parse(raw).map_err(|e| format!("not a URL ({e})"))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("the URL names no host")?
            .trim_matches(['[', ']'])
            .to_owned();
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtp", None) => (Security::None, 25),
            ("smtp", Some("opportunistic")) => (Security::Opportunistic, 587),
            ("smtp", Some("required")) => (Security::StartTls, 587),
            ("smtps", None) => (Security::Implicit, 465),
            (scheme, tls) => {
                return Err(format!(
                    "use smtp:// (optionally with ?tls=required or ?tls=opportunistic) or smtps://, not {scheme}://{}",
                    tls.map(|t| format!(" with tls={t}")).unwrap_or_default()
                ));
            }
        };
        let hello = match url.path().trim_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_owned()),
        };
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| "the user name or password is not UTF-8 once decoded".to_owned())
        };
        let credentials = match url.password() {
            Some(password) => Some(Credentials::new(decode(url.username())?, decode(password)?)),
            None => None,
        };
        Ok(SmtpServer {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            hello,
            credentials,
        })
    }

    fn tls_parameters(&self) -> Result<TlsParameters, lettre::transport::smtp::Error> {
        TlsParameters::new(self.host.clone())
    }

    /// A new connection, greeted, secured and authenticated as the URL asks.
    async fn connect(&self) -> Result<AsyncSmtpConnection, Failure> {
        let tcp = open_tcp(&self.host, self.port)
            .await
            .map_err(Failure::Network)?;
        let stream: Box<dyn AsyncTokioStream> = match self.security {
            Security::Implicit => Box::new(
                tls::connect(&self.host, tcp)
                    .await
                    .map_err(Failure::Network)?,
            ),
            _ => Box::new(tcp),
        };
        let mut connection =
            AsyncSmtpConnection::connect_with_transport(stream, &self.hello).await?;
        let upgrade = match self.security {
            Security::StartTls => true,
            Security::Opportunistic => connection.can_starttls(),
            Security::None | Security::Implicit => false,
        };
        if upgrade {
            connection
                .starttls(self.tls_parameters()?, &self.hello)
                .await?;
        }
        if let Some(credentials) = &self.credentials {
            connection.auth(DEFAULT_MECHANISMS, credentials).await?;
        }
        Ok(connection)
    }
}

/// Why a connection or a delivery failed: our own socket code, or lettre's SMTP exchange.
#[derive(Debug)]
enum Failure {
    Network(std::io::Error),
    Smtp(lettre::transport::smtp::Error),
}

impl From<lettre::transport::smtp::Error> for Failure {
    fn from(e: lettre::transport::smtp::Error) -> Self {
        Failure::Smtp(e)
    }
}

impl From<Failure> for DeliveryError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Network(e) => DeliveryError {
                permanent: false,
                reason: format!("cannot reach the SMTP server: {e}"),
            },
            Failure::Smtp(e) => DeliveryError {
                permanent: e.is_permanent(),
                reason: e.to_string(),
            },
        }
    }
}

/// A TCP connection with Nagle's algorithm off, so that a command or the end of a message
/// leaves at once instead of waiting for the ACK of what went before.
async fn open_tcp(host: &str, port: u16) -> std::io::Result<TcpStream> {
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// A connection that was idle longer than this is checked with NOOP before reuse.
const CHECK_AFTER: Duration = Duration::from_secs(2);
/// A connection idle longer than this is closed rather than reused.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

pub struct SmtpClient {
    server: SmtpServer,
    /// The overall limit for one delivery, connecting included.
    limit: Duration,
    max_idle: usize,
    idle: Mutex<Vec<(AsyncSmtpConnection, Instant)>>,
}

impl SmtpClient {
    pub fn new(server: SmtpServer, timeout: Duration, max_idle: usize) -> Arc<Self> {
        Arc::new(SmtpClient {
            server,
            limit: timeout * 2,
            max_idle,
            idle: Mutex::new(Vec::new()),
        })
    }

    /// The longest one delivery may take before it is given up.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    fn take_idle(&self) -> Option<(AsyncSmtpConnection, Instant)> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop()
    }

    fn put_idle(&self, connection: AsyncSmtpConnection) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < self.max_idle {
            idle.push((connection, Instant::now()));
        }
    }

    /// A pooled connection that still answers, or a new one.
    async fn connection(&self) -> Result<AsyncSmtpConnection, Failure> {
        while let Some((mut connection, since)) = self.take_idle() {
            let idle_for = since.elapsed();
            if idle_for > IDLE_LIMIT {
                let _ = connection.quit().await;
                continue;
            }
            if idle_for < CHECK_AFTER || connection.test_connected().await {
                return Ok(connection);
            }
        }
        self.server.connect().await
    }

    pub async fn send(&self, message: &Message) -> Result<(), DeliveryError> {
        let attempt = async {
            let mut connection = self.connection().await?;
            let result = connection
                .send(message.envelope(), &message.formatted())
                .await;
            if !connection.has_broken() {
                self.put_idle(connection);
            }
            result.map_err(Failure::from)
        };
        // A connection abandoned half-way through a command is dropped with the future,
        // so it is never reused.
        match tokio::time::timeout(self.limit, attempt).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(failure)) => Err(failure.into()),
            Err(_) => Err(DeliveryError {
                permanent: false,
                reason: format!(
                    "the SMTP server did not answer within {} s",
                    self.limit.as_secs()
                ),
            }),
        }
    }
}

/// Implicit TLS (`smtps://`), with rustls and the Mozilla root store, like lettre's own.
mod tls {
    use std::pin::Pin;
    use std::sync::{Arc, OnceLock};
    use std::task::{Context, Poll};

    use lettre::transport::smtp::client::AsyncTokioStream;
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio::net::TcpStream;
    use tokio_rustls::rustls;

    #[derive(Debug)]
    pub struct TlsStream(tokio_rustls::client::TlsStream<TcpStream>);

    fn config() -> Arc<rustls::ClientConfig> {
        static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
        CONFIG
            .get_or_init(|| {
                let roots = rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                Arc::new(
                    rustls::ClientConfig::builder_with_provider(provider)
                        .with_safe_default_protocol_versions()
                        .expect("ring supports the default TLS versions")
                        .with_root_certificates(roots)
                        .with_no_client_auth(),
                )
            })
            .clone()
    }

    pub async fn connect(host: &str, tcp: TcpStream) -> std::io::Result<TlsStream> {
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let stream = tokio_rustls::TlsConnector::from(config())
            .connect(name, tcp)
            .await?;
        Ok(TlsStream(stream))
    }

    impl AsyncTokioStream for TlsStream {
        fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
            self.0.get_ref().0.peer_addr()
        }
    }

    impl AsyncRead for TlsStream {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for TlsStream {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }

        fn poll_shutdown(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<std::io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_port_and_security() {
        let plain = SmtpServer::from_url("smtp://127.0.0.1:2525").unwrap();
        assert_eq!((plain.port, plain.security), (2525, Security::None));
        let starttls =
            SmtpServer::from_url("smtp://user:p%40ss@mail.example.org?tls=required").unwrap();
        assert_eq!(
            (starttls.port, starttls.security),
            (587, Security::StartTls)
        );
        assert!(starttls.credentials.is_some());
        let implicit = SmtpServer::from_url("smtps://mail.example.org").unwrap();
        assert_eq!(
            (implicit.port, implicit.security),
            (465, Security::Implicit)
        );
        let v6 = SmtpServer::from_url("smtp://[::1]:25").unwrap();
        assert_eq!(v6.host, "::1");
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        assert!(
            SmtpServer::from_url("http://mail.example.org")
                .unwrap_err()
                .contains("smtp://")
        );
        assert!(
            SmtpServer::from_url("smtp://x?tls=maybe")
                .unwrap_err()
                .contains("tls=maybe")
        );
        assert!(SmtpServer::from_url("smtp://").is_err());
        assert!(
            SmtpServer::from_url("nonsense")
                .unwrap_err()
                .contains("not a URL")
        );
    }

    #[tokio::test]
    async fn connections_are_opened_without_nagle_and_reused() {
        // A minimal SMTP peer on loopback that records how many connections it got.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = accepted.clone();
        tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                tokio::spawn(fake_server(socket));
            }
        });
        let client = SmtpClient::new(
            SmtpServer::from_url(&format!("smtp://127.0.0.1:{port}")).unwrap(),
            Duration::from_secs(5),
            2,
        );
        let connection = client.connection().await.unwrap();
        drop(connection);
        let message = Message::builder()
            .from("a@example.org".parse().unwrap())
            .to("b@example.org".parse().unwrap())
            .subject("hi")
            .body("x".to_owned())
            .unwrap();
        for _ in 0..3 {
            client.send(&message).await.unwrap();
        }
        // One for the probe above, one reused for the three messages.
        assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn the_socket_has_nodelay() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            fake_server(socket).await;
        });
        let tcp = open_tcp("127.0.0.1", port).await.unwrap();
        assert!(tcp.nodelay().unwrap());
    }

    async fn fake_server(socket: TcpStream) {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 test ESMTP\r\n").await.unwrap();
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            let reply: &[u8] = if in_data {
                if line == "." {
                    in_data = false;
                    b"250 queued\r\n"
                } else {
                    continue;
                }
            } else if line.starts_with("EHLO") {
                b"250-test\r\n250 8BITMIME\r\n"
            } else if line == "DATA" {
                in_data = true;
                b"354 go on\r\n"
            } else if line == "QUIT" {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            } else {
                b"250 ok\r\n"
            };
            if write.write_all(reply).await.is_err() {
                return;
            }
        }
    }
}
