//! Effort reports: approved time of a month per matter (project or service item), client or consultant, with
//! billable amounts at the rate card's rates and each consultant's utilisation.

use std::collections::{BTreeMap, HashMap};

use async_graphql::{Context, Enum, Object, Result, SimpleObject};
use chrono::{Datelike, Weekday};
use domain::statement::Month;
use domain::Permission;
use uuid::Uuid;

use crate::error::ApiError;
use crate::exports::csv_field;
use crate::graphql::context::Ctx;
use crate::graphql::rates::Money;

/// Hours a consultant is available on a working day (Monday to Friday), for utilisation.
pub(super) const WORKING_DAY_HOURS: i64 = 8;

/// What a report's rows sum over.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReportGrouping {
    /// Per matter: each project and each service item.
    Matter,
    Client,
    Consultant,
}

/// One row of an effort report.
#[derive(SimpleObject, Debug)]
pub(super) struct ReportRow {
    /// The matter (project or service item), client or consultant.
    id: Uuid,
    /// Its name (the project's or service item's, the client's, the consultant's).
    name: String,
    minutes: i64,
    billable_minutes: i64,
    /// The billable minutes priced at the rate card's rates, one amount per currency.
    amounts: Vec<Money>,
    /// Billable minutes that had no rate to price them.
    unpriced_minutes: i64,
    /// For consultants: billable hours over the month's working hours (weekdays × 8), 0 to 1
    /// and above for overtime.
    utilisation: Option<f64>,
}

/// An effort report of one month.
#[derive(SimpleObject, Debug)]
pub(super) struct EffortReport {
    month: String,
    grouping: ReportGrouping,
    /// Working hours a consultant has in the month (weekdays × 8).
    available_hours: i64,
    rows: Vec<ReportRow>,
    /// The rows as CSV (RFC 4180, a header row first, amounts in minor units).
    csv: String,
}

#[derive(Default)]
struct Sum {
    minutes: i64,
    billable: i64,
    unpriced: i64,
    amounts: BTreeMap<String, i64>,
}

fn weekdays(month: Month) -> i64 {
    let (Some(first), Some(last)) = (month.first_day(), month.last_day()) else {
        return 0;
    };
    first
        .iter_days()
        .take_while(|d| *d <= last)
        .filter(|d| !matches!(d.weekday(), Weekday::Sat | Weekday::Sun))
        .count()
        .try_into()
        .unwrap_or(0)
}

fn csv(report_rows: &[ReportRow]) -> String {
    let mut out =
        String::from("id,name,minutes,billable_minutes,unpriced_minutes,amounts,utilisation\r\n");
    for row in report_rows {
        let amounts: Vec<String> = row
            .amounts
            .iter()
            .map(|m| format!("{} {}", m.currency, m.minor))
            .collect();
        out.push_str(&format!(
            "{},{},{},{},{},{},{}\r\n",
            row.id,
            csv_field(&row.name),
            row.minutes,
            row.billable_minutes,
            row.unpriced_minutes,
            csv_field(&amounts.join("; ")),
            row.utilisation
                .map(|u| format!("{u:.3}"))
                .unwrap_or_default(),
        ));
    }
    out
}

/// Report queries.
#[derive(Default, Debug)]
pub(super) struct ReportQuery;

#[Object]
impl ReportQuery {
    /// Approved effort of `month` (`2026-11`) per project, client or consultant (managers,
    /// reviewers and admins), largest first.
    async fn effort_report(
        &self,
        ctx: &Context<'_>,
        month: String,
        by: ReportGrouping,
    ) -> Result<EffortReport> {
        ctx.request().auth.require(Permission::ApproveEffort)?;
        let month = Month::parse("month", &month).map_err(ApiError::from)?;
        let (Some(from), Some(until)) = (month.first_day(), month.last_day()) else {
            return Err(ApiError::bad_input("month: not a month").into());
        };
        let pool = &ctx.state().pool;
        let entries = projections::effort::approved_between(pool, from, until)
            .await
            .map_err(ApiError::from)?;
        let card = projections::rates::card(pool)
            .await
            .map_err(ApiError::from)?;
        let mut users = HashMap::new();
        for user_id in entries.iter().map(|e| e.user_id) {
            if let std::collections::hash_map::Entry::Vacant(slot) = users.entry(user_id) {
                slot.insert(
                    projections::users::find(pool, user_id)
                        .await
                        .map_err(ApiError::from)?,
                );
            }
        }
        let mut sums: HashMap<Uuid, Sum> = HashMap::new();
        for e in &entries {
            let key = match by {
                ReportGrouping::Matter => e.matter_id,
                ReportGrouping::Client => e.client_id,
                ReportGrouping::Consultant => e.user_id,
            };
            let sum = sums.entry(key).or_default();
            sum.minutes += i64::from(e.minutes);
            if !e.billable {
                continue;
            }
            sum.billable += i64::from(e.minutes);
            let role = users
                .get(&e.user_id)
                .and_then(Option::as_ref)
                .and_then(|u| domain::Role::parse(&u.role));
            match role.and_then(|role| card.rate_for(e.user_id, role, e.client_id)) {
                Some(rate) => {
                    let amount = rate.for_minutes(e.minutes);
                    *sum.amounts.entry(amount.currency).or_default() += amount.minor;
                }
                None => sum.unpriced += i64::from(e.minutes),
            }
        }
        let available_hours = weekdays(month) * WORKING_DAY_HOURS;
        let mut rows = Vec::with_capacity(sums.len());
        for (id, sum) in sums {
            let name = match by {
                ReportGrouping::Consultant => users
                    .get(&id)
                    .and_then(Option::as_ref)
                    .map(|u| u.display_name.clone()),
                ReportGrouping::Client => projections::clients::find(pool, id)
                    .await
                    .map_err(ApiError::from)?
                    .map(|c| c.name),
                ReportGrouping::Matter => match projections::projects::find(pool, id)
                    .await
                    .map_err(ApiError::from)?
                {
                    Some(project) => Some(project.name),
                    None => projections::service::item(pool, id)
                        .await
                        .map_err(ApiError::from)?
                        .map(|item| item.title),
                },
            };
            let utilisation = (by == ReportGrouping::Consultant && available_hours > 0)
                .then(|| sum.billable as f64 / 60.0 / available_hours as f64);
            rows.push(ReportRow {
                id,
                name: name.unwrap_or_default(),
                minutes: sum.minutes,
                billable_minutes: sum.billable,
                amounts: sum
                    .amounts
                    .into_iter()
                    .map(|(currency, minor)| Money::from(domain::rate::Money { minor, currency }))
                    .collect(),
                unpriced_minutes: sum.unpriced,
                utilisation,
            });
        }
        rows.sort_by(|a, b| b.minutes.cmp(&a.minutes).then(a.id.cmp(&b.id)));
        Ok(EffortReport {
            month: month.to_string(),
            grouping: by,
            available_hours,
            csv: csv(&rows),
            rows,
        })
    }
}
