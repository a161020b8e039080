//! The service desk over HTTP: items owned by a team, routed by its manager (only), worked
//! by their assignees, in queues and "my work", time logged on them, notifications for
//! routing and due dates, and the portal's narrow view.

use serde_json::{json, Value};
use tests::*;

const ITEM: &str = "id title status dueOn overdue description priority cancelReason \
    team { name } assignees { userId budgetMinutes loggedMinutes } routings { assignees { userId } note } notes { body }";

struct Desk {
    app: TestApp,
    admin: String,
    manager: String,
    consultant: String,
    consultant_id: String,
    outsider: String,
    outsider_id: String,
    client: String,
    team: Value,
}

async fn desk() -> Desk {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (manager_id, manager) = create_user(&app, &admin, "mgr@desk.example", "MANAGER").await;
    let (consultant_id, consultant) =
        create_user(&app, &admin, "con@desk.example", "CONSULTANT").await;
    let (outsider_id, outsider) = create_user(&app, &admin, "out@desk.example", "CONSULTANT").await;
    let lead = capture_lead(&app, &admin, "Desk Traders", "cfo@desk.example").await;
    win_lead(&app, &admin, &lead).await;
    let (client, _project) = convert_with_project(&app, &admin, &lead, "cfo@desk.example").await;
    let team = team(
        &app,
        &admin,
        "GST desk",
        &[(manager_id.as_str(), true), (consultant_id.as_str(), false)],
    )
    .await;
    Desk {
        app,
        admin,
        manager,
        consultant,
        consultant_id,
        outsider,
        outsider_id,
        client,
        team,
    }
}

impl Desk {
    async fn open(&self, token: &str, title: &str, due_on: &str) -> Value {
        self.app
            .gql(
                Some(token),
                &format!("mutation($i: OpenServiceItemInput!) {{ openServiceItem(input: $i) {{ caughtUp serviceItem {{ {ITEM} }} }} }}"),
                json!({ "i": { "clientId": self.client, "teamId": self.team, "category": "GST", "title": title,
                               "description": "Internal: check the ITC mismatch", "priority": "HIGH", "dueOn": due_on } }),
            )
            .await
    }

    async fn route(&self, token: &str, item: &Value, users: Value, note: Option<&str>) -> Value {
        self.app
            .gql(
                Some(token),
                &format!("mutation($id: UUID!, $a: [AssignmentInput!]!, $n: String) {{ routeServiceItem(id: $id, assignees: $a, note: $n) {{ serviceItem {{ {ITEM} }} }} }}"),
                json!({ "id": item, "a": users, "n": note }),
            )
            .await
    }

    async fn status(&self, token: &str, item: &Value, status: &str) -> Value {
        self.app
            .gql(
                Some(token),
                "mutation($id: UUID!, $s: ServiceStatus!) { setServiceItemStatus(id: $id, status: $s) { serviceItem { status } } }",
                json!({ "id": item, "s": status }),
            )
            .await
    }
}

