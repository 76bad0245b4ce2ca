// The official JavaScript SDK (npm futu-api, pinned in package.json) against opend-sim's
// WebSocket port.
//
//   node ws_trade.mjs --host 127.0.0.1 --port P --key KEY [--wrong-key] [--proto FILE]
//
// Normal run: login with the key, GetAccList, UnlockTrade, SubAccPush, PlaceOrder (with
// the PacketID the SDK leaves to the caller), GetOrderList, and the Trd_UpdateOrder push
// of the placed order. With --wrong-key the login must fail (the simulator stays silent,
// so the SDK reports its own 20 s Init timeout). With --proto, ftapi's
// proto/InitWebSocket.proto is first compared field by field with the SDK's own.
//
// Prints one line per step; the last line is "js interop: ok" and the exit status 0 when
// everything held, else a "js interop: FAILED: ..." line and exit status 1.

import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import { fileURLToPath } from "node:url";
import path from "node:path";

// Node 20 has the global WebSocket the SDK uses only behind a flag: re-run with it.
if (typeof WebSocket === "undefined") {
  const self = fileURLToPath(import.meta.url);
  const r = spawnSync(process.execPath, ["--experimental-websocket", self, ...process.argv.slice(2)], {
    stdio: "inherit",
  });
  process.exit(r.status === null ? 1 : r.status);
}

const { default: ftWebsocket } = await import("futu-api");
const { default: protobuf } = await import("protobufjs");

const PASSWORD = "123456";
const TRD_ENV_REAL = 1;
const TRD_MARKET_HK = 1;
const TRD_SIDE_BUY = 1;
const ORDER_TYPE_MARKET = 2;
const SEC_MARKET_HK = 1;
const CMD_UPDATE_ORDER = 2208;
const WATCHDOG_MS = 60_000;
const PUSH_WAIT_MS = 10_000;

function parseArgs(argv) {
  const a = { host: "127.0.0.1", port: 0, key: "", wrongKey: false, proto: null };
  for (let i = 0; i < argv.length; i++) {
    const next = () => {
      if (i + 1 >= argv.length) throw new Error(`${argv[i]} needs a value`);
      return argv[++i];
    };
    switch (argv[i]) {
      case "--host": a.host = next(); break;
      case "--port": a.port = Number(next()); break;
      case "--key": a.key = next(); break;
      case "--wrong-key": a.wrongKey = true; break;
      case "--proto": a.proto = next(); break;
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

// Compares every message of InitWebSocket.proto: field names, numbers, types, rules and
// defaults must be the same in ours and the SDK's.
function compareProto(oursPath) {
  const sdkPath = path.join(path.dirname(fileURLToPath(import.meta.resolve("futu-api"))), "proto", "InitWebSocket.proto");
  const ours = protobuf.loadSync(oursPath);
  const theirs = protobuf.loadSync(sdkPath);
  const describe = (root) => {
    const ns = root.lookup("InitWebSocket");
    const out = {};
    for (const m of ns.nestedArray) {
      out[m.name] = m.fieldsArray
        .map((f) => `${f.name}=${f.id}:${f.rule || "optional"}:${f.type}:${JSON.stringify(f.options || {})}`)
        .sort();
    }
    return out;
  };
  const a = JSON.stringify(describe(ours));
  const b = JSON.stringify(describe(theirs));
  check(a === b, `InitWebSocket.proto differs from the SDK's:\n ours   ${a}\n theirs ${b}`);
  step("proto/InitWebSocket.proto matches the SDK's");
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms);
    }),
  ]);
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

