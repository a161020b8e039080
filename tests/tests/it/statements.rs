//! Monthly statements over HTTP: issued by a manager from approved effort, priced at the
//! rate card, frozen, closing the month; corrections carried over; reopened with a reason.

use serde_json::{json, Value};
use tests::*;

const STATEMENT: &str = "month revision closed lines { entryId date minutes billable carriedOver amount { minor currency } } \
    total { billableMinutes nonBillableMinutes amounts { minor currency } } perConsultant { id billableMinutes } csv";

struct Firm {
    app: TestApp,
    manager: String,
    consultant: String,
    consultant_id: String,
    client: String,
    project: String,
    portal: String,
}

async fn firm() -> Firm {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let (manager_id, manager) = create_user(&app, &admin, "mgr@st.example", "MANAGER").await;
    let (consultant_id, consultant) =
        create_user(&app, &admin, "con@st.example", "CONSULTANT").await;
    let lead = capture_lead(&app, &admin, "Statement Finance", "cfo@st.example").await;
    win_lead(&app, &admin, &lead).await;
    let (client, project) = convert_with_project(&app, &admin, &lead, "cfo@st.example").await;
    app.settled().await;
    team(
        &app,
        &admin,
        "Desk",
        &[(manager_id.as_str(), true), (consultant_id.as_str(), false)],
    )
    .await;
    app.ok(
        Some(&admin),
        "mutation { setRate(input: { scope: { role: CONSULTANT }, hourlyMinor: 120000 }) { caughtUp } }",
        json!({}),
    )
    .await;
    let portal = activate_portal_user(&app, "cfo@st.example", "a-long-password-4").await;
    Firm {
        app,
        manager,
        consultant,
        consultant_id,
        client,
        project,
        portal,
    }
}

impl Firm {
    async fn log(&self, date: &str, minutes: i64, billable: bool) -> Value {
        self.app
            .gql(
                Some(&self.consultant),
                "mutation($i: TimeEntryInput!) { logTime(input: $i) { entry { id } } }",
                json!({ "i": { "date": date, "minutes": minutes, "description": "filing", "billable": billable, "projectId": self.project } }),
            )
            .await
    }

    async fn approve_week(&self, week_of: &str) {
        self.app
            .ok(
                Some(&self.consultant),
                "mutation($w: NaiveDate!) { submitTimesheet(weekOf: $w) { caughtUp } }",
                json!({ "w": week_of }),
            )
            .await;
        self.app
            .ok(
                Some(&self.manager),
                "mutation($u: UUID!, $w: NaiveDate!) { approveTimesheet(userId: $u, weekOf: $w) { caughtUp } }",
                json!({ "u": self.consultant_id, "w": week_of }),
            )
            .await;
    }

    async fn issue(&self, token: &str, month: &str) -> Value {
        self.app
            .gql(
                Some(token),
                &format!("mutation($c: UUID!, $m: String!) {{ issueStatement(clientId: $c, month: $m) {{ caughtUp statement {{ {STATEMENT} }} }} }}"),
                json!({ "c": self.client, "m": month }),
            )
            .await
    }
}

