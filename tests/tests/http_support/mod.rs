//! Shared by the HTTP tests (`http_*.rs`): serving an axum app on loopback.

use std::net::SocketAddr;

/// Serves `app` on a free loopback port from the current tokio runtime, with the client's
/// address as the server layer reads it; answers the address.
pub(crate) async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let address = listener.local_addr().expect("the bound address");
    tokio::spawn(async move {
        let service = app.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service)
            .await
            .expect("the server runs");
    });
    address
}
