//! A bounded fuzz of the served schema: a few thousand generated operations over every
//! query and mutation field, with well-formed and hostile argument values (wrong types,
//! NULs, huge and negative numbers, dates PostgreSQL cannot store, hand-made cursors, deep
//! lists, unknown fields), inline and as variables, as an anonymous caller, a portal user
//! and an admin. Whatever the input, the server must answer without a 5xx, give every
//! error a code, never answer `INTERNAL`, and keep every projection healthy (no hostile
//! value may reach the log in a shape a fold cannot store).
//!
//! The generator is seeded (`ZIPPCRM_FUZZ_SEED`, printed on failure) so a failure replays.

use std::collections::HashMap;

use serde_json::{json, Value};
use tests::introspection::TypeRef;
use tests::*;

/// Operations per caller.
const OPERATIONS: usize = 1_000;

/// xorshift64*: small, deterministic, good enough to pick cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A value, printable as a GraphQL literal or as JSON (for variables).
#[derive(Debug, Clone)]
enum Lit {
    Null,
    Raw(String),
    Str(String),
    Enum(String),
    List(Vec<Lit>),
    Obj(Vec<(String, Lit)>),
}

impl Lit {
    fn graphql(&self) -> String {
        match self {
            Lit::Null => "null".into(),
            Lit::Raw(text) => text.clone(),
            Lit::Str(text) => serde_json::to_string(text).expect("a string"),
            Lit::Enum(name) => name.clone(),
            Lit::List(items) => format!(
                "[{}]",
                items
                    .iter()
                    .map(Lit::graphql)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Lit::Obj(fields) => format!(
                "{{ {} }}",
                fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.graphql()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
    fn json(&self) -> Value {
        match self {
            Lit::Null => Value::Null,
            Lit::Raw(text) => serde_json::from_str(text).unwrap_or(Value::String(text.clone())),
            Lit::Str(text) | Lit::Enum(text) => Value::String(text.clone()),
            Lit::List(items) => Value::Array(items.iter().map(Lit::json).collect()),
            Lit::Obj(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.json())).collect())
            }
        }
    }
}

/// A root field of Query or Mutation.
#[derive(Debug, Clone)]
struct Root {
    /// `query` or `mutation`.
    operation: &'static str,
    name: String,
    args: Vec<(String, TypeRef)>,
    /// Whether it returns an object (and so needs a selection).
    object: bool,
}

/// What introspection says of the schema.
struct Schema {
    roots: Vec<Root>,
    /// Input objects' fields.
    inputs: HashMap<String, Vec<(String, TypeRef)>>,
    /// Enums' values.
    enums: HashMap<String, Vec<String>>,
}

const TYPE_REF: &str = "kind name ofType { kind name ofType { kind name ofType { kind name } } }";

async fn schema(app: &TestApp, admin: &str) -> Schema {
    let query = format!(
        "{{ __schema {{ queryType {{ name }} mutationType {{ name }} types {{ kind name \
           fields {{ name args {{ name type {{ {TYPE_REF} }} }} type {{ {TYPE_REF} }} }} \
           inputFields {{ name type {{ {TYPE_REF} }} }} enumValues {{ name }} }} }} }}"
    );
    let data = app.ok(Some(admin), &query, json!({})).await;
    let types = data["__schema"]["types"].as_array().expect("types").clone();
    let kinds: HashMap<String, String> = types
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap_or_default().to_owned(),
                t["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let fields_of = |value: &Value, key: &str| -> Vec<(String, TypeRef)> {
        value[key]
            .as_array()
            .map(|fields| {
                fields
                    .iter()
                    .map(|f| {
                        (
                            f["name"].as_str().unwrap_or_default().to_owned(),
                            TypeRef::parse(&f["type"]),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut roots = Vec::new();
    for (operation, root) in [("query", "Query"), ("mutation", "Mutation")] {
        let Some(root) = types.iter().find(|t| t["name"] == root) else {
            continue;
        };
        for field in root["fields"].as_array().expect("fields") {
            let returns = TypeRef::parse(&field["type"]);
            let object = matches!(
                kinds.get(returns.named()).map(String::as_str),
                Some("OBJECT" | "INTERFACE" | "UNION")
            );
            roots.push(Root {
                operation,
                name: field["name"].as_str().expect("name").to_owned(),
                args: fields_of(field, "args"),
                object,
            });
        }
    }
    let inputs = types
        .iter()
        .filter(|t| t["kind"] == "INPUT_OBJECT")
        .map(|t| {
            (
                t["name"].as_str().expect("name").to_owned(),
                fields_of(t, "inputFields"),
            )
        })
        .collect();
    let enums = types
        .iter()
        .filter(|t| t["kind"] == "ENUM")
        .map(|t| {
            let values = t["enumValues"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .filter_map(|e| e["name"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            (t["name"].as_str().expect("name").to_owned(), values)
        })
        .collect();
    Schema {
        roots,
        inputs,
        enums,
    }
}

struct Generator<'a> {
    rng: Rng,
    schema: &'a Schema,
    /// Ids of real records, so that some operations get past "not found".
    ids: Vec<String>,
}

impl Generator<'_> {
    fn hostile(&mut self) -> Lit {
        let cases = [
            Lit::Raw("-1".into()),
            Lit::Raw("99999999999999".into()),
            Lit::Raw("1.5".into()),
            Lit::Raw("true".into()),
            Lit::Str("a\u{0}b".into()),
            Lit::Str("x".repeat(20_000)),
            Lit::Str("\u{202E}exe.pdf".into()),
            Lit::Str("-262143-01-01".into()),
            Lit::Str("+262142-12-31T23:59:59Z".into()),
            Lit::Enum("NOT_A_VALUE".into()),
            Lit::List(vec![Lit::Raw("1".into())]),
            Lit::Obj(vec![("unknown".into(), Lit::Raw("1".into()))]),
            Lit::Null,
            Lit::Raw(format!("{}1{}", "[".repeat(40), "]".repeat(40))),
        ];
        self.rng.pick(&cases).clone()
    }

    fn value(&mut self, ty: &TypeRef, depth: usize) -> Lit {
        if self.rng.chance(8) || depth > 4 {
            return self.hostile();
        }
        match ty {
            TypeRef::NonNull(inner) => self.value(inner, depth),
            TypeRef::List(inner) => {
                let n = self.rng.below(3);
                Lit::List((0..n).map(|_| self.value(inner, depth + 1)).collect())
            }
            TypeRef::Named(name) => self.named(name, depth),
        }
    }

    fn named(&mut self, name: &str, depth: usize) -> Lit {
        if let Some(values) = self.schema.enums.get(name) {
            return Lit::Enum(self.rng.pick(values).clone());
        }
        if let Some(fields) = self.schema.inputs.get(name) {
            let fields = fields.clone();
            let mut out = Vec::new();
            for (field, ty) in &fields {
                if matches!(ty, TypeRef::NonNull(_)) || self.rng.chance(50) {
                    out.push((field.clone(), self.value(ty, depth + 1)));
                }
            }
            return Lit::Obj(out);
        }
        match name {
            "UUID" => {
                if !self.ids.is_empty() && self.rng.chance(60) {
                    Lit::Str(self.rng.pick(&self.ids).clone())
                } else {
                    Lit::Str(uuid::Uuid::new_v4().to_string())
                }
            }
            "Int" => Lit::Raw(
                self.rng
                    .pick(&["0", "1", "5", "70", "-3", "2147483647", "-2147483648"])
                    .to_string(),
            ),
            "Float" => Lit::Raw(
                self.rng
                    .pick(&["0", "0.5", "6", "-1", "1e300", "-1e300"])
                    .to_string(),
            ),
            "Boolean" => Lit::Raw(self.rng.pick(&["true", "false"]).to_string()),
            "NaiveDate" => Lit::Str(
                self.rng
                    .pick(&[
                        "2026-12-01",
                        "2027-02-28",
                        "0001-01-01",
                        "9999-12-31",
                        "2026-02-30",
                        "soon",
                    ])
                    .to_string(),
            ),
            "DateTime" => Lit::Str(
                self.rng
                    .pick(&[
                        "2026-12-01T00:00:00Z",
                        "1970-01-01T00:00:00Z",
                        "9999-12-31T23:59:59Z",
                        "yesterday",
                    ])
                    .to_string(),
            ),
            _ => {
                // Strings, including those a cursor or an email expects.
                let cursor = {
                    use base64::Engine as _;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
                        "{}|{}",
                        uuid::Uuid::new_v4(),
                        self.rng
                            .pick(&["abc", "5", "2026-12-01 00:00:00+00", "", "1e999"])
                    ))
                };
                let strings = [
                    "Acme Finance".to_owned(),
                    "asha@acme.example".to_owned(),
                    "".to_owned(),
                    "  ".to_owned(),
                    "Ünïcode ✓ 漢字".to_owned(),
                    "<script>alert(1)</script>".to_owned(),
                    "'; DROP TABLE events; --".to_owned(),
                    "%_\\".to_owned(),
                    cursor,
                    "violet tractor lagoon".to_owned(),
                ];
                Lit::Str(self.rng.pick(&strings).clone())
            }
        }
    }

    /// An operation: its text and variables.
    fn operation(&mut self) -> (String, Value) {
        let Root {
            operation,
            name,
            args,
            object,
        } = self.rng.pick(&self.schema.roots).clone();
        let mut declared = Vec::new();
        let mut variables = serde_json::Map::new();
        let mut written = Vec::new();
        for (arg, ty) in &args {
            if !matches!(ty, TypeRef::NonNull(_)) && self.rng.chance(40) {
                continue;
            }
            let value = self.value(ty, 0);
            if self.rng.chance(25) {
                declared.push(format!("${arg}: {}", ty.text()));
                variables.insert(arg.clone(), value.json());
                written.push(format!("{arg}: ${arg}"));
            } else {
                written.push(format!("{arg}: {}", value.graphql()));
            }
        }
        let arguments = if written.is_empty() {
            String::new()
        } else {
            format!("({})", written.join(", "))
        };
        let declared = if declared.is_empty() {
            String::new()
        } else {
            format!("({})", declared.join(", "))
        };
        let selection = if object { " { __typename }" } else { "" };
        (
            format!("{operation} F{declared} {{ {name}{arguments}{selection} }}"),
            Value::Object(variables),
        )
    }
}

#[tokio::test]
async fn generated_operations_never_answer_internal() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Acme Finance", "asha@acme.example").await;
    win_lead(&app, &admin, &lead).await;
    let (client, project) = convert_with_project(&app, &admin, &lead, "asha@acme.example").await;
    let portal = activate_portal_user(&app, "asha@acme.example", "violet tractor lagoon").await;
    let other_lead = capture_lead(&app, &admin, "Bravo", "b@bravo.example").await;
    let admin_id = app.ok(Some(&admin), "{ me { id } }", json!({})).await["me"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let schema = schema(&app, &admin).await;
    let seed = std::env::var("ZIPPCRM_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_2026_u64);
    let mut generator = Generator {
        rng: Rng(seed),
        schema: &schema,
        ids: vec![lead, other_lead, client, project, admin_id],
    };
    let callers = [None, Some(portal.as_str()), Some(admin.as_str())];
    let mut answered = 0;
    let mut outcomes = std::collections::BTreeMap::new();
    for n in 0..OPERATIONS * callers.len() {
        let caller = callers[n % callers.len()];
        let (query, variables) = generator.operation();
        let response = app
            .http
            .post(format!("{}/graphql", app.address))
            .json(&json!({ "query": query, "variables": variables }));
        let response = match caller {
            Some(token) => response.bearer_auth(token),
            None => response,
        }
        .send()
        .await
        .expect("sent");
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        let context = format!("seed {seed}, operation {n}: {query} {variables} -> {status} {body}");
        assert!(!status.is_server_error(), "{context}");
        for error in body["errors"].as_array().into_iter().flatten() {
            let code = error["extensions"]["code"].as_str();
            assert!(code.is_some(), "an error without a code: {context}");
            assert_ne!(code, Some("INTERNAL"), "{context}");
        }
        answered += 1;
        let outcome = body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("ok")
            .to_owned();
        *outcomes.entry(outcome).or_insert(0usize) += 1;
    }
    eprintln!("fuzz outcomes: {outcomes:?}");
    assert_eq!(answered, OPERATIONS * callers.len());

    // Whatever was accepted, every projection folded it (read from the table: the fuzz may
    // have changed the admin's own role).
    let failing: Vec<(String, Option<String>)> = sqlx::query_as(
        "SELECT name, last_error FROM projection_checkpoints WHERE last_error IS NOT NULL",
    )
    .fetch_all(&app.pool)
    .await
    .expect("checkpoints");
    assert!(failing.is_empty(), "seed {seed}: {failing:?}");
    app.stop().await;
}
