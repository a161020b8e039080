//! What a customer reaches of the firm. A portal user sees the firm's people and
//! organisation only in the narrow view of `User`, `Team` and `Department` (a person's id
//! and display name, a team's id and name), whatever path leads there; and every nested
//! path from what a portal user may read to a type only internal users may ask for is
//! listed here, narrowed or justified, by a walk of the served schema.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde_json::{json, Value};
use tests::introspection::TypeRef;
use tests::*;

/// How an edge from the portal's reach into an internal type is held.
#[derive(Debug, Clone, Copy)]
enum Reach {
    /// The target type gives customers its narrow view (tested below over HTTP).
    Narrowed,
    /// The customer may see it, for the reason given.
    Justified(&'static str),
}

/// Every edge (`Type.field -> Target`) from a type a portal user reaches into a type that
/// only internal users may ask for at the root.
const EDGES: &[(&str, Reach)] = &[
    ("Query.me -> User", Reach::Narrowed),
    ("AuthPayload.user -> User", Reach::Narrowed),
    ("TimeEntry.user -> User", Reach::Narrowed),
    ("ServiceAssignee.user -> User", Reach::Narrowed),
    ("ServiceNote.by -> User", Reach::Narrowed),
    ("TeamMember.user -> User", Reach::Narrowed),
    ("ServiceItem.team -> Team", Reach::Narrowed),
    ("Department.teams -> Team", Reach::Narrowed),
    ("Team.department -> Department", Reach::Narrowed),
    (
        "Project.tasks -> Task",
        Reach::Justified("the task tree of the customer's own project, with its roll-up: their matter's progress"),
    ),
    (
        "Task.subtasks -> Task",
        Reach::Justified("as a project's tasks"),
    ),
    (
        "DocumentRequest.uploads -> Upload",
        Reach::Justified("the customer's own uploads to their own requests, with their review state"),
    ),
    (
        "EffortTotal.amounts -> Money",
        Reach::Justified("what the customer's approved effort costs them"),
    ),
    (
        "StatementLine.amount -> Money",
        Reach::Justified("the customer's own statement: what they owe"),
    ),
    (
        "StatementLine.hourly -> Money",
        Reach::Justified("the rate their own statement priced a line at"),
    ),
    (
        "Project.stageAdvances -> StageAdvance",
        Reach::Justified("refused to customers at the field (FORBIDDEN), tested below"),
    ),
    (
        "Project.changeProposals -> ChangeProposal",
        Reach::Justified("refused to customers at the field (FORBIDDEN), tested below"),
    ),
];

#[derive(Debug, Clone)]
struct Arg {
    name: String,
    ty: TypeRef,
    has_default: bool,
}

#[derive(Debug, Clone)]
struct Field {
    name: String,
    args: Vec<Arg>,
    ty: TypeRef,
}

#[derive(Debug, Default, Clone)]
struct Type {
    kind: String,
    fields: Vec<Field>,
    inputs: Vec<Arg>,
    possible: Vec<String>,
    values: Vec<String>,
}

const INTROSPECT: &str = "{ __schema { types { name kind possibleTypes { name } enumValues { name } \
    inputFields { name defaultValue type { ...T } } \
    fields { name args { name defaultValue type { ...T } } type { ...T } } } } } \
    fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }";

async fn schema(app: &TestApp, token: &str) -> BTreeMap<String, Type> {
    let data = app.ok(Some(token), INTROSPECT, json!({})).await;
    let args = |list: &Value| -> Vec<Arg> {
        list.as_array()
            .into_iter()
            .flatten()
            .map(|a| Arg {
                name: a["name"].as_str().unwrap_or_default().to_owned(),
                ty: TypeRef::parse(&a["type"]),
                has_default: !a["defaultValue"].is_null(),
            })
            .collect()
    };
    let names = |list: &Value| -> Vec<String> {
        list.as_array()
            .into_iter()
            .flatten()
            .filter_map(|v| v["name"].as_str().map(str::to_owned))
            .collect()
    };
    data["__schema"]["types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|t| {
            let fields = t["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|f| Field {
                    name: f["name"].as_str().unwrap_or_default().to_owned(),
                    args: args(&f["args"]),
                    ty: TypeRef::parse(&f["type"]),
                })
                .collect();
            (
                t["name"].as_str().unwrap_or_default().to_owned(),
                Type {
                    kind: t["kind"].as_str().unwrap_or_default().to_owned(),
                    fields,
                    inputs: args(&t["inputFields"]),
                    possible: names(&t["possibleTypes"]),
                    values: names(&t["enumValues"]),
                },
            )
        })
        .collect()
}

