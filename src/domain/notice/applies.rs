//! Whether a queued notice still applies when its turn comes: the registration may have been
//! cancelled or muted since, the event cancelled, moved or begun, the slot removed, the lead
//! replaced. The worker reads the facts and acts on the answer; the rules are here.

use chrono::NaiveDateTime;

use super::Notice;
use crate::domain::{EventStatus, RegistrationStatus};

/// What the database holds now about what a notice is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub now: NaiveDateTime,
    /// The registration the message goes to.
    pub registration: Standing,
    /// Whether the slot a `SlotMoved` names still exists (other kinds name none).
    pub slot_found: bool,
    /// Whether the link a `LeadLink` names is still its lead's (other kinds name none).
    pub lead_link_found: bool,
}

/// The registration a message goes to, as it stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// The message names no registration (a lead need not be registered).
    NotNamed,
    /// It named one, deleted since.
    Deleted,
    Current(Attendance),
}

/// A registration's state and its event's, as far as the rules need them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attendance {
    pub status: RegistrationStatus,
    /// The attendee opted out of this event's reminders and organizer messages.
    pub muted: bool,
    pub event_status: EventStatus,
    pub event_starts_at: NaiveDateTime,
}

/// Why a notice no longer applies; the text is what the outbox records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Obsolete {
    #[error("the message names no registration")]
    NoRegistration,
    #[error("the registration no longer exists")]
    RegistrationDeleted,
    #[error("no longer a lead")]
    NoLongerLead,
    #[error("the slot was removed")]
    SlotRemoved,
    #[error("no longer going")]
    NoLongerGoing,
    #[error("not going")]
    NotGoing,
    #[error("the registration is cancelled")]
    RegistrationCancelled,
    #[error("the event is cancelled")]
    EventCancelled,
    #[error("the event moved; a new reminder follows")]
    EventMoved,
    #[error("the event has started")]
    EventStarted,
    #[error("the attendee opted out")]
    OptedOut,
}

