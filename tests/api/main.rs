//! Convene's integration tests: one binary that starts the real application against a real
//! database. Each test runs on SQLite and, when CONVENE_TEST_POSTGRES_URL is set (always in CI),
//! on PostgreSQL.

mod abuse;
mod bad_input;
mod board;
mod browser;
mod busy_pages;
mod cli;
mod demo;
mod drafts;
mod events;
mod faults;
mod feeds;
mod group_commit;
mod hardening;
mod health;
mod helpers;
mod instances;
mod layers;
mod mail;
mod operations;
mod pages;
mod processes;
mod projects;
mod registrations;
mod service;
mod sharing;
mod signups;
mod smtp;
mod storage;
mod tokens;
mod worker_links;
mod zones;
