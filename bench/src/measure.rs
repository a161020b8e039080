//! The scenarios of one run in order, each beside its baseline, adding its lines to the
//! table and its figures to the JSON report.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::scenarios::{self, Api};
use crate::stats::ratio;
use crate::{effort, mail, ms, seed, server, webhooks, Line, Size, Sizes};

/// The longest a scenario waits for the projections to catch up.
const CATCH_UP: Duration = Duration::from_secs(900);

/// What the scenarios share: the server, its database and what was seeded.
struct Run {
    t0: Instant,
    sizes: Sizes,
    smtp: tests::smtp::SmtpServer,
    server: server::ServerProcess,
    pool: sqlx::PgPool,
    admin: Api,
    admin_id: Uuid,
    seeded: seed::Seeded,
    owners: Arc<Vec<Uuid>>,
    leads: Arc<Vec<Uuid>>,
    lines: Vec<Line>,
    report: Value,
}

/// Runs every scenario against a server on `url`; the table and the JSON report.
pub(crate) async fn measure(
    url: &str,
    work: &std::path::Path,
    sizes: Sizes,
    size: Size,
) -> Result<(Vec<Line>, Value)> {
    let mut run = Run::start(url, work, sizes, size).await?;
    run.write().await?;
    run.read().await?;
    run.audit().await?;
    run.rebuild().await?;
    run.effort().await?;
    run.email().await?;
    run.webhooks().await?;
    run.finish().await
}

impl Run {
    /// Starts the server and seeds the owners and leads every scenario uses.
    async fn start(url: &str, work: &std::path::Path, sizes: Sizes, size: Size) -> Result<Self> {
        let t0 = Instant::now();
        let smtp = tests::smtp::SmtpServer::start().await;
        let server = server::ServerProcess::start(url, &work.join("files"), smtp.addr.port())?;
        crate::cpu::watch_server(server.pid());
        // The baselines' pool: the server's own settings, through the server's own constructor.
        let pool = api::startup::connect(url, 40).await?;
        let admin =
            Api::login(&server.address, server::ADMIN_EMAIL, server::ADMIN_PASSWORD).await?;
        let admin_id: Uuid = serde_json::from_value(
            admin.call("{ me { id } }", json!({})).await?["me"]["id"].take(),
        )?;

        // Owners through the real write path.
        let mut owners = Vec::new();
        for n in 0..sizes.owners {
            let data = admin
                .call(
                    "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
                    json!({ "i": { "email": format!("owner{n}@firm.example"), "displayName": format!("Owner {n}"),
                                   "role": "SUPPORT", "password": "a-long-password-1" } }),
                )
                .await?;
            owners.push(serde_json::from_value::<Uuid>(
                data["createUser"]["user"]["id"].clone(),
            )?);
        }
        let seeded = seed::leads(&pool, admin_id, &owners, sizes.leads, 7).await?;
        scenarios::caught_up(&pool, CATCH_UP).await?;
        // A settled database, as it is a minute after any bulk load: autovacuum has gathered
        // statistics on the new rows. Without them the read scenario's plan depends on whether
        // autovacuum happened to get there first (the baseline swung between 172 and 3,258
        // pages/s across runs of the same code).
        sqlx::query("VACUUM ANALYZE").execute(&pool).await?;
        crate::log(
            &format!(
                "seeded {} leads ({} events) and folded them",
                sizes.leads, seeded.events
            ),
            t0,
        );
        let leads = Arc::new(seeded.leads.clone());
        let owners = Arc::new(owners);
        Ok(Run {
            t0,
            sizes,
            smtp,
            server,
            pool,
            admin,
            admin_id,
            seeded,
            owners,
            leads,
            lines: Vec::new(),
            report: json!({ "size": size, "sizes": sizes, "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0) }),
        })
    }

    fn log(&self, message: &str) {
        crate::log(message, self.t0);
    }

    /// Write, with freshness and memory measured during it.
    async fn write(&mut self) -> Result<()> {
        let base = scenarios::write_baseline(
            &self.pool,
            self.leads.clone(),
            self.sizes.write_clients,
            self.sizes.write_ops,
        )
        .await?;
        scenarios::caught_up(&self.pool, CATCH_UP).await?;
        let notes_before: i64 =
            sqlx::query_scalar("SELECT count(*) FROM events WHERE event_type = 'LeadNoteAdded'")
                .fetch_one(&self.pool)
                .await?;
        self.server.reset_peak_rss()?;
        let lag_before = scenarios::scrape_lag(&self.server.address).await?;
        let write = scenarios::write_server(
            &self.admin,
            self.leads.clone(),
            self.sizes.write_clients,
            self.sizes.write_ops,
        )
        .await?;
        scenarios::caught_up(&self.pool, CATCH_UP).await?;
        let lag = scenarios::lag_between(
            &lag_before,
            &scenarios::scrape_lag(&self.server.address).await?,
        );
        let peak_kib = self.server.peak_rss_kib()?;
        self.log("write scenario done");
        let write_ratio = ratio(write.per_second, base.per_second);
        self.lines.push(Line {
            scenario: "write (addLeadNote)",
            measured: format!(
                "{:.0}/s p50 {} p99 {}",
                write.per_second,
                ms(write.p50_ms),
                ms(write.p99_ms)
            ),
            baseline: format!("{:.0}/s p99 {}", base.per_second, ms(base.p99_ms)),
            ratio: Some(write_ratio),
            target: "ratio >= 0.5",
            met: write_ratio >= 0.5,
        });
        // No event skipped: every note appended is counted in the read model, and the lead
        // projection saw every lead event appended during the run.
        let (notes_events, notes_folded): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM events WHERE event_type = 'LeadNoteAdded'), \
                    (SELECT COALESCE(sum(note_count), 0)::bigint FROM lead_view)",
        )
        .fetch_one(&self.pool)
        .await?;
        let leads_lag = lag.get("leads").copied();
        let skipped = notes_events - notes_folded;
        let appended = u64::try_from(notes_events - notes_before).unwrap_or(0);
        let seen = leads_lag.map_or(0, |l| l.events);
        for (name, l) in &lag {
            self.lines.push(Line {
                scenario: "freshness",
                measured: format!(
                    "{name}: p50 <= {} p99 <= {} ({} ev)",
                    l.p50_ms, l.p99_ms, l.events
                ),
                baseline: "-".into(),
                ratio: None,
                target: "p99 <= 100 ms",
                met: l.p99_ms <= 100.0,
            });
        }
        self.lines.push(Line {
            scenario: "freshness: skipped",
            measured: format!("{skipped} notes missing; {seen} of {appended} folded live"),
            baseline: "-".into(),
            ratio: None,
            target: "none skipped",
            met: skipped == 0 && seen >= appended,
        });
        self.lines.push(Line {
            scenario: "memory (server)",
            measured: format!("peak RSS {:.1} MB during write", peak_kib as f64 / 1024.0),
            baseline: "-".into(),
            ratio: None,
            target: "<= 200 MB",
            met: peak_kib <= 200 * 1024,
        });
        self.report["write"] = json!({ "server": write, "baseline": base, "ratio": write_ratio });
        self.report["freshness"] = json!({ "lag": lag, "notes_missing": skipped, "appended": appended, "folded_live": seen });
        self.report["memory"] = json!({ "peak_rss_kib": peak_kib });
        Ok(())
    }

