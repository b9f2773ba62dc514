//! What a claimed message will say. Its notice is read back from the row (a payload that does
//! not parse fails the message, with the reason), the facts it depends on are read with the
//! rest of its batch, `Notice::still_applies` decides whether it goes, and the context of its
//! kind is built from the current state of its registration and event.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Delivery, Running};
use crate::db::board::{self, LeadLinkRow, SlotRow};
use crate::db::events::EventRow;
use crate::db::outbox::OutboxRow;
use crate::db::projects::{self, ProjectRow};
use crate::db::registrations::{self, MailSubject};
use crate::db::{DbConn, events};
use crate::domain::notice::{Attendance, Facts, Obsolete, Standing};
use crate::domain::text::comma_joined;
use crate::domain::time::{local_label, local_naive};
use crate::domain::{Notice, RegistrationId, RegistrationStatus, ReminderOffsets};
use crate::error::AppError;
use crate::ical::items::{cancellation_attachment, email_attachment, slot_attachment};
use crate::links::Links;
use crate::mail::NoticeMail;
use crate::mail::notices::{
    AlreadyRegistered, EventCancelled, EventChanged, EventLines, LeadLink, OrganizerMessage,
    ProjectLine, Promoted, Recipient, RegistrationCancelled, Reminder, SignupConfirmation,
    SlotLines, SlotMoved,
};
use crate::tokens::SecretKey;

/// A claimed message with what it will say, or why it will not be sent after all.
pub(super) struct Prepared {
    pub(super) row: OutboxRow,
    pub(super) composed: Result<Composed, Delivery>,
    pub(super) read_at: Instant,
}

/// A message ready to go: what it says, and the calendar object its kind carries, if any.
pub(super) struct Composed {
    pub(super) mail: NoticeMail,
    pub(super) calendar: Option<String>,
}

/// A message whose context was read longer ago than this is read again before it is sent.
pub(super) const STILL_FRESH: Duration = Duration::from_secs(1);

/// What turns rows into messages, moved into the database's thread with the read.
struct Composer {
    links: Links,
    key: SecretKey,
    now: chrono::NaiveDateTime,
    /// The name and address calendar objects give as the organizer.
    organizer: (String, String),
}

impl Running {
    /// Reads what each message of a claimed batch will say, all in one go (a few queries for
    /// the whole batch rather than a few per message), and checks that each still applies.
    pub(super) async fn prepare(&self, rows: Vec<OutboxRow>) -> Vec<Prepared> {
        let composer = Composer {
            links: self.links.clone(),
            key: self.key.clone(),
            now: self.clock.now(),
            organizer: (
                self.from.name.clone().unwrap_or_else(|| "Convene".into()),
                self.from.email.to_string(),
            ),
        };
        let read_at = Instant::now();
        let ids: Vec<RegistrationId> = rows.iter().filter_map(|r| r.registration_id).collect();
        let claimed = rows.clone();
        let messages = self
            .db
            .read(move |conn| {
                let subjects = registrations::for_mail(conn, &ids)?;
                claimed
                    .iter()
                    .map(|row| composer.message(conn, row, &subjects))
                    .collect::<Result<Vec<_>, AppError>>()
            })
            .await;
        match messages {
            Ok(messages) => rows
                .into_iter()
                .zip(messages)
                .map(|(row, composed)| Prepared {
                    row,
                    composed,
                    read_at,
                })
                .collect(),
            // Nothing could be read: each message is tried again later.
            Err(e) => rows
                .into_iter()
                .map(|row| Prepared {
                    row,
                    composed: Err(Delivery::Retry(e.to_string())),
                    read_at,
                })
                .collect(),
        }
    }
}

