//! Background work: the outbox worker that delivers email.

pub mod outbox;

pub use outbox::OutboxWorker;
