//! Emulators the host can start in-process, so a pipeline whose endpoint URL is `emulator`
//! runs end to end with no account and no network: the quick start's default.

use audex_emulator::{Emulator, EmulatorConfig, EmulatorHandle};

use crate::secrets::{Secret, Secrets};

/// The embedded Graph API emulator's name in plugin manifests.
pub const GRAPH_API: &str = "graph-api";

/// A running embedded emulator; it stops when dropped.
pub struct EmbeddedEmulator {
    handle: EmulatorHandle,
}

impl EmbeddedEmulator {
    /// Starts emulator `kind` on a free loopback port.
    pub fn start(kind: &str) -> Result<Self, String> {
        match kind {
            GRAPH_API => {
                let handle =
                    Emulator::start(EmulatorConfig::default()).map_err(|e| e.to_string())?;
                Ok(Self { handle })
            }
            other => Err(format!(
                "no embedded emulator called `{other}` (known: {GRAPH_API})"
            )),
        }
    }

    /// Its base URL.
    pub fn base_url(&self) -> String {
        self.handle.base_url()
    }

    /// The credentials it accepts, under the Graph API plugin's secret names.
    pub fn secrets(&self) -> Secrets {
        let mut secrets = Secrets::default();
        secrets.insert("access-token", Secret::new(self.handle.access_token()));
        secrets.insert("app-secret", Secret::new(self.handle.app_secret()));
        secrets.insert(
            "app-access-token",
            Secret::new(format!(
                "{}|{}",
                self.handle.app_id(),
                self.handle.app_secret()
            )),
        );
        secrets
    }

    /// The emulator itself, to inspect what it received.
    pub fn handle(&self) -> &EmulatorHandle {
        &self.handle
    }
}
