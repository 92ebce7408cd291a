//! Checks on what clients register: a bad registration is refused whole and changes nothing.

use std::collections::BTreeMap;

use crate::model::{InstanceInfo, InstanceStatus};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidInstance {
    #[error("app name must be 1-128 characters of letters, digits, '.', '_' and '-'")]
    AppName,
    #[error("the body's app {body:?} differs from the path's {path:?}")]
    AppMismatch { path: String, body: String },
    #[error(
        "instance id must be 1-256 characters without '/', '\\\\', spaces or control characters"
    )]
    InstanceId,
    #[error("hostName or ipAddr is required")]
    MissingHost,
    #[error("an enabled port (or securePort) between 1 and 65535 is required")]
    MissingPort,
    #[error("lease values out of range: renewal interval 1-3600 s, duration 1-86400 s and not shorter than the interval")]
    Lease,
    #[error("metadata too large: at most 64 entries and 16 KiB in all")]
    Metadata,
    #[error("{0} is too long")]
    FieldTooLong(&'static str),
    #[error("status must be UP, DOWN, STARTING, OUT_OF_SERVICE or UNKNOWN")]
    Status,
}

pub fn valid_app_name(raw: &str) -> Result<String, InvalidInstance> {
    let ok = !raw.is_empty()
        && raw.len() <= 128
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    ok.then(|| raw.to_ascii_uppercase())
        .ok_or(InvalidInstance::AppName)
}

pub fn valid_instance_id(raw: &str) -> Result<(), InvalidInstance> {
    let ok = !raw.is_empty()
        && raw.len() <= 256
        && !raw
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_whitespace() || c.is_control())
        && raw != "."
        && raw != "..";
    ok.then_some(()).ok_or(InvalidInstance::InstanceId)
}

pub fn parse_status(raw: &str) -> Result<InstanceStatus, InvalidInstance> {
    InstanceStatus::parse(raw).ok_or(InvalidInstance::Status)
}

pub fn validate_metadata(metadata: &BTreeMap<String, String>) -> Result<(), InvalidInstance> {
    let size: usize = metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
    (metadata.len() <= 64 && size <= 16 * 1024)
        .then_some(())
        .ok_or(InvalidInstance::Metadata)
}

/// Checks a registration against its path's app name and normalises it: app upper-cased, an
/// absent instance id derived from host, app and port as Eureka's clients do.
pub fn validate_registration(
    path_app: &str,
    mut instance: InstanceInfo,
) -> Result<InstanceInfo, InvalidInstance> {
    let app = valid_app_name(path_app)?;
    if !instance.app.is_empty() && !instance.app.eq_ignore_ascii_case(&app) {
        return Err(InvalidInstance::AppMismatch {
            path: path_app.into(),
            body: instance.app.chars().take(128).collect(),
        });
    }
    instance.app = app;
    if instance.host_name.is_empty() {
        instance.host_name = instance.ip_addr.clone();
    }
    if instance.ip_addr.is_empty() {
        instance.ip_addr = instance.host_name.clone();
    }
    if instance.host_name.is_empty() {
        return Err(InvalidInstance::MissingHost);
    }
    let port_ok = |p: &Option<crate::model::PortInfo>| {
        p.as_ref()
            .is_some_and(|p| p.enabled && (1..=65535).contains(&p.port))
    };
    if !port_ok(&instance.port) && !port_ok(&instance.secure_port) {
        return Err(InvalidInstance::MissingPort);
    }
    if instance.instance_id.is_empty() {
        let port = instance.port.as_ref().map_or(0, |p| p.port);
        instance.instance_id = format!(
            "{}:{}:{port}",
            instance.host_name,
            instance.app.to_ascii_lowercase()
        );
    }
    valid_instance_id(&instance.instance_id)?;
    let interval = instance.lease_info.renewal_interval_in_secs;
    let duration = instance.lease_info.duration_in_secs;
    let lease_ok = interval.is_none_or(|i| (1..=3600).contains(&i))
        && duration.is_none_or(|d| (1..=86_400).contains(&d))
        && match (interval, duration) {
            (Some(i), Some(d)) => d >= i,
            _ => true,
        };
    if !lease_ok {
        return Err(InvalidInstance::Lease);
    }
    validate_metadata(&instance.metadata)?;
    for (name, value) in [
        ("hostName", &instance.host_name),
        ("ipAddr", &instance.ip_addr),
        (
            "homePageUrl",
            instance.home_page_url.as_ref().unwrap_or(&String::new()),
        ),
        (
            "statusPageUrl",
            instance.status_page_url.as_ref().unwrap_or(&String::new()),
        ),
        (
            "healthCheckUrl",
            instance.health_check_url.as_ref().unwrap_or(&String::new()),
        ),
        (
            "vipAddress",
            instance.vip_address.as_ref().unwrap_or(&String::new()),
        ),
    ] {
        if value.len() > 1024 {
            return Err(InvalidInstance::FieldTooLong(name));
        }
    }
    if instance.overridden_status != InstanceStatus::Unknown {
        instance.status = instance.overridden_status;
    }
    Ok(instance)
}
