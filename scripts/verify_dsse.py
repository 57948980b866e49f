#!/usr/bin/env python3
"""Verifies a Sigstore bundle v0.3 (DSSE envelope, key-based) with only the public key,
independently of stevedore: PAE per the DSSE spec, ECDSA P-256 SHA-256 from `cryptography`.

usage: verify_dsse.py BUNDLE.json PUBLIC_KEY.pem
Exits 0 and prints the key hint and predicate type if the signature verifies, 1 otherwise.
Needs: pip install cryptography
"""
import base64
import hashlib
import json
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

BUNDLE_V03 = "application/vnd.dev.sigstore.bundle.v0.3+json"
IN_TOTO = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def main(bundle_path: str, key_path: str) -> int:
    assert pae("http://example.com/HelloWorld", b"hello world") == (
        b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    bundle = json.load(open(bundle_path))
    key = serialization.load_pem_public_key(open(key_path, "rb").read())
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        print("public key is not ECDSA P-256", file=sys.stderr)
        return 1
    spki = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    hint = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    problems = []
    if bundle.get("mediaType") != BUNDLE_V03:
        problems.append(f"mediaType {bundle.get('mediaType')!r} is not {BUNDLE_V03}")
    if bundle["verificationMaterial"]["publicKey"]["hint"] != hint:
        problems.append("publicKey.hint is not base64(sha256(DER SPKI)) of this key")
    env = bundle["dsseEnvelope"]
    if env["payloadType"] != IN_TOTO:
        problems.append(f"payloadType {env['payloadType']!r} is not {IN_TOTO}")
    payload = base64.b64decode(env["payload"], validate=True)
    message = pae(env["payloadType"], payload)
    verified = False
    for s in env["signatures"]:
        try:
            key.verify(base64.b64decode(s["sig"]), message, ec.ECDSA(hashes.SHA256()))
            verified = True
        except InvalidSignature:
            pass
    if not verified:
        problems.append("no signature verifies over PAE(payloadType, payload)")
    if problems:
        for p in problems:
            print(f"FAIL {bundle_path}: {p}", file=sys.stderr)
        return 1
    statement = json.loads(payload)
    print(f"OK {bundle_path}: key {hint}, predicateType {statement['predicateType']}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
