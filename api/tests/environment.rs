//! The binary refuses a configuration it cannot trust before it starts anything.

use std::process::Command;

/// Runs `zippcrm` with `vars` (and nothing inherited that could make it start); returns its
/// exit success and what it wrote to stderr.
fn start(vars: &[(&str, &str)]) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("zippcrm-env-{}", std::process::id()));
    let output = Command::new(env!("CARGO_BIN_EXE_zippcrm"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("ZIPPCRM_DATA_DIR", dir.join("pgdata"))
        .envs(vars.iter().copied())
        .output()
        .expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A strong secret that no file holds.
fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[test]
fn a_mistyped_environment_is_refused_not_taken_for_development() {
    let (started, stderr) = start(&[("ZIPPCRM_ENV", "prod")]);
    assert!(!started);
    assert!(
        stderr.contains("ZIPPCRM_ENV must be 'production' or 'development'"),
        "{stderr}"
    );
}

#[test]
fn production_needs_its_own_strong_secret() {
    let (started, stderr) = start(&[
        ("ZIPPCRM_ENV", "production"),
        ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
        ("ZIPPCRM_ADMIN_EMAIL", "admin@firm.example"),
        ("ZIPPCRM_ADMIN_PASSWORD", "a-long-admin-password"),
    ]);
    assert!(!started);
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
}

#[test]
fn production_needs_an_smtp_server() {
    let (started, stderr) = start(&[
        ("ZIPPCRM_ENV", "production"),
        ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
        ("JWT_SECRET", &random_secret()),
        ("ZIPPCRM_ADMIN_EMAIL", "admin@firm.example"),
        ("ZIPPCRM_ADMIN_PASSWORD", "a-long-admin-password"),
    ]);
    assert!(!started);
    assert!(stderr.contains("SMTP_HOST"), "{stderr}");
}

#[test]
fn a_sender_address_that_is_not_one_is_refused() {
    let (started, stderr) = start(&[("SMTP_FROM", "ZippCRM at the firm")]);
    assert!(!started);
    assert!(stderr.contains("SMTP_FROM"), "{stderr}");
}

#[test]
fn production_refuses_the_former_development_secret() {
    let (started, stderr) = start(&[
        ("ZIPPCRM_ENV", "production"),
        ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
        (
            "JWT_SECRET",
            "zippcrm-development-secret-do-not-use-in-production",
        ),
        ("ZIPPCRM_ADMIN_EMAIL", "admin@firm.example"),
        ("ZIPPCRM_ADMIN_PASSWORD", "a-long-admin-password"),
        ("SMTP_HOST", "smtp.firm.example"),
    ]);
    assert!(!started);
    assert!(stderr.contains("published"), "{stderr}");
}

/// The quoted values of lines that speak of a secret, and `…SECRET=value` assignments:
/// what a reader of the repository could take for a signing secret.
fn secret_like(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in text.lines().filter(|l| l.to_lowercase().contains("secret")) {
        let quoted = line.split('"').skip(1).step_by(2);
        let assigned = line
            .split_once("SECRET=")
            .map(|(_, value)| value.split_whitespace().next().unwrap_or_default());
        for value in quoted.chain(assigned) {
            let distinct: std::collections::HashSet<char> = value.chars().collect();
            let code = value.contains("::") || value.chars().any(|c| "{}$<>()[] ".contains(c));
            if value.len() >= 24 && distinct.len() >= 8 && !code {
                found.push(value.to_owned());
            }
        }
    }
    found
}

fn git(args: &[&str]) -> Option<String> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let output = Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn every_secret_the_repository_has_held_is_refused() {
    let Some(history) = git(&["log", "-p", "--all"]) else {
        eprintln!("not a git checkout: the history is not scanned");
        return;
    };
    let mut text = history;
    for file in git(&["ls-files"]).unwrap_or_default().lines() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../").to_owned() + file;
        text.push_str(&std::fs::read_to_string(path).unwrap_or_default());
    }
    let candidates = secret_like(&text);
    assert!(
        candidates
            .iter()
            .any(|c| c == "zippcrm-development-secret-do-not-use-in-production"),
        "the scan finds the former development secret"
    );
    for candidate in candidates {
        if api::config::PUBLISHED_SECRETS.contains(&candidate.as_str()) {
            continue;
        }
        assert!(
            api::config::published_secret(&candidate),
            "'{candidate}' is in the repository: add its SHA-256 to api::config::PUBLISHED_SECRETS"
        );
    }
}
