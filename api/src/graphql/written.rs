//! Objects written straight into the answer's JSON text, from the same field definitions
//! as their resolvers.
//!
//! async-graphql resolves every field of every object on its own: a boxed future, a value
//! in a map that grows from empty, and later a tree that the answer writer walks and drops.
//! For a page of leads with their owners and clients that machinery is most of the
//! server's work. An object whose fields are declared with [`fields!`] gets both its
//! `#[Object]` resolvers and a [`WriteFields`] impl that writes the fields a selection asks
//! for as JSON text, the same text async-graphql's resolution would produce (tests hold the
//! two byte for byte equal); [`Written`] puts that text into the answer as one raw value.
//! A field is defined once, so the two paths cannot differ in a value or an access rule.
//!
//! Only fields that are values in hand are written: leaves, and nested objects the record
//! already holds. A field that needs I/O or arguments, a custom directive, or an object
//! selected twice under one key (which async-graphql merges) makes the object decline, and
//! async-graphql resolves it, so an answer is never different, only slower. A written
//! object does not call the per-field hooks of schema extensions (the schema has none).

use std::borrow::Cow;

use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, EnumType, OutputType, Positioned, ServerResult, Value};
use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::types::{raw_value, LeadSource, LeadStage, Role};

/// A value written as JSON exactly as async-graphql would write it.
pub(super) trait Leaf {
    /// Appends the JSON of the value.
    fn write(&self, out: &mut Vec<u8>);
}

impl Leaf for str {
    fn write(&self, out: &mut Vec<u8>) {
        // Writing a `str` into a `Vec` cannot fail: there is no I/O and no map key.
        serde_json::to_writer(&mut *out, self).unwrap_or_default();
    }
}

impl Leaf for String {
    fn write(&self, out: &mut Vec<u8>) {
        self.as_str().write(out);
    }
}

impl Leaf for i64 {
    fn write(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(&mut *out, self).unwrap_or_default();
    }
}

impl Leaf for i32 {
    fn write(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(&mut *out, self).unwrap_or_default();
    }
}

impl Leaf for bool {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if *self { b"true" } else { b"false" });
    }
}

impl Leaf for Uuid {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        let mut buffer = Uuid::encode_buffer();
        out.extend_from_slice(self.hyphenated().encode_lower(&mut buffer).as_bytes());
        out.push(b'"');
    }
}

impl Leaf for DateTime<Utc> {
    fn write(&self, out: &mut Vec<u8>) {
        // async-graphql's scalar is RFC 3339 with `+00:00`, not serde's `Z` form.
        self.to_rfc3339().write(out);
    }
}

impl Leaf for NaiveDate {
    fn write(&self, out: &mut Vec<u8>) {
        self.format("%Y-%m-%d").to_string().write(out);
    }
}

impl<T: Leaf + ?Sized> Leaf for &T {
    fn write(&self, out: &mut Vec<u8>) {
        (**self).write(out);
    }
}

impl<T: Leaf> Leaf for Option<T> {
    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Some(value) => value.write(out),
            None => out.extend_from_slice(b"null"),
        }
    }
}

/// GraphQL enums are written by their names.
macro_rules! enum_leaves {
    ($($enum:ty),+) => {$(
        impl Leaf for $enum {
            fn write(&self, out: &mut Vec<u8>) {
                let items = <$enum as EnumType>::items();
                items.iter().find(|item| item.value == *self).map(|item| item.name).write(out);
            }
        }
    )+};
}

enum_leaves!(LeadSource, LeadStage, Role);