#[tokio::test]
async fn a_statement_freezes_approved_effort_closes_its_month_and_carries_corrections_over() {
    let firm = firm().await;
    let app = &firm.app;
    let billable = firm.log("2026-10-19", 120, true).await;
    let billable_id = billable["data"]["logTime"]["entry"]["id"].clone();
    firm.log("2026-10-20", 60, false).await;
    let draft = firm.log("2026-10-21", 30, true).await;
    assert!(draft["errors"].is_null(), "{draft}");
    firm.approve_week("2026-10-19").await;
    // A draft of November is not approved, so it is on no statement.
    firm.log("2026-11-02", 15, true).await;

    // Only managers issue, and only months that are over.
    let by_consultant = firm.issue(&firm.consultant, "2026-10").await;
    assert_eq!(
        error_code(&by_consultant),
        Some("FORBIDDEN"),
        "{by_consultant}"
    );
    for month in ["2026-13", "October", "9999-12"] {
        let bad = firm.issue(&firm.manager, month).await;
        assert_eq!(error_code(&bad), Some("BAD_USER_INPUT"), "{month}: {bad}");
    }

    let issued = firm.issue(&firm.manager, "2026-10").await;
    let statement = &issued["data"]["issueStatement"]["statement"];
    assert_eq!(statement["revision"], 1, "{issued}");
    assert_eq!(statement["lines"].as_array().map(Vec::len), Some(3));
    assert_eq!(statement["total"]["billableMinutes"], 150);
    assert_eq!(statement["total"]["nonBillableMinutes"], 60);
    // 150 billable minutes at 1,200.00 an hour.
    assert_eq!(
        statement["total"]["amounts"],
        json!([{ "minor": 300000, "currency": "INR" }])
    );
    assert_eq!(
        statement["perConsultant"][0]["id"],
        firm.consultant_id.as_str()
    );
    let csv = statement["csv"].as_str().expect("csv");
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(rows[0].starts_with("date,consultant,"));
    assert!(rows[1].starts_with("2026-10-19,con@st.example,"), "{csv}");
    assert!(
        rows[1].contains(",120,2.00,true,120000,240000,INR,false"),
        "{csv}"
    );

    let twice = firm.issue(&firm.manager, "2026-10").await;
    assert_eq!(error_code(&twice), Some("CONFLICT"), "{twice}");

    // The month is closed to new work; a correction of stated effort is a reversal.
    let closed = firm.log("2026-10-22", 30, true).await;
    assert_eq!(error_code(&closed), Some("BAD_USER_INPUT"), "{closed}");
    app.ok(
        Some(&firm.consultant),
        "mutation($e: UUID!) { reverseTimeEntry(entryId: $e, reason: \"wrong matter\") { caughtUp } }",
        json!({ "e": billable_id }),
    )
    .await;
    firm.approve_week("2026-10-19").await;

    // November's statement carries the reversal over; the November draft is not on it.
    let november = firm.issue(&firm.manager, "2026-11").await;
    let lines = november["data"]["issueStatement"]["statement"]["lines"]
        .as_array()
        .expect("lines")
        .clone();
    assert_eq!(lines.len(), 1, "{november}");
    assert_eq!(lines[0]["minutes"], -120);
    assert_eq!(lines[0]["carriedOver"], true);
    assert_eq!(lines[0]["amount"]["minor"], -240000);

    // Reopened with a reason, October takes work again and is issued as revision 2 with
    // only what it did not state before.
    let reopen = "mutation($c: UUID!, $r: String!) { reopenMonth(clientId: $c, month: \"2026-10\", reason: $r) { statement { closed } } }";
    let blank = app
        .gql(
            Some(&firm.manager),
            reopen,
            json!({ "c": firm.client, "r": " " }),
        )
        .await;
    assert_eq!(error_code(&blank), Some("BAD_USER_INPUT"), "{blank}");
    let reopened = app
        .ok(
            Some(&firm.manager),
            reopen,
            json!({ "c": firm.client, "r": "late filing fee" }),
        )
        .await;
    assert_eq!(reopened["reopenMonth"]["statement"]["closed"], false);
    let late = firm.log("2026-10-22", 30, true).await;
    assert!(late["errors"].is_null(), "{late}");
    firm.approve_week("2026-10-19").await;
    let again = firm.issue(&firm.manager, "2026-10").await;
    let statement = &again["data"]["issueStatement"]["statement"];
    assert_eq!(statement["revision"], 2, "{again}");
    assert_eq!(statement["lines"].as_array().map(Vec::len), Some(4));

    // The customer reads their statements; another client's id is not found.
    let theirs = app
        .ok(
            Some(&firm.portal),
            "query($c: UUID!) { statements(clientId: $c) { month revision total { billableMinutes } } }",
            json!({ "c": firm.client }),
        )
        .await;
    let months: Vec<&str> = theirs["statements"]
        .as_array()
        .expect("statements")
        .iter()
        .filter_map(|s| s["month"].as_str())
        .collect();
    assert_eq!(months, ["2026-11", "2026-10"]);
    let other = app
        .gql(
            Some(&firm.portal),
            "query($c: UUID!) { statements(clientId: $c) { month } }",
            json!({ "c": "00000000-0000-0000-0000-000000000007" }),
        )
        .await;
    assert_eq!(error_code(&other), Some("NOT_FOUND"), "{other}");

    // Downloads: the CSV and a real PDF whose text shows the statement; another client's
    // or no token is refused.
    let get = |path: String, token: Option<String>| {
        let (http, address) = (app.http.clone(), app.address.clone());
        async move {
            let mut request = http.get(format!("{address}{path}"));
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send().await.expect("download")
        }
    };
    let path =
        |month: &str, format: &str| format!("/files/statements/{}/{month}.{format}", firm.client);
    let pdf = get(path("2026-10", "pdf"), Some(firm.portal.clone())).await;
    assert_eq!(pdf.status(), 200);
    assert_eq!(
        pdf.headers()["content-type"].to_str().expect("type"),
        "application/pdf"
    );
    let bytes = pdf.bytes().await.expect("pdf bytes");
    let document = lopdf::Document::load_mem(&bytes).expect("a PDF that opens");
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    assert_eq!(pages, [1]);
    let text = document.extract_text(&pages).expect("its text");
    assert!(text.contains("Effort statement 2026-10"), "{text}");
    assert!(text.contains("Statement Finance (revision 2)"), "{text}");
    assert!(text.contains("con@st.example"), "{text}");
    assert!(text.contains("Total INR 3600.00"), "{text}");
    let csv = get(path("2026-11", "csv"), Some(firm.portal.clone())).await;
    assert_eq!(csv.status(), 200);
    let body = csv.text().await.expect("csv");
    assert!(
        body.contains(",-120,-2.00,true,120000,-240000,INR,true"),
        "{body}"
    );
    assert_eq!(get(path("2026-10", "pdf"), None).await.status(), 401);
    assert_eq!(
        get(path("2026-09", "pdf"), Some(firm.portal.clone()))
            .await
            .status(),
        404
    );
    let foreign = format!("/files/statements/{}/2026-10.pdf", uuid_of(7));
    assert_eq!(get(foreign, Some(firm.portal.clone())).await.status(), 404);

    // A rebuild gives the same rows.
    assert_rebuild_equals_live(app, "statements").await;
    firm.app.stop().await;
}