impl Notice {
    /// Whether this notice is still to be sent, given `facts` read just before it goes.
    pub fn still_applies(&self, facts: &Facts) -> Result<(), Obsolete> {
        if let Notice::LeadLink { .. } = self {
            return match facts.lead_link_found {
                true => Ok(()),
                false => Err(Obsolete::NoLongerLead),
            };
        }
        let a = match facts.registration {
            Standing::NotNamed => return Err(Obsolete::NoRegistration),
            Standing::Deleted => return Err(Obsolete::RegistrationDeleted),
            Standing::Current(attendance) => attendance,
        };
        if let Notice::SlotMoved { .. } = self
            && !facts.slot_found
        {
            return Err(Obsolete::SlotRemoved);
        }
        let going = a.status == RegistrationStatus::Going;
        let scheduled = a.event_status == EventStatus::Scheduled;
        let cancelled = a.status == RegistrationStatus::Cancelled;
        let why = match self {
            Notice::Promoted if !going => Some(Obsolete::NoLongerGoing),
            Notice::Reminder { starts_at, .. } => {
                if !going {
                    Some(Obsolete::NotGoing)
                } else if !scheduled {
                    Some(Obsolete::EventCancelled)
                } else if *starts_at != a.event_starts_at {
                    Some(Obsolete::EventMoved)
                } else if facts.now >= a.event_starts_at {
                    Some(Obsolete::EventStarted)
                } else {
                    None
                }
            }
            // A confirmation that waited while its registration was cancelled would announce
            // a seat or a waitlist place that is gone; the cancellation notice says what holds.
            Notice::EventChanged { .. }
            | Notice::EventCancelled
            | Notice::OrganizerMessage { .. }
            | Notice::SignupConfirmation
            | Notice::AlreadyRegistered
                if cancelled =>
            {
                Some(Obsolete::RegistrationCancelled)
            }
            Notice::SlotMoved { .. } if !going => Some(Obsolete::NotGoing),
            Notice::SlotMoved { .. } if !scheduled => Some(Obsolete::EventCancelled),
            _ => None,
        };
        match why {
            Some(why) => Err(why),
            None if self.kind().is_bulk() && a.muted => Err(Obsolete::OptedOut),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::notice::tests::sample;
    use crate::domain::notice::{Change, NoticeKind};

    fn at(text: &str) -> NaiveDateTime {
        text.parse().unwrap()
    }

    const START: &str = "2027-03-06T09:30:00";

    /// A going attendee of a scheduled event a day before its start, with everything named
    /// still there.
    fn facts() -> Facts {
        Facts {
            now: at("2027-03-05T09:30:00"),
            registration: Standing::Current(Attendance {
                status: RegistrationStatus::Going,
                muted: false,
                event_status: EventStatus::Scheduled,
                event_starts_at: at(START),
            }),
            slot_found: true,
            lead_link_found: true,
        }
    }

    fn with(change: impl FnOnce(&mut Attendance)) -> Facts {
        let mut facts = facts();
        if let Standing::Current(a) = &mut facts.registration {
            change(a);
        }
        facts
    }

    fn reminder() -> Notice {
        Notice::Reminder {
            offset_minutes: 1440,
            starts_at: at(START),
        }
    }

    fn slot_moved() -> Notice {
        Notice::SlotMoved {
            slot_id: 1,
            changes: vec![Change {
                what: "room".into(),
                before: "A".into(),
                after: "B".into(),
            }],
        }
    }

    #[test]
    fn every_kind_applies_to_a_going_attendee_of_a_scheduled_event() {
        for kind in NoticeKind::ALL {
            let mut notice = sample(*kind);
            if let Notice::Reminder { starts_at, .. } = &mut notice {
                *starts_at = at(START);
            }
            assert_eq!(notice.still_applies(&facts()), Ok(()), "{kind}");
        }
    }

    #[test]
    fn a_message_needs_its_registration() {
        for kind in NoticeKind::ALL
            .iter()
            .filter(|k| **k != NoticeKind::LeadLink)
        {
            let notice = sample(*kind);
            for (standing, why) in [
                (Standing::NotNamed, Obsolete::NoRegistration),
                (Standing::Deleted, Obsolete::RegistrationDeleted),
            ] {
                let facts = Facts {
                    registration: standing,
                    ..facts()
                };
                assert_eq!(notice.still_applies(&facts), Err(why), "{kind}");
            }
        }
    }

    #[test]
    fn a_lead_link_needs_the_lead_and_nothing_else() {
        let notice = Notice::LeadLink { lead_link_id: 1 };
        let unregistered = Facts {
            registration: Standing::NotNamed,
            ..facts()
        };
        assert_eq!(notice.still_applies(&unregistered), Ok(()));
        let replaced = Facts {
            lead_link_found: false,
            ..unregistered
        };
        assert_eq!(notice.still_applies(&replaced), Err(Obsolete::NoLongerLead));
    }

    #[test]
    fn a_promotion_needs_the_seat_still_taken() {
        for status in [
            RegistrationStatus::Cancelled,
            RegistrationStatus::Waitlisted,
        ] {
            let facts = with(|a| a.status = status);
            assert_eq!(
                Notice::Promoted.still_applies(&facts),
                Err(Obsolete::NoLongerGoing)
            );
        }
    }

    #[test]
    fn a_reminder_goes_to_people_going_before_the_start_it_was_made_for() {
        let cases = [
            (
                "waitlisted",
                with(|a| a.status = RegistrationStatus::Waitlisted),
                Obsolete::NotGoing,
            ),
            (
                "cancelled",
                with(|a| a.status = RegistrationStatus::Cancelled),
                Obsolete::NotGoing,
            ),
            (
                "event called off",
                with(|a| a.event_status = EventStatus::Cancelled),
                Obsolete::EventCancelled,
            ),
            (
                "event moved",
                with(|a| a.event_starts_at = at("2027-03-07T09:30:00")),
                Obsolete::EventMoved,
            ),
            (
                "event begun",
                Facts {
                    now: at(START),
                    ..facts()
                },
                Obsolete::EventStarted,
            ),
            ("opted out", with(|a| a.muted = true), Obsolete::OptedOut),
        ];
        for (case, facts, why) in cases {
            assert_eq!(reminder().still_applies(&facts), Err(why), "{case}");
        }
    }

    #[test]
    fn event_news_messages_and_confirmations_skip_cancelled_registrations_only() {
        let cancelled = with(|a| a.status = RegistrationStatus::Cancelled);
        let waitlisted = with(|a| a.status = RegistrationStatus::Waitlisted);
        for kind in [
            NoticeKind::EventChanged,
            NoticeKind::EventCancelled,
            NoticeKind::OrganizerMessage,
            NoticeKind::SignupConfirmation,
            NoticeKind::AlreadyRegistered,
        ] {
            let notice = sample(kind);
            assert_eq!(
                notice.still_applies(&cancelled),
                Err(Obsolete::RegistrationCancelled),
                "{kind}"
            );
            assert_eq!(notice.still_applies(&waitlisted), Ok(()), "{kind}");
        }
        // The cancellation notice itself is about a cancelled registration.
        let kind = NoticeKind::RegistrationCancelled;
        assert_eq!(sample(kind).still_applies(&cancelled), Ok(()), "{kind}");
    }

    #[test]
    fn only_bulk_mail_respects_an_opt_out() {
        let muted = with(|a| a.muted = true);
        for kind in NoticeKind::ALL {
            let mut notice = sample(*kind);
            if let Notice::Reminder { starts_at, .. } = &mut notice {
                *starts_at = at(START);
            }
            let expected = if kind.is_bulk() {
                Err(Obsolete::OptedOut)
            } else {
                Ok(())
            };
            assert_eq!(notice.still_applies(&muted), expected, "{kind}");
        }
    }

    #[test]
    fn a_moved_slot_needs_the_slot_an_attendee_going_and_the_event_on() {
        let gone = Facts {
            slot_found: false,
            ..facts()
        };
        assert_eq!(
            slot_moved().still_applies(&gone),
            Err(Obsolete::SlotRemoved)
        );
        // A removed slot is the reason given, whatever else changed.
        let gone_and_cancelled = Facts {
            slot_found: false,
            ..with(|a| a.status = RegistrationStatus::Cancelled)
        };
        assert_eq!(
            slot_moved().still_applies(&gone_and_cancelled),
            Err(Obsolete::SlotRemoved)
        );
        assert_eq!(
            slot_moved().still_applies(&with(|a| a.status = RegistrationStatus::Waitlisted)),
            Err(Obsolete::NotGoing)
        );
        assert_eq!(
            slot_moved().still_applies(&with(|a| a.event_status = EventStatus::Cancelled)),
            Err(Obsolete::EventCancelled)
        );
        // Other kinds do not look at slots.
        assert_eq!(Notice::Promoted.still_applies(&gone), Ok(()));
    }
}
