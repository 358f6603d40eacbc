//! The plugin author kit on the host side: `audex plugin check` ([`check`]), the conformance
//! suite any destination plugin can be run through, with its fixture segment ([`fixture`])
//! and the reading of the plugin's requests ([`scan`]); `audex plugin new` ([`scaffold`]),
//! which generates a plugin crate on the guest SDK.

pub mod check;
pub mod fixture;
pub mod scaffold;
pub mod scan;
