"""A second third party's verdict on what the vault issues: the OpenWallet
Foundation's Python reference implementation of SD-JWT (PyPI's `sd-jwt`,
with jwcrypto for the JOSE arithmetic) verifies a presentation offline —
the issuer signature (the key chosen by `kid` from the JWKS), the
disclosures, the key binding (KB-JWT `typ`, `aud`, `nonce`, `sd_hash`,
signed by `cnf.jwk`) — and this script adds what the library leaves to its
caller: the header's `typ`, `vct`, the credential's `iat`/`exp`, the
KB-JWT's freshness, that every disclosure is one the issuer signed a
digest of, and the status list (IETF Token Status List: the JWT form,
its ES256 signature checked with jwcrypto against the JWKS key its `kid`
names, `typ` `statuslist+jwt`, `sub` the credential's list, `exp`, then
the entry at `idx` of the zlib-deflated `lst`, `bits` 1, 2, 4 or 8 each).

The library's verifier checks the KB-JWT under ES256 only (its default
algorithm), so only ES256 holder keys are verified here.

Input (standard input, JSON): {presentation, jwks, status_lists: {uri:
token}, nonce, aud, vct, now, max_age}. Output (standard output, JSON):
{ok, claims, status} once the presentation verifies — `status` is its
entry in the status list (0 valid, 1 invalid, 2 suspended) and `ok` is
whether that is 0 — or {ok: false, error} when it does not. Exits 0 either
way. Driven by tests/credentials.rs; run with the virtual environment that
.ci/sdjwt-setup makes (target/sdjwt-py).
"""

import base64
import hashlib
import json
import sys
import zlib

from jwcrypto.jwk import JWK
from jwcrypto.jws import JWS
from sd_jwt.verifier import SDJWTVerifier

# Clock skew tolerated on `iat` and `exp`, in seconds (the vault's own).
SKEW = 60
# The issuer signature's algorithms: jwcrypto's asymmetric ones the vault
# signs with (never a MAC, whatever the header says).
ISSUER_ALGS = ("ES256", "Ed25519", "EdDSA")
# Claims of the SD-JWT VC itself, not of the holder.
STRUCTURAL = ("iss", "vct", "iat", "exp", "nbf", "cnf", "status", "sub")


class Refused(Exception):
    pass


def b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def part(jwt: str, i: int) -> dict:
    value = json.loads(b64url(jwt.split(".")[i]))
    if not isinstance(value, dict):
        raise Refused("a JWT part is not an object")
    return value


def key_by_kid(jwks: dict, header: dict) -> JWK:
    kid = header.get("kid")
    found = [k for k in jwks.get("keys", []) if k.get("kid") == kid]
    if kid is None or len(found) != 1:
        raise Refused(f"no key {kid!r} in the JWKS")
    return JWK.from_json(json.dumps(found[0]))


def signed_status_list(token: str, jwks: dict, uri: str, now: int) -> dict:
    """The status list JWT's `status_list`, its signature and claims checked."""
    jws = JWS()
    jws.deserialize(token)
    header = jws.jose_header
    if header.get("typ") != "statuslist+jwt":
        raise Refused(f"status list typ is {header.get('typ')!r}")
    try:
        jws.verify(key_by_kid(jwks, header), alg="ES256")
    except Exception as e:
        raise Refused(f"status list signature: {e}") from e
    claims = json.loads(jws.payload)
    if claims.get("sub") != uri:
        raise Refused("status list sub is not the credential's list")
    exp = claims.get("exp")
    if exp is not None and exp + SKEW < now:
        raise Refused("status list expired")
    return claims["status_list"]


def entry(status_list: dict, idx: int) -> int:
    """The `idx`-th entry of a Token Status List: `bits` per entry, packed
    from the least significant bit of each byte."""
    bits = status_list.get("bits")
    if bits not in (1, 2, 4, 8):
        raise Refused(f"status list bits is {bits!r}")
    if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
        raise Refused(f"status index is {idx!r}")
    packed = zlib.decompress(b64url(status_list["lst"]))
    byte, shift = divmod(idx * bits, 8)
    if byte >= len(packed):
        raise Refused("status index out of the list")
    return (packed[byte] >> shift) & ((1 << bits) - 1)


def digests(value, out: set) -> set:
    """Every digest the issuer signed: `_sd` entries and array `...` ones."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "_sd" and isinstance(v, list):
                out.update(d for d in v if isinstance(d, str))
            elif k == "..." and isinstance(v, str) and len(value) == 1:
                out.add(v)
            else:
                digests(v, out)
    elif isinstance(value, list):
        for v in value:
            digests(v, out)
    return out


def verify(input: dict) -> dict:
    presentation = input["presentation"]
    now = input["now"]
    issuer_jwt, *disclosures, kb_jwt = presentation.split("~")
    header = part(issuer_jwt, 0)
    if header.get("typ") != "dc+sd-jwt":
        raise Refused(f"typ is {header.get('typ')!r}")
    if not kb_jwt:
        raise Refused("no key binding")

    def issuer_key(_iss, jose_header):
        if jose_header.get("alg") not in ISSUER_ALGS:
            raise Refused(f"issuer alg {jose_header.get('alg')!r}")
        return key_by_kid(input["jwks"], jose_header)

    # Issuer signature, disclosures, and key binding (aud, nonce, sd_hash,
    # typ kb+jwt, the signature by cnf.jwk under ES256).
    verifier = SDJWTVerifier(
        presentation,
        issuer_key,
        expected_aud=input["aud"],
        expected_nonce=input["nonce"],
        serialization_format="compact",
    )
    verified = verifier.get_verified_payload()

    # What the library leaves to its caller. The payload is the one whose
    # signature the library just checked.
    payload = part(issuer_jwt, 1)
    signed = digests(payload, set())
    for d in disclosures:
        digest = base64.urlsafe_b64encode(hashlib.sha256(d.encode("ascii")).digest()).rstrip(b"=").decode()
        if digest not in signed:
            raise Refused("a disclosure the issuer did not sign")
    if verified.get("vct") != input["vct"]:
        raise Refused("not this credential type")
    iat, exp = verified.get("iat"), verified.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or exp + SKEW < now or iat > now + SKEW:
        raise Refused("expired or not yet valid")
    kb_iat = part(kb_jwt, 1).get("iat")
    if not isinstance(kb_iat, int) or kb_iat > now + SKEW or kb_iat < now - input["max_age"]:
        raise Refused("key binding not fresh")

    reference = verified.get("status", {}).get("status_list", {})
    uri, idx = reference.get("uri"), reference.get("idx")
    token = input["status_lists"].get(uri)
    if token is None:
        raise Refused("no status list for the credential")
    status = entry(signed_status_list(token, input["jwks"], uri, now), idx)

    claims = {k: v for k, v in verified.items() if k not in STRUCTURAL}
    return {"ok": status == 0, "claims": claims, "status": status}


def main() -> None:
    input = json.load(sys.stdin)
    try:
        out = verify(input)
    except Exception as e:  # the library raises ValueError, jwcrypto its own
        out = {"ok": False, "error": f"{type(e).__name__}: {e}"}
    sys.stdout.write(json.dumps(out))


if __name__ == "__main__":
    main()
