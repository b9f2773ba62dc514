//! A real SMTP server on loopback for the tests (the mailin-embedded crate, in this process),
//! which keeps every message it accepts and can be told to refuse or to hang for a while. One
//! started with `start_switchable` sits behind a port that can also be closed, as when the
//! mail server is down.

use std::collections::HashMap;
use std::net::{IpAddr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailin_embedded::response::{self, Response};
use mailin_embedded::{Handler, Server};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Accept,
    /// Answers every message with a temporary failure (451).
    Refuse,
    /// Waits this long before answering MAIL FROM.
    Hang(Duration),
    /// Waits this long before answering MAIL FROM, only in sessions that greeted with this
    /// EHLO name (the path of the client's SMTP URL): one instance stalls, others do not.
    HangFor(&'static str, Duration),
    /// Holds every MAIL FROM unanswered until the behaviour is changed.
    Hold,
    /// Refuses for good (550) every recipient whose address contains this text, as a server
    /// does for a mailbox that does not exist; accepts the others.
    RejectFor(&'static str),
    /// Nothing listens: connections to the port are refused and those open are cut. Only for
    /// a sink from `start_switchable`; any other behaviour opens the port again.
    Down,
}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    mail_commands: Arc<AtomicUsize>,
    refusals: Arc<Refusals>,
    gate: Option<Arc<Gate>>,
}

/// How many answers of each kind of failure the server gave.
#[derive(Default)]
struct Refusals {
    temporary: AtomicUsize,
    permanent: AtomicUsize,
}

#[derive(Clone)]
struct Collector {
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    mail_commands: Arc<AtomicUsize>,
    refusals: Arc<Refusals>,
    current: Vec<u8>,
}

impl Handler for Collector {
    fn mail(&mut self, _ip: IpAddr, domain: &str, _from: &str) -> Response {
        self.mail_commands.fetch_add(1, Ordering::SeqCst);
        while *self.behaviour.lock().unwrap() == Behaviour::Hold {
            std::thread::sleep(Duration::from_millis(10));
        }
        let behaviour = *self.behaviour.lock().unwrap();
        match behaviour {
            Behaviour::Hang(pause) => std::thread::sleep(pause),
            Behaviour::HangFor(name, pause) if name == domain => std::thread::sleep(pause),
            _ => {}
        }
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        match *self.behaviour.lock().unwrap() {
            Behaviour::RejectFor(text) if to.contains(text) => {
                self.refusals.permanent.fetch_add(1, Ordering::SeqCst);
                response::NO_MAILBOX
            }
            _ => response::OK,
        }
    }

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.current.clear();
        if *self.behaviour.lock().unwrap() == Behaviour::Refuse {
            self.refusals.temporary.fetch_add(1, Ordering::SeqCst);
            return response::INTERNAL_ERROR;
        }
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.current.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        self.received
            .lock()
            .unwrap()
            .push(std::mem::take(&mut self.current));
        response::OK
    }
}