fn code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn the_teams_manager_routes_assignees_work_and_the_portal_sees_only_the_outline() {
    let desk = desk().await;
    let app = &desk.app;
    let today = chrono::Utc::now().date_naive();
    let due = (today + chrono::Days::new(1)).to_string();
    let opened = desk
        .open(&desk.consultant, "GSTR-3B for November", &due)
        .await;
    assert!(opened["errors"].is_null(), "{opened}");
    let item = &opened["data"]["openServiceItem"]["serviceItem"];
    assert_eq!(item["status"], "OPEN");
    assert_eq!(item["team"]["name"], "GST desk");
    let id = item["id"].clone();

    // Bad input: an unknown team, a blank title.
    let blank = desk.open(&desk.consultant, "  ", &due).await;
    assert_eq!(code(&blank), "BAD_USER_INPUT", "{blank}");

    // Only the owning team's manager routes: not the consultant, not an admin outside it.
    let me = json!([{ "userId": desk.consultant_id, "budgetMinutes": 240 }]);
    for token in [&desk.consultant, &desk.admin] {
        let refused = desk.route(token, &id, me.clone(), None).await;
        assert_eq!(code(&refused), "FORBIDDEN", "{refused}");
    }
    let portal_user = json!([{ "userId": "00000000-0000-0000-0000-000000000009" }]);
    let unknown = desk.route(&desk.manager, &id, portal_user, None).await;
    assert_eq!(code(&unknown), "BAD_USER_INPUT", "{unknown}");
    let routed = desk.route(&desk.manager, &id, me, Some("yours")).await;
    assert!(routed["errors"].is_null(), "{routed}");
    assert_eq!(
        routed["data"]["routeServiceItem"]["serviceItem"]["status"],
        "ROUTED"
    );

    // Re-routing to two keeps the first routing in the history.
    let both = json!([{ "userId": desk.consultant_id, "budgetMinutes": 240 }, { "userId": desk.outsider_id }]);
    let rerouted = desk.route(&desk.manager, &id, both, None).await;
    let rerouted = &rerouted["data"]["routeServiceItem"]["serviceItem"];
    assert_eq!(rerouted["routings"].as_array().map(Vec::len), Some(2));
    assert_eq!(rerouted["assignees"].as_array().map(Vec::len), Some(2));

    // Someone not on an item cannot move it; nobody starts an item not routed yet; an
    // assignee moves theirs.
    let other = desk.open(&desk.manager, "Board resolution", &due).await;
    let other_id = other["data"]["openServiceItem"]["serviceItem"]["id"].clone();
    let not_on_it = desk
        .status(&desk.consultant, &other_id, "IN_PROGRESS")
        .await;
    assert_eq!(code(&not_on_it), "FORBIDDEN", "{not_on_it}");
    let not_routed = desk.status(&desk.manager, &other_id, "IN_PROGRESS").await;
    assert_eq!(code(&not_routed), "BAD_USER_INPUT", "{not_routed}");
    let started = desk.status(&desk.consultant, &id, "IN_PROGRESS").await;
    assert_eq!(
        started["data"]["setServiceItemStatus"]["serviceItem"]["status"],
        "IN_PROGRESS"
    );
    let note = app
        .gql(
            Some(&desk.consultant),
            "mutation($id: UUID!) { addServiceNote(id: $id, body: \"Asked the client for the purchase register\") { serviceItem { notes { body } } } }",
            json!({ "id": id }),
        )
        .await;
    assert!(note["errors"].is_null(), "{note}");
    desk.status(&desk.consultant, &id, "WAITING_ON_CLIENT")
        .await;

    // Time on the service item: the assignee logs it; someone not on it is refused.
    let log = |token: String, item: Value| async move {
        app.gql(
            Some(&token),
            "mutation($i: TimeEntryInput!) { logTime(input: $i) { entry { id serviceItemId matterId projectId } } }",
            json!({ "i": { "date": today.to_string(), "minutes": 90, "description": "reconciliation", "serviceItemId": item } }),
        )
        .await
    };
    let logged = log(desk.consultant.clone(), id.clone()).await;
    assert!(logged["errors"].is_null(), "{logged}");
    assert_eq!(logged["data"]["logTime"]["entry"]["matterId"], id);
    assert!(logged["data"]["logTime"]["entry"]["projectId"].is_null());
    let not_on_it = log(desk.outsider.clone(), other_id.clone()).await;
    assert_eq!(code(&not_on_it), "FORBIDDEN", "{not_on_it}");
    let both_named = app
        .gql(
            Some(&desk.consultant),
            "mutation($i: TimeEntryInput!) { logTime(input: $i) { entry { id } } }",
            json!({ "i": { "date": today.to_string(), "minutes": 5, "description": "x" } }),
        )
        .await;
    assert_eq!(code(&both_named), "BAD_USER_INPUT", "{both_named}");

    // Queues: by team and status, by assignee, overdue; my work.
    let manager = desk.manager.as_str();
    let queue = |filter: Value| async move {
        app.ok(
            Some(manager),
            "query($f: ServiceQueueFilter) { serviceItems(filter: $f) { id status } }",
            json!({ "f": filter }),
        )
        .await["serviceItems"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(queue(json!({ "teamId": desk.team })).await.len(), 2);
    let waiting = queue(json!({ "statuses": ["WAITING_ON_CLIENT"] })).await;
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["id"], id);
    let assigned = queue(json!({ "assigneeId": desk.consultant_id })).await;
    assert_eq!(assigned.len(), 1);
    assert!(queue(json!({ "overdue": true })).await.is_empty());
    let paged = app
        .ok(
            Some(&desk.manager),
            "query($a: UUID) { serviceItems(first: 1, after: $a) { id } }",
            json!({ "a": queue(json!({})).await[0]["id"] }),
        )
        .await;
    assert_eq!(paged["serviceItems"].as_array().map(Vec::len), Some(1));
    let my_work = app
        .ok(
            Some(&desk.consultant),
            "{ myWork { tasks { id } serviceItems { id assignees { userId loggedMinutes budgetMinutes } } } }",
            json!({}),
        )
        .await;
    let mine = &my_work["myWork"]["serviceItems"];
    assert_eq!(mine.as_array().map(Vec::len), Some(1), "{my_work}");
    let me = mine[0]["assignees"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|x| x["userId"] == desk.consultant_id.as_str())
        })
        .cloned()
        .unwrap_or_default();
    assert_eq!(me["loggedMinutes"], 90);
    assert_eq!(me["budgetMinutes"], 240);

    // The portal sees the outline of its own client's items, none of the internals.
    let portal = activate_portal_user(app, "cfo@desk.example", "a-long-password-4").await;
    let seen = app
        .ok(
            Some(&portal),
            &format!("{{ serviceItems {{ {ITEM} }} }}"),
            json!({}),
        )
        .await;
    let items = seen["serviceItems"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2);
    for item in &items {
        assert!(item["title"].is_string() && item["status"].is_string());
        assert_eq!(item["team"]["name"], "GST desk");
        for hidden in ["description", "priority", "assignees", "routings", "notes"] {
            assert!(
                item[hidden].is_null(),
                "{hidden} shown to the portal: {item}"
            );
        }
    }
    let portal_work = app
        .gql(
            Some(&portal),
            "mutation($id: UUID!) { addServiceNote(id: $id, body: \"hi\") { caughtUp } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code(&portal_work), "FORBIDDEN", "{portal_work}");

    // Another client's portal user sees none of it.
    let lead = capture_lead(app, &desk.admin, "Elsewhere Ltd", "cfo@else.example").await;
    win_lead(app, &desk.admin, &lead).await;
    convert_with_project(app, &desk.admin, &lead, "cfo@else.example").await;
    let stranger = activate_portal_user(app, "cfo@else.example", "a-long-password-5").await;
    let none = app
        .ok(
            Some(&stranger),
            "query($id: UUID!) { serviceItems { id } serviceItem(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(none["serviceItems"], json!([]));
    assert!(none["serviceItem"].is_null());

    // Cancelling: a manager of the team, with a reason; final.
    let other_id = &other_id;
    let cancel = |token: String, reason: &'static str| async move {
        app.gql(
            Some(&token),
            "mutation($id: UUID!, $r: String!) { cancelServiceItem(id: $id, reason: $r) { serviceItem { status cancelReason } } }",
            json!({ "id": other_id, "r": reason }),
        )
        .await
    };
    assert_eq!(
        code(&cancel(desk.consultant.clone(), "dup").await),
        "FORBIDDEN"
    );
    assert_eq!(
        code(&cancel(desk.manager.clone(), " ").await),
        "BAD_USER_INPUT"
    );
    let cancelled = cancel(desk.manager.clone(), "raised twice").await;
    assert_eq!(
        cancelled["data"]["cancelServiceItem"]["serviceItem"]["status"],
        "CANCELLED"
    );
    assert_eq!(
        code(&cancel(desk.manager.clone(), "again").await),
        "BAD_USER_INPUT"
    );

    app.settled().await;
    assert_rebuild_equals_live(app, "service_desk").await;
    assert_rebuild_equals_live(app, "effort").await;
    assert_rebuild_equals_live(app, "notifications").await;
}

