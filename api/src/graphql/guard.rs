//! The checks every GraphQL request passes before anything recursive runs on it, on every
//! entry point (POST, GET and the websocket alike: [`super::Served`] runs them):
//!
//! - **Nesting of the text.** async-graphql's parser and its value types recurse once per
//!   bracket, so `[[[…]]]` two thousand deep (3 KB) overflowed the stack and aborted the
//!   process. [`check_text`] counts brackets over the raw text, outside strings and comments,
//!   before the parser sees it. Variables arrive as JSON, whose parser stops at 128 levels.
//! - **NUL characters** in any string value, inline or in the variables: PostgreSQL cannot
//!   store them in text, so they are the caller's mistake, said before any resolver runs.
//! - **One authentication field per operation**: `login`, `refreshToken`, `setPassword` and
//!   `changePassword` each cost an argon2 hash or a token check, and a thousand aliases in one
//!   request would be a thousand guesses past the per-request throttle.
//! - **Depth**, replacing async-graphql's own limit so that introspection is measured on its
//!   own terms: data fields nest at most [`MAX_DEPTH`] deep; inside `__schema` / `__type` the
//!   standard introspection query of the tools (graphql-js `getIntrospectionQuery`) fits in
//!   [`MAX_INTROSPECTION_DEPTH`], and at most [`MAX_INTROSPECTION_LISTS`] list fields nest on
//!   one path, which bounds the answer by the schema's size (`fields { type { fields { …`
//!   would multiply it).
//! - **Who may introspect**: internal users always; anonymous and portal callers only outside
//!   production.

use std::collections::HashSet;

use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{ErrorExtensionValues, Name, Positioned, Request, ServerError, ServerResult};

use super::parsed::ParsedQueries;

/// Deepest bracket nesting (`{`, `[`, `(`) accepted in a query's text.
pub(super) const MAX_NESTING: usize = 64;
/// Deepest nesting of data fields (async-graphql's own depth limit is not set: it would
/// count introspection's fields alike).
pub const MAX_DEPTH: usize = 12;
/// Deepest nesting of fields inside `__schema` or `__type`.
pub(super) const MAX_INTROSPECTION_DEPTH: usize = 24;
/// Most list fields of the introspection types nested on one path (`types`, `fields`,
/// `args` is the deepest the standard query goes).
pub(super) const MAX_INTROSPECTION_LISTS: usize = 3;
/// Most selections (fields and fragment spreads, fragments expanded where they are spread)
/// the walk visits: fragments that each spread the next twice would otherwise make it
/// exponential in the text's length. The complexity limit (2,000 fields) stays below it.
pub(super) const MAX_SELECTIONS: usize = 20_000;
/// Root mutation fields that check a credential.
const AUTHENTICATION_FIELDS: [&str; 5] = [
    "login",
    "refreshToken",
    "setPassword",
    "changePassword",
    "requestPasswordReset",
];
/// Fields of the introspection types whose values are lists of types, fields or values.
const INTROSPECTION_LISTS: [&str; 8] = [
    "types",
    "fields",
    "inputFields",
    "args",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "directives",
];

fn refused(message: impl Into<String>) -> ServerError {
    ServerError::new(message, None)
}

/// Refuses a text whose brackets nest deeper than [`MAX_NESTING`], counting outside strings,
/// block strings and comments, or that holds a NUL (raw, or as the parser's one escape of
/// it, `\u0000`). Linear and allocation-free: it runs before the parser.
pub(super) fn check_text(query: &str) -> Result<(), ServerError> {
    let bytes = query.as_bytes();
    if bytes.contains(&0) {
        return Err(nul_refused());
    }
    let mut depth = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'#' => {
                while at < bytes.len() && bytes[at] != b'\n' && bytes[at] != b'\r' {
                    at += 1;
                }
            }
            b'"' if bytes[at..].starts_with(b"\"\"\"") => {
                at += 3;
                while at < bytes.len() && !bytes[at..].starts_with(b"\"\"\"") {
                    at += if bytes[at..].starts_with(b"\\\"\"\"") {
                        4
                    } else {
                        1
                    };
                }
                at += 2;
            }
            b'"' => {
                at += 1;
                while at < bytes.len() && bytes[at] != b'"' && bytes[at] != b'\n' {
                    if bytes[at..].starts_with(b"\\u0000") {
                        return Err(nul_refused());
                    }
                    at += if bytes[at] == b'\\' { 2 } else { 1 };
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(refused(format!(
                        "the query nests brackets more than {MAX_NESTING} deep"
                    )));
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        at += 1;
    }
    Ok(())
}

/// What the checks learnt of a request that passed them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checked {
    /// Whether an operation of the document selects an authentication field.
    pub authenticates: bool,
}

