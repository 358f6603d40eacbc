//! Facebook Graph API knowledge: request shapes, response parsing and error meanings.

pub mod client;
pub mod errors;
pub mod policy;
pub mod requests;
pub mod responses;
