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
    let changed: Vec<String> = report
        .lines()
        .zip(expected.lines().chain(std::iter::repeat("(nothing)")))
        .filter(|(now, before)| now != before)
        .take(10)
        .map(|(now, before)| format!("now:    {now}\nbefore: {before}"))
        .collect();
    assert!(
        changed.is_empty() && report.lines().count() == expected.lines().count(),
        "what the documented configs get changed (first differences below); if that is meant, \
         rerun with SWITCHYARD_BLESS=1\n{}",
        changed.join("\n")
    );
    eprintln!("{loaded} of {} documented configs load", files.len());
}

/// The keys of a section the typed configuration takes, from its JSON Schema.
fn typed_keys(schema: &serde_json::Value, section: &str) -> Vec<String> {
    let mut node = schema;
    for part in section.split('.') {
        node = &node["properties"][part];
        if let Some(reference) = node["$ref"].as_str() {
            let name = reference.trim_start_matches("#/$defs/");
            node = &schema["$defs"][name];
        }
        // `Option<T>` may wrap the reference in `anyOf`.
        if let Some(inner) = node["anyOf"].as_array().and_then(|all| {
            all.iter()
                .find_map(|s| s["$ref"].as_str())
                .map(|r| &schema["$defs"][r.trim_start_matches("#/$defs/")])
        }) {
            node = inner;
        }
    }
    node["properties"]
        .as_object()
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

/// Every key LiteLLM's "All settings" page documents for `litellm_settings`, `cache_params`,
/// `general_settings` and `router_settings` (`tests/litellm_configs/documented_keys.md`) is
/// taken by the typed configuration or judged by `litellm_keys`: none falls through as unknown.
#[test]
fn every_documented_settings_key_is_taken_or_judged() {
    use switchyard_server::config::litellm_keys::handling;
    let text = std::fs::read_to_string(corpus_dir().join("documented_keys.md")).expect("keys");
    let schema = config::json_schema();
    let mut section: Option<&str> = None;
    let mut missing = Vec::new();
    let mut checked = 0;
    for line in text.lines() {
        if let Some(heading) = line.strip_prefix("## `") {
            let name = heading.trim_end_matches('`');
            section = [
                "litellm_settings",
                "litellm_settings.cache_params",
                "general_settings",
                "router_settings",
            ]
            .into_iter()
            .find(|s| *s == name);
            continue;
        }
        let Some(section) = section else { continue };
        let Some(cell) = line.strip_prefix("| `") else {
            continue;
        };
        let names = cell.split('|').next().unwrap_or_default();
        let typed = typed_keys(&schema, section);
        for name in names.split(',').map(|n| n.trim().trim_matches('`')) {
            if name.is_empty() || name.chars().any(|c| c.is_ascii_uppercase()) {
                continue; // environment variables the page lists among the keys
            }
            checked += 1;
            let path = format!("{section}.{name}");
            if !typed.iter().any(|k| k == name) && handling(&path).is_none() {
                missing.push(path);
            }
        }
    }
    assert!(checked > 100, "only {checked} documented keys found");
    assert!(
        missing.is_empty(),
        "documented keys neither taken nor judged:\n{}",
        missing.join("\n")
    );
}
