//! Eureka's JSON shapes, as Spring Cloud's Eureka server writes them and Netflix's client reads
//! them: `{"instance": {...}}`, `{"application": {...}}`, `{"applications": {...}}`, ports as
//! `{"$": 8080, "@enabled": "true"}`, timestamps in milliseconds.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// An instance's status, as Eureka names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceStatus {
    Up,
    Down,
    Starting,
    OutOfService,
    Unknown,
}

impl InstanceStatus {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "UP" => Some(Self::Up),
            "DOWN" => Some(Self::Down),
            "STARTING" => Some(Self::Starting),
            "OUT_OF_SERVICE" => Some(Self::OutOfService),
            "UNKNOWN" => Some(Self::Unknown),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Up => "UP",
            Self::Down => "DOWN",
            Self::Starting => "STARTING",
            Self::OutOfService => "OUT_OF_SERVICE",
            Self::Unknown => "UNKNOWN",
        }
    }
}

/// `{"$": 8080, "@enabled": "true"}`. Clients send the number and the flag as numbers, strings
/// or booleans; all are read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortInfo {
    #[serde(rename = "$", deserialize_with = "number_or_string")]
    pub port: u64,
    #[serde(
        rename = "@enabled",
        deserialize_with = "bool_or_string",
        serialize_with = "bool_as_string"
    )]
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataCenterInfo {
    #[serde(rename = "@class", default = "default_dc_class")]
    pub class: String,
    #[serde(default = "default_dc_name")]
    pub name: String,
}

fn default_dc_class() -> String {
    "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo".into()
}

fn default_dc_name() -> String {
    "MyOwn".into()
}

impl Default for DataCenterInfo {
    fn default() -> Self {
        Self {
            class: default_dc_class(),
            name: default_dc_name(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseInfo {
    #[serde(default, deserialize_with = "opt_number_or_string")]
    pub renewal_interval_in_secs: Option<u64>,
    #[serde(default, deserialize_with = "opt_number_or_string")]
    pub duration_in_secs: Option<u64>,
    #[serde(default)]
    pub registration_timestamp: i64,
    #[serde(default)]
    pub last_renewal_timestamp: i64,
    #[serde(default)]
    pub eviction_timestamp: i64,
    #[serde(default)]
    pub service_up_timestamp: i64,
}

/// One instance, as registered and as reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceInfo {
    #[serde(default)]
    pub instance_id: String,
    #[serde(default)]
    pub host_name: String,
    #[serde(default)]
    pub app: String,
    #[serde(default)]
    pub ip_addr: String,
    #[serde(default = "unknown_status")]
    pub status: InstanceStatus,
    #[serde(
        rename = "overriddenstatus",
        alias = "overriddenStatus",
        default = "unknown_status"
    )]
    pub overridden_status: InstanceStatus,
    pub port: Option<PortInfo>,
    pub secure_port: Option<PortInfo>,
    #[serde(default = "one", deserialize_with = "number_or_string")]
    pub country_id: u64,
    #[serde(default)]
    pub data_center_info: DataCenterInfo,
    #[serde(default)]
    pub lease_info: LeaseInfo,
    #[serde(default, deserialize_with = "metadata_map")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_page_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_page_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_health_check_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secure_vip_address: Option<String>,
    #[serde(default = "false_string", deserialize_with = "string_from_any")]
    pub is_coordinating_discovery_server: String,
    #[serde(default, deserialize_with = "string_from_any")]
    pub last_updated_timestamp: String,
    #[serde(default, deserialize_with = "string_from_any")]
    pub last_dirty_timestamp: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_type: Option<String>,
}

fn unknown_status() -> InstanceStatus {
    InstanceStatus::Unknown
}

fn one() -> u64 {
    1
}

fn false_string() -> String {
    "false".into()
}

/// `{"instance": {...}}`, the body of a registration and of single-instance answers.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceEnvelope {
    pub instance: InstanceInfo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Application {
    pub name: String,
    pub instance: Vec<InstanceInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationEnvelope {
    pub application: Application,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Applications {
    #[serde(rename = "versions__delta", deserialize_with = "string_from_any")]
    pub versions_delta: String,
    #[serde(
        rename = "apps__hashcode",
        default,
        deserialize_with = "string_from_any"
    )]
    pub apps_hashcode: String,
    #[serde(default)]
    pub application: Vec<Application>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApplicationsEnvelope {
    pub applications: Applications,
}

impl Applications {
    /// Eureka's reconcile hash: `<STATUS>_<count>_` for each status, in status-name order. A
    /// client compares it with its own copy after applying a delta.
    pub fn hashcode_of<'a>(instances: impl Iterator<Item = &'a InstanceInfo>) -> String {
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        for instance in instances {
            *counts.entry(instance.status.as_str()).or_default() += 1;
        }
        counts
            .into_iter()
            .map(|(status, count)| format!("{status}_{count}_"))
            .collect()
    }
}

// Eureka's JSON is lenient about numbers and strings; these read both.

fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Number(n) => n
            .as_u64()
            .ok_or_else(|| serde::de::Error::custom("expected a non-negative integer")),
        serde_json::Value::String(s) => s.parse().map_err(serde::de::Error::custom),
        other => Err(serde::de::Error::custom(format!(
            "expected a number, got {other}"
        ))),
    }
}

