//! `GET /`: a dashboard like Eureka's, rendered on the server and refreshing itself.

use std::fmt::Write;

use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;
use crate::registry::GetStatus;
use crate::state::AppState;

pub async fn dashboard(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    state.tokens.check_read(&req)?;
    let status = state
        .registry
        .send(GetStatus)
        .await
        .map_err(|_| ApiError::Unavailable)?;
    let banner = if status.self_preservation_active {
        format!(
            "<p class=\"warn\">SELF-PRESERVATION IS ON: renewals ({}) are at or below the threshold ({}); expired instances are not evicted.</p>",
            status.renewals_last_window, status.renewal_threshold
        )
    } else if !status.self_preservation_enabled {
        "<p class=\"warn\">Self-preservation is turned off: expired instances are evicted at once.</p>".to_owned()
    } else {
        String::new()
    };
    let mut rows = String::new();
    let now_ms = chrono::Utc::now().timestamp_millis();
    for row in &status.rows {
        let uptime = (now_ms - row.up_since_ms).max(0) / 1000;
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{:.1} s ago{}</td><td>{}</td></tr>",
            escape(&row.app),
            escape(&row.instance_id),
            row.status.as_str().to_lowercase(),
            row.status.as_str(),
            escape(&row.address),
            row.last_heartbeat_age.as_secs_f64(),
            if row.expired { " (expired)" } else { "" },
            format_duration(uptime),
        );
    }
    if rows.is_empty() {
        rows = "<tr><td colspan=\"6\">No instances registered.</td></tr>".into();
    }
    let mut peers = String::new();
    let peer_status = state.peers.status().await;
    for peer in &peer_status {
        let (class, word) = match peer.reachable {
            Some(true) => ("up", "reachable"),
            Some(false) => ("down", "unreachable"),
            None => ("", "not tried yet"),
        };
        let _ = write!(
            peers,
            "<tr><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td><td>{:.1} s</td><td>{}</td><td>{}</td></tr>",
            escape(&peer.url),
            peer.backlog,
            peer.lag_seconds,
            peer.last_success_seconds_ago
                .map_or("never".to_owned(), |s| format!("{s:.1} s ago")),
            peer.last_error.as_deref().map(escape).unwrap_or_default(),
        );
    }
    let peers = if peer_status.is_empty() {
        "<h2>Peers</h2><p>None: this registry runs alone (REGISTRY_PEERS).</p>".to_owned()
    } else {
        format!(
            "<h2>Peers</h2><table><thead><tr><th>Peer</th><th>Replication</th><th>Backlog</th><th>Lag</th><th>Last delivered</th><th>Last error</th></tr></thead><tbody>{peers}</tbody></table>"
        )
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="5">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Registry</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#222}} table{{border-collapse:collapse;width:100%}}
th,td{{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #ddd}} th{{background:#f4f4f4}}
.up{{color:#0a7a2f;font-weight:600}} .down,.out_of_service{{color:#b00020;font-weight:600}}
.warn{{background:#fff3cd;border:1px solid #e0c060;padding:.6rem}} dl{{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}}
</style></head><body>
<h1>Service registry</h1>
{banner}
<dl><dt>Applications</dt><dd>{apps}</dd><dt>Instances</dt><dd>{instances}</dd>
<dt>Renewals in the last window</dt><dd>{renewals} (threshold {threshold}, window {window} s)</dd>
<dt>Self-preservation</dt><dd>{preservation}</dd><dt>Evicted</dt><dd>{evicted}</dd><dt>Uptime</dt><dd>{uptime}</dd></dl>
<h2>Instances currently registered</h2>
<table><thead><tr><th>Application</th><th>Instance</th><th>Status</th><th>Address</th><th>Last heartbeat</th><th>Up for</th></tr></thead>
<tbody>{rows}</tbody></table>
{peers}
<p>JSON: <a href="eureka/apps">eureka/apps</a> · <a href="health">health</a></p>
</body></html>"#,
        apps = status.applications,
        instances = status.instances,
        renewals = status.renewals_last_window,
        threshold = status.renewal_threshold,
        window = status.renewal_window_seconds,
        preservation = if status.self_preservation_active {
            "active"
        } else if status.self_preservation_enabled {
            "enabled, not active"
        } else {
            "disabled"
        },
        evicted = status.evicted_total,
        uptime = format_duration(status.uptime_seconds as i64),
    );
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html))
}

fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '<' => "&lt;".into(),
            '>' => "&gt;".into(),
            '&' => "&amp;".into(),
            '"' => "&quot;".into(),
            '\'' => "&#39;".into(),
            c => c.to_string(),
        })
        .collect()
}

fn format_duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 {
        format!("{h} h {m} min")
    } else if m > 0 {
        format!("{m} min {s} s")
    } else {
        format!("{s} s")
    }
}