impl Composer {
    /// What one claimed message will say, or what to record instead of sending it. A
    /// connection cut by the database is the one error returned: the whole read is then made
    /// again on another (see `Db::read_blocking`).
    fn message(
        &self,
        conn: &mut DbConn,
        row: &OutboxRow,
        subjects: &HashMap<RegistrationId, MailSubject>,
    ) -> Result<Result<Composed, Delivery>, AppError> {
        let notice = match Notice::from_stored(&row.kind, &row.payload) {
            Ok(notice) => notice,
            Err(why) => return Ok(Err(Delivery::Failed(why))),
        };
        let subject = row.registration_id.and_then(|id| subjects.get(&id));
        match self.compose(conn, &notice, row.registration_id.is_some(), subject) {
            Ok(Ok(composed)) => Ok(Ok(composed)),
            Ok(Err(why)) => Ok(Err(Delivery::Skipped(why.to_string()))),
            Err(AppError::NotFound(what)) => Ok(Err(Delivery::Skipped(what))),
            Err(e @ AppError::Unavailable(_)) => Err(e),
            Err(e) => Ok(Err(Delivery::Retry(e.to_string()))),
        }
    }

    /// Reads what `notice` names besides its registration, asks the rules whether it still
    /// applies, and builds the context of its kind.
    fn compose(
        &self,
        conn: &mut DbConn,
        notice: &Notice,
        names_registration: bool,
        subject: Option<&MailSubject>,
    ) -> Result<Result<Composed, Obsolete>, AppError> {
        let slot = match notice {
            Notice::SlotMoved { slot_id, .. } => match board::find_slot_by_id(conn, *slot_id)? {
                Some(slot) => Some((projects::find(conn, slot.project_id)?, slot)),
                None => None,
            },
            _ => None,
        };
        let lead_link = match notice {
            Notice::LeadLink { lead_link_id } => match board::find_lead_link(conn, *lead_link_id) {
                Ok(link) => Some(link),
                Err(AppError::NotFound(_)) => None,
                Err(e) => return Err(e),
            },
            _ => None,
        };
        let facts = Facts {
            now: self.now,
            registration: match (names_registration, subject) {
                (false, _) => Standing::NotNamed,
                (true, None) => Standing::Deleted,
                (true, Some(subject)) => Standing::Current(attendance(subject)),
            },
            slot_found: slot.is_some(),
            lead_link_found: lead_link.is_some(),
        };
        if let Err(why) = notice.still_applies(&facts) {
            return Ok(Err(why));
        }
        // The rules made sure that what each kind needs was found; the fallbacks below give
        // their reasons again rather than assume it.
        if let Notice::LeadLink { .. } = notice {
            return match lead_link {
                Some(link) => self.lead_mail(conn, &link).map(Ok),
                None => Ok(Err(Obsolete::NoLongerLead)),
            };
        }
        let Some(subject) = subject else {
            return Ok(Err(Obsolete::NoRegistration));
        };
        let calendar = notice
            .kind()
            .attaches_event()
            .then(|| self.calendar(notice, subject, &slot));
        let mail = match self.registration_mail(notice, subject, slot)? {
            Ok(mail) => mail,
            Err(why) => return Ok(Err(why)),
        };
        Ok(Ok(Composed { mail, calendar }))
    }

