/* Starts Dash after the browser has painted the HTML skeleton.
 *
 * Dash's stylesheet links and <script> tags sit in an inert <template id="dash-boot">; this copies them into the
 * page once the first frame (skeleton and its inlined CSS) is on screen. Left as plain tags, parsing Flatly and
 * compiling Dash's scripts (about 1.5 MB before plotly.js) ran before the first paint and held the skeleton back
 * by 100-150 ms in headless Chromium.
 * Stylesheets go in where Dash had put them (before the inlined critical CSS), which is removed once they have loaded.
 * External scripts go in as async=false, so they download in parallel and run in document order; an inline
 * script (Dash's clientside functions) waits for the external ones before it, and `new DashRenderer()` also
 * waits for the stylesheets, so the app never draws unstyled.
 */
(function () {
    var started = false;

    function copy(old) {
        var node = document.createElement(old.tagName.toLowerCase());
        for (var i = 0; i < old.attributes.length; i++) {
            node.setAttribute(old.attributes[i].name, old.attributes[i].value);
        }
        if (old.tagName === "SCRIPT" && !old.hasAttribute("src")) {
            node.text = old.text;
        }
        return node;
    }

    function addStylesheets(links) {
        var before = document.getElementById("critical-css");
        var waits = [];
        for (var i = 0; i < links.length; i++) {
            var link = copy(links[i]);
            waits.push(new Promise(function (done) {
                link.onload = function () { done(true); };
                link.onerror = function () { done(false); };
            }));
            document.head.insertBefore(link, before);
        }
        // Once the full sheets apply, the critical subset goes: left after them, its few rules (`.btn`, `.col-12`,
        // `.alert`) came later in the cascade than the full sheets' own variants (`.btn-outline-danger`,
        // `.col-lg-6`, `.alert-danger`) and undid them on every page reached through the navbar. If a sheet
        // failed to load, the subset stays: it is better than nothing.
        return Promise.all(waits).then(function (loaded) {
            if (before && loaded.every(Boolean)) {
                before.parentNode.removeChild(before);
            }
        });
    }

    function runScripts(scripts, from, styled) {
        var pending = null;
        for (var i = from; i < scripts.length; i++) {
            var old = scripts[i];
            if (old.hasAttribute("src")) {
                pending = copy(old);
                pending.async = false;
                document.body.appendChild(pending);
                continue;
            }
            var next = i;
            if (pending) {
                pending.onload = pending.onerror = function () { runScripts(scripts, next, styled); };
                return;
            }
            if (old.id === "_dash-renderer" && styled) {
                styled.then(function () { runScripts(scripts, next, null); });
                return;
            }
            document.body.appendChild(copy(old));
        }
    }

    function boot() {
        if (started) {
            return;
        }
        started = true;
        var content = document.getElementById("dash-boot").content;
        var styled = addStylesheets(content.querySelectorAll("link[rel=stylesheet]"));
        runScripts(content.querySelectorAll("script"), 0, styled);
    }

    // The skeleton's frame counts once it is on screen, not when the main thread has painted it: in headless
    // Chromium on 2 vCPUs, raster and compositing took another 50-70 ms, and starting Dash at once competed with
    // them for the CPU. So Dash starts on the first-contentful-paint entry, with a frame-based fallback for
    // browsers without paint timing (and a cap, should no contentful paint ever come). A hidden tab draws no
    // frames, so it boots at once.
    if (document.visibilityState === "hidden") {
        boot();
        return;
    }
    var types = (window.PerformanceObserver && PerformanceObserver.supportedEntryTypes) || [];
    if (types.indexOf("paint") >= 0) {
        var observer = new PerformanceObserver(function (list) {
            if (list.getEntriesByName("first-contentful-paint").length) {
                observer.disconnect();
                boot();
            }
        });
        observer.observe({type: "paint", buffered: true});
        setTimeout(boot, 500);
    } else {
        requestAnimationFrame(function () { setTimeout(boot, 0); });
    }
})();
