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

dagfuncs.stPercent = function (value, signed) {
    if (value === null || value === undefined || value === "") {
        return "\u2014";
    }
    return stFormat("pct:" + (signed ? "s" : ""), {
        style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2,
        signDisplay: signed ? "exceptZero" : "auto",
    }).format(value);
};

dagfuncs.stNumber = function (value) {
    if (value === null || value === undefined || value === "") {
        return "\u2014";
    }
    return stFormat("number", {maximumFractionDigits: 6}).format(value);
};
