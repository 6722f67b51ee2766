//! Offline by construction: the desktop app and the CLI must not be able to talk to the network.
//!
//! Three checks, each a pure function tested on data (with negative rows) and then applied to the
//! real thing:
//! - the Content-Security-Policy in `tauri.conf.json` allows no remote origin (only `'self'`,
//!   Tauri's own IPC schemes and `data:`);
//! - no HTTP client crate is in the normal dependency tree of `localdx-app` or `localdx-cli`
//!   (`cargo tree -e normal`, read offline from the lock file);
//! - the window's capabilities grant no network, shell or file-system plugin.
//!
//! This test never uses the network itself: `cargo tree` runs with `--offline`.

use std::path::Path;
use std::process::Command;

const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// Crates whose presence means an HTTP client could be compiled in.
const BANNED_CRATES: &[&str] = &[
    "reqwest",
    "ureq",
    "hyper",
    "isahc",
    "curl",
    "surf",
    "attohttpc",
];

/// CSP sources that cannot reach another machine. Everything else is treated as remote.
const LOCAL_SOURCES: &[&str] = &[
    "'self'",
    "'none'",
    // Tauri's IPC: the `ipc:` scheme (Linux, macOS) and its http form (Windows, Android).
    "ipc:",
    "http://ipc.localhost",
    "data:",
];

/// The sources in `csp` that are not known to be local, as `directive source`.
fn remote_sources(csp: &str) -> Vec<String> {
    let mut remote = Vec::new();
    for directive in csp.split(';').map(str::trim).filter(|d| !d.is_empty()) {
        let mut words = directive.split_whitespace();
        let name = words.next().unwrap_or_default();
        for source in words {
            let hash_or_nonce = ["'sha256-", "'sha384-", "'sha512-", "'nonce-"]
                .iter()
                .any(|p| source.starts_with(p));
            if !LOCAL_SOURCES.contains(&source) && !hash_or_nonce {
                remote.push(format!("{name} {source}"));
            }
        }
    }
    remote
}

/// The banned crates named in the output of `cargo tree --prefix none --format {p}`.
fn banned_crates(tree: &str) -> Vec<String> {
    let mut found: Vec<String> = tree
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| {
            BANNED_CRATES.iter().any(|b| {
                *name == *b
                    || name
                        .strip_prefix(b)
                        .is_some_and(|rest| rest.starts_with('-') || rest.starts_with('_'))
            })
        })
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

