//! Hourly rates: per role or per person, each overridable for one client; money in minor
//! units with its currency, never floating point.
//!
//! The firm has one rate card ([`RATE_CARD_ID`]). The rate of a person's hour for a client
//! is the most specific one set ([`RateCard::rate_for`]): the person's for that client, their
//! role's for that client, the person's, their role's.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::values;
use crate::{ErrorKind, Rejection, Role, ValidationError};

/// The stream of the firm's rate card.
pub const RATE_CARD_ID: Uuid = Uuid::from_u128(0x0192_5a7e_0000_7000_8000_0000_0000_0001);

/// The currency a rate is in unless another is given.
pub const DEFAULT_CURRENCY: &str = "INR";

/// The most an hour may cost, in minor units (ten million rupees).
pub const MAX_HOURLY_MINOR: i64 = 1_000_000_000;

/// Whose hours a rate prices: a role or a person, for every client or one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RateScope {
    pub who: RateFor,
    pub client_id: Option<Uuid>,
}

/// A role's or a person's hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum RateFor {
    Role(Role),
    Person(Uuid),
}

/// An amount of money.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    /// In the currency's minor units (paise for INR).
    pub minor: i64,
    /// ISO 4217 code.
    pub currency: String,
}

impl Money {
    /// What `minutes` cost at this hourly rate, rounded half away from zero to a minor unit
    /// (a reversal's negative minutes cost exactly minus the original's).
    pub fn for_minutes(&self, minutes: i32) -> Money {
        let product = i128::from(minutes) * i128::from(self.minor);
        let rounded = (product.abs() + 30) / 60 * product.signum();
        Money {
            minor: i64::try_from(rounded).unwrap_or(i64::MAX),
            currency: self.currency.clone(),
        }
    }
}

/// The firm's rates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RateCard {
    #[serde(with = "scoped")]
    pub rates: BTreeMap<RateScope, Money>,
}

/// JSON object keys must be strings: the map is stored as a list of pairs.
mod scoped {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{Money, RateScope};

    pub(super) fn serialize<S: Serializer>(
        rates: &BTreeMap<RateScope, Money>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        rates.iter().collect::<Vec<_>>().serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<RateScope, Money>, D::Error> {
        Ok(Vec::<(RateScope, Money)>::deserialize(deserializer)?
            .into_iter()
            .collect())
    }
}

impl RateCard {
    /// The hourly rate of `user_id` (whose role is `role`) for `client_id`: the most specific
    /// one set, or none.
    pub fn rate_for(&self, user_id: Uuid, role: Role, client_id: Uuid) -> Option<&Money> {
        let scope = |who, client_id| RateScope { who, client_id };
        [
            scope(RateFor::Person(user_id), Some(client_id)),
            scope(RateFor::Role(role), Some(client_id)),
            scope(RateFor::Person(user_id), None),
            scope(RateFor::Role(role), None),
        ]
        .iter()
        .find_map(|s| self.rates.get(s))
    }
}

/// Rate card commands.
#[derive(Debug, Clone, PartialEq)]
pub enum RateCommand {
    Set {
        scope: RateScope,
        hourly_minor: i64,
        /// ISO 4217 code; [`DEFAULT_CURRENCY`] when `None`.
        currency: Option<String>,
        at: DateTime<Utc>,
    },
    Clear {
        scope: RateScope,
        at: DateTime<Utc>,
    },
}

/// Rate card events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum RateEvent {
    RateSet {
        scope: RateScope,
        hourly: Money,
        at: DateTime<Utc>,
    },
    RateCleared {
        scope: RateScope,
        at: DateTime<Utc>,
    },
}

impl cqrs_es::DomainEvent for RateEvent {
    fn event_type(&self) -> String {
        match self {
            RateEvent::RateSet { .. } => "RateSet",
            RateEvent::RateCleared { .. } => "RateCleared",
        }
        .to_owned()
    }
    fn event_version(&self) -> String {
        "1".to_owned()
    }
}

impl crate::Consequence for RateEvent {}

/// Why a rate command was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RateError {
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("no rate is set for this scope")]
    NotFound,
}

impl Rejection for RateError {
    fn kind(&self) -> ErrorKind {
        match self {
            RateError::Invalid(_) => ErrorKind::Invalid,
            RateError::NotFound => ErrorKind::NotFound,
        }
    }
}

