//! Background work: the outbox worker that delivers email, and the reminder scheduler it runs.

pub mod outbox;
pub mod reminders;

pub use outbox::OutboxWorker;
