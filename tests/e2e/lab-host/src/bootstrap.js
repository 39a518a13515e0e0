/**
 * Loads every federated extension's remoteEntry (as named in the page config the server wrote),
 * initialises the shared scope with all of them, and only then imports the application module.
 * The order matters: a singleton (e.g. @jupyter-widgets/base, provided by the widget manager)
 * must be registered before any module that consumes it is evaluated.
 */
function pageConfig() {
  const el = document.getElementById("jupyter-config-data");
  return el ? JSON.parse(el.textContent || "{}") : {};
}

function loadScript(url) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.onerror = () => reject(new Error(`failed to load ${url}`));
    script.onload = () => resolve();
    script.async = true;
    script.src = url;
    document.head.appendChild(script);
  });
}

async function loadComponent(url, scope) {
  await loadScript(url);
  // eslint-disable-next-line no-undef
  await __webpack_init_sharing__("default");
  const container = window._JUPYTERLAB[scope];
  // eslint-disable-next-line no-undef
  await container.init(__webpack_share_scopes__.default);
}

void (async function bootstrap() {
  const config = pageConfig();
  const extensions = config.federated_extensions || [];
  const base = config.fullLabextensionsUrl;
  const results = await Promise.allSettled(extensions.map((data) => loadComponent(`${base}/${data.name}/${data.load}`, data.name)));
  results.forEach((r, i) => {
    if (r.status === "rejected") console.error(`federated extension ${extensions[i].name} did not load:`, r.reason);
  });
  const { main } = await import("./index.js");
  await main();
})();