fn opt_number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    number_or_string(d).map(Some)
}

fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Bool(b) => Ok(b),
        serde_json::Value::String(s) => Ok(s.eq_ignore_ascii_case("true")),
        other => Err(serde::de::Error::custom(format!(
            "expected a boolean, got {other}"
        ))),
    }
}

fn bool_as_string<S: serde::Serializer>(value: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *value { "true" } else { "false" })
}

fn string_from_any<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => s,
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// Metadata values are strings; Eureka's Java client adds `"@class"` to an empty map, which is
/// dropped.
fn metadata_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    let raw: Option<BTreeMap<String, serde_json::Value>> = Option::deserialize(d)?;
    Ok(raw
        .unwrap_or_default()
        .into_iter()
        .filter(|(key, _)| key != "@class")
        .map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            (key, text)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_java_client_sends() {
        let body = r#"{"instance":{"instanceId":"h:app:8080","hostName":"h","app":"MYAPP","ipAddr":"10.0.0.1",
            "status":"UP","overriddenStatus":"UNKNOWN","port":{"$":8080,"@enabled":"true"},
            "securePort":{"$":443,"@enabled":"false"},"countryId":1,
            "dataCenterInfo":{"@class":"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"},
            "leaseInfo":{"renewalIntervalInSecs":30,"durationInSecs":90},
            "metadata":{"@class":"java.util.Collections$EmptyMap"},
            "vipAddress":"myapp","isCoordinatingDiscoveryServer":false,
            "lastUpdatedTimestamp":1700000000000,"lastDirtyTimestamp":"1700000000000"}}"#;
        let envelope: InstanceEnvelope = serde_json::from_str(body).unwrap();
        let instance = envelope.instance;
        assert_eq!(
            instance.port,
            Some(PortInfo {
                port: 8080,
                enabled: true
            })
        );
        assert!(instance.metadata.is_empty());
        assert_eq!(instance.lease_info.duration_in_secs, Some(90));
        assert_eq!(instance.last_updated_timestamp, "1700000000000");
        let out = serde_json::to_value(&instance).unwrap();
        assert_eq!(
            out["port"],
            serde_json::json!({"$": 8080, "@enabled": "true"})
        );
        assert_eq!(out["overriddenstatus"], "UNKNOWN");
    }

    #[test]
    fn hashcode_counts_statuses_in_name_order() {
        let mut a: InstanceInfo = serde_json::from_str(r#"{"app":"A","status":"UP"}"#).unwrap();
        let b = a.clone();
        let mut c = a.clone();
        c.status = InstanceStatus::Down;
        a.status = InstanceStatus::Up;
        assert_eq!(
            Applications::hashcode_of([&a, &b, &c].into_iter()),
            "DOWN_1_UP_2_"
        );
    }
}
