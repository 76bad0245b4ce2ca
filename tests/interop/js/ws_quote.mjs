// The official JavaScript SDK (npm futu-api, pinned in package.json) reads market data
// from opend-sim's WebSocket port.
//
//   node ws_quote.mjs --host 127.0.0.1 --port P --key KEY
//
// Login, Sub (quote, order book, daily K-line, with pushes), GetBasicQot, GetOrderBook,
// GetKL, GetSecuritySnapshot, GetStaticInfo, GetOptionExpirationDate and GetOptionChain,
// GetPlateSet/GetPlateSecurity, GetCapitalFlow, and the Qot_UpdateBasicQot push, with
// checks that the answers hang together (book levels, bar continuity, snapshot = quote,
// strikes around the underlying).
//
// Prints one line per step; the last line is "js interop: ok" and the exit status 0 when
// everything held, else a "js interop: FAILED: ..." line and exit status 1.

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

// Node 20 has the global WebSocket the SDK uses only behind a flag: re-run with it.
if (typeof WebSocket === "undefined") {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ["--experimental-websocket", self, ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  process.exit(r.status === null ? 1 : r.status);
}

const { default: ftWebsocket } = await import("futu-api");

const QOT_MARKET_HK = 1;
const TENCENT = { market: QOT_MARKET_HK, code: "00700" };
const SUB_QUOTE = 1;
const SUB_ORDER_BOOK = 2;
const SUB_KL_DAY = 6;
const KL_DAY = 2;
const REHAB_FORWARD = 1;
const CMD_UPDATE_BASIC_QOT = 3005;
const WATCHDOG_MS = 60_000;
const PUSH_WAIT_MS = 15_000;

function parseArgs(argv) {
  const a = { host: "127.0.0.1", port: 0, key: "" };
  for (let i = 0; i < argv.length; i++) {
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case "--host": a.host = next(); break;
      case "--port": a.port = Number(next()); break;
      case "--key": a.key = next(); break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  if (!a.port) throw new Error("--port is required");
  return a;
}

function step(text) {
  console.log(`step: ${text}`);
}

function fail(text) {
  console.log(`js interop: FAILED: ${text}`);
  process.exit(1);
}

function check(cond, text) {
  if (!cond) fail(text);
}

function describeError(e) {
  if (e && typeof e === "object" && "retType" in e) return `retType ${e.retType}: ${e.retMsg}`;
  return String(e && e.message ? e.message : e);
}

async function call(what, promise) {
  try {
    const rsp = await promise;
    check(rsp && rsp.retType === 0, `${what}: retType ${rsp && rsp.retType}`);
    return rsp.s2c;
  } catch (e) {
    fail(`${what}: ${describeError(e)}`);
  }
}

function login(api, a) {
  return new Promise((resolve) => {
    api.onlogin = (ok, info) => resolve([ok, info]);
    api.start(a.host, a.port, false, a.key);
    api.websock.onerror = (e) => resolve([false, `socket error: ${e && e.message}`]);
  });
}

function checkLevels(side, levels, descending) {
  check(levels.length === 10, `${side}: ${levels.length} levels`);
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    const vol = Number(l.volume);
    check(l.price > 0 && vol > 0, `${side} level ${i}: ${JSON.stringify(l)}`);
    check(l.orederCount >= 1 && l.orederCount <= vol, `${side} level ${i} orders: ${JSON.stringify(l)}`);
    if (i > 0) {
      const ok = descending ? levels[i - 1].price > l.price : levels[i - 1].price < l.price;
      check(ok, `${side} prices out of order at ${i}`);
    }
  }
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  setTimeout(() => fail(`watchdog: still running after ${WATCHDOG_MS} ms`), WATCHDOG_MS).unref();

  const api = new ftWebsocket();
  const pushes = [];
  api.onPush = (cmd, rsp) => pushes.push({ cmd, rsp });

  const [ok, info] = await login(api, a);
  check(ok, `login failed: ${typeof info === "object" ? JSON.stringify(info) : info}`);
  step(`login ok, connID ${api.getConnID()}`);

  await call(
    "Sub",
    api.Sub({
      c2s: {
        securityList: [TENCENT],
        subTypeList: [SUB_QUOTE, SUB_ORDER_BOOK, SUB_KL_DAY],
        isSubOrUnSub: true,
        isRegOrUnRegPush: true,
        isFirstPush: true,
      },
    }),
  );
  step("Sub ok");

  const qot = (await call("GetBasicQot", api.GetBasicQot({ c2s: { securityList: [TENCENT] } }))).basicQotList[0];
  check(qot.security.code === "00700", `GetBasicQot code ${qot.security.code}`);
  check(qot.curPrice > 0 && qot.lowPrice <= qot.curPrice && qot.curPrice <= qot.highPrice, `quote ${JSON.stringify(qot)}`);
  step(`GetBasicQot: ${qot.curPrice}`);

  const book = await call("GetOrderBook", api.GetOrderBook({ c2s: { security: TENCENT, num: 10 } }));
  checkLevels("bid", book.orderBookBidList, true);
  checkLevels("ask", book.orderBookAskList, false);
  check(book.orderBookBidList[0].price < book.orderBookAskList[0].price, "crossed book");
  step(`GetOrderBook: ${book.orderBookBidList[0].price} / ${book.orderBookAskList[0].price}`);

  const kl = await call("GetKL", api.GetKL({ c2s: { security: TENCENT, klType: KL_DAY, rehabType: REHAB_FORWARD, reqNum: 5 } }));
  check(kl.klList.length === 5, `GetKL bars ${kl.klList.length}`);
  for (let i = 0; i < kl.klList.length; i++) {
    const b = kl.klList[i];
    check(b.lowPrice <= Math.min(b.openPrice, b.closePrice) && Math.max(b.openPrice, b.closePrice) <= b.highPrice, `bar ${JSON.stringify(b)}`);
    if (i > 0) {
      check(kl.klList[i - 1].time < b.time, `bar times out of order at ${i}`);
      check(Math.abs(b.lastClosePrice - kl.klList[i - 1].closePrice) < 1e-6, `bar ${i} lastClose ${b.lastClosePrice} vs ${kl.klList[i - 1].closePrice}`);
    }
  }
  step(`GetKL: 5 daily bars to ${kl.klList[4].time}`);

  const snap = (await call("GetSecuritySnapshot", api.GetSecuritySnapshot({ c2s: { securityList: [TENCENT] } })))
    .snapshotList[0].basic;
  const again = (await call("GetBasicQot", api.GetBasicQot({ c2s: { securityList: [TENCENT] } }))).basicQotList[0];
  check(
    [qot.curPrice, again.curPrice].includes(snap.curPrice) || (snap.curPrice >= again.lowPrice && snap.curPrice <= again.highPrice),
    `snapshot ${snap.curPrice} vs quote ${qot.curPrice}/${again.curPrice}`,
  );
  check(snap.lastClosePrice === again.lastClosePrice && snap.lotSize === 100, `snapshot ${JSON.stringify(snap)}`);
  step(`GetSecuritySnapshot: ${snap.curPrice}`);

  const si = (await call("GetStaticInfo", api.GetStaticInfo({ c2s: { securityList: [TENCENT] } }))).staticInfoList[0].basic;
  check(si.lotSize === 100 && si.name === qot.name, `static info ${JSON.stringify(si)}`);
  step(`GetStaticInfo: ${si.name} lot ${si.lotSize}`);

  const dates = (await call("GetOptionExpirationDate", api.GetOptionExpirationDate({ c2s: { owner: TENCENT } }))).dateList;
  check(dates.length >= 1, "no option expiries");
  const first = dates[0].strikeTime;
  const chain = (await call(
    "GetOptionChain",
    api.GetOptionChain({ c2s: { owner: TENCENT, beginTime: first, endTime: first } }),
  )).optionChain;
  check(chain.length === 1 && chain[0].strikeTime === first, `chain ${JSON.stringify(chain).slice(0, 200)}`);
  const strikes = chain[0].option.map((o) => o.call.optionExData.strikePrice);
  check(strikes[0] < again.curPrice && strikes[strikes.length - 1] > again.curPrice, `strikes ${strikes} around ${again.curPrice}`);
  check(chain[0].option.every((o) => o.call.optionExData.owner.code === "00700" && o.put.optionExData.type === 2), "chain legs");
  step(`GetOptionChain: ${strikes.length} strikes on ${first}`);

  const plates = (await call("GetPlateSet", api.GetPlateSet({ c2s: { market: QOT_MARKET_HK, plateSetType: 0 } }))).plateInfoList;
  check(plates.length >= 1, "no plates");
  const members = (await call("GetPlateSecurity", api.GetPlateSecurity({ c2s: { plate: plates[0].plate } }))).staticInfoList;
  check(members.length >= 1, `no members in ${plates[0].plate.code}`);
  step(`GetPlateSet/GetPlateSecurity: ${plates.length} plates, ${members.length} in ${plates[0].plate.code}`);

  const flow = (await call("GetCapitalFlow", api.GetCapitalFlow({ c2s: { security: TENCENT, periodType: 1 } }))).flowItemList;
  for (const f of flow) {
    const parts = f.superInFlow + f.bigInFlow + f.midInFlow + f.smlInFlow;
    check(Math.abs(parts - f.inFlow) <= 1e-3 * Math.max(1, Math.abs(f.inFlow)), `capital flow ${JSON.stringify(f)}`);
  }
  step(`GetCapitalFlow: ${flow.length} items`);

  const isQuote = (p) =>
    p.cmd === CMD_UPDATE_BASIC_QOT && p.rsp.s2c && p.rsp.s2c.basicQotList.some((q) => q.security.code === "00700");
  const deadline = Date.now() + PUSH_WAIT_MS;
  while (pushes.filter(isQuote).length < 2 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
  }
  const quotes = pushes.filter(isQuote);
  check(quotes.length >= 2, `basic quote pushes: ${quotes.length} (got cmds ${pushes.map((p) => p.cmd).join(",") || "none"})`);
  const pq = quotes[quotes.length - 1].rsp.s2c.basicQotList[0];
  check(pq.curPrice > 0 && pq.lowPrice <= pq.curPrice && pq.curPrice <= pq.highPrice, `pushed quote ${JSON.stringify(pq)}`);
  step(`Qot_UpdateBasicQot push: ${quotes.length} pushes, last ${pq.curPrice}`);

  api.stop();
  api.websock.close();
  console.log("js interop: ok");
  process.exit(0);
}

main().catch((e) => fail(describeError(e)));
