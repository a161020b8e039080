//! The projection runner: idempotence, concurrency, crash recovery, replicas, rebuilds.

use std::sync::Arc;
use std::time::Duration;

use async_trait_shim::FailAfter;
use commands::{CommandBus, CommandContext, CommandError};
use domain::lead::LeadCommand;
use projections::event::Position;
use projections::runner::{self, Step};
use serde_json::json;
use sqlx::PgPool;
use tests::*;
use uuid::Uuid;

async fn head(pool: &PgPool) -> Position {
    projections::wait::log_head(pool)
        .await
        .expect("head")
        .expect("a non-empty log")
}

async fn caught_up(app: &TestApp) {
    let names: Vec<&str> = projections::all().iter().map(|p| p.name()).collect();
    let notices = projections::Notices::new();
    let done = projections::wait::wait_for(
        &app.pool,
        &notices,
        &names,
        head(&app.pool).await,
        Duration::from_secs(30),
    )
    .await
    .expect("wait");
    assert!(done, "projections did not catch up");
}

async fn workload(app: &TestApp) {
    let admin = app.admin().await;
    for i in 0..3 {
        let lead = capture_lead(
            app,
            &admin,
            &format!("Firm {i}"),
            &format!("owner{i}@firm{i}.example"),
        )
        .await;
        app.ok(
            Some(&admin),
            "mutation($id: UUID!) { scoreLead(id: $id, score: 70) { caughtUp } }",
            json!({ "id": lead }),
        )
        .await;
        app.ok(
            Some(&admin),
            "mutation($id: UUID!) { addLeadNote(id: $id, body: \"first\") { caughtUp } }",
            json!({ "id": lead }),
        )
        .await;
        if i < 2 {
            win_lead(app, &admin, &lead).await;
            convert_with_project(app, &admin, &lead, &format!("owner{i}@firm{i}.example")).await;
        } else {
            app.ok(
                Some(&admin),
                "mutation($id: UUID!) { markLeadLost(id: $id, reason: \"budget\") { caughtUp } }",
                json!({ "id": lead }),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn applying_the_same_events_twice_gives_the_same_read_model() {
    let app = spawn_app().await.expect("server");
    workload(&app).await;
    caught_up(&app).await;
    for projection in projections::all() {
        let before: Vec<Vec<String>> =
            futures::future::join_all(projection.tables().iter().map(|t| dump(&app.pool, t))).await;
        let mut tx = app.pool.begin().await.expect("tx");
        let events = runner::fetch_batch(
            &mut tx,
            projection.aggregate_types(),
            Position::START,
            Position::END,
            i64::MAX,
            100_000,
        )
        .await
        .expect("events");
        runner::apply_all(projection.as_ref(), &mut tx, &events, false)
            .await
            .expect("reapply");
        tx.commit().await.expect("commit");
        let after: Vec<Vec<String>> =
            futures::future::join_all(projection.tables().iter().map(|t| dump(&app.pool, t))).await;
        assert_eq!(
            before,
            after,
            "{} changed when its events were applied again",
            projection.name()
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn thirty_two_concurrent_commands_on_one_lead_lose_and_duplicate_nothing() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead: Uuid = capture_lead(&app, &admin, "Busy Lead", "busy@lead.example")
        .await
        .parse()
        .expect("uuid");
    let bus = Arc::new(CommandBus::new(app.pool.clone()));
    let tasks: Vec<_> = (0..32)
        .map(|i| {
            let bus = bus.clone();
            tokio::spawn(async move {
                let ctx = CommandContext::system();
                let note_id = Uuid::now_v7();
                let result = bus
                    .lead(
                        &ctx,
                        lead,
                        LeadCommand::AddNote {
                            note_id,
                            body: format!("note {i}"),
                            at: ctx.issued_at,
                        },
                    )
                    .await;
                (note_id, result)
            })
        })
        .collect();
    let mut succeeded = Vec::new();
    for task in tasks {
        let (note_id, result) = task.await.expect("task");
        match result {
            Ok(_) => succeeded.push(note_id.to_string()),
            Err(CommandError::Conflict) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert!(!succeeded.is_empty());
    let sequences: Vec<i64> = sqlx::query_scalar("SELECT sequence FROM events WHERE aggregate_type = 'Lead' AND aggregate_id = $1 ORDER BY sequence")
        .bind(lead.to_string())
        .fetch_all(&app.pool)
        .await
        .expect("sequences");
    assert_eq!(
        sequences,
        (1..=i64::try_from(succeeded.len() + 1).expect("fits")).collect::<Vec<_>>(),
        "gaps or duplicates in the stream"
    );
    let mut stored: Vec<String> = sqlx::query_scalar(
        "SELECT payload->'LeadNoteAdded'->>'note_id' FROM events WHERE aggregate_type = 'Lead' AND aggregate_id = $1 AND event_type = 'LeadNoteAdded'",
    )
    .bind(lead.to_string())
    .fetch_all(&app.pool)
    .await
    .expect("notes");
    stored.sort();
    succeeded.sort();
    assert_eq!(
        stored, succeeded,
        "every accepted note is stored exactly once and no refused one is"
    );
    caught_up(&app).await;
    let count: i32 = sqlx::query_scalar("SELECT note_count FROM lead_view WHERE id = $1")
        .bind(lead)
        .fetch_one(&app.pool)
        .await
        .expect("view");
    assert_eq!(usize::try_from(count).expect("count"), succeeded.len());
    app.stop().await;
}

#[tokio::test]
async fn a_worker_killed_mid_batch_recovers_to_the_same_state_as_a_fresh_rebuild() {
    let app = spawn_app().await.expect("server");
    workload(&app).await;
    caught_up(&app).await;
    let url = app.database_url.clone();
    // No server, so no live worker: this test's steps are the only ones.
    app.stop().await;
    let pool = PgPool::connect(&url).await.expect("pool");
    sqlx::query("DELETE FROM lead_view")
        .execute(&pool)
        .await
        .expect("clear");
    sqlx::query("DELETE FROM lead_notes")
        .execute(&pool)
        .await
        .expect("clear");
    sqlx::query("DELETE FROM lead_activities")
        .execute(&pool)
        .await
        .expect("clear");
    sqlx::query("UPDATE projection_checkpoints SET last_tx = '0', last_position = 0, events_seen = 0 WHERE name = 'leads'")
        .execute(&pool)
        .await
        .expect("reset");

    // The worker dies after folding three events of its batch: everything rolls back.
    let leads = projections::by_name("leads").expect("leads");
    let crashing = FailAfter::new(leads.clone(), 3);
    let outcome = runner::step(&pool, &crashing, 1_000).await;
    assert!(outcome.is_err(), "{outcome:?}");
    let (position, rows): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT last_position FROM projection_checkpoints WHERE name = 'leads'), (SELECT count(*) FROM lead_view)",
    )
    .fetch_one(&pool)
    .await
    .expect("state");
    assert_eq!(
        (position, rows),
        (0, 0),
        "a failed batch left a partial read model or checkpoint"
    );

    // Restarted, the worker catches up and ends equal to a fresh rebuild.
    while runner::step(&pool, leads.as_ref(), 2).await.expect("step") != Step::Applied(0) {}
    let differences = projections::rebuild::verify(&pool, leads.as_ref(), &|_| {})
        .await
        .expect("verify");
    assert!(differences.is_empty(), "{differences:?}");
    let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM lead_view")
        .fetch_one(&pool)
        .await
        .expect("rows");
    assert_eq!(rows, 3);
}

#[tokio::test]
async fn two_servers_on_one_database_project_each_event_once() {
    let first = spawn_app().await.expect("server 1");
    let second = spawn_app_on(&first.database_url).await.expect("server 2");
    let token_1 = first.admin().await;
    let token_2 = second.admin().await;
    let mut leads = Vec::new();
    for i in 0..10 {
        let (app, token) = if i % 2 == 0 {
            (&first, &token_1)
        } else {
            (&second, &token_2)
        };
        leads.push(
            capture_lead(
                app,
                token,
                &format!("Replica {i}"),
                &format!("r{i}@replica.example"),
            )
            .await,
        );
    }
    // Each server reads its own writes even when the other server's worker did the folding.
    for lead in &leads {
        let seen = second
            .ok(
                Some(&token_2),
                "query($id: UUID!) { lead(id: $id) { id } }",
                json!({ "id": lead }),
            )
            .await;
        assert_eq!(seen["lead"]["id"], lead.as_str());
    }
    caught_up(&first).await;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&first.pool)
        .await
        .expect("count");
    let seen: Vec<(String, i64)> = sqlx::query_as(
        "SELECT name, events_seen FROM projection_checkpoints WHERE kind = 'projection'",
    )
    .fetch_all(&first.pool)
    .await
    .expect("checkpoints");
    for (name, events_seen) in seen {
        assert_eq!(
            events_seen, total,
            "{name} saw {events_seen} events of {total}"
        );
    }
    second.stop().await;
    first.stop().await;
}

#[tokio::test]
async fn rebuild_swaps_in_an_equal_read_model_and_verify_passes_after_a_mixed_workload() {
    let app = spawn_app().await.expect("server");
    workload(&app).await;
    caught_up(&app).await;
    let tables: Vec<&str> = projections::all()
        .iter()
        .flat_map(|p| p.tables().iter().copied())
        .collect();
    let before = futures::future::join_all(tables.iter().map(|t| dump(&app.pool, t))).await;
    let shape_before = shape(&app.pool).await;
    for projection in projections::all() {
        projections::rebuild::rebuild(&app.pool, projection.as_ref(), &|_| {})
            .await
            .expect("rebuild");
    }
    let after = futures::future::join_all(tables.iter().map(|t| dump(&app.pool, t))).await;
    for ((table, before), after) in tables.iter().zip(&before).zip(&after) {
        assert_eq!(before, after, "{table} changed in the rebuild");
    }
    // Same indexes and constraints under the same names (a later migration may name them),
    // and every swapped-in table already has planner statistics.
    assert_eq!(shape_before, shape(&app.pool).await);
    let unanalyzed: Vec<String> = sqlx::query_scalar(
        "SELECT relname::text FROM pg_stat_user_tables \
          WHERE relname = ANY($1) AND last_analyze IS NULL AND last_autoanalyze IS NULL",
    )
    .bind(&tables)
    .fetch_all(&app.pool)
    .await
    .expect("statistics");
    assert!(
        unanalyzed.is_empty(),
        "no statistics after the rebuild: {unanalyzed:?}"
    );
    // A rebuild reads only its own events, yet its checkpoint passes over the others too.
    let checkpoints: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT name, events_seen, (SELECT count(*) FROM events e \
                 WHERE (e.transaction_id, e.global_position) <= (c.last_tx, c.last_position)) \
           FROM projection_checkpoints c WHERE c.kind = 'projection'",
    )
    .fetch_all(&app.pool)
    .await
    .expect("checkpoints");
    for (name, seen, up_to_checkpoint) in checkpoints {
        assert_eq!(seen, up_to_checkpoint, "{name}");
        assert!(seen > 0, "{name}");
    }
    // The live worker keeps working on the swapped-in tables.
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "After Rebuild", "after@rebuild.example").await;
    let seen = app
        .ok(
            Some(&admin),
            "query($id: UUID!) { lead(id: $id) { company } }",
            json!({ "id": lead }),
        )
        .await;
    assert_eq!(seen["lead"]["company"], "After Rebuild");
    caught_up(&app).await;
    for projection in projections::all() {
        let differences = projections::rebuild::verify(&app.pool, projection.as_ref(), &|_| {})
            .await
            .expect("verify");
        assert!(
            differences.is_empty(),
            "{}: {differences:?}",
            projection.name()
        );
    }
    app.stop().await;
}

/// Every index and constraint of the public schema, by name and definition.
async fn shape(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as(
        "SELECT indexname::text, indexdef FROM pg_indexes WHERE schemaname = 'public' \
         UNION ALL \
         SELECT conname::text, pg_get_constraintdef(c.oid) FROM pg_constraint c \
           JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = 'public' \
         ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .expect("schema shape")
}

#[tokio::test]
async fn project_as_of_shows_the_project_as_it_stood() {
    let app = spawn_app().await.expect("server");
    let admin = app.admin().await;
    let lead = capture_lead(&app, &admin, "Past Co", "past@co.example").await;
    win_lead(&app, &admin, &lead).await;
    let before = chrono::Utc::now();
    let (_, project) = convert_with_project(&app, &admin, &lead, "past@co.example").await;
    let q = "query($id: UUID!, $at: DateTime!) { projectAsOf(id: $id, at: $at) { currentStage stages { key items { status } } } leadAsOf(id: $id, at: $at) { stage } }";
    let past = app
        .ok(
            Some(&admin),
            q,
            json!({ "id": project, "at": before.to_rfc3339() }),
        )
        .await;
    assert!(
        past["projectAsOf"].is_null(),
        "the project did not exist yet: {past}"
    );
    let now = app
        .ok(
            Some(&admin),
            q,
            json!({ "id": project, "at": chrono::Utc::now().to_rfc3339() }),
        )
        .await;
    assert_eq!(now["projectAsOf"]["currentStage"], "ONBOARDING");
    assert_eq!(
        now["projectAsOf"]["stages"][0]["items"][0]["status"],
        "PENDING"
    );
    let lead_then = app
        .ok(
            Some(&admin),
            "query($id: UUID!, $at: DateTime!) { leadAsOf(id: $id, at: $at) { stage } }",
            json!({ "id": lead, "at": before.to_rfc3339() }),
        )
        .await;
    assert_eq!(lead_then["leadAsOf"]["stage"], "WON");
    app.stop().await;
}

/// A projection wrapper that fails after `n` events, like a worker killed mid-batch.
mod async_trait_shim {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use projections::runner::{Projection, ProjectionError};
    use projections::StoredEvent;
    use sqlx::PgConnection;

    pub(super) struct FailAfter {
        inner: Arc<dyn Projection>,
        left: AtomicUsize,
    }

    impl FailAfter {
        pub(super) fn new(inner: Arc<dyn Projection>, n: usize) -> Self {
            Self {
                inner,
                left: AtomicUsize::new(n),
            }
        }
    }

    #[async_trait::async_trait]
    impl Projection for FailAfter {
        fn name(&self) -> &'static str {
            self.inner.name()
        }
        fn tables(&self) -> &'static [&'static str] {
            self.inner.tables()
        }
        fn aggregate_types(&self) -> &'static [&'static str] {
            self.inner.aggregate_types()
        }
        async fn apply_batch(
            &self,
            conn: &mut PgConnection,
            events: &[&StoredEvent],
            live: bool,
        ) -> Result<(), ProjectionError> {
            // One event at a time, so the failure lands after exactly `n` of them.
            for event in events {
                if self.left.fetch_sub(1, Ordering::SeqCst) == 0 {
                    return Err(ProjectionError::Database(sqlx::Error::PoolClosed));
                }
                self.inner.apply_batch(conn, &[event], live).await?;
            }
            Ok(())
        }
    }
}

#[tokio::test]
async fn a_read_your_writes_waiter_is_settled_by_the_checkpoint_notice_it_waits_for() {
    let app = spawn_app().await.expect("server");
    // A position no checkpoint in the database reaches: only a notice can settle the wait
    // before its bound (and the database's answer at the bound would be "behind").
    let target = Position {
        tx: i64::MAX / 2,
        position: i64::MAX / 2,
    };
    let notices = projections::Notices::new();
    let waiter = {
        let (pool, notices) = (app.pool.clone(), notices.clone());
        tokio::spawn(async move {
            projections::wait::wait_for(
                &pool,
                &notices,
                &["leads", "clients"],
                target,
                Duration::from_secs(60),
            )
            .await
        })
    };
    let checkpoint = |name: &str, position| projections::notices::Notice::Checkpoint {
        name: name.to_owned(),
        position,
    };
    // Notices of other projections, older positions and a bare notice settle nothing.
    notices.publish(checkpoint("users", Some(target)));
    notices.publish(checkpoint("leads", Some(Position { tx: 1, position: 1 })));
    notices.publish(checkpoint("clients", None));
    notices.publish(checkpoint("leads", Some(target)));
    assert!(
        !waiter.is_finished(),
        "settled before every projection got there"
    );
    notices.publish(checkpoint("clients", Some(target)));
    let settled = waiter.await.expect("waiter").expect("wait");
    assert!(settled, "the notices did not settle the wait");
    app.stop().await;
}

/// A rebuild's read of several types (one ordered scan per type, merged) pages through
/// exactly the events a plain filter finds, in log order, whatever the page size.
#[tokio::test]
async fn reading_several_types_pages_through_them_in_log_order() {
    let app = spawn_app().await.expect("server");
    workload(&app).await;
    caught_up(&app).await;
    let mut conn = app.pool.acquire().await.expect("connection");
    let horizon = runner::horizon(&mut conn).await.expect("horizon");
    for types in [
        &["Lead"][..],
        &["Lead", "User"],
        &["User", "Client", "Lead"],
        &["Client", "Nothing"],
    ] {
        let expected: Vec<i64> = sqlx::query_scalar(
            "SELECT global_position FROM events WHERE aggregate_type = ANY($1) \
              ORDER BY transaction_id, global_position",
        )
        .bind(types)
        .fetch_all(&app.pool)
        .await
        .expect("expected");
        assert!(!expected.is_empty(), "{types:?}");
        for limit in [1, 3, 500] {
            let (mut at, mut read) = (Position::START, Vec::new());
            loop {
                let page = runner::fetch(
                    &mut conn,
                    runner::Scope::Own,
                    types,
                    (at, Position::END),
                    horizon,
                    limit,
                )
                .await
                .expect("page");
                let Some(last) = page.last() else { break };
                at = last.position();
                assert!(page.len() <= usize::try_from(limit).expect("limit"));
                assert!(page
                    .iter()
                    .all(|e| types.contains(&e.aggregate_type.as_str())));
                read.extend(page.iter().map(|e| e.global_position));
            }
            assert_eq!(read, expected, "{types:?}, pages of {limit}");
        }
    }
    drop(conn);
    app.stop().await;
}