impl SmtpSink {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port for SMTP");
        let port = listener.local_addr().unwrap().port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let behaviour = Arc::new(Mutex::new(Behaviour::Accept));
        let mail_commands = Arc::new(AtomicUsize::new(0));
        let refusals = Arc::new(Refusals::default());
        let handler = Collector {
            received: received.clone(),
            behaviour: behaviour.clone(),
            mail_commands: mail_commands.clone(),
            refusals: refusals.clone(),
            current: Vec::new(),
        };
        std::thread::spawn(move || {
            let mut server = Server::new(handler);
            server
                .with_name("sink.test")
                .with_num_threads(64)
                .with_tcp_listener(listener);
            let _ = server.serve();
        });
        Self {
            port,
            received,
            behaviour,
            mail_commands,
            refusals,
            gate: None,
        }
    }

    /// A sink whose port can be closed with `Behaviour::Down`: clients reach the server
    /// through a relay on `port` that stops listening while the server is "down".
    pub fn start_switchable() -> Self {
        let mut sink = Self::start();
        let gate = Gate::open(sink.port);
        sink.port = gate.port;
        sink.gate = Some(gate);
        sink
    }

    /// How many temporary (451) and permanent (550) refusals the server answered.
    pub fn refusals(&self) -> (usize, usize) {
        (
            self.refusals.temporary.load(Ordering::SeqCst),
            self.refusals.permanent.load(Ordering::SeqCst),
        )
    }

    /// How many MAIL FROM commands (messages begun) the server has seen.
    pub fn mail_commands(&self) -> usize {
        self.mail_commands.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, behaviour: Behaviour) {
        match &self.gate {
            Some(gate) if behaviour == Behaviour::Down => gate.close(),
            Some(gate) => gate.reopen(),
            None => assert!(
                behaviour != Behaviour::Down,
                "Behaviour::Down needs a sink from SmtpSink::start_switchable"
            ),
        }
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// Every message accepted so far, parsed.
    pub fn mail(&self) -> Vec<crate::helpers::Mail> {
        self.messages()
            .iter()
            .map(|m| crate::helpers::Mail::parse(m))
            .collect()
    }

    /// Every message accepted so far, raw.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        self.received.lock().unwrap().clone()
    }
}

/// A relay from a port of its own to the SMTP server, which can stop listening (the port then
/// refuses connections) and cut what it relays, and listen again on the same port.
struct Gate {
    port: u16,
    server: u16,
    listener: Mutex<Option<TcpListener>>,
    /// The client side of each relayed connection, to cut them when closing.
    open: Mutex<HashMap<u64, TcpStream>>,
    next_id: AtomicUsize,
}

impl Gate {
    fn open(server: u16) -> Arc<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port for the relay");
        let gate = Arc::new(Gate {
            port: listener.local_addr().unwrap().port(),
            server,
            listener: Mutex::new(Some(listener)),
            open: Mutex::new(HashMap::new()),
            next_id: AtomicUsize::new(0),
        });
        gate.listener
            .lock()
            .unwrap()
            .as_ref()
            .unwrap()
            .set_nonblocking(true)
            .unwrap();
        // The relay lives as long as the test process, like the server behind it. Accepting
        // without blocking lets `close` take the listener away at any moment.
        let accepting = gate.clone();
        std::thread::spawn(move || {
            loop {
                // The listener stays locked until the connection is registered, so that a
                // `close` meanwhile cuts it too.
                let listener = accepting.listener.lock().unwrap();
                match listener.as_ref().map(TcpListener::accept) {
                    Some(Ok((client, _))) => accepting.relay(client),
                    _ => {
                        drop(listener);
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        });
        gate
    }

    fn relay(self: &Arc<Self>, client: TcpStream) {
        let Ok(server) = TcpStream::connect(("127.0.0.1", self.server)) else {
            return;
        };
        let id = self.next_id.fetch_add(1, Ordering::SeqCst) as u64;
        let _ = client.set_nonblocking(false);
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        self.open
            .lock()
            .unwrap()
            .insert(id, client.try_clone().unwrap());
        let pipe = |mut from: TcpStream, mut to: TcpStream| {
            let _ = std::io::copy(&mut from, &mut to);
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
        };
        let (upstream, downstream) = (server.try_clone().unwrap(), client.try_clone().unwrap());
        std::thread::spawn(move || pipe(downstream, upstream));
        let gate = self.clone();
        std::thread::spawn(move || {
            pipe(server, client);
            gate.open.lock().unwrap().remove(&id);
        });
    }

    /// Stops listening and cuts every relayed connection.
    fn close(&self) {
        self.listener.lock().unwrap().take();
        for (_, connection) in self.open.lock().unwrap().drain() {
            let _ = connection.shutdown(Shutdown::Both);
        }
    }

    /// Listens on the same port again (nothing else takes a loopback port this quickly).
    fn reopen(&self) {
        let mut listener = self.listener.lock().unwrap();
        if listener.is_none() {
            let bound = TcpListener::bind(("127.0.0.1", self.port))
                .expect("the relay's port is free again");
            bound.set_nonblocking(true).unwrap();
            *listener = Some(bound);
        }
    }
}
