//! The `EventHub` actor: fans lifecycle changes out to every open `GET /api/events` stream
//! (Server-Sent Events). A subscriber that cannot keep up is dropped, not waited for. A
//! subscriber who is a user (not an admin) gets only the changes of their own recordings: each
//! event's `userId` says whose it is.

use actix::prelude::*;
use bytes::Bytes;
use tokio::sync::mpsc;

#[derive(Default)]
pub struct EventHub {
    subscribers: Vec<Subscriber>,
}

struct Subscriber {
    /// Whose recordings it follows: `None` for everyone's.
    owner: Option<String>,
    sender: mpsc::Sender<Bytes>,
}

impl Actor for EventHub {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Self::Context) {
        // A comment line now and then keeps proxies from closing quiet streams.
        ctx.run_interval(std::time::Duration::from_secs(15), |act, _| {
            act.send(Bytes::from_static(b": keep-alive\n\n"), None)
        });
    }
}

impl EventHub {
    /// Sends `frame` to every subscriber who may see a recording of `user_id` (`None`: a frame
    /// for all, such as a keep-alive).
    fn send(&mut self, frame: Bytes, user_id: Option<Option<&str>>) {
        self.subscribers.retain(|subscriber| {
            let sees = match (&subscriber.owner, user_id) {
                (None, _) | (_, None) => true,
                (Some(owner), Some(user_id)) => user_id == Some(owner.as_str()),
            };
            !sees || subscriber.sender.try_send(frame.clone()).is_ok()
        });
    }
}

/// Opens a stream of the changes of `owner`'s recordings (`None`: everyone's); the first frame
/// tells the browser how long to wait before reconnecting.
#[derive(Message)]
#[rtype(result = "mpsc::Receiver<Bytes>")]
pub struct Subscribe {
    pub owner: Option<String>,
}

impl Handler<Subscribe> for EventHub {
    type Result = MessageResult<Subscribe>;

    fn handle(&mut self, msg: Subscribe, _: &mut Self::Context) -> Self::Result {
        let (sender, receiver) = mpsc::channel(256);
        let _ = sender.try_send(Bytes::from_static(b"retry: 2000\n: connected\n\n"));
        self.subscribers.push(Subscriber {
            owner: msg.owner,
            sender,
        });
        MessageResult(receiver)
    }
}

/// One lifecycle change: `started`, `completed`, `processed` or `deleted`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Broadcast {
    pub kind: &'static str,
    pub data: serde_json::Value,
}

impl Handler<Broadcast> for EventHub {
    type Result = ();

    fn handle(&mut self, msg: Broadcast, _: &mut Self::Context) {
        let frame = format!("event: {}\ndata: {}\n\n", msg.kind, msg.data);
        let user_id = msg.data.get("userId").and_then(|v| v.as_str());
        self.send(Bytes::from(frame), Some(user_id));
    }
}

/// Ends every open stream (the service is stopping: an open stream would hold the graceful
/// stop until its timeout). Browsers reconnect on their own, to another instance.
#[derive(Message)]
#[rtype(result = "()")]
pub struct CloseStreams;

impl Handler<CloseStreams> for EventHub {
    type Result = ();

    fn handle(&mut self, _: CloseStreams, _: &mut Self::Context) {
        self.subscribers.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn a_user_s_stream_gets_only_their_own_recordings_events() {
        let hub = EventHub::default().start();
        let mut alice = hub
            .send(Subscribe {
                owner: Some("alice".into()),
            })
            .await
            .unwrap();
        let mut everyone = hub.send(Subscribe { owner: None }).await.unwrap();
        for user in ["bob", "alice"] {
            hub.send(Broadcast {
                kind: "completed",
                data: serde_json::json!({"userId": user}),
            })
            .await
            .unwrap();
        }
        let frames = |receiver: &mut mpsc::Receiver<Bytes>| {
            let mut got = Vec::new();
            while let Ok(frame) = receiver.try_recv() {
                got.push(String::from_utf8_lossy(&frame).into_owned());
            }
            got
        };
        let alice = frames(&mut alice);
        assert_eq!(alice.len(), 2, "{alice:?}"); // the greeting, and her event
        assert!(alice[1].contains(r#""userId":"alice""#), "{alice:?}");
        assert_eq!(frames(&mut everyone).len(), 3);
    }
}
