//! Parsed GraphQL documents by query text. Clients send the same few queries over and over,
//! and parsing one is pure, so each text is parsed once and its document reused (validation
//! and the limits still run on every request).

use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::parser::types::ExecutableDocument;
use async_graphql::Request;

/// Texts longer than this are parsed every time (they would crowd out the common ones).
const MAX_QUERY_BYTES: usize = 4 * 1024;
/// Documents kept; when full the cache starts over, so a flood of distinct texts costs
/// re-parsing the common ones once, never unbounded memory.
const CAPACITY: usize = 256;

/// The cache.
#[derive(Debug, Default)]
pub struct ParsedQueries(Mutex<HashMap<String, ExecutableDocument>>);

impl ParsedQueries {
    /// Gives `request` its parsed document, from the cache or parsed now and remembered.
    /// A text that does not parse is left to the executor, which reports the syntax error.
    pub fn attach(&self, request: &mut Request) {
        if request.query.len() > MAX_QUERY_BYTES {
            return;
        }
        let cached = self.lock().get(&request.query).cloned();
        if let Some(document) = cached {
            request.set_parsed_query(document);
            return;
        }
        let Ok(document) = request.parsed_query().cloned() else {
            return;
        };
        let mut cache = self.lock();
        if cache.len() >= CAPACITY {
            cache.clear();
        }
        cache.insert(request.query.clone(), document);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ExecutableDocument>> {
        // A panic while holding the lock cannot leave the map half-updated in a way that
        // matters: every entry is a complete document.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_is_parsed_once_and_bad_or_huge_texts_are_not_kept() {
        let cache = ParsedQueries::default();
        let mut first = Request::new("{ me { id } }");
        cache.attach(&mut first);
        let mut again = Request::new("{ me { id } }");
        cache.attach(&mut again);
        assert_eq!(cache.lock().len(), 1);
        assert_eq!(
            format!("{:?}", again.parsed_query().ok()),
            format!("{:?}", first.parsed_query().ok())
        );

        cache.attach(&mut Request::new("{ me { "));
        let long = format!("{{ me {{ id {} }} }}", " ".repeat(MAX_QUERY_BYTES));
        cache.attach(&mut Request::new(long));
        assert_eq!(cache.lock().len(), 1);

        for n in 0..CAPACITY {
            cache.attach(&mut Request::new(format!("query Q{n} {{ me {{ id }} }}")));
        }
        assert!(cache.lock().len() <= CAPACITY);
    }
}
