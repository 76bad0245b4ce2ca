"""The official client against opend-sim under OpenD's rules (not relaxed; clock open).

    python rules.py --host 127.0.0.1 --port 11111 [--rsa-key key.pem --expect-aes cbc]

What a bot meets in production and the relaxed simulator hides:
    - an order's life cycle is asynchronous: the place_order answer first, then order
      pushes SUBMITTING -> SUBMITTED -> FILLED_ALL, then the deal push;
    - unlocking is OpenD-wide: one context unlocks, another trades; one locks, all are
      locked;
    - paper trading refuses deal queries, cash-flow and fee queries, and order types
      other than limit and market.
"""

import threading
import time

from futu import (
    RET_OK,
    OpenSecTradeContext,
    OrderStatus,
    OrderType,
    SecurityFirm,
    TradeDealHandlerBase,
    TradeOrderHandlerBase,
    TrdEnv,
    TrdMarket,
    TrdSide,
)

from interop_common import check, check_encryption, ok, parse_args, run, setup, step

PASSWORD = "123456"
STOCK = "HK.00700"
PUSH_TIMEOUT = 20.0


class Log:
    def __init__(self):
        self.rows = []
        self.cond = threading.Condition()

    def add(self, rows):
        with self.cond:
            self.rows.extend(rows)
            self.cond.notify_all()

    def wait_for(self, what, predicate):
        deadline = time.monotonic() + PUSH_TIMEOUT
        with self.cond:
            while not predicate(self.rows):
                left = deadline - time.monotonic()
                check(left > 0, f"no {what} within {PUSH_TIMEOUT}s; got {self.rows}")
                self.cond.wait(left)
        step(f"pushes: {what}")
        return list(self.rows)


class Orders(TradeOrderHandlerBase):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def on_recv_rsp(self, rsp_pb):
        ret, table = super().on_recv_rsp(rsp_pb)
        if ret == RET_OK:
            self.log.add([("order", r) for r in table.to_dict("records")])
        return ret, table


class Deals(TradeDealHandlerBase):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def on_recv_rsp(self, rsp_pb):
        ret, table = super().on_recv_rsp(rsp_pb)
        if ret == RET_OK:
            self.log.add([("deal", r) for r in table.to_dict("records")])
        return ret, table


def context(args):
    return OpenSecTradeContext(
        filter_trdmarket=TrdMarket.HK, host=args.host, port=args.port, security_firm=SecurityFirm.FUTUSECURITIES
    )


def account(ctx, env):
    accounts = ok(ctx.get_acc_list(), "get_acc_list").to_dict("records")
    rows = [a for a in accounts if a["trd_env"] == env and TrdMarket.HK in a["trdmarket_auth"]]
    check(rows, f"no {env} HK account in {accounts}")
    return int(rows[0]["acc_id"])


def refused(result, needle, what):
    ret, msg = result[0], result[1]
    check(ret != RET_OK, f"{what} was accepted: {msg}")
    check(needle.lower() in str(msg).lower(), f"{what}: refusal {msg!r} does not mention {needle!r}")
    step(f"{what} refused: {msg}")


def main():
    args = parse_args(__doc__)
    setup(args)
    log = Log()
    first, second = context(args), context(args)
    with first, second:
        check_encryption(first, args.expect_aes)
        first.set_handler(Orders(log))
        first.set_handler(Deals(log))
        real = account(first, TrdEnv.REAL)
        paper = account(first, TrdEnv.SIMULATE)

        # Unlocking on the first connection lets the second one trade.
        ok(first.unlock_trade(password=PASSWORD), "unlock_trade (first context)")
        placed = ok(
            second.place_order(
                price=0.0, qty=100, code=STOCK, trd_side=TrdSide.BUY, order_type=OrderType.MARKET,
                trd_env=TrdEnv.REAL, acc_id=real,
            ),
            "place_order (market, second context)",
        )
        order_id = placed.to_dict("records")[0]["order_id"]

        # The life cycle arrives by push after the answer.
        rows = log.wait_for(
            f"the deal of {order_id}",
            lambda rows: any(kind == "deal" and r["order_id"] == order_id for kind, r in rows),
        )
        statuses = [r["order_status"] for kind, r in rows if kind == "order" and r["order_id"] == order_id]
        check(
            statuses == [OrderStatus.SUBMITTING, OrderStatus.SUBMITTED, OrderStatus.FILLED_ALL],
            f"order statuses {statuses}",
        )
        order_rows = [i for i, (kind, r) in enumerate(rows) if kind == "order" and r["order_id"] == order_id]
        deal_rows = [i for i, (kind, r) in enumerate(rows) if kind == "deal" and r["order_id"] == order_id]
        check(order_rows[-1] < deal_rows[0], "the deal push came before FILLED_ALL")

        # Paper trading: no deal queries, no fee or cash-flow queries, limit and market only.
        time.sleep(0.05)
        refused(first.deal_list_query(trd_env=TrdEnv.SIMULATE, acc_id=paper), "paper", "deal_list_query (paper)")
        refused(
            first.history_deal_list_query(trd_env=TrdEnv.SIMULATE, acc_id=paper),
            "paper",
            "history_deal_list_query (paper)",
        )
        refused(
            first.place_order(
                price=300.0, qty=100, code=STOCK, trd_side=TrdSide.SELL, order_type=OrderType.STOP,
                aux_price=300.0, trd_env=TrdEnv.SIMULATE, acc_id=paper,
            ),
            "limit and market",
            "a stop order (paper)",
        )

        # Locking from the second connection locks the first one too.
        ok(second.unlock_trade(is_unlock=False), "unlock_trade(is_unlock=False) (second context)")
        time.sleep(0.05)
        refused(
            first.place_order(
                price=300.0, qty=100, code=STOCK, trd_side=TrdSide.BUY, order_type=OrderType.NORMAL,
                trd_env=TrdEnv.REAL, acc_id=real,
            ),
            "unlock",
            "a REAL order after the other context locked",
        )


if __name__ == "__main__":
    run(main)
