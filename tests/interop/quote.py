"""The official client reads market data from OpenD (here: opend-sim's market data).

    python quote.py --host 127.0.0.1 --port 11111 [--rsa-key key.pem --expect-aes cbc]
                    [--unsub-secs 2]

A walk through the quote calls of the SDK's OpenQuoteContext, with checks that the
answers hang together: subscribe, query_subscription, the one-minute unsubscribe rule
(refused at once, accepted after the simulator's shortened duration), get_stock_quote,
get_order_book, get_rt_ticker, get_cur_kline, request_history_kline with paging (the
pages add up to the one-shot answer), get_market_snapshot, get_stock_basicinfo, request_trading_days,
get_market_state, get_rehab, get_history_kl_quota, get_broker_queue, the quote and order
book push handlers, plates, option chains, warrants, future info, capital flow and
distribution, the stock filter, price reminders (with their push), the watchlist, code
changes, IPOs, holding changes, delay statistics, the odd-lot order book, and a request
the simulator does not model.

opend-sim must be started with a ticker (--tick-ms) so that pushes flow, and with
--unsub-secs equal to this script's --unsub-secs.
"""

import datetime
import threading
import time

from futu import (
    RET_OK,
    AccumulateFilter,
    AuType,
    DelayStatisticsType,
    FinancialFilter,
    FinancialQuarter,
    KLType,
    Market,
    ModifyUserSecurityOp,
    OpenQuoteContext,
    OrderBookHandlerBase,
    PeriodType,
    Plate,
    PriceReminderFreq,
    PriceReminderHandlerBase,
    PriceReminderType,
    QotPushStage,
    SecurityReferenceType,
    SecurityType,
    SetPriceReminderOp,
    SimpleFilter,
    SortDir,
    SortField,
    StockField,
    StockHolder,
    StockQuoteHandlerBase,
    StrategyLegAction,
    SubType,
    UserSecurityGroupType,
)
from futu.quote.quote_get_warrant import Request as WarrantRequest
from futu.quote.quote_query import OptionStrategyLeg

from interop_common import check, check_encryption, ok, parse_args, run, setup, step

STOCK = "HK.00700"
US_STOCK = "US.AAPL"
PUSH_TIMEOUT = 20.0


class PushLog:
    """Collects push rows from the SDK's callback thread."""

    def __init__(self, kind):
        self.kind = kind
        self.rows = []
        self.cond = threading.Condition()

    def add(self, row):
        with self.cond:
            self.rows.append(row)
            self.cond.notify_all()

    def wait_for(self, description, predicate, timeout=PUSH_TIMEOUT):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for row in self.rows:
                    if predicate(row):
                        step(f"{self.kind} push: {description}")
                        return row
                left = deadline - time.monotonic()
                check(left > 0, f"no {self.kind} push {description} within {timeout}s; got {self.rows[-3:]}")
                self.cond.wait(left)


class QuotePushes(StockQuoteHandlerBase):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def on_recv_rsp(self, rsp_pb):
        ret, table = super().on_recv_rsp(rsp_pb)
        if ret == RET_OK:
            for row in table.to_dict("records"):
                self.log.add(row)
        return ret, table


class BookPushes(OrderBookHandlerBase):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def on_recv_rsp(self, rsp_pb):
        ret, data = super().on_recv_rsp(rsp_pb)
        if ret == RET_OK:
            self.log.add(data)
        return ret, data


class ReminderPushes(PriceReminderHandlerBase):
    def __init__(self, log):
        super().__init__()
        self.log = log

    def on_recv_rsp(self, rsp_pb):
        ret, data = super().on_recv_rsp(rsp_pb)
        if ret == RET_OK:
            self.log.add(data)
        return ret, data


def records(table):
    return table.to_dict("records")


def close(a, b, tol=1e-3):
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


