//! The `Metrics` actor: counters and latency histograms fed by fire-and-forget messages, and
//! rendered as Prometheus text for `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use actix::prelude::*;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    requests: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    websockets_open: i64,
    websockets_total: u64,
}

impl Actor for Metrics {
    type Context = Context<Self>;
}

/// One proxied request finished.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RequestDone {
    pub route: String,
    pub status: u16,
    pub elapsed: Duration,
}

impl Handler<RequestDone> for Metrics {
    type Result = ();

    fn handle(&mut self, msg: RequestDone, _: &mut Self::Context) {
        *self
            .requests
            .entry((msg.route.clone(), msg.status))
            .or_default() += 1;
        let seconds = msg.elapsed.as_secs_f64();
        let histogram = self.latency.entry(msg.route).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                histogram.counts[i] += 1;
            }
        }
        histogram.sum += seconds;
        histogram.count += 1;
    }
}

/// A proxied WebSocket opened (`true`) or closed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct WebSocketChange(pub bool);

impl Handler<WebSocketChange> for Metrics {
    type Result = ();

    fn handle(&mut self, msg: WebSocketChange, _: &mut Self::Context) {
        if msg.0 {
            self.websockets_open += 1;
            self.websockets_total += 1;
        } else {
            self.websockets_open -= 1;
        }
    }
}

/// The Prometheus text, with the balancer's ejection count added by the caller.
#[derive(Message)]
#[rtype(result = "String")]
pub struct Render {
    pub ejections_total: u64,
    /// The relay budget (`proxy::budget`).
    pub websockets_max: usize,
}

impl Handler<Render> for Metrics {
    type Result = String;

    fn handle(&mut self, msg: Render, _: &mut Self::Context) -> String {
        let mut out = String::new();
        out.push_str("# HELP gateway_requests_total Proxied requests by route and status.\n");
        out.push_str("# TYPE gateway_requests_total counter\n");
        for ((route, status), count) in &self.requests {
            let _ = writeln!(
                out,
                "gateway_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
            );
        }
        out.push_str(
            "# HELP gateway_request_duration_seconds Time to the upstream's response head.\n",
        );
        out.push_str("# TYPE gateway_request_duration_seconds histogram\n");
        for (route, histogram) in &self.latency {
            for (bound, count) in BUCKETS.iter().zip(histogram.counts) {
                let _ = writeln!(out, "gateway_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {count}");
            }
            let _ = writeln!(
                out,
                "gateway_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}",
                histogram.count
            );
            let _ = writeln!(
                out,
                "gateway_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                histogram.sum
            );
            let _ = writeln!(
                out,
                "gateway_request_duration_seconds_count{{route=\"{route}\"}} {}",
                histogram.count
            );
        }
        out.push_str("# HELP gateway_websockets_open Proxied WebSockets open now.\n# TYPE gateway_websockets_open gauge\n");
        let _ = writeln!(out, "gateway_websockets_open {}", self.websockets_open);
        out.push_str("# HELP gateway_websockets_max Proxied WebSockets the open-files limit allows at once.\n# TYPE gateway_websockets_max gauge\n");
        let _ = writeln!(out, "gateway_websockets_max {}", msg.websockets_max);
        out.push_str("# HELP gateway_websockets_total Proxied WebSockets opened.\n# TYPE gateway_websockets_total counter\n");
        let _ = writeln!(out, "gateway_websockets_total {}", self.websockets_total);
        out.push_str("# HELP gateway_upstream_ejections_total Instances taken out of rotation.\n# TYPE gateway_upstream_ejections_total counter\n");
        let _ = writeln!(
            out,
            "gateway_upstream_ejections_total {}",
            msg.ejections_total
        );
        out
    }
}
