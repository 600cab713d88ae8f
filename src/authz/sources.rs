use std::path::Path;

/// The policy texts: schema, floor, editable set, and program profiles.
#[derive(Clone, Debug)]
pub struct PolicySources {
    pub schema: String,
    pub floor: String,
    pub editable: String,
    /// `(name, toml)` for every `programs/*.toml`.
    pub programs: Vec<(String, String)>,
    /// `(file name, json)` for every `tests/*.json`: policy test cases.
    pub tests: Vec<(String, String)>,
}

const EMBEDDED_PROGRAMS: &[(&str, &str)] = &[
    ("idnyc", include_str!("../../policies/programs/idnyc.toml")),
    ("hartford", include_str!("../../policies/programs/hartford.toml")),
    ("new_haven", include_str!("../../policies/programs/new_haven.toml")),
    (
        "san_francisco",
        include_str!("../../policies/programs/san_francisco.toml"),
    ),
    ("chicago", include_str!("../../policies/programs/chicago.toml")),
];

impl PolicySources {
    /// The policies shipped in `policies/`, compiled into the binary.
    #[must_use]
    pub fn embedded() -> Self {
        Self {
            schema: include_str!("../../policies/schema.cedarschema").to_owned(),
            floor: include_str!("../../policies/floor.cedar").to_owned(),
            editable: include_str!("../../policies/editable.cedar").to_owned(),
            programs: EMBEDDED_PROGRAMS
                .iter()
                .map(|(n, t)| ((*n).to_owned(), (*t).to_owned()))
                .collect(),
            tests: vec![(
                "shipped.json".to_owned(),
                include_str!("../../policies/tests/shipped.json").to_owned(),
            )],
        }
    }

    /// Reads a policies directory.
    ///
    /// # Errors
    /// A file is missing or unreadable (the message names it).
    pub fn load(dir: &Path) -> Result<Self, String> {
        let read = |name: &str| {
            std::fs::read_to_string(dir.join(name))
                .map_err(|e| format!("policies file {}: {}", dir.join(name).display(), e.kind()))
        };
        let mut programs = Vec::new();
        let pdir = dir.join("programs");
        let entries = std::fs::read_dir(&pdir).map_err(|e| format!("{}: {}", pdir.display(), e.kind()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "toml") {
                let name = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {}", path.display(), e.kind()))?;
                programs.push((name, text));
            }
        }
        programs.sort();
        let mut tests = Vec::new();
        if let Ok(entries) = std::fs::read_dir(dir.join("tests")) {
            for entry in entries.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "json") {
                    let name = path
                        .file_name()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    let text =
                        std::fs::read_to_string(&path).map_err(|e| format!("{}: {}", path.display(), e.kind()))?;
                    tests.push((name, text));
                }
            }
        }
        tests.sort();
        Ok(Self {
            tests,
            schema: read("schema.cedarschema")?,
            floor: read("floor.cedar")?,
            editable: read("editable.cedar")?,
            programs,
        })
    }
}
