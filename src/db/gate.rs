//! The one writer's turn on SQLite: requests' writes wait in line, the mail worker's record of
//! its deliveries and renewals of its claims go first.

use std::sync::{Condvar, Mutex};

/// Which pool a writer takes its connection from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Connections {
    /// The pool that requests and readers share.
    Shared,
    /// The mail worker's two connections.
    Bookkeeping,
}

/// Whether a writer waits in line or goes ahead of those waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Turn {
    InLine,
    First,
}

/// The one writer's turn on SQLite. Writers that ask for [`Turn::First`] are let in before any
/// waiting in line; among each kind the order is whatever the wake-up gives.
#[derive(Default)]
pub(super) struct WriteGate {
    state: Mutex<GateState>,
    /// Writers of each kind wait on their own condition, so that a release wakes one writer,
    /// of the kind that goes next, rather than every thread in line.
    first_freed: Condvar,
    in_line_freed: Condvar,
}

#[derive(Default)]
pub(super) struct GateState {
    taken: bool,
    first_waiting: usize,
    in_line_waiting: usize,
}

/// Holding one is being the writer; dropping it lets the next in.
pub(super) struct WriterTurn<'a>(&'a WriteGate);

impl WriteGate {
    pub(super) fn enter(&self, turn: Turn) -> WriterTurn<'_> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        fn waiting(state: &mut GateState, turn: Turn) -> &mut usize {
            match turn {
                Turn::First => &mut state.first_waiting,
                Turn::InLine => &mut state.in_line_waiting,
            }
        }
        let freed = match turn {
            Turn::First => &self.first_freed,
            Turn::InLine => &self.in_line_freed,
        };
        *waiting(&mut state, turn) += 1;
        while state.taken || (turn == Turn::InLine && state.first_waiting > 0) {
            state = freed.wait(state).unwrap_or_else(|p| p.into_inner());
        }
        *waiting(&mut state, turn) -= 1;
        state.taken = true;
        WriterTurn(self)
    }
}

impl Drop for WriterTurn<'_> {
    fn drop(&mut self) {
        let gate = self.0;
        let mut state = gate.state.lock().unwrap_or_else(|p| p.into_inner());
        state.taken = false;
        let next = if state.first_waiting > 0 {
            &gate.first_freed
        } else {
            &gate.in_line_freed
        };
        drop(state);
        next.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn a_writer_asking_to_go_first_overtakes_those_in_line() {
        let gate = Arc::new(WriteGate::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let held = gate.enter(Turn::InLine);
        let spawn = |turn: Turn, name: &'static str| {
            let (gate, order) = (gate.clone(), order.clone());
            std::thread::spawn(move || {
                let _turn = gate.enter(turn);
                order.lock().unwrap().push(name);
            })
        };
        let waiting_in_line = spawn(Turn::InLine, "in line");
        // The in-line writer is waiting before the other asks.
        while gate.state.lock().unwrap().in_line_waiting == 0 {
            std::thread::yield_now();
        }
        let first = spawn(Turn::First, "first");
        while gate.state.lock().unwrap().first_waiting == 0 {
            std::thread::yield_now();
        }
        drop(held);
        first.join().unwrap();
        waiting_in_line.join().unwrap();
        assert_eq!(*order.lock().unwrap(), ["first", "in line"]);
    }
}