    /// The context of a notice about a registration.
    fn registration_mail(
        &self,
        notice: &Notice,
        subject: &MailSubject,
        slot: Option<(ProjectRow, SlotRow)>,
    ) -> Result<Result<NoticeMail, Obsolete>, AppError> {
        let MailSubject {
            view,
            event: row,
            attendee,
        } = subject;
        let r = &view.registration;
        let to = Recipient {
            name: r.name.clone(),
            email: r.email.clone(),
            manage_url: Some(self.links.manage(&r.manage_token(&self.key))),
            feed_url: attendee
                .as_ref()
                .map(|a| self.links.personal_feed(&a.feed_token(&self.key))),
            unsubscribe_url: notice
                .kind()
                .is_bulk()
                .then(|| self.links.unsubscribe(&r.unsubscribe_token(&self.key))),
        };
        let event = self.event_lines(row)?;
        let going = r.status() == RegistrationStatus::Going;
        let waitlist_position = view.waitlist_position.unwrap_or(0);
        let projects = || {
            view.projects
                .iter()
                .map(|p| ProjectLine {
                    name: p.name.clone(),
                    location: p.location.clone(),
                    notes_url: p.notes_url.clone(),
                })
                .collect()
        };
        Ok(Ok(match notice {
            Notice::SignupConfirmation => SignupConfirmation {
                to,
                event,
                going,
                waitlist_position,
                projects: projects(),
            }
            .into(),
            Notice::AlreadyRegistered => AlreadyRegistered {
                to,
                event,
                going,
                waitlist_position,
            }
            .into(),
            Notice::Promoted => Promoted {
                to,
                event,
                projects: projects(),
            }
            .into(),
            Notice::RegistrationCancelled => RegistrationCancelled { to, event }.into(),
            Notice::EventChanged { changes } => EventChanged {
                to,
                event,
                changes: changes.clone(),
                going,
                waitlist_position,
            }
            .into(),
            Notice::EventCancelled => EventCancelled { to, event }.into(),
            Notice::Reminder { offset_minutes, .. } => Reminder {
                to,
                event,
                projects: projects(),
                starts_in: ReminderOffsets::describe(chrono::Duration::minutes(*offset_minutes)),
            }
            .into(),
            Notice::OrganizerMessage {
                subject,
                body,
                project,
                reply_to,
            } => OrganizerMessage {
                to,
                event,
                subject: subject.clone(),
                body: body.clone(),
                project: project.clone(),
                reply_to: reply_to.as_ref().map(|r| (r.name.clone(), r.email.clone())),
            }
            .into(),
            Notice::SlotMoved { changes, .. } => {
                let Some((project, slot)) = slot else {
                    return Ok(Err(Obsolete::SlotRemoved));
                };
                SlotMoved {
                    to,
                    event,
                    project: project.name,
                    slot: slot_lines(&slot, &row.timezone),
                    changes: changes.clone(),
                }
                .into()
            }
            Notice::LeadLink { .. } => return Ok(Err(Obsolete::NoLongerLead)),
        }))
    }

    /// A lead's link to their project's board.
    fn lead_mail(&self, conn: &mut DbConn, link: &LeadLinkRow) -> Result<Composed, AppError> {
        let project = projects::find(conn, link.project_id)?;
        let event = events::find(conn, project.event_id)?;
        let mail = LeadLink {
            to: Recipient {
                name: link.name.clone(),
                email: link.email.clone(),
                ..Recipient::default()
            },
            event: self.event_lines(&event)?,
            project: project.name,
            lead_url: self.links.lead(&link.token(&self.key)),
            board_url: self.links.board(&event.slug),
        };
        Ok(Composed {
            mail: mail.into(),
            calendar: None,
        })
    }

    fn event_lines(&self, event: &EventRow) -> Result<EventLines, AppError> {
        Ok(EventLines {
            title: event.title.clone(),
            when: event.window()?.human(),
            place: comma_joined(&[&event.venue, &event.address]),
            online_url: event.online_url.clone(),
            url: self.links.event(&event.slug),
        })
    }

    /// The slot's updated calendar object for a moved slot, the event's for the rest.
    fn calendar(
        &self,
        notice: &Notice,
        subject: &MailSubject,
        slot: &Option<(ProjectRow, SlotRow)>,
    ) -> String {
        let organizer = self.organizer.clone();
        if let Notice::RegistrationCancelled = notice {
            return cancellation_attachment(&subject.event, &self.links, organizer, self.now);
        }
        match slot {
            Some((project, slot)) => slot_attachment(
                &subject.event,
                project,
                slot,
                &self.links,
                organizer,
                self.now,
            ),
            None => {
                let waitlisted =
                    subject.view.registration.status() == RegistrationStatus::Waitlisted;
                email_attachment(&subject.event, &self.links, waitlisted, organizer, self.now)
            }
        }
    }
}

/// What the rules need to know of a registration and its event.
fn attendance(subject: &MailSubject) -> Attendance {
    let registration = &subject.view.registration;
    Attendance {
        status: registration.status(),
        muted: registration.muted,
        event_status: subject.event.status(),
        event_starts_at: subject.event.starts_at,
    }
}

/// A slot's title, room and time (in the event's zone).
fn slot_lines(slot: &SlotRow, timezone: &str) -> SlotLines {
    let ends = local_naive(slot.ends_at, timezone)
        .map(|t| t.format("%H:%M").to_string())
        .unwrap_or_default();
    SlotLines {
        title: slot.title.clone(),
        room: slot.room.clone(),
        when: format!(
            "{} – {} ({})",
            local_label(slot.starts_at, timezone),
            ends,
            timezone
        ),
    }
}