def more_requests(ctx, reminders):
    """The reference, derivative, money-flow, screening and list requests, and how their
    answers agree with each other and with the quotes."""
    # Plates: every member of a plate lists the plate among its owner plates.
    plates = records(ok(ctx.get_plate_list(Market.HK, Plate.ALL), "get_plate_list"))
    check(len(plates) >= 3, f"HK plates: {plates}")
    for p in plates:
        members = records(ok(ctx.get_plate_stock(p["code"]), f"get_plate_stock({p['code']})"))
        check(len(members) >= 1, f"{p['code']} has no members")
        owners = records(ok(ctx.get_owner_plate([m["code"] for m in members]), "get_owner_plate"))
        for m in members:
            check(
                any(o["code"] == m["code"] and o["plate_code"] == p["code"] for o in owners),
                f"{m['code']} is in {p['code']} but its owner plates are {[o['plate_code'] for o in owners if o['code'] == m['code']]}",
            )
    step(f"plates: {len(plates)} HK plates, membership matches owner plates")

    # Options: expiries, a chain with strikes around the underlying, quotes of the legs.
    for under in (STOCK, US_STOCK):
        dates = records(ok(ctx.get_option_expiration_date(under), f"get_option_expiration_date({under})"))
        check(len(dates) >= 2, f"{under} expiries: {dates}")
        first = dates[0]["strike_time"]
        chain = records(ok(ctx.get_option_chain(under, start=first, end=first), f"get_option_chain({under})"))
        check(len(chain) >= 10, f"{under} chain rows: {len(chain)}")
        check(all(r["stock_owner"] == under and r["strike_time"] == first for r in chain), f"{under} chain: {chain[:2]}")
        spot = records(ok(ctx.get_market_snapshot([under]), "get_market_snapshot"))[0]["last_price"]
        strikes = sorted({r["strike_price"] for r in chain})
        check(strikes[0] < spot < strikes[-1], f"{under} at {spot}: strikes {strikes}")
        check(strikes[-1] - strikes[0] < spot, f"{under} strikes spread too wide: {strikes}")
        legs = [r["code"] for r in chain[:4]]
        snaps = records(ok(ctx.get_market_snapshot(legs), "get_market_snapshot(options)"))
        check(all(r["last_price"] > 0 for r in snaps), f"option prices: {snaps}")
        calls = sorted((r["strike_price"], r["code"]) for r in chain if r["option_type"] == "CALL")
        prices = {r["code"]: r["last_price"] for r in records(ok(ctx.get_market_snapshot([c for _, c in calls]), "call snapshots"))}
        seq = [prices[c] for _, c in calls]
        check(all(seq[i] >= seq[i + 1] for i in range(len(seq) - 1)), f"{under} call prices rise with the strike: {seq}")
        info = records(ok(ctx.get_stock_basicinfo(Market.HK, code_list=[legs[0]]), "get_stock_basicinfo(option)"))
        check(info[0]["code"] == legs[0], f"option static info: {info}")
        step(f"{under}: {len(dates)} expiries, {len(strikes)} strikes around {spot}")
    ret, msg = ctx.get_option_chain(US_STOCK, start="2001-01-01", end="2001-01-10")
    check(ret != RET_OK and "expires" in str(msg), f"a range without expiries: {ret} {msg}")
    leg = OptionStrategyLeg()
    leg.code, leg.action, leg.quantity = legs[0], StrategyLegAction.BUY, 1
    oq = records(ok(ctx.get_option_quote([leg]), "get_option_quote"))
    check(len(oq) == 1 and oq[0]["strike_price"] == chain[0]["strike_price"], f"option quote: {oq}")
    ok(ctx.subscribe([legs[0]], [SubType.QUOTE]), "subscribe to an option")
    q = records(ok(ctx.get_stock_quote([legs[0]]), "get_stock_quote(option)"))
    check(q[0]["last_price"] > 0, f"option quote: {q}")

    # Warrants and related securities.
    refs = records(ok(ctx.get_referencestock_list(STOCK, SecurityReferenceType.WARRANT), "get_referencestock_list"))
    check(len(refs) >= 2 and all(r["stock_type"] == "WARRANT" for r in refs), f"warrants of {STOCK}: {refs}")
    req = WarrantRequest()
    req.sort_field = SortField.CODE
    req.ascend = True
    req.begin = 0
    req.num = 2
    frame, last_page, all_count = ok(ctx.get_warrant(STOCK, req), "get_warrant")
    rows = records(frame)
    check(all_count == len(refs) and len(rows) == 2 and not last_page, f"warrant page: {all_count} {last_page} {rows}")
    check({r["stock"] for r in rows} <= {r["code"] for r in refs}, f"warrants {rows} vs references {refs}")
    check(all(r["stock_owner"] == STOCK for r in rows), f"warrant owners: {rows}")
    fut = records(ok(ctx.get_future_info(["HK.HSImain"]), "get_future_info"))
    check(fut[0]["code"] == "HK.HSImain" and fut[0]["size"] == 50, f"future info: {fut}")
    step(f"warrants: {all_count}, future info: {fut[0]['exchange']}")

    # Money flow: the parts sum to the flow, the distribution's net is the last flow.
    flow = records(ok(ctx.get_capital_flow(STOCK, period_type=PeriodType.INTRADAY), "get_capital_flow"))
    check(len(flow) >= 1, "no capital flow")
    for r in flow:
        parts = r["super_in_flow"] + r["big_in_flow"] + r["mid_in_flow"] + r["sml_in_flow"]
        check(close(parts, r["in_flow"]), f"capital flow parts {parts} vs {r['in_flow']}")
        check(close(r["super_in_flow"] + r["big_in_flow"], r["main_in_flow"]), f"main flow: {r}")
    dist = records(ok(ctx.get_capital_distribution(STOCK), "get_capital_distribution"))[0]
    inflow = sum(dist[f"capital_in_{k}"] for k in ("super", "big", "mid", "small"))
    outflow = sum(dist[f"capital_out_{k}"] for k in ("super", "big", "mid", "small"))
    # The distribution is read after the flow: a trade in between moves both; compare
    # with a fresh flow read right after.
    flow2 = records(ok(ctx.get_capital_flow(STOCK, period_type=PeriodType.INTRADAY), "get_capital_flow again"))
    check(
        any(close(inflow - outflow, f[-1]["in_flow"], 1e-2) for f in (flow, flow2)),
        f"distribution net {inflow - outflow} vs flow {flow[-1]['in_flow']} / {flow2[-1]['in_flow']}",
    )
    daily = records(ok(ctx.get_capital_flow(STOCK, period_type=PeriodType.DAY), "get_capital_flow(DAY)"))
    check(len(daily) > 10, f"daily flow rows: {len(daily)}")
    step(f"capital flow: {len(flow)} intraday items, in {inflow:.0f} out {outflow:.0f}")

    # Screening.
    price = SimpleFilter()
    price.stock_field = StockField.CUR_PRICE
    price.filter_min = 10
    price.filter_max = 2000
    price.is_no_filter = False
    price.sort = SortDir.DESCEND
    change = AccumulateFilter()
    change.stock_field = StockField.CHANGE_RATE
    change.days = 5
    change.is_no_filter = True
    profit = FinancialFilter()
    profit.stock_field = StockField.NET_PROFIT
    profit.quarter = FinancialQuarter.ANNUAL
    profit.is_no_filter = True
    last_page, all_count, items = ok(
        ctx.get_stock_filter(Market.HK, [price, change, profit], begin=0, num=200), "get_stock_filter"
    )
    check(all_count >= 3 and last_page and len(items) == all_count, f"stock filter: {all_count} {last_page} {items}")
    values = [it[price] for it in items]
    check(values == sorted(values, reverse=True), f"stock filter sort: {values}")
    check(all(10 <= v <= 2000 for v in values), f"stock filter range: {values}")
    step(f"stock filter: {all_count} HK stocks")

    # Price reminders: set, read back, and a push when the price crosses.
    last = records(ok(ctx.get_market_snapshot([STOCK]), "get_market_snapshot"))[0]["last_price"]
    key = ok(
        ctx.set_price_reminder(
            STOCK,
            SetPriceReminderOp.ADD,
            reminder_type=PriceReminderType.PRICE_UP,
            reminder_freq=PriceReminderFreq.ALWAYS,
            value=round(last * 1.5, 1),
            note="far",
        ),
        "set_price_reminder",
    )
    got = records(ok(ctx.get_price_reminder(STOCK), "get_price_reminder"))
    check(any(r["key"] == key and r["note"] == "far" for r in got), f"price reminders: {got}")
    ok(ctx.set_price_reminder(STOCK, SetPriceReminderOp.DEL, key=key), "set_price_reminder(DEL)")
    # A reminder just above the price: the moving market crosses it back and forth.
    for value in (round(last + 0.2, 1), round(last - 0.2, 1)):
        ok(
            ctx.set_price_reminder(
                STOCK,
                SetPriceReminderOp.ADD,
                reminder_type=PriceReminderType.PRICE_UP if value > last else PriceReminderType.PRICE_DOWN,
                reminder_freq=PriceReminderFreq.ALWAYS,
                value=value,
                note="near",
            ),
            "set_price_reminder(near)",
        )
    # The day's volume only grows while the market is open (the clock holds it open), so a
    # reminder a little above it is certain to fire, however quiet the price is.
    volume = records(ok(ctx.get_market_snapshot([STOCK]), "get_market_snapshot"))[0]["volume"]
    ok(
        ctx.set_price_reminder(
            STOCK,
            SetPriceReminderOp.ADD,
            reminder_type=PriceReminderType.VOLUME_UP,
            reminder_freq=PriceReminderFreq.ALWAYS,
            value=float(volume + 1000),
            note="near",
        ),
        "set_price_reminder(volume)",
    )
    reminders.wait_for(f"{STOCK} reminder", lambda r: r["code"] == STOCK and r["note"] == "near", timeout=60)

    # The watchlist.
    groups = records(ok(ctx.get_user_security_group(UserSecurityGroupType.ALL), "get_user_security_group"))
    custom = [g["group_name"] for g in groups if g["group_type"] == "CUSTOM"]
    check(len(custom) >= 1, f"watchlist groups: {groups}")
    ok(ctx.modify_user_security(custom[0], ModifyUserSecurityOp.ADD, ["US.TSLA"]), "modify_user_security")
    mine = records(ok(ctx.get_user_security(custom[0]), "get_user_security"))
    check("US.TSLA" in [r["code"] for r in mine], f"watchlist after adding: {mine}")
    ok(ctx.modify_user_security(custom[0], ModifyUserSecurityOp.MOVE_OUT, ["US.TSLA"]), "modify_user_security(MOVE_OUT)")
    mine = records(ok(ctx.get_user_security(custom[0]), "get_user_security"))
    check("US.TSLA" not in [r["code"] for r in mine], f"watchlist after moving out: {mine}")

    # Others a bot meets.
    changes = records(ok(ctx.get_code_change(), "get_code_change"))
    check(len(changes) >= 1, "no code changes")
    for market in (Market.HK, Market.US):
        ipo = records(ok(ctx.get_ipo_list(market), f"get_ipo_list({market})"))
        check(len(ipo) >= 1, f"IPOs of {market}: {ipo}")
    holders = records(ok(ctx.get_holding_change_list(US_STOCK, StockHolder.INSTITUTE), "get_holding_change_list"))
    check(len(holders) >= 1, "no holding changes")
    ok(ctx.get_delay_statistics([DelayStatisticsType.QOT_PUSH], QotPushStage.SR2_CS, [10, 50]), "get_delay_statistics")
    ok(ctx.subscribe([STOCK], [SubType.ORDER_BOOK_ODD]), "subscribe ORDER_BOOK_ODD")
    step("code changes, IPOs, holding changes, delay statistics, odd-lot book: RET_OK")
    return [([legs[0]], [SubType.QUOTE]), ([STOCK], [SubType.ORDER_BOOK_ODD])]


