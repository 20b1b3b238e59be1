//! The committed JSON Schema (`deploy/config.schema.json`) matches the configuration types;
//! `cargo xtask schema` regenerates it.

#[test]
fn committed_schema_matches_the_config_types() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../deploy/config.schema.json");
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema file exists"))
            .expect("schema file is JSON");
    assert_eq!(
        committed,
        switchyard_server::config::json_schema(),
        "deploy/config.schema.json is stale: run `cargo xtask schema`"
    );
}
