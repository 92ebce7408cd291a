//! The embedded bus: with no Kafka configured, events go from the same outbox straight to the
//! consumers subscribed in this process. The rules are Kafka's: an entry leaves the outbox only
//! after every subscribed group handled it (with the same retries, and a dead-letter folder for
//! events that keep failing), and whatever is left after a crash is delivered again.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use actix::prelude::*;
use uuid::Uuid;

use crate::events::dead_letter_topic;
use crate::handler::{handle_with_retries, Delivery, EventHandler, RetryPolicy};
use crate::outbox::{Outbox, OutboxEntry};
use crate::publish::{Delivered, Publish};
use stack_common::durable::write_atomically;

struct Subscriber {
    group: String,
    handler: EventHandler,
}

pub struct EmbeddedBus {
    outbox: Outbox,
    dead_letters: PathBuf,
    retry: RetryPolicy,
    subscribers: HashMap<String, Vec<Subscriber>>,
    in_flight: HashSet<Uuid>,
    /// Deliveries wait until set-up has subscribed every consumer.
    open: bool,
}

impl EmbeddedBus {
    pub fn new(outbox: Outbox, dead_letters: PathBuf, retry: RetryPolicy) -> Self {
        Self {
            outbox,
            dead_letters,
            retry,
            subscribers: HashMap::new(),
            in_flight: HashSet::new(),
            open: false,
        }
    }

    fn deliver(
        &mut self,
        entry: OutboxEntry,
        notify: Option<Recipient<Delivered>>,
        ctx: &mut Context<Self>,
    ) {
        if !self.open || !self.in_flight.insert(entry.id) {
            return;
        }
        let handlers: Vec<(String, EventHandler)> = self
            .subscribers
            .get(&entry.topic)
            .map(|subs| {
                subs.iter()
                    .map(|s| (s.group.clone(), s.handler.clone()))
                    .collect()
            })
            .unwrap_or_default();
        let delivery = Delivery {
            topic: entry.topic.clone(),
            key: Some(entry.key.clone()),
            payload: entry.payload_bytes(),
            headers: entry
                .headers()
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        };
        let retry = self.retry;
        let dead_letters = self.dead_letters.clone();
        let outbox = self.outbox.clone();
        let work = async move {
            for (group, handler) in handlers {
                if let Err((err, attempts)) = handle_with_retries(&handler, &delivery, retry).await
                {
                    log::error!("group {group} gave up on event {} after {attempts} tries ({err}); dead-lettered", entry.id);
                    let dir = dead_letters.join(dead_letter_topic(&entry.topic));
                    let letter = serde_json::json!({"entry": entry, "group": group, "error": err, "attempts": attempts});
                    let written = actix_rt::task::spawn_blocking(move || {
                        std::fs::create_dir_all(&dir)?;
                        write_atomically(
                            &dir.join(format!("{}.json", entry.id)),
                            letter.to_string().as_bytes(),
                        )
                    })
                    .await;
                    if !matches!(written, Ok(Ok(()))) {
                        return Err(entry.id);
                    }
                }
            }
            let removed = actix_rt::task::spawn_blocking(move || outbox.remove(entry.id)).await;
            match removed {
                Ok(Ok(())) => Ok((entry.id, entry.topic)),
                _ => Err(entry.id),
            }
        };
        ctx.spawn(
            work.into_actor(self)
                .map(move |result, act, _| match result {
                    Ok((event_id, topic)) => {
                        act.in_flight.remove(&event_id);
                        if let Some(notify) = notify {
                            notify.do_send(Delivered { event_id, topic });
                        }
                    }
                    Err(id) => {
                        act.in_flight.remove(&id);
                        log::error!("event {id} could not be settled; it stays in the outbox");
                    }
                }),
        );
    }

    fn redrive(&mut self, ctx: &mut Context<Self>) {
        let outbox = self.outbox.clone();
        let pending = actix_rt::task::spawn_blocking(move || outbox.pending());
        ctx.spawn(pending.into_actor(self).map(|result, act, ctx| {
            match result {
                Ok(Ok(entries)) => entries
                    .into_iter()
                    .for_each(|entry| act.deliver(entry, None, ctx)),
                Ok(Err(err)) => log::error!("cannot read the outbox: {err}"),
                Err(err) => log::error!("outbox task failed: {err}"),
            }
        }));
    }
}

impl Actor for EmbeddedBus {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // Entries whose delivery failed are tried again now and then.
        ctx.run_interval(std::time::Duration::from_secs(5), |act, ctx| {
            act.redrive(ctx)
        });
    }
}

impl Handler<Publish> for EmbeddedBus {
    type Result = ();

    fn handle(&mut self, msg: Publish, ctx: &mut Self::Context) {
        self.deliver(msg.entry, msg.notify, ctx);
    }
}

/// Subscribes a consumer group's handler to topics.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Subscribe {
    pub topics: Vec<String>,
    pub group: String,
    pub handler: EventHandler,
}

impl Handler<Subscribe> for EmbeddedBus {
    type Result = ();

    fn handle(&mut self, msg: Subscribe, _: &mut Self::Context) {
        for topic in msg.topics {
            self.subscribers.entry(topic).or_default().push(Subscriber {
                group: msg.group.clone(),
                handler: msg.handler.clone(),
            });
        }
    }
}

/// Set-up is done: deliver what the outbox holds, and everything from now on.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Open;

impl Handler<Open> for EmbeddedBus {
    type Result = ();

    fn handle(&mut self, _: Open, ctx: &mut Self::Context) {
        self.open = true;
        self.redrive(ctx);
    }
}
