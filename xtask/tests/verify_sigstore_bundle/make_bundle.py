#!/usr/bin/env python3
"""What a GitHub keyless attestation is made of, from test CAs instead of Sigstore's.

usage: make_bundle.py DIR CA OUT.json --digest sha256:HEX --name IMAGE --repo OWNER/REPO
                      --ref REF [--version 0.3|0.2] [--curve p256|p384]
                      [--eku code-signing|server-auth]

- DIR/CA-root.pem and DIR/CA-intermediate.pem (+ keys): a root and an intermediate CA, ECDSA
  P-384 like Fulcio's, made on first use and reused after.
- A signing certificate as Fulcio issues it to an Actions job: ECDSA P-256 (or P-384), ten minutes,
  empty subject, the workflow URI as a critical SAN, code signing, and Fulcio's extensions
  (OIDs 1.3.6.1.4.1.57264.1.*).
- OUT.json: a Sigstore bundle (v0.3: `certificate`; v0.2: `x509CertificateChain`) whose DSSE
  envelope signs, over PAE, an in-toto SLSA provenance Statement about the digest, in the shape
  actions/attest-build-provenance writes. The Rekor entry in a v0.3 bundle is a stand-in: the
  verifier under test never checks one offline.
"""
import argparse
import base64
import datetime
import json
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ISSUER = "https://token.actions.githubusercontent.com"
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def save(path, cert, key):
    with open(path + ".pem", "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(path + ".key.pem", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def load(path):
    with open(path + ".pem", "rb") as f:
        cert = x509.load_pem_x509_certificate(f.read())
    with open(path + ".key.pem", "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    return cert, key


def ca_cert(name, key, issuer_name, issuer_key, path_len):
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stevedore test"),
                                        x509.NameAttribute(NameOID.COMMON_NAME, name)]))
               .issuer_name(issuer_name)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - datetime.timedelta(days=1))
               .not_valid_after(NOW + datetime.timedelta(days=3650))
               .add_extension(x509.BasicConstraints(ca=True, path_length=path_len), critical=True)
               .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                              critical=True))
    if path_len == 0:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                                        critical=False)
    return builder.sign(issuer_key, hashes.SHA384())


def authority(directory, name):
    """The (intermediate cert, intermediate key) of CA `name`, made on first use."""
    root_path = os.path.join(directory, name + "-root")
    inter_path = os.path.join(directory, name + "-intermediate")
    if not os.path.exists(inter_path + ".pem"):
        root_key = ec.generate_private_key(ec.SECP384R1())
        root_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stevedore test"),
                               x509.NameAttribute(NameOID.COMMON_NAME, name + " root")])
        root = ca_cert(name + " root", root_key, root_name, root_key, 1)
        save(root_path, root, root_key)
        inter_key = ec.generate_private_key(ec.SECP384R1())
        inter = ca_cert(name + " intermediate", inter_key, root.subject, root_key, 0)
        save(inter_path, inter, inter_key)
    return load(inter_path)


def utf8_string(text):
    """A DER UTF8String (Fulcio's extensions 8 and on)."""
    data = text.encode()
    if len(data) < 0x80:
        return bytes([0x0C, len(data)]) + data
    length = len(data).to_bytes((len(data).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(length)]) + length + data


def fulcio_extensions(repo, ref, sha, workflow_uri, run_uri):
    server = "https://github.com"
    owner = repo.split("/")[0]
    raw = {1: ISSUER, 2: "push", 3: sha, 4: "release", 5: repo, 6: ref}
    der = {
        8: ISSUER, 9: workflow_uri, 10: sha, 11: "github-hosted",
        12: f"{server}/{repo}", 13: sha, 14: ref, 15: "123456", 16: f"{server}/{owner}",
        17: "654321", 18: workflow_uri, 19: sha, 20: "push", 21: run_uri, 22: "public",
    }
    exts = [(n, v.encode()) for n, v in raw.items()]
    exts += [(n, utf8_string(v)) for n, v in der.items()]
    return [x509.UnrecognizedExtension(x509.ObjectIdentifier(f"1.3.6.1.4.1.57264.1.{n}"), value)
            for n, value in exts]


