//! Every configuration in LiteLLM's documentation (the corpus in `tests/litellm_configs/`,
//! each file naming the page it was copied from) either loads, or is refused with the key
//! and what to do instead; no key the corpus uses is passed over as unknown. What each file
//! gets is written down in `tests/litellm_configs/expected.txt`, so that a change in what
//! Switchyard accepts shows up here (`SWITCHYARD_BLESS=1` rewrites the list after a change
//! that is meant).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use switchyard_server::config::{self, ConfigError};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/litellm_configs")
}

/// Every variable a configuration names is set, as on a machine that runs it.
fn any_env(name: &str) -> Option<String> {
    Some(match name {
        n if n.contains("PORT") => "6379".to_owned(),
        n if n.contains("DATABASE") => "postgresql://u:p@127.0.0.1:5432/db".to_owned(),
        n if n.contains("REDIS_URL") => "redis://127.0.0.1:6379".to_owned(),
        n if n.contains("URL") || n.contains("BASE") || n.contains("ENDPOINT") => {
            "https://example.invalid/v1".to_owned()
        }
        n if n.contains("REGION") => "us-east-1".to_owned(),
        _ => format!("value-of-{name}"),
    })
}

/// What loading one file gives, one line per outcome, warnings by path.
fn outcome(path: &Path) -> (String, Vec<String>) {
    let mut generic = Vec::new();
    let text = match config::load_file_with_env(path, &any_env) {
        Ok(loaded) => {
            let mut line = "loads".to_owned();
            for warning in &loaded.warnings {
                if warning.message.starts_with("neither a LiteLLM key") {
                    generic.push(warning.path.clone());
                }
                write!(line, "\n    warns {}", warning.path).expect("string");
            }
            line
        }
        Err(ConfigError::Refused(refusals)) => {
            let mut line = "refused".to_owned();
            for refusal in &refusals {
                write!(line, "\n    refuses {}", refusal.path).expect("string");
            }
            line
        }
        Err(ConfigError::Invalid { path, reason }) => format!("invalid at {path}: {reason}"),
        Err(err) => format!("fails: {err}"),
    };
    (text, generic)
}

#[test]
fn every_documented_config_loads_or_is_refused_with_its_key() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("the corpus directory")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| {
            path.extension().is_some_and(|e| e == "yaml")
                && path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.as_bytes()[0].is_ascii_digit())
        })
        .collect();
    files.sort();
    assert!(
        files.len() >= 60,
        "the corpus holds {} configs",
        files.len()
    );

    let mut report = String::new();
    let mut unknown = Vec::new();
    let mut loaded = 0;
    for file in &files {
        let name = file.file_name().and_then(|n| n.to_str()).expect("a name");
        let (text, generic) = outcome(file);
        if text.starts_with("loads") {
            loaded += 1;
        }
        unknown.extend(generic.into_iter().map(|path| format!("{name}: {path}")));
        writeln!(report, "{name}: {text}").expect("string");
    }
    let expected_path = corpus_dir().join("expected.txt");
    if std::env::var_os("SWITCHYARD_BLESS").is_some() {
        std::fs::write(&expected_path, &report).expect("write expected.txt");
    }
    assert!(
        unknown.is_empty(),
        "keys of LiteLLM's documented configs that Switchyard neither takes nor judges:\n{}",
        unknown.join("\n")
    );

    let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
    assert_eq!(
        report, expected,
        "what the documented configs get changed; if that is meant, rerun with SWITCHYARD_BLESS=1"
    );
    eprintln!("{loaded} of {} documented configs load", files.len());
}
