//! Convene: events, signups, projects, email and calendar feeds for code sprints, hack-ins,
//! design summits and meetups.

pub mod app;
pub mod board;
pub mod clock;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod error;
pub mod health_probe;
pub mod http;
pub mod ical;
pub mod jobs;
pub mod links;
pub mod logging;
pub mod mail;
pub mod metrics;
pub mod service;
pub mod tokens;