/// A literal of type `ty` that passes the schema's own checks, so that a field refuses a
/// caller for who they are, not for what they sent.
fn literal(types: &BTreeMap<String, Type>, name: &str, ty: &TypeRef) -> String {
    match ty {
        TypeRef::NonNull(inner) => literal(types, name, inner),
        TypeRef::List(inner) => format!("[{}]", literal(types, name, inner)),
        TypeRef::Named(named) => match named.as_str() {
            "UUID" => format!("\"{}\"", uuid::Uuid::new_v4()),
            "Int" => "1".into(),
            "Float" => "1.0".into(),
            "Boolean" => "false".into(),
            "NaiveDate" => "\"2026-11-02\"".into(),
            "DateTime" => "\"2026-11-02T00:00:00Z\"".into(),
            "JSON" => "{}".into(),
            "String" if name == "month" => "\"2026-11\"".into(),
            "String" if name.to_lowercase().contains("email") => "\"nobody@portal.example\"".into(),
            "String" => "\"x\"".into(),
            other => {
                let ty = &types[other];
                if ty.kind == "ENUM" {
                    ty.values[0].clone()
                } else {
                    let fields: Vec<String> = ty
                        .inputs
                        .iter()
                        .filter(|f| matches!(f.ty, TypeRef::NonNull(_)) && !f.has_default)
                        .map(|f| format!("{}: {}", f.name, literal(types, &f.name, &f.ty)))
                        .collect();
                    format!("{{ {} }}", fields.join(", "))
                }
            }
        },
    }
}

fn composite(types: &BTreeMap<String, Type>, name: &str) -> bool {
    types
        .get(name)
        .is_some_and(|t| matches!(t.kind.as_str(), "OBJECT" | "INTERFACE" | "UNION"))
}

/// The required arguments of `field`, as literals: `(a: 1, b: "x")`, or nothing.
fn arguments(types: &BTreeMap<String, Type>, field: &Field) -> String {
    let args: Vec<String> = field
        .args
        .iter()
        .filter(|a| matches!(a.ty, TypeRef::NonNull(_)) && !a.has_default)
        .map(|a| format!("{}: {}", a.name, literal(types, &a.name, &a.ty)))
        .collect();
    if args.is_empty() {
        String::new()
    } else {
        format!("({})", args.join(", "))
    }
}

