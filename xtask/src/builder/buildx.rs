//! The buildx builder's driver. stevedore builds Dockerfiles with `--output type=oci`, which
//! the default `docker` driver cannot export ("The docker driver doesn't support these
//! exporters", docs.docker.com/build/exporters/oci-docker): a `docker-container`, `kubernetes`
//! or `remote` builder is needed. `doctor` asks before a release does.

use std::process::Command;

use crate::problem::{Kind, Problem};

/// The `Driver:` of `docker buildx inspect` output (the builder's, not a node's).
pub fn driver_of(inspect: &str) -> Option<&str> {
    inspect.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        (key.trim() == "Driver").then(|| value.trim())
    })
}

/// Whether a builder with `driver` can export an OCI layout; the problem and fix when not.
pub fn check_driver(driver: &str, builder: Option<&str>) -> Result<(), Problem> {
    match driver {
        "docker-container" | "kubernetes" | "remote" => Ok(()),
        other => {
            let which = builder.map_or("the current buildx builder".to_string(), |b| {
                format!("buildx builder {b:?}")
            });
            Err(Problem::new(
                Kind::Unavailable,
                format!(
                    "{which} uses the {other:?} driver, which cannot export an OCI layout \
                     (--output type=oci)"
                ),
                "docker buildx create --use --driver docker-container (in GitHub Actions: \
                 docker/setup-buildx-action), or set the image's builder = \"buildah\""
                    .to_string(),
            ))
        }
    }
}

/// Asks buildx for the driver of `builder` (the current builder when `None`) and checks it.
pub fn check(builder: Option<&str>) -> Result<String, Problem> {
    let mut cmd = Command::new("docker");
    cmd.args(["buildx", "inspect"]);
    if let Some(b) = builder {
        cmd.arg(b);
    }
    let out = cmd.output().map_err(|e| {
        Problem::new(
            Kind::Unavailable,
            format!("docker buildx inspect could not run: {e}"),
            "install Docker with the buildx plugin".to_string(),
        )
    })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(Problem::new(
            Kind::Unavailable,
            format!(
                "docker buildx inspect{} failed: {}",
                builder.map(|b| format!(" {b}")).unwrap_or_default(),
                err.trim()
            ),
            "create the builder (docker buildx create --name NAME --driver docker-container)"
                .to_string(),
        ));
    }
    let Some(driver) = driver_of(&text) else {
        return Err(Problem::new(
            Kind::Unavailable,
            "docker buildx inspect names no driver".to_string(),
            "check `docker buildx inspect` by hand".to_string(),
        ));
    };
    check_driver(driver, builder)?;
    Ok(format!("docker buildx ({driver} driver)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builders_driver_is_read_and_only_oci_capable_ones_pass() {
        let inspect = "Name:          default\nDriver:        docker\nLast Activity: 2026-01-01\n\nNodes:\nName:             default\nEndpoint:         default\nStatus:           running\n";
        assert_eq!(driver_of(inspect), Some("docker"));
        let container = "Name:   ci\nDriver: docker-container\nNodes:\nName: ci0\n";
        assert_eq!(driver_of(container), Some("docker-container"));
        assert_eq!(driver_of("Name: x\n"), None);
        for (driver, ok) in [
            ("docker", false),
            ("docker-container", true),
            ("kubernetes", true),
            ("remote", true),
        ] {
            assert_eq!(check_driver(driver, None).is_ok(), ok, "{driver}");
        }
        let p = check_driver("docker", Some("default")).unwrap_err();
        assert!(p.reason.contains("\"default\""), "{}", p.reason);
        assert!(p.fix.contains("docker-container"), "{}", p.fix);
    }
}
