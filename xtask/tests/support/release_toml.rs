//! A release config (`images/release.toml`) for a test, written from values instead of
//! hand-escaped TOML: `ReleaseToml::new("demo").registries([&reg]).tags(["…"]).image("app", "…")`.

/// The `[release]` table (keys in the order they are set), then images and other tables.
#[derive(Debug, Clone)]
pub struct ReleaseToml {
    release: Vec<String>,
    tables: String,
}

/// A TOML basic string (a JSON string literal is one: `"`, `\` and controls escaped).
pub fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// A TOML array of strings.
pub fn toml_strs<S: AsRef<str>>(items: impl IntoIterator<Item = S>) -> String {
    let items: Vec<String> = items.into_iter().map(|s| toml_str(s.as_ref())).collect();
    format!("[{}]", items.join(", "))
}

impl ReleaseToml {
    /// `[release]` with `name` and one platform, `linux/amd64` (change it with [`Self::platforms`]).
    pub fn new(name: &str) -> ReleaseToml {
        ReleaseToml {
            release: vec![format!("name = {}", toml_str(name))],
            tables: String::new(),
        }
        .platforms(["linux/amd64"])
    }

    /// Sets `key` to a string.
    pub fn string(self, key: &str, value: &str) -> ReleaseToml {
        self.raw(key, &toml_str(value))
    }

    /// Sets `key` to an array of strings.
    pub fn strings<S: AsRef<str>>(
        self,
        key: &str,
        values: impl IntoIterator<Item = S>,
    ) -> ReleaseToml {
        self.raw(key, &toml_strs(values))
    }

    /// Sets `key` to a TOML value written out (`"auto"`, `4`, `{ … }`); a key set twice keeps
    /// the last value.
    pub fn raw(mut self, key: &str, toml_value: &str) -> ReleaseToml {
        let prefix = format!("{key} = ");
        self.release.retain(|l| !l.starts_with(&prefix));
        self.release.push(format!("{prefix}{toml_value}"));
        self
    }

    pub fn registries<S: AsRef<str>>(self, prefixes: impl IntoIterator<Item = S>) -> ReleaseToml {
        self.strings("registries", prefixes)
    }

    pub fn platforms<S: AsRef<str>>(self, platforms: impl IntoIterator<Item = S>) -> ReleaseToml {
        self.strings("platforms", platforms)
    }

    /// `tags`: rules as written in the config (`type=semver,pattern={{version}}`).
    pub fn tags<S: AsRef<str>>(self, rules: impl IntoIterator<Item = S>) -> ReleaseToml {
        self.strings("tags", rules)
    }

    /// More `[release]` lines, verbatim (a test's `extra` keys).
    pub fn lines(mut self, toml: &str) -> ReleaseToml {
        self.release.extend(
            toml.lines()
                .filter(|l| !l.trim().is_empty())
                .map(String::from),
        );
        self
    }

    /// `[images.<name>]` with `body` (TOML lines).
    pub fn image(self, name: &str, body: &str) -> ReleaseToml {
        self.table(&format!("[images.{name}]\n{body}"))
    }

    /// Another table (or tables), verbatim, after the ones before.
    pub fn table(mut self, toml: &str) -> ReleaseToml {
        self.tables.push('\n');
        self.tables.push_str(toml.trim_end());
        self.tables.push('\n');
        self
    }

    /// The config text.
    pub fn build(&self) -> String {
        format!("[release]\n{}\n{}", self.release.join("\n"), self.tables)
    }
}
