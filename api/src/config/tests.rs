//! Tests of `config`.

use clap::Parser as _;

use super::*;

/// A secret the repository held once (the old example of a strong one).
const PUBLISHED_EXAMPLE: &str = "k3J9x!q2Lm8#Vb7&Pz4@Wd6^Rt1*Yh5%";

/// A strong secret no file holds.
fn random_secret() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[test]
fn production_refuses_a_weak_or_default_secret() {
    let mut config = Config {
        database_url: Some("postgres://x".into()),
        bind_addr: "127.0.0.1:0".parse().expect("addr"),
        portal_url: "https://portal.firm.example".into(),
        production: true,
        jwt_secret: SecretString::default(),
        admin: None,
        data_dir: String::new(),
        read_your_writes_timeout: Duration::from_secs(1),
        pool_size: 1,
        json_logs: false,
        storage: StorageConfig::Local(".".into()),
        max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
        scheduler_enabled: false,
        scheduler_interval: Duration::from_secs(3600),
        client_ip_header: None,
        reactors: Default::default(),
        mail: reactions::mail::MailConfig::directory("."),
        webhooks: Default::default(),
        whatsapp: None,
    };
    assert!(config.check().is_err());
    config.jwt_secret = "short".into();
    assert!(config.check().is_err());
    config.jwt_secret = "a".repeat(64).into();
    assert!(config.check().is_err());
    for published in [
        "zippcrm-development-secret-do-not-use-in-production",
        PUBLISHED_EXAMPLE,
    ] {
        config.jwt_secret = published.into();
        assert!(config.check().is_err(), "{published}");
    }
    config.jwt_secret = random_secret().into();
    assert!(config.check().is_err(), "no SMTP server");
    config.mail.transport = reactions::mail::MailTransport::Smtp {
        host: "smtp.firm.example".into(),
        port: 587,
        credentials: None,
        tls: reactions::mail::TlsMode::StartTls,
    };
    assert!(config.check().is_ok());
    config.database_url = None;
    assert!(config.check().is_err());
}

#[test]
fn an_unknown_environment_is_refused_rather_than_taken_for_development() {
    let production = |value: Option<&str>| -> Result<bool, clap::Error> {
        let args = ["zippcrm", "--environment"].into_iter();
        let settings = match value {
            Some(value) => Settings::try_parse_from(args.chain([value])),
            None => Settings::try_parse_from(["zippcrm"]),
        }?;
        Ok(settings.environment == Environment::Production)
    };
    assert!(!production(None).expect("unset is development"));
    assert!(!production(Some("development")).expect("development"));
    assert!(production(Some("Production")).expect("production"));
    for typo in ["prod", "staging", "dev"] {
        assert!(production(Some(typo)).is_err(), "{typo}");
    }
}

#[test]
fn the_example_environment_parses_and_empty_variables_count_as_unset() {
    let example: Vec<(String, String)> = include_str!("../../../.env.example")
        .lines()
        .filter(|line| !line.trim_start().starts_with('#'))
        .filter_map(|line| line.split_once('='))
        .map(|(name, value)| (name.trim().to_owned(), value.to_owned()))
        .collect();
    let flags = Settings::flags(|variable| {
        example
            .iter()
            .find(|(name, _)| name == variable)
            .map(|(_, value)| value.clone())
    });
    assert!(flags.iter().all(|flag| !flag.ends_with('=')), "{flags:?}");
    assert!(
        flags.iter().any(|flag| flag == "--scheduler-enabled=false"),
        "{flags:?}"
    );
    let settings = Settings::try_parse_from(std::iter::once("zippcrm".to_owned()).chain(flags))
        .expect("the example parses");
    assert!(!settings.scheduler_enabled);
    assert!(settings.jwt_secret.is_none(), "JWT_SECRET= is unset");
}

#[test]
fn a_bad_value_is_refused_with_its_variables_name() {
    let refused =
        Settings::try_parse_from(["zippcrm", "--db-pool", "many"]).expect_err("not a number");
    assert!(refused.to_string().contains("ZIPPCRM_DB_POOL"), "{refused}");
}

#[test]
fn secrets_are_never_printed() {
    let (signing, password) = (random_secret(), random_secret());
    let dir = std::env::temp_dir().join(format!("zippcrm-settings-{}", uuid::Uuid::new_v4()));
    let settings = Settings::try_parse_from([
        "zippcrm".to_owned(),
        format!("--jwt-secret={signing}"),
        "--admin-email=admin@firm.example".to_owned(),
        format!("--admin-password={password}"),
        format!("--data-dir={}", dir.join("pgdata").display()),
    ])
    .expect("parsed");
    let printed = format!("{settings:?}");
    assert!(!printed.contains(&signing) && !printed.contains(&password));
    let config = settings.config().expect("development");
    let printed = format!("{config:?}");
    assert!(!printed.contains(&signing) && !printed.contains(&password));
}

#[test]
fn the_three_whatsapp_settings_come_together_or_not_at_all() {
    let whatsapp = |pairs: &[(&str, &str)]| -> Result<Option<WhatsAppConfig>> {
        let mut args = vec!["zippcrm".to_owned()];
        for (flag, value) in pairs {
            args.push(format!("--{flag}"));
            args.push((*value).to_owned());
        }
        let dir = std::env::temp_dir().join(format!("zippcrm-settings-{}", uuid::Uuid::new_v4()));
        args.push("--data-dir".into());
        args.push(dir.join("pgdata").display().to_string());
        Ok(Settings::try_parse_from(args)?.config()?.whatsapp)
    };
    assert!(whatsapp(&[]).expect("none").is_none());
    assert!(whatsapp(&[("whatsapp-bsp-url", "https://bsp.example/messages")]).is_err());
    const ALL: [(&str, &str); 3] = [
        ("whatsapp-bsp-url", "https://bsp.example/v17.0/messages"),
        ("whatsapp-token", "t"),
        ("whatsapp-number", "+91 44 6677 8899"),
    ];
    let config = whatsapp(&ALL).expect("valid").expect("configured");
    assert_eq!(config.number, "+914466778899");
    const BAD_NUMBER: [(&str, &str); 3] = [
        ("whatsapp-bsp-url", "https://bsp.example/v17.0/messages"),
        ("whatsapp-token", "t"),
        ("whatsapp-number", "044 6677 8899"),
    ];
    assert!(whatsapp(&BAD_NUMBER).is_err());
}

#[test]
fn the_development_secret_is_random_and_kept() {
    let dir = std::env::temp_dir().join(format!("zippcrm-secret-{}", uuid::Uuid::new_v4()));
    let first = development_secret(&dir).expect("made");
    assert!(!weak_secret(&first));
    assert_eq!(development_secret(&dir).expect("read back"), first);
    let other = std::env::temp_dir().join(format!("zippcrm-secret-{}", uuid::Uuid::new_v4()));
    assert_ne!(development_secret(&other).expect("made"), first);
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(other);
}
