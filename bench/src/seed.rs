//! Data for the scenarios, written straight into the event store in large batches.
//!
//! Lead and client events are built as the aggregates would emit them after validation;
//! project streams are produced by running commands through the real `Project` aggregate in
//! memory (`handle` then `apply`), so roll-ups, checklist changes and stage moves are exactly
//! what the server would append. Every row carries the metadata the server writes.

use std::collections::HashMap;

use anyhow::Result;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use cqrs_es::event_sink::EventSink;
use domain::client::{ClientEvent, Contact};
use domain::lead::{LeadEvent, LeadSource, LeadStage};
use domain::project::{
    Actor, DocumentCommand, FileMeta, GateCommand, NewTask, Project, ProjectCommand, ProjectEvent,
    TaskCommand, TaskStatus,
};
use domain::template::seeded_templates;
use domain::{Aggregate, Role};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sqlx::PgPool;
use uuid::Uuid;

/// One row of the `events` table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    aggregate_type: &'static str,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    payload: serde_json::Value,
    metadata: serde_json::Value,
}

/// Rows waiting to be written, with the next sequence of each stream.
#[derive(Debug)]
pub(crate) struct Batch {
    rows: Vec<Row>,
    actor: Uuid,
    rng: StdRng,
}

impl Batch {
    /// A batch whose events are attributed to `actor`.
    pub(crate) fn new(actor: Uuid, seed: u64) -> Self {
        Batch {
            rows: Vec::new(),
            actor,
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// Rows queued.
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    fn push<E: cqrs_es::DomainEvent>(
        &mut self,
        aggregate_type: &'static str,
        id: Uuid,
        sequence: i64,
        event: &E,
    ) -> Result<()> {
        let event_id = Uuid::now_v7();
        let metadata = serde_json::json!({
            "event_id": event_id.to_string(),
            "request_id": event_id.to_string(),
            "correlation_id": event_id.to_string(),
            "causation_id": event_id.to_string(),
            "actor_id": self.actor.to_string(),
            "actor_role": "admin",
        });
        self.rows.push(Row {
            aggregate_type,
            aggregate_id: id.to_string(),
            sequence,
            event_type: event.event_type(),
            payload: serde_json::to_value(event)?,
            metadata,
        });
        Ok(())
    }

    /// Appends everything queued, `chunk` rows per transaction.
    pub(crate) async fn write(&mut self, pool: &PgPool, chunk: usize) -> Result<usize> {
        let rows = std::mem::take(&mut self.rows);
        for part in rows.chunks(chunk) {
            let mut types = Vec::with_capacity(part.len());
            let mut ids = Vec::with_capacity(part.len());
            let mut sequences = Vec::with_capacity(part.len());
            let mut names = Vec::with_capacity(part.len());
            let mut payloads = Vec::with_capacity(part.len());
            let mut metadata = Vec::with_capacity(part.len());
            for row in part {
                types.push(row.aggregate_type);
                ids.push(row.aggregate_id.as_str());
                sequences.push(row.sequence);
                names.push(row.event_type.as_str());
                payloads.push(&row.payload);
                metadata.push(&row.metadata);
            }
            sqlx::query(
                "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata) \
                 SELECT t, i, s, e, '1', p, m FROM UNNEST($1::text[], $2::text[], $3::bigint[], $4::text[], $5::jsonb[], $6::jsonb[]) \
                      AS u(t, i, s, e, p, m)",
            )
            .bind(types)
            .bind(ids)
            .bind(sequences)
            .bind(names)
            .bind(payloads)
            .bind(metadata)
            .execute(pool)
            .await?;
        }
        Ok(rows.len())
    }

    /// A lead with its score, stage moves and notes; one in five is won and becomes a client.
    /// Returns the lead id and the client id if it converted.
    pub(crate) fn lead(
        &mut self,
        n: u64,
        owners: &[Uuid],
        at: DateTime<Utc>,
    ) -> Result<(Uuid, Option<Uuid>)> {
        let id = Uuid::now_v7();
        let owner = owners[self.rng.gen_range(0..owners.len())];
        let sources = [
            LeadSource::Website,
            LeadSource::Referral,
            LeadSource::Event,
            LeadSource::Partner,
            LeadSource::Outbound,
        ];
        let interests = [
            "RBI NBFC registration",
            "SEBI investment adviser",
            "IRDAI broker licence",
            "RBI payment aggregator",
        ];
        let company = format!(
            "{} Finserv {n}",
            ["Aarav", "Bharat", "Chola", "Deccan", "Eastern", "Fortune"][self.rng.gen_range(0..6)]
        );
        let mut events = vec![LeadEvent::LeadCaptured {
            lead_id: id,
            company: company.clone(),
            contact_name: format!("Contact {n}"),
            email: format!("contact{n}@lead{n}.example"),
            phone: Some(format!("+91 98{:08}", n % 100_000_000)),
            source: sources[self.rng.gen_range(0..sources.len())],
            service_interest: interests[self.rng.gen_range(0..interests.len())].into(),
            owner_id: Some(owner),
            at,
        }];
        events.push(LeadEvent::LeadScored {
            score: self.rng.gen_range(0..=100),
            at,
        });
        let path = [
            LeadStage::Prospect,
            LeadStage::Qualified,
            LeadStage::Proposal,
            LeadStage::Negotiation,
            LeadStage::Won,
        ];
        let reached = self.rng.gen_range(0..path.len());
        for pair in path[..=reached].windows(2) {
            events.push(LeadEvent::LeadStageChanged {
                from: pair[0],
                to: pair[1],
                reason: None,
                at,
            });
        }
        for k in 0..self.rng.gen_range(0..3) {
            events.push(LeadEvent::LeadNoteAdded {
                note_id: Uuid::now_v7(),
                body: format!("Call {k}: discussed net-owned-fund requirements and timelines"),
                at,
            });
        }
        let client = (reached == path.len() - 1).then(Uuid::now_v7);
        if let Some(client_id) = client {
            events.push(LeadEvent::LeadConverted {
                client_id,
                project_id: None,
                at,
            });
        }
        for (seq, event) in (1..).zip(&events) {
            self.push("Lead", id, seq, event)?;
        }
        if let Some(client_id) = client {
            let created = ClientEvent::ClientCreated {
                client_id,
                name: company,
                lead_id: Some(id),
                primary_contact: Contact {
                    contact_id: Uuid::now_v7(),
                    name: format!("Contact {n}"),
                    email: format!("contact{n}@lead{n}.example"),
                    phone: None,
                    primary: true,
                },
                at,
            };
            self.push("Client", client_id, 1, &created)?;
        }
        Ok((id, client))
    }

    /// A project of `client_id` driven through the real aggregate until its stream holds at
    /// least `min_events` events: tasks with subtasks worked to completion (roll-ups), the
    /// document loop on every evidence item, verifications and approved stage advances.
    pub(crate) async fn project(
        &mut self,
        client_id: Uuid,
        min_events: usize,
        at: DateTime<Utc>,
    ) -> Result<Uuid> {
        let id = Uuid::now_v7();
        let mut driver = Driver {
            project: Project::default(),
            events: Vec::new(),
        };
        let seeds = seeded_templates();
        let seed = seeds[self.rng.gen_range(0..seeds.len())].clone();
        driver
            .run(ProjectCommand::Create {
                project_id: id,
                client_id,
                name: format!(
                    "{} registration {}",
                    seed.family,
                    &id.simple().to_string()[..8]
                ),
                template: domain::project::TemplateRef {
                    template_id: seed.id,
                    family: seed.family.into(),
                    version: 1,
                },
                stages: seed.stages,
                at,
            })
            .await?;
        let support = Actor {
            user_id: self.actor,
            role: Role::Admin,
        };
        let reviewer = Actor {
            user_id: Uuid::from_u128(1),
            role: Role::Reviewer,
        };
        let customer = Actor {
            user_id: Uuid::from_u128(2),
            role: Role::Client,
        };
        let mut round = 0u32;
        while driver.events.len() < min_events {
            round += 1;
            // A task with subtasks, worked to completion.
            let task_id = Uuid::now_v7();
            let stage = driver.project.current_stage;
            driver
                .run(
                    TaskCommand::AddTask {
                        task: NewTask {
                            task_id,
                            stage,
                            title: format!("Work package {round}"),
                            assignee: Some(self.actor),
                            priority: domain::project::Priority::Medium,
                            due_on: NaiveDate::from_ymd_opt(2027, 1, 1),
                            estimate_hours: Some(f64::from(self.rng.gen_range(1..12))),
                        },
                        at,
                    }
                    .into(),
                )
                .await?;
            let subtasks: Vec<Uuid> = (0..self.rng.gen_range(2..6))
                .map(|_| Uuid::now_v7())
                .collect();
            for (k, subtask_id) in subtasks.iter().enumerate() {
                driver
                    .run(
                        TaskCommand::AddSubtask {
                            task_id,
                            subtask_id: *subtask_id,
                            title: format!("Step {k}"),
                            assignee: Some(self.actor),
                            estimate_hours: Some(f64::from(self.rng.gen_range(1..6))),
                            at,
                        }
                        .into(),
                    )
                    .await?;
            }
            for status in [TaskStatus::InProgress, TaskStatus::Completed] {
                for subtask_id in &subtasks {
                    driver
                        .run(
                            TaskCommand::SetTaskStatus {
                                task_id,
                                subtask_id: Some(*subtask_id),
                                status,
                                at,
                            }
                            .into(),
                        )
                        .await?;
                }
            }
            // Every few rounds, satisfy the gate and move on while stages remain.
            if round.is_multiple_of(3) && !driver.project.stages_complete {
                driver.satisfy_gate(support, reviewer, customer, at).await?;
                driver
                    .run(
                        GateCommand::RequestAdvance {
                            request_id: Uuid::now_v7(),
                            actor: support,
                            at,
                        }
                        .into(),
                    )
                    .await?;
                driver
                    .run(
                        GateCommand::DecideAdvance {
                            approve: true,
                            reason: String::new(),
                            actor: reviewer,
                            at,
                        }
                        .into(),
                    )
                    .await?;
            }
        }
        for (seq, event) in (1..).zip(&driver.events) {
            self.push("Project", id, seq, event)?;
        }
        Ok(id)
    }
}

/// The aggregate run in memory: each command is decided and its events applied.
struct Driver {
    project: Project,
    events: Vec<ProjectEvent>,
}

impl Driver {
    async fn run(&mut self, command: ProjectCommand) -> Result<()> {
        let sink = EventSink::default();
        self.project
            .handle(command, &(), &sink)
            .await
            .map_err(|e| anyhow::anyhow!("seed command refused: {e}"))?;
        self.events.extend(sink.collect().await);
        Ok(())
    }

    async fn satisfy_gate(
        &mut self,
        support: Actor,
        reviewer: Actor,
        customer: Actor,
        at: DateTime<Utc>,
    ) -> Result<()> {
        let Some(stage) = self.project.current_stage else {
            return Ok(());
        };
        let missing: Vec<(String, bool)> = self
            .project
            .missing_for_gate()
            .iter()
            .map(|i| (i.key.clone(), i.evidence_required))
            .collect();
        for (key, evidence) in missing {
            if evidence {
                let request_id = Uuid::now_v7();
                let upload_id = Uuid::now_v7();
                self.run(
                    DocumentCommand::RaiseDocumentRequest {
                        request_id,
                        stage,
                        item_key: key,
                        instructions: "Signed copy, all pages".into(),
                        due_on: NaiveDate::from_ymd_opt(2027, 1, 1),
                        actor: support,
                        at,
                    }
                    .into(),
                )
                .await?;
                self.run(
                    DocumentCommand::RecordUpload {
                        request_id,
                        upload_id,
                        file: FileMeta {
                            name: "evidence.pdf".into(),
                            size: 48_213,
                            media_type: "application/pdf".into(),
                            sha256: "0".repeat(64),
                            storage_key: format!("bench/{upload_id}"),
                        },
                        actor: customer,
                        at,
                    }
                    .into(),
                )
                .await?;
                self.run(
                    DocumentCommand::ReviewUpload {
                        upload_id,
                        accept: true,
                        reason: String::new(),
                        actor: reviewer,
                        at,
                    }
                    .into(),
                )
                .await?;
            } else {
                self.run(
                    GateCommand::VerifyItem {
                        stage,
                        key,
                        actor: support,
                        at,
                    }
                    .into(),
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// Leads written so far, for the scenarios to pick from.
#[derive(Debug, Default)]
pub(crate) struct Seeded {
    /// Lead ids.
    pub leads: Vec<Uuid>,
    /// Client ids.
    pub clients: Vec<Uuid>,
    /// Events written.
    pub events: usize,
}

/// Writes `leads` leads (with their clients) in batches.
pub(crate) async fn leads(
    pool: &PgPool,
    actor: Uuid,
    owners: &[Uuid],
    leads: u64,
    seed: u64,
) -> Result<Seeded> {
    let mut batch = Batch::new(actor, seed);
    let mut seeded = Seeded::default();
    let start = Utc::now() - Duration::days(365);
    for n in 0..leads {
        let at = start + Duration::minutes(i64::try_from(n).unwrap_or(0) % (365 * 24 * 60));
        let (lead, client) = batch.lead(n, owners, at)?;
        seeded.leads.push(lead);
        seeded.clients.extend(client);
        if batch.len() >= 20_000 {
            seeded.events += batch.write(pool, 5_000).await?;
        }
    }
    seeded.events += batch.write(pool, 5_000).await?;
    Ok(seeded)
}

/// Per-type counts of the events in the log.
pub(crate) async fn mix(pool: &PgPool) -> Result<HashMap<String, i64>> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("SELECT aggregate_type, count(*) FROM events GROUP BY aggregate_type")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().collect())
}
