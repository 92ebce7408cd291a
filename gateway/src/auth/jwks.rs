//! The identity provider's published keys (a JWKS URL, as Keycloak, Auth0 and Spring
//! Authorization Server serve), cached for every worker of the gateway.
//!
//! - A token whose `kid` is unknown makes the gateway fetch the set again (a provider that
//!   rotates publishes the new key before signing with it), at most once a second, so that
//!   made-up `kid`s cannot turn the gateway into a flood of fetches.
//! - The set is fetched again once it is older than its maximum age, so a key the provider has
//!   removed stops being accepted within that time.
//! - Each key's algorithm is pinned: its `alg`, or the one its type implies (RSA: RS256,
//!   P-256: ES256, P-384: ES384, Ed25519: EdDSA). Symmetric (`oct`) keys and encryption keys
//!   are never taken from a published set.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::AuthError;

/// The least time between two fetches that an unknown `kid` asks for.
const MIN_REFETCH: Duration = Duration::from_secs(1);
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_BODY: usize = 512 * 1024;

/// One usable key.
pub struct Key {
    pub decoding: DecodingKey,
    pub algorithm: Algorithm,
}

pub struct Jwks {
    url: String,
    max_age: Duration,
    /// TLS for an `https://` URL: the system's roots, loaded once.
    tls: Option<Arc<rustls::ClientConfig>>,
    keys: RwLock<Keys>,
    /// One fetch at a time; the others wait for its result.
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Keys {
    by_kid: HashMap<String, Arc<Key>>,
    /// When the set was last fetched successfully.
    fetched: Option<Instant>,
    /// When a fetch was last tried, successful or not.
    tried: Option<Instant>,
}

impl Jwks {
    pub fn new(url: String, max_age: Duration) -> Self {
        let tls = url.starts_with("https://").then(tls_config);
        Self {
            url,
            max_age,
            tls,
            keys: RwLock::new(Keys::default()),
            fetching: tokio::sync::Mutex::new(()),
        }
    }

    /// The key a token names (`kid`), or the only key when it names none.
    pub async fn key(&self, kid: Option<&str>) -> Result<Arc<Key>, AuthError> {
        if let Some(found) = self.cached(kid, false)? {
            return Ok(found);
        }
        let _one_at_a_time = self.fetching.lock().await;
        // Another request may have fetched meanwhile.
        if let Some(found) = self.cached(kid, false)? {
            return Ok(found);
        }
        if self.may_fetch() {
            self.refresh().await;
        }
        self.cached(kid, true)?.ok_or(AuthError::UnknownKey)
    }

    /// The cached key, if the set is fresh enough to answer from (`last_word`: answer from
    /// whatever is there, after a fetch or when another is not allowed yet).
    fn cached(&self, kid: Option<&str>, last_word: bool) -> Result<Option<Arc<Key>>, AuthError> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let fresh = keys.fetched.is_some_and(|at| at.elapsed() < self.max_age);
        if !fresh && !last_word {
            return Ok(None);
        }
        if keys.fetched.is_none() {
            return Err(AuthError::KeysUnavailable);
        }
        match kid {
            Some(kid) => Ok(keys.by_kid.get(kid).cloned()),
            None if keys.by_kid.len() == 1 => Ok(keys.by_kid.values().next().cloned()),
            None if keys.by_kid.is_empty() => Ok(None),
            None => Err(AuthError::NoKeyId),
        }
    }

    fn may_fetch(&self) -> bool {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        keys.tried.is_none_or(|at| at.elapsed() >= MIN_REFETCH)
            || keys.fetched.is_none_or(|at| at.elapsed() >= self.max_age)
    }

    async fn refresh(&self) {
        let result = self.fetch().await;
        let mut keys = self.keys.write().unwrap_or_else(|p| p.into_inner());
        keys.tried = Some(Instant::now());
        match result {
            Ok(by_kid) => {
                log::debug!("jwks: {} keys from {}", by_kid.len(), self.url);
                keys.by_kid = by_kid;
                keys.fetched = Some(Instant::now());
            }
            // The keys already held stay in use until the maximum age: a provider that is
            // briefly down does not sign everyone out.
            Err(err) => log::warn!("jwks: cannot fetch {}: {err}", self.url),
        }
    }

