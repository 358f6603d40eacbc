//! Runs an emulator in the foreground until Ctrl-C, printing its URL and token.

use audex_emulator::{Emulator, EmulatorConfig};

fn main() -> Result<(), audex_emulator::EmulatorError> {
    let port = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let emulator = Emulator::start(EmulatorConfig {
        port,
        ..EmulatorConfig::default()
    })?;
    println!("{}", emulator.base_url());
    println!("{}", emulator.access_token());
    emulator.wait();
    Ok(())
}
