//! The run's registry session ([`Clients`]): one async runtime, one client per registry host
//! and [`Operation`] (the two clients of a host share one connection pool and one bearer
//! handshake), the client options, the log, and where credentials come from. The face builds
//! it once per command and hands it to every stage that reaches a registry: the build's
//! base-image pulls, the compose resolver, publish, `verify` and `login-check`. So a release
//! starts one runtime, resolves each host's credentials once, and asks for each token once per
//! registry and scope.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};

use anyhow::{anyhow, Context, Result};

use super::credentials::{CredentialSource, Credentials, FromEnvironment};
use super::{ClientOptions, Log, Operation, Registry, Settings};

/// One run's registry session; see the module documentation.
pub struct Clients {
    settings: Settings,
    options: ClientOptions,
    credentials: Arc<dyn CredentialSource>,
    /// Retries and other lines people follow.
    log: Log,
    /// Detail for `-v`: when the runtime starts, each host connected.
    verbose: Log,
    /// Each host's credentials, resolved once (a credential helper runs once per host).
    resolved: Mutex<HashMap<String, Credentials>>,
    /// Fields drop in order: the clients (their connection pools) before the runtime.
    registries: tokio::sync::Mutex<HashMap<(String, Operation), Arc<Registry>>>,
    /// One HTTP client (one connection pool) for every host.
    http: OnceLock<reqwest::Client>,
    runtime: OnceLock<tokio::runtime::Runtime>,
    /// Held while the runtime is being started, so that it is started once.
    starting: Mutex<()>,
}

impl Clients {
    /// A session reaching registries as `settings` say (reads `release.ca-files` and
    /// `SSL_CERT_FILE`), with credentials from `credentials`. `log` gets retries, `verbose`
    /// the session's own detail. Nothing starts until a registry is asked for.
    pub fn new(
        settings: Settings,
        credentials: Arc<dyn CredentialSource>,
        log: Log,
        verbose: Log,
    ) -> Result<Clients> {
        super::install_crypto_provider();
        let options = client_options(&settings)?;
        Ok(Clients {
            settings,
            options,
            credentials,
            log,
            verbose,
            resolved: Mutex::new(HashMap::new()),
            registries: tokio::sync::Mutex::new(HashMap::new()),
            http: OnceLock::new(),
            runtime: OnceLock::new(),
            starting: Mutex::new(()),
        })
    }

    /// `release.insecure-registries` and `release.ca-files` (for builders that reach
    /// registries themselves).
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The credentials for `host`, resolved once per session.
    pub fn credentials(&self, host: &str) -> Result<Credentials> {
        let mut resolved = self
            .resolved
            .lock()
            .map_err(|_| anyhow!("registry credentials poisoned by an earlier panic"))?;
        if let Some(c) = resolved.get(host) {
            return Ok(c.clone());
        }
        let c = self.credentials.credentials(host)?;
        resolved.insert(host.to_string(), c.clone());
        Ok(c)
    }

