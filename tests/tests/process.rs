//! `leernet` as a person runs it: a real process that SIGTERM or SIGINT stops gracefully
//! (exit code 0), and start-up errors as one line on stderr with exit code 1.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use tests::{TestDb, both_backends};

const LEERNET: &str = env!("CARGO_BIN_EXE_leernet-process");

/// How a line the process wrote on standard output is marked among its stderr lines.
const STDOUT: &str = "stdout: ";

/// A `leernet` child process and the lines it writes to stderr (killed on drop, should a
/// test fail before it stops it).
pub(crate) struct Process {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Process {
    pub(crate) fn start(args: &[&str]) -> Self {
        Self::spawn(Command::new(LEERNET).args(args))
    }

    /// Starts `leernet` with at most `files` open file descriptors (`ulimit -n`).
    pub(crate) fn start_with_file_limit(files: u32, args: &[&str]) -> Self {
        Self::spawn(
            Command::new("sh")
                .arg("-c")
                .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
                .arg(LEERNET)
                .args(args),
        )
    }

    fn spawn(command: &mut Command) -> Self {
        let mut child = command
            .env_remove("DATABASE_URL")
            .env_remove("LEERNET_ADDR")
            .env_remove("LEERNET_DATA_DIR")
            .env_remove("LEERNET_LOG")
            .env("LEERNET_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start leernet");
        let stderr = child.stderr.take().expect("stderr");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        let out = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if out.send(format!("{STDOUT}{line}")).is_err() {
                    break;
                }
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits for the log line whose message is `message` and returns it as JSON.
    pub(crate) fn wait_for_log(&mut self, message: &str) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else {
                break;
            };
            self.seen.push(line.clone());
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line)
                && json["message"] == message
            {
                return json;
            }
        }
        panic!("no log line {message:?}; stderr so far: {:#?}", self.seen);
    }

    /// Waits for a line on standard output that contains `text`.
    pub(crate) fn wait_for_stdout(&mut self, text: &str) -> String {
        if let Some(line) = self
            .seen
            .iter()
            .find(|l| l.starts_with(STDOUT) && l.contains(text))
        {
            return line[STDOUT.len()..].to_owned();
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let Ok(line) = self.lines.recv_timeout(left) else {
                break;
            };
            self.seen.push(line.clone());
            if let Some(out) = line.strip_prefix(STDOUT)
                && out.contains(text)
            {
                return out.to_owned();
            }
        }
        panic!("no line with {text:?} on stdout; so far: {:#?}", self.seen);
    }

    /// The process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    pub(crate) fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal}");
    }

    /// Waits for the process to exit; returns its status and everything it wrote to stderr.
    pub(crate) fn wait(mut self) -> (ExitStatus, Vec<String>) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("leernet did not exit; stderr: {:#?}", self.seen);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader thread ends with the pipe; collect what is left.
        let mut seen = std::mem::take(&mut self.seen);
        seen.extend(self.lines.iter());
        (status, seen)
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

both_backends!(
    async fn sigterm_and_sigint_stop_the_service_gracefully_with_exit_code_0(backend) {
        let Some(test_db) = TestDb::new(backend).await else { return };
        for signal in ["-TERM", "-INT"] {
            let mut leernet =
                Process::start(&["serve", "--addr", "127.0.0.1:0", "--database-url", &test_db.url]);
            let ready = leernet.wait_for_log("leernet is ready");
            let addr = ready["addr"].as_str().expect("the ready line names the address").to_owned();
            let response = reqwest::get(format!("http://{addr}/health/ready")).await.expect("GET");
            assert_eq!(response.status(), 200);

            leernet.signal(signal);
            let (status, stderr) = leernet.wait();
            assert_eq!(status.code(), Some(0), "{signal}: {stderr:#?}");
            let messages: Vec<&str> = stderr
                .iter()
                .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .filter_map(|j| j["message"].as_str().map(str::to_owned))
                .map(|m| if m.starts_with("shutting down") { "shutting down" } else if m == "stopped" { "stopped" } else { "" })
                .filter(|m| !m.is_empty())
                .collect();
            assert_eq!(messages, ["shutting down", "stopped"], "{signal}: {stderr:#?}");
            assert!(reqwest::get(format!("http://{addr}/health/live")).await.is_err(), "nothing listens any more");
        }
    }
);

