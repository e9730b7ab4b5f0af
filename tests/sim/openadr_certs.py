"""Certificates for the OpenADR TLS tests, made with the openssl command
line into a directory (standard library only, Debian's python3).

generate(dir) writes, and returns the paths of (see FILES):
  ca          the test CA (RSA 2048) that signs the VTN and VEN certificates
  vtn-rsa     the VTN's server certificate, RSA 2048 (TLS_RSA_WITH_AES_128_CBC_SHA256)
  vtn-ecdsa   the VTN's server certificate, ECDSA P-256
              (TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256)
  ven         the VEN's client certificate (ECDSA P-256), signed by ca
  ven-rsa     a second VEN client certificate, RSA 2048, signed by ca
  other-ca    an unrelated CA, and other-ven: a client certificate it signed
              (the "wrong client certificate")
  rogue-vtn   a self-signed server certificate for 127.0.0.1/localhost
              (the "untrusted VTN")
Each name X gives X.crt and X.key (PEM); the server certificates carry
subjectAltName IP:127.0.0.1, DNS:localhost. Certificates are valid for 30
days from generation; a directory generated before is reused as it is."""

import hashlib
import os
import ssl
import subprocess
import sys
import tempfile

FILES = ("ca", "vtn-rsa", "vtn-ecdsa", "ven", "ven-rsa", "other-ca", "other-ven",
         "rogue-vtn")
DAYS = "30"
SERVER_EXT = ("basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=serverAuth\n"
              "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
CLIENT_EXT = ("basicConstraints=critical,CA:FALSE\n"
              "keyUsage=critical,digitalSignature,keyEncipherment\n"
              "extendedKeyUsage=clientAuth\n")
CA_EXT = ("-addext", "basicConstraints=critical,CA:TRUE",
          "-addext", "keyUsage=critical,keyCertSign,cRLSign")


def _key_args(kind):
    if kind == "rsa":
        return ["-newkey", "rsa:2048"]
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]


def _openssl(*args):
    r = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args[:2])}: {r.stderr.strip()}")


def _self_signed(d, name, kind, cn, extra):
    _openssl("req", "-x509", *_key_args(kind), "-nodes", "-days", DAYS,
             "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.crt",
             "-subj", f"/O=flexgw tests/CN={cn}", *extra)


def _signed(d, name, kind, cn, ca, ext):
    """A leaf certificate for `name` signed by the CA files `ca`.crt/.key."""
    _openssl("req", "-new", *_key_args(kind), "-nodes", "-keyout", f"{d}/{name}.key",
             "-out", f"{d}/{name}.csr", "-subj", f"/O=flexgw tests/CN={cn}")
    extfile = f"{d}/{name}.ext"
    with open(extfile, "w") as f:
        f.write(ext)
    _openssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/{ca}.crt",
             "-CAkey", f"{d}/{ca}.key", "-set_serial", str(int.from_bytes(os.urandom(8), "big")),
             "-days", DAYS, "-sha256", "-extfile", extfile, "-out", f"{d}/{name}.crt")
    os.unlink(f"{d}/{name}.csr")
    os.unlink(extfile)


def paths(d):
    """{name: (cert path, key path)} for the files generate() writes."""
    return {n: (os.path.join(d, n + ".crt"), os.path.join(d, n + ".key")) for n in FILES}


def generate(d=None):
    """Write the certificates into `d` (a new temporary directory when None;
    the caller removes it) unless all are there already. Returns paths(d)
    plus "dir". Raises RuntimeError with openssl's message on failure."""
    d = d or tempfile.mkdtemp(prefix="oadr-certs-")
    os.makedirs(d, exist_ok=True)
    p = paths(d)
    if not all(os.path.exists(c) and os.path.exists(k) for c, k in p.values()):
        _self_signed(d, "ca", "rsa", "flexgw test CA", CA_EXT)
        _signed(d, "vtn-rsa", "rsa", "127.0.0.1", "ca", SERVER_EXT)
        _signed(d, "vtn-ecdsa", "ec", "127.0.0.1", "ca", SERVER_EXT)
        _signed(d, "ven", "ec", "flexgw test VEN", "ca", CLIENT_EXT)
        _signed(d, "ven-rsa", "rsa", "flexgw test VEN (RSA)", "ca", CLIENT_EXT)
        _self_signed(d, "other-ca", "ec", "unrelated CA", CA_EXT)
        _signed(d, "other-ven", "ec", "flexgw test VEN", "other-ca", CLIENT_EXT)
        _self_signed(d, "rogue-vtn", "ec", "127.0.0.1",
                     ("-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"))
    out = dict(p)
    out["dir"] = d
    return out


def fingerprint(cert_path):
    """SHA-256 fingerprint of a PEM certificate's DER form, as lower-case hex
    pairs joined by ':' (what a VEN pins; OpenADR 2.0b derives venIDs from
    the last ten pairs)."""
    with open(cert_path) as f:
        der = ssl.PEM_cert_to_DER_cert(f.read())
    h = hashlib.sha256(der).hexdigest()
    return ":".join(h[i:i + 2] for i in range(0, len(h), 2))


if __name__ == "__main__":
    out = generate(sys.argv[1] if len(sys.argv) > 1 else None)
    print(out["dir"])
