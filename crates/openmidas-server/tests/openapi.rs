//! `GET /openapi.json` (behaviour.md section 14) through real HTTP: the document is the
//! snapshot in the repository (`snapshots/openapi__openapi.snap`; after a deliberate change,
//! `cargo insta review`), it names every route the server serves and nothing else (the
//! payment routes of `openmidas_protocol::ROUTES`, the list below, and every route literal
//! registered in the server's source), each documented method reaches a handler, the
//! emulator-only ones are exactly those ledger mode does not serve, and the document is
//! valid OpenAPI 3.1: checked here for references and ids, and by `openapi-spec-validator`
//! (PyPI) when installed; under CI (`CI` set) a missing validator fails the test.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use openmidas_protocol::ROUTES;
use openmidas_testkit::*;
use serde_json::Value;

/// Every route besides the payment routes: method, path, emulator mode only. A route the
/// server gains must be added here and to the document (`src/openapi.rs`).
const OTHER_ROUTES: &[(&str, &str, bool)] = &[
    // Tokens and sessions.
    ("get", "/cgi-bin/token", false),
    ("post", "/cgi-bin/stable_token", false),
    ("get", "/sns/jscode2session", false),
    // Administration, the simulated player, pushes.
    ("post", "/admin/apps", false),
    ("get", "/admin/apps", false),
    ("post", "/admin/login", false),
    ("get", "/admin/journal", false),
    ("post", "/admin/recharge", false),
    ("post", "/admin/client/midas_payment", false),
    ("post", "/admin/client/game_item", false),
    ("post", "/admin/client/virtual_payment", false),
    ("post", "/admin/client/purchases/pay", false),
    ("post", "/admin/client/purchases/close", false),
    ("get", "/admin/pushes", false),
    ("post", "/admin/pushes/{id}/redeliver", false),
    ("get", "/xpay/bills/{token}", false),
    // Emulator controls.
    ("get", "/admin/clock", true),
    ("post", "/admin/clock", true),
    ("post", "/admin/faults", true),
    ("get", "/admin/faults", true),
    ("delete", "/admin/faults", true),
    ("delete", "/admin/faults/{id}", true),
    ("get", "/admin/requests", true),
    ("get", "/admin/requests/{id}", true),
    ("post", "/admin/reset", true),
    ("get", "/admin/state", true),
    ("post", "/admin/state", true),
    // Operating it.
    ("get", "/healthz", false),
    ("get", "/metrics", false),
    ("get", "/openapi.json", false),
    // The dashboard.
    ("get", "/ui", false),
    ("get", "/ui/", false),
    ("get", "/ui/login", false),
    ("post", "/ui/login", false),
    ("post", "/ui/logout", false),
    ("get", "/ui/assets/ui.css", false),
    ("get", "/ui/assets/ui.js", false),
    ("get", "/ui/search", false),
    ("get", "/ui/apps", false),
    ("post", "/ui/apps", false),
    ("get", "/ui/apps/new", false),
    ("get", "/ui/apps/{appid}", false),
    ("get", "/ui/apps/{appid}/players", false),
    ("get", "/ui/apps/{appid}/purchases", false),
    ("get", "/ui/account", false),
    ("get", "/ui/pushes", false),
    ("post", "/ui/pushes/{id}/redeliver", false),
    ("post", "/admin/ui/login-links", false),
    ("get", "/ui/requests", true),
    ("get", "/ui/requests/rows", true),
    ("get", "/ui/requests/{id}", true),
    ("get", "/ui/faults", true),
    ("post", "/ui/faults", true),
    ("post", "/ui/faults/{id}/delete", true),
    ("get", "/ui/clock", true),
    ("post", "/ui/clock", true),
];

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

async fn fetch_document(server: &TestServer) -> Value {
    let response = server
        .http
        .get(server.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().expect("ASCII").to_string();
    assert_eq!(content_type, "application/json");
    response.json().await.expect("the document is JSON")
}

/// (method, path) -> the operation, for every operation of the document.
fn operations(doc: &Value) -> BTreeMap<(String, String), Value> {
    let mut all = BTreeMap::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            assert!(METHODS.contains(&method.as_str()), "{path}: {method} is not a method");
            all.insert((method.clone(), path.clone()), operation.clone());
        }
    }
    all
}

fn is_emulator_only(operation: &Value) -> bool {
    operation["x-openmidas-mode"] == "emulator"
}

