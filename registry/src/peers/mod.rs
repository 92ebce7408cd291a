//! Peer replication, as Eureka does it: every register, renewal, cancel, status override and
//! metadata change a client makes on this registry is sent on to each peer
//! (`REGISTRY_PEERS`), one `PeerNode` actor per peer; a registry that starts fetches the full
//! registry from a live peer before it serves (`sync.rs`). Replication is eventual: a peer that
//! was away catches up from its queue, or by a full sync when it was away longer than the queue
//! holds. See docs/registry.md.
//!
//! Layout: `protocol.rs` (Eureka's replication JSON), `node.rs` (one peer: queue, batches,
//! retries, full sync), `sync.rs` (fetching a peer's registry at start).

mod node;
pub mod protocol;
mod sync;

use actix::prelude::*;

pub use node::{GetPeerStatus, PeerStatus};
pub use protocol::{ReplicationInstance, REPLICATION_HEADER};
pub use sync::sync_from_peers;

use node::{Enqueue, PeerNode};

use crate::registry::Registry;

/// Every peer of this registry.
#[derive(Clone, Default)]
pub struct Peers {
    nodes: Vec<Addr<PeerNode>>,
}

impl Peers {
    /// Starts one replicating actor per peer URL (`http://host:port`, `/eureka` accepted).
    pub fn start(
        urls: &[String],
        token: Option<String>,
        registry: Addr<Registry>,
        queue: usize,
    ) -> Self {
        Self {
            nodes: urls
                .iter()
                .map(|url| {
                    PeerNode::new(url.clone(), token.clone(), registry.clone(), queue).start()
                })
                .collect(),
        }
    }

    /// Sends a client's change on to every peer.
    pub fn replicate(&self, item: ReplicationInstance) {
        for node in &self.nodes {
            node.do_send(Enqueue(item.clone()));
        }
    }

    pub async fn status(&self) -> Vec<PeerStatus> {
        let asks = self.nodes.iter().map(|node| node.send(GetPeerStatus));
        futures_util::future::join_all(asks)
            .await
            .into_iter()
            .filter_map(Result::ok)
            .collect()
    }
}

/// The peer URLs of a list, as base URLs (`http://host:port`), without `own` (this registry's
/// `host:port` as configured, which a list shared by every peer names too: the same port on a
/// loopback or unspecified host, or the same host and port).
pub fn peer_urls(list: &str, own: &str) -> Vec<String> {
    let loopback = |host: &str| {
        matches!(
            host,
            "127.0.0.1" | "localhost" | "[::1]" | "::1" | "0.0.0.0" | "::"
        )
    };
    let (own_host, own_port) = own.rsplit_once(':').unwrap_or((own, "0"));
    let own_port: u16 = own_port.parse().unwrap_or(0);
    registry_client::registry_bases(list)
        .into_iter()
        .filter(|base| {
            let authority = base.split_once("://").map_or(base.as_str(), |(_, a)| a);
            let (host, port) = authority.rsplit_once(':').unwrap_or((authority, "80"));
            let same_port = own_port != 0 && port.parse::<u16>().ok() == Some(own_port);
            let same_host = host == own_host || (loopback(host) && loopback(own_host));
            !(same_port && same_host)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_peer_list_leaves_this_registry_out() {
        let list = "http://127.0.0.1:8761/eureka/, http://localhost:8761, http://127.0.0.1:8762/eureka/,http://registry-2:8761/eureka";
        assert_eq!(
            peer_urls(list, "127.0.0.1:8761"),
            vec!["http://127.0.0.1:8762", "http://registry-2:8761"]
        );
        // In a container bound to every interface, the other container's name is a peer.
        assert_eq!(
            peer_urls("http://registry-2:8761/eureka/", "0.0.0.0:8761"),
            vec!["http://registry-2:8761"]
        );
        // A registry on port 0 cannot be in anyone's list.
        assert_eq!(peer_urls("http://127.0.0.1:8762", "127.0.0.1:0").len(), 1);
    }
}
