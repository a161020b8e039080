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
        ("JWT_SECRET", "k3J9x!q2Lm8#Vb7&Pz4@Wd6^Rt1*Yh5%"),
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
