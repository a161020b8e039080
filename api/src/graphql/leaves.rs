//! Lists of plain records written straight into the answer's JSON text.
//!
//! async-graphql resolves every field of every object of a list on its own: a boxed future,
//! a value in a map that grows from empty, and later a tree that the answer writer walks and
//! drops. For a record's history (thousands of events of a dozen leaves each) that machinery
//! cost more than the SQL statement that read them. A [`LeafList`] works out once which
//! response keys the selection asks for, in which order, and then writes each record's
//! leaves as JSON text, the same text async-graphql's resolution and writer would produce:
//! the tests below hold the two paths byte for byte equal.
//!
//! It applies only to objects whose fields are all leaves without arguments and without I/O
//! (the [`Leaves`] trait). Whatever the fast path does not know (a custom directive, a field
//! the type cannot write) sends the list down async-graphql's own resolution, item after
//! item, so the answer is never different, only slower. Neither path calls the per-field
//! hooks of schema extensions, of which the schema has none.

use std::borrow::Cow;

use async_graphql::parser::types::{Field, Selection, SelectionSet};
use async_graphql::registry::Registry;
use async_graphql::{ContextSelectionSet, Name, OutputType, Positioned, ServerResult, Value};
use async_graphql_value::RAW_VALUE_TOKEN;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::types::JsonText;

/// A value a [`Leaves`] object writes as JSON, exactly as async-graphql would write it.
pub trait Leaf {
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

impl Leaf for Uuid {
    fn write(&self, out: &mut Vec<u8>) {
        out.push(b'"');
        out.extend_from_slice(
            self.hyphenated()
                .encode_lower(&mut Uuid::encode_buffer())
                .as_bytes(),
        );
        out.push(b'"');
    }
}

impl Leaf for DateTime<Utc> {
    fn write(&self, out: &mut Vec<u8>) {
        // async-graphql's scalar is RFC 3339 with `+00:00`, not serde's `Z` form.
        self.to_rfc3339().write(out);
    }
}

impl Leaf for JsonText {
    fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.0.as_bytes());
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

/// An object type whose fields are all leaves: no arguments, no selection below them, no I/O.
pub trait Leaves: OutputType {
    /// Appends the JSON of the field with GraphQL name `name`; false when there is none.
    fn write_leaf(&self, name: &str, out: &mut Vec<u8>) -> bool;
}

/// A list served as `[T!]!` and written as JSON text (see the module's documentation).
#[derive(Debug)]
pub struct LeafList<T>(pub Vec<T>);

impl<T: Leaves> OutputType for LeafList<T> {
    fn type_name() -> Cow<'static, str> {
        <Vec<T> as OutputType>::type_name()
    }

    fn qualified_type_name() -> String {
        <Vec<T> as OutputType>::qualified_type_name()
    }

    fn create_type_info(registry: &mut Registry) -> String {
        <Vec<T> as OutputType>::create_type_info(registry)
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        let mut columns = Vec::new();
        if plan::<T>(ctx, &ctx.item.node, &mut columns) {
            if let Some(text) = render(&self.0, &columns) {
                let raw = [(Name::new(RAW_VALUE_TOKEN), Value::String(text))];
                return Ok(Value::Object(raw.into_iter().collect()));
            }
        }
        resolve_serially(&self.0, ctx, field).await
    }
}

/// Resolves the items one after another through async-graphql.
///
/// async-graphql resolves a `Vec<T>` by polling every item's future at once through
/// `try_join_all`, which for a list longer than 30 puts each item's future in a task of its
/// own. That is what lets the items' loader calls batch, and it is pure cost when the items
/// are plain data already in memory.
pub async fn resolve_serially<T: OutputType>(
    items: &[T],
    ctx: &ContextSelectionSet<'_>,
    field: &Positioned<Field>,
) -> ServerResult<Value> {
    let mut values = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let ctx_item = ctx.with_index(index);
        let value = OutputType::resolve(item, &ctx_item, field)
            .await
            .map_err(|error| ctx_item.set_error_path(error))?;
        values.push(value);
    }
    Ok(Value::List(values))
}

/// One key of each written object: the response key and the field it shows.
struct Column<'a> {
    /// `"key":`, escaped once.
    key: Vec<u8>,
    response_key: &'a str,
    /// `None` for `__typename`.
    field: Option<&'a str>,
}

/// The keys each object gets, in the order async-graphql's `Fields::add_set` would put them:
/// selection order, fragments flattened where they apply, the first of repeated keys kept.
/// False when the selection needs something only async-graphql's resolution does.
fn plan<'a, T: OutputType>(
    ctx: &ContextSelectionSet<'a>,
    set: &'a SelectionSet,
    columns: &mut Vec<Column<'a>>,
) -> bool {
    for selection in &set.items {
        let (condition, selection_set) = match &selection.node {
            Selection::Field(field) => {
                let field = &field.node;
                // `@skip` and `@include` are gone by now; any other directive is custom.
                if !field.directives.is_empty()
                    || !field.arguments.is_empty()
                    || !field.selection_set.node.items.is_empty()
                {
                    return false;
                }
                let response_key = field.response_key().node.as_str();
                if columns.iter().any(|c| c.response_key == response_key) {
                    continue;
                }
                let mut key = Vec::with_capacity(response_key.len() + 3);
                response_key.write(&mut key);
                key.push(b':');
                let name = field.name.node.as_str();
                columns.push(Column {
                    key,
                    response_key,
                    field: (name != "__typename").then_some(name),
                });
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
                (
                    fragment
                        .node
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str()),
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
        if applies && !plan::<T>(ctx, selection_set, columns) {
            return false;
        }
    }
    true
}

/// `[{…},…]` for the items, or `None` when an item cannot write a field the plan names.
fn render<T: Leaves>(items: &[T], columns: &[Column<'_>]) -> Option<String> {
    let type_name = T::type_name();
    let mut out = Vec::with_capacity(256);
    out.push(b'[');
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            out.push(b',');
        }
        out.push(b'{');
        for (at, column) in columns.iter().enumerate() {
            if at > 0 {
                out.push(b',');
            }
            out.extend_from_slice(&column.key);
            match column.field {
                Some(field) => {
                    if !item.write_leaf(field, &mut out) {
                        return None;
                    }
                }
                None => type_name.as_ref().write(&mut out),
            }
        }
        out.push(b'}');
        if index == 0 {
            // Size the text after the first item instead of doubling it a dozen times.
            out.reserve((out.len() + out.len() / 4) * items.len());
        }
    }
    out.push(b']');
    String::from_utf8(out).ok()
}