/// Runs `leernet` to a start-up failure; returns its stderr.
fn failing(args: &[&str]) -> String {
    let (status, stderr) = Process::start(args).wait();
    assert_eq!(status.code(), Some(1), "{stderr:#?}");
    let errors: Vec<&String> = stderr.iter().filter(|l| !l.starts_with('{')).collect();
    assert_eq!(
        errors.len(),
        1,
        "one line, not a panic or a trace: {stderr:#?}"
    );
    assert!(errors[0].starts_with("leernet: "), "{stderr:#?}");
    errors[0].clone()
}

both_backends!(
    async fn start_up_errors_are_one_line_on_stderr_with_exit_code_1(backend) {
        let Some(test_db) = TestDb::new(backend).await else { return };
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("addr").to_string();
        let line = failing(&["serve", "--addr", &addr, "--database-url", &test_db.url]);
        assert!(line.contains(&format!("cannot listen on {addr}")), "{line}");

        let line = failing(&["serve", "--addr", "127.0.0.1:0", "--database-url", "mysql://root:hunter2@localhost/x"]);
        assert!(line.contains("must start with postgres:// or sqlite://") && !line.contains("hunter2"), "{line}");
    }
);

#[test]
fn an_unreachable_postgres_is_reported_with_its_reason() {
    let line = failing(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        "postgres://leernet:hunter2@127.0.0.1:1/leernet",
        "--db-connect-timeout",
        "1s",
    ]);
    assert!(
        line.contains("cannot open the database postgres://leernet:***@127.0.0.1:1/leernet"),
        "{line}"
    );
    assert!(
        line.contains("Connection refused"),
        "the cause, not just a pool timeout: {line}"
    );
    assert!(!line.contains("hunter2"), "{line}");
}

#[test]
fn a_password_given_as_a_parameter_of_the_database_url_is_never_printed() {
    let line = failing(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        "postgres://leernet@127.0.0.1:1/leernet?sslmode=disable&password=hunter2",
        "--db-connect-timeout",
        "1s",
    ]);
    assert!(
        line.contains("postgres://leernet@127.0.0.1:1/leernet?sslmode=disable&password=***"),
        "{line}"
    );
    assert!(!line.contains("hunter2"), "{line}");
    let line = failing(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        "mysql://root@localhost/x?PassWord=hunter2;pass%77ord=hunter2",
    ]);
    assert!(
        line.contains("must start with postgres:// or sqlite://"),
        "{line}"
    );
    assert!(!line.contains("hunter2"), "{line}");
}

#[test]
fn no_log_line_shows_a_password_parameter_the_driver_does_not_know() {
    let args = [
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--database-url",
        "postgres://u:geheim1@127.0.0.1:1/x?PassWord=geheim2&pwd=geheim3&sslpassword=geheim4",
        "--db-connect-timeout",
        "1s",
    ];
    let (status, stderr) = Process::start(&args).wait();
    assert_eq!(status.code(), Some(1));
    for line in &stderr {
        assert!(!line.contains("geheim"), "{line}");
    }
}

#[test]
fn a_log_filter_that_does_not_parse_is_reported() {
    let line = failing(&["serve", "--addr", "127.0.0.1:0", "--log", "leernet=loud"]);
    assert!(
        line.contains("invalid log filter \"leernet=loud\""),
        "{line}"
    );
}

#[test]
fn an_unwritable_data_directory_is_reported() {
    let file = tempfile::NamedTempFile::new().expect("a file");
    // A directory below a regular file can never be created, even by root.
    let data_dir = file.path().join("data");
    let line = failing(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        data_dir.to_str().expect("utf-8"),
    ]);
    assert!(
        line.contains(&format!(
            "cannot create the data directory {}",
            data_dir.display()
        )),
        "{line}"
    );
}

#[test]
fn the_demo_admins_token_hint_names_the_address_the_service_listens_on() {
    let data = tempfile::tempdir().expect("a data directory");
    let mut leernet = Process::start(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--data-dir",
        data.path().to_str().expect("a path"),
    ]);
    let addr = leernet.wait_for_log("leernet is ready")["addr"]
        .as_str()
        .expect("an address")
        .to_owned();
    let hint = leernet.wait_for_stdout("get a token:");
    assert!(
        hint.trim_end()
            .ends_with(&format!("http://{addr}/oauth/token")),
        "{hint}"
    );
    assert!(!addr.ends_with(":8080"));
    leernet.signal("-TERM");
    leernet.wait();
}