/// Capability permissions that would open a way out of the sandbox.
fn dangerous_permissions(permissions: &[&str]) -> Vec<String> {
    const DANGEROUS_PLUGINS: &[&str] = &[
        "http",
        "shell",
        "fs",
        "websocket",
        "upload",
        "opener",
        "process",
    ];
    permissions
        .iter()
        .filter(|p| {
            DANGEROUS_PLUGINS
                .iter()
                .any(|d| p.split(':').next() == Some(d))
        })
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn remote_sources_are_found() {
    let rows: &[(&str, &[&str])] = &[
        ("default-src 'self'", &[]),
        (
            "default-src 'self'; connect-src ipc: http://ipc.localhost; img-src 'self' data:",
            &[],
        ),
        ("script-src 'self' 'sha256-abc='", &[]),
        // Negative rows: every way of naming another machine is caught.
        (
            "default-src 'self' https://cdn.example.com",
            &["default-src https://cdn.example.com"],
        ),
        (
            "connect-src ipc: http://localhost:1420",
            &["connect-src http://localhost:1420"],
        ),
        (
            "connect-src ws://10.0.0.2:9000 wss:",
            &["connect-src ws://10.0.0.2:9000", "connect-src wss:"],
        ),
        ("img-src *", &["img-src *"]),
        (
            "font-src fonts.example.org",
            &["font-src fonts.example.org"],
        ),
        ("script-src 'self' https:", &["script-src https:"]),
        (
            "connect-src http://ipc.localhost.evil.example",
            &["connect-src http://ipc.localhost.evil.example"],
        ),
    ];
    for (csp, expected) in rows {
        assert_eq!(remote_sources(csp), *expected, "csp: {csp}");
    }
}

#[test]
fn banned_crates_are_found() {
    let rows: &[(&str, &[&str])] = &[
        (
            "localdx-app v0.1.0 (/x)\ntauri v2.9.0\nhttp v1.3.1\nhttp-range v0.1.5\n",
            &[],
        ),
        ("serde v1.0.0\nhyperlocal-ish v0.1.0\ncurlew v1.0.0\n", &[]),
        // Negative rows: the client crates and their sub-crates.
        ("tauri v2.9.0\nreqwest v0.12.0\n", &["reqwest"]),
        (
            "hyper v1.6.0\nhyper-util v0.1.0\nhyper v1.6.0 (*)\n",
            &["hyper", "hyper-util"],
        ),
        (
            "curl-sys v0.4.0\nureq v2.0.0\nattohttpc v0.28.0\nisahc v1.7.0\nsurf v2.3.0\n",
            &["attohttpc", "curl-sys", "isahc", "surf", "ureq"],
        ),
    ];
    for (tree, expected) in rows {
        assert_eq!(banned_crates(tree), *expected, "tree: {tree}");
    }
}

#[test]
fn dangerous_permissions_are_found() {
    assert!(dangerous_permissions(&["core:event:allow-listen", "dialog:allow-open"]).is_empty());
    assert_eq!(
        dangerous_permissions(&["http:default", "shell:allow-open", "fs:read-all"]).len(),
        3
    );
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

#[test]
fn csp_allows_no_remote_origin() {
    let conf = read_json(&Path::new(MANIFEST_DIR).join("tauri.conf.json"));
    let csp = conf["app"]["security"]["csp"]
        .as_str()
        .expect("tauri.conf.json must set app.security.csp as a string");
    assert!(
        csp.trim_start().starts_with("default-src 'self'"),
        "the CSP must start with default-src 'self': {csp}"
    );
    assert_eq!(
        remote_sources(csp),
        Vec::<String>::new(),
        "the CSP allows remote origins: {csp}"
    );
    assert!(
        conf["build"].get("devUrl").is_none(),
        "a devUrl would make the window load from a server"
    );
    assert!(conf["app"]["security"]
        .get("dangerousDisableAssetCspModification")
        .is_none());
}

#[test]
fn capabilities_grant_no_network_shell_or_fs() {
    let dir = Path::new(MANIFEST_DIR).join("capabilities");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("src-tauri/capabilities exists") {
        let path = entry.expect("readable capabilities dir").path();
        let cap = read_json(&path);
        let permissions: Vec<&str> = cap["permissions"]
            .as_array()
            .expect("permissions is a list")
            .iter()
            .map(|p| {
                p.as_str()
                    .or_else(|| p["identifier"].as_str())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            dangerous_permissions(&permissions),
            Vec::<String>::new(),
            "{}",
            path.display()
        );
        seen += 1;
    }
    assert!(seen > 0, "no capability file found in {}", dir.display());
}

fn cargo_tree(package: &str) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(MANIFEST_DIR)
        .args([
            "tree",
            "--offline",
            "-p",
            package,
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("cargo tree prints UTF-8")
}

#[test]
fn no_http_client_in_the_app_or_cli() {
    for package in ["localdx-app", "localdx-cli"] {
        let tree = cargo_tree(package);
        // Guard against a vacuous pass: the tree must contain the package itself.
        assert!(
            tree.lines().any(|l| l.starts_with(&format!("{package} "))),
            "unexpected cargo tree output:\n{tree}"
        );
        assert_eq!(
            banned_crates(&tree),
            Vec::<String>::new(),
            "{package} depends on an HTTP client"
        );
    }
}