    /// Read, on a settled database.
    async fn read(&mut self) -> Result<()> {
        // Read, on a settled database: the write scenario left 20k new events and as many
        // updated lead rows, and autovacuum getting to them in the middle of one side of the
        // ratio and not the other was noise in the comparison.
        sqlx::query("VACUUM ANALYZE").execute(&self.pool).await?;
        let base = scenarios::read_baseline(
            &self.pool,
            self.owners.clone(),
            self.sizes.read_clients,
            self.sizes.read_ops,
        )
        .await?;
        let read = scenarios::read_server(
            &self.admin,
            self.owners.clone(),
            self.sizes.read_clients,
            self.sizes.read_ops,
        )
        .await?;
        // The floor under any GraphQL read: HTTP, the JWT, parsing, validating and answering
        // `{ __typename }`, no database. Not a target; it bounds what the read ratio can reach.
        let floor =
            scenarios::graphql_floor(&self.admin, self.sizes.read_clients, self.sizes.read_ops)
                .await?;
        self.log("read scenario done");
        let read_ratio = ratio(read.per_second, base.per_second);
        self.lines.push(Line {
            scenario: "read (50 leads nested)",
            measured: format!(
                "{:.0}/s p50 {} p99 {}",
                read.per_second,
                ms(read.p50_ms),
                ms(read.p99_ms)
            ),
            baseline: format!("{:.0}/s p99 {}", base.per_second, ms(base.p99_ms)),
            ratio: Some(read_ratio),
            target: "ratio >= 0.5, p99 <= 25 ms",
            met: read_ratio >= 0.5 && read.p99_ms <= 25.0,
        });
        self.lines.push(Line {
            scenario: "read floor ({ __typename })",
            measured: format!(
                "{:.0}/s p50 {} p99 {}",
                floor.per_second,
                ms(floor.p50_ms),
                ms(floor.p99_ms)
            ),
            baseline: format!("{:.0}/s (read baseline)", base.per_second),
            ratio: Some(ratio(floor.per_second, base.per_second)),
            target: "- (bounds the read ratio)",
            met: true,
        });
        self.report["read"] = json!({ "server": read, "baseline": base, "ratio": read_ratio, "graphql_floor": floor });
        Ok(())
    }