#[tokio::test]
async fn assignees_are_told_when_routed_and_when_due_soon_or_overdue_once_each() {
    let desk = desk().await;
    let app = &desk.app;
    let today = chrono::Utc::now().date_naive();
    let soon = desk
        .open(
            &desk.manager,
            "TDS return",
            &(today + chrono::Days::new(2)).to_string(),
        )
        .await;
    let soon = soon["data"]["openServiceItem"]["serviceItem"]["id"].clone();
    let late = desk
        .open(
            &desk.manager,
            "ROC filing",
            &(today - chrono::Days::new(1)).to_string(),
        )
        .await;
    let late = late["data"]["openServiceItem"]["serviceItem"]["id"].clone();
    for item in [&soon, &late] {
        let me = json!([{ "userId": desk.consultant_id }]);
        desk.route(&desk.manager, item, me, None).await;
    }
    let overdue = app
        .ok(
            Some(&desk.manager),
            "{ serviceItems(filter: { overdue: true }) { id overdue } }",
            json!({}),
        )
        .await;
    assert_eq!(
        overdue["serviceItems"],
        json!([{ "id": late, "overdue": true }])
    );

    desk.open(
        &desk.manager,
        "Unrouted notice",
        &(today - chrono::Days::new(3)).to_string(),
    )
    .await;
    for _ in 0..2 {
        let pass = reactions::scheduler::run_once(&app.state.bus, &app.pool, today)
            .await
            .expect("scheduler pass");
        assert_eq!(pass.service_items_checked, 3);
    }
    app.settled().await;
    let kinds = app
        .ok(
            Some(&desk.consultant),
            "{ notifications(first: 50) { kind title } }",
            json!({}),
        )
        .await;
    let mut kinds: Vec<String> = kinds["notifications"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter_map(|n| n["kind"].as_str().map(str::to_owned))
        .collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "service_due_soon",
            "service_overdue",
            "service_routed",
            "service_routed"
        ]
    );
    // An overdue item nobody was routed to alerts the team's manager.
    let managers = app
        .ok(
            Some(&desk.manager),
            "{ notifications(first: 50) { kind title } }",
            json!({}),
        )
        .await;
    let managers: Vec<Value> = managers["notifications"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(managers.len(), 1, "{managers:?}");
    assert_eq!(managers[0]["kind"], "service_overdue");
    assert!(managers[0]["title"]
        .as_str()
        .unwrap_or_default()
        .contains("Unrouted"));
    let outsider = app
        .ok(
            Some(&desk.outsider),
            "{ notifications(first: 50) { kind } }",
            json!({}),
        )
        .await;
    assert_eq!(outsider["notifications"], json!([]));
    assert_rebuild_equals_live(app, "notifications").await;
}
