//! HTTP routes: `/graphql` (POST and GET), `/graphql/ws`, `/graphiql`, `/healthz`, `/readyz`,
//! `/metrics` (read-model freshness, Prometheus text format).

use async_graphql::http::{GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::{Data, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLWebSocket};
use axum::extract::{State, WebSocketUpgrade};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use uuid::Uuid;

use crate::auth::Auth;
use crate::graphql::{AppState, RequestContext, ZippSchema};

mod body;
mod parsed;
pub use parsed::ParsedQueries;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Router state.
#[derive(Clone)]
pub struct Http {
    /// The schema.
    pub schema: ZippSchema,
    /// Shared state.
    pub state: AppState,
    /// Parsed documents of the queries clients send.
    pub parsed: std::sync::Arc<ParsedQueries>,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").finish_non_exhaustive()
    }
}

/// Builds the router.
pub fn router(http: Http) -> Router {
    Router::new()
        .route("/graphql", get(graphql).post(graphql))
        .route("/graphql/ws", get(graphql_ws))
        .route("/graphiql", get(graphiql))
        .route(
            "/files/requests/{request_id}",
            axum::routing::post(crate::uploads::upload).layer(
                axum::extract::DefaultBodyLimit::max(http.state.files.max_bytes + 64 * 1024),
            ),
        )
        .route("/files/uploads/{upload_id}", get(crate::uploads::download))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(|| async { projections::lag::prometheus() }))
        .route("/readyz", get(readyz))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(http)
}

fn authenticate(state: &AppState, token: Option<&str>) -> Auth {
    match token.map(str::trim).filter(|t| !t.is_empty()) {
        None => Auth::Anonymous,
        Some(token) => state.jwt.verify(token).map_or(Auth::Invalid, Auth::User),
    }
}

/// The authentication of a plain HTTP request (bearer token).
pub fn authenticate_headers(state: &AppState, headers: &HeaderMap) -> Auth {
    authenticate(state, bearer(headers))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
}

/// Whether the selected operation of `request` is a mutation (refused over GET).
fn is_mutation(request: &mut async_graphql::Request) -> bool {
    use async_graphql::parser::types::{DocumentOperations, OperationType};
    let wanted = request.operation_name.clone();
    let Ok(document) = request.parsed_query() else {
        return false;
    };
    match &document.operations {
        DocumentOperations::Single(op) => op.node.ty == OperationType::Mutation,
        DocumentOperations::Multiple(ops) => ops
            .iter()
            .filter(|(name, _)| wanted.as_deref().is_none_or(|w| name.as_str() == w))
            .any(|(_, op)| op.node.ty == OperationType::Mutation),
    }
}

async fn graphql(
    State(http): State<Http>,
    method: Method,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let mut request = request.into_inner();
    http.parsed.attach(&mut request);
    if method == Method::GET && is_mutation(&mut request) {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [("allow", "POST")],
            "mutations must be sent with POST",
        )
            .into_response();
    }
    let context = RequestContext {
        auth: authenticate(&http.state, bearer(&headers)),
        request_id: Uuid::now_v7(),
    };
    let mut response = http.schema.execute(request.data(context)).await;
    for error in &mut response.errors {
        classify(error);
    }
    body::graphql_response(response)
}

/// Gives every error a code. Errors raised by resolvers carry one already; those without a
/// path come from parsing, validation or the depth/complexity limits (`BAD_USER_INPUT`);
/// anything else is unexpected and is masked as `INTERNAL` so no detail leaks.
fn classify(error: &mut ServerError) {
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code").is_some());
    if has_code {
        return;
    }
    let input_error = error.path.is_empty()
        || error.message.starts_with("Failed to parse")
        || error.message.starts_with("Invalid value");
    let code = if input_error {
        "BAD_USER_INPUT"
    } else {
        let reference = Uuid::new_v4();
        tracing::error!(message = %error.message, %reference, "unclassified resolver error");
        error.message = format!("internal error (reference {reference})");
        "INTERNAL"
    };
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
}

async fn graphql_ws(
    State(http): State<Http>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let schema = http.schema.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            let state = http.state.clone();
            GraphQLWebSocket::new(stream, schema, protocol)
                .on_connection_init(move |payload: serde_json::Value| async move {
                    let token = payload
                        .get("authorization")
                        .or_else(|| payload.get("Authorization"))
                        .and_then(|v| v.as_str())
                        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).to_owned())
                        .or_else(|| {
                            payload
                                .get("token")
                                .and_then(|v| v.as_str())
                                .map(str::to_owned)
                        });
                    let mut data = Data::default();
                    data.insert(RequestContext {
                        auth: authenticate(&state, token.as_deref()),
                        request_id: Uuid::now_v7(),
                    });
                    Ok(data)
                })
                .serve()
        })
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}

async fn readyz(State(http): State<Http>) -> Response {
    match projections::status::all(&http.state.pool).await {
        Ok(statuses) => {
            let stalled: Vec<_> = statuses
                .iter()
                .filter(|s| s.stalled())
                .map(|s| s.name.clone())
                .collect();
            let body = serde_json::json!({ "database": "ok", "stalledProjections": stalled });
            let status = if stalled.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            (status, Json(body)).into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "readiness check could not reach the database");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "database": "unreachable" })),
            )
                .into_response()
        }
    }
}
