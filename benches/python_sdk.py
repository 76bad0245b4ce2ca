"""The official Python SDK (futu-api) on the workloads of examples/bench.rs, against opend-sim.

    python benches/python_sdk.py [--host H] [--port P] [--encrypt --rsa-key FILE]
                                 [--n N] [--pushes N] [--ours FILE]

Start the simulator first with a push flood, e.g.

    target/release/opend-sim --port 11112 --no-rate-limits --push-flood 10000 --quote-flood 10000

(`cargo run --release --example bench -- --python PY` does all of this itself: it starts
its own simulator for this script and puts the figures and ratios into its table.)

Workloads, on one OpenSecTradeContext(filter_trdmarket=HK):
  * the push flood: the context subscribes its accounts when it connects, and the
    simulator answers with `--push-flood` Trd_UpdateOrder pushes; they are counted in a
    TradeOrderHandlerBase subclass (the SDK's own parsing into a DataFrame included).
    The rate is (count - 1) / (time of the last push - time of the first push); pushes
    that arrive before set_handler() are not seen, so `--pushes` is only an upper bound
    to wait for (the count stops when no push arrived for 2 s);
  * accinfo_query(trd_env=SIMULATE), N calls, p50 / p99 and calls/s;
  * get_global_state(), N calls, p50 / p99 and calls/s;

and on one OpenQuoteContext:
  * the quote flood: subscribe(['HK.00700'], [SubType.QUOTE]) and the simulator answers
    with `--quote-flood` Qot_UpdateBasicQot pushes, counted in a StockQuoteHandlerBase
    subclass (the SDK's parsing into a DataFrame included), rate as for the order flood;
  * get_stock_quote(['HK.00700']), N calls, p50 / p99 and calls/s.

The last stdout line is one JSON object: gs_p50_us, gs_p99_us, gs_per_s, accinfo_p50_us,
accinfo_p99_us, accinfo_per_s, pushes_per_s, pushes_counted, qot_pushes_per_s,
qot_pushes_counted, quote_rtt_p50_us, quote_rtt_p99_us, quote_per_s. With `--ours FILE` (a file
whose last line is examples/bench.rs's JSON), the ratios ours / Python are printed before it.
"""

import argparse
import json
import logging
import sys
import threading
import time


def percentile(sorted_values, q):
    if not sorted_values:
        return float("nan")
    i = round((len(sorted_values) - 1) * q)
    return sorted_values[min(i, len(sorted_values) - 1)]


