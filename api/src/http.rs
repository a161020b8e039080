//! The router and the GraphQL endpoint. Routes: `/graphql` (POST and GET), `/graphql/ws`,
//! `/graphiql`; the REST handlers of [`crate::rest`] (`/files/requests/{id}` upload,
//! `/files/uploads/{id}`, `/files/guidance/{id}` upload, `/files/guidance-documents/{id}`,
//! `/files/statements/{client}/{month}.csv|.pdf`, `/api/v1/time-entries`); `/healthz`,
//! `/readyz`, `/metrics` (read-model freshness, Prometheus text format).

use async_graphql::http::{GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::Data;
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRef, State, WebSocketUpgrade};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use uuid::Uuid;

use crate::auth::Auth;
use crate::error::{ApiError, Code};
use crate::graphql::Served;
use crate::state::{AppState, RequestContext, ShownOnce};

mod body;
pub(crate) mod idempotency;

/// Largest accepted request body of `/graphql`.
pub(crate) const MAX_BODY_BYTES: usize = 1024 * 1024;

fn refuse(status: StatusCode, message: &str) -> Response {
    crate::error::error_response(status, Code::BadUserInput, message)
}

/// Router state.
#[derive(Clone)]
pub struct Http {
    /// The schema as served.
    pub served: Served,
    /// Shared state.
    pub state: AppState,
}

impl std::fmt::Debug for Http {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Http").finish_non_exhaustive()
    }
}

/// The router's state gives the REST handlers the shared state alone.
impl FromRef<Http> for AppState {
    fn from_ref(http: &Http) -> Self {
        http.state.clone()
    }
}

/// Builds the router.
pub(crate) fn router(http: Http) -> Router {
    Router::new()
        .route("/graphql", get(graphql).post(graphql))
        .route("/graphql/ws", get(graphql_ws))
        .route("/graphiql", get(graphiql))
        .route(
            "/files/requests/{request_id}",
            axum::routing::post(crate::rest::uploads::upload).layer(
                axum::extract::DefaultBodyLimit::max(http.state.files.max_bytes + 64 * 1024),
            ),
        )
        .route(
            "/files/uploads/{upload_id}",
            get(crate::rest::uploads::download),
        )
        .route(
            "/files/guidance/{guidance_id}",
            axum::routing::post(crate::rest::uploads::attach_guidance_document).layer(
                axum::extract::DefaultBodyLimit::max(http.state.files.max_bytes + 64 * 1024),
            ),
        )
        .route(
            "/files/guidance-documents/{document_id}",
            get(crate::rest::uploads::guidance_document),
        )
        .route(
            "/files/statements/{client_id}/{file}",
            get(crate::rest::statements::download),
        )
        .route(
            "/api/v1/time-entries",
            axum::routing::post(crate::rest::time_entries::time_entries),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(|| async { projections::lag::prometheus() }))
        .route("/readyz", get(readyz))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(http)
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

/// The request of a GET (its query string) or a POST (a JSON body of at most
/// [`MAX_BODY_BYTES`], read no further than that: a larger body is answered 413 without being
/// buffered). GraphQL multipart uploads are not offered (evidence has its own route).
async fn read_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Result<async_graphql::Request, Response> {
    if method == Method::GET {
        return async_graphql::http::parse_query_string(uri.query().unwrap_or_default()).map_err(
            |_| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "the query string is not a GraphQL request",
                )
            },
        );
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with("multipart/") {
        return Err(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send GraphQL requests as application/json; files go to /files/requests/{requestId}",
        ));
    }
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the request body is larger than the limit of {MAX_BODY_BYTES} bytes"),
        )
    };
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())?;
    serde_json::from_slice(&bytes).map_err(|error| {
        refuse(
            StatusCode::BAD_REQUEST,
            &format!("the body is not a GraphQL request in JSON: {error}"),
        )
    })
}

async fn graphql(
    State(http): State<Http>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Body,
) -> Response {
    let mut request = match read_request(&method, &uri, &headers, raw).await {
        Ok(request) => request,
        Err(refusal) => return refusal,
    };
    let context = RequestContext {
        auth: http.state.authenticate_headers(&headers).await,
        request_id: Uuid::now_v7(),
        client: http.state.client_address(&headers, peer),
    };
    let Some(media) = body::Media::negotiate(
        headers
            .get(header::ACCEPT)
            .and_then(|value| value.to_str().ok()),
    ) else {
        return (
            StatusCode::NOT_ACCEPTABLE,
            "GraphQL answers are application/graphql-response+json or application/json",
        )
            .into_response();
    };
    let checked = match http.served.prepare(&mut request, &context.auth) {
        Ok(checked) => checked,
        Err(refusal) => {
            let answer = async_graphql::Response::from_errors(vec![refusal]);
            return body::graphql_response(answer, media);
        }
    };
    let mutation = is_mutation(&mut request);
    if method == Method::GET && mutation {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [("allow", "POST")],
            "mutations must be sent with POST",
        )
            .into_response();
    }
    let key = headers
        .get("idempotency-key")
        .map(|value| value.to_str().unwrap_or_default().to_owned());
    match (key, context.auth) {
        // A credential is checked on every call, and the tokens it earns are never kept.
        (Some(_), _) if checked.authenticates => refuse(
            StatusCode::BAD_REQUEST,
            "login, refreshToken, setPassword, changePassword and requestPasswordReset take no Idempotency-Key: credentials are checked on every call and tokens are never stored; send the request without it",
        ),
        // Keys are for callers who are somebody.
        (Some(key), Auth::User(viewer)) if mutation => {
            idempotent(&http, request.data(context), media, viewer.user_id, &key).await
        }
        _ => body::graphql_response(answer(&http, request.data(context)).await, media),
    }
}

