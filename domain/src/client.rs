//! The Client aggregate: a customer firm with its contacts, usually converted from a won lead.

mod aggregate;
#[cfg(test)]
mod tests;

pub use aggregate::{Client, ClientCommand, ClientError, ClientEvent, Contact, ContactInput};
