"""A small bot, written for a real OpenD, trading a replay of recorded bars unchanged.

    opend-sim --history tests/data/history_2d.csv --clock 2026-12-04T09:30:00+08:00x1200 \
        --report out.html --exit-at-end
    python backtest.py --host 127.0.0.1 --port 11111 [--bot-secs 15]

It subscribes to quotes and one-minute K-lines, reads the history, then for --bot-secs
(wall time) runs a moving-average crossover on the one-minute K-lines of HK.00700 with
limit orders at the last price on the paper account, places and cancels a far-away
order, and at the end reads its funds and positions. Every K-line it is given must end
by the simulated time of the global state it read just after (no look-ahead).
"""

import argparse
import datetime
import time

from futu import (
    KLType,
    ModifyOrderOp,
    OpenQuoteContext,
    OpenSecTradeContext,
    OrderType,
    SecurityFirm,
    SubType,
    TrdEnv,
    TrdMarket,
    TrdSide,
)

from interop_common import check, ok, run, setup, step

CODE = "HK.00700"
HKT = datetime.timezone(datetime.timedelta(hours=8))


def parse():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11111)
    parser.add_argument("--rsa-key")
    parser.add_argument("--expect-aes", choices=["none", "cbc", "ecb"])
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--bot-secs", type=float, default=15.0)
    return parser.parse_args()


def hkt(s):
    return datetime.datetime.strptime(s[:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=HKT).timestamp()


def sim_now(quote):
    ret, state = quote.get_global_state()
    check(ret == 0, f"get_global_state: {state}")
    return float(state["timestamp"])


def main():
    args = parse()
    setup(args)
    quote = OpenQuoteContext(host=args.host, port=args.port)
    trade = OpenSecTradeContext(
        filter_trdmarket=TrdMarket.HK, host=args.host, port=args.port, security_firm=SecurityFirm.FUTUSECURITIES
    )
    with quote, trade:
        ok(quote.subscribe([CODE], [SubType.QUOTE, SubType.K_1M]), "subscribe")
        ret, data, _ = quote.request_history_kline(CODE, start="2026-12-04", end="2026-12-07", ktype=KLType.K_1M)
        check(ret == 0, f"request_history_kline: {data}")
        now = sim_now(quote)
        ends = [hkt(t) for t in data["time_key"]]
        check(len(ends) > 0, "no history at the start")
        check(all(e <= now + 60 for e in ends), f"history reaches past the clock ({max(ends)} > {now})")
        check(sum(1 for e in ends if e > now) <= 1, "more than one partial bar")
        step(f"history: {len(ends)} bars up to {data['time_key'].iloc[-1]}")

        accounts = ok(trade.get_acc_list(), "get_acc_list").to_dict("records")
        paper = [a for a in accounts if a["trd_env"] == TrdEnv.SIMULATE and TrdMarket.HK in a["trdmarket_auth"]]
        check(paper, "no paper HK account")
        acc = int(paper[0]["acc_id"])

        # Place and cancel an order far from the market.
        q = ok(quote.get_stock_quote([CODE]), "get_stock_quote").to_dict("records")[0]
        far = round(round(q["last_price"] * 0.8 / 0.2) * 0.2, 1)
        placed = ok(
            trade.place_order(price=far, qty=100, code=CODE, trd_side=TrdSide.BUY, order_type=OrderType.NORMAL,
                              trd_env=TrdEnv.SIMULATE, acc_id=acc),
            "place_order (far)",
        )
        far_id = placed["order_id"].iloc[0]
        ok(trade.modify_order(ModifyOrderOp.CANCEL, far_id, 0, 0, trd_env=TrdEnv.SIMULATE, acc_id=acc), "cancel")

        # The crossover: 5- and 20-bar means of the one-minute closes.
        holding = False
        orders = 0
        until = time.monotonic() + args.bot_secs
        while time.monotonic() < until:
            ret, k = quote.get_cur_kline(CODE, 20, KLType.K_1M)
            check(ret == 0, f"get_cur_kline: {k}")
            now = sim_now(quote)
            check(all(hkt(t) <= now + 60 for t in k["time_key"]), "get_cur_kline reaches past the clock")
            closes = list(k["close"])
            if len(closes) >= 20:
                fast, slow = sum(closes[-5:]) / 5, sum(closes) / 20
                last = closes[-1]
                side = None
                if fast > slow and not holding:
                    side, holding = TrdSide.BUY, True
                elif fast < slow and holding:
                    side, holding = TrdSide.SELL, False
                if side is not None:
                    ret, d = trade.place_order(price=last, qty=100, code=CODE, trd_side=side,
                                               order_type=OrderType.NORMAL, trd_env=TrdEnv.SIMULATE, acc_id=acc)
                    if ret == 0:
                        orders += 1
                        step(f"{side} 100 @ {last} (fast {fast:.2f}, slow {slow:.2f})")
                    else:
                        step(f"order refused: {d}")
            time.sleep(0.25)
        step(f"{orders} crossover orders placed")

        funds = ok(trade.accinfo_query(trd_env=TrdEnv.SIMULATE, acc_id=acc), "accinfo_query").to_dict("records")[0]
        positions = ok(trade.position_list_query(trd_env=TrdEnv.SIMULATE, acc_id=acc), "position_list_query")
        orders_now = ok(trade.order_list_query(trd_env=TrdEnv.SIMULATE, acc_id=acc), "order_list_query")
        step(f"total assets {funds['total_assets']}, {len(positions)} positions, {len(orders_now)} orders today")


if __name__ == "__main__":
    run(main)
