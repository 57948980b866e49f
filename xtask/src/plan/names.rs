//! The names things get in the OCI layout. The plan is their one author: the builder, attest
//! and compose write under these names, and publish reads them back through the stages'
//! hand-off lists ([`super::handoff`]).

use super::{ComposePlan, ImagePlan, Plan, PushTarget};

/// The name of the OCI 1.0 form written beside the artifact named `name`, pushed where a
/// registry refuses the first form (`compose.oci-version = "auto"`).
pub fn oci_1_0_fallback(name: &str) -> String {
    format!("{name}-oci1.0")
}

impl ComposePlan {
    /// The artifact's name in the layout for `target`, one of its targets (each registry gets
    /// its own, pinned to that registry's images): `compose/<registry prefix>/<layout_name>`.
    pub fn layout_name_for(&self, target: &PushTarget) -> String {
        format!("compose/{}/{}", target.registry, self.layout_name)
    }
}

impl Plan {
    /// The name of an attestation of `image` (`kind`: `provenance`, `sbom`, `statement`), of
    /// its index or of the platform manifest of `platform` (`linux-amd64`):
    /// `attest/<image>/<kind>[-<platform>]:<version>`.
    pub fn attestation_layout_name(
        &self,
        image: &ImagePlan,
        kind: &str,
        platform: Option<&str>,
    ) -> String {
        format!(
            "attest/{}/{kind}{}:{}",
            image.name,
            platform.map(|p| format!("-{p}")).unwrap_or_default(),
            self.version
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::reference::{ImageRef, RegistryPrefix};

    fn target(prefix: &str) -> PushTarget {
        let registry = RegistryPrefix::parse(prefix).unwrap();
        PushTarget {
            api_host: registry.api_host().to_string(),
            repository: registry.repository("stack-oci"),
            registry,
            references: vec![],
        }
    }

    #[test]
    fn a_push_target_is_written_in_plan_json_as_text() {
        let mut t = target("oxilith");
        t.references = vec![ImageRef::tagged(&t.registry.host, &t.repository, "1.2.3")];
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"registry":"docker.io/oxilith","api_host":"registry-1.docker.io","repository":"oxilith/stack-oci","references":["docker.io/oxilith/stack-oci:1.2.3"]}"#
        );
        assert_eq!(t.host(), "docker.io");
        assert_eq!(t.name(), "docker.io/oxilith/stack-oci");
        assert_eq!(t.reference("1.2.3"), t.references[0]);
        assert_eq!(
            t.reference("buildcache").to_string(),
            "docker.io/oxilith/stack-oci:buildcache"
        );
    }

    #[test]
    fn compose_names_carry_the_registry_prefix_and_the_plans_layout_name() {
        let compose = ComposePlan {
            files: vec![],
            repository: "stack-oci".into(),
            layout_name: "stack-oci:1.2.3".into(),
            targets: vec![],
            env_files: false,
            oci_version: Default::default(),
            resolve_external: false,
            allow: vec![],
        };
        let cases = [
            ("ghcr.io/acme", "compose/ghcr.io/acme/stack-oci:1.2.3"),
            ("127.0.0.1:5000", "compose/127.0.0.1:5000/stack-oci:1.2.3"),
            ("oxilith", "compose/docker.io/oxilith/stack-oci:1.2.3"),
        ];
        for (prefix, name) in cases {
            assert_eq!(compose.layout_name_for(&target(prefix)), name, "{prefix}");
        }
        assert_eq!(
            oci_1_0_fallback("compose/ghcr.io/acme/stack-oci:1.2.3"),
            "compose/ghcr.io/acme/stack-oci:1.2.3-oci1.0"
        );
    }
}
