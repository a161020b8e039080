//! The RBI, SEBI and IRDAI templates seeded at first start.
//!
//! Their ids are fixed so that seeding is idempotent across restarts and replicas.

use uuid::Uuid;

use super::{ChecklistItemSpec, StageKey, StageSpec};
use crate::Role;

/// A template to seed.
#[derive(Debug, Clone)]
pub struct SeedTemplate {
    /// Fixed id.
    pub id: Uuid,
    /// Family code.
    pub family: &'static str,
    pub name: &'static str,
    /// Stages of version 1.
    pub stages: Vec<StageSpec>,
}

/// (key, title, mandatory, evidence required, responsible role)
type Item = (&'static str, &'static str, bool, bool, Role);

fn stage(
    stage: StageKey,
    sla_days: Option<u32>,
    extension: Option<u32>,
    items: &[Item],
) -> StageSpec {
    StageSpec {
        stage,
        sla_days,
        sla_extension_days: extension,
        items: items
            .iter()
            .map(
                |&(key, title, mandatory, evidence_required, responsible_role)| ChecklistItemSpec {
                    key: key.into(),
                    title: title.into(),
                    mandatory,
                    evidence_required,
                    responsible_role,
                    request: None,
                },
            )
            .collect(),
        milestones: Vec::new(),
    }
}

const ONBOARDING: [Item; 3] = [
    (
        "engagement_letter",
        "Signed engagement letter",
        true,
        true,
        Role::Support,
    ),
    (
        "kyc_directors",
        "KYC of directors and key managerial persons",
        true,
        true,
        Role::Support,
    ),
    (
        "kickoff_call",
        "Kick-off call held and scope confirmed",
        false,
        false,
        Role::Consultant,
    ),
];

/// The seeded templates, one per family.
pub fn seeded_templates() -> Vec<SeedTemplate> {
    use Role::{Consultant as C, Manager as M, Reviewer as R, Support as S};
    use StageKey::*;
    vec![
        SeedTemplate {
            id: Uuid::from_u128(0x5eed_0001),
            family: "RBI",
            name: "RBI NBFC Certificate of Registration",
            stages: vec![
                stage(Onboarding, Some(7), None, &ONBOARDING),
                stage(
                    Documentation,
                    Some(30),
                    None,
                    &[
                        (
                            "moa_aoa",
                            "Memorandum and Articles with NBFC objects clause",
                            true,
                            true,
                            S,
                        ),
                        (
                            "net_owned_fund",
                            "Net Owned Fund certificate from statutory auditor",
                            true,
                            true,
                            R,
                        ),
                        (
                            "board_resolution",
                            "Board resolution authorising the application",
                            true,
                            true,
                            S,
                        ),
                        (
                            "business_plan",
                            "Five-year business plan and projections",
                            true,
                            true,
                            C,
                        ),
                        (
                            "credit_reports",
                            "Credit information reports of directors",
                            false,
                            true,
                            S,
                        ),
                    ],
                ),
                stage(
                    Filing,
                    Some(15),
                    None,
                    &[
                        (
                            "cosmos_application",
                            "Application filed on the RBI COSMOS portal",
                            true,
                            true,
                            C,
                        ),
                        (
                            "hard_copy_submission",
                            "Hard copy submitted to the Regional Office",
                            true,
                            true,
                            S,
                        ),
                    ],
                ),
                stage(
                    Liaison,
                    Some(30),
                    None,
                    &[
                        (
                            "rbi_queries_answered",
                            "All RBI queries answered within 30 days",
                            true,
                            true,
                            C,
                        ),
                        (
                            "inspection_ready",
                            "Registered office ready for inspection",
                            false,
                            false,
                            M,
                        ),
                    ],
                ),
                stage(
                    Issue,
                    None,
                    None,
                    &[
                        (
                            "cor_received",
                            "Certificate of Registration received",
                            true,
                            true,
                            S,
                        ),
                        (
                            "post_registration_filings",
                            "Post-registration compliance calendar set up",
                            true,
                            false,
                            C,
                        ),
                    ],
                ),
            ],
        },
        SeedTemplate {
            id: Uuid::from_u128(0x5eed_0002),
            family: "SEBI",
            name: "SEBI Investment Adviser Registration",
            stages: vec![
                stage(Onboarding, Some(7), None, &ONBOARDING),
                stage(
                    Documentation,
                    Some(30),
                    None,
                    &[
                        (
                            "nism_certificates",
                            "NISM X-A and X-B certificates of principal officer",
                            true,
                            true,
                            S,
                        ),
                        (
                            "qualification_proof",
                            "Qualification and experience proofs",
                            true,
                            true,
                            S,
                        ),
                        (
                            "net_worth_certificate",
                            "Net worth certificate from a chartered accountant",
                            true,
                            true,
                            R,
                        ),
                        (
                            "fit_and_proper",
                            "Fit and proper declarations",
                            true,
                            true,
                            S,
                        ),
                    ],
                ),
                stage(
                    Filing,
                    Some(15),
                    None,
                    &[
                        (
                            "si_portal_application",
                            "Application filed on the SEBI intermediary portal",
                            true,
                            true,
                            C,
                        ),
                        (
                            "fee_paid",
                            "Application and registration fee paid",
                            true,
                            true,
                            S,
                        ),
                    ],
                ),
                stage(
                    Liaison,
                    Some(15),
                    Some(15),
                    &[(
                        "sebi_observations_answered",
                        "SEBI observations answered within 15 days (extendable once by 15)",
                        true,
                        true,
                        C,
                    )],
                ),
                stage(
                    Issue,
                    None,
                    None,
                    &[
                        (
                            "registration_certificate",
                            "Registration certificate received",
                            true,
                            true,
                            S,
                        ),
                        (
                            "compliance_manual",
                            "Compliance manual and client agreement issued",
                            true,
                            false,
                            C,
                        ),
                    ],
                ),
            ],
        },
        SeedTemplate {
            id: Uuid::from_u128(0x5eed_0003),
            family: "IRDAI",
            name: "IRDAI Corporate Agent Registration",
            stages: vec![
                stage(Onboarding, Some(7), None, &ONBOARDING),
                stage(
                    Documentation,
                    Some(30),
                    None,
                    &[
                        (
                            "principal_officer_training",
                            "Principal officer training and examination certificate",
                            true,
                            true,
                            S,
                        ),
                        (
                            "specified_persons",
                            "List and certificates of specified persons",
                            true,
                            true,
                            S,
                        ),
                        (
                            "net_worth_proof",
                            "Audited financials and net worth proof",
                            true,
                            true,
                            R,
                        ),
                        (
                            "insurer_tie_ups",
                            "Letters of intent from insurers",
                            false,
                            true,
                            C,
                        ),
                    ],
                ),
                stage(
                    Filing,
                    Some(15),
                    None,
                    &[
                        (
                            "bap_application",
                            "Application filed on the IRDAI portal",
                            true,
                            true,
                            C,
                        ),
                        ("fee_paid", "Registration fee paid", true, true, S),
                    ],
                ),
                stage(
                    Liaison,
                    Some(30),
                    None,
                    &[(
                        "irdai_queries_answered",
                        "IRDAI queries answered",
                        true,
                        true,
                        C,
                    )],
                ),
                stage(
                    Issue,
                    None,
                    None,
                    &[
                        (
                            "certificate_received",
                            "Certificate of registration received",
                            true,
                            true,
                            S,
                        ),
                        (
                            "renewal_calendar",
                            "Renewal calendar set (three-year validity)",
                            true,
                            false,
                            C,
                        ),
                    ],
                ),
            ],
        },
    ]
}
