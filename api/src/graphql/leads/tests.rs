//! Tests of `leads`.

use async_graphql::{EmptyMutation, EmptySubscription, Object, Schema};
use chrono::TimeZone;

use projections::clients::ClientRow;
use projections::users::UserRow;

use super::*;
use crate::auth::{Auth, Viewer};
use crate::graphql::written::testing::assert_same;
use crate::state::RequestContext;

const OWNER: Uuid = Uuid::from_u128(0x11);
const PORTAL_USER: Uuid = Uuid::from_u128(0x22);

fn at(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 987_654_321)
        .single()
        .expect("a valid instant")
}

/// A lead with every field set and its owner and client joined, one with nothing set
/// and neither, and one whose stored names are not the API's (shown as null).
fn leads() -> Vec<ListedLead> {
    let full = LeadRow {
        id: Uuid::from_u128(0x0192_0000_7000_8000_0000_0000_0000_00cd),
        company: "Käse \"& Söhne\" \\ NBFC\n".to_owned(),
        contact_name: "Meera </script>".to_owned(),
        email: "meera@example.com".to_owned(),
        phone: Some("+91 98 \u{1}".to_owned()),
        source: "referral".to_owned(),
        service_interest: "RBI NBFC registration".to_owned(),
        owner_id: Some(OWNER),
        score: Some(-70),
        stage: "negotiation".to_owned(),
        lost_reason: Some("budget".to_owned()),
        client_id: Some(Uuid::from_u128(0x33)),
        next_follow_up: NaiveDate::from_ymd_opt(2027, 3, 5),
        note_count: 3,
        activity_count: 2_147_483_647,
        captured_at: at(1_763_700_000),
        updated_at: at(1_763_700_100),
        ..LeadRow::default()
    };
    let owner = UserRow {
        id: OWNER,
        email: "owner@zipp.example".to_owned(),
        display_name: "Owner \u{2713}".to_owned(),
        role: "sales".to_owned(),
        client_id: Some(Uuid::from_u128(0x44)),
        active: true,
        created_at: at(1_700_000_000),
    };
    let client = ClientRow {
        id: Uuid::from_u128(0x33),
        name: "Client \"One\"".to_owned(),
        lead_id: Some(Uuid::from_u128(0x0192_0000_7000_8000_0000_0000_0000_00cd)),
        created_at: at(1_763_700_200),
        updated_at: at(1_763_700_300),
        ..ClientRow::default()
    };
    let bare = LeadRow {
        id: Uuid::nil(),
        source: "website".to_owned(),
        stage: "prospect".to_owned(),
        ..LeadRow::default()
    };
    let unknown = LeadRow {
        source: "fax".to_owned(),
        stage: "dormant".to_owned(),
        ..LeadRow::default()
    };
    let self_owned = UserRow {
        id: PORTAL_USER,
        role: "no such role".to_owned(),
        ..UserRow::default()
    };
    vec![
        ListedLead {
            lead: full,
            owner: Some(owner),
            client: Some(client),
        },
        ListedLead {
            lead: bare,
            owner: None,
            client: None,
        },
        ListedLead {
            lead: unknown,
            owner: Some(self_owned),
            client: Some(ClientRow::default()),
        },
    ]
}

struct Sample;

#[Object]
impl Sample {
    async fn fast(&self) -> Vec<Written<Lead>> {
        leads()
            .into_iter()
            .map(|l| Written(Lead::from(l)))
            .collect()
    }
    async fn slow(&self) -> Vec<Lead> {
        leads().into_iter().map(Lead::from).collect()
    }
}

fn viewer(user_id: Uuid, role: domain::Role) -> Option<RequestContext> {
    Some(RequestContext {
        auth: Auth::User(Viewer {
            user_id,
            role,
            client_id: None,
            session: None,
        }),
        request_id: Uuid::nil(),
        client: std::net::Ipv4Addr::LOCALHOST.into(),
    })
}

#[tokio::test]
async fn a_written_lead_page_is_what_async_graphql_resolves_byte_for_byte() {
    let schema = Schema::new(Sample, EmptyMutation, EmptySubscription);
    let fields = |type_name: &'static str, io: &'static [&'static str]| {
        let schema = &schema;
        async move {
            let query = format!(r#"{{ __type(name: "{type_name}") {{ fields {{ name }} }} }}"#);
            let json = schema
                .execute(query)
                .await
                .data
                .into_json()
                .expect("introspection is JSON");
            json["__type"]["fields"]
                .as_array()
                .expect("the type has fields")
                .iter()
                .filter_map(|f| f["name"].as_str())
                .filter(|name| !io.contains(name))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    let user = fields("User", &[]).await.join(" ");
    let client = fields("Client", &["contacts", "projects"]).await.join(" ");
    let lead: Vec<String> = fields("Lead", &["project", "notes", "activities"])
        .await
        .into_iter()
        .map(|f| match f.as_str() {
            "owner" => format!("owner {{ {user} }}"),
            "client" => format!("client {{ {client} }}"),
            _ => f,
        })
        .collect();
    assert!(lead.len() >= 17, "{lead:?}");
    let all = format!("{{ LIST {{ {} }} }}", lead.join(" "));
    let selections = [
        all.as_str(),
        "{ LIST { id company score stage owner { id displayName email } client { id name } } }",
        "{ LIST { a: id id __typename t: __typename owner { __typename id o: email id } \
         stage s: stage client { n: name name } a: id } }",
        "query { LIST { ...L owner { ...U } ... on Lead { client { ... on Client { id } } } } } \
         fragment L on Lead { company score ... { source } } fragment U on User { displayName role }",
        "query($yes: Boolean!) { LIST { id @include(if: $yes) company @skip(if: $yes) \
         owner @skip(if: $yes) { id } ... @include(if: false) { email } ...F @skip(if: $yes) \
         client { leadId createdAt @include(if: $yes) } } } fragment F on Lead { phone }",
    ];
    let viewers = [
        None,
        viewer(OWNER, domain::Role::Admin),
        viewer(PORTAL_USER, domain::Role::Client),
        viewer(Uuid::from_u128(0x55), domain::Role::Client),
    ];
    for selection in selections {
        for viewer in viewers {
            assert_same(&schema, ("fast", "slow"), selection, viewer).await;
        }
    }
}
