/* Starts Dash after the browser has painted the HTML skeleton.
 *
 * Dash's <script> tags sit in an inert <template id="dash-boot">; this copies them into the page once the first
 * frame (skeleton and CSS) is on screen. Left as plain tags, their parse and compile (about 1.5 MB before
 * plotly.js) ran before the first paint and held the skeleton back by 150-200 ms in headless Chromium.
 * External scripts go in as async=false, so they download in parallel and run in document order; an inline
 * script (Dash's clientside functions, then `new DashRenderer()`) waits for the external ones before it.
 */
(function () {
    var started = false;

    function copy(old) {
        var script = document.createElement("script");
        for (var i = 0; i < old.attributes.length; i++) {
            script.setAttribute(old.attributes[i].name, old.attributes[i].value);
        }
        if (!old.hasAttribute("src")) {
            script.text = old.text;
        }
        return script;
    }

    function run(scripts, from) {
        var pending = null;
        for (var i = from; i < scripts.length; i++) {
            var old = scripts[i];
            if (old.hasAttribute("src")) {
                pending = copy(old);
                pending.async = false;
                document.body.appendChild(pending);
            } else if (pending) {
                var next = i;
                pending.onload = pending.onerror = function () { run(scripts, next); };
                return;
            } else {
                document.body.appendChild(copy(old));
            }
        }
    }

    function boot() {
        if (started) {
            return;
        }
        started = true;
        var template = document.getElementById("dash-boot");
        run(template.content.querySelectorAll("script"), 0);
    }

    // A hidden tab draws no frames (requestAnimationFrame waits for it to be shown), so it boots at once.
    if (document.visibilityState === "hidden") {
        boot();
    } else {
        requestAnimationFrame(function () { setTimeout(boot, 0); });
    }
})();