/// Asks `root.field` as `token` with well-formed arguments: whether it answered FORBIDDEN.
async fn forbidden(
    app: &TestApp,
    token: &str,
    types: &BTreeMap<String, Type>,
    operation: &str,
    field: &Field,
) -> bool {
    let args = arguments(types, field);
    let selection = if composite(types, field.ty.named()) {
        " { __typename }"
    } else {
        ""
    };
    let query = format!("{operation} {{ {}{args}{selection} }}", field.name);
    let answer = app.gql(Some(token), &query, json!({})).await;
    let codes: Vec<&str> = answer["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["extensions"]["code"].as_str())
        .collect();
    assert!(
        !codes.contains(&"INTERNAL"),
        "{query} answered INTERNAL: {answer}"
    );
    codes.contains(&"FORBIDDEN")
}

/// A customer of a converted lead, with a service item of theirs owned by a team of two.
struct Customer {
    app: TestApp,
    admin: String,
    portal: String,
    consultant_id: String,
    project: String,
    item: Value,
}

async fn customer() -> Customer {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (manager_id, manager) = create_user(&app, &admin, "mgr@reach.example", "MANAGER").await;
    let (consultant_id, consultant) =
        create_user(&app, &admin, "con@reach.example", "CONSULTANT").await;
    let lead = capture_lead(&app, &admin, "Reach Traders", "cfo@reach.example").await;
    win_lead(&app, &admin, &lead).await;
    let (client, project) = convert_with_project(&app, &admin, &lead, "cfo@reach.example").await;
    let portal = activate_portal_user(&app, "cfo@reach.example", "violet tractor lagoon").await;
    let team = team(
        &app,
        &admin,
        "GST desk",
        &[(manager_id.as_str(), true), (consultant_id.as_str(), false)],
    )
    .await;
    let item = app
        .ok(
            Some(&admin),
            "mutation($i: OpenServiceItemInput!) { openServiceItem(input: $i) { serviceItem { id } } }",
            json!({ "i": { "clientId": client, "teamId": team, "category": "GST", "title": "GSTR-9",
                           "description": "annual return", "priority": "HIGH" } }),
        )
        .await["openServiceItem"]["serviceItem"]["id"]
        .clone();
    // Approved effort on it, so the portal reaches the consultant through a time entry.
    let monday = chrono::Utc::now()
        .date_naive()
        .week(chrono::Weekday::Mon)
        .first_day();
    app.ok(
        Some(&manager),
        "mutation($id: UUID!, $a: [AssignmentInput!]!) { routeServiceItem(id: $id, assignees: $a) { caughtUp } }",
        json!({ "id": item, "a": [{ "userId": consultant_id }] }),
    )
    .await;
    app.ok(
        Some(&consultant),
        "mutation($i: TimeEntryInput!) { logTime(input: $i) { caughtUp } }",
        json!({ "i": { "date": monday.to_string(), "minutes": 60, "description": "reconciliation", "serviceItemId": item } }),
    )
    .await;
    app.ok(
        Some(&consultant),
        "mutation($w: NaiveDate!) { submitTimesheet(weekOf: $w) { caughtUp } }",
        json!({ "w": monday.to_string() }),
    )
    .await;
    app.ok(
        Some(&manager),
        "mutation($u: UUID!, $w: NaiveDate!) { approveTimesheet(userId: $u, weekOf: $w) { caughtUp } }",
        json!({ "u": consultant_id, "w": monday.to_string() }),
    )
    .await;
    Customer {
        app,
        admin,
        portal,
        consultant_id,
        project,
        item,
    }
}

#[tokio::test]
async fn every_path_to_the_firms_people_gives_a_customer_the_same_narrow_view() {
    let c = customer().await;
    let app = &c.app;
    let walk = "query($id: UUID!) { serviceItem(id: $id) { title team { id name departmentId \
        department { id name teams { name } } members { manager user { displayName role active } } } } }";
    let seen = app.ok(Some(&c.portal), walk, json!({ "id": c.item })).await;
    let team = &seen["serviceItem"]["team"];
    assert_eq!(
        team["name"], "GST desk",
        "the team's name is the customer's to know"
    );
    for field in ["departmentId", "department", "members"] {
        assert_eq!(team[field], Value::Null, "{field}: {seen}");
    }
    // The firm's own people see the whole of it on the same path.
    let full = app.ok(Some(&c.admin), walk, json!({ "id": c.item })).await;
    let members = full["serviceItem"]["team"]["members"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(members.len(), 2, "{full}");
    assert_eq!(members[0]["user"]["role"], "MANAGER");
    assert!(full["serviceItem"]["team"]["department"]["teams"].is_array());

    // A person reached through approved effort: their display name, nothing more.
    let effort = "{ approvedEffort { minutes user { id displayName email role clientId active createdAt } } }";
    let seen = app.ok(Some(&c.portal), effort, json!({})).await;
    let entries = seen["approvedEffort"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(entries.len(), 1, "{seen}");
    let user = &entries[0]["user"];
    assert_eq!(user["id"], c.consultant_id.as_str());
    assert_eq!(user["displayName"], "con@reach.example");
    for field in ["email", "role", "clientId", "active", "createdAt"] {
        assert_eq!(user[field], Value::Null, "{field}: {seen}");
    }
    // Themself, in full.
    let me = app
        .ok(
            Some(&c.portal),
            "{ me { role active clientId email } }",
            json!({}),
        )
        .await;
    assert_eq!(me["me"]["role"], "CLIENT");
    assert_eq!(me["me"]["active"], true);
    assert!(me["me"]["clientId"].is_string());
    // The organisation's own queries stay closed to them, and so do their project's
    // held changes and stage advances, at the field.
    for query in [
        "{ users { id } }",
        "{ teams { id } }",
        "{ departments { id } }",
    ] {
        let refused = app.gql(Some(&c.portal), query, json!({})).await;
        assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{query}");
    }
    for field in ["stageAdvances { id }", "changeProposals { __typename }"] {
        let query = format!("query($id: UUID!) {{ project(id: $id) {{ id {field} }} }}");
        let refused = app
            .gql(Some(&c.portal), &query, json!({ "id": c.project }))
            .await;
        assert_eq!(
            error_code(&refused),
            Some("FORBIDDEN"),
            "{query}: {refused}"
        );
    }
}

#[tokio::test]
async fn every_edge_from_the_portals_reach_into_an_internal_type_is_narrowed_or_justified() {
    let c = customer().await;
    let types = schema(&c.app, &c.admin).await;
    // Which root fields a portal user may ask (anything but FORBIDDEN: a conservative
    // reading, so that a field refusing bad input is still walked).
    let mut portal_roots: Vec<(String, Field)> = Vec::new();
    let mut internal_types: BTreeSet<String> = BTreeSet::new();
    let mut portal_types: BTreeSet<String> = BTreeSet::new();
    for (root, operation) in [("Query", "query"), ("Mutation", "mutation")] {
        for field in &types[root].fields {
            let target = field.ty.named().to_owned();
            if forbidden(&c.app, &c.portal, &types, operation, field).await {
                internal_types.insert(target);
            } else {
                // `me` is the one root whose type is about the caller: it does not make
                // `User` the portal's to read.
                if field.name != "me" {
                    portal_types.insert(target);
                }
                portal_roots.push((root.to_owned(), field.clone()));
            }
        }
    }
    for field in &types["Subscription"].fields {
        let query = format!(
            "subscription {{ {}{} {{ __typename }} }}",
            field.name,
            arguments(&types, field)
        );
        match tests::ws::subscribe(&c.app, Some(&c.portal), &query).await {
            Ok(_) => {
                portal_types.insert(field.ty.named().to_owned());
                portal_roots.push(("Subscription".to_owned(), field.clone()));
            }
            Err(refusal) => {
                let code = &refusal["payload"]["errors"][0]["extensions"]["code"];
                assert_eq!(code, "FORBIDDEN", "{query}: {refusal}");
                internal_types.insert(field.ty.named().to_owned());
            }
        }
    }
    let internal: BTreeSet<String> = internal_types
        .difference(&portal_types)
        .filter(|name| composite(&types, name))
        .cloned()
        .collect();

    // Walk everything a portal user reaches, noting each edge into an internal type.
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut seen: BTreeSet<String> = BTreeSet::new();
    let mut queue: VecDeque<String> = VecDeque::new();
    for (root, field) in &portal_roots {
        let target = field.ty.named();
        if internal.contains(target) {
            found.insert(format!("{root}.{} -> {target}", field.name));
        }
        if composite(&types, target) && seen.insert(target.to_owned()) {
            queue.push_back(target.to_owned());
        }
    }
    while let Some(name) = queue.pop_front() {
        let ty = &types[&name];
        let mut next: Vec<(String, String)> = ty
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.ty.named().to_owned()))
            .collect();
        next.extend(ty.possible.iter().map(|p| ("...".to_owned(), p.clone())));
        for (field, target) in next {
            if !composite(&types, &target) {
                continue;
            }
            if internal.contains(&target) {
                found.insert(format!("{name}.{field} -> {target}"));
            }
            if seen.insert(target.clone()) {
                queue.push_back(target);
            }
        }
    }
    let listed: BTreeSet<String> = EDGES.iter().map(|(edge, _)| (*edge).to_owned()).collect();
    let unlisted: Vec<&String> = found.difference(&listed).collect();
    let stale: Vec<&String> = listed.difference(&found).collect();
    assert!(
        unlisted.is_empty() && stale.is_empty(),
        "edges from the portal's reach into internal types ({internal:?}):\n\
         not listed (narrow the target type for customers, or justify): {unlisted:#?}\n\
         listed but gone: {stale:#?}"
    );
    for (edge, reach) in EDGES {
        if let Reach::Justified(why) = reach {
            assert!(!why.is_empty(), "{edge}: say why a customer may see it");
        }
    }
}