/// Declares an object's fields once, for both answer paths: the `#[Object(serial)]` impl of
/// `$ty` with a resolver per field, and its [`WriteFields`] impl writing the same values.
///
/// - `"name" fn rust_name() -> Type { value }`: a value in hand, written and resolved alike;
///   `fn rust_name(ctx)` names the request's context for the value, on both paths
///   (`request_of(ctx)` reads the viewer).
/// - `"name" fn rust_name() -> Option<Type> { in_hand: expr, load: block }`: a nested object,
///   written when `in_hand` is `Some(Option<&Type>)`, and otherwise only resolved, by `load`
///   (which returns `Result<Option<Type>>`).
/// - Anything after `resolved:` is the resolvers of fields that read the database; they make
///   a written object decline.
macro_rules! fields {
    (
        impl $ty:ident ($this:ident, $ctx:ident) {
            $( $(#[doc = $doc:literal])* $gql:literal fn $field:ident($($fctx:ident)?) -> $out:ty $value:block )*
            nested:
            $( $(#[doc = $ndoc:literal])* $ngql:literal fn $nfield:ident() -> Option<$nout:ty> {
                in_hand: $hand:expr, load: $load:block
            } )*
            resolved:
            $($resolved:tt)*
        }
    ) => {
        #[async_graphql::Object(serial)]
        impl $ty {
            $(
                $(#[doc = $doc])*
                #[graphql(name = $gql)]
                async fn $field(&$this $(, $fctx: &async_graphql::Context<'_>)?) -> $out $value
            )*
            $(
                $(#[doc = $ndoc])*
                #[graphql(name = $ngql)]
                async fn $nfield(
                    &$this,
                    $ctx: &async_graphql::Context<'_>,
                ) -> async_graphql::Result<Option<$nout>> {
                    if let Some(held) = $hand {
                        return Ok(held.cloned());
                    }
                    $load
                }
            )*
            $($resolved)*
        }

        impl $crate::graphql::written::WriteFields for $ty {
            fn type_name() -> std::borrow::Cow<'static, str> {
                <Self as async_graphql::OutputType>::type_name()
            }

            fn write_field(
                &$this,
                ctx: &async_graphql::ContextSelectionSet<'_>,
                field: &async_graphql::parser::types::Field,
                out: &mut Vec<u8>,
            ) -> bool {
                use $crate::graphql::written::Leaf as _;
                match field.name.node.as_str() {
                    $( $gql => {
                        $( let $fctx = ctx; )?
                        $value.write(out)
                    } )*
                    $( $ngql => {
                        return match $hand {
                            Some(held) => $crate::graphql::written::write_nested(held, ctx, field, out),
                            None => false,
                        };
                    } )*
                    _ => return false,
                }
                true
            }
        }
    };
}

pub(crate) use fields;

/// An object whose fields, or some of them, can be written without async-graphql.
pub(super) trait WriteFields {
    /// The GraphQL type's name (for `__typename` and fragment type conditions).
    fn type_name() -> Cow<'static, str>;

    /// Appends the JSON of `field` (its name, arguments and selection as the query has
    /// them); false when this field is not one the object writes.
    fn write_field(&self, ctx: &ContextSelectionSet<'_>, field: &Field, out: &mut Vec<u8>) -> bool;
}

impl<T: WriteFields + ?Sized> WriteFields for &T {
    fn type_name() -> Cow<'static, str> {
        T::type_name()
    }

    fn write_field(&self, ctx: &ContextSelectionSet<'_>, field: &Field, out: &mut Vec<u8>) -> bool {
        (**self).write_field(ctx, field, out)
    }
}

/// Appends `item` as the object `set` selects; false, with `out` as it was, when a field
/// cannot be written.
pub(super) fn write_object<T: WriteFields + ?Sized>(
    item: &T,
    ctx: &ContextSelectionSet<'_>,
    set: &SelectionSet,
    out: &mut Vec<u8>,
) -> bool {
    write_object_with(item, ctx, set, &mut Vec::new(), out)
}

/// [`write_object`] with the buffer for the keys written so far (reused along a list).
fn write_object_with<'a, T: WriteFields + ?Sized>(
    item: &T,
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    keys: &mut Vec<&'a str>,
    out: &mut Vec<u8>,
) -> bool {
    let start = out.len();
    keys.clear();
    out.push(b'{');
    if write_fields(item, ctx, set, keys, out) {
        out.push(b'}');
        true
    } else {
        out.truncate(start);
        false
    }
}

/// Appends a nested object, or `null`.
pub(super) fn write_nested<T: WriteFields>(
    item: Option<T>,
    ctx: &ContextSelectionSet<'_>,
    field: &Field,
    out: &mut Vec<u8>,
) -> bool {
    match item {
        Some(item) => write_object(&item, ctx, &field.selection_set.node, out),
        None => {
            out.extend_from_slice(b"null");
            true
        }
    }
}

/// The members of one object, in the order async-graphql's `Fields::add_set` puts them:
/// selection order, fragments flattened where their type condition applies, the first of
/// repeated keys kept.
fn write_fields<'a, T: WriteFields + ?Sized>(
    item: &T,
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    keys: &mut Vec<&'a str>,
    out: &mut Vec<u8>,
) -> bool {
    for selection in &set.items {
        let (condition, selection_set) = match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                // `@skip` and `@include` are gone by now; any other directive is custom.
                if !field.directives.is_empty() || !field.arguments.is_empty() {
                    return false;
                }
                let key = field.response_key().node.as_str();
                if keys.contains(&key) {
                    // A repeated leaf is the same value (validation checks that the two
                    // can merge); repeated objects are merged, which is not done here.
                    if field.selection_set.node.items.is_empty() {
                        continue;
                    }
                    return false;
                }
                if !keys.is_empty() {
                    out.push(b',');
                }
                keys.push(key);
                // A response key is a GraphQL name: letters, digits and `_`, nothing to escape.
                out.push(b'"');
                out.extend_from_slice(key.as_bytes());
                out.extend_from_slice(b"\":");
                if field.name.node == "__typename" {
                    T::type_name().as_ref().write(out);
                } else if !item.write_field(ctx, field, out) {
                    return false;
                }
                continue;
            }
            Selection::FragmentSpread(spread) => {
                if !spread.node.directives.is_empty() {
                    return false;
                }
                let Some(fragment) = ctx.query_env.fragments.get(&spread.node.fragment_name.node)
                else {
                    return false;
                };
                (
                    Some(fragment.node.type_condition.node.on.node.as_str()),
                    &fragment.node.selection_set.node,
                )
            }
            Selection::InlineFragment(fragment) => {
                if !fragment.node.directives.is_empty() {
                    return false;
                }
                let condition = fragment.node.type_condition.as_ref();
                (
                    condition.map(|c| c.node.on.node.as_str()),
                    &fragment.node.selection_set.node,
                )
            }
        };
        let name = T::type_name();
        let applies = condition.is_none_or(|condition| {
            condition == name
                || ctx
                    .schema_env
                    .registry
                    .implements
                    .get(name.as_ref())
                    .is_some_and(|interfaces| interfaces.contains(condition))
        });
        if applies && !write_fields(item, ctx, selection_set, keys, out) {
            return false;
        }
    }
    true
}

/// The written text as async-graphql's raw value.
fn raw(out: Vec<u8>) -> Option<Value> {
    String::from_utf8(out).ok().map(raw_value)
}

/// One object served as `T` and written as JSON text when it can be.
#[derive(Debug)]
pub(super) struct Written<T>(pub T);

impl<T: WriteFields + OutputType> OutputType for Written<T> {
    fn type_name() -> Cow<'static, str> {
        <T as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <T as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <T as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let mut out = Vec::with_capacity(512);
        if write_object(&self.0, ctx, &ctx.item.node, &mut out) {
            if let Some(value) = raw(out) {
                return Ok(value);
            }
        }
        OutputType::resolve(&self.0, ctx, field).await
    }
}

