"""The official client asks OpenD (here: opend-sim) for its global state.

    python global_state.py --host 127.0.0.1 --port 11111 [--rsa-key key.pem --expect-aes cbc]

Opens an OpenQuoteContext (TCP connect + InitConnect, RSA/AES when --rsa-key is given),
calls get_global_state() and checks that every field is present and plausible.
"""

import time

from futu import MarketState, OpenQuoteContext

from interop_common import check, check_encryption, ok, parse_args, run, setup, step


def main():
    args = parse_args(__doc__)
    setup(args)

    with OpenQuoteContext(host=args.host, port=args.port) as quote_ctx:
        step("OpenQuoteContext is ready (InitConnect succeeded)")
        check_encryption(quote_ctx, args.expect_aes)

        state = ok(quote_ctx.get_global_state(), "get_global_state")
        step(f"global state: {state}")

        known_states = set(MarketState.get_all_key_list())
        for market in ("market_hk", "market_us", "market_sh", "market_sz", "market_hkfuture"):
            check(state.get(market) in known_states, f"{market} = {state.get(market)!r} is not a MarketState")
        check(state["qot_logined"] is True, "qot_logined should be True")
        check(state["trd_logined"] is True, "trd_logined should be True")
        check(state["program_status_type"] == "READY", f"program_status_type = {state['program_status_type']!r}")
        check(int(state["server_ver"]) > 0, f"server_ver = {state['server_ver']!r}")

        # Server time and OpenD's local time: within a day of ours (time zones aside).
        now = time.time()
        check(abs(int(state["timestamp"]) - now) < 86400, f"timestamp {state['timestamp']} is far from now")
        check(abs(float(state["local_timestamp"]) - now) < 86400, "local_timestamp is far from now")

        # A second call on the same connection must work too (serial numbers, cipher state).
        ok(quote_ctx.get_global_state(), "get_global_state (again)")


if __name__ == "__main__":
    run(main)
