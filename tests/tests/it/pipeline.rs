//! The sales pipeline end to end through GraphQL over HTTP.

use serde_json::json;
use tests::*;

#[tokio::test]
async fn a_lead_becomes_a_client_with_a_project_and_a_portal_user() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Acme Finance", "asha@acme.example").await;

    // Read your writes: the list right after the mutation shows the lead.
    let list = app
        .ok(
            Some(&admin),
            "{ leads(first: 10) { edges { node { id company stage owner { displayName } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["leads"]["edges"][0]["node"]["id"], lead.as_str());
    assert_eq!(list["leads"]["edges"][0]["node"]["stage"], "PROSPECT");
    assert_eq!(
        list["leads"]["edges"][0]["node"]["owner"]["displayName"],
        "Administrator"
    );

    app.ok(
        Some(&admin),
        "mutation($id: UUID!) { logLeadActivity(id: $id, input: { kind: \"call\", summary: \"Discussed capital\", followUpOn: \"2026-12-01\" }) { lead { nextFollowUp activityCount } } }",
        json!({ "id": lead }),
    )
    .await;
    let noted = app.ok(Some(&admin), "mutation($id: UUID!) { addLeadNote(id: $id, body: \"Needs NBFC CoR\") { lead { noteCount notes { body } } } }", json!({ "id": lead })).await;
    assert_eq!(noted["addLeadNote"]["lead"]["noteCount"], 1);

    // Converting before the lead is won is refused with a clear error.
    let early = app
        .gql(
            Some(&admin),
            "mutation($i: ConvertLeadInput!) { convertLead(input: $i) { caughtUp } }",
            json!({ "i": { "leadId": lead } }),
        )
        .await;
    assert_eq!(error_code(&early), Some("BAD_USER_INPUT"), "{early}");

    win_lead(&app, &admin, &lead).await;
    let (client, project) = convert_with_project(&app, &admin, &lead, "asha@acme.example").await;

    let read = app
        .ok(
            Some(&admin),
            "query($c: UUID!, $p: UUID!, $l: UUID!) { client(id: $c) { name contacts { email isPrimary } projects { id } } \
             project(id: $p) { family templateVersion status currentStage stages { key items { key status } } } lead(id: $l) { stage client { id } } }",
            json!({ "c": client, "p": project, "l": lead }),
        )
        .await;
    assert_eq!(read["client"]["name"], "Acme Finance");
    assert_eq!(read["client"]["contacts"][0]["isPrimary"], true);
    assert_eq!(read["client"]["projects"][0]["id"], project.as_str());
    assert_eq!(read["project"]["family"], "RBI");
    assert_eq!(read["project"]["templateVersion"], 1);
    assert_eq!(read["project"]["status"], "ACTIVE");
    assert_eq!(read["project"]["currentStage"], "ONBOARDING");
    assert_eq!(read["project"]["stages"].as_array().map(Vec::len), Some(5));
    assert_eq!(read["lead"]["stage"], "WON");
    assert_eq!(read["lead"]["client"]["id"], client.as_str());

    // Converting twice is refused.
    let twice = app
        .gql(
            Some(&admin),
            "mutation($i: ConvertLeadInput!) { convertLead(input: $i) { caughtUp } }",
            json!({ "i": { "leadId": lead } }),
        )
        .await;
    assert_eq!(error_code(&twice), Some("CONFLICT"), "{twice}");

    // The primary contact got a portal user and can log in after setting a password.
    let portal = activate_portal_user(&app, "asha@acme.example", "portal-password-1").await;
    let mine = app
        .ok(
            Some(&portal),
            "{ me { role clientId } projects(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["me"]["role"], "CLIENT");
    assert_eq!(mine["me"]["clientId"], client.as_str());
    assert_eq!(mine["projects"]["edges"][0]["node"]["id"], project.as_str());

    // History shows every event with its actor, in order; the conversion is correlated.
    let history = app.ok(Some(&admin), "query($id: UUID!) { history(aggregateType: LEAD, aggregateId: $id, first: 100) { nodes { sequence eventType actorRole payload } } }", json!({ "id": lead })).await;
    // Each payload is the stored document, as JSON (not a string of it).
    let stored: Vec<serde_json::Value> = sqlx::query_scalar(
        "SELECT payload FROM events WHERE aggregate_type = 'Lead' AND aggregate_id = $1 ORDER BY sequence",
    )
    .bind(&lead)
    .fetch_all(&app.pool)
    .await
    .expect("stored payloads");
    let served: Vec<_> = history["history"]["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["payload"].clone())
        .collect();
    assert_eq!(served, stored);
    assert_eq!(
        served[2]["LeadNoteAdded"]["body"], "Needs NBFC CoR",
        "{served:?}"
    );
    let types: Vec<_> = history["history"]["nodes"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["eventType"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        [
            "LeadCaptured",
            "LeadActivityLogged",
            "LeadNoteAdded",
            "LeadStageChanged",
            "LeadStageChanged",
            "LeadConverted"
        ]
    );
    assert_eq!(history["history"]["nodes"][0]["actorRole"], "admin");
    app.stop().await;
}

#[tokio::test]
async fn invalid_transitions_and_duplicates_are_refused_with_clear_errors() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Beta Insurance", "ravi@beta.example").await;

    let win = app
        .gql(
            Some(&admin),
            "mutation($id: UUID!) { markLeadWon(id: $id) { caughtUp } }",
            json!({ "id": lead }),
        )
        .await;
    assert_eq!(error_code(&win), Some("BAD_USER_INPUT"));
    assert!(
        win["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("proposal or negotiation"),
        "{win}"
    );

    let lose = app
        .gql(
            Some(&admin),
            "mutation($id: UUID!) { markLeadLost(id: $id, reason: \"  \") { caughtUp } }",
            json!({ "id": lead }),
        )
        .await;
    assert_eq!(error_code(&lose), Some("BAD_USER_INPUT"));

    let missing = app
        .gql(
            Some(&admin),
            "mutation($id: UUID!) { scoreLead(id: $id, score: 5) { caughtUp } }",
            json!({ "id": uuid::Uuid::new_v4() }),
        )
        .await;
    assert_eq!(error_code(&missing), Some("NOT_FOUND"));

    let bad_email = app
        .gql(
            Some(&admin),
            "mutation { captureLead(input: { company: \"X\", contactName: \"Y\", email: \"not-an-email\", source: OTHER, serviceInterest: \"GST\" }) { caughtUp } }",
            json!({}),
        )
        .await;
    assert_eq!(error_code(&bad_email), Some("BAD_USER_INPUT"));
    assert!(
        bad_email["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .starts_with("email:"),
        "{bad_email}"
    );

    let create = "mutation($e: String!) { createUser(input: { email: $e, displayName: \"Priya\", role: SALES, password: \"sales-password-1\" }) { caughtUp user { role } } }";
    let created = app
        .ok(Some(&admin), create, json!({ "e": "priya@firm.example" }))
        .await;
    assert_eq!(created["createUser"]["user"]["role"], "SALES");
    let duplicate = app
        .gql(Some(&admin), create, json!({ "e": "PRIYA@firm.example" }))
        .await;
    assert_eq!(error_code(&duplicate), Some("BAD_USER_INPUT"));
    assert!(
        duplicate["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("already exists"),
        "{duplicate}"
    );

    // A sales user works leads but may not manage users.
    let sales = app.login("priya@firm.example", "sales-password-1").await;
    capture_lead(&app, &sales, "Gamma Advisors", "g@gamma.example").await;
    let forbidden = app
        .gql(Some(&sales), create, json!({ "e": "other@firm.example" }))
        .await;
    assert_eq!(error_code(&forbidden), Some("FORBIDDEN"));
    app.stop().await;
}

#[tokio::test]
async fn lead_lists_filter_sort_and_page_with_cursors() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    for i in 0..5 {
        capture_lead(
            &app,
            &admin,
            &format!("Company {i}"),
            &format!("c{i}@example.com"),
        )
        .await;
    }
    let query = "query($after: String) { leads(first: 2, after: $after, sort: { field: COMPANY, direction: ASC }) { totalCount pageInfo { hasNextPage endCursor } edges { node { company } } } }";
    let mut seen = Vec::new();
    let mut after = serde_json::Value::Null;
    loop {
        let page = app.ok(Some(&admin), query, json!({ "after": after })).await;
        assert_eq!(page["leads"]["totalCount"], 5);
        for edge in page["leads"]["edges"].as_array().expect("edges") {
            seen.push(edge["node"]["company"].as_str().unwrap_or("").to_owned());
        }
        if page["leads"]["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["leads"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(
        seen,
        [
            "Company 0",
            "Company 1",
            "Company 2",
            "Company 3",
            "Company 4"
        ]
    );
    // Every edge's cursor resumes the list right after its edge, and `pageInfo`'s cursors are
    // those of the first and last edge, whether or not the edges' cursors are selected too
    // (cursors are encoded only where the query shows them).
    let sort = "sort: { field: COMPANY, direction: ASC }";
    let all = app
        .ok(
            Some(&admin),
            &format!("{{ leads(first: 5, {sort}) {{ pageInfo {{ startCursor endCursor }} edges {{ cursor node {{ company }} }} }} }}"),
            json!({}),
        )
        .await;
    let edges = all["leads"]["edges"].as_array().expect("edges");
    let cursors: Vec<&str> = edges
        .iter()
        .map(|e| e["cursor"].as_str().expect("a cursor"))
        .collect();
    assert_eq!(all["leads"]["pageInfo"]["startCursor"], cursors[0]);
    assert_eq!(all["leads"]["pageInfo"]["endCursor"], cursors[4]);
    for (i, cursor) in cursors.iter().enumerate() {
        let next = app
            .ok(
                Some(&admin),
                &format!("query($after: String) {{ leads(first: 1, after: $after, {sort}) {{ edges {{ node {{ company }} }} }} }}"),
                json!({ "after": cursor }),
            )
            .await;
        let expected =
            (i < 4).then(|| json!([{ "node": { "company": format!("Company {}", i + 1) } }]));
        assert_eq!(
            next["leads"]["edges"],
            expected.unwrap_or(json!([])),
            "after edge {i}"
        );
    }
    let ends = app
        .ok(
            Some(&admin),
            &format!("{{ leads(first: 3, {sort}) {{ pageInfo {{ startCursor endCursor }} edges {{ node {{ company }} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(ends["leads"]["pageInfo"]["startCursor"], cursors[0]);
    assert_eq!(ends["leads"]["pageInfo"]["endCursor"], cursors[2]);
    let filtered = app
        .ok(
            Some(&admin),
            "{ leads(filter: { search: \"company 3\" }) { edges { node { company } } } }",
            json!({}),
        )
        .await;
    assert_eq!(filtered["leads"]["edges"].as_array().map(Vec::len), Some(1));
    app.stop().await;
}

/// History reads only the columns its query selects; each field selected alone must answer
/// what it answers when every field is selected.
#[tokio::test]
async fn each_history_field_selected_alone_matches_the_full_history() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Field Finance", "field@example.com").await;
    app.ok(
        Some(&admin),
        "mutation($id: UUID!) { addLeadNote(id: $id, body: \"Asked for the net-worth certificate\") { caughtUp } }",
        json!({ "id": lead }),
    )
    .await;
    let fields = field_selections(&app, &admin, "HistoryEvent").await;
    assert!(fields.len() >= 12, "{fields:?}");
    let history = |selection: String| {
        let (app, admin, lead) = (&app, &admin, &lead);
        async move {
            let query = format!(
                "query($id: UUID!) {{ history(aggregateType: LEAD, aggregateId: $id) {{ nodes {{ {selection} }} }} }}"
            );
            let data = app.ok(Some(admin), &query, json!({ "id": lead })).await;
            data["history"]["nodes"].as_array().expect("events").clone()
        }
    };
    let full = history(fields.join(" ")).await;
    assert_eq!(full.len(), 2);
    // Every field of these two events has a value; a field whose column were never read
    // would show its default here (and so would the same field selected alone).
    let unset = |v: &serde_json::Value| {
        v.is_null()
            || v == ""
            || v == 0
            || v.as_str()
                .is_some_and(|s| s.starts_with("1970-01-01") || s.starts_with("00000000-0000"))
    };
    for event in &full {
        let event = event.as_object().expect("event object");
        assert_eq!(event.len(), fields.len());
        assert!(
            !event.values().any(unset),
            "a field was left unread: {event:?}"
        );
    }
    for field in &fields {
        let alone = history(field.clone()).await;
        let name = field.split(' ').next().unwrap_or(field);
        let expected: Vec<_> = full.iter().map(|e| json!({ (name): e[name] })).collect();
        assert_eq!(alone, expected, "history {{ {field} }}");
    }
    // Through a fragment as well.
    let fragment = app
        .ok(
            Some(&admin),
            "query($id: UUID!) { history(aggregateType: LEAD, aggregateId: $id) { edges { node { ...E } } } } fragment E on HistoryEvent { eventType payload }",
            json!({ "id": lead }),
        )
        .await;
    assert_eq!(
        fragment["history"]["edges"][1]["node"]["eventType"],
        "LeadNoteAdded"
    );
    assert_eq!(
        fragment["history"]["edges"][1]["node"]["payload"],
        full[1]["payload"]
    );
    app.stop().await;
}

/// Whether every value in `part` is the value at the same place in `whole` (objects by key,
/// lists element by element).
fn within(part: &serde_json::Value, whole: &serde_json::Value) -> bool {
    match (part, whole) {
        (serde_json::Value::Object(p), serde_json::Value::Object(w)) => p
            .iter()
            .all(|(k, v)| w.get(k).is_some_and(|wv| within(v, wv))),
        (serde_json::Value::Array(p), serde_json::Value::Array(w)) => {
            p.len() == w.len() && p.iter().zip(w).all(|(pv, wv)| within(pv, wv))
        }
        _ => part == whole,
    }
}

/// A lead page reads only the columns its query selects, its owner's and client's included;
/// each field selected alone must answer what it answers when every field is selected.
#[tokio::test]
async fn each_lead_field_selected_alone_matches_the_full_page() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (sales_id, _) = create_user(&app, &admin, "meera@zipp.example", "SALES").await;
    // One lead with every field set, and one lost, so each field has a value in one of them.
    let won = capture_lead(&app, &admin, "Every Field Finance", "every@example.com").await;
    for mutation in [
        "mutation($id: UUID!, $o: UUID!) { assignLead(id: $id, ownerId: $o) { caughtUp } }",
        "mutation($id: UUID!) { scoreLead(id: $id, score: 70) { caughtUp } }",
        "mutation($id: UUID!) { addLeadNote(id: $id, body: \"Board approved\") { caughtUp } }",
        "mutation($id: UUID!) { logLeadActivity(id: $id, input: { kind: \"call\", summary: \"Called\", followUpOn: \"2026-12-01\" }) { caughtUp } }",
    ] {
        app.ok(Some(&admin), mutation, json!({ "id": won, "o": sales_id }))
            .await;
    }
    win_lead(&app, &admin, &won).await;
    convert_with_project(&app, &admin, &won, "every@example.com").await;
    let lost = capture_lead(&app, &admin, "Lost Finance", "lost@example.com").await;
    app.ok(
        Some(&admin),
        "mutation($id: UUID!) { markLeadLost(id: $id, reason: \"budget\") { caughtUp } }",
        json!({ "id": lost }),
    )
    .await;

    // Every lead field, with the owner's and client's fields one by one.
    let mut selections = Vec::new();
    for field in field_selections(&app, &admin, "Lead").await {
        let related = match field.as_str() {
            "owner { id }" => Some(("owner", "User")),
            "client { id }" => Some(("client", "Client")),
            _ => None,
        };
        match related {
            Some((name, type_name)) => {
                for inner in field_selections(&app, &admin, type_name).await {
                    selections.push(format!("{name} {{ {inner} }}"));
                }
            }
            None => selections.push(field),
        }
    }
    assert!(selections.len() >= 30, "{selections:?}");
    let page = |selection: String, through: &'static str| {
        let app = &app;
        let admin = &admin;
        async move {
            let nodes = match through {
                "edges" => format!("edges {{ node {{ {selection} }} }}"),
                _ => format!("nodes {{ {selection} }}"),
            };
            let query = format!(
                "{{ leads(first: 10, sort: {{ field: CAPTURED_AT, direction: ASC }}) {{ {nodes} }} }}"
            );
            let data = app.ok(Some(admin), &query, json!({})).await;
            let list = match through {
                "edges" => data["leads"]["edges"]
                    .as_array()
                    .expect("edges")
                    .iter()
                    .map(|e| e["node"].clone())
                    .collect(),
                _ => data["leads"]["nodes"].as_array().expect("nodes").clone(),
            };
            list
        }
    };
    let full = page(selections.join(" "), "edges").await;
    assert_eq!(full.len(), 2);
    assert_eq!(full[0]["id"], won.as_str());
    // Each field has a value in one of the two leads: a column never read would show its
    // default in both. An internal owner belongs to no client, so that one stays null.
    let unset = |v: &serde_json::Value| {
        v.is_null()
            || v == ""
            || v == 0
            || v.as_array().is_some_and(Vec::is_empty)
            || v.as_str()
                .is_some_and(|s| s.starts_with("1970-01-01") || s.starts_with("00000000-0000"))
    };
    for (key, value) in full[0].as_object().expect("lead") {
        let set = |node: &serde_json::Value| !unset(&node[key]);
        match value {
            serde_json::Value::Object(inner) => {
                for (inner_key, inner_value) in inner {
                    if (key.as_str(), inner_key.as_str()) != ("owner", "clientId") {
                        assert!(
                            !unset(inner_value),
                            "{key}.{inner_key} was left unread: {value}"
                        );
                    }
                }
            }
            _ => assert!(full.iter().any(set), "{key} was left unread in both leads"),
        }
    }
    for (n, selection) in selections.iter().enumerate() {
        // Every fourth through `nodes`, which reads the same columns.
        let through = if n % 4 == 3 { "nodes" } else { "edges" };
        let alone = page(selection.clone(), through).await;
        assert_eq!(alone.len(), 2, "{selection}");
        for (a, f) in alone.iter().zip(&full) {
            assert!(
                within(a, f),
                "{selection} alone gave {a}, the full page {f}"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_lead_page_with_owners_and_clients_matches_the_loaded_page_row_for_row() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (sales_id, _) = create_user(&app, &admin, "priya@zipp.example", "SALES").await;
    let mut leads = Vec::new();
    for i in 0..7 {
        let lead = capture_lead(
            &app,
            &admin,
            &format!("Firm {i}"),
            &format!("f{i}@example.com"),
        )
        .await;
        // Scores tie in pairs and one lead stays unscored, so the order rests on the id
        // tie-breaker and the unscored-last rule as well as on the score.
        if i < 6 {
            app.ok(
                Some(&admin),
                "mutation($id: UUID!, $s: Int!) { scoreLead(id: $id, score: $s) { caughtUp } }",
                json!({ "id": lead, "s": 40 + (i / 2) * 10 }),
            )
            .await;
        }
        if i % 2 == 1 {
            app.ok(
                Some(&admin),
                "mutation($id: UUID!, $o: UUID!) { assignLead(id: $id, ownerId: $o) { caughtUp } }",
                json!({ "id": lead, "o": sales_id }),
            )
            .await;
        }
        leads.push(lead);
    }
    win_lead(&app, &admin, &leads[2]).await;
    let (client, _) = convert_with_project(&app, &admin, &leads[2], "f2@example.com").await;

    // Page through by score, once with owner and client (read in the page's query) and once
    // with ids only (the same relations then come through the loaders, one at a time).
    let joined = "query($after: String) { leads(first: 3, after: $after, sort: { field: SCORE, direction: DESC }) { pageInfo { hasNextPage endCursor } edges { node { id score owner { id displayName } client { id name } } } } }";
    let plain = "query($after: String) { leads(first: 3, after: $after, sort: { field: SCORE, direction: DESC }) { pageInfo { hasNextPage endCursor } edges { node { id score } } } }";
    let mut pages = Vec::new();
    for query in [joined, plain] {
        let mut rows = Vec::new();
        let mut after = serde_json::Value::Null;
        loop {
            let page = app.ok(Some(&admin), query, json!({ "after": after })).await;
            rows.extend(page["leads"]["edges"].as_array().expect("edges").clone());
            if page["leads"]["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = page["leads"]["pageInfo"]["endCursor"].clone();
        }
        pages.push(rows);
    }
    let ids = |rows: &[serde_json::Value]| -> Vec<String> {
        rows.iter()
            .map(|r| r["node"]["id"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    assert_eq!(ids(&pages[0]), ids(&pages[1]));
    assert_eq!(pages[0].len(), 7);
    let scores: Vec<_> = pages[0]
        .iter()
        .map(|r| r["node"]["score"].clone())
        .collect();
    assert_eq!(scores[..2], [json!(60), json!(60)]);
    assert_eq!(scores[6], serde_json::Value::Null, "unscored last");
    for row in &pages[0] {
        let id = row["node"]["id"].as_str().expect("id");
        let i = leads.iter().position(|l| l == id).expect("a captured lead");
        let expected_owner = if i % 2 == 1 {
            "priya@zipp.example"
        } else {
            "Administrator"
        };
        assert_eq!(row["node"]["owner"]["displayName"], expected_owner, "{row}");
        if i == 2 {
            assert_eq!(row["node"]["client"]["id"], client.as_str());
            assert_eq!(row["node"]["client"]["name"], "Firm 2");
        } else {
            assert_eq!(row["node"]["client"], serde_json::Value::Null, "{row}");
        }
    }

    // `nodes` reads the relations the same way, and each lead agrees with the single fetch.
    let nodes = app
        .ok(
            Some(&admin),
            "{ leads(first: 10, filter: { converted: true }) { nodes { id owner { email } client { name } } } }",
            json!({}),
        )
        .await;
    let single = app
        .ok(
            Some(&admin),
            "query($id: UUID!) { lead(id: $id) { id owner { email } client { name } } }",
            json!({ "id": leads[2] }),
        )
        .await;
    assert_eq!(nodes["leads"]["nodes"], json!([single["lead"]]));
    app.stop().await;
}

/// `history` pages through a stream with `first`/`after`, filters by event type and by
/// time, counts what matches, and refuses cursors and ranges it did not make.
#[tokio::test]
async fn history_pages_and_filters_a_stream() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Paged Finance", "paged@example.com").await;
    for n in 1..=4 {
        app.ok(
            Some(&admin),
            "mutation($id: UUID!, $b: String!) { addLeadNote(id: $id, body: $b) { caughtUp } }",
            json!({ "id": lead, "b": format!("note {n}") }),
        )
        .await;
    }
    let stored: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE aggregate_type = 'Lead' AND aggregate_id = $1",
    )
    .bind(&lead)
    .fetch_one(&app.pool)
    .await
    .expect("count");
    let query = "query($id: UUID!, $first: Int, $after: String, $filter: HistoryFilterInput) { \
        history(aggregateType: LEAD, aggregateId: $id, first: $first, after: $after, filter: $filter) { \
          totalCount nodes { sequence eventType recordedAt } pageInfo { hasNextPage endCursor } } }";
    let page = |vars: serde_json::Value| {
        let (app, admin, lead) = (&app, &admin, &lead);
        async move {
            let mut vars = vars;
            vars["id"] = json!(lead);
            app.gql(Some(admin), query, vars).await
        }
    };

    // Two at a time, the pages join up into the whole stream in order.
    let mut sequences = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let body = page(json!({ "first": 2, "after": after })).await;
        let history = &body["data"]["history"];
        assert_eq!(history["totalCount"], stored, "{body}");
        let nodes = history["nodes"].as_array().expect("nodes");
        assert!(nodes.len() <= 2);
        sequences.extend(
            nodes
                .iter()
                .map(|n| n["sequence"].as_i64().expect("sequence")),
        );
        if history["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = history["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    assert_eq!(sequences, (1..=stored).collect::<Vec<_>>());

    // By type.
    let notes = page(json!({ "filter": { "eventTypes": ["LeadNoteAdded"] } })).await;
    let nodes = notes["data"]["history"]["nodes"].as_array().expect("nodes");
    assert_eq!(notes["data"]["history"]["totalCount"], 4);
    assert!(
        nodes.iter().all(|n| n["eventType"] == "LeadNoteAdded"),
        "{notes}"
    );

    // By time: from is inclusive, until exclusive.
    let all = page(json!({ "first": 100 })).await;
    let all = all["data"]["history"]["nodes"]
        .as_array()
        .expect("nodes")
        .clone();
    let third = all[2]["recordedAt"].clone();
    let from = page(json!({ "first": 100, "filter": { "from": third } })).await;
    let from: Vec<_> = from["data"]["history"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["sequence"].clone())
        .collect();
    let instant = |v: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().expect("an instant")).expect("RFC 3339")
    };
    let expected: Vec<_> = all
        .iter()
        .filter(|n| instant(&n["recordedAt"]) >= instant(&third))
        .map(|n| n["sequence"].clone())
        .collect();
    assert_eq!(from, expected);
    let until = page(json!({ "first": 100, "filter": { "until": third } })).await;
    let until = until["data"]["history"]["nodes"]
        .as_array()
        .expect("nodes")
        .len();
    assert_eq!(until + from.len(), all.len());

    // Refusals: a cursor of another list, a cursor that is not one, an empty range, a page
    // too large.
    let leads = app
        .ok(
            Some(&admin),
            "{ leads(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let foreign = leads["leads"]["pageInfo"]["endCursor"].clone();
    for vars in [
        json!({ "after": foreign }),
        json!({ "after": "not a cursor" }),
        json!({ "filter": { "from": third, "until": third } }),
        json!({ "filter": { "eventTypes": [""] } }),
        json!({ "first": 101 }),
    ] {
        let body = page(vars.clone()).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{vars}: {body}");
        assert!(
            body["data"].is_null() || body["data"]["history"].is_null(),
            "{body}"
        );
    }
    app.stop().await;
}
