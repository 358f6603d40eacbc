use super::*;

const GOOD: &str = "name: vip\nsource:\n  path: data/*.parquet\ncolumns:\n  email: email_address\ndestination:\n  plugin: facebook\n  ad_account: act_1\n  audience:\n    fields: [email]\n";

fn parse(text: &str) -> Result<LoadedPipeline, PipelineError> {
    LoadedPipeline::parse(text, Path::new("pipelines/vip.yaml"))
}

#[test]
fn parses_and_splits_host_keys() {
    let p = parse(GOOD).expect("valid");
    assert_eq!(p.plugin(), "facebook");
    assert_eq!(p.base_dir(), PathBuf::from("pipelines"));
    let settings = p.plugin_settings(&["graph_url"]);
    assert!(settings.get("plugin").is_none());
    assert_eq!(settings["ad_account"], "act_1");
}

#[test]
fn unknown_key_has_line_column_and_path() {
    let text = GOOD.replace(
        "  path: data/*.parquet\n",
        "  path: data/*.parquet\n  colour: red\n",
    );
    let e = parse(&text).expect_err("unknown key");
    assert_eq!((e.line, e.column), (4, 3), "{e}");
    assert!(
        e.to_string().starts_with("pipelines/vip.yaml:4:3: source"),
        "{e}"
    );
    assert!(e.message.contains("unknown field `colour`"), "{e}");
}

#[test]
fn wrong_type_is_positioned() {
    let text = GOOD.replace("name: vip", "name: [1, 2]");
    let e = parse(&text).expect_err("wrong type");
    assert_eq!(e.line, 1, "{e}");
    assert_eq!(e.key, "name");
}

#[test]
fn missing_plugin_is_reported() {
    let text = GOOD.replace("  plugin: facebook\n", "");
    let e = parse(&text).expect_err("no plugin");
    assert_eq!(e.key, "destination");
    assert_eq!(e.line, 6, "{e}");
}

#[test]
fn interpolation_in_strings() {
    let env = |name: &str| match name {
        "SET" => Some("v".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    };
    assert_eq!(interpolate("a-${SET}-b", &env).expect("set"), "a-v-b");
    assert_eq!(
        interpolate("${UNSET:-dflt}", &env).expect("default"),
        "dflt"
    );
    assert_eq!(
        interpolate("${EMPTY:-dflt}", &env).expect("empty default"),
        "dflt"
    );
    assert_eq!(
        interpolate("$$5 and $x", &env).expect("literal"),
        "$5 and $x"
    );
    let e = interpolate("${UNSET:?set it to the webhook URL}", &env).expect_err("required");
    assert_eq!(
        e.to_string(),
        "environment variable `UNSET` is not set: set it to the webhook URL"
    );
    assert!(matches!(
        interpolate("${UNSET}", &env),
        Err(InterpolationError::Missing { .. })
    ));
    assert!(matches!(
        interpolate("${1BAD}", &env),
        Err(InterpolationError::Malformed { .. })
    ));
    assert!(matches!(
        interpolate("${OPEN", &env),
        Err(InterpolationError::Malformed { .. })
    ));
}

#[test]
fn missing_variable_is_positioned_in_the_file() {
    let text = GOOD.replace("act_1", "${AUDEX_TEST_SURELY_UNSET_VAR}");
    let e = parse(&text).expect_err("missing var");
    assert_eq!(e.key, "destination.ad_account");
    assert_eq!((e.line, e.column), (8, 15), "{e}");
}

#[test]
fn locate_finds_nested_keys() {
    assert_eq!(
        locate::key(GOOD, "destination.audience.fields"),
        Some((10, 5))
    );
    assert_eq!(locate::key(GOOD, "columns.email"), Some((5, 3)));
}
