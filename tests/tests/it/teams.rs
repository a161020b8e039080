//! Departments and teams over HTTP: admins manage them, internal users read them, a manager
//! manages the members of their teams, and a rebuild gives the same read model.

use serde_json::json;
use tests::*;

const TEAM: &str = "id name department { name } members { userId manager user { displayName } }";

#[tokio::test]
async fn admins_build_teams_in_departments_and_managers_manage_their_members() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (manager, manager_token) = create_user(&app, &admin, "mgr@zipp.example", "MANAGER").await;
    let (consultant, consultant_token) =
        create_user(&app, &admin, "con@zipp.example", "CONSULTANT").await;
    let (other, _) = create_user(&app, &admin, "other@zipp.example", "CONSULTANT").await;

    // The seeded departments are there.
    let departments = app
        .ok(
            Some(&consultant_token),
            "{ departments { id name } }",
            json!({}),
        )
        .await;
    let names: Vec<&str> = departments["departments"]
        .as_array()
        .expect("departments")
        .iter()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Administration",
            "Client Services",
            "IT",
            "Sales",
            "Support"
        ]
    );
    let services = departments["departments"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == "Client Services"))
        .map(|d| d["id"].clone())
        .expect("Client Services");

    // Only admins build teams.
    let create = format!(
        "mutation($i: CreateTeamInput!) {{ createTeam(input: $i) {{ caughtUp team {{ {TEAM} }} }} }}"
    );
    let input = json!({ "i": { "name": "GST desk", "departmentId": services } });
    let refused = app.gql(Some(&manager_token), &create, input.clone()).await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    let created = app.ok(Some(&admin), &create, input).await;
    assert_eq!(created["createTeam"]["caughtUp"], true);
    let team = created["createTeam"]["team"]["id"].clone();
    assert_eq!(
        created["createTeam"]["team"]["department"]["name"],
        "Client Services"
    );

    // Refusals: an unknown department, a blank name, a portal user as member, an unknown user.
    let unknown = app
        .gql(
            Some(&admin),
            &create,
            json!({ "i": { "name": "X", "departmentId": "00000000-0000-0000-0000-000000000001" } }),
        )
        .await;
    assert_eq!(error_code(&unknown), Some("NOT_FOUND"), "{unknown}");
    let blank = app
        .gql(
            Some(&admin),
            &create,
            json!({ "i": { "name": "  ", "departmentId": services } }),
        )
        .await;
    assert_eq!(error_code(&blank), Some("BAD_USER_INPUT"), "{blank}");

    let add = format!(
        "mutation($t: UUID!, $u: UUID!, $m: Boolean) {{ addTeamMember(teamId: $t, userId: $u, manager: $m) {{ team {{ {TEAM} }} }} }}"
    );
    app.ok(
        Some(&admin),
        &add,
        json!({ "t": team, "u": manager, "m": true }),
    )
    .await;
    let added = app
        .ok(Some(&admin), &add, json!({ "t": team, "u": consultant }))
        .await;
    let members = added["addTeamMember"]["team"]["members"]
        .as_array()
        .expect("members")
        .clone();
    assert_eq!(members.len(), 2);
    assert_eq!(members[0]["userId"], manager.as_str(), "managers first");
    assert_eq!(members[0]["manager"], true);
    assert_eq!(members[1]["manager"], false);
    assert_eq!(members[1]["user"]["displayName"], "con@zipp.example");
    let twice = app
        .gql(Some(&admin), &add, json!({ "t": team, "u": consultant }))
        .await;
    assert_eq!(error_code(&twice), Some("CONFLICT"), "{twice}");
    let nobody = app
        .gql(
            Some(&admin),
            &add,
            json!({ "t": team, "u": "00000000-0000-0000-0000-000000000002" }),
        )
        .await;
    assert_eq!(error_code(&nobody), Some("NOT_FOUND"), "{nobody}");
    let lead = capture_lead(&app, &admin, "Portal Co", "portal@portal.example").await;
    win_lead(&app, &admin, &lead).await;
    convert_with_project(&app, &admin, &lead, "portal@portal.example").await;
    app.settled().await;
    let portal: String =
        sqlx::query_scalar("SELECT id::text FROM user_view WHERE email = 'portal@portal.example'")
            .fetch_one(&app.pool)
            .await
            .expect("portal user");
    let customer = app
        .gql(Some(&admin), &add, json!({ "t": team, "u": portal }))
        .await;
    assert_eq!(error_code(&customer), Some("BAD_USER_INPUT"), "{customer}");

    // A manager manages the members of their team, and no one else.
    let manages = "query($m: UUID!, $u: UUID!) { manages(managerId: $m, userId: $u) }";
    let asks = |m: &str, u: &str| json!({ "m": m, "u": u });
    let yes = app
        .ok(Some(&manager_token), manages, asks(&manager, &consultant))
        .await;
    assert_eq!(yes["manages"], true);
    let no = app
        .ok(Some(&manager_token), manages, asks(&manager, &other))
        .await;
    assert_eq!(no["manages"], false);
    let reverse = app
        .ok(Some(&manager_token), manages, asks(&consultant, &manager))
        .await;
    assert_eq!(reverse["manages"], false);

    // The consultant's teams; demoted, the manager manages no one.
    let mine = app
        .ok(
            Some(&consultant_token),
            "query($u: UUID!) { teams(memberId: $u) { name } }",
            json!({ "u": consultant }),
        )
        .await;
    assert_eq!(mine["teams"][0]["name"], "GST desk");
    app.ok(
        Some(&admin),
        "mutation($t: UUID!, $u: UUID!) { setTeamManager(teamId: $t, userId: $u, manager: false) { caughtUp } }",
        json!({ "t": team, "u": manager }),
    )
    .await;
    let demoted = app
        .ok(Some(&manager_token), manages, asks(&manager, &consultant))
        .await;
    assert_eq!(demoted["manages"], false);

    // Portal users see no organisation.
    let portal_token =
        activate_portal_user(&app, "portal@portal.example", "a-long-password-2").await;
    let hidden = app
        .gql(Some(&portal_token), "{ departments { id } }", json!({}))
        .await;
    assert_eq!(error_code(&hidden), Some("FORBIDDEN"), "{hidden}");

    // Moves, renames and removals, then a rebuild gives the same rows.
    let it = departments["departments"]
        .as_array()
        .and_then(|d| d.iter().find(|d| d["name"] == "IT"))
        .map(|d| d["id"].clone())
        .expect("IT");
    app.ok(
        Some(&admin),
        "mutation($t: UUID!, $d: UUID!) { moveTeam(id: $t, departmentId: $d) { caughtUp } }",
        json!({ "t": team, "d": it }),
    )
    .await;
    app.ok(
        Some(&admin),
        "mutation($t: UUID!, $u: UUID!) { removeTeamMember(teamId: $t, userId: $u) { caughtUp } }",
        json!({ "t": team, "u": consultant }),
    )
    .await;
    app.ok(
        Some(&admin),
        "mutation($d: UUID!) { renameDepartment(id: $d, name: \"Technology\") { department { name } } }",
        json!({ "d": it }),
    )
    .await;
    let shown = app
        .ok(
            Some(&admin),
            &format!("query($t: UUID!) {{ team(id: $t) {{ {TEAM} }} }}"),
            json!({ "t": team }),
        )
        .await;
    assert_eq!(shown["team"]["department"]["name"], "Technology");
    assert_eq!(shown["team"]["members"].as_array().map(Vec::len), Some(1));

    assert_rebuild_equals_live(&app, "teams").await;
    app.stop().await;
}
