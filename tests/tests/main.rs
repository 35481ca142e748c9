//! Leernet's integration tests: one test binary, one module per area. Every test runs on
//! SQLite and on PostgreSQL (when `LEERNET_TEST_POSTGRES_URL` is set) through
//! `both_backends!`.

mod arbitrary_input;
mod auth;
mod browser;
mod changes;
mod cli;
mod confinement;
mod connections;
mod contract;
mod deletes;
mod feed;
mod graphql;
mod hardening;
mod health;
mod http_fuzz;
mod interop;
mod linters;
mod migrations;
mod mutations;
mod openapi;
mod outages;
mod process;
mod reads;
mod resources;
mod rest;
mod security;
mod seed;
mod startup;
mod stories;
mod subscriptions;
mod webhooks;
mod writes;
