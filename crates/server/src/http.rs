//! The HTTP surface: the WebSocket endpoint, a health check and the metrics page.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use salon_proto::WS_PATH;
use salon_proto::frame::MAX_FRAME_LEN;
use salon_proto::limits::MAX_CONTROL_BYTES;

use crate::hub::Hub;
use crate::{session, ws};

/// The router for a hub.
pub(crate) fn router(hub: Arc<Hub>) -> Router {
    Router::new()
        .route(WS_PATH, get(websocket))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(hub)
}

async fn websocket(State(hub): State<Arc<Hub>>, mut request: Request) -> Response {
    if hub.shutting_down() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down").into_response();
    }
    let (response, on_upgrade) = match ws::accept(&mut request) {
        Ok(accepted) => accepted,
        Err(refusal) => return refusal.into_response(),
    };
    // Explicit bounds. Up to twice the control limit, a message is read and answered
    // with a `too_large` error so the client learns why; anything bigger is refused by
    // the WebSocket layer before it is buffered, and the connection closes.
    let max = (2 * MAX_CONTROL_BYTES).max(MAX_FRAME_LEN);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => session::serve(hub, TokioIo::new(upgraded), max).await,
            Err(err) => tracing::debug!(%err, "WebSocket upgrade failed"),
        }
    });
    response
}

async fn healthz(State(hub): State<Arc<Hub>>) -> Response {
    if hub.store.healthy().await {
        (StatusCode::OK, "ok").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
    }
}

async fn metrics(State(hub): State<Arc<Hub>>) -> Response {
    let (rooms, members) = {
        let rooms = hub.rooms();
        (rooms.room_count(), rooms.member_count())
    };
    (
        [("content-type", "text/plain; version=0.0.4")],
        hub.metrics.render(rooms, members),
    )
        .into_response()
}
