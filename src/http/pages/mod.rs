//! The HTML pages, one file per audience: the public (`public`), an attendee behind their
//! secret link (`manage`), a project lead behind theirs (`lead`), the board on a screen
//! (`board`), and the organizers (`admin`). `site` holds what every page shares. Pages call the
//! same use cases as the API and show their field messages on the form.

pub mod admin;
pub mod board;
pub mod lead;
pub mod manage;
pub mod preferences;
pub mod public;
pub mod share;
pub mod site;
