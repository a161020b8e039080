//! The JSON body of a GraphQL answer.
//!
//! async-graphql-axum writes a response with the `Serialize` impl of async-graphql's values,
//! which turns every raw JSON value back into a `serde_json::RawValue` first: it copies the
//! text and parses it once more to validate it. A record's history is thousands of
//! payloads, and that parse was 12% of the server's instructions for it. This writer is the
//! same apart from that: it writes raw values as they are, which is sound because they have
//! two sources only, both JSON: [`JsonText`], whose text PostgreSQL printed from a `jsonb`
//! column, and the objects of [`written`], whose text the server writes itself (keys that
//! are GraphQL names, strings through serde_json's escaping, payloads as `JsonText`).
//! Keys, order, the content type and the headers are those of async-graphql-axum.
//!
//! The invariant to keep: never make a raw value (or a `Json<T>` output, whose object keys
//! could spell the token) from text a client sent, because this writer would put it into
//! the answer unchecked. GraphQL aliases cannot spell it (`$` is not a name character),
//! and the schema's one `JSON` field is `HistoryEvent.payload`.
//!
//! [`JsonText`]: crate::graphql::types::JsonText
//! [`written`]: crate::graphql::written

use async_graphql::Value;
use async_graphql_value::RAW_VALUE_TOKEN;
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

/// The HTTP response for one executed request.
pub fn graphql_response(answer: async_graphql::Response) -> Response {
    let body = match serde_json::to_vec(&Answer(&answer)) {
        Ok(body) => body,
        Err(error) => {
            tracing::error!(%error, "could not write a GraphQL answer");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/graphql-response+json"),
    );
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

/// `{"data": …, "extensions": …, "errors": […]}`, the last two only when not empty.
struct Answer<'a>(&'a async_graphql::Response);

impl Serialize for Answer<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let answer = self.0;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("data", &Data(&answer.data))?;
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
        serde_json::to_string(&Answer(answer)).expect("an answer is JSON")
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