// Starts the SDK and waits for onlogin. Resolves to [ok, info]; a failed WebSocket
// handshake (which the SDK never reports through onlogin) resolves to [false, "socket error"].
function login(api, a, key) {
  return new Promise((resolve) => {
    api.onlogin = (ok, info) => resolve([ok, info]);
    api.start(a.host, a.port, false, key);
    api.websock.onerror = (e) => resolve([false, `socket error: ${e && e.message}`]);
  });
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  setTimeout(() => fail(`watchdog: still running after ${WATCHDOG_MS} ms`), WATCHDOG_MS).unref();
  if (a.proto) compareProto(a.proto);

  const api = new ftWebsocket();
  const pushes = [];
  const pushWaiters = [];
  api.onPush = (cmd, rsp) => {
    pushes.push({ cmd, rsp });
    for (const w of pushWaiters.splice(0)) w();
  };

  if (a.wrongKey) {
    const [ok, info] = await login(api, a, `${a.key}-wrong`);
    check(!ok, "login with a wrong key succeeded");
    step(`login with a wrong key failed: ${info}`);
    console.log("js interop: ok");
    process.exit(0);
  }

  const [ok, info] = await login(api, a, a.key);
  check(ok, `login failed: ${typeof info === "object" ? JSON.stringify(info) : info}`);
  const connID = api.getConnID();
  check(connID && String(connID) !== "0", `login gave no connID (${connID})`);
  step(`login ok, connID ${connID}`);

  const accList = await call(
    "GetAccList",
    api.GetAccList({ c2s: { userID: 0, trdCategory: 1, needGeneralSecAccount: true } }),
  );
  const acc = accList.accList.find(
    (x) => x.trdEnv === TRD_ENV_REAL && x.trdMarketAuthList.includes(TRD_MARKET_HK) && !x.accStatus,
  );
  check(acc, `GetAccList: no active REAL HK account among ${accList.accList.length}`);
  const accID = acc.accID;
  step(`GetAccList: ${accList.accList.length} accounts, REAL HK ${accID}`);

  const wrongUnlock = await api
    .UnlockTrade({ c2s: { unlock: true, pwdMD5: crypto.createHash("md5").update("not-it").digest("hex") } })
    .then(() => null, (e) => e);
  check(wrongUnlock !== null, "UnlockTrade accepted a wrong password");
  step(`UnlockTrade with a wrong password refused: ${describeError(wrongUnlock)}`);
  await call(
    "UnlockTrade",
    api.UnlockTrade({ c2s: { unlock: true, pwdMD5: crypto.createHash("md5").update(PASSWORD).digest("hex") } }),
  );
  step("UnlockTrade ok");

  await call("SubAccPush", api.SubAccPush({ c2s: { accIDList: [accID] } }));
  step("SubAccPush ok");

  const header = { trdEnv: TRD_ENV_REAL, accID, trdMarket: TRD_MARKET_HK };
  const placed = await call(
    "PlaceOrder",
    api.PlaceOrder({
      c2s: {
        packetID: { connID, serialNo: 1 },
        header,
        trdSide: TRD_SIDE_BUY,
        orderType: ORDER_TYPE_MARKET,
        code: "00700",
        qty: 100,
        secMarket: SEC_MARKET_HK,
        remark: "js-interop",
      },
    }),
  );
  const orderID = String(placed.orderID);
  check(orderID !== "0" && orderID !== "undefined", `PlaceOrder gave no orderID (${placed.orderID})`);
  step(`PlaceOrder ok, order ${orderID}`);

  const orders = await call("GetOrderList", api.GetOrderList({ c2s: { header } }));
  const listed = orders.orderList.find((o) => String(o.orderID) === orderID);
  check(listed, `GetOrderList: order ${orderID} not among ${orders.orderList.length}`);
  step(`GetOrderList: order ${orderID} listed, status ${listed.orderStatus}`);

  const isOurs = (p) => p.cmd === CMD_UPDATE_ORDER && p.rsp.s2c && String(p.rsp.s2c.order.orderID) === orderID;
  const deadline = Date.now() + PUSH_WAIT_MS;
  while (!pushes.some(isOurs) && Date.now() < deadline) {
    await withTimeout(new Promise((r) => pushWaiters.push(r)), deadline - Date.now(), "Trd_UpdateOrder push").catch(
      () => {},
    );
  }
  const push = pushes.find(isOurs);
  check(push, `no Trd_UpdateOrder push for order ${orderID} (got ${pushes.map((p) => p.cmd).join(",") || "none"})`);
  check(String(push.rsp.s2c.header.accID) === String(accID), "Trd_UpdateOrder push for another account");
  step(`Trd_UpdateOrder push: order ${orderID} status ${push.rsp.s2c.order.orderStatus}`);

  api.stop();
  api.websock.close();
  console.log("js interop: ok");
  process.exit(0);
}

main().catch((e) => fail(describeError(e)));
