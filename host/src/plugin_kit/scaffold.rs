//! `audex plugin new NAME`: a new plugin crate that builds and passes its own tests as
//! generated.
//!
//! The crate is its own Cargo workspace, depends on the guest SDK (`audex-plugin-sdk`), and
//! holds a small working plugin: it hashes an `email` column with the SDK's kernels and posts
//! the digests in batches to the endpoint its manifest declares, with unit tests against the
//! SDK's fake host. The templates are the files of `plugin_kit/templates/`.
//!
//! The SDK dependency is a path to an audex checkout's `plugin-sdk/`: the one given, else the
//! checkout this binary was built from when it is still there, else the published crate by
//! version. With a checkout, its `Cargo.lock` is copied into the new crate, so the plugin
//! builds with the dependency versions the SDK is tested with.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The templates, with `{{placeholder}}`s.
const CARGO_TOML: &str = include_str!("templates/Cargo.toml.tmpl");
const LIB_RS: &str = include_str!("templates/lib.rs.tmpl");
const MANIFEST: &str = include_str!("templates/manifest.toml.tmpl");
const BUILD_RS: &str = include_str!("templates/build.rs.tmpl");
const README: &str = include_str!("templates/README.md.tmpl");
const CARGO_CONFIG: &str = include_str!("templates/cargo-config.toml.tmpl");
const GITIGNORE: &str = include_str!("templates/gitignore.tmpl");

/// The WIT contract the templates target (its `package` line names the version).
const WIT: &str = include_str!("../../../wit/0.1.1/destination.wit");

/// The SDK's package name.
pub const SDK_PACKAGE: &str = "audex-plugin-sdk";

/// Where the new crate gets the SDK from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdkSource {
    /// An audex checkout's `plugin-sdk/` directory (a path dependency).
    Path(PathBuf),
    /// The published crate, by version requirement.
    Version(String),
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct ScaffoldOptions {
    /// The plugin's name: lower-case ASCII letters, digits and `-`, starting with a letter.
    /// It is the package name and the manifest's `name`.
    pub name: String,
    /// The directory to create (it must not exist, or be empty).
    pub dir: PathBuf,
    /// Where the SDK comes from; `None`: [`default_sdk`].
    pub sdk: Option<SdkSource>,
}

/// What was generated.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The crate's directory.
    pub dir: PathBuf,
    /// The files written, relative to `dir`.
    pub files: Vec<PathBuf>,
    /// The SDK dependency used.
    pub sdk: SdkSource,
    /// The library name: the stem of the `.wasm` and of the manifest.
    pub lib_name: String,
}

impl Generated {
    /// What to do next, for people.
    pub fn next_steps(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "created {}", self.dir.display());
        for file in &self.files {
            let _ = writeln!(text, "  {}", file.display());
        }
        let sdk = match &self.sdk {
            SdkSource::Path(path) => format!("path {}", path.display()),
            SdkSource::Version(version) => format!("version {version}"),
        };
        let _ = writeln!(text, "SDK: {SDK_PACKAGE} ({sdk})");
        let _ = writeln!(text, "\nnext:");
        let _ = writeln!(text, "  cd {}", self.dir.display());
        let _ = writeln!(text, "  cargo test");
        let _ = writeln!(text, "  cargo build --target wasm32-wasip2 --release");
        let _ = writeln!(
            text,
            "  audex plugin check target/wasm32-wasip2/release/{}.wasm",
            self.lib_name
        );
        text
    }
}

/// Why nothing (or not everything) was generated.
#[derive(Debug, thiserror::Error)]
pub enum ScaffoldError {
    /// The name is not usable as a package and plugin name.
    #[error(
        "invalid plugin name `{0}`: use lower-case ASCII letters, digits and `-`, starting with a letter (at most 64 characters)"
    )]
    InvalidName(String),
    /// The target directory holds something already.
    #[error("{0} already exists and is not empty: choose another --dir, or remove it")]
    NotEmpty(PathBuf),
    /// The SDK path is not an SDK.
    #[error("{0} is not the audex plugin SDK (no Cargo.toml naming `audex-plugin-sdk`)")]
    NotAnSdk(PathBuf),
    /// A file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl ScaffoldError {
    /// The process exit code: 2 for a bad argument, 1 for a write failure.
    pub fn exit_code(&self) -> i32 {
        match self {
            ScaffoldError::Io { .. } => 1,
            _ => 2,
        }
    }
}