async fn answer(http: &Http, request: async_graphql::Request) -> async_graphql::Response {
    http.served.run(request).await
}

/// Runs a mutation once per `Idempotency-Key` of `caller` (see [`idempotency`]).
async fn idempotent(
    http: &Http,
    request: async_graphql::Request,
    media: body::Media,
    caller: Uuid,
    key: &str,
) -> Response {
    if !idempotency::valid_key(key) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "Idempotency-Key must be 1 to 255 visible ASCII characters",
        );
    }
    let pool = &http.state.pool;
    let fingerprint = idempotency::fingerprint(&request);
    let shown_once = ShownOnce::default();
    let request = request.data(shown_once.clone());
    let claim = match idempotency::claim(pool, caller, key, &fingerprint).await {
        Ok(claim) => claim,
        Err(error) => return ApiError::from(error).response(None),
    };
    match claim {
        idempotency::Claim::New => {}
        idempotency::Claim::Answered(answer) => {
            let mut response = Response::new(Body::from(answer.body));
            *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
            if let Ok(content_type) = header::HeaderValue::from_str(&answer.content_type) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, content_type);
            }
            response.headers_mut().insert(
                "idempotent-replayed",
                header::HeaderValue::from_static("true"),
            );
            return response;
        }
        idempotency::Claim::Pending => {
            return crate::error::error_response(
                StatusCode::CONFLICT,
                Code::Conflict,
                "a request with this Idempotency-Key is still running or was interrupted; read the record before sending it again with a new key",
            );
        }
        idempotency::Claim::Mismatch => {
            return refuse(
                StatusCode::UNPROCESSABLE_ENTITY,
                "this Idempotency-Key was used for a different request",
            );
        }
    }
    let answer = answer(http, request).await;
    // Released only when nothing ran to an answer and an error was ours or the database's
    // absence: then nothing was stored that a retry could repeat (a refused input is kept:
    // it would be refused again).
    let nothing_answered = match &answer.data {
        async_graphql::Value::Object(fields) => {
            fields.values().all(|v| *v == async_graphql::Value::Null)
        }
        _ => true,
    };
    let internal =
        nothing_answered && body::has_code(&answer, &[Code::Internal, Code::Unavailable]);
    // What a repeat answers: the same, but for the secrets it showed once.
    let kept_answer = idempotency::withhold(&answer, &shown_once.secrets());
    let response = body::graphql_response(answer, media);
    let (parts, written) = response.into_parts();
    let bytes = axum::body::to_bytes(written, usize::MAX)
        .await
        .unwrap_or_default();
    let kept = if internal {
        idempotency::release(pool, caller, key).await
    } else {
        let body = match kept_answer {
            Some(withheld) => {
                let (_, written) = body::graphql_response(withheld, media).into_parts();
                axum::body::to_bytes(written, usize::MAX)
                    .await
                    .unwrap_or_default()
            }
            None => bytes.clone(),
        };
        let answer = idempotency::Answer {
            status: parts.status.as_u16(),
            content_type: parts
                .headers
                .get(header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .unwrap_or("application/json")
                .to_owned(),
            body: body.to_vec(),
        };
        idempotency::record(pool, caller, key, &answer).await
    };
    if let Err(error) = kept {
        // The mutation's answer still goes out; the key stays claimed, so a repeat is
        // refused as pending rather than run twice.
        tracing::warn!(%error, "could not store the answer of an idempotent mutation");
    }
    Response::from_parts(parts, Body::from(bytes))
}

async fn graphql_ws(
    State(http): State<Http>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let served = http.served.clone();
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            let state = http.state.clone();
            let client = state.client_address(&headers, peer);
            GraphQLWebSocket::new(stream, served, protocol)
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
                        auth: state.authenticate(token.as_deref()).await,
                        request_id: Uuid::now_v7(),
                        client,
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
            let waiting: Vec<_> = statuses
                .iter()
                .filter_map(|s| {
                    let holder = s.waiting_on.as_ref()?;
                    Some(serde_json::json!({
                        "projection": s.name,
                        "database": holder.database,
                        "pid": holder.pid,
                        "ageSeconds": holder.age_seconds,
                        "state": holder.state,
                    }))
                })
                .collect();
            let body = serde_json::json!({
                "database": "ok",
                "stalledProjections": stalled,
                "waitingOnTransactions": waiting,
            });
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