#[tokio::test]
async fn the_document_is_the_snapshot() {
    let server = TestServer::start().await;
    let doc = fetch_document(&server).await;
    assert_eq!(doc["openapi"], "3.1.0");
    insta::assert_json_snapshot!("openapi", doc);
    // The same document in ledger mode: the controls are marked, not left out.
    let ledger = TestServer::start_backend_mode(Backend::Sqlite, Mode::Ledger).await;
    assert_eq!(fetch_document(&ledger).await, doc);
}

#[tokio::test]
async fn every_route_served_is_documented_and_nothing_else() {
    let server = TestServer::start().await;
    let doc = fetch_document(&server).await;
    let documented = operations(&doc);

    let mut expected: BTreeMap<(String, String), bool> = BTreeMap::new();
    for route in ROUTES {
        assert!(
            expected.insert(("post".into(), route.path.into()), false).is_none(),
            "{} twice",
            route.path
        );
    }
    for &(method, path, emulator) in OTHER_ROUTES {
        assert!(
            expected.insert((method.into(), path.into()), emulator).is_none(),
            "{method} {path} twice"
        );
    }
    let documented_keys: BTreeSet<_> = documented.keys().cloned().collect();
    let expected_keys: BTreeSet<_> = expected.keys().cloned().collect();
    assert_eq!(
        documented_keys.difference(&expected_keys).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "documented, but not a route this test knows"
    );
    assert_eq!(
        expected_keys.difference(&documented_keys).collect::<Vec<_>>(),
        Vec::<&(String, String)>::new(),
        "a route without a document entry"
    );
    for (key, emulator) in &expected {
        assert_eq!(
            is_emulator_only(&documented[key]),
            *emulator,
            "{key:?}: x-openmidas-mode"
        );
        if *emulator {
            let tags = documented[key]["tags"].as_array().expect("tags");
            assert!(
                tags.iter().any(|t| t == "controls" || t == "ui"),
                "{key:?} is emulator-only but neither a control nor a dashboard page"
            );
        }
    }

    // Every path the server's source registers is documented (a route added to the router
    // without a document entry fails here, whatever its method).
    let paths: BTreeSet<String> = documented.keys().map(|(_, path)| path.clone()).collect();
    for path in registered_paths() {
        assert!(
            paths.contains(&path),
            "{path} is registered in the server but not documented"
        );
    }
    // No templated operation: the only path parameters are ids and tokens.
    for path in &paths {
        for part in path.split('/').filter(|p| p.starts_with('{')) {
            assert!(
                ["{id}", "{token}", "{appid}"].contains(&part),
                "{path}: templated segment {part}"
            );
        }
    }
}

/// Every documented method of every path reaches a handler (not the unknown-path or
/// wrong-method fallback); in ledger mode, exactly the emulator-only ones are unknown paths.
#[tokio::test]
async fn every_documented_operation_is_served() {
    let emulator = TestServer::start().await;
    let ledger = TestServer::start_backend_mode(Backend::Sqlite, Mode::Ledger).await;
    let doc = fetch_document(&emulator).await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    for ((method, path), operation) in operations(&doc) {
        let concrete = path
            .replace("{id}", "999999")
            .replace("{token}", "no-such-bill")
            .replace("{appid}", "wx-no-such-app");
        for (server, ledger_mode) in [(&emulator, false), (&ledger, true)] {
            let request = http
                .request(method.to_uppercase().parse().expect("a method"), server.url(&concrete))
                .bearer_auth(ADMIN_TOKEN);
            let request = if method == "get" || method == "delete" {
                request
            } else {
                request.header("content-type", "application/json").body("{}")
            };
            let response = request
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {concrete}: {e}"));
            let status = response.status();
            let body: Value = serde_json::from_slice(&response.bytes().await.expect("body")).unwrap_or(Value::Null);
            let unknown = status == StatusCode::NOT_FOUND && body["errcode"] == 40066;
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {body}");
            let should_be_unknown = ledger_mode && is_emulator_only(&operation);
            assert_eq!(
                unknown, should_be_unknown,
                "{method} {path} (ledger mode: {ledger_mode}): {status} {body}"
            );
        }
    }
    // And a method the document does not give a path is not served there (a method added
    // to a documented path fails here).
    let documented = operations(&doc);
    let paths: BTreeSet<&String> = documented.keys().map(|(_, path)| path).collect();
    for path in paths {
        let concrete = path
            .replace("{id}", "999999")
            .replace("{token}", "t")
            .replace("{appid}", "a");
        for method in ["get", "post", "put", "delete", "patch"] {
            if documented.contains_key(&(method.to_string(), path.clone())) {
                continue;
            }
            let response = http
                .request(
                    method.to_uppercase().parse().expect("a method"),
                    emulator.url(&concrete),
                )
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap_or_else(|e| panic!("{method} {concrete}: {e}"));
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path} is served but not documented"
            );
        }
    }
}

