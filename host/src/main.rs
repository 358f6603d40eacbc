//! The `audex` binary: see [`audex::cli`].

fn main() -> std::process::ExitCode {
    audex::cli::main()
}
