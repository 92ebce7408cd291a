//! Users and their recordings through the gateway (docs/security.md): JWTs at the door, the
//! identity vouched to the audio service, and each user seeing only their own recordings.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use awc::ws;
use futures_util::{SinkExt, StreamExt};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::*;

pub const JWT_SECRET: &str = "jwt-secret-for-the-gateway-tests-0123456789";
pub const IDENTITY_SECRET: &str = "identity-secret-between-gateway-and-audio";
pub const ISSUER: &str = "https://id.example.test/realms/audio";
pub const AUDIENCE: &str = "audio-stack";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// The claims of a good token for `sub` with `roles`, an hour long.
pub fn claims(sub: &str, roles: &[&str]) -> Value {
    json!({"sub": sub, "roles": roles, "iss": ISSUER, "aud": AUDIENCE, "exp": now() + 3600,
           "nbf": now() - 5})
}

pub fn hs256(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A good token for `sub`.
pub fn token(sub: &str, roles: &[&str]) -> String {
    hs256(&claims(sub, roles), JWT_SECRET)
}

/// A registry, `instances` audio instances that require a vouched identity, and a gateway that
/// verifies HS256 tokens and vouches for their users.
pub async fn users_stack(instances: usize, tweak: impl FnOnce(&mut gateway::Settings)) -> Stack {
    Stack::start_configured(
        instances,
        |audio| audio.identity_secret = Some(IDENTITY_SECRET.into()),
        |gateway| {
            gateway.jwt.secret = Some(JWT_SECRET.into());
            gateway.jwt.issuer = Some(ISSUER.into());
            gateway.jwt.audience = Some(AUDIENCE.into());
            gateway.jwt.identity_secret = Some(IDENTITY_SECRET.into());
            tweak(gateway)
        },
    )
    .await
}

/// Sends a request with `Authorization: Bearer token`; answers status and JSON body.
pub async fn call_as(method: &str, url: &str, token: &str) -> (u16, Value) {
    let request = awc::Client::new()
        .request(method.parse().unwrap(), url)
        .insert_header(("authorization", format!("Bearer {token}")));
    let mut response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.body().limit(64 << 20).await.unwrap();
    (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
}

pub async fn connect_as(url: &str, token: &str) -> Socket {
    awc::Client::new()
        .ws(url)
        .header("authorization", format!("Bearer {token}"))
        .max_frame_size(16 << 20)
        .connect()
        .await
        .expect("connects")
        .1
}

async fn send_json(socket: &mut Socket, value: Value) {
    socket
        .send(ws::Message::Text(value.to_string().into()))
        .await
        .unwrap();
}

/// Starts a recording on `socket`; answers the `started` frame.
async fn start(socket: &mut Socket, meta_id: &str, declared_user: Option<&str>) -> Value {
    send_json(
        socket,
        json!({"action": "record-start", "metaId": meta_id, "metaData": {"userId": declared_user}}),
    )
    .await;
    let started = recv_json(socket).await;
    assert_eq!(started["type"], "started", "{started}");
    started
}

async fn send_chunks(socket: &mut Socket, chunks: &[Vec<u8>]) {
    for chunk in chunks {
        socket
            .send(ws::Message::Binary(chunk.clone().into()))
            .await
            .unwrap();
        let ack = recv_json(socket).await;
        assert_eq!(ack["type"], "ack", "{ack}");
    }
}

async fn end(socket: &mut Socket) -> Value {
    send_json(socket, json!({"action": "record-end"})).await;
    let completed = recv_json(socket).await;
    assert_eq!(completed["type"], "completed", "{completed}");
    completed
}

/// Records the whole fixture as the holder of `token`; answers the `completed` frame.
pub async fn record_as(stack: &Stack, token: &str, meta_id: &str, declared: Option<&str>) -> Value {
    let mut socket = connect_as(&stack.ws_url(), token).await;
    start(&mut socket, meta_id, declared).await;
    send_chunks(&mut socket, &fixture_chunks()).await;
    end(&mut socket).await
}

async fn wait_ready_as(stack: &Stack, token: &str, id: &str) -> Value {
    for _ in 0..200 {
        let (status, meta) =
            call_as("GET", &stack.http(&format!("/api/recordings/{id}")), token).await;
        if status == 200 && meta["status"] == "ready" {
            return meta;
        }
        actix_rt::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("recording {id} never became ready");
}

/// The live event stream as the holder of `token`: each item one `(event, data)`.
async fn events_as(
    stack: &Stack,
    token: &str,
) -> impl futures_util::Stream<Item = (String, Value)> + Unpin {
    let response = awc::Client::new()
        .get(stack.http("/api/events"))
        .insert_header(("authorization", format!("Bearer {token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let mut buffer = String::new();
    Box::pin(
        response
            .map(move |chunk| {
                buffer.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
                let mut frames = Vec::new();
                while let Some(at) = buffer.find("\n\n") {
                    let frame: String = buffer.drain(..at + 2).collect();
                    let field = |name: &str| {
                        frame
                            .lines()
                            .find_map(|line| line.strip_prefix(name))
                            .map(|v| v.trim().to_owned())
                    };
                    if let (Some(event), Some(data)) = (field("event:"), field("data:")) {
                        frames.push((event, serde_json::from_str(&data).unwrap()));
                    }
                }
                futures_util::stream::iter(frames)
            })
            .flatten(),
    )
}

#[actix_rt::test]
async fn each_user_sees_only_their_own_recordings_and_an_admin_sees_all() {
    let stack = users_stack(1, |_| {}).await;
    let (alice, bob, root) = (
        token("alice", &[]),
        token("bob", &[]),
        token("root", &["admin"]),
    );
    let mut bob_events = events_as(&stack, &bob).await;

    // Alice records, declaring herself someone else: she records as herself.
    let finished = record_as(&stack, &alice, "alice-take", Some("bob")).await;
    let alice_id = finished["recordingId"].as_str().unwrap().to_owned();
    let alice_file = finished["fileName"].as_str().unwrap().to_owned();
    assert_eq!(
        wait_ready_as(&stack, &alice, &alice_id).await["userId"],
        "alice"
    );
    // And leaves a second one in progress: her socket drops mid-recording (resumable).
    let chunks = fixture_chunks();
    let mut socket = connect_as(&stack.ws_url(), &alice).await;
    let started = start(&mut socket, "alice-live", None).await;
    let live_id = started["recordingId"].as_str().unwrap().to_owned();
    let resume_token = started["resumeToken"].as_str().unwrap().to_owned();
    send_chunks(&mut socket, &chunks[..5]).await;
    drop(socket);

    // Bob records one of his own.
    let bob_finished = record_as(&stack, &bob, "bob-take", None).await;
    let bob_id = bob_finished["recordingId"].as_str().unwrap().to_owned();
    let bob_file = bob_finished["fileName"].as_str().unwrap().to_owned();
    wait_ready_as(&stack, &bob, &bob_id).await;

    // Bob's list, search and the original's file list hold his recording only.
    let (status, page) = call_as("GET", &stack.http("/api/recordings"), &bob).await;
    assert_eq!((status, page["total"].as_u64()), (200, Some(1)), "{page}");
    assert_eq!(page["items"][0]["id"], bob_id.as_str());
    let (_, found) = call_as("GET", &stack.http("/api/recordings?q=alice"), &bob).await;
    assert_eq!(found["total"], 0, "{found}");
    let (_, files) = call_as("GET", &stack.http("/api/files"), &bob).await;
    assert_eq!(files, json!([bob_file]));

    // Knowing her id and file name does not help him: each is "not found".
    for (method, path) in [
        ("GET", format!("/api/recordings/{alice_id}")),
        ("GET", format!("/api/recordings/{alice_id}/audio")),
        ("GET", format!("/api/download/{alice_file}")),
        ("DELETE", format!("/api/recordings/{alice_id}")),
        ("GET", format!("/api/recordings/{live_id}")),
    ] {
        let (status, body) = call_as(method, &stack.http(&path), &bob).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (404, Some("not-found")),
            "{method} {path}"
        );
    }
    // Nor her token: her live recording does not resume for him.
    let mut socket = connect_as(&stack.ws_url(), &bob).await;
    send_json(
        &mut socket,
        json!({"action": "record-resume", "recordingId": live_id, "resumeToken": resume_token}),
    )
    .await;
    let refused = recv_json(&mut socket).await;
    assert_eq!(refused["code"], "recording-not-found", "{refused}");
    drop(socket);

    // His event stream told him of his own recording only.
    let mut seen = Vec::new();
    while let Some((event, data)) =
        actix_rt::time::timeout(Duration::from_secs(10), bob_events.next())
            .await
            .expect("bob's events within 10 s")
    {
        let done = event == "processed" && data["recordingId"] == bob_id.as_str();
        seen.push((event, data));
        if done {
            break;
        }
    }
    assert!(
        seen.iter().all(|(_, data)| data["userId"] == "bob"),
        "{seen:?}"
    );
    assert!(seen.iter().any(|(event, _)| event == "started"), "{seen:?}");

    // An admin sees both users' recordings and may read Alice's.
    let (_, all) = call_as("GET", &stack.http("/api/recordings"), &root).await;
    assert_eq!(all["total"], 3, "{all}");
    let (status, _) = call_as(
        "GET",
        &stack.http(&format!("/api/recordings/{alice_id}")),
        &root,
    )
    .await;
    assert_eq!(status, 200);

    // Alice's live recording was untouched: she resumes it and finishes it whole.
    let mut socket = connect_as(&stack.ws_url(), &alice).await;
    send_json(
        &mut socket,
        json!({"action": "record-resume", "recordingId": live_id, "resumeToken": resume_token}),
    )
    .await;
    let resumed = recv_json(&mut socket).await;
    assert_eq!(
        (resumed["type"].as_str(), resumed["chunks"].as_u64()),
        (Some("resumed"), Some(5))
    );
    send_chunks(&mut socket, &chunks[5..]).await;
    let completed = end(&mut socket).await;
    assert_eq!(completed["bytes"], 64827);
    // She sees her two, and downloads her file.
    let (_, mine) = call_as("GET", &stack.http("/api/recordings"), &alice).await;
    assert_eq!(mine["total"], 2, "{mine}");
    let (status, _) = call_as(
        "GET",
        &stack.http(&format!("/api/download/{alice_file}")),
        &alice,
    )
    .await;
    assert_eq!(status, 200);
    // And deletes one of them.
    let (status, _) = call_as(
        "DELETE",
        &stack.http(&format!("/api/recordings/{alice_id}")),
        &alice,
    )
    .await;
    assert_eq!(status, 204);
}

#[actix_rt::test]
async fn an_identity_not_vouched_by_the_gateway_is_refused() {
    let stack = users_stack(1, |_| {}).await;
    let bob = token("bob", &[]);
    record_as(&stack, &token("alice", &[]), "alice-take", None).await;
    let audio = &stack.audio[0].address;
    let direct = |path: &str| format!("http://{audio}{path}");

    // Straight to the instance: no identity, a made-up one, one signed with another secret.
    let forged = stack_common::identity::Voucher::new(&"guessed".into())
        .unwrap()
        .vouch(&stack_common::identity::Identity {
            subject: "alice".into(),
            roles: vec!["admin".into()],
        });
    for header in [None, Some("alice".to_owned()), Some(forged)] {
        let mut request = awc::Client::new().get(direct("/api/recordings"));
        if let Some(value) = &header {
            request = request.insert_header(("x-gateway-identity", value.as_str()));
        }
        let mut response = request.send().await.unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{header:?}");
        assert_eq!(body["error"], "unauthorized");
    }
    // The WebSocket too.
    let refused = awc::Client::new()
        .ws(format!("ws://{audio}/ws/record"))
        .connect()
        .await;
    assert!(
        matches!(refused, Err(awc::error::WsClientError::InvalidResponseStatus(s)) if s.as_u16() == 401)
    );
    // Probes stay open.
    assert_eq!(get_json(&direct("/health")).await.0, 200);

    // Through the gateway, an identity header a client sends is dropped, even a genuine one
    // (leaked): the request is the token holder's.
    let genuine = stack_common::identity::Voucher::new(&IDENTITY_SECRET.into())
        .unwrap()
        .vouch(&stack_common::identity::Identity {
            subject: "alice".into(),
            roles: vec!["admin".into()],
        });
    let mut response = awc::Client::new()
        .get(stack.http("/api/recordings"))
        .insert_header(("authorization", format!("Bearer {bob}")))
        .insert_header(("x-gateway-identity", genuine))
        .send()
        .await
        .unwrap();
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["total"], 0, "{page}");
}

/// Every way a token can be wrong, over plain HTTP and over the WebSocket upgrade: a 401 with a
/// JSON error that says what was wrong, and never a 5xx.
#[actix_rt::test]
async fn bad_tokens_get_a_clear_401_over_http_and_the_websocket_upgrade() {
    let stack = users_stack(1, |_| {}).await;
    let good = claims("alice", &[]);
    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = good.clone();
        change(&mut claims);
        hs256(&claims, JWT_SECRET)
    };
    let none = {
        use base64::Engine;
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&good)
        )
    };
    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("missing", None, "a token is required"),
        (
            "malformed",
            Some("Bearer not.a-jwt".into()),
            "not a well-formed JWT",
        ),
        (
            "not bearer",
            Some("Basic YWxpY2U6c2VjcmV0".into()),
            "must be `Bearer <token>`",
        ),
        (
            "expired",
            Some(with(&|c| c["exp"] = json!(now() - 3600))),
            "has expired",
        ),
        (
            "not yet valid",
            Some(with(&|c| c["nbf"] = json!(now() + 3600))),
            "not valid yet",
        ),
        (
            "wrong issuer",
            Some(with(&|c| c["iss"] = json!("https://evil.example"))),
            "another issuer",
        ),
        (
            "wrong audience",
            Some(with(&|c| c["aud"] = json!("someone-else"))),
            "another audience",
        ),
        (
            "no subject",
            Some(with(&|c| {
                c.as_object_mut().unwrap().remove("sub");
            })),
            "lacks the sub claim",
        ),
        (
            "wrong signature",
            Some(hs256(&good, "not-the-secret")),
            "signature does not verify",
        ),
        ("alg none", Some(none), "algorithm none is not accepted"),
    ];
    for (what, token, says) in &cases {
        let header = token.as_ref().map(|t| {
            if t.starts_with("Bearer ") || t.starts_with("Basic ") {
                t.clone()
            } else {
                format!("Bearer {t}")
            }
        });
        // Plain HTTP.
        let mut request = awc::Client::new().get(stack.http("/api/recordings"));
        if let Some(value) = &header {
            request = request.insert_header(("authorization", value.as_str()));
        }
        let mut response = request.send().await.unwrap();
        let body: Value = response.json().await.unwrap();
        assert_eq!(response.status().as_u16(), 401, "{what}: {body}");
        assert_eq!(body["error"], "unauthorized", "{what}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(says), "{what}: {message}");
        assert!(
            response.headers().contains_key("www-authenticate"),
            "{what}"
        );
        // The WebSocket upgrade.
        let line = header
            .as_ref()
            .map(|v| format!("Authorization: {v}\r\n"))
            .unwrap_or_default();
        let (status, body) = refused_upgrade_with(&stack.gateway, "/ws/record", &line).await;
        assert_eq!(status, 401, "{what} (upgrade): {body}");
        assert!(
            body["message"].as_str().unwrap().contains(says),
            "{what}: {body}"
        );
    }

    // A token in the query string: taken on a WebSocket upgrade, refused on a plain API call.
    let good_token = token("alice", &[]);
    let (status, body) =
        get_json(&stack.http(&format!("/api/recordings?access_token={good_token}"))).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("only on WebSocket upgrades"));
    let mut socket = connect(&format!("{}?access_token={good_token}", stack.ws_url())).await;
    start(&mut socket, "by-query", None).await;
    // And in the cookie a browser sends by itself, on both.
    let (status, page) = {
        let mut response = awc::Client::new()
            .get(stack.http("/api/recordings"))
            .insert_header(("cookie", format!("gateway_token={good_token}")))
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap(),
        )
    };
    assert_eq!((status, page["total"].as_u64()), (200, Some(1)), "{page}");
}

