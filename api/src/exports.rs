//! An issued statement as a file: CSV and PDF, from the same lines (served by
//! `rest::statements` and named by the `statement` query), and the CSV quoting the reports
//! share.

use std::collections::HashMap;

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};
use projections::statements::{LineRow, StatementRow};
use sqlx::PgPool;
use uuid::Uuid;

use crate::error::ApiError;

/// `text` as one CSV field (RFC 4180): quoted when it holds a comma, a quote or a line end.
pub(crate) fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// An issued statement with what its exports show.
#[derive(Debug)]
pub(crate) struct StatementExport {
    pub client_name: String,
    pub row: StatementRow,
    pub lines: Vec<LineRow>,
    /// Display name of each consultant on a line.
    pub names: HashMap<Uuid, String>,
}

impl StatementExport {
    /// Loads the export of `row`.
    pub(crate) async fn load(
        pool: &PgPool,
        row: StatementRow,
        lines: Vec<LineRow>,
    ) -> Result<Self, ApiError> {
        let mut names = HashMap::new();
        for line in &lines {
            if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(line.user_id) {
                let user = projections::users::find(pool, line.user_id).await?;
                slot.insert(user.map(|u| u.display_name).unwrap_or_default());
            }
        }
        let client_name = projections::clients::find(pool, row.client_id)
            .await?
            .map(|c| c.name)
            .unwrap_or_default();
        Ok(StatementExport {
            client_name,
            row,
            lines,
            names,
        })
    }

    fn name(&self, user_id: Uuid) -> &str {
        self.names
            .get(&user_id)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// RFC 4180 CSV with a header row; hours to two decimals, amounts in minor units.
    pub(crate) fn csv(&self) -> String {
        let mut out = String::from(
            "date,consultant,matter_id,task_id,minutes,hours,billable,hourly_minor,amount_minor,currency,carried_over\r\n",
        );
        for l in &self.lines {
            out.push_str(&format!(
                "{},{},{},{},{},{:.2},{},{},{},{},{}\r\n",
                l.date,
                csv_field(self.name(l.user_id)),
                l.matter_id,
                l.task_id.map(|t| t.to_string()).unwrap_or_default(),
                l.minutes,
                f64::from(l.minutes) / 60.0,
                l.billable,
                l.hourly_minor.map(|m| m.to_string()).unwrap_or_default(),
                l.amount_minor.map(|m| m.to_string()).unwrap_or_default(),
                l.currency.as_deref().unwrap_or_default(),
                l.carried_over,
            ));
        }
        out
    }

    /// The text lines of the PDF, in order.
    fn text(&self) -> Vec<String> {
        let money = |minor: i64, currency: &str| {
            format!("{currency} {}.{:02}", minor / 100, (minor % 100).abs())
        };
        let mut text = vec![
            format!("Effort statement {}", self.row.month),
            format!("{} (revision {})", self.client_name, self.row.revision),
            String::new(),
            "Date        Consultant                 Hours  Billable  Amount".to_owned(),
        ];
        let mut totals: HashMap<&str, i64> = HashMap::new();
        let (mut billable, mut other) = (0_i64, 0_i64);
        for l in &self.lines {
            let amount = match (l.amount_minor, l.currency.as_deref()) {
                (Some(minor), Some(currency)) => {
                    *totals.entry(currency).or_default() += minor;
                    money(minor, currency)
                }
                _ => String::new(),
            };
            if l.billable {
                billable += i64::from(l.minutes);
            } else {
                other += i64::from(l.minutes);
            }
            let name: String = self.name(l.user_id).chars().take(26).collect();
            text.push(format!(
                "{}  {:<26} {:>6.2}  {:<8}  {}{}",
                l.date,
                name,
                f64::from(l.minutes) / 60.0,
                if l.billable { "yes" } else { "no" },
                amount,
                if l.carried_over {
                    "  (carried over)"
                } else {
                    ""
                },
            ));
        }
        text.push(String::new());
        text.push(format!(
            "Billable hours {:.2}, non-billable hours {:.2}",
            billable as f64 / 60.0,
            other as f64 / 60.0
        ));
        let mut currencies: Vec<_> = totals.into_iter().collect();
        currencies.sort();
        for (currency, minor) in currencies {
            text.push(format!("Total {}", money(minor, currency)));
        }
        text
    }

    /// A PDF of A4 pages in Helvetica, 50 lines a page.
    pub(crate) fn pdf(&self) -> Result<Vec<u8>, ApiError> {
        const PER_PAGE: usize = 50;
        let mut doc = Document::with_version("1.5");
        let pages_id = doc.new_object_id();
        let font_id = doc.add_object(dictionary! {
            "Type" => "Font",
            "Subtype" => "Type1",
            "BaseFont" => "Helvetica",
            "Encoding" => "WinAnsiEncoding",
        });
        let resources_id = doc.add_object(dictionary! {
            "Font" => dictionary! { "F1" => font_id },
        });
        let text = self.text();
        let mut kids = Vec::new();
        for chunk in text.chunks(PER_PAGE) {
            let mut operations = vec![
                Operation::new("BT", vec![]),
                Operation::new("Tf", vec!["F1".into(), 10.into()]),
                Operation::new("TL", vec![14.into()]),
                Operation::new("Td", vec![50.into(), 790.into()]),
            ];
            for line in chunk {
                // Helvetica with WinAnsi: characters outside Latin-1 print as '?'.
                let latin: Vec<u8> = line
                    .chars()
                    .map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?'))
                    .collect();
                operations.push(Operation::new(
                    "Tj",
                    vec![Object::String(latin, lopdf::StringFormat::Literal)],
                ));
                operations.push(Operation::new("T*", vec![]));
            }
            operations.push(Operation::new("ET", vec![]));
            let content = Content { operations }
                .encode()
                .map_err(ApiError::internal)?;
            let content_id = doc.add_object(Stream::new(dictionary! {}, content));
            let page_id = doc.add_object(dictionary! {
                "Type" => "Page",
                "Parent" => pages_id,
                "Contents" => content_id,
            });
            kids.push(page_id.into());
        }
        let count = i64::try_from(kids.len()).unwrap_or(i64::MAX);
        doc.objects.insert(
            pages_id,
            Object::Dictionary(dictionary! {
                "Type" => "Pages",
                "Kids" => kids,
                "Count" => count,
                "Resources" => resources_id,
                "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
            }),
        );
        let catalog_id = doc.add_object(dictionary! {
            "Type" => "Catalog",
            "Pages" => pages_id,
        });
        doc.trailer.set("Root", catalog_id);
        doc.compress();
        let mut out = Vec::new();
        doc.save_to(&mut out).map_err(ApiError::internal)?;
        Ok(out)
    }
}