#[tokio::test]
async fn the_document_is_valid_openapi() {
    let server = TestServer::start().await;
    let doc = fetch_document(&server).await;

    // References resolve, operation ids are unique, path parameters are declared, every
    // operation answers something.
    let mut refs = Vec::new();
    collect_refs(&doc, &mut refs);
    assert!(!refs.is_empty());
    for reference in refs {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("{reference}: not local"));
        assert!(doc.pointer(pointer).is_some(), "{reference} does not resolve");
    }
    let mut ids = BTreeSet::new();
    for ((method, path), operation) in operations(&doc) {
        let id = operation["operationId"]
            .as_str()
            .unwrap_or_else(|| panic!("{method} {path}: no operationId"));
        assert!(ids.insert(id.to_string()), "operationId {id} twice");
        assert!(
            operation["responses"].as_object().is_some_and(|r| !r.is_empty()),
            "{method} {path}: no responses"
        );
        for name in path.split('/').filter_map(|p| p.strip_prefix('{')?.strip_suffix('}')) {
            let declared = operation["parameters"]
                .as_array()
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "path" && p["name"] == name));
            assert!(declared, "{method} {path}: path parameter {name} not declared");
        }
    }

    // The real validator.
    let python = std::env::var("OPENMIDAS_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let available = Command::new(&python)
        .args(["-c", "import openapi_spec_validator"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        let message = format!(
            "openapi-spec-validator is not installed for {python} (`{python} -m pip install openapi-spec-validator`; \
             .ci/run installs it)"
        );
        assert!(std::env::var_os("CI").is_none(), "{message}");
        eprintln!("skipping the validator: {message}");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&doc).expect("serializes")).expect("write the document");
    let output = Command::new(&python)
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             from openapi_spec_validator.validation import OpenAPIV31SpecValidator\n\
             with open(sys.argv[1]) as f:\n    spec = json.load(f)\n\
             validate(spec, cls=OpenAPIV31SpecValidator)\n\
             print('valid OpenAPI 3.1')",
        ])
        .arg(&file)
        .output()
        .expect("run the validator");
    assert!(
        output.status.success(),
        "openapi-spec-validator rejects the document:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn collect_refs(value: &Value, refs: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("$ref", Value::String(r)) => refs.push(r.clone()),
                    _ => collect_refs(v, refs),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_refs(v, refs)),
        _ => {}
    }
}

/// Every path literal the server's source registers with `.route(...)`, and the `GET_ONLY`
/// paths of the router. A registration the scan cannot read (a path from a variable) fails,
/// so that no route escapes the check; the payment routes' loop (`route.path`) is checked
/// against `ROUTES` above.
fn registered_paths() -> BTreeSet<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut paths = BTreeSet::new();
    for file in files {
        if file.ends_with("openapi.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read the source");
        for (i, _) in text.match_indices(".route(") {
            let rest = text[i + ".route(".len()..].trim_start();
            if let Some(literal) = rest.strip_prefix('"') {
                let end = literal.find('"').expect("a closed literal");
                paths.insert(literal[..end].to_string());
            } else if rest.starts_with("GET_ONLY[") || rest.starts_with("route.path") {
                // GET_ONLY's literals are read below; route.path is ROUTES.
            } else {
                panic!(
                    "{}: a route registered as `.route({}...`: teach tests/openapi.rs to read it",
                    file.display(),
                    &rest[..rest.len().min(30)]
                );
            }
        }
        for word in [".nest(", ".nest_service(", ".route_service("] {
            assert!(
                !text.contains(word),
                "{}: {word} is not read by tests/openapi.rs",
                file.display()
            );
        }
        if let Some(start) = text.find("const GET_ONLY") {
            let block = &text[start..start + text[start..].find("];").expect("the end of GET_ONLY")];
            for literal in block.split('"').skip(1).step_by(2) {
                paths.insert(literal.to_string());
            }
        }
    }
    assert!(
        paths.contains("/healthz") && paths.contains("/admin/apps"),
        "the scan found {paths:?}"
    );
    paths
}

fn rust_files(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read the source directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}
