/* Plotly on demand, from plotly.js's basic bundle.
 *
 * When its first graph mounts, dcc.Graph takes `window.Plotly`, or else fetches Dash's full plotly.min.js (4.8 MB,
 * ~1 s of script evaluation on 2 cores). Here `window.Plotly` is a getter: its first read loads the basic bundle
 * (scatter, bar and pie, all our figures draw: 1.2 MB) and hands dcc a promise of it. A page without graphs loads
 * no plotly at all. The bundle's own `window.Plotly = Plotly` lands in the setter and replaces the getter.
 * assets/vendor/ is left out of Dash's automatic asset loading (LAZY_ASSET_DIRS in dashapp/__init__.py).
 */
(function () {
    "use strict";
    var BUNDLE = "vendor/plotly-basic-4.1.1.min.js";
    var base = document.currentScript ? document.currentScript.src.replace(/[^/]*$/, "") : "/assets/";
    var loading = null;

    function settle(value) {
        Object.defineProperty(window, "Plotly", {value: value, writable: true, configurable: true, enumerable: true});
    }

    function load() {
        return new Promise(function (resolve, reject) {
            var tag = document.createElement("script");
            tag.src = base + BUNDLE;
            tag.async = true;
            tag.onload = function () { resolve(window.Plotly); };
            tag.onerror = function (error) {
                loading = null;  // a later graph may try again
                reject(error);
            };
            document.head.appendChild(tag);
        });
    }

    Object.defineProperty(window, "Plotly", {
        configurable: true,
        get: function () { return loading || (loading = load()); },
        set: settle,
    });
})();