def leaf(inter, inter_key, repo, ref, sha, curve, eku):
    key = ec.generate_private_key(ec.SECP384R1() if curve == "p384" else ec.SECP256R1())
    workflow_uri = f"https://github.com/{repo}/.github/workflows/release.yml@{ref}"
    run_uri = f"https://github.com/{repo}/actions/runs/42/attempts/1"
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([]))
               .issuer_name(inter.subject)
               .public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(NOW - datetime.timedelta(minutes=1))
               .not_valid_after(NOW + datetime.timedelta(minutes=10))
               .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                              critical=True)
               .add_extension(x509.ExtendedKeyUsage([eku]), critical=False)
               .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(workflow_uri)]),
                              critical=True))
    for ext in fulcio_extensions(repo, ref, sha, workflow_uri, run_uri):
        builder = builder.add_extension(ext, critical=False)
    return builder.sign(inter_key, hashes.SHA384()), key


def statement(name, digest, repo, ref, sha):
    hex_digest = digest.split(":", 1)[1]
    server = "https://github.com"
    return {
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": name, "digest": {"sha256": hex_digest}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {
            "buildDefinition": {
                "buildType": "https://actions.github.io/buildtypes/workflow/v1",
                "externalParameters": {"workflow": {
                    "ref": ref, "repository": f"{server}/{repo}",
                    "path": ".github/workflows/release.yml"}},
                "internalParameters": {"github": {
                    "event_name": "push", "repository_id": "123456",
                    "repository_owner_id": "654321", "runner_environment": "github-hosted"}},
                "resolvedDependencies": [{"uri": f"git+{server}/{repo}@{ref}",
                                          "digest": {"gitCommit": sha}}],
            },
            "runDetails": {
                "builder": {"id": f"{server}/{repo}/.github/workflows/release.yml@{ref}"},
                "metadata": {"invocationId": f"{server}/{repo}/actions/runs/42/attempts/1"},
            },
        },
    }


def pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("ca")
    p.add_argument("out")
    p.add_argument("--digest", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--repo", required=True)
    p.add_argument("--ref", default="refs/heads/main")
    p.add_argument("--version", default="0.3", choices=["0.3", "0.2"])
    p.add_argument("--curve", default="p256", choices=["p256", "p384"])
    p.add_argument("--eku", default="code-signing", choices=["code-signing", "server-auth"])
    a = p.parse_args()
    sha = "0123456789abcdef0123456789abcdef01234567"
    inter, inter_key = authority(a.dir, a.ca)
    eku = ExtendedKeyUsageOID.CODE_SIGNING if a.eku == "code-signing" else ExtendedKeyUsageOID.SERVER_AUTH
    cert, key = leaf(inter, inter_key, a.repo, a.ref, sha, a.curve, eku)
    payload_type = "application/vnd.in-toto+json"
    payload = json.dumps(statement(a.name, a.digest, a.repo, a.ref, sha), separators=(",", ":")).encode()
    digest = hashes.SHA384() if a.curve == "p384" else hashes.SHA256()
    sig = key.sign(pae(payload_type, payload), ec.ECDSA(digest))
    b64 = lambda b: base64.b64encode(b).decode()
    der = lambda c: c.public_bytes(serialization.Encoding.DER)
    envelope = {"payload": b64(payload), "payloadType": payload_type,
                "signatures": [{"sig": b64(sig), "keyid": ""}]}
    if a.version == "0.3":
        material = {
            "certificate": {"rawBytes": b64(der(cert))},
            "tlogEntries": [{
                "logIndex": "1", "logId": {"keyId": b64(b"stand-in log")},
                "kindVersion": {"kind": "dsse", "version": "0.0.1"},
                "integratedTime": str(int(NOW.timestamp())),
                "inclusionPromise": {"signedEntryTimestamp": b64(b"stand-in")},
                "canonicalizedBody": b64(b"{}"),
            }],
            "timestampVerificationData": {},
        }
        media_type = "application/vnd.dev.sigstore.bundle.v0.3+json"
    else:
        material = {
            "x509CertificateChain": {"certificates": [{"rawBytes": b64(der(cert))},
                                                      {"rawBytes": b64(der(inter))}]},
            "tlogEntries": [],
        }
        media_type = "application/vnd.dev.sigstore.bundle+json;version=0.2"
    bundle = {"mediaType": media_type, "verificationMaterial": material, "dsseEnvelope": envelope}
    with open(a.out, "w") as f:
        json.dump(bundle, f)


if __name__ == "__main__":
    main()