fn uuid_of(n: u128) -> String {
    format!("{:08x}-0000-0000-0000-{:012x}", 0, n)
}

#[tokio::test]
async fn reports_sum_approved_effort_per_project_client_and_consultant() {
    let firm = firm().await;
    let app = &firm.app;
    firm.log("2026-10-19", 120, true).await;
    firm.log("2026-10-20", 60, false).await;
    firm.approve_week("2026-10-19").await;
    // Drafts are not reported.
    firm.log("2026-10-26", 45, true).await;
    let report = "query($b: ReportGrouping!) { effortReport(month: \"2026-10\", by: $b) { availableHours rows { id name minutes billableMinutes unpricedMinutes amounts { minor currency } utilisation } csv } }";
    let by = |grouping: &'static str| {
        let manager = firm.manager.clone();
        async move {
            app.ok(Some(&manager), report, json!({ "b": grouping }))
                .await
        }
    };
    let consultants = by("CONSULTANT").await;
    let report_data = &consultants["effortReport"];
    // October 2026 has 22 weekdays.
    assert_eq!(report_data["availableHours"], 176);
    let row = &report_data["rows"][0];
    assert_eq!(row["id"], firm.consultant_id.as_str());
    assert_eq!(row["name"], "con@st.example");
    assert_eq!(
        (row["minutes"].clone(), row["billableMinutes"].clone()),
        (json!(180), json!(120))
    );
    assert_eq!(
        row["amounts"],
        json!([{ "minor": 240000, "currency": "INR" }])
    );
    let utilisation = row["utilisation"].as_f64().expect("utilisation");
    assert!((utilisation - 2.0 / 176.0).abs() < 1e-9, "{utilisation}");
    assert!(report_data["csv"]
        .as_str()
        .is_some_and(|csv| csv.starts_with("id,name,minutes,")
            && csv.contains(",180,120,0,INR 240000,0.011")));

    let clients = by("CLIENT").await;
    assert_eq!(
        clients["effortReport"]["rows"][0]["id"],
        firm.client.as_str()
    );
    assert_eq!(
        clients["effortReport"]["rows"][0]["name"],
        "Statement Finance"
    );
    assert!(clients["effortReport"]["rows"][0]["utilisation"].is_null());
    let projects = by("MATTER").await;
    assert_eq!(
        projects["effortReport"]["rows"][0]["id"],
        firm.project.as_str()
    );
    assert_eq!(projects["effortReport"]["rows"][0]["minutes"], 180);

    let refused = app
        .gql(Some(&firm.consultant), report, json!({ "b": "CLIENT" }))
        .await;
    assert_eq!(error_code(&refused), Some("FORBIDDEN"), "{refused}");
    firm.app.stop().await;
}
