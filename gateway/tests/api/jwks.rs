//! Tokens signed by an identity provider's published keys (a JWKS served over HTTP, as
//! Keycloak or Auth0 serve theirs), rotated while the gateway runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use crate::helpers::*;
use crate::identity::{call_as, claims, connect_as, hs256, IDENTITY_SECRET};

const RSA_1: &[u8] = include_bytes!("../keys/rsa-1.pem");
const RSA_2: &[u8] = include_bytes!("../keys/rsa-2.pem");
const EC_1: &[u8] = include_bytes!("../keys/ec-1.pem");
const RSA_1_PUBLIC: &str = include_str!("../keys/rsa-1.pub.pem");

/// One of the provider's keys: its private half signs, its public half is published.
struct Key {
    kid: &'static str,
    algorithm: Algorithm,
    private: EncodingKey,
}

impl Key {
    fn rsa(kid: &'static str, pem: &[u8]) -> Self {
        Self {
            kid,
            algorithm: Algorithm::RS256,
            private: EncodingKey::from_rsa_pem(pem).unwrap(),
        }
    }

    fn ec(kid: &'static str, pem: &[u8]) -> Self {
        Self {
            kid,
            algorithm: Algorithm::ES256,
            private: EncodingKey::from_ec_pem(pem).unwrap(),
        }
    }

    fn public(&self) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.private, self.algorithm).unwrap();
        jwk.common.key_id = Some(self.kid.to_owned());
        serde_json::to_value(jwk).unwrap()
    }

    fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(self.kid.to_owned());
        jsonwebtoken::encode(&header, claims, &self.private).unwrap()
    }
}

/// A JWKS endpoint on port 0 whose keys the test changes, counting the fetches.
struct Provider {
    url: String,
    keys: Arc<Mutex<Value>>,
}

impl Provider {
    async fn start(keys: &[&Key]) -> Self {
        use actix_web::{web, App, HttpResponse, HttpServer};
        let published = Arc::new(Mutex::new(Value::Null));
        let shared = published.clone();
        let server = HttpServer::new(move || {
            let keys = shared.clone();
            App::new().route(
                "/certs",
                web::get().to(move || {
                    let body = keys.lock().unwrap().clone();
                    async move { HttpResponse::Ok().json(body) }
                }),
            )
        })
        .workers(1)
        .bind("127.0.0.1:0")
        .unwrap();
        let url = format!("http://{}/certs", server.addrs()[0]);
        actix_rt::spawn(server.run());
        let provider = Self {
            url,
            keys: published,
        };
        provider.publish(keys);
        provider
    }

    fn publish(&self, keys: &[&Key]) {
        // An encryption key beside the signing keys, as Keycloak publishes: never used.
        let mut set: Vec<Value> = keys.iter().map(|k| k.public()).collect();
        let mut enc = keys[0].public();
        enc["use"] = json!("enc");
        enc["alg"] = json!("RSA-OAEP");
        enc["kid"] = json!("enc-1");
        set.push(enc);
        *self.keys.lock().unwrap() = json!({ "keys": set });
    }
}

async fn stack_for(jwks_url: &str) -> Stack {
    let url = jwks_url.to_owned();
    Stack::start_configured(
        1,
        |audio| audio.identity_secret = Some(IDENTITY_SECRET.into()),
        move |gateway| {
            gateway.jwt.jwks_url = Some(url);
            gateway.jwt.jwks_max_age = Duration::from_secs(2);
            gateway.jwt.issuer = Some(crate::identity::ISSUER.into());
            gateway.jwt.audience = Some(crate::identity::AUDIENCE.into());
            gateway.jwt.identity_secret = Some(IDENTITY_SECRET.into());
        },
    )
    .await
}

/// The status and message of `GET /api/recordings` with `token`.
async fn list_with(stack: &Stack, token: &str) -> (u16, String) {
    let (status, body) = call_as("GET", &stack.http("/api/recordings"), token).await;
    (
        status,
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[actix_rt::test]
async fn keys_published_by_a_jwks_rotate_while_the_gateway_runs() {
    let (k1, k2, e1) = (
        Key::rsa("k1", RSA_1),
        Key::rsa("k2", RSA_2),
        Key::ec("e1", EC_1),
    );
    let provider = Provider::start(&[&k1]).await;
    let stack = stack_for(&provider.url).await;
    let alice = k1.sign(&claims("alice", &[]));
    assert_eq!(list_with(&stack, &alice).await.0, 200);

    // The provider publishes a new key beside the old one and signs with it: the gateway
    // fetches the set at the first sight of the new `kid`; the old key still works.
    provider.publish(&[&k1, &k2, &e1]);
    actix_rt::time::sleep(Duration::from_millis(1100)).await;
    let bob = k2.sign(&claims("bob", &[]));
    assert_eq!(list_with(&stack, &bob).await.0, 200);
    assert_eq!(list_with(&stack, &alice).await.0, 200);
    // An ES256 key works the same; its token opens a recording socket too.
    let carol = e1.sign(&claims("carol", &[]));
    assert_eq!(list_with(&stack, &carol).await.0, 200);
    let _socket = connect_as(&stack.ws_url(), &carol).await;

    // Tokens that name a key wrongly.
    let (status, message) =
        list_with(&stack, &Key::rsa("k9", RSA_1).sign(&claims("eve", &[]))).await;
    assert_eq!(status, 401);
    assert!(message.contains("does not publish"), "{message}");
    // An RS256 token naming the EC key: the key's algorithm is pinned.
    let mismatched = {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("e1".into());
        jsonwebtoken::encode(&header, &claims("eve", &[]), &k1.private).unwrap()
    };
    let (status, message) = list_with(&stack, &mismatched).await;
    assert_eq!(status, 401);
    assert!(message.contains("algorithm"), "{message}");
    // HS/RS confusion: an HS256 token whose "secret" is the provider's public RSA key.
    let confused = hs256(&claims("eve", &["admin"]), RSA_1_PUBLIC);
    let (status, message) = list_with(&stack, &confused).await;
    assert_eq!(status, 401);
    assert!(message.contains("HS256 is not accepted"), "{message}");

    // The old key is removed: once the cached set is older than its maximum age (2 s here),
    // tokens signed with it are refused, over HTTP and on the WebSocket upgrade.
    provider.publish(&[&k2, &e1]);
    actix_rt::time::sleep(Duration::from_millis(2200)).await;
    let (status, message) = list_with(&stack, &alice).await;
    assert_eq!(status, 401);
    assert!(message.contains("does not publish"), "{message}");
    let line = format!("Authorization: Bearer {alice}\r\n");
    assert_eq!(
        refused_upgrade_with(&stack.gateway, "/ws/record", &line)
            .await
            .0,
        401
    );
    assert_eq!(list_with(&stack, &bob).await.0, 200);
}

#[actix_rt::test]
async fn an_identity_provider_that_cannot_be_reached_is_a_503_not_a_401() {
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/certs", closed.local_addr().unwrap());
    drop(closed);
    let stack = stack_for(&url).await;
    let token = Key::rsa("k1", RSA_1).sign(&claims("alice", &[]));
    let (status, body) = call_as("GET", &stack.http("/api/recordings"), &token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("keys-unavailable")),
        "{body}"
    );
}
