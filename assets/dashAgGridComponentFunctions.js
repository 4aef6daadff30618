/* Cell renderers for AG Grid. React elements with text children: values are escaped, never parsed as HTML. */
var dagcomponentfuncs = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});

var stStatusTones = {
    fresh: "text-bg-success",
    market_closed: "text-bg-secondary",
    stale: "text-bg-warning",
    missing: "text-bg-danger",
};

dagcomponentfuncs.StatusBadge = function (props) {
    var status = (props.data && props.data.price_status) || "missing";
    var tone = stStatusTones[status] || "text-bg-light";
    return React.createElement("span", {className: "badge rounded-pill grid-badge " + tone}, props.value);
};

// The holdings grid's ticker (issue 15): a link to /portfolio/<id>/holding/<ticker>, the ticker as a text child.
// A plain click navigates inside the Dash app, as dcc.Link does (pushState + Dash's own event); a click with a
// modifier (new tab, new window) is left to the browser. Without the portfolio's id it stays plain text.
dagcomponentfuncs.TickerLink = function (props) {
    var ticker = props.value;
    var portfolioId = (props.context && props.context.portfolioId) || (props.data && props.data.portfolio_id);
    if (!ticker || !portfolioId) {
        return React.createElement("span", null, ticker || "");
    }
    var href = "/portfolio/" + encodeURIComponent(String(portfolioId)) + "/holding/" + encodeURIComponent(ticker);
    return React.createElement("a", {
        href: href,
        className: "ticker-link",
        title: "Open " + ticker,
        onClick: function (event) {
            if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
                return;
            }
            event.preventDefault();
            window.history.pushState({}, "", href);
            window.dispatchEvent(new CustomEvent("_dashprivate_pushstate"));
            window.scrollTo(0, 0);
        },
    }, ticker);
};
