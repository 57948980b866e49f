#!/usr/bin/env python3
"""Checks stevedore's in-toto Statements and Sigstore bundles with the reference libraries:
in-toto-attestation (Statement v1 and SLSA Provenance v1 protos, unknown fields refused),
sigstore-models (the Sigstore bundle schema, strict) and securesystemslib (DSSE verification,
independently of stevedore and of scripts/verify_dsse.py).

usage: check_intoto.py DIR   (DIR as written by the external_check test: *.intoto.json,
                              *bundle.json, public.pem, key_hint.txt)
Needs: pip install in-toto-attestation securesystemslib sigstore-models
"""
import glob
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from google.protobuf import json_format
from in_toto_attestation.predicates.provenance.v1 import provenance_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.signer import SSlibKey
from sigstore_models.bundle.v1 import Bundle

SLSA_V1 = "https://slsa.dev/provenance/v1"


def check_statement(raw: bytes, name: str) -> None:
    pb = json_format.Parse(raw, statement_pb2.Statement())  # unknown fields raise
    Statement.copy_from_pb(pb).validate()
    if pb.predicate_type == SLSA_V1:
        predicate = json.loads(raw)["predicate"]
        json_format.ParseDict(predicate, provenance_pb2.Provenance())
    print(f"OK {name}: in-toto Statement v1, predicate {pb.predicate_type}")


def main(out: str) -> int:
    for path in sorted(glob.glob(os.path.join(out, "*.intoto.json"))):
        check_statement(open(path, "rb").read(), os.path.basename(path))
    pem = open(os.path.join(out, "public.pem"), "rb").read()
    hint = open(os.path.join(out, "key_hint.txt")).read().strip()
    key = SSlibKey.from_crypto(serialization.load_pem_public_key(pem), keyid=hint)
    for path in sorted(glob.glob(os.path.join(out, "*bundle.json"))):
        text = open(path).read()
        bundle = Bundle.from_json(text)  # strict: unknown or mistyped fields raise
        envelope = Envelope.from_dict(json.loads(text)["dsseEnvelope"])
        envelope.verify([key], 1)  # raises VerificationError
        check_statement(envelope.payload, os.path.basename(path) + " payload")
        print(f"OK {os.path.basename(path)}: {bundle.media_type}, DSSE verified by securesystemslib")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1]))
