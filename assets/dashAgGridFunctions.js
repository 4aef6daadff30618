/* Value formatters for the AG Grid columns (dashapp/components/holdings_grid.py). They return text only. */
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});
var stFormats = {};

function stFormat(key, options) {
    if (!stFormats[key]) {
        stFormats[key] = new Intl.NumberFormat("en-US", options);
    }
    return stFormats[key];
}

dagfuncs.stMoney = function (value, currency, signed) {
    if (value === null || value === undefined || value === "") {
        return "\u2014";
    }
    var code = currency || "USD";
    var key = "money:" + code + ":" + (signed ? "s" : "");
    try {
        return stFormat(key, {style: "currency", currency: code, signDisplay: signed ? "exceptZero" : "auto"})
            .format(value);
    } catch (e) {  // an unknown currency code: plain number with the code
        return code + " " + stFormat("plain2", {minimumFractionDigits: 2, maximumFractionDigits: 2}).format(value);
    }
};

// A non-zero fraction that would read 0.00 % keeps two significant digits (-0.000016 -> "-0.0016%"), never
// "-0.00%" beside a visible loss; exactly zero reads "0.00%". The same rule as format.percent in Python.
dagfuncs.stPercent = function (value, signed) {
    if (value === null || value === undefined || value === "") {
        return "\u2014";
    }
    if (value === 0) {
        value = 0;  // -0 would read "-0.00%" where signDisplay is "auto"
    }
    var sign = signed ? "exceptZero" : "auto";
    if (value !== 0 && Math.abs(value) < 0.00005) {  // under 0.005 %: rounds to 0.00 % at 2 decimals
        return stFormat("pct2sig:" + (signed ? "s" : ""), {
            style: "percent", minimumSignificantDigits: 2, maximumSignificantDigits: 2, signDisplay: sign,
        }).format(value);
    }
    return stFormat("pct:" + (signed ? "s" : ""), {
        style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2, signDisplay: sign,
    }).format(value);
};

dagfuncs.stNumber = function (value) {
    if (value === null || value === undefined || value === "") {
        return "\u2014";
    }
    return stFormat("number", {maximumFractionDigits: 6}).format(value);
};

// An exchange rate: up to 6 significant digits (1.2687, 0.0067568), "\u2014" when the row has none.
dagfuncs.stRate = function (value) {
    if (value === null || value === undefined || value === "") {
        return "\u2014";
    }
    return stFormat("rate", {maximumSignificantDigits: 6}).format(value);
};
