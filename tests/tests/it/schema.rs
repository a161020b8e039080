//! The checked-in SDL is the contract frontends code against.

#[test]
fn the_served_schema_matches_docs_schema_graphql() {
    let checked_in = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/schema.graphql"
    ))
    .expect("docs/schema.graphql");
    let served = api::graphql::sdl();
    assert!(
        checked_in == served,
        "docs/schema.graphql is out of date: run `cargo run -p api --bin zippcrm print-schema > docs/schema.graphql`"
    );
}