impl RateCard {
    /// Decides a command: the events to append.
    pub fn decide(&self, command: RateCommand) -> Result<Vec<RateEvent>, RateError> {
        match command {
            RateCommand::Set {
                scope,
                hourly_minor,
                currency,
                at,
            } => {
                if scope.who == RateFor::Role(Role::Client) {
                    return Err(ValidationError::new("role", "portal users log no time").into());
                }
                if !(1..=MAX_HOURLY_MINOR).contains(&hourly_minor) {
                    return Err(ValidationError::new(
                        "hourlyMinor",
                        "must be above 0 and at most 1000000000 minor units",
                    )
                    .into());
                }
                let currency =
                    values::currency("currency", currency.as_deref().unwrap_or(DEFAULT_CURRENCY))?;
                let hourly = Money {
                    minor: hourly_minor,
                    currency,
                };
                if self.rates.get(&scope) == Some(&hourly) {
                    return Ok(Vec::new());
                }
                Ok(vec![RateEvent::RateSet { scope, hourly, at }])
            }
            RateCommand::Clear { scope, at } => {
                if !self.rates.contains_key(&scope) {
                    return Err(RateError::NotFound);
                }
                Ok(vec![RateEvent::RateCleared { scope, at }])
            }
        }
    }
}

impl Aggregate for RateCard {
    /// Persisted identifier.
    const TYPE: &'static str = "RateCard";
    type Command = RateCommand;
    type Event = RateEvent;
    type Error = RateError;
    type Services = ();

    async fn handle(
        &mut self,
        command: RateCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), RateError> {
        for event in self.decide(command)? {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: RateEvent) {
        match event {
            RateEvent::RateSet { scope, hourly, .. } => {
                self.rates.insert(scope, hourly);
            }
            RateEvent::RateCleared { scope, .. } => {
                self.rates.remove(&scope);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASHA: Uuid = Uuid::from_u128(1);
    const CLIENT: Uuid = Uuid::from_u128(2);
    const OTHER: Uuid = Uuid::from_u128(3);

    fn at() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("time")
    }

    fn set(card: &mut RateCard, who: RateFor, client_id: Option<Uuid>, minor: i64) {
        let command = RateCommand::Set {
            scope: RateScope { who, client_id },
            hourly_minor: minor,
            currency: None,
            at: at(),
        };
        for event in card.decide(command).expect("set") {
            card.apply(event);
        }
    }

    #[test]
    fn the_most_specific_rate_wins() {
        let mut card = RateCard::default();
        assert_eq!(card.rate_for(ASHA, Role::Consultant, CLIENT), None);
        set(&mut card, RateFor::Role(Role::Consultant), None, 200_000);
        assert_eq!(
            card.rate_for(ASHA, Role::Consultant, CLIENT)
                .map(|m| m.minor),
            Some(200_000)
        );
        set(&mut card, RateFor::Person(ASHA), None, 250_000);
        set(
            &mut card,
            RateFor::Role(Role::Consultant),
            Some(CLIENT),
            300_000,
        );
        assert_eq!(
            card.rate_for(ASHA, Role::Consultant, CLIENT)
                .map(|m| m.minor),
            Some(300_000),
            "a client's role rate beats the person's general one"
        );
        assert_eq!(
            card.rate_for(ASHA, Role::Consultant, OTHER)
                .map(|m| m.minor),
            Some(250_000)
        );
        set(&mut card, RateFor::Person(ASHA), Some(CLIENT), 350_000);
        let rate = card.rate_for(ASHA, Role::Consultant, CLIENT).expect("rate");
        assert_eq!((rate.minor, rate.currency.as_str()), (350_000, "INR"));
        // Stored as the event store keeps it, the card reads back the same.
        let json = serde_json::to_string(&card).expect("json");
        assert_eq!(serde_json::from_str::<RateCard>(&json).expect("back"), card);
    }

    #[test]
    fn amounts_are_whole_minor_units_and_reversals_cost_exactly_minus() {
        let hourly = Money {
            minor: 100_001,
            currency: "INR".into(),
        };
        assert_eq!(hourly.for_minutes(60).minor, 100_001);
        assert_eq!(hourly.for_minutes(1).minor, 1_667);
        assert_eq!(hourly.for_minutes(-1).minor, -1_667);
        assert_eq!(hourly.for_minutes(90).minor, 150_002);
    }

    #[test]
    fn rates_are_positive_in_a_known_currency_and_never_for_portal_users() {
        let card = RateCard::default();
        let scope = RateScope {
            who: RateFor::Role(Role::Manager),
            client_id: None,
        };
        for (minor, currency) in [(0, None), (1, Some("rupees".to_owned()))] {
            let refused = card.decide(RateCommand::Set {
                scope,
                hourly_minor: minor,
                currency,
                at: at(),
            });
            assert!(matches!(refused, Err(RateError::Invalid(_))), "{refused:?}");
        }
        let portal = card.decide(RateCommand::Set {
            scope: RateScope {
                who: RateFor::Role(Role::Client),
                client_id: None,
            },
            hourly_minor: 100,
            currency: None,
            at: at(),
        });
        assert!(matches!(portal, Err(RateError::Invalid(_))));
        assert_eq!(
            card.decide(RateCommand::Clear { scope, at: at() }),
            Err(RateError::NotFound)
        );
    }
}
