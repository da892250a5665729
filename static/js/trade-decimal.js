// Exact decimal arithmetic for the trade screen: amounts are decimal strings from
// the API, parsed into BigInt counts of the asset's smallest unit, never floats.
(function (root) {
  "use strict";
  var PLAIN = /^\s*(\d+)(?:\.(\d*))?\s*$/;

  function pow10(n) { return BigInt(10) ** BigInt(n); }

  // "95000.1" at 2 decimals -> 9500010n; null if not a plain non-negative decimal
  // or if it has more significant decimals than the asset.
  function parse(text, decimals) {
    var m = PLAIN.exec(text == null ? "" : String(text));
    if (!m) return null;
    var frac = (m[2] || "").replace(/0+$/, "");
    if (frac.length > decimals) return null;
    return BigInt(m[1]) * pow10(decimals) + BigInt((frac + "0".repeat(decimals)).slice(0, decimals) || "0");
  }

  function format(units, decimals) {
    var negative = units < 0n;
    var digits = (negative ? -units : units).toString().padStart(decimals + 1, "0");
    var out = decimals ? digits.slice(0, -decimals) + "." + digits.slice(-decimals) : digits;
    return (negative ? "-" : "") + out;
  }

  // a * b / d, rounded down or (up=true) up; all BigInt, non-negative.
  function mulDiv(a, b, d, up) {
    var n = a * b;
    var q = n / d;
    if (up && q * d !== n) q += 1n;
    return q;
  }

  // "1234567.50" -> "1,234,567.50" (display only)
  function group(text) {
    if (text == null || text === "") return "—";
    var s = String(text), sign = "";
    if (s[0] === "-" || s[0] === "+") { sign = s[0]; s = s.slice(1); }
    var parts = s.split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return sign + parts.join(".");
  }

  // Compare two decimal strings of any precision.
  function cmp(a, b) {
    var pa = String(a).split("."), pb = String(b).split(".");
    var d = Math.max((pa[1] || "").length, (pb[1] || "").length);
    var x = parse(a, d), y = parse(b, d);
    if (x === null || y === null) return 0;
    return x < y ? -1 : x > y ? 1 : 0;
  }

  function isZero(text) { return !/[1-9]/.test(String(text)); }

  // A percentage as the API's basis points: "1.5" -> 150n, "0.01" -> 1n; null if
  // not a plain decimal with at most 2 decimals (a bps is the smallest step).
  function bpsFromPercent(text) { return parse(text, 2); }

  // Where a trailing stop starts, as the engine derives it (in ticks, rounded
  // away from the price): sell `last - trail`, buy `last + trail`, the trail an
  // amount or ceil(last * bps / 10000). All BigInt units of the quote; null when
  // it would not be a positive price.
  function trailStop(side, last, tick, amount, bps) {
    if (last == null || !tick) return null;
    var lastTicks = last / tick;
    var offset = amount != null ? amount / tick : mulDiv(lastTicks, bps, 10000n, true);
    var stop = side === "sell" ? lastTicks - offset : lastTicks + offset;
    return stop > 0n ? stop * tick : null;
  }

  // --- the expiry input: a wall time in the user's zone <-> an instant ----------
  function zoneParts(ms, zone) {
    var out = {};
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit"
    }).formatToParts(new Date(ms)).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }
  // The zone's offset from UTC at an instant, in minutes (CET: 60).
  function zoneOffset(ms, zone) {
    var p = zoneParts(ms, zone);
    var wall = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour % 24, +p.minute, +p.second);
    return Math.round((wall - Math.floor(ms / 1000) * 1000) / 60000);
  }
  function pad2(n) { return String(n).padStart(2, "0"); }
  // "2026-12-08T15:00" read in `zone` -> "2026-12-08T15:00:00+01:00" (ISO 8601 with
  // the zone's offset then); null if not a datetime-local value. A wall time that
  // a summer-time jump skips is read with the offset before the jump.
  function zonedToIso(local, zone) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(String(local || ""));
    if (!m) return null;
    var wall = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    var offset = zoneOffset(wall - zoneOffset(wall, zone) * 60000, zone);
    var sign = offset < 0 ? "-" : "+", abs = Math.abs(offset);
    return m[1] + "-" + m[2] + "-" + m[3] + "T" + m[4] + ":" + m[5] + ":" + (m[6] || "00") +
      sign + pad2(Math.floor(abs / 60)) + ":" + pad2(abs % 60);
  }
  // An instant (ms) -> the datetime-local value "2026-12-08T15:00" in `zone`.
  function localInput(ms, zone) {
    var p = zoneParts(ms, zone);
    return p.year + "-" + p.month + "-" + p.day + "T" + pad2(+p.hour % 24) + ":" + p.minute;
  }

  var api = {
    parse: parse, format: format, mulDiv: mulDiv, group: group, cmp: cmp, isZero: isZero, pow10: pow10,
    bpsFromPercent: bpsFromPercent, trailStop: trailStop, zonedToIso: zonedToIso, localInput: localInput
  };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.TradeDecimal = api;
})(this);
