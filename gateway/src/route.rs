//! Routes: which requests go where, and how their paths and headers change on the way.
//! Built-in defaults, or a TOML file:
//!
//! ```toml
//! [[routes]]
//! id = "audio-api"
//! path = "/api/**"            # a prefix with `/**`, or an exact path
//! service = "AUDIO-SERVICE"   # found through the registry (or `url = "http://host:port"`)
//! strip_prefix = 0            # path segments removed before forwarding
//! rewrite_prefix = { from = "/api/v1", to = "/api" }
//! add_request_headers = { "X-Source" = "gateway" }
//! add_response_headers = { "Cache-Control" = "no-store" }
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
pub struct RoutesFile {
    pub routes: Vec<Route>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Rewrite {
    pub from: String,
    pub to: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    pub id: String,
    pub path: String,
    /// A registry app name: requests are balanced over its `UP` instances.
    pub service: Option<String>,
    /// A fixed upstream base URL.
    pub url: Option<String>,
    #[serde(default)]
    pub strip_prefix: usize,
    pub rewrite_prefix: Option<Rewrite>,
    #[serde(default)]
    pub add_request_headers: BTreeMap<String, String>,
    #[serde(default)]
    pub add_response_headers: BTreeMap<String, String>,
}

/// Where a route sends its requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Service(String),
    Url(String),
}

#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error("cannot read the routes file: {0}")]
    Io(#[from] std::io::Error),
    #[error("routes file is not valid TOML: {0}")]
    Toml(#[from] toml::de::Error),
    #[error("route {0}: give exactly one of `service` and `url`")]
    Target(String),
    #[error("route {0}: path must start with '/'")]
    Path(String),
}

impl Route {
    pub fn target(&self) -> Target {
        match (&self.service, &self.url) {
            (Some(service), _) => Target::Service(service.to_ascii_uppercase()),
            (None, Some(url)) => Target::Url(url.trim_end_matches('/').to_owned()),
            (None, None) => unreachable!("validated at load"),
        }
    }

    /// The target's name for errors and logs: the service, or the fixed URL.
    pub fn target_name(&self) -> String {
        match self.target() {
            Target::Service(name) | Target::Url(name) => name,
        }
    }

    /// Whether a request path is this route's: `/api/**` matches `/api` and `/api/...`.
    pub fn matches(&self, path: &str) -> bool {
        match self.path.strip_suffix("/**") {
            Some(prefix) => {
                path == prefix
                    || (path.starts_with(prefix) && path[prefix.len()..].starts_with('/'))
            }
            None => path == self.path,
        }
    }

    /// The path sent upstream: prefix segments stripped, then the prefix rewritten.
    pub fn upstream_path(&self, path: &str) -> String {
        let mut out = if self.strip_prefix > 0 {
            let rest: Vec<&str> = path.split('/').skip(1 + self.strip_prefix).collect();
            format!("/{}", rest.join("/"))
        } else {
            path.to_owned()
        };
        if let Some(rewrite) = &self.rewrite_prefix {
            if let Some(rest) = out.strip_prefix(&rewrite.from) {
                out = format!("{}{rest}", rewrite.to);
            }
        }
        if out.is_empty() {
            out.push('/');
        }
        out
    }
}

/// The routes in force, checked in order; the first match wins.
#[derive(Debug, Clone)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// `/api/**` and `/ws/**` (the recording WebSocket at `/ws/record`, and at `/ws/audio` as
    /// the original's page calls it) to the audio service registered as `audio_service`
    /// (`AUDIO-SERVICE`, or the original's `AUDIO-SERVER`), the registry's dashboard and API
    /// under `/registry/`. Everything else is the web pages.
    pub fn defaults(registry_base: &str, audio_service: &str) -> Self {
        let service = |id: &str, path: &str| Route {
            id: id.into(),
            path: path.into(),
            service: Some(audio_service.to_ascii_uppercase()),
            url: None,
            strip_prefix: 0,
            rewrite_prefix: None,
            add_request_headers: BTreeMap::new(),
            add_response_headers: BTreeMap::new(),
        };
        let registry = Route {
            id: "registry".into(),
            path: "/registry/**".into(),
            service: None,
            url: Some(registry_base.into()),
            strip_prefix: 1,
            ..service("registry", "/registry/**")
        };
        Self {
            routes: vec![
                service("audio-api", "/api/**"),
                service("audio-ws", "/ws/**"),
                registry,
            ],
        }
    }

    pub fn from_toml(text: &str) -> Result<Self, RouteError> {
        let file: RoutesFile = toml::from_str(text)?;
        for route in &file.routes {
            if route.service.is_some() == route.url.is_some() {
                return Err(RouteError::Target(route.id.clone()));
            }
            if !route.path.starts_with('/') {
                return Err(RouteError::Path(route.id.clone()));
            }
        }
        Ok(Self {
            routes: file.routes,
        })
    }

    pub fn load(path: &std::path::Path) -> Result<Self, RouteError> {
        Self::from_toml(&std::fs::read_to_string(path)?)
    }

    pub fn find(&self, path: &str) -> Option<&Route> {
        self.routes.iter().find(|route| route.matches(path))
    }

    pub fn services(&self) -> impl Iterator<Item = String> + '_ {
        self.routes
            .iter()
            .filter_map(|r| r.service.as_ref().map(|s| s.to_ascii_uppercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_prefixes_and_rewrites_paths() {
        let table = RouteTable::defaults("http://127.0.0.1:8761", "audio-service");
        assert_eq!(
            table.find("/ws/audio").unwrap().target(),
            Target::Service("AUDIO-SERVICE".into())
        );
        let original = RouteTable::defaults("http://127.0.0.1:8761", "audio-server");
        assert_eq!(
            original.find("/api/files").unwrap().target(),
            Target::Service("AUDIO-SERVER".into())
        );
        assert_eq!(table.find("/api/files").unwrap().id, "audio-api");
        assert_eq!(table.find("/api").unwrap().id, "audio-api");
        assert!(table.find("/apix").is_none());
        assert!(table.find("/websocket-test.html").is_none());
        let registry = table.find("/registry/eureka/apps").unwrap();
        assert_eq!(
            registry.target(),
            Target::Url("http://127.0.0.1:8761".into())
        );
        assert_eq!(
            registry.upstream_path("/registry/eureka/apps"),
            "/eureka/apps"
        );
        assert_eq!(registry.upstream_path("/registry"), "/");
        assert_eq!(registry.upstream_path("/registry/"), "/");
    }

    #[test]
    fn reads_a_routes_file() {
        let table = RouteTable::from_toml(
            r#"
            [[routes]]
            id = "v1"
            path = "/v1/**"
            service = "audio-service"
            rewrite_prefix = { from = "/v1", to = "/api" }
            add_response_headers = { "X-Route" = "v1" }
            "#,
        )
        .unwrap();
        let route = table.find("/v1/files").unwrap();
        assert_eq!(route.target(), Target::Service("AUDIO-SERVICE".into()));
        assert_eq!(route.upstream_path("/v1/files"), "/api/files");
        assert!(RouteTable::from_toml("[[routes]]\nid='x'\npath='/x'\n").is_err());
        assert!(
            RouteTable::from_toml("[[routes]]\nid='x'\npath='/x'\nservice='A'\nbogus=1\n").is_err()
        );
    }
}
