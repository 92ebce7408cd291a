//! Integration tests of the gateway: a real registry, real audio instances and the gateway, all
//! on port 0, talking over real sockets.

mod api_docs;
mod balancing;
mod helpers;
mod identity;
mod jwks;
mod local_sockets;
mod original_clients;
mod proxying;
mod websockets;