    /// Audit: a project as of a past instant, and its history.
    async fn audit(&mut self) -> Result<()> {
        let mut batch = seed::Batch::new(self.admin_id, 11);
        let client = self
            .seeded
            .clients
            .first()
            .copied()
            .context("no client was seeded")?;
        let project = batch
            .project(client, self.sizes.audit_events, chrono::Utc::now())
            .await?;
        let project_events = batch.write(&self.pool, 5_000).await?;
        scenarios::caught_up(&self.pool, CATCH_UP).await?;
        let audit =
            scenarios::audit(&self.admin, &self.pool, project, self.sizes.audit_reps).await?;
        self.log("audit scenario done");
        for (name, baseline) in [("project_as_of", "raw_fetch"), ("history", "raw_page")] {
            let (f, raw) = (audit[name], audit[baseline]);
            self.lines.push(Line {
                scenario: if name == "history" {
                    "audit: history"
                } else {
                    "audit: projectAsOf"
                },
                measured: if name == "history" {
                    format!("p50 {} p99 {} (pages of 100)", ms(f.p50_ms), ms(f.p99_ms))
                } else {
                    format!(
                        "p50 {} p99 {} ({project_events} ev)",
                        ms(f.p50_ms),
                        ms(f.p99_ms)
                    )
                },
                baseline: if name == "history" {
                    format!("raw page p50 {}", ms(raw.p50_ms))
                } else {
                    format!("raw fetch p50 {}", ms(raw.p50_ms))
                },
                ratio: Some(ratio(raw.p50_ms, f.p50_ms)),
                target: "p99 <= 20 ms",
                met: f.p99_ms <= 20.0,
            });
        }
        self.report["audit"] = json!({ "events": project_events, "figures": audit });
        Ok(())
    }

    /// Rebuild over a realistic mix, topped up to the size.
    async fn rebuild(&mut self) -> Result<()> {
        let mut have: usize =
            usize::try_from(projections::rebuild::event_count(&self.pool).await?).unwrap_or(0);
        let mut batch = seed::Batch::new(self.admin_id, 13);
        let mut n = self.sizes.leads;
        let clients = self.seeded.clients.clone();
        while have < self.sizes.rebuild_events {
            // Roughly half projects, half leads by event count.
            let before = batch.len();
            batch
                .project(
                    clients[usize::try_from(n).unwrap_or(0) % clients.len()],
                    150,
                    chrono::Utc::now(),
                )
                .await?;
            while batch.len() - before < 300 {
                batch.lead(n, &self.owners, chrono::Utc::now())?;
                n += 1;
            }
            have += batch.len() - before;
            if batch.len() >= 20_000 {
                batch.write(&self.pool, 5_000).await?;
            }
        }
        batch.write(&self.pool, 5_000).await?;
        scenarios::caught_up(&self.pool, CATCH_UP).await?;
        let mix = seed::mix(&self.pool).await?;
        self.log(&format!("log topped up to {have} events: {mix:?}"));
        // Both sides of the rebuild comparison start from a settled database: without this,
        // autovacuum of the freshly written log and read models runs during whichever comes
        // first and the figure measures the two cores' contention.
        sqlx::query("VACUUM ANALYZE").execute(&self.pool).await?;
        let (streamed, base_time) = scenarios::stream_and_decode(&self.pool).await?;
        let (rebuild_time, each) = scenarios::rebuild_all(&self.pool).await?;
        self.log(&format!(
            "rebuild scenario done: seconds per projection {each:?}"
        ));
        let rate = streamed as f64 / rebuild_time.as_secs_f64();
        let base_rate = streamed as f64 / base_time.as_secs_f64();
        let rebuild_ratio = ratio(rate, base_rate);
        self.lines.push(Line {
            scenario: "rebuild --all",
            measured: format!(
                "{rate:.0} ev/s ({streamed} ev, {:.1} s)",
                rebuild_time.as_secs_f64()
            ),
            baseline: format!("{base_rate:.0} ev/s stream+decode"),
            ratio: Some(rebuild_ratio),
            target: ">= 50k ev/s, ratio >= 0.25",
            met: rate >= 50_000.0 && rebuild_ratio >= 0.25,
        });
        self.report["rebuild"] = json!({ "events": streamed, "seconds_per_projection": each, "mix": mix,
            "seconds": rebuild_time.as_secs_f64(), "events_per_second": rate,
            "baseline_seconds": base_time.as_secs_f64(), "baseline_events_per_second": base_rate, "ratio": rebuild_ratio });
        Ok(())
    }

