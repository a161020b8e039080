//! The served schema as introspection describes it, for tests that go over every field.

use serde_json::Value;

/// A type reference from introspection.
#[derive(Debug, Clone)]
pub enum TypeRef {
    NonNull(Box<TypeRef>),
    List(Box<TypeRef>),
    Named(String),
}

impl TypeRef {
    /// Reads an introspection `type { kind name ofType { ... } }`.
    pub fn parse(value: &Value) -> TypeRef {
        match value["kind"].as_str() {
            Some("NON_NULL") => TypeRef::NonNull(Box::new(TypeRef::parse(&value["ofType"]))),
            Some("LIST") => TypeRef::List(Box::new(TypeRef::parse(&value["ofType"]))),
            _ => TypeRef::Named(value["name"].as_str().unwrap_or_default().to_owned()),
        }
    }

    /// The named type inside the wrappers.
    pub fn named(&self) -> &str {
        match self {
            TypeRef::NonNull(inner) | TypeRef::List(inner) => inner.named(),
            TypeRef::Named(name) => name,
        }
    }

    /// As written in SDL: `[String!]!`.
    pub fn text(&self) -> String {
        match self {
            TypeRef::NonNull(inner) => format!("{}!", inner.text()),
            TypeRef::List(inner) => format!("[{}]", inner.text()),
            TypeRef::Named(name) => name.clone(),
        }
    }
}