def main(args):
    ctx = OpenQuoteContext(host=args.host, port=args.port)
    try:
        check_encryption(ctx, args.expect_aes)
        quotes, books, reminders = PushLog("quote"), PushLog("order book"), PushLog("price reminder")
        ctx.set_handler(QuotePushes(quotes))
        ctx.set_handler(BookPushes(books))
        ctx.set_handler(ReminderPushes(reminders))

        # Static info: by market, then by code.
        info = records(ok(ctx.get_stock_basicinfo(Market.HK, SecurityType.STOCK), "get_stock_basicinfo(HK, STOCK)"))
        codes = {r["code"]: r for r in info}
        check(STOCK in codes, f"{STOCK} missing from the HK stock list {sorted(codes)}")
        check(int(codes[STOCK]["lot_size"]) == 100, f"lot size of {STOCK}: {codes[STOCK]}")
        check(all(r["stock_type"] == SecurityType.STOCK for r in info), f"non-stocks in {info}")
        by_code = records(ok(ctx.get_stock_basicinfo(Market.HK, code_list=[US_STOCK]), "get_stock_basicinfo(code_list)"))
        check([r["code"] for r in by_code] == [US_STOCK], f"by code: {by_code}")

        # Real-time data needs a subscription first.
        ret, msg = ctx.get_stock_quote([STOCK])
        check(ret != RET_OK and "subscribe" in str(msg), f"get_stock_quote before subscribing: {ret} {msg}")
        step("get_stock_quote before subscribing is refused")

        subtypes = [SubType.QUOTE, SubType.ORDER_BOOK, SubType.TICKER, SubType.K_DAY, SubType.RT_DATA]
        ok(ctx.subscribe([STOCK], subtypes), "subscribe")
        sub = ok(ctx.query_subscription(), "query_subscription")
        check(sub["total_used"] == len(subtypes), f"quota used: {sub}")
        check(sub["own_used"] == len(subtypes), f"own connection: {sub}")
        check(all(sub["sub_list"].get(t) == [STOCK] for t in subtypes), f"subscription list: {sub['sub_list']}")

        # OpenD's rule: no unsubscribing within the first minute (shortened by the simulator).
        subscribed_at = time.monotonic()
        ret, msg = ctx.unsubscribe([STOCK], [SubType.QUOTE])
        check(ret != RET_OK, "unsubscribe right after subscribing succeeded")
        step(f"early unsubscribe refused: {msg}")
        # The SDK forgot the subscription locally; subscribe again (a no-op on the server).
        ok(ctx.subscribe([STOCK], [SubType.QUOTE]), "subscribe again")

        q = records(ok(ctx.get_stock_quote([STOCK]), "get_stock_quote"))
        check(len(q) == 1 and q[0]["code"] == STOCK, f"quote: {q}")
        q = q[0]
        check(q["last_price"] > 0 and q["low_price"] <= q["last_price"] <= q["high_price"], f"quote prices: {q}")
        check(q["prev_close_price"] > 0, f"prev close: {q}")

        book = ok(ctx.get_order_book(STOCK, num=10), "get_order_book")
        check(book["code"] == STOCK, f"order book code: {book['code']}")
        check(len(book["Bid"]) == 10 and len(book["Ask"]) == 10, f"levels: {len(book['Bid'])}/{len(book['Ask'])}")
        check(book["Bid"][0][0] < book["Ask"][0][0], f"crossed book: {book['Bid'][0]} / {book['Ask'][0]}")
        check(all(book["Bid"][i][0] > book["Bid"][i + 1][0] for i in range(9)), f"bids not descending: {book['Bid']}")
        # Every level: a volume, and at least one order of at least one lot each.
        for side in ("Bid", "Ask"):
            for level in book[side]:
                price, volume, orders = level[0], int(level[1]), int(level[2])
                check(volume > 0 and orders >= 1 and orders * 100 <= volume, f"{side} level {level}")

        # Tickers need at least one trade: the simulator's ticker makes one per step.
        deadline = time.monotonic() + PUSH_TIMEOUT
        while True:
            ticks = records(ok(ctx.get_rt_ticker(STOCK, 10), "get_rt_ticker"))
            if ticks or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        check(len(ticks) >= 1, "no tickers")
        seqs = [int(t["sequence"]) for t in ticks]
        check(seqs == sorted(seqs), f"ticker sequences out of order: {seqs}")
        check(all(t["price"] > 0 and t["volume"] > 0 for t in ticks), f"tickers: {ticks}")

        rt = records(ok(ctx.get_rt_data(STOCK), "get_rt_data"))
        check(len(rt) >= 1, "no time-sharing data")

        kl = records(ok(ctx.get_cur_kline(STOCK, 5, KLType.K_DAY, AuType.QFQ), "get_cur_kline"))
        check(len(kl) == 5, f"get_cur_kline rows: {len(kl)}")
        times = [k["time_key"] for k in kl]
        check(times == sorted(times) and len(set(times)) == 5, f"K-line times: {times}")

        # History with paging: the pages add up to the one-shot answer.
        end = datetime.date.today()
        start = end - datetime.timedelta(days=90)
        s, e = start.strftime("%Y-%m-%d"), end.strftime("%Y-%m-%d")
        ret, whole, key = ctx.request_history_kline(STOCK, start=s, end=e, ktype=KLType.K_DAY, max_count=1000)
        check(ret == RET_OK and key is None, f"one-shot history: {ret} {whole if ret != RET_OK else key}")
        whole = records(whole)
        check(len(whole) > 40, f"history rows over 90 days: {len(whole)}")
        paged, key, pages = [], None, 0
        while True:
            ret, data, key = ctx.request_history_kline(
                STOCK, start=s, end=e, ktype=KLType.K_DAY, max_count=10, page_req_key=key
            )
            check(ret == RET_OK, f"history page {pages}: {data}")
            paged.extend(records(data))
            pages += 1
            check(pages < 100, "paging does not end")
            if key is None:
                break
        step(f"request_history_kline: {len(whole)} rows, {pages} pages of 10")
        check([r["time_key"] for r in paged] == [r["time_key"] for r in whole], "paged and one-shot history differ")
        # Today's bar is still forming: its close follows the live price between requests.
        settled = len(whole) - 1
        check(
            [r["close"] for r in paged[:settled]] == [r["close"] for r in whole[:settled]],
            "paged and one-shot closes differ",
        )
        ret, mins, key = ctx.request_history_kline(STOCK, start=s, end=e, ktype=KLType.K_1M, max_count=100)
        check(ret == RET_OK and len(mins) == 100 and key is not None, f"1-minute history page: {ret} {key}")
        # K-line continuity: every bar's last close is the bar before's close, across days
        # too (the first bar of a day follows the previous day's close).
        week = (end - datetime.timedelta(days=7)).strftime("%Y-%m-%d")
        for ktype in (KLType.K_5M, KLType.K_60M, KLType.K_DAY):
            ret, bars, _ = ctx.request_history_kline(STOCK, start=week, end=e, ktype=ktype, max_count=1000)
            check(ret == RET_OK, f"history {ktype}: {bars}")
            bars = records(bars)
            check(len(bars) > 2, f"history {ktype}: {len(bars)} rows")
            for prev, cur in zip(bars, bars[1:]):
                check(
                    abs(cur["last_close"] - prev["close"]) < 1e-6,
                    f"{ktype}: {cur['time_key']} last_close {cur['last_close']} != {prev['time_key']} close {prev['close']}",
                )
            check(all(b["low"] <= min(b["open"], b["close"]) and b["high"] >= max(b["open"], b["close"]) for b in bars),
                  f"{ktype}: a bar outside its range")

        snaps = records(ok(ctx.get_market_snapshot([STOCK, US_STOCK]), "get_market_snapshot"))
        by = {r["code"]: r for r in snaps}
        check(set(by) == {STOCK, US_STOCK}, f"snapshot codes: {sorted(by)}")
        check(int(by[STOCK]["lot_size"]) == 100 and int(by[US_STOCK]["lot_size"]) == 1, f"lot sizes: {snaps}")
        check(by[STOCK]["last_price"] > 0, f"snapshot price: {by[STOCK]}")

        # Reference data and quotas.
        days = ok(ctx.request_trading_days(market="HK", start="2026-11-02", end="2026-11-06"), "request_trading_days")
        check([d["time"] for d in days] == [f"2026-11-0{i}" for i in range(2, 7)], f"trading days: {days}")
        states = records(ok(ctx.get_market_state([STOCK, "HK.HSImain"]), "get_market_state"))
        check(len(states) == 2, f"market states: {states}")
        rehab = records(ok(ctx.get_rehab(STOCK), "get_rehab"))
        check(len(rehab) >= 8 and all(r["forward_adj_factorA"] == 1.0 for r in rehab), f"rehab: {rehab[:2]}")
        quota = ok(ctx.get_history_kl_quota(get_detail=True), "get_history_kl_quota")
        check(quota[0] == 1 and len(quota[2]) == 1 and quota[2][0]["code"] == STOCK, f"history quota: {quota}")
        ok(ctx.subscribe([STOCK], [SubType.BROKER]), "subscribe BROKER")
        subscribed_at = time.monotonic()  # the latest subscription sets the unsubscribe time
        ret, bids, asks = ctx.get_broker_queue(STOCK)
        check(ret == RET_OK and len(bids) == 10 and len(asks) == 10, f"broker queue: {ret} {bids}")
        step("get_broker_queue: RET_OK")
        subtypes.append(SubType.BROKER)

        # Pushes of the subscribed types.
        quotes.wait_for(f"{STOCK} quote", lambda r: r["code"] == STOCK and r["last_price"] > 0)
        books.wait_for(f"{STOCK} order book", lambda b: b["code"] == STOCK and len(b["Bid"]) > 0)

        extra_subs = more_requests(ctx, reminders)
        subscribed_at = time.monotonic()

        # Something the simulator does not model: a clean error, not a hang.
        ret, msg = ctx.get_company_profile(STOCK)
        check(ret != RET_OK and "does not serve" in str(msg), f"get_company_profile: {ret} {msg}")
        step(f"unmodelled request refused: {msg}")

        wait = args.unsub_secs + 0.5 - (time.monotonic() - subscribed_at)
        if wait > 0:
            step(f"waiting {wait:.1f}s for the unsubscribe rule")
            time.sleep(wait)
        ok(ctx.unsubscribe([STOCK], subtypes), "unsubscribe after the rule's duration")
        for codes, types in extra_subs:
            ok(ctx.unsubscribe(codes, types), f"unsubscribe {codes} {types}")
        sub = ok(ctx.query_subscription(), "query_subscription after unsubscribing")
        check(sub["total_used"] == 0, f"quota after unsubscribing: {sub}")
        ret, msg = ctx.get_stock_quote([STOCK])
        check(ret != RET_OK, "get_stock_quote after unsubscribing succeeded")
    finally:
        ctx.close()


if __name__ == "__main__":
    parser_args = None

    def entry():
        import argparse
        import sys

        extra = argparse.ArgumentParser(add_help=False)
        extra.add_argument("--unsub-secs", type=float, default=60.0)
        known, rest = extra.parse_known_args()
        sys.argv = [sys.argv[0]] + rest
        args = parse_args(__doc__.splitlines()[0])
        args.unsub_secs = known.unsub_secs
        setup(args)
        main(args)

    run(entry)