#[actix_rt::test]
async fn the_development_sign_in_mints_a_cookie_for_a_user_name() {
    let stack = users_stack(1, |g| g.jwt.dev_signin = true).await;
    let sign_in = |body: Value| {
        let url = stack.http("/auth/dev/signin");
        async move {
            let mut response = awc::Client::new().post(url).send_json(&body).await.unwrap();
            let cookie = response
                .cookie("gateway_token")
                .map(|c| c.value().to_owned());
            let body: Value = response.json().await.unwrap_or_default();
            (response.status().as_u16(), cookie, body)
        }
    };
    let (status, cookie, body) = sign_in(json!({"user": "carol", "admin": false})).await;
    assert_eq!(status, 200, "{body}");
    let cookie = cookie.expect("the sign-in sets the cookie");
    assert_eq!(body["subject"], "carol");
    let mut me = awc::Client::new()
        .get(stack.http("/auth/me"))
        .insert_header(("cookie", format!("gateway_token={cookie}")))
        .send()
        .await
        .unwrap();
    let me: Value = me.json().await.unwrap();
    assert_eq!(
        (me["mode"].as_str(), me["subject"].as_str()),
        (Some("jwt"), Some("carol")),
        "{me}"
    );
    assert_eq!(me["admin"], false);
    // The minted token is a user's token like any other.
    let (status, _) = call_as("GET", &stack.http("/api/recordings"), &cookie).await;
    assert_eq!(status, 200);
    // Names that cannot be users.
    for user in ["", "a b", "<script>", &"x".repeat(65)] {
        let (status, _, body) = sign_in(json!({"user": user})).await;
        assert_eq!(status, 400, "{user:?}: {body}");
    }
    // Not signed in: `/auth/me` says so, and why.
    let (_, me) = get_json(&stack.http("/auth/me")).await;
    assert_eq!(
        (me["signedIn"].as_bool(), me["devSignIn"].as_bool()),
        (Some(false), Some(true))
    );
    // Signing out drops the cookie.
    let response = awc::Client::new()
        .post(stack.http("/auth/signout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(
        response
            .cookie("gateway_token")
            .map(|c| c.value().to_owned()),
        Some(String::new())
    );

    // Without GATEWAY_DEV_SIGNIN there is no sign-in to be had.
    let closed = users_stack(1, |_| {}).await;
    let mut response = awc::Client::new()
        .post(closed.http("/auth/dev/signin"))
        .send_json(&json!({"user": "carol"}))
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    assert!(response.cookie("gateway_token").is_none());
    let _ = response.body().await;
}