/// The version of the `audex:destination` WIT package the templates target.
pub fn wit_version() -> &'static str {
    WIT.lines()
        .find_map(|l| l.trim().strip_prefix("package audex:destination@"))
        .and_then(|rest| rest.strip_suffix(';'))
        .unwrap_or("0.1.1")
}

/// The SDK a new plugin uses by default: the `plugin-sdk/` of the checkout this binary was
/// built from, when it is still there; else the published crate.
pub fn default_sdk() -> SdkSource {
    let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../plugin-sdk");
    match checkout.canonicalize() {
        Ok(path) if is_sdk(&path) => SdkSource::Path(path),
        _ => SdkSource::Version(env!("CARGO_PKG_VERSION").to_owned()),
    }
}

/// Whether `dir` holds the SDK crate.
fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|text| text.contains(&format!("name = \"{SDK_PACKAGE}\"")))
}

/// Checks a plugin name.
pub fn check_name(name: &str) -> Result<(), ScaffoldError> {
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(ScaffoldError::InvalidName(name.to_owned()))
    }
}

/// `my-dest` -> `MyDest`.
fn camel_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// Fills `{{key}}` placeholders.
fn render(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    text
}

/// A TOML basic string.
fn toml_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Generates the plugin crate.
pub fn generate(options: &ScaffoldOptions) -> Result<Generated, ScaffoldError> {
    check_name(&options.name)?;
    let sdk = match &options.sdk {
        Some(SdkSource::Path(path)) => {
            let path = path.canonicalize().map_err(|source| ScaffoldError::Io {
                path: path.clone(),
                source,
            })?;
            if !is_sdk(&path) {
                return Err(ScaffoldError::NotAnSdk(path));
            }
            SdkSource::Path(path)
        }
        Some(other) => other.clone(),
        None => default_sdk(),
    };
    let dir = &options.dir;
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| ScaffoldError::Io { path, source }
    };
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(ScaffoldError::NotEmpty(dir.clone()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(dir)(e)),
    }

    let name = options.name.as_str();
    let lib_name = name.replace('-', "_");
    let struct_name = camel_case(name);
    let env_prefix = format!("AUDEX_{}", lib_name.to_ascii_uppercase());
    let sdk_dependency = match &sdk {
        SdkSource::Path(path) => format!(
            "{SDK_PACKAGE} = {{ path = {} }}",
            toml_string(&path.display().to_string())
        ),
        SdkSource::Version(version) => format!("{SDK_PACKAGE} = {}", toml_string(version)),
    };
    let values: [(&str, &str); 7] = [
        ("name", name),
        ("lib_name", &lib_name),
        ("Name", &struct_name),
        ("env_prefix", &env_prefix),
        ("wit_version", wit_version()),
        ("sdk_dependency", &sdk_dependency),
        ("sdk_package", SDK_PACKAGE),
    ];
    let mut files: Vec<(PathBuf, String)> = vec![
        ("Cargo.toml".into(), render(CARGO_TOML, &values)),
        (
            PathBuf::from(format!("{lib_name}.toml")),
            render(MANIFEST, &values),
        ),
        ("src/lib.rs".into(), render(LIB_RS, &values)),
        ("build.rs".into(), render(BUILD_RS, &values)),
        ("README.md".into(), render(README, &values)),
        (".cargo/config.toml".into(), render(CARGO_CONFIG, &values)),
        (".gitignore".into(), render(GITIGNORE, &values)),
    ];
    // The SDK's own lock file: the versions it is tested with (cargo drops what the plugin
    // does not use on its first build).
    if let SdkSource::Path(path) = &sdk
        && let Some(workspace) = path.parent()
        && let Ok(lock) = std::fs::read_to_string(workspace.join("Cargo.lock"))
    {
        files.push(("Cargo.lock".into(), lock));
    }

    std::fs::create_dir_all(dir).map_err(io(dir))?;
    for (relative, content) in &files {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io(parent))?;
        }
        std::fs::write(&path, content).map_err(io(&path))?;
    }
    Ok(Generated {
        dir: dir.clone(),
        files: files.into_iter().map(|(path, _)| path).collect(),
        sdk,
        lib_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::Manifest;

    #[test]
    fn names() {
        for good in ["webhook", "my-dest", "a1", "tiktok-ads-2"] {
            check_name(good).expect(good);
        }
        for bad in [
            "",
            "My",
            "1abc",
            "-a",
            "a-",
            "a--b",
            "a_b",
            "a b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(camel_case("my-dest-2"), "MyDest2");
    }

    #[test]
    fn generates_a_crate_with_a_valid_manifest() {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().join("my-dest");
        let sdk = temp.path().join("sdk");
        std::fs::create_dir_all(&sdk).expect("sdk dir");
        std::fs::write(
            sdk.join("Cargo.toml"),
            "[package]\nname = \"audex-plugin-sdk\"\n",
        )
        .expect("sdk manifest");
        let generated = generate(&ScaffoldOptions {
            name: "my-dest".to_owned(),
            dir: dir.clone(),
            sdk: Some(SdkSource::Path(sdk.clone())),
        })
        .expect("generated");
        assert_eq!(generated.lib_name, "my_dest");

        let manifest = std::fs::read_to_string(dir.join("my_dest.toml")).expect("manifest");
        let parsed = Manifest::parse(&manifest, "my_dest.toml").expect("the host parses it");
        assert_eq!(parsed.name, "my-dest");
        assert_eq!(parsed.wit, wit_version());
        assert!(parsed.endpoints.contains_key("api"));
        assert!(parsed.check.is_some());

        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
        let cargo: toml::Table = toml::from_str(&cargo).expect("valid TOML");
        assert!(cargo.contains_key("workspace"), "its own workspace");
        let sdk_path = cargo["dependencies"][SDK_PACKAGE]["path"]
            .as_str()
            .expect("a path dependency");
        assert_eq!(
            Path::new(sdk_path),
            sdk.canonicalize().expect("sdk").as_path()
        );
        let lib = std::fs::read_to_string(dir.join("src/lib.rs")).expect("lib.rs");
        assert!(lib.contains("pub struct MyDest;"));
        assert!(lib.contains("export_plugin!(MyDest)"));
        assert!(!lib.contains("{{"), "every placeholder filled");
        for file in ["build.rs", "README.md", ".cargo/config.toml", ".gitignore"] {
            let text = std::fs::read_to_string(dir.join(file)).expect(file);
            assert!(!text.contains("{{"), "{file}: every placeholder filled");
        }
        assert!(generated.next_steps().contains("my_dest.wasm"));

        // Never over something that exists.
        let again = generate(&ScaffoldOptions {
            name: "my-dest".to_owned(),
            dir: dir.clone(),
            sdk: Some(SdkSource::Path(sdk)),
        });
        assert!(
            matches!(again, Err(ScaffoldError::NotEmpty(_))),
            "{again:?}"
        );
    }

    #[test]
    fn refuses_what_is_not_an_sdk_and_bad_names() {
        let temp = tempfile::tempdir().expect("temp dir");
        let err = generate(&ScaffoldOptions {
            name: "x".to_owned(),
            dir: temp.path().join("x"),
            sdk: Some(SdkSource::Path(temp.path().to_owned())),
        })
        .expect_err("not an SDK");
        assert!(matches!(err, ScaffoldError::NotAnSdk(_)), "{err}");
        let err = generate(&ScaffoldOptions {
            name: "Bad_Name".to_owned(),
            dir: temp.path().join("y"),
            sdk: None,
        })
        .expect_err("bad name");
        assert!(err.to_string().contains("Bad_Name"), "{err}");
        assert_eq!(err.exit_code(), 2);
        assert!(!temp.path().join("y").exists());
    }

    #[test]
    fn published_sdk_by_version_and_the_wit_version() {
        let temp = tempfile::tempdir().expect("temp dir");
        let generated = generate(&ScaffoldOptions {
            name: "pub-sdk".to_owned(),
            dir: temp.path().join("p"),
            sdk: Some(SdkSource::Version("0.1".to_owned())),
        })
        .expect("generated");
        let cargo = std::fs::read_to_string(generated.dir.join("Cargo.toml")).expect("toml");
        assert!(cargo.contains("audex-plugin-sdk = \"0.1\""), "{cargo}");
        assert!(!generated.dir.join("Cargo.lock").exists());
        let version = wit_version();
        assert_eq!(version.split('.').count(), 3, "{version}");
        assert!(crate::plugin::manifest::wit_supported(version));
    }
}
