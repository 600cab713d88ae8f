"""The printed card's seal, checked by a COSE implementation that is not
the vault's: PyPI's pycose (with cbor2 and base45), as a city system or a
front desk written in Python would.

Input (standard input, JSON): {"seal": "CV1:…", "jwks": {"keys": [...]}}.
Output (standard output, JSON): {"ok": true, "iss", "iat", "exp", "status",
"card"} with the photo digest as hex, or {"ok": false, "error"}. Exit 0
either way; non-zero only for a crash. Driven by tests/printing.rs.
"""

import base64
import json
import sys
import zlib

import base45
import cbor2
from pycose.headers import KID, Algorithm
from pycose.algorithms import Es256
from pycose.keys import EC2Key
from pycose.keys.curves import P256
from pycose.messages import Sign1Message


def b64u(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def main() -> dict:
    inp = json.load(sys.stdin)
    text = inp["seal"]
    if not text.startswith("CV1:"):
        return {"ok": False, "error": "no CV1: prefix"}
    cose = zlib.decompress(base45.b45decode(text[4:]))
    msg = Sign1Message.decode(cose)
    if msg.phdr.get(Algorithm) not in (Es256, Es256.identifier):
        return {"ok": False, "error": "not ES256"}
    kid = msg.phdr.get(KID)
    kid = kid.decode() if isinstance(kid, bytes) else kid
    keys = [k for k in inp["jwks"]["keys"] if k.get("kid") == kid and k.get("kty") == "EC"]
    if not keys:
        return {"ok": False, "error": "unknown kid"}
    jwk = keys[0]
    msg.key = EC2Key(crv=P256, x=b64u(jwk["x"]), y=b64u(jwk["y"]))
    if not msg.verify_signature():
        return {"ok": False, "error": "the signature does not verify"}
    claims = cbor2.loads(msg.payload)
    card = {k: (v.hex() if isinstance(v, bytes) else v) for k, v in claims["card"].items()}
    return {
        "ok": True,
        "iss": claims[1],
        "iat": claims[6],
        "exp": claims.get(4),
        "status": claims[65535],
        "card": card,
    }


if __name__ == "__main__":
    try:
        out = main()
    except Exception as e:  # a malformed seal is a refusal, not a crash
        out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    print(json.dumps(out))
