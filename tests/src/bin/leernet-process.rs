//! The `leernet` program, built inside the test package so that the integration tests can
//! run it as a child process (`env!("CARGO_BIN_EXE_leernet-process")`): Cargo builds a
//! package's binaries before its tests, but not another package's. It is exactly
//! `api/src/main.rs`.

fn main() -> std::process::ExitCode {
    api::main()
}