    async fn fetch(&self) -> Result<HashMap<String, Arc<Key>>, String> {
        let mut connector = awc::Connector::new();
        if let Some(tls) = &self.tls {
            connector = connector.rustls_0_23(tls.clone());
        }
        let client = awc::Client::builder()
            .connector(connector)
            .timeout(FETCH_TIMEOUT)
            .finish();
        let mut response = client
            .get(&self.url)
            .insert_header(("accept", "application/json"))
            .send()
            .await
            .map_err(|err| err.to_string())?;
        if !response.status().is_success() {
            return Err(format!("status {}", response.status()));
        }
        let body = response
            .body()
            .limit(MAX_BODY)
            .await
            .map_err(|err| err.to_string())?;
        parse_set(&body)
    }
}

/// A TLS client configuration with the system's root certificates (an empty set, and so every
/// HTTPS fetch failing clearly, when the system has none).
fn tls_config() -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for err in &found.errors {
        log::warn!("jwks: reading the system's root certificates: {err}");
    }
    let (added, _) = roots.add_parsable_certificates(found.certs);
    log::debug!("jwks: {added} root certificates");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("aws-lc-rs supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// The usable keys of a JWKS document, by `kid` (a key without one is filed under "").
pub fn parse_set(body: &[u8]) -> Result<HashMap<String, Arc<Key>>, String> {
    #[derive(serde::Deserialize)]
    struct Set {
        keys: Vec<serde_json::Value>,
    }
    let set: Set = serde_json::from_slice(body).map_err(|err| format!("not a JWKS: {err}"))?;
    let mut by_kid = HashMap::new();
    for value in set.keys {
        // A key this library cannot read (another type, an encryption key) is skipped, not
        // fatal: providers publish those beside their signing keys.
        let Ok(jwk) = serde_json::from_value::<Jwk>(value.clone()) else {
            continue;
        };
        if value.get("use").and_then(|u| u.as_str()) == Some("enc") {
            continue;
        }
        let Some(algorithm) = pinned_algorithm(&jwk) else {
            continue;
        };
        let Ok(decoding) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        let kid = jwk.common.key_id.clone().unwrap_or_default();
        by_kid.insert(
            kid,
            Arc::new(Key {
                decoding,
                algorithm,
            }),
        );
    }
    Ok(by_kid)
}

/// The one algorithm a published key is used with.
fn pinned_algorithm(jwk: &Jwk) -> Option<Algorithm> {
    let implied = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) => match ec.curve {
            EllipticCurve::P256 => Algorithm::ES256,
            EllipticCurve::P384 => Algorithm::ES384,
            _ => return None,
        },
        AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
        // A shared secret has no business in a published set; other kinds are not read.
        _ => return None,
    };
    let algorithm = match jwk.common.key_algorithm {
        Some(declared) => declared.to_string().parse::<Algorithm>().ok()?,
        None => implied,
    };
    // A declared algorithm of another family than the key's is refused.
    (algorithm.family() == implied.family()).then_some(algorithm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_signing_keys_with_their_own_algorithm_are_taken_from_a_set() {
        let rsa = r#"{"kty":"RSA","n":"sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw","e":"AQAB"}"#;
        let with = |extra: &str| {
            format!(
                r#"{{"keys":[{}]}}"#,
                rsa.replacen('{', &format!("{{{extra}"), 1)
            )
        };
        // An RSA key without `alg` is RS256's; with a `kid` it is filed under it.
        let keys = parse_set(with(r#""kid":"a","#).as_bytes()).unwrap();
        assert_eq!(keys["a"].algorithm, Algorithm::RS256);
        // PS256, declared, is kept as declared.
        let keys = parse_set(with(r#""kid":"p","alg":"PS256","#).as_bytes()).unwrap();
        assert_eq!(keys["p"].algorithm, Algorithm::PS256);
        // An RSA key that claims an HMAC or EC algorithm, an encryption key, a shared secret:
        // none is taken.
        for extra in [r#""alg":"HS256","#, r#""alg":"ES256","#, r#""use":"enc","#] {
            assert!(
                parse_set(with(extra).as_bytes()).unwrap().is_empty(),
                "{extra}"
            );
        }
        let oct = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"s"}]}"#;
        assert!(parse_set(oct.as_bytes()).unwrap().is_empty());
        assert!(parse_set(b"not json").is_err());
    }
}
