//! The served OpenAPI document as a contract the server keeps: Schemathesis (PyPI) reads
//! `/api/v1/openapi.json` of a seeded server and throws generated requests, valid and
//! invalid, at every operation; it fails on any 5xx, any response that violates its
//! documented schema, any undocumented status code and any undocumented content type.
//!
//! `.ci/run` installs Schemathesis when it is missing and sets `LEERNET_REQUIRE_TOOLS=1`,
//! which makes a missing tool a failure; without it (a newcomer's `cargo test`) the test
//! says that it could not run and passes.

use std::process::Stdio;

use tests::{TestApp, both_backends, token_for};

/// Whether a tool the test drives is installed; when not, a failure if tools are required.
pub fn tool_available(program: &str, version_flag: &str) -> bool {
    let found = std::process::Command::new(program)
        .arg(version_flag)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var_os("LEERNET_REQUIRE_TOOLS").is_none(),
            "`{program}` is not installed (LEERNET_REQUIRE_TOOLS is set: .ci/run installs it)"
        );
        eprintln!("NOTICE: `{program}` is not installed: this test did not run (see .ci/run)");
    }
    found
}

both_backends!(
    async fn schemathesis_finds_no_server_error_and_no_schema_violation(backend) {
        if !tool_available("schemathesis", "--version") {
            return;
        }
        let Some(app) = TestApp::spawn_with(backend, |c| c.rate_limit_per_minute = 1_000_000).await
        else {
            return;
        };
        api::service::seed::seed(&app.db, &api::service::Actor::system())
            .await
            .expect("seed");
        let token = token_for(&app, "contract", "admin", "admin", &[]).await;
        let report = tempfile::tempdir().expect("a report directory");
        let mut command = std::process::Command::new("schemathesis");
        command
            .arg("run")
            .arg(app.url("/api/v1/openapi.json"))
            .args(["--header", &format!("Authorization: Bearer {token}")])
            .args([
                "--checks",
                "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            ])
            .args(["--max-examples", "10", "--seed", "1", "--no-color"])
            .args(["--generation-database", "none", "--request-timeout", "30"])
            .arg("--report-dir")
            .arg(report.path())
            // Its crash cache goes to the working directory: keep it out of the repository.
            .current_dir(report.path())
            .stdin(Stdio::null());
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("the run")
            .expect("run schemathesis");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "schemathesis found failures on {backend:?}:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        // It did test the operations (a run that selected nothing also exits 0).
        let tested = stdout
            .lines()
            .find_map(|l| l.trim().strip_prefix("Tested: "))
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(0);
        assert!(tested >= 100, "schemathesis tested {tested} operations:\n{stdout}");
    }
);