/// Runs every check of this module on `request`, parsing it on the way (through `parsed`, so
/// the executor reuses the document). `internal` says whether the caller is an internal
/// user. A text that does not parse is left to the executor, which reports its syntax error.
pub(super) fn check(
    request: &mut Request,
    parsed: &ParsedQueries,
    internal: bool,
    public_introspection: bool,
) -> Result<Checked, ServerError> {
    check_text(&request.query)?;
    if request
        .variables
        .iter()
        .any(|(_, value)| const_has_nul(value))
    {
        return Err(nul_refused());
    }
    parsed.attach(request);
    let Ok(document) = request.parsed_query() else {
        return Ok(Checked::default());
    };
    let root = check_document(document)?;
    if root.introspection && !public_introspection && !internal {
        let mut error = refused("introspection is available to internal users only");
        let mut extensions = ErrorExtensionValues::default();
        extensions.set("code", "FORBIDDEN");
        error.extensions = Some(extensions);
        return Err(error);
    }
    Ok(Checked {
        authenticates: root.authentication > 0,
    })
}

fn nul_refused() -> ServerError {
    refused("text values must not contain NUL characters (\\u0000)")
}

fn const_has_nul(value: &async_graphql::Value) -> bool {
    use async_graphql::Value;
    match value {
        Value::String(text) => text.contains('\0'),
        Value::List(items) => items.iter().any(const_has_nul),
        Value::Object(fields) => fields.values().any(const_has_nul),
        _ => false,
    }
}

/// Checks authentication fields and depth over every operation; says what the operations'
/// root selections hold together.
fn check_document(document: &ExecutableDocument) -> ServerResult<Root> {
    let mut all = Root::default();
    for (_, operation) in document.operations.iter() {
        let operation = &operation.node;
        let mut walk = Walk {
            fragments: &document.fragments,
            expanding: HashSet::new(),
            visited: 0,
            root: Root::default(),
        };
        walk.selection_set(&operation.selection_set.node, Path::root())?;
        if operation.ty == OperationType::Mutation && walk.root.authentication > 1 {
            return Err(refused(format!(
                "one authentication field ({}) per request",
                AUTHENTICATION_FIELDS.join(", ")
            )));
        }
        all.introspection |= walk.root.introspection;
        all.authentication += walk.root.authentication;
    }
    Ok(all)
}

/// Where a walk is: the depth so far and, inside introspection, its own depth and lists.
#[derive(Debug, Clone, Copy)]
struct Path {
    depth: usize,
    /// `Some((depth, lists))` inside `__schema` / `__type`.
    introspection: Option<(usize, usize)>,
}

impl Path {
    fn root() -> Self {
        Self {
            depth: 0,
            introspection: None,
        }
    }
}

/// What the root selection of an operation holds.
#[derive(Debug, Default)]
struct Root {
    authentication: usize,
    introspection: bool,
}

struct Walk<'a> {
    fragments: &'a std::collections::HashMap<Name, Positioned<FragmentDefinition>>,
    /// Fragments being expanded on the current path: a cycle (refused by validation) must
    /// not loop here.
    expanding: HashSet<&'a str>,
    /// Selections visited so far (bounded by [`MAX_SELECTIONS`]).
    visited: usize,
    root: Root,
}

impl<'a> Walk<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet, path: Path) -> ServerResult<()> {
        for item in &set.items {
            self.visited += 1;
            if self.visited > MAX_SELECTIONS {
                return Err(refused(format!(
                    "the query selects more than {MAX_SELECTIONS} fields, fragments expanded"
                )));
            }
            match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let name = field.name.node.as_str();
                    if path.depth == 0 {
                        if AUTHENTICATION_FIELDS.contains(&name) {
                            self.root.authentication += 1;
                        }
                        if name == "__schema" || name == "__type" {
                            self.root.introspection = true;
                        }
                    }
                    let next = step(path, name)?;
                    self.selection_set(&field.selection_set.node, next)?;
                }
                Selection::FragmentSpread(spread) => {
                    let name = spread.node.fragment_name.node.as_str();
                    let Some(fragment) = self.fragments.get(name) else {
                        continue; // validation names the unknown fragment
                    };
                    if self.expanding.insert(name) {
                        self.selection_set(&fragment.node.selection_set.node, path)?;
                        self.expanding.remove(name);
                    }
                }
                Selection::InlineFragment(inline) => {
                    self.selection_set(&inline.node.selection_set.node, path)?;
                }
            }
        }
        Ok(())
    }
}

