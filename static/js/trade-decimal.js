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

  var api = { parse: parse, format: format, mulDiv: mulDiv, group: group, cmp: cmp, isZero: isZero, pow10: pow10 };
  if (typeof module !== "undefined" && module.exports) module.exports = api;
  else root.TradeDecimal = api;
})(this);
