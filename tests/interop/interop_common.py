"""Shared set-up for the interop scripts: command line, a hard watchdog, SDK configuration.

Every script takes the same options:

    --host HOST --port PORT       where opend-sim (or a real OpenD) listens
    --rsa-key FILE                encrypt: the 1024-bit PKCS#1 PEM key OpenD was started with
    --expect-aes none|cbc|ecb     the AES mode the connection must end up using
    --timeout SECONDS             hard limit for the whole script (default 120)

The official SDK retries connecting forever inside its constructors, so a script that
cannot reach OpenD would hang: `setup()` arms a watchdog (faulthandler) that prints
every thread's stack and exits with status 1 when the time is up.
"""

import argparse
import faulthandler
import sys
import time

import pandas
from futu import RET_OK, SysConfig
from futu.common.conn_mng import FutuConnMng


def parse_args(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11111)
    parser.add_argument("--rsa-key", help="RSA private key file; turns protocol encryption on")
    parser.add_argument("--expect-aes", choices=["none", "cbc", "ecb"], help="check the negotiated AES mode")
    parser.add_argument("--timeout", type=float, default=120.0, help="hard limit for the whole script, in seconds")
    return parser.parse_args()


def setup(args):
    """Arms the watchdog and configures the SDK (daemon threads, optional encryption)."""
    faulthandler.dump_traceback_later(args.timeout, exit=True)
    pandas.set_option("display.width", 200)
    pandas.set_option("display.max_columns", 12)
    # Without this, the SDK's callback threads keep the process alive until every
    # context is closed; with it, a failing script can always exit.
    SysConfig.set_all_thread_daemon(True)
    if args.rsa_key:
        SysConfig.enable_proto_encrypt(True)
        SysConfig.set_init_rsa_file(args.rsa_key)
    mode = "encrypted (RSA + AES)" if args.rsa_key else "plain"
    step(f"connecting to {args.host}:{args.port}, {mode}")


_started = time.monotonic()


def step(text):
    """Prints one progress line (with the time since start), so a failure shows how far we got."""
    print(f"[{time.monotonic() - _started:6.2f}s] {text}", flush=True)


class InteropFailure(AssertionError):
    pass


def check(condition, text):
    if not condition:
        raise InteropFailure(text)


def ok(result, what):
    """Unpacks an SDK `(ret, data)` result, failing unless ret is RET_OK."""
    ret, data = result[0], result[1]
    check(ret == RET_OK, f"{what} returned {ret}: {data}")
    step(f"{what}: RET_OK")
    return data


def check_encryption(ctx, expect):
    """Checks the AES mode the SDK negotiated for `ctx`'s connection.

    This peeks at the SDK's connection table (FutuConnMng), which is internal to the
    SDK: it is the only place that shows whether a connection really is encrypted, and
    whether InitConnect's reply carried a CBC IV (CBC) or not (FTAES-ECB).
    """
    if expect is None:
        return
    info = FutuConnMng.get_conn_info(ctx.get_sync_conn_id())
    check(info is not None, "the SDK has no connection info for this context")
    encrypted = bool(info.get("is_encrypt"))
    iv = info.get("conn_iv")
    key = info.get("conn_key") or ""
    if expect == "none":
        check(not encrypted, "connection is encrypted, expected plain")
    else:
        check(encrypted, f"connection is plain, expected {expect}")
        check(len(key) == 16, f"AES key {key!r} is not 16 characters")
        if expect == "cbc":
            check(iv is not None and len(iv) == 16, f"expected AES-CBC with a 16-character IV, got IV {iv!r}")
        else:
            check(not iv, f"expected FTAES-ECB (no IV), got IV {iv!r}")
    step(f"connection {ctx.get_sync_conn_id()}: encryption {expect} as expected")


def run(main):
    """Runs `main()` and turns its outcome into the process exit status."""
    try:
        main()
    except InteropFailure as e:
        print(f"FAILED: {e}", file=sys.stderr, flush=True)
        sys.exit(1)
    step("all checks passed")
    sys.exit(0)
