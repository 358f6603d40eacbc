//! The `audex` command line, built in the test package so end-to-end tests run current code.

fn main() -> std::process::ExitCode {
    audex::cli::main()
}
