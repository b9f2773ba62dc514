//! A real SMTP server on loopback for the tests (the mailin-embedded crate, in this process),
//! which keeps every message it accepts and can be told to refuse or to hang for a while.

use std::net::{IpAddr, TcpListener};
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
}

#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    mail_commands: Arc<AtomicUsize>,
}

#[derive(Clone)]
struct Collector {
    received: Arc<Mutex<Vec<Vec<u8>>>>,
    behaviour: Arc<Mutex<Behaviour>>,
    mail_commands: Arc<AtomicUsize>,
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

    fn data_start(
        &mut self,
        _domain: &str,
        _from: &str,
        _is8bit: bool,
        _to: &[String],
    ) -> Response {
        self.current.clear();
        if *self.behaviour.lock().unwrap() == Behaviour::Refuse {
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
        let handler = Collector {
            received: received.clone(),
            behaviour: behaviour.clone(),
            mail_commands: mail_commands.clone(),
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
        }
    }

    /// How many MAIL FROM commands (messages begun) the server has seen.
    pub fn mail_commands(&self) -> usize {
        self.mail_commands.load(Ordering::SeqCst)
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn set(&self, behaviour: Behaviour) {
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
