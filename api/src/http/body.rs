//! The JSON body of a GraphQL answer.
//!
//! async-graphql-axum writes a response with the `Serialize` impl of async-graphql's values,
//! which turns every raw JSON value back into a `serde_json::RawValue` first: it copies the
//! text and parses it once more to validate it. A record's history is thousands of
//! payloads, and that parse was a large share of the server's work for it. This writer is
//! the same apart from that: it writes raw values as they are, which is sound because they
//! have one source, [`JsonText`], whose text PostgreSQL printed from a `jsonb` column.
//! Keys and order are async-graphql-axum's; the media type and the status follow the
//! GraphQL-over-HTTP spec ([`Media`]).
//!
//! The invariant to keep: never make a raw value (or a `Json<T>` output, whose object keys
//! could spell the token) from text a client sent, because this writer would put it into
//! the answer unchecked. GraphQL aliases cannot spell it (`$` is not a name character),
//! and the schema's one `JSON` field is `HistoryEvent.payload`.
//!
//! [`JsonText`]: crate::graphql::types::JsonText

use async_graphql::Value;
use async_graphql_value::RAW_VALUE_TOKEN;
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

/// The media type of a GraphQL answer, as the request's `Accept` header asks (GraphQL over
/// HTTP): `application/graphql-response+json` to a client that lists it, `application/json`
/// to one that lists only that, has no `Accept` or accepts anything (the legacy default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Media {
    /// `application/graphql-response+json`: request errors answer 400, without `data`.
    GraphqlResponse,
    /// `application/json`: every GraphQL answer is 200.
    Json,
}

impl Media {
    /// What `accept` asks for; `None` when it accepts neither JSON type (answer 406).
    pub(super) fn negotiate(accept: Option<&str>) -> Option<Media> {
        let Some(accept) = accept else {
            return Some(Media::Json);
        };
        let ranges: Vec<&str> = accept
            .split(',')
            .map(|range| range.split(';').next().unwrap_or("").trim())
            .collect();
        if ranges
            .iter()
            .any(|r| r.eq_ignore_ascii_case("application/graphql-response+json"))
        {
            Some(Media::GraphqlResponse)
        } else if ranges.iter().any(|r| {
            ["application/json", "application/*", "*/*"]
                .iter()
                .any(|json| r.eq_ignore_ascii_case(json))
        }) || ranges.iter().all(|r| r.is_empty())
        {
            Some(Media::Json)
        } else {
            None
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::GraphqlResponse => "application/graphql-response+json",
            Media::Json => "application/json",
        })
    }
}

/// Whether `answer` is a request error: nothing was executed (every error arose before
/// execution, so none has a path), and so the answer has no `data` entry.
fn request_error(answer: &async_graphql::Response) -> bool {
    answer.data == Value::Null
        && !answer.errors.is_empty()
        && answer.errors.iter().all(|error| error.path.is_empty())
}

/// Whether an error of `answer` carries one of `codes`.
pub(super) fn has_code(answer: &async_graphql::Response, codes: &[crate::error::Code]) -> bool {
    answer.errors.iter().any(|error| {
        error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .is_some_and(|value| {
                codes
                    .iter()
                    .any(|code| *value == Value::from(code.as_str()))
            })
    })
}

/// The HTTP response for one request, in `media`: 200, or 400 for a request error in the
/// GraphQL media type, or 503 with `Retry-After` when the database was out of reach.
pub(super) fn graphql_response(answer: async_graphql::Response, media: Media) -> Response {
    let request_error = request_error(&answer);
    let unavailable = has_code(&answer, &[crate::error::Code::Unavailable]);
    let body = match serde_json::to_vec(&Answer(&answer, !request_error)) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "could not write a GraphQL answer");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut response = Response::new(Body::from(body));
    if request_error && media == Media::GraphqlResponse {
        *response.status_mut() = StatusCode::BAD_REQUEST;
    }
    if unavailable {
        crate::error::retry_after(&mut response);
    }
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, media.content_type());
    if answer.is_ok() {
        if let Some(value) = answer
            .cache_control
            .value()
            .and_then(|value| HeaderValue::from_str(&value).ok())
        {
            headers.insert(header::CACHE_CONTROL, value);
        }
    }
    headers.extend(answer.http_headers);
    response
}