    /// Runs `work` on the session's runtime (started on first use), from code that is not
    /// async itself.
    pub fn block_on<F: Future>(&self, work: F) -> Result<F::Output> {
        Ok(self.runtime()?.block_on(work))
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime> {
        if let Some(rt) = self.runtime.get() {
            return Ok(rt);
        }
        let _starting = self
            .starting
            .lock()
            .map_err(|_| anyhow!("registry session poisoned by an earlier panic"))?;
        if let Some(rt) = self.runtime.get() {
            return Ok(rt);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        (self.verbose)("registry session: async runtime started");
        Ok(self.runtime.get_or_init(|| rt))
    }

    /// The client for the registry `host` (reached at `api_host`) asking for `operation`'s
    /// tokens: connected on first use, then the same one for the rest of the run.
    pub async fn client(
        &self,
        host: &str,
        api_host: &str,
        operation: Operation,
    ) -> Result<Arc<Registry>> {
        let key = (host.to_string(), operation);
        let other = match operation {
            Operation::Pull => Operation::Push,
            Operation::Push => Operation::Pull,
        };
        let sibling = {
            let registries = self.registries.lock().await;
            if let Some(r) = registries.get(&key) {
                return Ok(r.clone());
            }
            registries.get(&(host.to_string(), other)).cloned()
        };
        // Connected without holding the lock: several hosts connect at once.
        let reg = match sibling {
            Some(r) => r.sibling(operation),
            None => {
                let creds = self.credentials(host)?;
                let how_to_set = self.credentials.how_to_set(host);
                let mut reg = Registry::connect(
                    host,
                    api_host,
                    (creds, how_to_set),
                    self.http()?,
                    &self.options,
                    self.log.clone(),
                )
                .await?;
                reg.operation = operation;
                (self.verbose)(&format!(
                    "registry session: connected to {host} ({}://{})",
                    reg.scheme(),
                    reg.api_host
                ));
                reg
            }
        };
        // The first client of a host stays the one (a concurrent connect to the same host
        // is dropped).
        let mut registries = self.registries.lock().await;
        Ok(registries
            .entry(key)
            .or_insert_with(|| Arc::new(reg))
            .clone())
    }

    /// The session's HTTP client, built on first use.
    fn http(&self) -> Result<reqwest::Client> {
        if let Some(h) = self.http.get() {
            return Ok(h.clone());
        }
        let h = super::client::http_client(&self.options)?;
        Ok(self.http.get_or_init(|| h).clone())
    }

    /// [`Clients::client`] from code that is not async itself.
    pub fn client_blocking(
        &self,
        host: &str,
        api_host: &str,
        operation: Operation,
    ) -> Result<Arc<Registry>> {
        self.block_on(self.client(host, api_host, operation))?
    }
}

impl Default for Clients {
    /// Default settings, credentials from the environment outside GitHub Actions, no log.
    fn default() -> Clients {
        let silent: Log = Arc::new(|_: &str| {});
        Clients::new(
            Settings::default(),
            Arc::new(FromEnvironment::default()),
            silent.clone(),
            silent,
        )
        .expect("default settings name no CA file to read")
    }
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("settings", &self.settings)
            .field("started", &self.runtime.get().is_some())
            .finish_non_exhaustive()
    }
}

/// Client options from the settings: reads `release.ca-files` and `SSL_CERT_FILE`.
fn client_options(settings: &Settings) -> Result<ClientOptions> {
    let mut c = ClientOptions::from_env();
    c.insecure = settings.insecure.clone();
    for f in &settings.ca_files {
        c.ca_pems.push(
            std::fs::read(f).with_context(|| format!("cannot read CA file {}", f.display()))?,
        );
    }
    if let Some(f) = std::env::var_os("SSL_CERT_FILE").filter(|f| !f.is_empty()) {
        if let Ok(pem) = std::fs::read(&f) {
            c.ca_pems.push(pem);
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::credentials::{Credential, Fixed, Secret, Source};

    fn quiet() -> Log {
        Arc::new(|_: &str| {})
    }

    #[test]
    fn injected_credentials_are_used_without_the_environment() {
        let creds = Credentials {
            credential: Credential::Basic {
                user: "tester".into(),
                secret: Secret::new("s3cret"),
            },
            source: Source::Env("injected".into()),
        };
        let clients = Clients::new(
            Settings::default(),
            Arc::new(Fixed(creds)),
            quiet(),
            quiet(),
        )
        .unwrap();
        let got = clients.credentials("registry.example.com").unwrap();
        assert_eq!(got.user(), Some("tester"));
        assert_eq!(got.source, Source::Env("injected".into()));
    }

    /// Counts how often each host's credentials are asked for.
    struct Counting(Mutex<Vec<String>>);

    impl CredentialSource for Counting {
        fn credentials(&self, host: &str) -> Result<Credentials> {
            self.0.lock().unwrap().push(host.to_string());
            Ok(Credentials::anonymous())
        }
        fn how_to_set(&self, host: &str) -> String {
            format!("log in to {host}")
        }
    }

    #[test]
    fn credentials_are_resolved_once_per_host() {
        let source = Arc::new(Counting(Mutex::new(Vec::new())));
        let clients = Clients::new(Settings::default(), source.clone(), quiet(), quiet()).unwrap();
        for host in ["a.example", "b.example", "a.example", "a.example"] {
            clients.credentials(host).unwrap();
        }
        assert_eq!(*source.0.lock().unwrap(), ["a.example", "b.example"]);
    }

    #[test]
    fn the_runtime_starts_once_and_only_when_used() {
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        let verbose: Log = Arc::new(move |m: &str| sink.lock().unwrap().push(m.to_string()));
        let clients = Clients::new(
            Settings::default(),
            Arc::new(FromEnvironment::default()),
            quiet(),
            verbose,
        )
        .unwrap();
        assert!(lines.lock().unwrap().is_empty());
        for n in 0..3 {
            assert_eq!(clients.block_on(async move { n + 1 }).unwrap(), n + 1);
        }
        assert_eq!(
            *lines.lock().unwrap(),
            ["registry session: async runtime started"]
        );
    }
}
