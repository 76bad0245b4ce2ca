"""The official client trades against OpenD (here: opend-sim and its simulated broker).

    python trade.py --host 127.0.0.1 --port 11111 [--rsa-key key.pem --expect-aes cbc]

A walk through every trading call of the SDK, in the order a user would make them, with
checks that the answers hang together: the order we place shows up in the order list
and in the pushes, its fill in the deal list, the position and the cash change, a
modification and a cancellation are visible everywhere.

Securities (OpenSecTradeContext, HK market, firm FUTUSECURITIES):
    get_acc_list, unlock_trade (wrong password, then the right one), accinfo_query,
    position_list_query, place_order (market: fills at once; limit below the market:
    rests), order push and deal push handlers, order_list_query, deal_list_query,
    acctradinginfo_query, modify_order (normal, then cancel), order_fee_query,
    history_order_list_query, history_deal_list_query, get_margin_ratio,
    get_acc_cash_flow, and the simulated (paper) account.
Futures (OpenFutureTradeContext): the same round trip on a futures contract.

opend-sim's default broker is assumed: trade password 123456, HK.00700 (lot 100) and
HK.HSImain (futures) known, enough cash in the REAL accounts.
"""

import threading
import time

from futu import (
    RET_OK,
    ModifyOrderOp,
    OpenFutureTradeContext,
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
STOCK_LOT = 100
FUTURE = "HK.HSImain"


def is_contract_of(code, main_code):
    """Whether `code` is `main_code` itself or the dated contract it maps to (HK.HSI2612)."""
    root = main_code[: -len("main")]
    return code == main_code or (code.startswith(root) and len(code) == len(root) + 4 and code[len(root):].isdigit())
PUSH_TIMEOUT = 20.0  # seconds to wait for one expected push

REAL = TrdEnv.REAL
SIMULATE = TrdEnv.SIMULATE


# --------------------------------------------------------------------------------------
# Push handlers: the SDK calls on_recv_rsp on its callback thread for every push.
# --------------------------------------------------------------------------------------


class PushLog:
    """Collects push rows (dicts) from a handler thread; the test thread waits on it."""

    def __init__(self, kind):
        self.kind = kind
        self.rows = []
        self.cond = threading.Condition()

    def add(self, row):
        with self.cond:
            self.rows.append(row)
            self.cond.notify_all()

    def wait_for(self, description, predicate, timeout=PUSH_TIMEOUT):
        """Returns the first row matching `predicate`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for row in self.rows:
                    if predicate(row):
                        step(f"{self.kind} push: {description}")
                        return row
                left = deadline - time.monotonic()
                check(left > 0, f"no {self.kind} push {description} within {timeout}s; got {self.rows}")
                self.cond.wait(left)


class OrderPushes(TradeOrderHandlerBase):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def on_recv_rsp(self, rsp_pb):
        ret, table = super().on_recv_rsp(rsp_pb)
        if ret == RET_OK:
            for row in table.to_dict("records"):
                row["acc_id"] = rsp_pb.s2c.header.accID  # not in the SDK's table
                self.log.add(row)
        return ret, table


class DealPushes(TradeDealHandlerBase):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def on_recv_rsp(self, rsp_pb):
        ret, table = super().on_recv_rsp(rsp_pb)
        if ret == RET_OK:
            for row in table.to_dict("records"):
                row["acc_id"] = rsp_pb.s2c.header.accID
                self.log.add(row)
        return ret, table


# --------------------------------------------------------------------------------------
# Small helpers over the SDK's DataFrames
# --------------------------------------------------------------------------------------


def records(table):
    return table.to_dict("records")


def only_row(table, what):
    rows = records(table)
    check(len(rows) == 1, f"{what}: expected one row, got {len(rows)}: {rows}")
    return rows[0]


def row_with(table, column, value, what):
    rows = [r for r in records(table) if r[column] == value]
    check(len(rows) == 1, f"{what}: expected one row with {column}={value!r}, got {records(table)}")
    return rows[0]


def position_qty(ctx, trd_env, acc_id, code):
    positions = ok(ctx.position_list_query(trd_env=trd_env, acc_id=acc_id), "position_list_query")
    return sum(float(r["qty"]) for r in records(positions) if r["code"] == code)


def close_to(a, b, tolerance=1e-6):
    return abs(float(a) - float(b)) <= tolerance * max(1.0, abs(float(a)), abs(float(b)))


def pick_account(accounts, trd_env, market, what):
    """The first account of `trd_env` whose market authority includes `market`."""
    rows = [r for r in records(accounts) if r["trd_env"] == trd_env and market in r["trdmarket_auth"]]
    check(rows, f"{what}: no {trd_env} account with {market} authority in {records(accounts)}")
    return int(rows[0]["acc_id"])


# --------------------------------------------------------------------------------------
# Securities
# --------------------------------------------------------------------------------------


def securities(args):
    order_log, deal_log = PushLog("order"), PushLog("deal")
    ctx = OpenSecTradeContext(
        filter_trdmarket=TrdMarket.HK,
        host=args.host,
        port=args.port,
        security_firm=SecurityFirm.FUTUSECURITIES,
    )
    with ctx:
        ctx.set_handler(OrderPushes(order_log))
        ctx.set_handler(DealPushes(deal_log))
        step("OpenSecTradeContext is ready")
        check_encryption(ctx, args.expect_aes)

        # Accounts: the context keeps HK accounts of FUTUSECURITIES (and every paper account).
        accounts = ok(ctx.get_acc_list(), "get_acc_list")
        step(f"accounts:\n{accounts[['acc_id', 'trd_env', 'security_firm', 'trdmarket_auth']]}")
        for acc in records(accounts):
            check(TrdMarket.HK in acc["trdmarket_auth"], f"account without HK authority kept: {acc}")
            if acc["trd_env"] == REAL:
                check(acc["security_firm"] == SecurityFirm.FUTUSECURITIES, f"account of another firm kept: {acc}")
        acc_id = pick_account(accounts, REAL, TrdMarket.HK, "get_acc_list")
        sim_acc_id = pick_account(accounts, SIMULATE, TrdMarket.HK, "get_acc_list")

        # Unlock: a wrong password is refused, the right one accepted.
        ret, msg = ctx.unlock_trade(password="not-the-password")
        check(ret != RET_OK, "unlock_trade accepted a wrong password")
        step(f"unlock_trade with a wrong password refused: {msg}")
        ok(ctx.unlock_trade(password=PASSWORD), "unlock_trade")

        funds_before = only_row(ok(ctx.accinfo_query(trd_env=REAL, acc_id=acc_id), "accinfo_query"), "accinfo")
        step(f"funds: cash {funds_before['cash']} total {funds_before['total_assets']} power {funds_before['power']}")
        for field in ("cash", "total_assets", "power"):
            check(float(funds_before[field]) > 0, f"accinfo {field} = {funds_before[field]}")
        held_before = position_qty(ctx, REAL, acc_id, STOCK)

        # 1. A market order fills at once: order pushes, a deal push, and every list agrees.
        placed = ok(
            ctx.place_order(
                price=0.0,
                qty=STOCK_LOT,
                code=STOCK,
                trd_side=TrdSide.BUY,
                order_type=OrderType.MARKET,
                trd_env=REAL,
                acc_id=acc_id,
                remark="interop market buy",
            ),
            "place_order (market)",
        )
        market_order = only_row(placed, "place_order")
        market_id = market_order["order_id"]
        check(isinstance(market_id, str) and market_id, f"order_id {market_id!r}")
        check(market_order["code"] == STOCK, f"placed order code {market_order['code']!r}")

        filled = order_log.wait_for(
            f"{market_id} FILLED_ALL",
            lambda r: r["order_id"] == market_id and r["order_status"] == OrderStatus.FILLED_ALL,
        )
        check(filled["acc_id"] == acc_id, f"order push for account {filled['acc_id']}, expected {acc_id}")
        check(close_to(filled["dealt_qty"], STOCK_LOT), f"pushed dealt_qty {filled['dealt_qty']}")
        deal = deal_log.wait_for(f"deal of {market_id}", lambda r: r["order_id"] == market_id)
        check(deal["code"] == STOCK and close_to(deal["qty"], STOCK_LOT), f"deal push {deal}")
        check(deal["trd_side"] == TrdSide.BUY, f"deal push side {deal['trd_side']}")
        fill_price = float(deal["price"])
        check(fill_price > 0, f"fill price {fill_price}")

        deals = ok(ctx.deal_list_query(trd_env=REAL, acc_id=acc_id), "deal_list_query")
        listed_deal = row_with(deals, "order_id", market_id, "deal_list_query")
        check(listed_deal["deal_id"] == deal["deal_id"], f"deal id {listed_deal['deal_id']} vs push {deal['deal_id']}")
        check(close_to(listed_deal["price"], fill_price), f"listed deal price {listed_deal['price']}")

        orders = ok(ctx.order_list_query(order_id=market_id, trd_env=REAL, acc_id=acc_id), "order_list_query")
        listed = row_with(orders, "order_id", market_id, "order_list_query")
        check(listed["order_status"] == OrderStatus.FILLED_ALL, f"listed status {listed['order_status']}")
        check(close_to(listed["dealt_qty"], STOCK_LOT), f"listed dealt_qty {listed['dealt_qty']}")
        check(close_to(listed["dealt_avg_price"], fill_price), f"listed dealt_avg_price {listed['dealt_avg_price']}")
        check(listed["remark"] == "interop market buy", f"listed remark {listed['remark']!r}")

        held_after = position_qty(ctx, REAL, acc_id, STOCK)
        check(close_to(held_after, held_before + STOCK_LOT), f"position {held_before} -> {held_after}")
        funds_after = only_row(ok(ctx.accinfo_query(trd_env=REAL, acc_id=acc_id), "accinfo_query"), "accinfo")
        spent = float(funds_before["cash"]) - float(funds_after["cash"])
        step(f"cash {funds_before['cash']} -> {funds_after['cash']} after buying {STOCK_LOT} at {fill_price}")
        cost = STOCK_LOT * fill_price
        check(cost <= spent <= cost * 1.05, f"cash went down by {spent} for a cost of {cost} (plus fees)")

        max_qtys = only_row(
            ok(
                ctx.acctradinginfo_query(
                    order_type=OrderType.NORMAL, code=STOCK, price=fill_price, trd_env=REAL, acc_id=acc_id
                ),
                "acctradinginfo_query",
            ),
            "acctradinginfo_query",
        )
        check(float(max_qtys["max_cash_buy"]) > 0, f"max_cash_buy {max_qtys['max_cash_buy']}")
        check(float(max_qtys["max_position_sell"]) >= STOCK_LOT, f"max_position_sell {max_qtys['max_position_sell']}")

        fees = ok(ctx.order_fee_query(order_id_list=[market_id], trd_env=REAL, acc_id=acc_id), "order_fee_query")
        fee = row_with(fees, "order_id", market_id, "order_fee_query")
        check(float(fee["fee_amount"]) >= 0, f"fee_amount {fee['fee_amount']}")

        # 2. A limit order well below the market rests; modify it, then cancel it.
        limit_price = float(int(fill_price * 0.8))
        placed = ok(
            ctx.place_order(
                price=limit_price,
                qty=STOCK_LOT,
                code=STOCK,
                trd_side=TrdSide.BUY,
                order_type=OrderType.NORMAL,
                trd_env=REAL,
                acc_id=acc_id,
            ),
            f"place_order (limit {limit_price})",
        )
        limit_id = only_row(placed, "place_order")["order_id"]
        order_log.wait_for(
            f"{limit_id} SUBMITTED",
            lambda r: r["order_id"] == limit_id and r["order_status"] == OrderStatus.SUBMITTED,
        )
        orders = ok(ctx.order_list_query(trd_env=REAL, acc_id=acc_id), "order_list_query (all)")
        ids = {r["order_id"] for r in records(orders)}
        check({market_id, limit_id} <= ids, f"order list {sorted(ids)} lacks {market_id} or {limit_id}")
        resting = row_with(orders, "order_id", limit_id, "order_list_query")
        check(resting["order_status"] == OrderStatus.SUBMITTED, f"limit order status {resting['order_status']}")
        check(close_to(resting["price"], limit_price), f"limit order price {resting['price']}")

        new_price = limit_price - 1.0
        modified = ok(
            ctx.modify_order(ModifyOrderOp.NORMAL, limit_id, qty=2 * STOCK_LOT, price=new_price, trd_env=REAL, acc_id=acc_id),
            "modify_order (normal)",
        )
        check(only_row(modified, "modify_order")["order_id"] == limit_id, "modify_order answered another order")
        order_log.wait_for(
            f"{limit_id} modified to {2 * STOCK_LOT} @ {new_price}",
            lambda r: r["order_id"] == limit_id and close_to(r["qty"], 2 * STOCK_LOT) and close_to(r["price"], new_price),
        )
        orders = ok(ctx.order_list_query(order_id=limit_id, trd_env=REAL, acc_id=acc_id), "order_list_query")
        resting = row_with(orders, "order_id", limit_id, "order_list_query")
        check(close_to(resting["qty"], 2 * STOCK_LOT) and close_to(resting["price"], new_price), f"modified: {resting}")

        ok(ctx.modify_order(ModifyOrderOp.CANCEL, limit_id, qty=0, price=0, trd_env=REAL, acc_id=acc_id), "modify_order (cancel)")
        order_log.wait_for(
            f"{limit_id} CANCELLED_ALL",
            lambda r: r["order_id"] == limit_id and r["order_status"] == OrderStatus.CANCELLED_ALL,
        )
        orders = ok(ctx.order_list_query(order_id=limit_id, trd_env=REAL, acc_id=acc_id), "order_list_query")
        cancelled = row_with(orders, "order_id", limit_id, "order_list_query")
        check(cancelled["order_status"] == OrderStatus.CANCELLED_ALL, f"cancelled status {cancelled['order_status']}")

        # 3. History (the default window is the last 90 days, today included), margin, cash flow.
        history = ok(ctx.history_order_list_query(trd_env=REAL, acc_id=acc_id), "history_order_list_query")
        check(all(OrderStatus.if_has_key(s) for s in history["order_status"]), "unknown order status in history")
        past = row_with(history, "order_id", market_id, "history_order_list_query")
        check(past["order_status"] == OrderStatus.FILLED_ALL, f"history status of {market_id}: {past['order_status']}")
        past = row_with(history, "order_id", limit_id, "history_order_list_query")
        check(past["order_status"] == OrderStatus.CANCELLED_ALL, f"history status of {limit_id}: {past['order_status']}")
        history_deals = ok(ctx.history_deal_list_query(trd_env=REAL, acc_id=acc_id), "history_deal_list_query")
        check(all(float(q) > 0 for q in history_deals["qty"]), "history deal with qty <= 0")
        past_deal = row_with(history_deals, "order_id", market_id, "history_deal_list_query")
        check(past_deal["deal_id"] == deal["deal_id"], f"history deal id {past_deal['deal_id']}")

        margin = row_with(ok(ctx.get_margin_ratio([STOCK]), "get_margin_ratio"), "code", STOCK, "get_margin_ratio")
        check(float(margin["im_long_ratio"]) > 0, f"im_long_ratio {margin['im_long_ratio']}")

        # The day of the fill on OpenD's clock (which may differ from ours near midnight).
        fill_day = str(deal["create_time"])[:10]
        flows = ok(ctx.get_acc_cash_flow(clearing_date=fill_day, trd_env=REAL, acc_id=acc_id), "get_acc_cash_flow")
        step(f"cash flow on {fill_day}:\n{flows[['cashflow_direction', 'cashflow_amount', 'cashflow_remark']]}")
        check(
            any(abs(float(f["cashflow_amount"]) - spent) < 0.01 for f in records(flows)),
            f"no cash flow entry of {spent} (the cost of the buy) on {fill_day}",
        )

        # 4. The paper account needs no unlock and answers the same queries.
        sim_funds = only_row(ok(ctx.accinfo_query(trd_env=SIMULATE, acc_id=sim_acc_id), "accinfo_query (paper)"), "accinfo")
        check(float(sim_funds["total_assets"]) > 0, f"paper total_assets {sim_funds['total_assets']}")
        ok(ctx.order_list_query(trd_env=SIMULATE, acc_id=sim_acc_id), "order_list_query (paper)")
        ok(ctx.position_list_query(trd_env=SIMULATE, acc_id=sim_acc_id), "position_list_query (paper)")


# --------------------------------------------------------------------------------------
# Futures
# --------------------------------------------------------------------------------------


def futures(args):
    order_log, deal_log = PushLog("order"), PushLog("deal")
    with OpenFutureTradeContext(host=args.host, port=args.port) as ctx:
        ctx.set_handler(OrderPushes(order_log))
        ctx.set_handler(DealPushes(deal_log))
        step("OpenFutureTradeContext is ready")
        check_encryption(ctx, args.expect_aes)

        accounts = ok(ctx.get_acc_list(), "get_acc_list (futures)")
        step(f"futures accounts:\n{accounts[['acc_id', 'trd_env', 'security_firm', 'trdmarket_auth']]}")
        acc_id = pick_account(accounts, REAL, TrdMarket.FUTURES, "get_acc_list (futures)")
        ok(ctx.unlock_trade(password=PASSWORD), "unlock_trade (futures)")

        funds = only_row(ok(ctx.accinfo_query(trd_env=REAL, acc_id=acc_id), "accinfo_query (futures)"), "accinfo")
        check(float(funds["total_assets"]) > 0, f"futures total_assets {funds['total_assets']}")
        held_before = position_qty(ctx, REAL, acc_id, FUTURE)

        placed = ok(
            ctx.place_order(
                price=0.0, qty=1, code=FUTURE, trd_side=TrdSide.BUY, order_type=OrderType.MARKET, trd_env=REAL, acc_id=acc_id
            ),
            "place_order (futures, market)",
        )
        order_id = only_row(placed, "place_order")["order_id"]
        order_log.wait_for(
            f"{order_id} FILLED_ALL",
            lambda r: r["order_id"] == order_id and r["order_status"] == OrderStatus.FILLED_ALL,
        )
        deal = deal_log.wait_for(f"deal of {order_id}", lambda r: r["order_id"] == order_id)
        # OpenD maps a main-contract code to the current contract (HK.HSImain -> HK.HSIyymm).
        check(is_contract_of(deal["code"], FUTURE) and close_to(deal["qty"], 1), f"futures deal push {deal}")

        orders = ok(ctx.order_list_query(trd_env=REAL, acc_id=acc_id), "order_list_query (futures)")
        check(row_with(orders, "order_id", order_id, "order_list_query")["order_status"] == OrderStatus.FILLED_ALL, "status")
        deals = ok(ctx.deal_list_query(trd_env=REAL, acc_id=acc_id), "deal_list_query (futures)")
        row_with(deals, "order_id", order_id, "deal_list_query (futures)")
        held_after = position_qty(ctx, REAL, acc_id, FUTURE)
        check(close_to(held_after, held_before + 1), f"futures position {held_before} -> {held_after}")

        max_qtys = ok(
            ctx.acctradinginfo_query(
                order_type=OrderType.NORMAL, code=FUTURE, price=float(deal["price"]), trd_env=REAL, acc_id=acc_id
            ),
            "acctradinginfo_query (futures)",
        )
        only_row(max_qtys, "acctradinginfo_query (futures)")


def main():
    args = parse_args(__doc__)
    setup(args)
    securities(args)
    futures(args)


if __name__ == "__main__":
    run(main)
