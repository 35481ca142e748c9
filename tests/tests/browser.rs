//! `/docs` in a real browser: headless Chromium, driven over WebDriver (chromedriver),
//! with every host name but the loopback address unresolvable, opens the Swagger UI, finds
//! the operations rendered, authorizes with a token, and "Try it out" on a list answers 200.
//! Nothing the page loads comes from anywhere but the service itself.
//!
//! `.ci/run` installs Debian's `chromium` and `chromium-driver` when they are missing; see
//! [`super::contract::tool_available`] for what happens without them.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::{TestApp, both_backends, token_for};

use crate::contract::tool_available;

const CHROMEDRIVER: &str = "chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it (both ended on drop).
struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
}

impl Browser {
    async fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if let Ok(ready) = ready
                && let Ok(status) = ready.json::<Value>().await
                && status["value"]["ready"] == true
            {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not get ready");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut browser = Self {
            driver,
            base,
            session: String::new(),
            http,
        };
        let binary = ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or("/usr/bin/chromium");
        let session = browser
            .call(
                reqwest::Method::POST,
                "/session",
                json!({"capabilities": {"alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": binary,
                        "args": [
                            "--headless=new", "--no-sandbox", "--disable-gpu",
                            "--disable-dev-shm-usage", "--window-size=1400,3000",
                            "--no-first-run", "--disable-extensions",
                            "--disable-background-networking", "--disable-component-update",
                            // No network beyond loopback: every other host name fails.
                            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"
                        ]
                    }
                }}}),
            )
            .await;
        browser.session = session["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        browser
    }

    /// One WebDriver command; answers its `value`.
    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = if path == "/session" {
            format!("{}{path}", self.base)
        } else {
            format!("{}/session/{}{path}", self.base, self.session)
        };
        let mut request = self.http.request(method, url);
        if !body.is_null() {
            request = request.json(&body);
        }
        let answer: Value = request
            .send()
            .await
            .expect("a WebDriver answer")
            .json()
            .await
            .expect("WebDriver JSON");
        assert!(
            answer["value"]["error"].is_null(),
            "WebDriver {path}: {answer}"
        );
        answer["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn script(&self, script: &str, args: Value) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            json!({ "script": script, "args": args }),
        )
        .await
    }

    /// Waits until `script` answers something other than null or false.
    async fn wait_for(&self, what: &str, script: &str, args: Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let value = self.script(script, args.clone()).await;
            if !(value.is_null() || value == false) {
                return value;
            }
            if Instant::now() > deadline {
                let page = self
                    .script(
                        "return document.body ? document.body.innerText : ''",
                        json!([]),
                    )
                    .await;
                panic!("waited in vain for {what}; the page shows:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The first element matching `css`, as WebDriver names it.
    async fn find(&self, css: &str) -> String {
        let found = self
            .call(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_owned()
    }

    /// Clicks the first element matching `css` as a person would (scrolled into view).
    async fn click(&self, css: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/click"),
            json!({}),
        )
        .await;
    }

    /// Types `text` into the first element matching `css`.
    async fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{element}/value"),
            json!({ "text": text }),
        )
        .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver leads its own process group, with the browser in it: end them all.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

both_backends!(
    async fn the_docs_render_and_try_it_out_answers_200_with_a_token(backend) {
        if !tool_available(CHROMEDRIVER, "--version") {
            return;
        }
        let Some(app) = TestApp::spawn(backend).await else {
            return;
        };
        api::service::seed::seed(&app.db, &api::service::Actor::system())
            .await
            .expect("seed");
        let token = token_for(&app, "docs-reader", "dashboard", "read", &[]).await;
        let browser = Browser::start().await;
        browser.open(&app.url("/docs/")).await;

        // Every operation of the document is rendered.
        let rendered = browser
            .wait_for(
                "the operations",
                "const n = document.querySelectorAll('.opblock').length; return n >= 100 ? n : null;",
                json!([]),
            )
            .await;
        let documented: Value = app
            .client
            .get(app.url("/api/v1/openapi.json"))
            .send()
            .await
            .expect("the document")
            .json()
            .await
            .expect("JSON");
        let operations: usize = documented["paths"]
            .as_object()
            .expect("paths")
            .values()
            .map(|item| item.as_object().map_or(0, |o| o.len()))
            .sum();
        assert_eq!(rendered.as_u64(), Some(operations as u64), "one block per operation");
        assert!(
            browser
                .script("return document.body.innerText.includes('Leernet API')", json!([]))
                .await
                == true
        );

        // Authorize with the token, as a person pastes it.
        browser.click("button.authorize").await;
        browser
            .wait_for(
                "the authorization dialog",
                "return document.querySelector('.modal-ux input') !== null",
                json!([]),
            )
            .await;
        browser.type_into(".modal-ux input", &token).await;
        browser.click(".modal-ux button.authorize[type=submit]").await;
        browser.click(".modal-ux button.btn-done").await;

        // Try it out: list the themes.
        let operation = "#operations-themes-list_themes";
        browser.click(&format!("{operation} .opblock-summary-control")).await;
        browser
            .wait_for(
                "the Try it out button",
                "return document.querySelector(arguments[0] + ' .try-out__btn') !== null",
                json!([operation]),
            )
            .await;
        browser.click(&format!("{operation} .try-out__btn")).await;
        browser.click(&format!("{operation} .execute")).await;
        let status = browser
            .wait_for(
                "the live response",
                "const s = document.querySelector(arguments[0] + ' .live-responses-table .response .response-col_status'); return s ? s.innerText.trim() : null;",
                json!([operation]),
            )
            .await;
        assert_eq!(status, "200", "Try it out on list_themes");
        let body = browser
            .script(
                "const b = document.querySelector(arguments[0] + ' .live-responses-table .response-col_description pre'); return b ? b.innerText : '';",
                json!([operation]),
            )
            .await;
        let body: Value = serde_json::from_str(body.as_str().unwrap_or_default())
            .expect("the response body shown is JSON");
        let slugs: Vec<&str> = body["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|t| t["slug"].as_str())
            .collect();
        assert!(slugs.contains(&"voeding"), "the seeded themes: {slugs:?}");

        // Everything the page loaded came from the service itself.
        let loaded = browser
            .script(
                "return performance.getEntriesByType('resource').map(e => e.name)",
                json!([]),
            )
            .await;
        let origin = app.url("/");
        for url in loaded.as_array().expect("resources") {
            let url = url.as_str().unwrap_or_default();
            assert!(url.starts_with(&origin), "loaded from elsewhere: {url}");
        }
    }
);

both_backends!(
    /// GraphiQL at `/graphql`: everything it loads comes from the service (every other host
    /// is unresolvable), and with a token in its Headers tab it runs a query.
    async fn graphiql_loads_from_the_service_alone_and_runs_a_query_with_a_token(backend) {
        let Some(app) = TestApp::spawn(backend).await else {
            return;
        };
        // The page itself, without a browser: this origin only, no token needed.
        let page = app.client.get(app.url("/graphql")).header("accept", "text/html").send().await.expect("the page");
        assert_eq!(page.status(), reqwest::StatusCode::OK);
        let policy = page.headers()["content-security-policy"].to_str().expect("ascii").to_owned();
        assert!(policy.contains("script-src 'self'") && policy.contains("connect-src 'self'"), "{policy}");
        assert!(!page.text().await.expect("html").contains("//cdn"), "no CDN");
        // GraphiQL's files are kept for a year under their version; the service's own start
        // script is checked each time, as it changes with the service.
        for (file, caching) in [("graphiql.min.js", "immutable"), ("start.js", "no-cache")] {
            let asset = app.client.get(app.url(&format!("/graphql/assets/3.8.3/{file}"))).send().await.expect("an asset");
            assert_eq!(asset.status(), reqwest::StatusCode::OK);
            assert!(asset.headers()["cache-control"].to_str().expect("ascii").contains(caching), "{file}");
        }
        if !tool_available(CHROMEDRIVER, "--version") {
            return;
        }
        api::service::seed::seed(&app.db, &api::service::Actor::system())
            .await
            .expect("seed");
        let token = token_for(&app, "ide", "dashboard", "read", &[]).await;
        let browser = Browser::start().await;
        browser.open(&app.url("/graphql")).await;
        browser
            .wait_for(
                "GraphiQL's editors",
                "return document.querySelectorAll('.graphiql-query-editor .CodeMirror').length > 0 && document.querySelectorAll('.graphiql-editor-tool .CodeMirror').length > 0;",
                json!([]),
            )
            .await;
        // The token in the Headers tab and a query in the editor, then run.
        let set = browser
            .script(
                "const all = [...document.querySelectorAll('.graphiql-editor-tool .CodeMirror')].map(e => e.CodeMirror);
                 const headers = all.find(cm => cm.getValue().includes('Authorization'));
                 if (!headers) { return 'no headers editor'; }
                 headers.setValue(JSON.stringify({Authorization: 'Bearer ' + arguments[0]}));
                 document.querySelector('.graphiql-query-editor .CodeMirror').CodeMirror
                     .setValue('{ region(code: \"GM0114\") { name code parent { name } } }');
                 return 'set';",
                json!([token]),
            )
            .await;
        assert_eq!(set, "set");
        browser.click(".graphiql-execute-button").await;
        let result = browser
            .wait_for(
                "the query's answer",
                "const r = document.querySelector('.result-window'); return r && r.innerText.includes('Emmen') ? r.innerText : null;",
                json!([]),
            )
            .await;
        assert!(result.as_str().is_some_and(|r| r.contains("Drenthe")), "{result}");
        let loaded = browser
            .script("return performance.getEntriesByType('resource').map(e => e.name);", json!([]))
            .await;
        let origin = app.url("");
        assert!(
            loaded.as_array().expect("resources").iter().all(|r| r.as_str().is_some_and(|r| r.starts_with(&origin))),
            "everything from the service: {loaded}"
        );
    }
);