    /// Effort: ingestion and a statement.
    async fn effort(&mut self) -> Result<()> {
        // Effort: two projects of two clients; the first client's is the statement's.
        let mut batch = seed::Batch::new(self.admin_id, 17);
        let clients = &self.seeded.clients;
        let (statement_client, other_client) =
            (clients[1 % clients.len()], clients[2 % clients.len()]);
        let projects = [
            batch
                .project(statement_client, 10, chrono::Utc::now())
                .await?,
            batch.project(other_client, 10, chrono::Utc::now()).await?,
        ];
        batch.write(&self.pool, 5_000).await?;
        scenarios::caught_up(&self.pool, CATCH_UP).await?;
        let e = effort::run(
            &self.server.address,
            &self.admin,
            &self.pool,
            projects,
            statement_client,
            self.sizes.effort,
        )
        .await?;
        self.log("effort scenarios done");
        let ingest_ratio = ratio(e.logged_per_second, e.raw_per_second);
        self.lines.push(Line {
            scenario: "ingest (batches of 500)",
            measured: format!(
                "{:.0}/s answered, {:.0}/s drafts ({} entries)",
                e.received_per_second, e.logged_per_second, e.entries
            ),
            baseline: format!("{:.0}/s raw insert", e.raw_per_second),
            ratio: Some(ingest_ratio),
            target: "- (reported)",
            met: true,
        });
        self.lines.push(Line {
            scenario: "ingest: repeat",
            measured: format!(
                "{:.0}/s, {} events added",
                e.entries as f64 / e.repeat.seconds,
                e.repeat_events_added
            ),
            baseline: format!("{:.0}/s raw insert", e.raw_per_second),
            ratio: Some(ratio(e.entries as f64 / e.repeat.seconds, e.raw_per_second)),
            target: "adds nothing",
            met: e.repeat_events_added == 0 && e.repeat_all_marked,
        });
        self.lines.push(Line {
            scenario: "statement",
            measured: format!(
                "{} entries: issue {}, read p50 {} p99 {}",
                e.statement_entries,
                ms(e.issue_ms),
                ms(e.statement_read.p50_ms),
                ms(e.statement_read.p99_ms)
            ),
            baseline: format!("raw SQL sum p50 {}", ms(e.raw_sum.p50_ms)),
            ratio: Some(ratio(e.raw_sum.p50_ms, e.statement_read.p50_ms)),
            target: "- (reported)",
            met: true,
        });
        self.report["effort"] = json!(e);
        Ok(())
    }

    /// Email: the outbox drained over SMTP.
    async fn email(&mut self) -> Result<()> {
        let m = mail::run(&self.pool, &self.smtp, self.sizes.emails).await?;
        self.log("email scenario done");
        self.lines.push(Line {
            scenario: "email drain",
            measured: format!(
                "{:.0} msg/s ({} messages)",
                m.drained_per_second, m.messages
            ),
            baseline: format!("{:.0} msg/s raw SMTP", m.raw_per_second),
            ratio: Some(ratio(m.drained_per_second, m.raw_per_second)),
            target: "- (reported), each once",
            met: m.received == m.messages,
        });
        self.report["email"] = json!(m);
        Ok(())
    }

    /// Webhooks: fan-out to three endpoints.
    async fn webhooks(&mut self) -> Result<()> {
        // The run outlasts an access token.
        self.admin = Api::login(
            &self.server.address,
            server::ADMIN_EMAIL,
            server::ADMIN_PASSWORD,
        )
        .await?;
        let w = webhooks::run(&self.admin, &self.pool, self.sizes.webhook_events).await?;
        self.log("webhook scenario done");
        self.lines.push(Line {
            scenario: "webhook fan-out (3 endpoints)",
            measured: format!(
                "commit to delivery p50 {} p99 {} (queued p50 {}) ({} events)",
                ms(w.delivery.p50_ms),
                ms(w.delivery.p99_ms),
                ms(w.queued_p50_ms),
                w.events
            ),
            baseline: format!(
                "raw signed POST p50 {} p99 {}",
                ms(w.raw.p50_ms),
                ms(w.raw.p99_ms)
            ),
            ratio: Some(ratio(w.raw.p50_ms, w.delivery.p50_ms)),
            target: "- (reported), each once",
            met: w.distinct == w.events * w.endpoints,
        });
        self.report["webhooks"] = json!(w);
        Ok(())
    }

    /// Stops the server; the table and the report.
    async fn finish(mut self) -> Result<(Vec<Line>, Value)> {
        let lines_json: Vec<Value> = self.lines
            .iter()
            .map(|l| json!({ "scenario": l.scenario, "measured": l.measured, "baseline": l.baseline, "ratio": l.ratio, "target": l.target, "met": l.met }))
            .collect();
        self.report["table"] = Value::Array(lines_json);
        self.pool.close().await;
        self.server.stop()?;
        Ok((self.lines, self.report))
    }
}
