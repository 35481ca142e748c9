//! The `leernet` binary. Everything it does, down to the one-line error and the exit code,
//! is [`api::main`], which the tests run as a child process too.

fn main() -> std::process::ExitCode {
    api::main()
}
