//! Eureka's peer-replication messages, in its JSON: `POST /eureka/peerreplication/batch` takes
//! `{"replicationList": [{appName, id, lastDirtyTimestamp, overriddenStatus, status,
//! instanceInfo, action}, ...]}` and answers `{"responseList": [{statusCode, responseEntity},
//! ...]}`, one response per item, in order. Every replicated call carries the header
//! `x-netflix-discovery-replication: true`, and a registry never replicates a replicated call.

use serde::{Deserialize, Serialize};

use crate::model::InstanceInfo;

/// The header that marks a call as replication between peers.
pub const REPLICATION_HEADER: &str = "x-netflix-discovery-replication";

/// What a replicated item does, with Eureka's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    Register,
    Heartbeat,
    Cancel,
    StatusUpdate,
    DeleteStatusOverride,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationInstance {
    pub app_name: String,
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_dirty_timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_info: Option<Box<InstanceInfo>>,
    pub action: Action,
}

impl ReplicationInstance {
    fn of(action: Action, app: &str, id: &str) -> Self {
        Self {
            app_name: app.to_owned(),
            id: id.to_owned(),
            last_dirty_timestamp: None,
            overridden_status: None,
            status: None,
            instance_info: None,
            action,
        }
    }

    pub fn register(instance: InstanceInfo) -> Self {
        let mut item = Self::of(Action::Register, &instance.app, &instance.instance_id);
        item.last_dirty_timestamp = instance.last_dirty_timestamp.parse().ok();
        item.status = Some(instance.status.as_str().to_owned());
        item.instance_info = Some(Box::new(instance));
        item
    }

    pub fn heartbeat(app: &str, id: &str, status: Option<String>, dirty: Option<i64>) -> Self {
        let mut item = Self::of(Action::Heartbeat, app, id);
        item.status = status;
        item.last_dirty_timestamp = dirty;
        item
    }

    pub fn cancel(app: &str, id: &str) -> Self {
        Self::of(Action::Cancel, app, id)
    }

    pub fn status_update(app: &str, id: &str, status: &str) -> Self {
        let mut item = Self::of(Action::StatusUpdate, app, id);
        item.status = Some(status.to_owned());
        item.last_dirty_timestamp = Some(chrono::Utc::now().timestamp_millis());
        item
    }

    pub fn delete_status_override(app: &str, id: &str, status: Option<&str>) -> Self {
        let mut item = Self::of(Action::DeleteStatusOverride, app, id);
        item.status = status.map(str::to_owned);
        item.last_dirty_timestamp = Some(chrono::Utc::now().timestamp_millis());
        item
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationList {
    pub replication_list: Vec<ReplicationInstance>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationInstanceResponse {
    pub status_code: u16,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_entity: Option<Box<InstanceInfo>>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplicationListResponse {
    pub response_list: Vec<ReplicationInstanceResponse>,
}
