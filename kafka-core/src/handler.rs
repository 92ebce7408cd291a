//! What consumes events, on either bus: the handler type, the message it is given, and the
//! retries of a failing handler (`kafka::consumer` and `embedded` run them).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::LocalBoxFuture;

/// A message as a handler sees it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub topic: String,
    pub key: Option<String>,
    pub payload: Vec<u8>,
    pub headers: HashMap<String, String>,
}

/// What consumes events. It runs on the actix arbiter (its future need not be `Send`); blocking
/// work inside it belongs on a `SyncArbiter` or the blocking pool. An error means "try again"
/// (after the last try the event goes to the dead letters, with the error's text).
pub type EventHandler =
    Arc<dyn Fn(Delivery) -> LocalBoxFuture<'static, Result<(), HandlerError>> + Send + Sync>;

/// Why a handler did not handle an event: each handler's own error type, boxed.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

/// Retries of a failing handler: `attempts` tries in all, the pause doubling from `backoff`.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    pub attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 5,
            backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    pub fn pause(&self, attempt: u32) -> Duration {
        (self.backoff * 2u32.saturating_pow(attempt.saturating_sub(1))).min(self.max_backoff)
    }
}

/// Runs `handler` with retries; the last error if every try failed.
pub async fn handle_with_retries(
    handler: &EventHandler,
    delivery: &Delivery,
    retry: RetryPolicy,
) -> Result<(), (String, u32)> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match handler(delivery.clone()).await {
            Ok(()) => return Ok(()),
            Err(err) if attempt >= retry.attempts => return Err((err.to_string(), attempt)),
            Err(err) => {
                log::warn!(
                    "handling {} failed (try {attempt} of {}): {err}",
                    delivery.topic,
                    retry.attempts
                );
                actix_rt::time::sleep(retry.pause(attempt)).await;
            }
        }
    }
}
