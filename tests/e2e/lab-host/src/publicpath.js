// Webpack's public path comes from the page config (the server decides where static files live).
// This runs before anything else, so it reads the config element itself.
const el = document.getElementById("jupyter-config-data");
const config = el ? JSON.parse(el.textContent || "{}") : {};
// eslint-disable-next-line no-undef
__webpack_public_path__ = `${config.fullStaticUrl || ""}/`;
