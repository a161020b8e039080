//! Every error answered gets an `extensions.code`, on every entry point (POST, GET and the
//! websocket alike: [`super::Served`] classifies every answer and every item of a
//! subscription's stream): resolver errors carry theirs already; the rest are the caller's mistakes
//! (parsing, validation, limits, argument values) or else ours, masked as `INTERNAL` so no
//! detail leaks.

use async_graphql::{Response, ServerError};
use uuid::Uuid;

/// `response` with a code on every error.
pub(super) fn classified(mut response: Response) -> Response {
    for error in &mut response.errors {
        classify(error);
    }
    response
}

/// Gives every error a code. Errors raised by resolvers carry one already; those without a
/// path come from parsing, validation or the depth/complexity limits (`BAD_USER_INPUT`);
/// anything else is unexpected and is masked as `INTERNAL` so no detail leaks.
pub(super) fn classify(error: &mut ServerError) {
    let has_code = error
        .extensions
        .as_ref()
        .is_some_and(|ext| ext.get("code").is_some());
    if has_code {
        return;
    }
    // Argument values that do not fit their type fail in the resolver, so they have a
    // path; async-graphql words them in these ways (`InputValueError`).
    let input_error = error.path.is_empty()
        || error.message.starts_with("Failed to parse")
        || error.message.starts_with("Expected input type")
        || error.message.starts_with("Invalid value")
        || error.message.contains("(occurred while parsing");
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

#[cfg(test)]
mod tests {
    use super::*;

    fn code(message: &str, path: bool) -> String {
        let mut error = ServerError::new(message, None);
        if path {
            error
                .path
                .push(async_graphql::PathSegment::Field("project".into()));
        }
        classify(&mut error);
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .cloned();
        code.map(|c| c.to_string()).unwrap_or_default()
    }

    #[test]
    fn argument_values_are_the_callers_mistakes_and_the_rest_is_ours() {
        assert_eq!(
            code("Expected input type \"UUID\", found -1.", true),
            "\"BAD_USER_INPUT\""
        );
        assert_eq!(
            code("Failed to parse \"UUID\": invalid length", true),
            "\"BAD_USER_INPUT\""
        );
        assert_eq!(
            code(
                "Expected input type \"Int\", found \"x\". (occurred while parsing \"[Int!]\")",
                true
            ),
            "\"BAD_USER_INPUT\""
        );
        assert_eq!(code("Unknown field \"x\"", false), "\"BAD_USER_INPUT\"");
        assert_eq!(code("connection reset by peer", true), "\"INTERNAL\"");
    }
}