/// The path one field further, or the refusal of a limit.
fn step(path: Path, name: &str) -> ServerResult<Path> {
    let introspection = match path.introspection {
        None if path.depth == 0 && (name == "__schema" || name == "__type") => Some((1, 0)),
        None => None,
        Some((depth, lists)) => {
            let lists = lists + usize::from(INTROSPECTION_LISTS.contains(&name));
            if depth + 1 > MAX_INTROSPECTION_DEPTH || lists > MAX_INTROSPECTION_LISTS {
                return Err(refused(format!(
                    "introspection nests at most {MAX_INTROSPECTION_DEPTH} fields and \
                     {MAX_INTROSPECTION_LISTS} lists of types, fields or values deep"
                )));
            }
            Some((depth + 1, lists))
        }
    };
    let depth = path.depth + 1;
    if introspection.is_none() && depth > MAX_DEPTH {
        return Err(refused(format!(
            "the query nests fields more than {MAX_DEPTH} deep"
        )));
    }
    Ok(Path {
        depth,
        introspection,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(query: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(query).expect("the query parses")
    }

    #[test]
    fn brackets_are_counted_outside_strings_and_comments() {
        let deep = format!(
            "{{ me(x: {}1{}) {{ id }} }}",
            "[".repeat(65),
            "]".repeat(65)
        );
        assert!(check_text(&deep).is_err());
        let fine = format!(
            "{{ me(x: {}1{}) {{ id }} }}",
            "[".repeat(60),
            "]".repeat(60)
        );
        assert!(check_text(&fine).is_ok());
        let quoted = format!(
            "{{ a(x: \"{0}\", y: \"\"\"{0}\\\"\"\"{0}\"\"\") # {0}\n }}",
            "[".repeat(500)
        );
        assert!(check_text(&quoted).is_ok());
        // An escaped quote does not end a string.
        assert!(check_text(&format!("{{ a(x: \"\\\"{}\") }}", "{".repeat(100))).is_ok());
    }

    #[test]
    fn more_than_one_authentication_field_is_refused_through_aliases_and_fragments() {
        let one = parsed("mutation { login(email: \"a\", password: \"b\") { accessToken } }");
        assert!(check_document(&one).is_ok());
        let two = parsed("mutation { a: login(email: \"a\", password: \"b\") { accessToken } b: login(email: \"a\", password: \"c\") { accessToken } }");
        assert!(check_document(&two).is_err());
        let spread = parsed("mutation { ...F setPassword(token: \"t\", password: \"p\") } fragment F on Mutation { login(email: \"a\", password: \"b\") { accessToken } }");
        assert!(check_document(&spread).is_err());
        let cyclic = parsed("query { ...A } fragment A on Query { ...A me { id } }");
        assert!(check_document(&cyclic).is_ok());
    }

    #[test]
    fn fragments_that_multiply_are_cut_off_not_walked() {
        // F0 spreads F1 twice, F1 spreads F2 twice, ...: 2^40 selections from 2 KB of text.
        let mut text = String::from("query { ...F0 }");
        for n in 0..40 {
            text.push_str(&format!(
                " fragment F{n} on Query {{ ...F{m} ...F{m} }}",
                m = n + 1
            ));
        }
        text.push_str(" fragment F40 on Query { __typename }");
        let started = std::time::Instant::now();
        assert!(check_document(&parsed(&text)).is_err());
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "bounded work"
        );
    }

    #[test]
    fn data_depth_and_introspection_have_their_own_limits() {
        let nest = |n: usize| format!("{{ {}id{} }}", "a { ".repeat(n - 1), " }".repeat(n - 1));
        assert!(check_document(&parsed(&nest(MAX_DEPTH))).is_ok());
        assert!(check_document(&parsed(&nest(MAX_DEPTH + 1))).is_err());
        let type_ref = format!("{}kind{}", "ofType { ".repeat(9), " }".repeat(9));
        let standard = format!(
            "{{ __schema {{ types {{ fields {{ args {{ type {{ {type_ref} }} }} }} }} }} }}"
        );
        assert!(check_document(&parsed(&standard)).is_ok_and(|root| root.introspection));
        let amplified = "{ __type(name: \"Query\") { fields { type { fields { type { fields { type { fields { name } } } } } } } } }";
        assert!(check_document(&parsed(amplified)).is_err());
    }

    #[test]
    fn nul_characters_are_refused_anywhere_in_the_text() {
        assert!(check_text(r#"{ leads(filter: { search: "a\u0000" }) { totalCount } }"#).is_err());
        assert!(check_text(r#"query($s: String = "\u0000") { me { id } }"#).is_err());
        assert!(check_text("{ leads(filter: { search: \"a\u{0}\" }) { totalCount } }").is_err());
        assert!(check_text("{ a(s: \"\"\"x\u{0}\"\"\") }").is_err());
        // An escaped backslash before `u0000` is text, not an escape of NUL.
        assert!(check_text(r#"{ leads(filter: { search: "a\\u0000" }) { totalCount } }"#).is_ok());
        assert!(check_text(r#"{ leads(filter: { search: "a" }) { totalCount } }"#).is_ok());
    }
}
