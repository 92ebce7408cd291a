//! The pages' view of the door: `GET /auth/me` (who is signed in, in which mode),
//! `POST /auth/signout` (drops the cookie), and with `GATEWAY_DEV_SIGNIN`
//! `POST /auth/dev/signin` (mints a short-lived token for a user name and sets it as the
//! `gateway_token` cookie), so that a person can try two users side by side without an
//! identity provider. Development only: anyone who reaches it can be anyone, `admin` included.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use jsonwebtoken::{Algorithm, Header};
use serde::Deserialize;
use serde_json::json;
use stack_common::identity::ADMIN_ROLE;

use super::token::COOKIE;
use super::{Gate, Mode};

/// How long a development token lives.
const DEV_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
const MAX_USER_NAME: usize = 64;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/me").route(web::get().to(me)))
        .service(web::resource("/auth/signout").route(web::post().to(sign_out)))
        .service(web::resource("/auth/dev/signin").route(web::post().to(dev_sign_in)));
}

/// `GET /auth/me`: `{mode, signedIn, subject, roles, admin, devSignIn}`, and `reason` when a
/// token was presented and refused.
async fn me(req: HttpRequest, gate: web::Data<Gate>) -> HttpResponse {
    let mode = match gate.mode {
        Mode::Open => "open",
        Mode::SharedToken(_) => "token",
        Mode::Jwt(_) => "jwt",
    };
    let dev = gate.dev_signin.is_some();
    let body = match gate.admit(&req, false).await {
        Ok(Some(identity)) => json!({
            "mode": mode, "signedIn": true, "subject": identity.subject,
            "admin": identity.is_admin(), "roles": identity.roles, "devSignIn": dev,
        }),
        Ok(None) => json!({"mode": mode, "signedIn": mode != "jwt", "devSignIn": dev}),
        Err(err) => json!({
            "mode": mode, "signedIn": false, "devSignIn": dev, "reason": err.to_string(),
        }),
    };
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(body)
}

#[derive(Debug, Deserialize)]
struct SignIn {
    user: String,
    #[serde(default)]
    admin: bool,
}

/// `POST /auth/dev/signin` `{"user": "alice", "admin": false}`: a token for an hour.
async fn dev_sign_in(
    req: HttpRequest,
    body: Result<web::Json<SignIn>, actix_web::Error>,
    gate: web::Data<Gate>,
) -> HttpResponse {
    let (Some(key), Mode::Jwt(verifier)) = (&gate.dev_signin, &gate.mode) else {
        return HttpResponse::NotFound().json(json!({
            "error": "not-found",
            "message": "development sign-in is off (GATEWAY_DEV_SIGNIN)",
        }));
    };
    let Ok(body) = body else {
        return bad_request("send JSON {\"user\": \"name\", \"admin\": false}");
    };
    let user = body.user.trim();
    let usable = |c: char| c.is_ascii_alphanumeric() || "._@-".contains(c);
    if user.is_empty() || user.len() > MAX_USER_NAME || !user.chars().all(usable) {
        return bad_request("a user name is 1 to 64 letters, digits, '.', '_', '@' or '-'");
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let expires = (now + DEV_TOKEN_LIFETIME).as_secs();
    let roles: Vec<&str> = if body.admin { vec![ADMIN_ROLE] } else { vec![] };
    let mut claims = json!({
        "sub": user, "roles": roles, "iat": now.as_secs(), "nbf": now.as_secs(), "exp": expires,
    });
    if let Some(issuer) = verifier.issuer() {
        claims["iss"] = json!(issuer);
    }
    if let Some(audience) = verifier.audience() {
        claims["aud"] = json!(audience);
    }
    let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, key)
        .expect("HS256 signing with a byte key cannot fail");
    log::info!(
        "development sign-in: {user}{}",
        if body.admin { " (admin)" } else { "" }
    );
    let secure = req.connection_info().scheme() == "https";
    let cookie = Cookie::build(COOKIE, token.clone())
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(secure)
        .max_age(actix_web::cookie::time::Duration::seconds(
            DEV_TOKEN_LIFETIME.as_secs() as i64,
        ))
        .finish();
    HttpResponse::Ok()
        .cookie(cookie)
        .insert_header(("cache-control", "no-store"))
        .json(json!({
            "token": token, "subject": user, "roles": roles, "expiresAt": expires,
        }))
}

/// `POST /auth/signout`: the cookie is dropped (a token held elsewhere stays valid until it
/// expires: JWTs are not revoked).
async fn sign_out() -> HttpResponse {
    let mut cookie = Cookie::build(COOKIE, "").path("/").finish();
    cookie.make_removal();
    HttpResponse::NoContent().cookie(cookie).finish()
}

fn bad_request(message: &str) -> HttpResponse {
    HttpResponse::BadRequest().json(json!({"error": "bad-request", "message": message}))
}