/// Helpers for tests that hold a written object equal to async-graphql's resolution.
#[cfg(test)]
pub(super) mod testing {
    use async_graphql::{
        EmptyMutation, EmptySubscription, ObjectType, Request, Schema, Value, Variables,
    };
    use async_graphql_value::RAW_VALUE_TOKEN;

    use crate::state::RequestContext;

    /// The answer to `query` with `LIST` replaced by `field`, as async-graphql writes it
    /// (which parses raw values again, so text that is not JSON fails here), and whether
    /// the first value under `field` came back written (one raw value) rather than as a tree.
    pub(crate) async fn answer<Q: ObjectType + 'static>(
        schema: &Schema<Q, EmptyMutation, EmptySubscription>,
        field: &str,
        query: &str,
        yes: bool,
        viewer: Option<RequestContext>,
    ) -> (String, bool) {
        let mut request = Request::new(query.replace("LIST", field))
            .variables(Variables::from_json(serde_json::json!({ "yes": yes })));
        if let Some(viewer) = viewer {
            request = request.data(viewer);
        }
        let response = schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        let raw = |value: &Value| {
            matches!(value, Value::Object(map)
                if map.len() == 1 && map.keys().all(|k| k.as_str() == RAW_VALUE_TOKEN))
        };
        let written = match &response.data {
            Value::Object(data) => match data.values().next() {
                Some(Value::List(items)) => items.first().is_some_and(raw),
                Some(value) => raw(value),
                None => false,
            },
            _ => false,
        };
        let text = serde_json::to_string(&response).expect("async-graphql writes the answer");
        (text, written)
    }

    /// Asserts that `fast` and `slow` give the same text for `query`, with `$yes` true and
    /// false, and that `fast` came back written.
    pub(crate) async fn assert_same<Q: ObjectType + 'static>(
        schema: &Schema<Q, EmptyMutation, EmptySubscription>,
        (fast, slow): (&str, &str),
        query: &str,
        viewer: Option<RequestContext>,
    ) {
        for yes in [true, false] {
            let (written, was_written) = answer(schema, fast, query, yes, viewer).await;
            let (resolved, _) = answer(schema, slow, query, yes, viewer).await;
            assert_eq!(
                written.replacen(&format!("\"{fast}\""), &format!("\"{slow}\""), 1),
                resolved,
                "{query}"
            );
            assert!(was_written, "{fast} fell back to async-graphql for {query}");
        }
    }
}