/// `{"data": …, "extensions": …, "errors": […]}`: `data` unless it is a request error
/// (the second field says), the last two only when not empty.
struct Answer<'a>(&'a async_graphql::Response, bool);

impl Serialize for Answer<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let answer = self.0;
        let mut map = serializer.serialize_map(None)?;
        if self.1 {
            map.serialize_entry("data", &Data(&answer.data))?;
        }
        if !answer.extensions.is_empty() {
            map.serialize_entry("extensions", &answer.extensions)?;
        }
        if !answer.errors.is_empty() {
            map.serialize_entry("errors", &answer.errors)?;
        }
        map.end()
    }
}

/// A value as async-graphql writes it, except that a raw JSON value is written verbatim.
struct Data<'a>(&'a Value);

impl Serialize for Data<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::List(items) => serializer.collect_seq(items.iter().map(Data)),
            Value::Object(fields) => match raw_text(fields) {
                // What serde_json's own `RawValue` does: a struct under its private token,
                // which serde_json's serializer writes out as the text it holds.
                Some(text) => {
                    let mut raw = serializer.serialize_struct(RAW_VALUE_TOKEN, 1)?;
                    raw.serialize_field(RAW_VALUE_TOKEN, text)?;
                    raw.end()
                }
                None => {
                    serializer.collect_map(fields.iter().map(|(key, value)| (key, Data(value))))
                }
            },
            scalar => scalar.serialize(serializer),
        }
    }
}

/// The text of a raw JSON value: an object whose one key is serde_json's raw-value token.
fn raw_text(
    fields: &async_graphql::indexmap::IndexMap<async_graphql::Name, Value>,
) -> Option<&str> {
    match fields.first() {
        Some((key, Value::String(text)))
            if fields.len() == 1 && key.as_str() == RAW_VALUE_TOKEN =>
        {
            Some(text)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::{Name, ServerError};

    fn written(answer: &async_graphql::Response) -> String {
        serde_json::to_string(&Answer(answer, true)).expect("an answer is JSON")
    }

    #[test]
    fn the_media_type_follows_the_accept_header() {
        let negotiate = Media::negotiate;
        assert_eq!(negotiate(None), Some(Media::Json));
        assert_eq!(negotiate(Some("application/json")), Some(Media::Json));
        assert_eq!(negotiate(Some("*/*")), Some(Media::Json));
        assert_eq!(
            negotiate(Some(
                "application/graphql-response+json, application/json;q=0.9"
            )),
            Some(Media::GraphqlResponse)
        );
        assert_eq!(negotiate(Some("text/html")), None);
    }

    #[test]
    fn writes_what_async_graphql_writes_for_plain_values() {
        let value = Value::from_json(serde_json::json!({
            "a": [1, 2.5, "x\"y\n", true, null],
            "b": { "c": "Ünïcode ✓", "d": [] },
        }))
        .expect("the value is a GraphQL value");
        let mut answer = async_graphql::Response::new(value);
        answer.errors.push(ServerError::new("no such lead", None));
        answer.extensions.insert("cost".to_owned(), Value::from(3));
        assert_eq!(
            written(&answer),
            serde_json::to_string(&answer).expect("async-graphql writes it")
        );
    }

    #[test]
    fn writes_raw_values_verbatim() {
        let raw = Value::Object(
            [(
                Name::new(RAW_VALUE_TOKEN),
                Value::String(r#"{"kind": "NoteAdded", "n": [1,2]}"#.to_owned()),
            )]
            .into_iter()
            .collect(),
        );
        let data = Value::Object([(Name::new("payload"), raw)].into_iter().collect());
        let answer = async_graphql::Response::new(data);
        assert_eq!(
            written(&answer),
            r#"{"data":{"payload":{"kind": "NoteAdded", "n": [1,2]}}}"#
        );
        // async-graphql's own writer gives the same text (after parsing it once more).
        assert_eq!(
            written(&answer),
            serde_json::to_string(&answer).expect("async-graphql writes it")
        );
    }

    #[test]
    fn an_object_with_other_keys_beside_the_token_is_an_object() {
        let fields = [
            (Name::new(RAW_VALUE_TOKEN), Value::String("1".to_owned())),
            (Name::new("other"), Value::from(2)),
        ];
        let answer = async_graphql::Response::new(Value::Object(fields.into_iter().collect()));
        assert_eq!(
            written(&answer),
            serde_json::to_string(&answer).expect("async-graphql writes it")
        );
    }
}
