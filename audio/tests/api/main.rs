//! Integration tests of the audio service: real servers on port 0, real sockets.

mod abuse;
mod bad_input;
mod concurrency;
mod helpers;
mod http_api;
mod index;
mod live_events;
mod original_clients;
mod page_cache;
mod recording;
mod registration;
mod resume;
#[path = "../support/storage.rs"]
mod storage;
