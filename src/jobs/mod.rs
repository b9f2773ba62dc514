//! Background work: the outbox worker that delivers email, and now and then queues the
//! reminders that are due (`service::reminders`).

pub mod outbox;

pub use outbox::OutboxWorker;