def timed_loop(fn, n, what):
    from futu import RET_OK

    for _ in range(min(n, 100)):
        ret, data = fn()
        if ret != RET_OK:
            raise RuntimeError(f"{what} failed: {data}")
    samples = []
    start = time.perf_counter()
    for _ in range(n):
        t = time.perf_counter()
        ret, data = fn()
        samples.append(time.perf_counter() - t)
        if ret != RET_OK:
            raise RuntimeError(f"{what} failed: {data}")
    per_s = n / (time.perf_counter() - start)
    samples.sort()
    return percentile(samples, 0.5) * 1e6, percentile(samples, 0.99) * 1e6, per_s


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11111)
    parser.add_argument("--encrypt", action="store_true", help="RSA InitConnect and AES bodies (needs --rsa-key)")
    parser.add_argument("--rsa-key", help="the simulator's RSA private key (PEM)")
    parser.add_argument("--n", type=int, default=2000, help="calls per request workload")
    parser.add_argument("--pushes", type=int, default=10000, help="the simulator's --push-flood/--quote-flood count")
    parser.add_argument("--ours", help="a file whose last line is the JSON of examples/bench.rs")
    args = parser.parse_args()

    from futu import (
        RET_OK,
        OpenQuoteContext,
        OpenSecTradeContext,
        StockQuoteHandlerBase,
        SubType,
        SysConfig,
        TradeOrderHandlerBase,
        TrdEnv,
        TrdMarket,
    )
    from futu.common.ft_logger import logger

    # The SDK logs every connection to the console; keep stdout for the figures.
    for attr in ("console_level", "file_level"):
        if hasattr(logger, attr):
            try:
                setattr(logger, attr, logging.ERROR)
            except Exception:  # noqa: BLE001 - best effort, depends on the SDK version
                pass
    SysConfig.set_all_thread_daemon(True)
    if args.encrypt:
        if not args.rsa_key:
            parser.error("--encrypt needs --rsa-key")
        SysConfig.enable_proto_encrypt(True)
        SysConfig.set_init_rsa_file(args.rsa_key)

    class Tally:
        """Counts pushes seen by a handler: how many, first and last arrival."""

        def __init__(self):
            self.lock = threading.Lock()
            self.count, self.first, self.last = 0, None, None

        def hit(self):
            now = time.perf_counter()
            with self.lock:
                self.count += 1
                if self.first is None:
                    self.first = now
                self.last = now

        def wait(self, target):
            """Waits for `target` pushes (or 2 s without a new one); returns (rate, count)."""
            seen, since = -1, time.monotonic()
            while True:
                with self.lock:
                    count = self.count
                if count >= target:
                    break
                if count != seen:
                    seen, since = count, time.monotonic()
                elif time.monotonic() - since > 2.0:
                    break
                time.sleep(0.05)
            with self.lock:
                count, first, last = self.count, self.first, self.last
            rate = (count - 1) / (last - first) if count > 1 and last > first else None
            return rate, count

    orders = Tally()

    class Counter(TradeOrderHandlerBase):
        def on_recv_rsp(self, rsp_pb):
            ret, data = super().on_recv_rsp(rsp_pb)
            orders.hit()
            return ret, data

    ctx = OpenSecTradeContext(
        filter_trdmarket=TrdMarket.HK, host=args.host, port=args.port, is_encrypt=args.encrypt or None
    )
    ctx.set_handler(Counter())
    pushes_per_s, count = orders.wait(args.pushes)

    acc = timed_loop(lambda: ctx.accinfo_query(trd_env=TrdEnv.SIMULATE), args.n, "accinfo_query")
    gs = timed_loop(ctx.get_global_state, args.n, "get_global_state")
    ctx.close()

    quotes = Tally()

    class QuoteCounter(StockQuoteHandlerBase):
        def on_recv_rsp(self, rsp_pb):
            ret, data = super().on_recv_rsp(rsp_pb)
            quotes.hit()
            return ret, data

    qctx = OpenQuoteContext(host=args.host, port=args.port, is_encrypt=args.encrypt or None)
    qctx.set_handler(QuoteCounter())
    ret, err = qctx.subscribe(["HK.00700"], [SubType.QUOTE])
    if ret != RET_OK:
        raise RuntimeError(f"subscribe failed: {err}")
    qot_pushes_per_s, qot_count = quotes.wait(args.pushes)
    quote = timed_loop(lambda: qctx.get_stock_quote(["HK.00700"]), args.n, "get_stock_quote")
    qctx.close()

    result = {
        "mode": "cbc" if args.encrypt else "plain",
        "n": args.n,
        "gs_p50_us": round(gs[0], 1),
        "gs_p99_us": round(gs[1], 1),
        "gs_per_s": round(gs[2], 1),
        "accinfo_p50_us": round(acc[0], 1),
        "accinfo_p99_us": round(acc[1], 1),
        "accinfo_per_s": round(acc[2], 1),
        "pushes_per_s": round(pushes_per_s, 1) if pushes_per_s else None,
        "pushes_counted": count,
        "qot_pushes_per_s": round(qot_pushes_per_s, 1) if qot_pushes_per_s else None,
        "qot_pushes_counted": qot_count,
        "quote_rtt_p50_us": round(quote[0], 1),
        "quote_rtt_p99_us": round(quote[1], 1),
        "quote_per_s": round(quote[2], 1),
    }
    print(f"futu-api {args.host}:{args.port} mode {result['mode']}, n {args.n}")
    print(f"{'figure':<44} {'value':>12}")
    print(f"{'get_global_state p50 / p99 us':<44} {gs[0]:>5.0f} / {gs[1]:.0f}")
    print(f"{'get_global_state calls/s':<44} {gs[2]:>12.0f}")
    print(f"{'accinfo_query p50 / p99 us':<44} {acc[0]:>5.0f} / {acc[1]:.0f}")
    print(f"{'accinfo_query calls/s':<44} {acc[2]:>12.0f}")
    print(f"{'pushes/s into TradeOrderHandlerBase':<44} {pushes_per_s or float('nan'):>12.0f} ({count} counted)")
    print(f"{'quote pushes/s into StockQuoteHandlerBase':<44} {qot_pushes_per_s or float('nan'):>12.0f} ({qot_count} counted)")
    print(f"{'get_stock_quote p50 / p99 us':<44} {quote[0]:>5.0f} / {quote[1]:.0f}")

    if args.ours:
        with open(args.ours, encoding="utf-8") as f:
            lines = [line for line in f.read().splitlines() if line.strip()]
        ours = json.loads(lines[-1])

        def ratio(a, b):
            return f"{a / b:.1f}x" if a and b else "n/a"

        ours_gs_per_s = ours.get("rtt_per_s") or (1e6 / ours["rtt_p50_us"])
        print(f"{'ours / Python: blocking calls/s':<44} {ratio(ours_gs_per_s, gs[2]):>12}")
        print(f"{'ours / Python: get_global_state p50 (inverse)':<44} {ratio(gs[0], ours.get('rtt_p50_us')):>12}")
        print(f"{'ours / Python: accinfo_query p50 (inverse)':<44} {ratio(acc[0], ours.get('context_rtt_p50_us')):>12}")
        print(f"{'ours / Python: pushes/s (TrdSpi)':<44} {ratio(ours.get('pushes_per_s'), pushes_per_s):>12}")
        print(f"{'ours / Python: pushes/s (context handler)':<44} {ratio(ours.get('context_pushes_per_s'), pushes_per_s):>12}")
        print(f"{'ours / Python: quote pushes/s (QotSpi)':<44} {ratio(ours.get('qot_pushes_per_s'), qot_pushes_per_s):>12}")
        print(f"{'ours / Python: quote pushes/s (QuoteContext)':<44} {ratio(ours.get('quote_context_pushes_per_s'), qot_pushes_per_s):>12}")
        print(f"{'ours / Python: get_stock_quote p50 (inverse)':<44} {ratio(quote[0], ours.get('quote_rtt_p50_us')):>12}")

    print(json.dumps(result), flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
