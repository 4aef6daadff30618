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
